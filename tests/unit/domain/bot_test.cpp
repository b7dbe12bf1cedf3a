#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

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

// -- executions from the chat, buttons, issue limits, notifications ----------

namespace {

constexpr char first_id[] = "0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
// Shares its first six characters with `first_id`.
constexpr char second_id[] = "0a1b2c99-0000-4000-8000-000000000002";
constexpr char retried_id[] = "f0e1d2c3-b4a5-4968-8776-655443322110";

storage::user user_named(const std::string& id, const std::string& login) {
  storage::user u;
  u.id = id;
  u.login = login;
  return u;
}

storage::recent_execution run_of(const std::string& id,
                                 const std::string& agent, int64_t issue,
                                 const std::string& status) {
  storage::recent_execution r;
  r.execution.id = id;
  r.execution.agent_type = agent;
  r.execution.issue_number = issue;
  r.execution.status = status;
  r.repository_owner = "miyabi";
  r.repository_name = "agents";
  return r;
}

storage::execution_log log_line(const std::string& level,
                                const std::string& text) {
  storage::execution_log l;
  l.execution_id = first_id;
  l.level = level;
  l.message = text;
  return l;
}

/// A backend with a database whose answers the test scripts and which
/// records what the decisions asked of it. Its executions belong to
/// `owner`: other users find none of them.
class scripted_backend final : public bot_backend {
 public:
  // -- scripted answers
  std::optional<storage::user> linked; ///< the user every chat is linked to
  std::string owner = "user-1";
  std::vector<storage::recent_execution> executions;
  std::vector<storage::execution_log> log_lines;
  execution_action action_answer; ///< of cancel_execution, retry_execution
  std::optional<int64_t> quota_wait;

  // -- calls made
  std::vector<int64_t> linked_user_calls;
  std::vector<std::pair<int64_t, uint32_t>> quota_calls;
  std::vector<std::pair<std::string, int64_t>> recent_calls;   ///< user, limit
  std::vector<std::pair<std::string, std::string>> find_calls; ///< user, prefix
  std::vector<std::pair<std::string, int64_t>> log_calls;      ///< id, limit
  std::vector<std::pair<std::string, std::string>> cancel_calls; ///< user, id
  std::vector<std::pair<std::string, std::string>> retry_calls;  ///< user, id
  std::vector<std::pair<int64_t, chat_message>> sent;

  std::optional<storage::user> linked_user(int64_t chat_id) override {
    linked_user_calls.push_back(chat_id);
    return linked;
  }

  std::optional<storage::user> consume_link(const std::string&,
                                            int64_t) override {
    return {};
  }

  std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string&) override {
    return std::pair<int64_t, int64_t>{0, 0};
  }

  std::optional<int64_t> take_issue_quota(int64_t chat_id,
                                          uint32_t per_hour) override {
    quota_calls.emplace_back(chat_id, per_hour);
    return quota_wait;
  }

  std::vector<storage::recent_execution>
  recent_executions(const std::string& user_id, int64_t limit) override {
    recent_calls.emplace_back(user_id, limit);
    if (user_id != owner)
      return {};
    return executions;
  }

  execution_lookup find_execution(const std::string& user_id,
                                  const std::string& prefix) override {
    find_calls.emplace_back(user_id, prefix);
    execution_lookup lookup;
    if (user_id != owner)
      return lookup;
    for (const auto& r : executions) {
      if (r.execution.id.compare(0, prefix.size(), prefix) != 0)
        continue;
      if (lookup.found == execution_lookup::outcome::none) {
        lookup.found = execution_lookup::outcome::one;
        lookup.match = r;
      } else {
        lookup.found = execution_lookup::outcome::many;
      }
    }
    return lookup;
  }

  std::vector<storage::execution_log> last_logs(const std::string& user_id,
                                                const std::string& id,
                                                int64_t limit) override {
    log_calls.emplace_back(id, limit);
    if (user_id != owner)
      return {};
    return log_lines;
  }

  execution_action cancel_execution(const std::string& user_id,
                                    const std::string& id) override {
    cancel_calls.emplace_back(user_id, id);
    return action_answer;
  }

  execution_action retry_execution(const std::string& user_id,
                                   const std::string& id) override {
    retry_calls.emplace_back(user_id, id);
    return action_answer;
  }

  void send_later(int64_t chat_id, const chat_message& note) override {
    sent.emplace_back(chat_id, note);
  }

  bool has_database() const override { return true; }
};

/// The chat is linked to user-1, who owns a running and a failed execution
/// whose ids share their first six characters.
scripted_backend linked_backend() {
  scripted_backend backend;
  backend.linked = user_named("user-1", "alice");
  backend.executions = {run_of(first_id, "codegen", 12, "running"),
                        run_of(second_id, "review", 13, "failed")};
  return backend;
}

/// Settings that authorize no chat: only a link lets one in.
bot_settings link_only_settings() {
  auto s = issue_settings();
  s.authorized_chat_ids.clear();
  return s;
}

telegram_update said(const std::string& text, const std::string& language = {},
                     int64_t chat_id = chat) {
  telegram_update update;
  update.update_id = 2;
  telegram_message m;
  m.message_id = 2;
  m.chat_id = chat_id;
  m.text = text;
  m.language_code = language;
  update.message = m;
  return update;
}

telegram_update pressed(const std::string& data,
                        const std::string& language = {}) {
  telegram_update update;
  update.update_id = 3;
  telegram_callback cb;
  cb.id = "callback-1";
  cb.from_id = 7;
  cb.chat_id = chat;
  cb.data = data;
  cb.language_code = language;
  update.callback = cb;
  return update;
}

bool mentions(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

bool is_message(const bot_action& a) {
  return a.what == bot_action::kind::send_message && a.chat_id == chat;
}

bool is_callback_answer(const bot_action& a) {
  return a.what == bot_action::kind::answer_callback &&
         a.callback_id == "callback-1";
}

storage::execution_change change_to(const std::string& status,
                                    std::optional<int64_t> pr = std::nullopt) {
  storage::execution_change c;
  c.execution = run_of(first_id, "codegen", 12, status).execution;
  c.execution.pr_number = pr;
  c.previous_status = "running";
  c.user_id = "user-1";
  c.repository_owner = "miyabi";
  c.repository_name = "agents";
  return c;
}

} // namespace

BOOST_AUTO_TEST_SUITE(bot_executions)

BOOST_AUTO_TEST_CASE(an_authorized_chat_that_is_not_linked_is_told_to_link) {
  scripted_backend backend;
  backend.executions = {run_of(first_id, "codegen", 12, "running")};
  auto reply = decide(said("/runs"), backend, issue_settings());
  BOOST_TEST(is_message(reply));
  BOOST_TEST(mentions(reply.text, "/link CODE"), reply.text);
  for (const char* command :
       {"/logs 0a1b2c3d", "/cancel 0a1b2c3d", "/retry 0a1b2c3d"}) {
    auto answer = decide(said(command), backend, issue_settings());
    BOOST_TEST(mentions(answer.text, "/link CODE"), command);
  }
  BOOST_TEST(backend.recent_calls.empty());
  BOOST_TEST(backend.find_calls.empty());
  BOOST_TEST(backend.cancel_calls.empty());
  BOOST_TEST(backend.retry_calls.empty());
}

BOOST_AUTO_TEST_CASE(a_linked_chat_sees_its_newest_runs_by_short_id) {
  auto backend = linked_backend();
  auto reply = decide(said("/runs"), backend, link_only_settings());
  BOOST_TEST(is_message(reply));
  BOOST_TEST(
    mentions(reply.text, "0a1b2c3d  codegen miyabi/agents #12  running"),
    reply.text);
  BOOST_TEST(mentions(reply.text, "0a1b2c99  review miyabi/agents #13  failed"),
             reply.text);
  BOOST_TEST(!mentions(reply.text, first_id), reply.text);
  BOOST_TEST(!mentions(reply.text, second_id), reply.text);
  BOOST_REQUIRE(backend.recent_calls.size() == 1u);
  BOOST_TEST(backend.recent_calls[0].first == "user-1");
  BOOST_TEST(backend.recent_calls[0].second == 5);
}

BOOST_AUTO_TEST_CASE(runs_are_listed_in_japanese_for_a_japanese_chat) {
  auto backend = linked_backend();
  auto reply = decide(said("/runs", "ja"), backend, link_only_settings());
  BOOST_TEST(mentions(reply.text, "最新の実行"), reply.text);
  BOOST_TEST(
    mentions(reply.text, "0a1b2c3d  codegen miyabi/agents #12  実行中"),
    reply.text);
}

BOOST_AUTO_TEST_CASE(a_linked_chat_without_executions_is_told_it_has_none) {
  auto backend = linked_backend();
  backend.executions.clear();
  auto reply = decide(said("/runs"), backend, link_only_settings());
  BOOST_TEST(reply.text == "You have no executions yet.");
}

BOOST_AUTO_TEST_CASE(
  a_five_character_prefix_gets_the_usage_text_and_is_never_looked_up) {
  auto backend = linked_backend();
  auto reply = decide(said("/logs 0a1b2"), backend, link_only_settings());
  BOOST_TEST(is_message(reply));
  BOOST_TEST(mentions(reply.text, "Usage: /logs ID"), reply.text);
  BOOST_TEST(backend.find_calls.empty());
  BOOST_TEST(backend.log_calls.empty());
}

BOOST_AUTO_TEST_CASE(
  an_id_that_is_not_6_to_36_hex_digits_or_dashes_is_never_looked_up) {
  auto backend = linked_backend();
  for (const char* command : {"/cancel 0a1b2g3d", "/cancel 0a1b 2c3d", "/retry",
                              "/retry 0a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d0"}) {
    auto reply = decide(said(command), backend, link_only_settings());
    BOOST_TEST(mentions(reply.text, "Usage: "), command);
  }
  BOOST_TEST(backend.find_calls.empty());
  BOOST_TEST(backend.cancel_calls.empty());
  BOOST_TEST(backend.retry_calls.empty());
}

BOOST_AUTO_TEST_CASE(an_ambiguous_prefix_is_answered_as_matching_several) {
  auto backend = linked_backend();
  auto reply = decide(said("/logs 0A1B2C"), backend, link_only_settings());
  BOOST_TEST(mentions(reply.text, "0a1b2c matches several of your executions"),
             reply.text);
  BOOST_REQUIRE(backend.find_calls.size() == 1u);
  BOOST_TEST(backend.find_calls[0].first == "user-1");
  BOOST_TEST(backend.find_calls[0].second == "0a1b2c"); // lower-cased
  BOOST_TEST(backend.log_calls.empty());
  auto japanese =
    decide(said("/cancel 0a1b2c", "ja"), backend, link_only_settings());
  BOOST_TEST(mentions(japanese.text, "複数"), japanese.text);
  BOOST_TEST(backend.cancel_calls.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_id_is_answered_as_no_execution_of_yours) {
  auto backend = linked_backend();
  auto reply = decide(said("/cancel 0a1b2c3e"), backend, link_only_settings());
  BOOST_TEST(mentions(reply.text, "No execution of yours matches 0a1b2c3e"),
             reply.text);
  BOOST_TEST(backend.find_calls.size() == 1u);
  BOOST_TEST(backend.cancel_calls.empty());
}

BOOST_AUTO_TEST_CASE(another_users_execution_is_not_found_from_this_chat) {
  auto backend = linked_backend();
  backend.linked = user_named("user-2", "bob");
  auto reply = decide(said("/retry " + std::string{first_id}), backend,
                      link_only_settings());
  BOOST_TEST(mentions(reply.text, "No execution of yours matches"), reply.text);
  BOOST_REQUIRE(backend.find_calls.size() == 1u);
  BOOST_TEST(backend.find_calls[0].first == "user-2");
  BOOST_TEST(backend.retry_calls.empty());
}

BOOST_AUTO_TEST_CASE(logs_show_the_last_lines_of_the_execution) {
  auto backend = linked_backend();
  backend.log_lines = {log_line("INFO", "started"), log_line("ERROR", "boom")};
  auto reply = decide(said("/logs 0a1b2c3d"), backend, link_only_settings());
  BOOST_TEST(mentions(reply.text, "0a1b2c3d (codegen miyabi/agents #12)"),
             reply.text);
  BOOST_TEST(mentions(reply.text, "[INFO] started\n[ERROR] boom"), reply.text);
  BOOST_REQUIRE(backend.log_calls.size() == 1u);
  BOOST_TEST(backend.log_calls[0].first == first_id);
  BOOST_TEST(backend.log_calls[0].second == 10);
}

BOOST_AUTO_TEST_CASE(a_cancel_that_conflicts_names_the_status) {
  auto backend = linked_backend();
  backend.action_answer.result = execution_action::outcome::conflict;
  backend.action_answer.status = "completed";
  auto reply = decide(said("/cancel 0a1b2c3d"), backend, link_only_settings());
  BOOST_TEST(reply.text == "0a1b2c3d cannot be cancelled: it is completed.");
  BOOST_REQUIRE(backend.cancel_calls.size() == 1u);
  BOOST_TEST(backend.cancel_calls[0].first == "user-1");
  BOOST_TEST(backend.cancel_calls[0].second == first_id); // the whole id
  auto japanese =
    decide(said("/cancel 0a1b2c3d", "ja"), backend, link_only_settings());
  BOOST_TEST(mentions(japanese.text, "完了"), japanese.text);
}

BOOST_AUTO_TEST_CASE(a_done_retry_names_the_new_short_id) {
  auto backend = linked_backend();
  backend.action_answer.result = execution_action::outcome::done;
  backend.action_answer.new_id = retried_id;
  auto reply = decide(said("/retry 0a1b2c99"), backend, link_only_settings());
  BOOST_TEST(reply.text == "Queued a retry of 0a1b2c99 as f0e1d2c3.");
  BOOST_REQUIRE(backend.retry_calls.size() == 1u);
  BOOST_TEST(backend.retry_calls[0].first == "user-1");
  BOOST_TEST(backend.retry_calls[0].second == second_id);
  BOOST_TEST(backend.cancel_calls.empty());
}

BOOST_AUTO_TEST_CASE(without_a_database_execution_commands_are_refused) {
  rate_limiter limits{10, std::chrono::hours{1}};
  telegram_only_backend backend{limits};
  for (const char* command :
       {"/runs", "/logs 0a1b2c3d", "/cancel 0a1b2c3d", "/retry 0a1b2c3d"}) {
    auto reply = decide(said(command), backend, issue_settings());
    BOOST_TEST(mentions(reply.text, "Executions need the database"), command);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bot_buttons)

BOOST_AUTO_TEST_CASE(
  a_button_from_a_chat_not_linked_to_the_owner_does_nothing) {
  auto backend = linked_backend();
  backend.linked = user_named("user-2", "bob");
  backend.action_answer.result = execution_action::outcome::done;
  auto answer =
    decide(pressed("cancel:" + std::string{first_id}), backend, bot_settings{});
  BOOST_TEST(is_callback_answer(answer));
  BOOST_TEST(mentions(answer.text, "Not an execution of the account linked"),
             answer.text);
  BOOST_TEST(backend.cancel_calls.empty());
  // Nor from a chat linked to nobody.
  backend.linked.reset();
  auto unlinked =
    decide(pressed("retry:" + std::string{first_id}), backend, bot_settings{});
  BOOST_TEST(is_callback_answer(unlinked));
  BOOST_TEST(mentions(unlinked.text, "Not an execution of the account linked"),
             unlinked.text);
  BOOST_TEST(backend.retry_calls.empty());
  BOOST_TEST(backend.sent.empty());
}

BOOST_AUTO_TEST_CASE(a_button_with_an_unknown_verb_is_answered_unknown_action) {
  auto backend = linked_backend();
  for (const std::string& data :
       {std::string{"approve:1"}, "approve:" + std::string{first_id},
        std::string{"cancel:0a1b2c3d"}, std::string{first_id}, std::string{}}) {
    auto answer = decide(pressed(data), backend, bot_settings{});
    BOOST_TEST(is_callback_answer(answer), data);
    BOOST_TEST(mentions(answer.text, "Unknown action"), data);
  }
  BOOST_TEST(backend.linked_user_calls.empty());
  BOOST_TEST(backend.find_calls.empty());
  BOOST_TEST(backend.cancel_calls.empty());
  auto japanese = decide(pressed("approve:1", "ja"), backend, bot_settings{});
  BOOST_TEST(mentions(japanese.text, "不明な操作"), japanese.text);
}

BOOST_AUTO_TEST_CASE(the_logs_button_sends_the_log_lines_to_the_chat) {
  auto backend = linked_backend();
  backend.log_lines = {log_line("INFO", "started"), log_line("ERROR", "boom")};
  auto answer =
    decide(pressed("logs:" + std::string{first_id}), backend, bot_settings{});
  BOOST_TEST(is_callback_answer(answer));
  BOOST_TEST(answer.text == "Logs sent to the chat.");
  BOOST_REQUIRE(backend.sent.size() == 1u);
  BOOST_TEST(backend.sent[0].first == chat);
  BOOST_TEST(
    mentions(backend.sent[0].second.text, "[INFO] started\n[ERROR] boom"),
    backend.sent[0].second.text);
  BOOST_TEST(backend.sent[0].second.keyboard.empty());
  BOOST_REQUIRE(backend.log_calls.size() == 1u);
  BOOST_TEST(backend.log_calls[0].first == first_id);
  BOOST_TEST(backend.log_calls[0].second == 10);
  BOOST_TEST(backend.cancel_calls.empty());
  BOOST_TEST(backend.retry_calls.empty());
}

BOOST_AUTO_TEST_CASE(the_owners_cancel_button_cancels_the_execution) {
  auto backend = linked_backend();
  backend.action_answer.result = execution_action::outcome::done;
  auto answer =
    decide(pressed("cancel:" + std::string{first_id}), backend, bot_settings{});
  BOOST_TEST(is_callback_answer(answer));
  BOOST_TEST(answer.text == "Cancelled 0a1b2c3d (codegen miyabi/agents #12).");
  BOOST_REQUIRE(backend.cancel_calls.size() == 1u);
  BOOST_TEST(backend.cancel_calls[0].first == "user-1");
  BOOST_TEST(backend.cancel_calls[0].second == first_id);
  BOOST_TEST(backend.retry_calls.empty());
}

BOOST_AUTO_TEST_CASE(the_owners_retry_button_queues_a_retry) {
  auto backend = linked_backend();
  backend.action_answer.result = execution_action::outcome::done;
  backend.action_answer.new_id = retried_id;
  auto answer =
    decide(pressed("retry:" + std::string{second_id}), backend, bot_settings{});
  BOOST_TEST(is_callback_answer(answer));
  BOOST_TEST(answer.text == "Queued a retry of 0a1b2c99 as f0e1d2c3.");
  BOOST_REQUIRE(backend.retry_calls.size() == 1u);
  BOOST_TEST(backend.retry_calls[0].first == "user-1");
  BOOST_TEST(backend.retry_calls[0].second == second_id);
  BOOST_TEST(backend.cancel_calls.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bot_issue_requests)

BOOST_AUTO_TEST_CASE(
  an_issue_over_the_chats_hourly_limit_is_refused_with_the_wait) {
  auto backend = linked_backend();
  backend.quota_wait = 1800;
  auto s = link_only_settings();
  s.issues_per_hour = 3;
  auto reply = decide(said("/issue Fix it"), backend, s);
  BOOST_TEST(is_message(reply));
  BOOST_TEST(!reply.issue.has_value());
  BOOST_TEST(reply.text == "This chat may create 3 issues per hour and has "
                           "reached that; please try again in about 30 "
                           "minutes.");
  BOOST_REQUIRE(backend.quota_calls.size() == 1u);
  BOOST_TEST(backend.quota_calls[0].first == chat);
  BOOST_TEST(backend.quota_calls[0].second == 3u);
  auto japanese = decide(said("/issue Fix it", "ja"), backend, s);
  BOOST_TEST(!japanese.issue.has_value());
  BOOST_TEST(mentions(japanese.text, "約 30 分後"), japanese.text);
}

BOOST_AUTO_TEST_CASE(plain_text_over_the_limit_is_refused_too) {
  auto backend = linked_backend();
  backend.quota_wait = 60;
  auto s = link_only_settings();
  s.llm_enabled = true;
  auto reply = decide(said("The login page breaks on Safari"), backend, s);
  BOOST_TEST(!reply.issue.has_value());
  BOOST_TEST(mentions(reply.text, "issues per hour"), reply.text);
  BOOST_TEST(backend.quota_calls.size() == 1u);
}

BOOST_AUTO_TEST_CASE(
  an_issue_within_the_limit_spends_one_of_the_chats_requests) {
  auto backend = linked_backend();
  auto reply = decide(said("/issue Fix it"), backend, link_only_settings());
  BOOST_TEST(reply.issue.has_value());
  BOOST_REQUIRE(backend.quota_calls.size() == 1u);
  BOOST_TEST(backend.quota_calls[0].first == chat);
}

BOOST_AUTO_TEST_CASE(an_issue_without_a_title_spends_no_request) {
  auto backend = linked_backend();
  for (const char* command : {"/issue", "/issue   ", "/issue codegen:"}) {
    auto reply = decide(said(command), backend, link_only_settings());
    BOOST_TEST(!reply.issue.has_value(), command);
    BOOST_TEST(mentions(reply.text, "Usage: /issue TITLE"), command);
  }
  BOOST_TEST(backend.quota_calls.empty());
}

BOOST_AUTO_TEST_CASE(in_telegram_only_mode_each_chat_has_its_own_limit) {
  rate_limiter limits{1, std::chrono::hours{1}};
  telegram_only_backend backend{limits};
  auto s = issue_settings();
  s.issues_per_hour = 1;
  s.authorized_chat_ids.push_back(chat + 1);
  BOOST_TEST(decide(said("/issue One"), backend, s).issue.has_value());
  auto refused = decide(said("/issue Two"), backend, s);
  BOOST_TEST(!refused.issue.has_value());
  BOOST_TEST(mentions(refused.text, "about 60 minutes"), refused.text);
  BOOST_TEST(
    decide(said("/issue Three", "", chat + 1), backend, s).issue.has_value());
}

BOOST_AUTO_TEST_CASE(an_issue_naming_an_agent_type_queues_that_agent) {
  auto backend = linked_backend();
  auto reply =
    decide(said("/issue codegen: Fix it"), backend, link_only_settings());
  BOOST_REQUIRE(reply.issue.has_value());
  BOOST_TEST(reply.issue->agent == "codegen");
  BOOST_TEST(reply.issue->title == "Fix it");
  BOOST_TEST(reply.issue->user_id == "user-1");
  BOOST_TEST(reply.issue->chat_id == chat);
  auto review = decide(said("/issue Review : Check the API\nEvery route."),
                       backend, link_only_settings());
  BOOST_REQUIRE(review.issue.has_value());
  BOOST_TEST(review.issue->agent == "review");
  BOOST_TEST(review.issue->title == "Check the API");
  BOOST_TEST(review.issue->body == "Every route.");
}

BOOST_AUTO_TEST_CASE(
  an_issue_title_whose_prefix_is_no_agent_type_is_all_title) {
  auto backend = linked_backend();
  auto reply = decide(said("/issue Bug: thing"), backend, link_only_settings());
  BOOST_REQUIRE(reply.issue.has_value());
  BOOST_TEST(reply.issue->agent == "issue");
  BOOST_TEST(reply.issue->title == "Bug: thing");
  auto plain =
    decide(said("/issue Fix the login page"), backend, link_only_settings());
  BOOST_REQUIRE(plain.issue.has_value());
  BOOST_TEST(plain.issue->agent == "issue");
  BOOST_TEST(plain.issue->title == "Fix the login page");
}

BOOST_AUTO_TEST_CASE(an_issue_from_a_chat_that_is_not_linked_has_no_user) {
  scripted_backend backend;
  auto reply =
    decide(said("/issue codegen: Fix it"), backend, issue_settings());
  BOOST_REQUIRE(reply.issue.has_value());
  BOOST_TEST(reply.issue->user_id.empty());
  BOOST_TEST(reply.issue->agent == "codegen");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bot_notices)

BOOST_AUTO_TEST_CASE(a_running_execution_offers_one_cancel_button) {
  auto notice = execution_notice(change_to("running"), false);
  BOOST_TEST(mentions(notice.text, "codegen agent on miyabi/agents #12 is now "
                                   "running (0a1b2c3d)"),
             notice.text);
  BOOST_REQUIRE(notice.keyboard.size() == 1u);
  BOOST_REQUIRE(notice.keyboard[0].size() == 1u);
  const auto& cancel_button = notice.keyboard[0][0];
  BOOST_TEST(cancel_button.text == "Cancel");
  BOOST_TEST(cancel_button.callback_data == "cancel:" + std::string{first_id});
  BOOST_TEST(cancel_button.url.empty());
  auto japanese = execution_notice(change_to("running"), true);
  BOOST_REQUIRE(japanese.keyboard.size() == 1u);
  BOOST_REQUIRE(japanese.keyboard[0].size() == 1u);
  BOOST_TEST(japanese.keyboard[0][0].text == "キャンセル");
  BOOST_TEST(japanese.keyboard[0][0].callback_data ==
             "cancel:" + std::string{first_id});
}

BOOST_AUTO_TEST_CASE(a_failed_or_cancelled_execution_offers_retry_and_logs) {
  for (const char* status : {"failed", "cancelled"}) {
    auto notice = execution_notice(change_to(status), false);
    BOOST_REQUIRE(notice.keyboard.size() == 1u);
    BOOST_REQUIRE(notice.keyboard[0].size() == 2u);
    const auto& retry_button = notice.keyboard[0][0];
    const auto& logs_button = notice.keyboard[0][1];
    BOOST_TEST(retry_button.text == "Retry", status);
    BOOST_TEST(retry_button.callback_data == "retry:" + std::string{first_id},
               status);
    BOOST_TEST(retry_button.url.empty(), status);
    BOOST_TEST(logs_button.text == "Logs", status);
    BOOST_TEST(logs_button.callback_data == "logs:" + std::string{first_id},
               status);
    BOOST_TEST(logs_button.url.empty(), status);
  }
}

BOOST_AUTO_TEST_CASE(callback_data_fits_telegrams_64_bytes) {
  for (const char* status : {"running", "failed", "cancelled"}) {
    auto notice = execution_notice(change_to(status), true);
    BOOST_TEST(!notice.keyboard.empty(), status);
    for (const auto& row : notice.keyboard)
      for (const auto& b : row)
        BOOST_TEST(b.callback_data.size() <= 64u, status);
  }
}

BOOST_AUTO_TEST_CASE(a_completed_execution_with_a_pull_request_links_to_it) {
  auto notice = execution_notice(change_to("completed", 7), false);
  BOOST_TEST(mentions(notice.text, "Pull request: #7"), notice.text);
  BOOST_REQUIRE(notice.keyboard.size() == 1u);
  BOOST_REQUIRE(notice.keyboard[0].size() == 1u);
  const auto& open_pr = notice.keyboard[0][0];
  BOOST_TEST(open_pr.url == "https://github.com/miyabi/agents/pull/7");
  BOOST_TEST(open_pr.callback_data.empty());
}

BOOST_AUTO_TEST_CASE(
  a_completed_execution_without_a_pull_request_has_no_buttons) {
  auto notice = execution_notice(change_to("completed"), false);
  BOOST_TEST(mentions(notice.text, "is now completed"), notice.text);
  BOOST_TEST(notice.keyboard.empty());
  BOOST_TEST(keyboard_json(notice.keyboard).empty());
}

BOOST_AUTO_TEST_CASE(an_empty_keyboard_is_written_as_no_markup) {
  BOOST_TEST(keyboard_json(inline_keyboard{}).empty());
}

BOOST_AUTO_TEST_CASE(
  a_link_button_is_written_with_its_url_and_no_callback_data) {
  auto json =
    keyboard_json(execution_notice(change_to("completed", 7), false).keyboard);
  BOOST_TEST(mentions(json, "\"url\""), json);
  BOOST_TEST(!mentions(json, "callback_data"), json);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_REQUIRE(doc.IsObject());
  BOOST_REQUIRE(doc.HasMember("inline_keyboard"));
  const auto& rows = doc["inline_keyboard"];
  BOOST_REQUIRE(rows.IsArray());
  BOOST_REQUIRE(rows.Size() == 1u);
  BOOST_REQUIRE(rows[0u].IsArray());
  BOOST_REQUIRE(rows[0u].Size() == 1u);
  const auto& b = rows[0u][0u];
  BOOST_REQUIRE(b.HasMember("url"));
  BOOST_TEST(std::string{b["url"].GetString()} ==
             "https://github.com/miyabi/agents/pull/7");
  BOOST_TEST(!b.HasMember("callback_data"));
}

BOOST_AUTO_TEST_CASE(callback_buttons_are_written_with_their_data_and_no_url) {
  auto json =
    keyboard_json(execution_notice(change_to("failed"), false).keyboard);
  BOOST_TEST(!mentions(json, "\"url\""), json);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  BOOST_REQUIRE(doc.IsObject());
  BOOST_REQUIRE(doc.HasMember("inline_keyboard"));
  const auto& rows = doc["inline_keyboard"];
  BOOST_REQUIRE(rows.IsArray());
  BOOST_REQUIRE(rows.Size() == 1u);
  const auto& row = rows[0u];
  BOOST_REQUIRE(row.IsArray());
  BOOST_REQUIRE(row.Size() == 2u);
  BOOST_REQUIRE(row[0u].HasMember("callback_data"));
  BOOST_REQUIRE(row[1u].HasMember("callback_data"));
  BOOST_TEST(std::string{row[0u]["text"].GetString()} == "Retry");
  BOOST_TEST(std::string{row[0u]["callback_data"].GetString()} ==
             "retry:" + std::string{first_id});
  BOOST_TEST(std::string{row[1u]["callback_data"].GetString()} ==
             "logs:" + std::string{first_id});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bot_issue_done)

BOOST_AUTO_TEST_CASE(without_a_link_the_answer_only_says_where_the_issue_is) {
  const std::string url = "https://github.com/miyabi/agents/issues/5";
  BOOST_TEST(issue_done_text(false, 5, url, "codegen", "", std::nullopt,
                             "miyabi/agents") ==
             issue_created_text(false, 5, url));
  BOOST_TEST(issue_created_text(false, 5, url) == "Created issue #5: " + url);
}

BOOST_AUTO_TEST_CASE(the_answer_names_the_queued_execution_by_short_id) {
  const std::string url = "https://github.com/miyabi/agents/issues/5";
  auto text =
    issue_done_text(false, 5, url, "codegen", first_id, true, "miyabi/agents");
  BOOST_TEST(mentions(text, "Created issue #5: " + url), text);
  BOOST_TEST(
    mentions(text, "Queued a codegen agent for it: execution 0a1b2c3d"), text);
  BOOST_TEST(!mentions(text, first_id), text);
  auto japanese =
    issue_done_text(true, 5, url, "codegen", first_id, true, "miyabi/agents");
  BOOST_TEST(mentions(japanese, "0a1b2c3d"), japanese);
  BOOST_TEST(!mentions(japanese, first_id), japanese);
}

BOOST_AUTO_TEST_CASE(the_answer_says_when_the_agent_was_already_queued) {
  auto text = issue_done_text(false, 5, "https://github.com/x/y/issues/5",
                              "review", "", true, "miyabi/agents");
  BOOST_TEST(mentions(text, "A review agent is already queued for it."), text);
}

BOOST_AUTO_TEST_CASE(the_answer_asks_to_register_an_unknown_repository) {
  auto text = issue_done_text(false, 5, "https://github.com/x/y/issues/5",
                              "codegen", "", false, "miyabi/agents");
  BOOST_TEST(mentions(text, "Register miyabi/agents in the dashboard"), text);
  BOOST_TEST(!mentions(text, "Queued"), text);
}

BOOST_AUTO_TEST_SUITE_END()
