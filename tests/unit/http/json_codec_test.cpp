#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "http/json_codec.hpp"

using namespace miyabi;
using namespace miyabi::http;

BOOST_AUTO_TEST_SUITE(json_codec)

BOOST_AUTO_TEST_CASE(health_reports_mode_database_and_uptime) {
  domain::health_report report;
  report.version = "1.2.3";
  report.telegram_only = false;
  report.database = domain::db_state::connected;
  report.uptime_seconds = 42;
  auto body = encode(report);
  BOOST_TEST(body.content_type == "application/json");
  rapidjson::Document doc;
  doc.Parse(body.text.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(doc["status"].GetString() == std::string{"ok"});
  BOOST_TEST(doc["version"].GetString() == std::string{"1.2.3"});
  BOOST_TEST(doc["mode"].GetString() == std::string{"full"});
  BOOST_TEST(doc["database"].GetString() == std::string{"connected"});
  BOOST_TEST(doc["uptime_seconds"].GetInt() == 42);
}

BOOST_AUTO_TEST_CASE(an_unreachable_database_makes_health_degraded) {
  domain::health_report report;
  report.database = domain::db_state::disconnected;
  rapidjson::Document doc;
  doc.Parse(encode(report).text.c_str());
  BOOST_TEST(doc["status"].GetString() == std::string{"degraded"});
  BOOST_TEST(doc["database"].GetString() == std::string{"disconnected"});
}

BOOST_AUTO_TEST_CASE(the_error_envelope_has_code_message_details_and_id) {
  error_response err{422, "unprocessable_entity", "bad \"shape\"",
                     "field: name", false};
  rapidjson::Document doc;
  doc.Parse(encode_error(err, "req-1").c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(doc["error"].GetString() == std::string{"unprocessable_entity"});
  BOOST_TEST(doc["message"].GetString() == std::string{"bad \"shape\""});
  BOOST_TEST(doc["details"].GetString() == std::string{"field: name"});
  BOOST_TEST(doc["request_id"].GetString() == std::string{"req-1"});
}

BOOST_AUTO_TEST_CASE(details_are_left_out_when_empty) {
  error_response err{404, "not_found", "nope", "", false};
  rapidjson::Document doc;
  doc.Parse(encode_error(err, "r").c_str());
  BOOST_TEST(!doc.HasMember("details"));
}

BOOST_AUTO_TEST_CASE(malformed_json_is_a_validation_error) {
  for (auto text :
       {"{", "{\"a\":}", "nul", "{} {}", "[1,]", "\"unterminated", ""}) {
    rapidjson::Document doc;
    auto err = parse_json(text, doc);
    BOOST_TEST_INFO(text);
    BOOST_TEST(is(err, errc::validation_error));
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_refused) {
  rapidjson::Document doc;
  std::string text = "{\"a\":\"\xff\xfe\"}";
  BOOST_TEST(is(parse_json(text, doc), errc::validation_error));
}

BOOST_AUTO_TEST_CASE(a_lone_low_surrogate_escape_is_refused) {
  // RapidJSON 1.1.0 decodes these to the bytes of a surrogate code point,
  // which PostgreSQL refuses; parse_json must not hand them on.
  for (auto text :
       {R"({"message":"a\udc4db"})", R"({"m":"\uDC00"})", R"({"m":"\udfff"})",
        R"({"a":["x",{"b":"\udc4d"}]})", R"({"key\udc4d":1})", R"("\udc4d")",
        R"({"m":"\ud83d\ude00\ude00"})"}) {
    rapidjson::Document doc;
    auto err = parse_json(text, doc);
    BOOST_TEST_INFO(text);
    BOOST_TEST(is(err, errc::validation_error));
    BOOST_TEST(describe(err).message == "malformed JSON");
    BOOST_TEST(describe(err).details.find("UTF-8") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_lone_high_surrogate_escape_is_refused) {
  for (auto text : {R"({"m":"\ud800"})", R"({"m":"\ud800x"})",
                    R"({"m":"\ud800\u0041"})", R"({"m":"\udbff\ud800"})"}) {
    rapidjson::Document doc;
    BOOST_TEST_INFO(text);
    BOOST_TEST(is(parse_json(text, doc), errc::validation_error));
  }
}

BOOST_AUTO_TEST_CASE(an_escaped_surrogate_pair_is_one_four_byte_character) {
  rapidjson::Document doc;
  BOOST_REQUIRE(!parse_json(R"({"m":"\ud83d\ude00 \u00e9"})", doc));
  BOOST_TEST(std::string(doc["m"].GetString(), doc["m"].GetStringLength()) ==
             "\xf0\x9f\x98\x80 \xc3\xa9");
}

BOOST_AUTO_TEST_CASE(a_nul_escape_in_a_string_or_name_is_refused) {
  // PostgreSQL stores no U+0000: jsonb refuses it (a 500), libpq cuts a
  // text parameter at it (silent loss).
  for (auto text : {R"({"message":"a\u0000b"})", R"({"m":{"k":["\u0000"]}})",
                    R"({"k\u0000":1})"}) {
    rapidjson::Document doc;
    auto err = parse_json(text, doc);
    BOOST_TEST_INFO(text);
    BOOST_TEST(is(err, errc::validation_error));
    BOOST_TEST(describe(err).details.find("\\u0000") != std::string::npos);
  }
  rapidjson::Document doc;
  BOOST_TEST(!parse_json(R"({"m":"\u0001 \\u0000 is text here"})", doc));
}

BOOST_AUTO_TEST_CASE(a_lone_surrogate_at_the_depth_limit_is_found) {
  auto text = std::string(max_json_depth, '[') + R"("\udc4d")" +
              std::string(max_json_depth, ']');
  rapidjson::Document doc;
  BOOST_TEST(is(parse_json(text, doc), errc::validation_error));
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_before_parsing) {
  std::string deep(100000, '[');
  rapidjson::Document doc;
  auto err = parse_json(deep, doc);
  BOOST_TEST(is(err, errc::validation_error));
  BOOST_TEST(describe(err).details.find("nested") != std::string::npos);
  std::string ok =
    std::string(max_json_depth, '[') + std::string(max_json_depth, ']');
  BOOST_TEST(!parse_json(ok, doc));
}

BOOST_AUTO_TEST_CASE(brackets_inside_strings_do_not_count_as_depth) {
  BOOST_TEST(json_depth(R"({"a":"[[[[[[\"{{{{"})", 32) == 1u);
  BOOST_TEST(json_depth(R"([[[]],[]])", 32) == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
