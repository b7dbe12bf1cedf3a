#include <string>

#include <boost/test/unit_test.hpp>

#include "base/utf8.hpp"
#include "domain/bot.hpp"

using namespace miyabi;
using namespace miyabi::domain;

namespace {

constexpr int64_t chat = 42;

bot_settings issue_settings() {
  bot_settings s;
  s.authorized_chat_ids = {chat};
  s.issues_enabled = true;
  s.repository = "miyabi/agents";
  return s;
}

/// The issue title the bot takes from `text` (a whole message).
std::string title_of(const std::string& text) {
  telegram_update update;
  update.update_id = 1;
  telegram_message m;
  m.message_id = 1;
  m.chat_id = chat;
  m.text = text;
  update.message = m;
  // Without a database, authorization comes from the settings.
  rate_limiter limits{10, std::chrono::hours{1}};
  telegram_only_backend backend{limits};
  auto action = decide(update, backend, issue_settings());
  BOOST_REQUIRE(action.issue.has_value());
  return action.issue->title;
}

} // namespace

BOOST_AUTO_TEST_SUITE(bot)

BOOST_AUTO_TEST_CASE(a_short_issue_title_is_kept_whole) {
  BOOST_TEST(title_of("/issue Fix the login page\nIt breaks.") ==
             "Fix the login page");
  BOOST_TEST(
    title_of("/issue \xe3\x83\xad\xe3\x82\xb0\xe3\x82\xa4\xe3\x83\xb3") ==
    "\xe3\x83\xad\xe3\x82\xb0\xe3\x82\xa4\xe3\x83\xb3");
}

BOOST_AUTO_TEST_CASE(
  a_long_issue_title_is_cut_to_256_bytes_at_a_character_boundary) {
  // 255 ASCII bytes, then a three-byte character across the limit.
  auto title =
    title_of("/issue " + std::string(255, 'a') + "\xe3\x81\x82 tail");
  BOOST_TEST(title == std::string(255, 'a'));
  // Four-byte characters at every offset from the limit.
  for (size_t lead = 0; lead < 4; ++lead) {
    std::string text = std::string(lead, 'b');
    for (int i = 0; i < 100; ++i)
      text += "\xf0\x9f\x90\x9b"; // 🐛
    auto cut = title_of("/issue " + text);
    BOOST_TEST_INFO("lead " << lead);
    BOOST_TEST(cut.size() <= 256u);
    BOOST_TEST(cut.size() >= 253u);
    BOOST_TEST(valid_utf8(cut));
    BOOST_TEST(text.compare(0, cut.size(), cut) == 0);
  }
}

BOOST_AUTO_TEST_CASE(a_cut_issue_title_loses_its_trailing_spaces) {
  auto title =
    title_of("/issue " + std::string(250, 'c') + "     \xc3\xa9 more");
  BOOST_TEST(title == std::string(250, 'c'));
}

BOOST_AUTO_TEST_SUITE_END()
