// The JSON log writer (config/log.hpp): one object per line with unique
// member names whatever keys the caller passes, and secrets redacted before
// escaping, however short or full of JSON metacharacters they are.
#include <set>
#include <string>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "base/log.hpp"

using namespace miyabi;

namespace {

/// The line parsed; fails the test case unless it is one JSON object with
/// unique member names, ending in one newline.
rapidjson::Document parse_line(const std::string& line) {
  BOOST_REQUIRE(!line.empty());
  BOOST_TEST(line.back() == '\n');
  BOOST_TEST(line.find('\n') == line.size() - 1);
  rapidjson::Document doc;
  doc.Parse(line.c_str(), line.size() - 1);
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), line);
  std::set<std::string> names;
  for (auto i = doc.MemberBegin(); i != doc.MemberEnd(); ++i)
    BOOST_TEST(names.insert(i->name.GetString()).second,
               "duplicate member " << i->name.GetString() << " in " << line);
  return doc;
}

std::string text(const rapidjson::Document& doc, const char* key) {
  auto i = doc.FindMember(key);
  BOOST_REQUIRE_MESSAGE(i != doc.MemberEnd(), "no member " << key);
  BOOST_REQUIRE(i->value.IsString());
  return i->value.GetString();
}

} // namespace

BOOST_AUTO_TEST_SUITE(log_writer)

BOOST_AUTO_TEST_CASE(fields_that_collide_get_a_suffix_instead_of_a_duplicate) {
  auto line = log::format(log::level::error, "request failed",
                          {{"message", "the field"},
                           {"time", "caller time"},
                           {"severity", int64_t{3}},
                           {"status", 500},
                           {"status", 501},
                           {"status_2", "taken later"}});
  auto doc = parse_line(line);
  BOOST_TEST(text(doc, "message") == "request failed");
  BOOST_TEST(text(doc, "severity") == "ERROR");
  BOOST_TEST(text(doc, "message_2") == "the field");
  BOOST_TEST(text(doc, "time_2") == "caller time");
  BOOST_TEST(doc["severity_2"].GetInt64() == 3);
  BOOST_TEST(doc["status"].GetInt() == 500);
  BOOST_TEST(doc["status_2"].GetInt() == 501);
  BOOST_TEST(text(doc, "status_2_2") == "taken later");
}

BOOST_AUTO_TEST_CASE(a_secret_with_json_metacharacters_is_redacted) {
  const std::string secret = "qu\"ote\\back-slash";
  log::add_secret(secret);
  auto line =
    log::format(log::level::info, "token " + secret + " seen",
                {{"header", "Bearer " + secret}, {"other", "nothing to hide"}});
  auto doc = parse_line(line);
  BOOST_TEST(text(doc, "message") == "token [REDACTED] seen");
  BOOST_TEST(text(doc, "header") == "Bearer [REDACTED]");
  BOOST_TEST(text(doc, "other") == "nothing to hide");
  // Neither the raw nor the escaped form of the secret is in the line.
  BOOST_TEST(line.find("ote\\\\back") == std::string::npos);
  BOOST_TEST(line.find("qu\\\"ote") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_short_secret_is_redacted_too) {
  log::add_secret("Zq7w");
  auto line = log::format(log::level::warning, "pin Zq7w",
                          {{"pins", "Zq7wZq7w"}, {"count", 1}});
  auto doc = parse_line(line);
  BOOST_TEST(line.find("Zq7w") == std::string::npos);
  BOOST_TEST(text(doc, "message") == "pin [REDACTED]");
  BOOST_TEST(text(doc, "pins") == "[REDACTED][REDACTED]");
  BOOST_TEST(doc["count"].GetInt() == 1);
}

BOOST_AUTO_TEST_CASE(an_empty_secret_redacts_nothing) {
  log::add_secret("");
  auto doc = parse_line(log::format(log::level::info, "plain text"));
  BOOST_TEST(text(doc, "message") == "plain text");
}

BOOST_AUTO_TEST_CASE(a_nested_object_is_written_with_its_secrets_redacted) {
  log::add_secret("nested-secret-42");
  const log::field inner[] = {{"requestMethod", "GET"},
                              {"requestUrl", "/x?t=nested-secret-42"},
                              {"status", 200},
                              {"requestMethod", "dup"}};
  auto line = log::format(
    log::level::info, "request",
    {{"httpRequest", log::object_value{inner, 4}}, {"after", true}});
  auto doc = parse_line(line);
  BOOST_REQUIRE(doc["httpRequest"].IsObject());
  const auto& r = doc["httpRequest"];
  BOOST_TEST(std::string{r["requestMethod"].GetString()} == "GET");
  BOOST_TEST(std::string{r["requestMethod_2"].GetString()} == "dup");
  BOOST_TEST(r["status"].GetInt() == 200);
  BOOST_TEST(line.find("nested-secret-42") == std::string::npos);
  BOOST_TEST(doc["after"].GetBool());
}

BOOST_AUTO_TEST_SUITE_END()
