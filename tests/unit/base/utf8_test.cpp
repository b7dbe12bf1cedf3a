#include <string>
#include <string_view>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "base/utf8.hpp"

using namespace miyabi;

namespace {

// One character of each encoded length: $ (1), é (2), あ (3), 😀 (4).
const std::string one = "$";
const std::string two = "\xc3\xa9";
const std::string three = "\xe3\x81\x82";
const std::string four = "\xf0\x9f\x98\x80";

/// Parses without any UTF-8 check, as RapidJSON 1.1.0 does by default.
rapidjson::Document lenient(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  BOOST_REQUIRE(!doc.HasParseError());
  return doc;
}

} // namespace

BOOST_AUTO_TEST_SUITE(utf8)

BOOST_AUTO_TEST_CASE(ascii_and_characters_of_every_length_are_valid) {
  BOOST_TEST(valid_utf8(""));
  BOOST_TEST(valid_utf8("plain ASCII, tabs\tand newlines\n"));
  BOOST_TEST(valid_utf8(one + two + three + four));
  BOOST_TEST(valid_utf8(std::string(1, '\0'))); // U+0000 is UTF-8
}

BOOST_AUTO_TEST_CASE(the_boundaries_of_each_length_are_valid) {
  for (const char* text : {
         "\x7f",             // U+007F
         "\xc2\x80",         // U+0080
         "\xdf\xbf",         // U+07FF
         "\xe0\xa0\x80",     // U+0800
         "\xed\x9f\xbf",     // U+D7FF, just below the surrogates
         "\xee\x80\x80",     // U+E000, just above them
         "\xef\xbf\xbf",     // U+FFFF
         "\xf0\x90\x80\x80", // U+10000
         "\xf4\x8f\xbf\xbf", // U+10FFFF
       }) {
    BOOST_TEST_INFO(std::string_view{text}.size() << " bytes");
    BOOST_TEST(valid_utf8(text));
  }
}

BOOST_AUTO_TEST_CASE(surrogate_code_points_are_invalid) {
  // What RapidJSON 1.1.0 makes of "\udc4d", "\ud800" and "\udfff".
  for (const char* text :
       {"\xed\xb1\x8d", "\xed\xa0\x80", "\xed\xbf\xbf", "a\xed\xb0\x80z"}) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!valid_utf8(text));
  }
}

BOOST_AUTO_TEST_CASE(overlong_forms_are_invalid) {
  for (const char* text : {
         "\xc0\xaf",         // '/' in two bytes
         "\xc1\xbf",         // U+007F in two bytes
         "\xe0\x80\xaf",     // '/' in three bytes
         "\xe0\x9f\xbf",     // U+07FF in three bytes
         "\xf0\x80\x80\xaf", // '/' in four bytes
         "\xf0\x8f\xbf\xbf", // U+FFFF in four bytes
       }) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!valid_utf8(text));
  }
}

BOOST_AUTO_TEST_CASE(code_points_above_u10ffff_and_bytes_f5_to_ff_are_invalid) {
  for (const char* text :
       {"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf7\xbf\xbf\xbf",
        "\xf8\x88\x80\x80\x80", "\xfe", "\xff"}) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!valid_utf8(text));
  }
}

BOOST_AUTO_TEST_CASE(truncated_and_stray_sequences_are_invalid) {
  for (const std::string& text : {
         std::string{"\x80"},   // a lone continuation byte
         std::string{"a\xbfz"}, // one in the middle
         two.substr(0, 1),      // cut at the end
         three.substr(0, 2), four.substr(0, 3),
         three.substr(0, 2) + "x",    // cut, then ASCII
         four.substr(0, 2) + four,    // cut, then a whole character
         std::string{"\xc3\xa9\xa9"}, // one continuation too many
       }) {
    BOOST_TEST_INFO(text.size() << " bytes");
    BOOST_TEST(!valid_utf8(text));
  }
}

BOOST_AUTO_TEST_CASE(text_that_fits_is_not_cut) {
  auto text = one + two + three + four;
  BOOST_TEST(cut_utf8(text, text.size()) == text);
  BOOST_TEST(cut_utf8(text, 1000) == text);
  BOOST_TEST(cut_utf8("", 0) == "");
}

BOOST_AUTO_TEST_CASE(ascii_is_cut_at_exactly_the_limit) {
  BOOST_TEST(cut_utf8("abcdef", 4) == "abcd");
  BOOST_TEST(cut_utf8("abcdef", 0) == "");
}

BOOST_AUTO_TEST_CASE(a_cut_inside_a_character_steps_back_to_its_start) {
  auto text = "ab" + four + "cd";
  BOOST_TEST(cut_utf8(text, 2) == "ab");
  BOOST_TEST(cut_utf8(text, 3) == "ab");
  BOOST_TEST(cut_utf8(text, 4) == "ab");
  BOOST_TEST(cut_utf8(text, 5) == "ab");
  BOOST_TEST(cut_utf8(text, 6) == "ab" + four);
  BOOST_TEST(cut_utf8(three + three, 5) == three);
  BOOST_TEST(cut_utf8(two + two, 3) == two);
  BOOST_TEST(cut_utf8(four, 3) == "");
}

BOOST_AUTO_TEST_CASE(
  every_cut_of_valid_text_is_a_valid_prefix_losing_at_most_3_bytes) {
  std::string text;
  for (int i = 0; i < 5; ++i)
    text += one + four + two + three + "\n";
  for (size_t limit = 0; limit <= text.size() + 1; ++limit) {
    auto cut = cut_utf8(text, limit);
    BOOST_TEST_INFO("limit " << limit);
    BOOST_TEST(cut.size() <= limit);
    BOOST_TEST(cut.size() + 3 >= std::min(limit, text.size()));
    BOOST_TEST(text.compare(0, cut.size(), cut) == 0);
    BOOST_TEST(valid_utf8(cut));
  }
}

BOOST_AUTO_TEST_CASE(a_cut_of_invalid_text_steps_back_at_most_3_bytes) {
  std::string continuations(20, '\x80');
  BOOST_TEST(cut_utf8(continuations, 10).size() == 7u);
}

BOOST_AUTO_TEST_CASE(json_strings_and_member_names_are_all_checked) {
  BOOST_TEST(json_strings_valid_utf8(
    lenient(R"({"a":["x",{"b":"\u00e9\ud83d\ude00"}],"c":1,"d":null})")));
  BOOST_TEST(json_strings_valid_utf8(lenient(R"("top-level string")")));
  BOOST_TEST(json_strings_valid_utf8(lenient("42")));
  // RapidJSON turns a lone low surrogate escape into invalid bytes.
  for (const char* text :
       {R"("\udc4d")", R"({"a":"\udc4d"})", R"({"\udc4d":1})",
        R"([1,[2,[3,{"deep":{"er":["ok","\udfff"]}}]]])",
        R"({"ok":"fine","bad":{"x\udc00y":null}})"}) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!json_strings_valid_utf8(lenient(text)));
  }
}

BOOST_AUTO_TEST_CASE(json_nested_far_beyond_the_call_stack_is_walked) {
  const size_t depth = 200000;
  auto text = std::string(depth, '[') + R"("\udc4d")" + std::string(depth, ']');
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.c_str(), text.size());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_TEST(!json_strings_valid_utf8(doc));
  const rapidjson::Value& value = doc;
  BOOST_TEST(!json_strings_valid_utf8(value));
}

BOOST_AUTO_TEST_SUITE_END()
