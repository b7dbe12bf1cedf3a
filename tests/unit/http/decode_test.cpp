#include <string>
#include <variant>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "base/errors.hpp"
#include "base/utf8.hpp"
#include "http/decode.hpp"
#include "http/operations.hpp"

using namespace miyabi;
using namespace miyabi::http;

namespace {

caf::expected<domain::request_input> decode_query(std::string_view op,
                                                  query_map query) {
  request_headers headers;
  return decode_input(descriptor_of(op),
                      request_parts{nullptr, query, headers});
}

/// The details of a 400, or a marker when the decode did not fail so.
std::string
bad_request_details(const caf::expected<domain::request_input>& result) {
  if (result)
    return "<decoded>";
  if (!is(result.error(), errc::validation_error))
    return "<another error>";
  return describe(result.error()).details;
}

/// Percent-decoded value of 100 ASCII bytes then `tail`.
std::string after_100_bytes(const std::string& tail) {
  return std::string(99, 'a') + tail;
}

} // namespace

BOOST_AUTO_TEST_SUITE(decode)

BOOST_AUTO_TEST_CASE(a_redirect_that_is_not_utf8_is_a_400_naming_it) {
  for (const char* bad : {"/\xff", "/\xed\xb1\x8d", "/\xc0\xaf", "/caf\xc3"}) {
    BOOST_TEST_INFO(bad);
    auto result = decode_query("startGithubLogin", {{"redirect", bad}});
    BOOST_TEST(bad_request_details(result) == "redirect: must be valid UTF-8");
  }
}

BOOST_AUTO_TEST_CASE(a_utf8_redirect_is_kept_as_it_is) {
  std::string path =
    "/\xe3\x83\x80\xe3\x83\x83\xe3\x82\xb7\xe3\x83\xa5?q=\xc3\xa9";
  auto result = decode_query("startGithubLogin", {{"redirect", path}});
  BOOST_REQUIRE(static_cast<bool>(result));
  BOOST_TEST(std::get<domain::github_start_input>(*result).redirect == path);
}

BOOST_AUTO_TEST_CASE(a_long_github_error_is_cut_at_a_character_boundary) {
  // 99 bytes, then a two-byte character across the 100-byte limit.
  auto result = decode_query("completeGithubLogin",
                             {{"error", after_100_bytes("\xc3\xa9z")}});
  BOOST_REQUIRE(static_cast<bool>(result));
  auto error = std::get<domain::github_callback_input>(*result).error;
  BOOST_TEST(error == std::string(99, 'a'));
  // Characters that fit are kept whole, and short texts untouched.
  std::string japanese;
  for (int i = 0; i < 40; ++i)
    japanese += "\xe6\x8b\x92"; // 拒, 120 bytes in all
  result = decode_query("completeGithubLogin", {{"error", japanese}});
  BOOST_REQUIRE(static_cast<bool>(result));
  error = std::get<domain::github_callback_input>(*result).error;
  BOOST_TEST(error == japanese.substr(0, 99));
  BOOST_TEST(valid_utf8(error));
  result = decode_query("completeGithubLogin", {{"error", "access_denied"}});
  BOOST_REQUIRE(static_cast<bool>(result));
  BOOST_TEST(std::get<domain::github_callback_input>(*result).error ==
             "access_denied");
}

BOOST_AUTO_TEST_CASE(a_github_error_that_is_not_utf8_is_a_400_naming_it) {
  auto result = decode_query("completeGithubLogin", {{"error", "denied \xff"}});
  BOOST_TEST(bad_request_details(result) == "error: must be valid UTF-8");
}

BOOST_AUTO_TEST_CASE(every_query_value_must_be_utf8_whoever_reads_it) {
  BOOST_TEST(bad_request_details(decode_query(
               "listExecutions", {{"status", "pending\xed\xb0\x80"}})) ==
             "status: must be valid UTF-8");
  BOOST_TEST(bad_request_details(decode_query(
               "listExecutionLogs", {{"after", "\xff"}, {"limit", "5"}})) ==
             "after: must be valid UTF-8");
  // A parameter no operation reads is refused too: nothing downstream
  // ever sees text that is not UTF-8.
  BOOST_TEST(
    bad_request_details(decode_query("getHealth", {{"utm_source", "\xfe"}})) ==
    "utm_source: must be valid UTF-8");
  BOOST_TEST(bad_request_details(decode_query(
               "getHealth", {{"utm_source", "ok"}})) == "<decoded>");
}

BOOST_AUTO_TEST_CASE(a_query_name_that_is_not_utf8_is_refused_without_echo) {
  auto details =
    bad_request_details(decode_query("getHealth", {{"k\xff", "v"}}));
  BOOST_TEST(details == "query: parameter names must be valid UTF-8");
}

BOOST_AUTO_TEST_CASE(a_long_query_name_is_echoed_cut_at_a_character_boundary) {
  std::string name = "x";
  for (int i = 0; i < 40; ++i)
    name += "\xc3\xa9"; // 81 bytes
  auto details =
    bad_request_details(decode_query("getHealth", {{name, "\xff"}}));
  BOOST_TEST(details == name.substr(0, 63) + ": must be valid UTF-8");
  BOOST_TEST(valid_utf8(details));
}

BOOST_AUTO_TEST_CASE(valid_utf8_query_values_decode_as_before) {
  auto result =
    decode_query("listExecutions",
                 {{"status", "running"}, {"limit", "7"}, {"note", "\xc3\xa9"}});
  BOOST_REQUIRE(static_cast<bool>(result));
  const auto& filter = std::get<storage::execution_filter>(*result);
  BOOST_TEST(*filter.status == "running");
  BOOST_TEST(filter.limit == 7);
}

BOOST_AUTO_TEST_CASE(percent_decoding_yields_raw_bytes_for_the_check) {
  BOOST_TEST(*percent_decode("%2F%FF") == "/\xff");
  BOOST_TEST(*percent_decode("%C3%A9+x") == "\xc3\xa9 x");
  BOOST_TEST(!percent_decode("%F").has_value());
  BOOST_TEST(!percent_decode("%GG").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// -- worker protocol bodies ---------------------------------------------------

namespace {

caf::expected<domain::request_input> decode_body(std::string_view op,
                                                 const char* json) {
  rapidjson::Document doc;
  doc.Parse(json);
  BOOST_REQUIRE(!doc.HasParseError());
  query_map query;
  request_headers headers;
  return decode_input(descriptor_of(op), request_parts{&doc, query, headers});
}

/// The error code and details of a failed decode, or "<decoded>".
std::string failure(const caf::expected<domain::request_input>& result) {
  if (result)
    return "<decoded>";
  auto d = describe(result.error());
  const char* code = d.code == errc::validation_error ? "validation_error"
                     : d.code == errc::unprocessable_entity
                       ? "unprocessable_entity"
                       : "other";
  return std::string{code} + " " + d.details;
}

} // namespace

BOOST_AUTO_TEST_SUITE(worker_bodies)

BOOST_AUTO_TEST_CASE(a_heartbeat_needs_an_attempt_and_bounds_progress) {
  auto ok = decode_body("heartbeatExecution",
                        R"({"attempt":2,"progress":40,"message":"halfway"})");
  BOOST_REQUIRE(ok);
  const auto& hb = std::get<storage::heartbeat>(*ok);
  BOOST_TEST(hb.attempt == 2);
  BOOST_TEST(*hb.progress == 40);
  BOOST_TEST(*hb.message == "halfway");
  BOOST_TEST(failure(decode_body("heartbeatExecution", "{}")) ==
             "unprocessable_entity attempt: is required");
  BOOST_TEST(failure(decode_body("heartbeatExecution",
                                 R"({"attempt":1,"progress":101})")) ==
             "unprocessable_entity progress: must be between 0 and 100");
  BOOST_TEST(failure(decode_body("heartbeatExecution", R"({"attempt":0})")) ==
             "unprocessable_entity attempt: must be between 1 and 2147483647");
}

BOOST_AUTO_TEST_CASE(a_worker_token_scope_is_deduplicated_and_never_empty) {
  auto ok = decode_body(
    "createWorkerToken",
    R"({"name":"ci","agent_types":["codegen","codegen","review"],)"
    R"("repository_ids":["AAAAAAAA-0000-4000-8000-000000000001"]})");
  BOOST_REQUIRE(ok);
  const auto& in = std::get<storage::new_worker_token>(*ok);
  BOOST_TEST(in.name == "ci");
  BOOST_TEST(in.agent_types->size() == 2u);
  BOOST_TEST(in.repository_ids->front() ==
             "aaaaaaaa-0000-4000-8000-000000000001");
  BOOST_TEST(failure(decode_body("createWorkerToken",
                                 R"({"name":"ci","agent_types":[]})")) ==
             "validation_error agent_types: must hold 1 to 6 items (omit it "
             "for no limit)");
  BOOST_TEST(failure(decode_body("createWorkerToken",
                                 R"({"name":"ci","agent_types":["chef"]})")) ==
             "validation_error agent_types: each must be one of the agent "
             "types");
  BOOST_TEST(
    failure(decode_body("createWorkerToken",
                        R"({"name":"ci","repository_ids":["nope"]})")) ==
    "validation_error repository_ids: each must be a UUID");
  BOOST_TEST(failure(decode_body("createWorkerToken", R"({"name":""})")) ==
             "unprocessable_entity name: must be 1 to 100 bytes long");
}

BOOST_AUTO_TEST_CASE(a_claim_may_name_one_repository) {
  auto ok =
    decode_body("claimExecution",
                R"({"repository_id":"00000000-0000-4000-8000-00000000000A"})");
  BOOST_REQUIRE(ok);
  BOOST_TEST(*std::get<domain::claim_input>(*ok).repository_id ==
             "00000000-0000-4000-8000-00000000000a");
  BOOST_TEST(
    failure(decode_body("claimExecution", R"({"repository_id":"x"})")) ==
    "validation_error repository_id: must be a UUID");
}

BOOST_AUTO_TEST_CASE(a_workflow_run_needs_an_issue_number) {
  auto ok = decode_body("createWorkflowRun",
                        R"({"issue_number":12,"options":{"dry":true}})");
  BOOST_REQUIRE(ok);
  const auto& in = std::get<storage::new_workflow_run>(*ok);
  BOOST_TEST(in.issue_number == 12);
  BOOST_TEST(*in.options == R"({"dry":true})");
  BOOST_TEST(failure(decode_body("createWorkflowRun", "{}")) ==
             "unprocessable_entity issue_number: is required");
}

BOOST_AUTO_TEST_SUITE_END()
