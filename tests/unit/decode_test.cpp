#include <string>
#include <variant>

#include <boost/test/unit_test.hpp>

#include "config/errors.hpp"
#include "config/utf8.hpp"
#include "http/decode.hpp"

using namespace miyabi;
using namespace miyabi::http;
using actors::operation;

namespace {

caf::expected<actors::request_input> decode_query(operation op,
                                                  query_map query) {
  return decode_input(op, nullptr, query, request_headers{});
}

/// The details of a 400, or a marker when the decode did not fail so.
std::string
bad_request_details(const caf::expected<actors::request_input>& result) {
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
    auto result =
      decode_query(operation::auth_github_start, {{"redirect", bad}});
    BOOST_TEST(bad_request_details(result) == "redirect: must be valid UTF-8");
  }
}

BOOST_AUTO_TEST_CASE(a_utf8_redirect_is_kept_as_it_is) {
  std::string path =
    "/\xe3\x83\x80\xe3\x83\x83\xe3\x82\xb7\xe3\x83\xa5?q=\xc3\xa9";
  auto result =
    decode_query(operation::auth_github_start, {{"redirect", path}});
  BOOST_REQUIRE(static_cast<bool>(result));
  BOOST_TEST(std::get<actors::github_start_input>(*result).redirect == path);
}

BOOST_AUTO_TEST_CASE(a_long_github_error_is_cut_at_a_character_boundary) {
  // 99 bytes, then a two-byte character across the 100-byte limit.
  auto result = decode_query(operation::auth_github_callback,
                             {{"error", after_100_bytes("\xc3\xa9z")}});
  BOOST_REQUIRE(static_cast<bool>(result));
  auto error = std::get<actors::github_callback_input>(*result).error;
  BOOST_TEST(error == std::string(99, 'a'));
  // Characters that fit are kept whole, and short texts untouched.
  std::string japanese;
  for (int i = 0; i < 40; ++i)
    japanese += "\xe6\x8b\x92"; // 拒, 120 bytes in all
  result = decode_query(operation::auth_github_callback, {{"error", japanese}});
  BOOST_REQUIRE(static_cast<bool>(result));
  error = std::get<actors::github_callback_input>(*result).error;
  BOOST_TEST(error == japanese.substr(0, 99));
  BOOST_TEST(valid_utf8(error));
  result =
    decode_query(operation::auth_github_callback, {{"error", "access_denied"}});
  BOOST_REQUIRE(static_cast<bool>(result));
  BOOST_TEST(std::get<actors::github_callback_input>(*result).error ==
             "access_denied");
}

BOOST_AUTO_TEST_CASE(a_github_error_that_is_not_utf8_is_a_400_naming_it) {
  auto result =
    decode_query(operation::auth_github_callback, {{"error", "denied \xff"}});
  BOOST_TEST(bad_request_details(result) == "error: must be valid UTF-8");
}

BOOST_AUTO_TEST_CASE(every_query_value_must_be_utf8_whoever_reads_it) {
  BOOST_TEST(
    bad_request_details(decode_query(operation::list_executions,
                                     {{"status", "pending\xed\xb0\x80"}})) ==
    "status: must be valid UTF-8");
  BOOST_TEST(bad_request_details(decode_query(
               operation::list_logs, {{"after", "\xff"}, {"limit", "5"}})) ==
             "after: must be valid UTF-8");
  // A parameter no operation reads is refused too: nothing downstream
  // ever sees text that is not UTF-8.
  BOOST_TEST(bad_request_details(
               decode_query(operation::health, {{"utm_source", "\xfe"}})) ==
             "utm_source: must be valid UTF-8");
  BOOST_TEST(bad_request_details(decode_query(
               operation::health, {{"utm_source", "ok"}})) == "<decoded>");
}

BOOST_AUTO_TEST_CASE(a_query_name_that_is_not_utf8_is_refused_without_echo) {
  auto details =
    bad_request_details(decode_query(operation::health, {{"k\xff", "v"}}));
  BOOST_TEST(details == "query: parameter names must be valid UTF-8");
}

BOOST_AUTO_TEST_CASE(a_long_query_name_is_echoed_cut_at_a_character_boundary) {
  std::string name = "x";
  for (int i = 0; i < 40; ++i)
    name += "\xc3\xa9"; // 81 bytes
  auto details =
    bad_request_details(decode_query(operation::health, {{name, "\xff"}}));
  BOOST_TEST(details == name.substr(0, 63) + ": must be valid UTF-8");
  BOOST_TEST(valid_utf8(details));
}

BOOST_AUTO_TEST_CASE(valid_utf8_query_values_decode_as_before) {
  auto result =
    decode_query(operation::list_executions,
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
