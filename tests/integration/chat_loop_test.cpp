// Telegram in the agent loop (api.md, "Telegram: the loop from chat to
// agent") against the real binary, a real PostgreSQL and the fake Telegram,
// GitHub and LLM of telegram_world.hpp: /runs, /logs, /cancel and /retry on
// the linked user's executions (foreign, unknown, ambiguous and short ids)
// in English and Japanese; the buttons on notifications and what pressing
// them does, only for the owner's chats; notifications in the chat's
// remembered language; an issue from chat becoming an execution a worker
// claims; the per-chat issue limit across two processes; setWebhook at
// start, retried after a 500.
#define BOOST_TEST_MODULE chat_loop_test
#include <boost/test/unit_test.hpp>

#include "integration/telegram_world.hpp"

using namespace miyabi::test::telegram_world;

namespace {

/// What the fake Telegram received for a chat: text and inline keyboard.
struct sent_message {
  std::string text;
  std::vector<std::pair<std::string, std::string>> buttons; ///< text, data/url
};

std::vector<sent_message> sent_to(int64_t chat) {
  std::vector<sent_message> out;
  for (const auto& r : world().telegram.requests_to(send_path)) {
    auto doc = parse_lenient(r.body);
    if (doc.HasParseError() || !doc.IsObject() ||
        int_of(doc, "chat_id") != chat)
      continue;
    sent_message m;
    m.text = str(doc, "text");
    auto markup = doc.FindMember("reply_markup");
    if (markup != doc.MemberEnd() && markup->value.IsObject() &&
        markup->value.HasMember("inline_keyboard"))
      for (const auto& row : markup->value["inline_keyboard"].GetArray())
        for (const auto& b : row.GetArray())
          m.buttons.emplace_back(str(b, "text"), b.HasMember("url")
                                                   ? "url " + str(b, "url")
                                                   : str(b, "callback_data"));
    out.push_back(std::move(m));
  }
  return out;
}

/// Waits for a message to `chat` whose text contains `part`.
std::optional<sent_message> wait_sent(int64_t chat, const std::string& part,
                                      milliseconds limit = 15s) {
  std::optional<sent_message> found;
  eventually(
    [&] {
      for (auto& m : sent_to(chat))
        if (contains(m.text, part)) {
          found = m;
          return true;
        }
      return false;
    },
    limit);
  return found;
}

/// A press of an inline button in `chat` with callback data `data`.
std::string button_update(int64_t update_id, int64_t chat,
                          const std::string& data, const std::string& lang) {
  return R"({"update_id":)" + std::to_string(update_id) +
         R"(,"callback_query":{"id":"cb-)" + std::to_string(update_id) +
         R"(","from":{"id":)" + std::to_string(chat) +
         R"(,"is_bot":false,"first_name":"Hana","language_code":)" +
         quote(lang) + R"(},"chat_instance":"ci-9","data":)" + quote(data) +
         R"(,"message":{"message_id":7,"date":1767312000,"chat":{"id":)" +
         std::to_string(chat) + R"(,"type":"private"}}}})";
}

bot_reply press(bot_client& bot, int64_t chat, const std::string& data,
                const std::string& lang = "en") {
  auto r = to_reply(bot.post(button_update(next_update(), chat, data, lang)));
  BOOST_CHECK_MESSAGE(r.status == 200, "button " << data << ": " << r.body);
  BOOST_CHECK_MESSAGE(r.method == "answerCallbackQuery",
                      "button " << data << ": " << r.body);
  return r;
}

/// A signed-in user whose chat is linked, with a registered repository.
struct linked_user {
  account who;
  int64_t chat = 0;
  std::string repository_id;
  std::string repository;
};

linked_user link_user(const std::string& login, int64_t chat,
                      const std::string& repository) {
  auto& svc = *world().main;
  linked_user u;
  u.who = sign_in(svc, login);
  u.chat = chat;
  u.repository = repository;
  auto bot = main_bot();
  auto code = new_link_code(svc, u.who);
  expect_message(say(bot, chat, "/link " + code), chat, {"Linked this chat"},
                 "link " + login);
  if (!repository.empty()) {
    auto r = api(svc, "POST", "/repositories",
                 R"({"full_name":")" + repository + R"("})", u.who.token);
    BOOST_REQUIRE_MESSAGE(r.status == 201 || r.status == 200, r.body);
    u.repository_id = str(parse_object(r.body), "id");
  }
  return u;
}

std::string execute(const linked_user& u, int issue,
                    const std::string& agent = "codegen") {
  auto r =
    api(*world().main, "POST", "/agents/execute",
        R"({"repository_id":")" + u.repository_id + R"(","issue_number":)" +
          std::to_string(issue) + R"(,"agent_type":")" + agent + R"("})",
        u.who.token);
  BOOST_REQUIRE_MESSAGE(r.status == 202, r.body);
  return str(parse_object(r.body), "id");
}

rapidjson::Document execution(const linked_user& u, const std::string& id) {
  auto r =
    api(*world().main, "GET", "/agents/executions/" + id, {}, u.who.token);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return parse_object(r.body);
}

std::string status_of(const linked_user& u, const std::string& id) {
  return str(execution(u, id), "status");
}

/// The user's executions that retry `id`.
std::vector<std::string> retries_of(const linked_user& u,
                                    const std::string& id) {
  auto r =
    api(*world().main, "GET", "/agents/executions?limit=100", {}, u.who.token);
  std::vector<std::string> out;
  auto doc = parse_object(r.body);
  for (const auto& e : doc["items"].GetArray())
    if (e.HasMember("retry_of") && e["retry_of"].IsString() &&
        str(e, "retry_of") == id)
      out.push_back(str(e, "id"));
  return out;
}

void patch_status(const linked_user& u, const std::string& id,
                  const std::string& body) {
  auto r =
    api(*world().main, "PATCH", "/agents/executions/" + id, body, u.who.token);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
}

std::string short8(const std::string& id) {
  return id.substr(0, 8);
}

const std::string& w_db() {
  return world().main_db;
}

} // namespace

// =============================================================================

BOOST_AUTO_TEST_SUITE(commands)

BOOST_AUTO_TEST_CASE(
  runs_logs_cancel_and_retry_act_on_the_linked_users_executions_in_both_languages) {
  auto alice = link_user("loop-alice", 8101, "octo-org/loop-commands");
  auto bob = link_user("loop-bob", 8102, "octo-org/loop-commands-bob");
  auto bob_run = execute(bob, 99);
  auto bot = main_bot();
  auto chat = alice.chat;

  struct texts {
    std::string lang, runs, logs_head, cancelled, cannot_cancel, retried,
      cannot_retry, no_match, several, usage;
  };
  const texts english{"en",
                      "Your newest executions:",
                      "Last log lines of",
                      "Cancelled",
                      "cannot be cancelled: it is cancelled",
                      "Queued a retry of",
                      "cannot be retried",
                      "No execution of yours matches",
                      "matches several of your executions",
                      "Usage: /logs ID"};
  const texts japanese{"ja",
                       "最新の実行:",
                       "の最新ログ:",
                       "をキャンセルしました",
                       "はキャンセルできません",
                       "の再実行を",
                       "は再実行できません",
                       "に一致するあなたの実行はありません",
                       "は複数の実行に一致します",
                       "使い方: /logs ID"};
  int issue = 1;
  for (const auto& t : {english, japanese}) {
    BOOST_TEST_CONTEXT("language " << t.lang) {
      auto first = execute(alice, issue++);
      auto second = execute(alice, issue++, "review");
      // /runs: the newest five, one line each with the short id.
      auto r = say(bot, chat, "/runs", t.lang);
      expect_message(r, chat, {t.runs, short8(first), short8(second)}, "/runs");
      BOOST_TEST(!contains(r.text, short8(bob_run)));

      // /logs: the last 10 lines, oldest first.
      for (int i = 1; i <= 12; ++i) {
        auto l =
          api(*world().main, "POST", "/agents/executions/" + first + "/logs",
              R"({"level":"INFO","message":"step )" + std::to_string(i) +
                R"( done"})",
              alice.who.token);
        BOOST_REQUIRE_MESSAGE(l.status == 201, l.body);
      }
      r = say(bot, chat, "/logs " + first.substr(0, 6), t.lang);
      expect_message(r, chat,
                     {t.logs_head, "[INFO] step 3 done", "[INFO] step 12 done"},
                     "/logs");
      BOOST_TEST(!contains(r.text, "step 2 done"));
      BOOST_TEST(r.text.find("step 3 done") < r.text.find("step 12 done"));
      r = say(bot, chat, "/logs " + second, t.lang); // the full id works too
      expect_message(r, chat, {short8(second)}, "/logs without lines");

      // /cancel, then again: the second names the status.
      r = say(bot, chat, "/cancel " + short8(first), t.lang);
      expect_message(r, chat, {t.cancelled}, "/cancel");
      BOOST_TEST(status_of(alice, first) == "cancelled");
      r = say(bot, chat, "/cancel " + short8(first), t.lang);
      expect_message(r, chat, {t.cannot_cancel}, "/cancel twice");

      // /retry of the cancelled one: a new pending execution retrying it;
      // of a pending one: refused.
      r = say(bot, chat, "/retry " + short8(first).substr(0, 7), t.lang);
      expect_message(r, chat, {t.retried}, "/retry");
      auto retries = retries_of(alice, first);
      BOOST_REQUIRE_EQUAL(retries.size(), 1u);
      BOOST_TEST(contains(r.text, short8(retries[0])));
      BOOST_TEST(status_of(alice, retries[0]) == "pending");
      r = say(bot, chat, "/retry " + short8(second), t.lang);
      expect_message(r, chat, {t.cannot_retry}, "/retry of a pending one");
      BOOST_TEST(retries_of(alice, second).empty());

      // Someone else's id and an unknown id get the same answer; nothing
      // happens to bob's execution.
      for (const auto& cmd : {"/cancel ", "/logs ", "/retry "}) {
        r = say(bot, chat, cmd + short8(bob_run), t.lang);
        expect_message(r, chat, {t.no_match}, std::string{cmd} + "foreign");
      }
      BOOST_TEST(status_of(bob, bob_run) == "pending");
      r = say(bot, chat, "/cancel 0123456789ab", t.lang);
      expect_message(r, chat, {t.no_match}, "unknown id");
      // Too short, or not an id at all: how to use the command.
      r = say(bot, chat, "/logs abc", t.lang);
      expect_message(r, chat, {t.usage}, "short prefix");
      r = say(bot, chat, "/logs", t.lang);
      expect_message(r, chat, {t.usage}, "no id");
      r = say(bot, chat, "/logs DROP TABLE", t.lang);
      expect_message(r, chat, {t.usage}, "not hex");
    }
  }

  // Two of alice's executions share a prefix: ambiguous, in both languages.
  for (auto suffix : {"1", "2"})
    exec_sql(w_db(), "INSERT INTO agent_executions (id, user_id, "
                     "repository_id, agent_type, issue_number) VALUES "
                     "('abcdef0" +
                       std::string{suffix} + "-0000-4000-8000-00000000000" +
                       suffix + "', '" + alice.who.id + "', '" +
                       alice.repository_id + "', 'codegen', 50)");
  auto r = say(bot, chat, "/cancel ABCDEF");
  expect_message(r, chat, {"abcdef matches several of your executions"},
                 "ambiguous");
  r = say(bot, chat, "/cancel abcdef", "ja");
  expect_message(r, chat, {"は複数の実行に一致します"}, "ambiguous ja");
  BOOST_TEST(query_int(w_db(), "SELECT count(*) FROM agent_executions WHERE "
                               "id::text LIKE 'abcdef0%' AND status = "
                               "'pending'") == 2);
  // One more character makes it unique.
  r = say(bot, chat, "/cancel abcdef01");
  expect_message(r, chat, {"Cancelled abcdef01"}, "unique again");

  // /runs shows at most five.
  r = say(bot, chat, "/runs");
  BOOST_TEST(std::count(r.text.begin(), r.text.end(), '\n') == 5);
}

BOOST_AUTO_TEST_CASE(chats_that_are_not_linked_are_told_to_link_first) {
  auto bot = main_bot();
  auto chat = authorized(30); // allowed by AUTHORIZED_CHAT_IDS, not linked
  for (const auto& cmd :
       {"/runs", "/logs abcdef12", "/cancel abcdef12", "/retry abcdef12"}) {
    expect_message(say(bot, chat, cmd), chat, {"/link"}, cmd);
    expect_message(say(bot, chat, cmd, "ja"), chat, {"連携"}, cmd);
  }
  // A stranger gets the usual refusal first.
  expect_message(say(bot, stranger(30), "/runs"), stranger(30), {"/getid"},
                 "stranger");
  // Without a database the commands say they need one.
  bot_client solo{world().solo()};
  expect_message(say(solo, authorized(31), "/runs"), authorized(31),
                 {"need the database"}, "telegram-only");
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(buttons)

BOOST_AUTO_TEST_CASE(
  notifications_carry_buttons_in_the_chats_language_and_act_only_for_the_owner) {
  auto hana = link_user("loop-hana", 8201, "octo-org/loop-buttons");
  auto ken = link_user("loop-ken", 8202, "octo-org/loop-buttons-ken");
  auto bot = main_bot();
  // Hana's chat speaks Japanese: notifications follow.
  say(bot, hana.chat, "/help", "ja");

  auto id = execute(hana, 21);
  auto claim = api(*world().main, "POST", "/agents/executions/claim", "{}",
                   hana.who.token);
  BOOST_REQUIRE_MESSAGE(claim.status == 200, claim.body);
  BOOST_REQUIRE_EQUAL(str(parse_object(claim.body), "id"), id);
  auto running = wait_sent(hana.chat, "実行中");
  BOOST_REQUIRE_MESSAGE(running, "no running notice for hana");
  BOOST_TEST(contains(running->text, "octo-org/loop-buttons #21"));
  BOOST_TEST(contains(running->text, short8(id)));
  BOOST_REQUIRE_EQUAL(running->buttons.size(), 1u);
  BOOST_TEST(running->buttons[0].first == "キャンセル");
  BOOST_TEST(running->buttons[0].second == "cancel:" + id);

  // Ken's chat presses Hana's button: nothing happens.
  auto r = press(bot, ken.chat, "cancel:" + id);
  BOOST_TEST(contains(r.text, "Not an execution of the account linked"));
  BOOST_TEST(status_of(hana, id) == "running");
  // A stranger's chat (linked to nobody) neither.
  r = press(bot, stranger(40), "cancel:" + id, "ja");
  BOOST_TEST(contains(r.text, "連携したアカウントの実行ではありません"));
  BOOST_TEST(status_of(hana, id) == "running");
  // Unknown data, a prefix instead of the full id, no id.
  for (const auto& data : {std::string{"approve:1"}, "cancel:" + short8(id),
                           std::string{"cancel:"}, std::string{"logs"}}) {
    r = press(bot, hana.chat, data);
    BOOST_TEST(contains(r.text, "Unknown action"), data);
  }
  r = press(bot, hana.chat, "frobnicate:" + id, "ja");
  BOOST_TEST(contains(r.text, "不明な操作です"));
  BOOST_TEST(status_of(hana, id) == "running");

  // Hana cancels: the answer says so, the notice of the cancellation has
  // Retry and Logs.
  r = press(bot, hana.chat, "cancel:" + id, "ja");
  BOOST_TEST(contains(r.text, "をキャンセルしました"), r.text);
  BOOST_TEST(status_of(hana, id) == "cancelled");
  auto cancelled = wait_sent(hana.chat, "キャンセル」");
  BOOST_REQUIRE_MESSAGE(cancelled, "no cancelled notice");
  BOOST_REQUIRE_EQUAL(cancelled->buttons.size(), 2u);
  BOOST_TEST(cancelled->buttons[0].first == "再実行");
  BOOST_TEST(cancelled->buttons[0].second == "retry:" + id);
  BOOST_TEST(cancelled->buttons[1].first == "ログ");
  BOOST_TEST(cancelled->buttons[1].second == "logs:" + id);
  // The same press again (Telegram's retry of the update): nothing new.
  auto again = button_update(next_update(), hana.chat, "cancel:" + id, "en");
  auto first_answer = to_reply(bot.post(again));
  auto repeat = to_reply(bot.post(again));
  BOOST_TEST(contains(first_answer.text, "cannot be cancelled"));
  BOOST_TEST(repeat.ok_only);

  // Logs: the answer is short; the lines come as a message.
  auto l =
    api(*world().main, "POST", "/agents/executions/" + id + "/logs",
        R"({"level":"ERROR","message":"compiler exploded"})", hana.who.token);
  BOOST_REQUIRE_EQUAL(l.status, 201);
  r = press(bot, hana.chat, "logs:" + id);
  BOOST_TEST(contains(r.text, "Logs sent to the chat"));
  auto logs = wait_sent(hana.chat, "[ERROR] compiler exploded");
  BOOST_TEST(logs.has_value());

  // Retry: a new pending execution retrying this one; Ken cannot.
  r = press(bot, ken.chat, "retry:" + id);
  BOOST_TEST(retries_of(hana, id).empty());
  r = press(bot, hana.chat, "retry:" + id);
  auto retries = retries_of(hana, id);
  BOOST_REQUIRE_EQUAL(retries.size(), 1u);
  BOOST_TEST(contains(r.text, "Queued a retry of " + short8(id)));

  // Completed with a pull request: an Open PR link. Hana now writes in
  // English, so the notice is English.
  say(bot, hana.chat, "/help", "en");
  auto done = execute(hana, 22);
  patch_status(hana, done, R"({"status":"running"})");
  patch_status(hana, done, R"({"status":"completed","pr_number":55})");
  auto completed = wait_sent(hana.chat, "is now completed");
  BOOST_REQUIRE_MESSAGE(completed, "no completed notice");
  BOOST_TEST(contains(completed->text, "Pull request: #55"));
  BOOST_REQUIRE_EQUAL(completed->buttons.size(), 1u);
  BOOST_TEST(completed->buttons[0].first == "Open PR");
  BOOST_TEST(completed->buttons[0].second ==
             "url https://github.com/octo-org/loop-buttons/pull/55");
  // A failure in English: Retry and Logs.
  auto failing = execute(hana, 23);
  patch_status(hana, failing, R"({"status":"running"})");
  patch_status(hana, failing,
               R"({"status":"failed","error_message":"tests broke"})");
  auto failed = wait_sent(hana.chat, "is now failed");
  BOOST_REQUIRE_MESSAGE(failed, "no failed notice");
  BOOST_TEST(contains(failed->text, "Error: tests broke"));
  BOOST_REQUIRE_EQUAL(failed->buttons.size(), 2u);
  BOOST_TEST(failed->buttons[0].first == "Retry");
  BOOST_TEST(failed->buttons[1].first == "Logs");
  // Ken's chat saw none of Hana's notices.
  for (const auto& m : sent_to(ken.chat))
    BOOST_TEST(!contains(m.text, "loop-buttons #"), m.text);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(issues_from_chat)

BOOST_AUTO_TEST_CASE(
  an_issue_from_chat_becomes_a_pending_execution_that_a_worker_can_claim) {
  auto& svc = *world().main;
  const auto repository = gh_owner + "/" + gh_repo; // where /issue writes
  auto mei = link_user("loop-mei", 8301, repository);
  auto bot = main_bot();

  auto r = say(bot, mei.chat, "/issue codegen: Speed up the login page");
  expect_message(r, mei.chat, {"Creating the issue in " + repository},
                 "/issue codegen:");
  auto done = wait_sent(mei.chat, "Created issue #42");
  BOOST_REQUIRE_MESSAGE(done, "no result message");
  BOOST_TEST(contains(done->text, "Queued a codegen agent for it"));
  // GitHub got the title without the agent prefix.
  BOOST_TEST(issues_titled("Speed up the login page").size() == 1u);

  // A worker token for codegen claims it.
  auto token =
    api(svc, "POST", "/workers/tokens",
        R"({"name":"loop-worker","agent_types":["codegen"]})", mei.who.token);
  BOOST_REQUIRE_MESSAGE(token.status == 201, token.body);
  auto worker = str(parse_object(token.body), "token");
  auto claim = api(svc, "POST", "/agents/executions/claim", "{}", worker);
  BOOST_REQUIRE_MESSAGE(claim.status == 200, claim.body);
  auto claimed = parse_object(claim.body);
  BOOST_TEST(str(claimed, "agent_type") == "codegen");
  BOOST_TEST(int_of(claimed, "issue_number") == 42);
  BOOST_TEST(str(claimed, "repository_id") == mei.repository_id);
  BOOST_TEST(contains(done->text, short8(str(claimed, "id"))));

  // The same agent again while that one runs: not twice.
  say(bot, mei.chat, "/issue codegen: Speed up the login page again", "ja");
  auto already = wait_sent(mei.chat, "すでに登録されています");
  BOOST_TEST(already.has_value());
  // No agent named: the `issue` agent.
  say(bot, mei.chat, "/issue Plain title");
  BOOST_TEST(eventually(
    [&] {
      return query_int(w_db(), "SELECT count(*) FROM agent_executions WHERE "
                               "user_id = '" +
                                 mei.who.id +
                                 "' AND agent_type = 'issue' AND "
                                 "issue_number = 42 AND status = 'pending'") ==
             1;
    },
    15s));
  // "Bug: ..." is a title, not an agent.
  say(bot, mei.chat, "/issue Bug: the footer overlaps");
  BOOST_TEST(eventually(
    [&] { return issues_titled("Bug: the footer overlaps").size() == 1u; },
    15s));

  // The LLM path queues the drafted agent for another registered user.
  auto ren = link_user("loop-ren", 8302, repository);
  say(bot, ren.chat, "please add dark mode [ok:loop]", "ja");
  auto drafted = wait_sent(ren.chat, "エージェントの実行を登録しました");
  BOOST_REQUIRE_MESSAGE(drafted, "no LLM result for ren");
  BOOST_TEST(query_int(w_db(), "SELECT count(*) FROM agent_executions WHERE "
                               "user_id = '" +
                                 ren.who.id +
                                 "' AND agent_type = 'codegen' AND "
                                 "issue_number = 42") == 1);

  // A linked user who did not register the repository: told how.
  auto sora = link_user("loop-sora", 8303, "");
  say(bot, sora.chat, "/issue Fix the typo");
  auto unregistered = wait_sent(sora.chat, "Register " + repository);
  BOOST_TEST(unregistered.has_value());
  BOOST_TEST(query_int(w_db(), "SELECT count(*) FROM agent_executions WHERE "
                               "user_id = '" +
                                 sora.who.id + "'") == 0);
  // A chat allowed by AUTHORIZED_CHAT_IDS but linked to nobody: the issue,
  // no execution and no hint.
  say(bot, authorized(33), "/issue Authorized only");
  auto plain = wait_sent(authorized(33), "Created issue #42");
  BOOST_REQUIRE(plain.has_value());
  BOOST_TEST(!contains(plain->text, "Queued"));
  BOOST_TEST(!contains(plain->text, "Register"));
}

BOOST_AUTO_TEST_CASE(the_per_chat_issue_limit_holds_across_two_processes) {
  auto& w = world();
  auto db = create_database();
  auto env = w.main_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "3";
  env["LOG_LEVEL"] = "info";
  env["TELEGRAM_ISSUES_PER_HOUR"] = "3";
  service_process a{env};
  service_process b{env};
  const int64_t chat = authorized(40);

  // Six requests at once, three on each process: three get through.
  start_gate gate;
  std::vector<bot_reply> replies(6);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < replies.size(); ++i)
    threads.emplace_back([&, i] {
      bot_client bot{i % 2 == 0 ? a : b, webhook_secret};
      auto body = message_update(next_update(), chat,
                                 "/issue limit title " + std::to_string(i));
      gate.wait();
      replies[i] = to_reply(bot.post(body));
    });
  gate.open();
  for (auto& t : threads)
    t.join();
  int accepted = 0, refused = 0;
  for (const auto& r : replies) {
    BOOST_TEST(r.status == 200, r.body);
    if (contains(r.text, "Creating the issue"))
      ++accepted;
    else if (contains(r.text, "may create 3 issues per hour"))
      ++refused;
  }
  BOOST_TEST(accepted == 3);
  BOOST_TEST(refused == 3);
  // Later ones too, whichever process, and the LLM is not called for them.
  bot_client on_b{b, webhook_secret};
  auto r = say(on_b, chat, "/issue one more", "ja");
  BOOST_TEST(contains(r.text, "1時間に 3 件まで"), r.text);
  bot_client on_a{a, webhook_secret};
  r = say(on_a, chat, "write an issue [ok:overlimit]");
  BOOST_TEST(contains(r.text, "may create 3 issues per hour"), r.text);
  BOOST_TEST(llm_calls_with("[ok:overlimit]").empty());
  BOOST_TEST(query_int(db, "SELECT count(*) FROM telegram_issue_requests") ==
             3);
  BOOST_TEST(query_int(db, "SELECT count(*) FROM telegram_outbox WHERE "
                           "kind = 'create_issue'") == 3);
  auto limited = [](service_process& p) {
    return metric(p, R"(miyabi_rate_limited_total{limit="telegram_issues"})");
  };
  BOOST_TEST(limited(a) + limited(b) == 5);
  // Another chat has its own budget.
  r = say(on_a, authorized(41), "/issue another chat");
  BOOST_TEST(contains(r.text, "Creating the issue"), r.text);
  // An hour later the budget is back (the clock moved in the database).
  exec_sql(db, "UPDATE telegram_issue_requests SET requested_at = "
               "requested_at - interval '61 minutes'");
  r = say(on_b, chat, "/issue after an hour");
  BOOST_TEST(contains(r.text, "Creating the issue"), r.text);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(set_webhook)

BOOST_AUTO_TEST_CASE(set_webhook_is_called_at_start_and_retried_after_a_500) {
  std::atomic<int> calls{0};
  const std::string path = "/bot" + bot_token + "/setWebhook";
  fake_http_server telegram{[&](const fake_request& req) {
    if (req.path() != path)
      return fake_response::json(404, R"({"ok":false})");
    if (calls++ == 0)
      return fake_response::json(
        500, R"({"ok":false,"error_code":500,"description":"Internal"})");
    return fake_response::json(
      200, R"({"ok":true,"result":true,"description":"Webhook was set"})");
  }};
  auto env = base_env();
  env["TELEGRAM_API_URL"] = telegram.url();
  env["TELEGRAM_BOT_TOKEN"] = bot_token;
  env["TELEGRAM_WEBHOOK_SECRET"] = webhook_secret;
  env["TELEGRAM_WEBHOOK_URL"] =
    "https://miyabi.example/api/v1/telegram/webhook";
  service_process svc{env}; // telegram-only mode: it works there too

  BOOST_REQUIRE(telegram.wait_for_requests(path, 2, 15s));
  auto seen = telegram.requests_to(path);
  auto gap = ms_between(seen[0].at, seen[1].at);
  BOOST_TEST_MESSAGE("setWebhook retried after " << gap << " ms");
  BOOST_TEST(gap >= 900);
  for (const auto& req : seen) {
    auto body = parse_object(req.body);
    BOOST_TEST(str(body, "url") ==
               "https://miyabi.example/api/v1/telegram/webhook");
    BOOST_TEST(str(body, "secret_token") == webhook_secret);
    BOOST_REQUIRE(body.HasMember("allowed_updates"));
    std::vector<std::string> kinds;
    for (const auto& k : body["allowed_updates"].GetArray())
      kinds.emplace_back(k.GetString());
    BOOST_TEST(
      (kinds == std::vector<std::string>{"message", "callback_query"}));
  }
  BOOST_TEST(svc.wait_for_line(
    [](const std::string& l) {
      return contains(l, "Telegram webhook registered");
    },
    5s));
  BOOST_TEST(health_status(svc) == 200);
  // Accepted once: no further calls.
  BOOST_TEST(!telegram.wait_for_requests(path, 3, 1500ms));
  bool warned = false;
  for (const auto& line : svc.lines()) {
    BOOST_TEST(!contains(line, bot_token), "token in a log line");
    BOOST_TEST(!contains(line, webhook_secret), "secret in a log line");
    warned = warned || contains(line, "setWebhook failed");
  }
  BOOST_TEST(warned);
}

BOOST_AUTO_TEST_SUITE_END()
