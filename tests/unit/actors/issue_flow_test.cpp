// Reading the LLM's draft of an issue and the queued task payload: only
// complete, well-formed drafts in strict UTF-8 become GitHub issues.
#include <string>

#include <boost/test/unit_test.hpp>

#include "actors/issue_flow.hpp"

using namespace miyabi::actors;

namespace {

std::string draft_json(const std::string& title) {
  return R"({"title":")" + title +
         R"(","body":"Steps to reproduce","agent":"codegen",)"
         R"("labels":["bug"]})";
}

} // namespace

BOOST_AUTO_TEST_SUITE(issue_flow)

BOOST_AUTO_TEST_CASE(a_complete_draft_is_read_with_every_field) {
  auto draft = parse_draft(draft_json("Login fails"));
  BOOST_REQUIRE(draft.has_value());
  BOOST_TEST(draft->title == "Login fails");
  BOOST_TEST(draft->body == "Steps to reproduce");
  BOOST_TEST(draft->agent == "codegen");
  BOOST_TEST(draft->labels.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_draft_with_a_lone_surrogate_escape_is_refused) {
  BOOST_TEST(!parse_draft(draft_json("broken \\udc4d title")).has_value());
  BOOST_TEST(!parse_draft(draft_json("broken \\ud83d title")).has_value());
  auto pair = parse_draft(draft_json("emoji \\ud83d\\ude00 ok"));
  BOOST_REQUIRE(pair.has_value());
  BOOST_TEST(pair->title == "emoji \xF0\x9F\x98\x80 ok");
}

BOOST_AUTO_TEST_CASE(
  a_draft_missing_a_field_or_with_an_unknown_agent_is_refused) {
  BOOST_TEST(!parse_draft(R"({"title":"t","body":"b","labels":[]})"));
  BOOST_TEST(
    !parse_draft(R"({"title":"t","body":"b","agent":"wizard","labels":[]})"));
  BOOST_TEST(!parse_draft(R"({"title":"","body":"b","agent":"codegen",)"
                          R"("labels":[]})"));
  BOOST_TEST(!parse_draft("not json"));
}

BOOST_AUTO_TEST_SUITE_END()
