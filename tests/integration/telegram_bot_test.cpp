// The bot end to end: commands, issue creation through GitHub and the LLM,
// the outbox sender, execution notifications, then the bot metrics and the
// bot token kept out of logs and answers — these last two read what the
// earlier suites of this file made the service do, so they stay last
// (helpers and fakes: telegram_world.hpp).
#define BOOST_TEST_MODULE telegram_bot_test
#include <boost/test/unit_test.hpp>

#include "integration/telegram_world.hpp"

using namespace miyabi::test::telegram_world;

// =============================================================================

BOOST_AUTO_TEST_SUITE(commands)

BOOST_AUTO_TEST_CASE(every_command_answers_in_english_and_in_japanese) {
  auto& w = world();
  auto& svc = *w.main;

  // Executions first, so /status has numbers to show: 2 pending, 1 running.
  auto owner = sign_in(svc, "status-user");
  auto repo = api(svc, "POST", "/repositories",
                  R"({"full_name":"status-org/status-repo"})", owner.token);
  BOOST_REQUIRE_MESSAGE(repo.status == 201, repo.body);
  auto repo_id = str(parse_object(repo.body), "id");
  for (int issue = 1; issue <= 3; ++issue) {
    auto e = api(svc, "POST", "/agents/execute",
                 R"({"repository_id":")" + repo_id + R"(","issue_number":)" +
                   std::to_string(issue) + R"(,"agent_type":"codegen"})",
                 owner.token);
    BOOST_REQUIRE_MESSAGE(e.status == 202, e.body);
  }
  auto claimed =
    api(svc, "POST", "/agents/executions/claim", "{}", owner.token);
  BOOST_REQUIRE_MESSAGE(claimed.status == 200, claimed.body);
  auto pending = query_int(w.main_db, "SELECT count(*) FROM agent_executions "
                                      "WHERE status = 'pending'");
  auto running = query_int(w.main_db, "SELECT count(*) FROM agent_executions "
                                      "WHERE status = 'running'");
  BOOST_TEST(pending >= 2);
  BOOST_TEST(running >= 1);
  http_client hc;
  auto health = hc.get(svc.base_url() + "/api/v1/health");
  auto version = str(parse_object(health.body), "version");
  BOOST_REQUIRE(!version.empty());

  auto bot = main_bot();
  const auto chat = authorized(5);
  for (const std::string lang : {"en", "", "ja"}) {
    bool ja = lang == "ja";
    auto check = [&](const bot_reply& r, int64_t to,
                     const std::vector<std::string>& en_parts,
                     const std::vector<std::string>& ja_parts,
                     const std::string& what) {
      auto label = what + " [" + (lang.empty() ? "no language" : lang) + "]";
      expect_message(r, to, ja ? ja_parts : en_parts, label);
      if (ja)
        BOOST_CHECK_MESSAGE(!is_ascii(r.text), label << ": no Japanese text");
      else
        BOOST_CHECK_MESSAGE(is_ascii(r.text),
                            label << ": not English: " << r.text);
    };

    // /getid: anyone, also an unauthorized chat.
    check(say(bot, stranger(3), "/getid", lang), stranger(3),
          {"Chat ID: 9003", "Name: Taro Yamada", "Username: @taro"},
          {"チャットID: 9003", "名前: Taro Yamada", "ユーザー名: @taro"},
          "/getid");
    check(say(bot, chat, "/start", lang), chat,
          {"Welcome to Miyabi", "/getid", "/issue"},
          {"Miyabi へようこそ", "/getid", "/issue"}, "/start");
    check(say(bot, group_chat, "/start@MiyabiBot", lang), group_chat,
          {"Welcome to Miyabi"}, {"Miyabi へようこそ"}, "/start@MiyabiBot");
    check(say(bot, chat, "/help", lang), chat,
          {"Commands:", "/getid", "/status", "/issue", "/link", "/help"},
          {"コマンド:", "/getid", "/status", "/issue", "/link", "/help"},
          "/help");
    check(say(bot, chat, "/help@MiyabiBot", lang), chat, {"Commands:"},
          {"コマンド:"}, "/help@MiyabiBot");
    check(
      say(bot, chat, "/status", lang), chat,
      {"Miyabi status", "Version: " + version, "Mode: full",
       "Database: connected", "Pending executions: " + std::to_string(pending),
       "Running executions: " + std::to_string(running)},
      {"Miyabi の状態", "バージョン: " + version, "モード: full",
       "データベース: connected", "待機中の実行: " + std::to_string(pending),
       "実行中: " + std::to_string(running)},
      "/status");
    check(say(bot, chat, "/frobnicate now", lang), chat,
          {"Unknown command /frobnicate", "/help"},
          {"不明なコマンドです: /frobnicate", "/help"}, "unknown command");

    auto cb_id = "cbq-" + std::to_string(next_update());
    auto r =
      to_reply(bot.post(callback_update(next_update(), chat, cb_id, lang)));
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.method == "answerCallbackQuery");
    BOOST_TEST(r.callback_id == cb_id);
  }

  // The same commands without a database (telegram-only mode).
  bot_client solo{w.solo()};
  auto r = say(solo, chat, "/status");
  expect_message(
    r, chat,
    {"Version: " + version, "Mode: telegram-only", "Database: disabled"},
    "/status telegram-only");
  r = say(solo, chat, "/status", "ja");
  expect_message(r, chat, {"モード: telegram-only", "データベース: disabled"},
                 "/status telegram-only ja");
  r = say(solo, stranger(3), "/getid", "ja");
  expect_message(r, stranger(3), {"チャットID: 9003"}, "/getid telegram-only");
}

BOOST_AUTO_TEST_CASE(
  an_unauthorized_chat_is_pointed_to_getid_and_nothing_else_happens) {
  auto& w = world();
  auto bot = main_bot();
  const auto chat = stranger(4);
  const auto llm_before = w.llm.requests().size();
  for (const std::string lang : {"en", "ja"}) {
    for (const std::string text : {"/start", "/help", "/status", "/frobnicate",
                                   "/issue Should not exist 9004\nbody",
                                   "hello, please build a thing "
                                   "[ok:stranger]"}) {
      auto r = say(bot, chat, text, lang);
      if (lang == "ja")
        expect_message(r, chat, {"ボットを使えません", "/getid"},
                       "unauthorized ja " + text);
      else
        expect_message(r, chat, {"may not use the bot", "/getid"},
                       "unauthorized " + text);
    }
  }
  // Nothing was queued in the update's transaction ...
  BOOST_TEST(outbox_rows(w.main_db, chat) == 0);
  BOOST_TEST(query_int(w.main_db,
                       "SELECT count(*) FROM telegram_chats WHERE chat_id = " +
                         std::to_string(chat)) == 0);
  // ... so nothing reaches GitHub, the LLM or the chat later (two sender
  // ticks are enough for a queued task to start).
  std::this_thread::sleep_for(1200ms);
  BOOST_TEST(issues_titled("Should not exist 9004").empty());
  BOOST_TEST(llm_calls_with("[ok:stranger]").empty());
  BOOST_TEST(w.llm.requests().size() == llm_before);
  BOOST_TEST(deliveries(chat).empty());
}

BOOST_AUTO_TEST_CASE(linking_a_chat_with_a_code_authorizes_it_until_unlinked) {
  auto& w = world();
  auto& svc = *w.main;
  auto bot = main_bot();

  // The link routes need a token.
  BOOST_TEST(api(svc, "POST", "/telegram/link").status == 401);
  BOOST_TEST(api(svc, "DELETE", "/telegram/link").status == 401);
  BOOST_TEST(api(svc, "POST", "/telegram/link", {}, "not-a-jwt").status == 401);

  auto a = sign_in(svc, "linker-a");
  BOOST_REQUIRE_EQUAL(a.login, "linker-a");
  auto created = api(svc, "POST", "/telegram/link", {}, a.token);
  BOOST_REQUIRE_EQUAL(created.status, 201);
  auto doc = parse_object(created.body);
  auto code = str(doc, "code");
  BOOST_TEST(code.size() >= 6);
  BOOST_TEST(!str(doc, "expires_at").empty());
  // Stored hashed, never as typed.
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_link_codes "
                                  "WHERE code_hash = '" +
                                    code + "'") == 0);

  const auto chat = stranger(5);
  expect_message(say(bot, chat, "/status"), chat, {"/getid"}, "before linking");
  expect_message(say(bot, chat, "/link"), chat, {"/link"}, "/link alone");

  // Lower case, with a space inside: still the code.
  std::string typed = code;
  std::transform(typed.begin(), typed.end(), typed.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  typed.insert(typed.size() / 2, " ");
  expect_message(say(bot, chat, "/link " + typed), chat,
                 {"Linked this chat to linker-a"}, "/link");
  BOOST_TEST(
    query_text(w.main_db, "SELECT user_id::text FROM telegram_chats WHERE "
                          "chat_id = " +
                            std::to_string(chat)) == a.id);
  expect_message(say(bot, chat, "/status"), chat, {"Miyabi status"},
                 "linked /status");

  // Single use.
  const auto other = stranger(6);
  expect_message(say(bot, other, "/link " + code), other,
                 {"unknown, used or expired"}, "second use");
  expect_message(say(bot, other, "/status"), other, {"may not use the bot"},
                 "after a used code");

  // Expired.
  auto late = new_link_code(svc, a);
  exec_sql(w.main_db, "UPDATE telegram_link_codes SET expires_at = now() - "
                      "interval '1 minute' WHERE user_id = '" +
                        a.id + "'");
  const auto third = stranger(7);
  expect_message(say(bot, third, "/link " + late), third,
                 {"unknown, used or expired"}, "expired code");
  expect_message(say(bot, third, "/status"), third, {"may not use the bot"},
                 "after an expired code");
  expect_message(say(bot, third, "/link NOPE2345", "ja"), third,
                 {"そのコードは無効"}, "unknown code ja");

  // Japanese confirmation.
  auto ja_code = new_link_code(svc, a);
  const auto fourth = stranger(8);
  expect_message(say(bot, fourth, "/link " + ja_code, "ja"), fourth,
                 {"このチャットを連携しました: linker-a"}, "/link ja");

  // Unlinking: 204, and both chats are strangers again.
  auto unlinked = api(svc, "DELETE", "/telegram/link", {}, a.token);
  BOOST_TEST(unlinked.status == 204);
  BOOST_TEST(query_int(w.main_db,
                       "SELECT count(*) FROM telegram_chats WHERE user_id = '" +
                         a.id + "'") == 0);
  expect_message(say(bot, chat, "/status"), chat, {"may not use the bot"},
                 "after unlinking");
  expect_message(say(bot, fourth, "/help"), fourth, {"may not use the bot"},
                 "after unlinking (second chat)");
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(issues)

BOOST_AUTO_TEST_CASE(
  an_issue_command_creates_exactly_one_github_issue_and_reports_its_url) {
  auto& w = world();
  auto bot = main_bot();
  const auto chat = authorized(6);

  auto r = say(bot, chat, "/issue Fix login\nSteps:\n1. open");
  expect_message(r, chat, {"Creating the issue in " + gh_owner + "/" + gh_repo},
                 "/issue");
  BOOST_REQUIRE(
    eventually([] { return !issues_titled("Fix login").empty(); }, 10s));
  BOOST_REQUIRE(wait_deliveries(chat, 1, 10s));
  auto created = issues_titled("Fix login");
  BOOST_TEST(created.size() == 1u);
  const auto& req = created.front();
  BOOST_TEST(req.method == "POST");
  BOOST_TEST(req.path() == issues_path);
  BOOST_TEST(req.header("Authorization") == "Bearer " + github_token);
  BOOST_TEST(contains(req.header("Accept"), "application/vnd.github+json"));
  auto body = str(parse_object(req.body), "body");
  BOOST_TEST(contains(body, "Steps:"));
  BOOST_TEST(contains(body, "1. open"));

  auto got = deliveries(chat);
  BOOST_TEST(got.size() == 1u);
  BOOST_TEST(contains(got[0].text, issue_url), got[0].text);
  BOOST_TEST(contains(got[0].text, "#42"));
  BOOST_TEST(contains(got[0].content_type, "application/json"));
  BOOST_TEST(outbox_rows(w.main_db, chat, "kind = 'create_issue'") == 1);
  BOOST_TEST(eventually(
    [&] { return outbox_rows(w.main_db, chat, "state = 'sent'") == 2; }, 5s));

  // Japanese, and a title-less /issue.
  const auto ja_chat = authorized(7);
  expect_message(say(bot, ja_chat, "/issue ログインを直す", "ja"), ja_chat,
                 {"Issue を作成しています"}, "/issue ja");
  BOOST_REQUIRE(wait_deliveries(ja_chat, 1, 10s));
  BOOST_TEST(contains(deliveries(ja_chat)[0].text, "Issue を作成しました #42"));
  BOOST_TEST(issues_titled("ログインを直す").size() == 1u);
  expect_message(say(bot, ja_chat, "/issue"), ja_chat, {"Usage: /issue"},
                 "/issue without a title");

  // GitHub refusing: the chat hears it.
  const auto refused_chat = authorized(8);
  say(bot, refused_chat, "/issue GitHub says no");
  BOOST_REQUIRE(wait_deliveries(refused_chat, 1, 10s));
  BOOST_TEST(contains(deliveries(refused_chat)[0].text,
                      "could not be created: GitHub answered 422"));

  // Without GITHUB_TOKEN: "not configured", nothing queued, nothing sent.
  bot_client bare{*w.tokenless};
  const auto bare_chat = authorized(31);
  const auto github_before = w.github.requests().size();
  expect_message(say(bare, bare_chat, "/issue Unconfigured issue"), bare_chat,
                 {"not configured", "GITHUB_TOKEN"}, "/issue without token");
  expect_message(say(bare, bare_chat, "/issue Unconfigured issue", "ja"),
                 bare_chat, {"設定されていません"}, "/issue without token ja");
  BOOST_TEST(outbox_rows(w.restart_db, bare_chat) == 0);

  // Telegram-only mode: done inline, the URL is in the webhook reply.
  bot_client solo{w.solo()};
  const auto solo_chat = authorized(33);
  r = say(solo, solo_chat, "/issue Inline issue\nDetails here");
  expect_message(r, solo_chat, {"Created issue #42", issue_url},
                 "/issue telegram-only");
  auto inline_issue = issues_titled("Inline issue");
  BOOST_TEST(inline_issue.size() == 1u);
  if (!inline_issue.empty()) {
    BOOST_TEST(str(parse_object(inline_issue[0].body), "body") ==
               "Details here");
    BOOST_TEST(inline_issue[0].header("Authorization") ==
               "Bearer " + github_token);
  }
  BOOST_TEST(issues_titled("Unconfigured issue").empty());
  BOOST_TEST(w.github.requests().size() == github_before + 1);
}

BOOST_AUTO_TEST_CASE(
  plain_text_becomes_an_issue_through_the_llm_and_bad_answers_fail_politely) {
  auto& w = world();
  auto bot = main_bot();

  // A usable draft.
  const auto chat = authorized(10);
  auto r = say(bot, chat, "Dark mode please, my eyes hurt [ok:main]");
  expect_message(r, chat, {"Writing an issue from your message"}, "plain text");
  BOOST_REQUIRE(eventually(
    [] { return !issues_titled("Add dark mode main").empty(); }, 10s));
  auto calls = llm_calls_with("[ok:main]");
  BOOST_REQUIRE_EQUAL(calls.size(), 1u);
  BOOST_TEST(calls[0].method == "POST");
  BOOST_TEST(calls[0].path() == "/v1/chat/completions");
  BOOST_TEST(calls[0].header("Authorization") == "Bearer " + openai_key);
  auto call = parse_object(calls[0].body);
  BOOST_TEST(str(call, "model") == llm_model);
  bool user_message = false;
  if (call.IsObject() && call.HasMember("messages") &&
      call["messages"].IsArray())
    for (const auto& m : call["messages"].GetArray())
      user_message =
        user_message || (str(m, "role") == "user" &&
                         contains(str(m, "content"), "Dark mode please"));
  BOOST_TEST(user_message);

  auto issue = issues_titled("Add dark mode main");
  BOOST_TEST(issue.size() == 1u);
  auto idoc = parse_object(issue[0].body);
  BOOST_TEST(str(idoc, "body") == "Users want a dark theme.");
  std::vector<std::string> labels;
  if (idoc.HasMember("labels") && idoc["labels"].IsArray())
    for (const auto& l : idoc["labels"].GetArray())
      if (l.IsString())
        labels.emplace_back(l.GetString());
  BOOST_TEST(std::count(labels.begin(), labels.end(), "enhancement") == 1);
  BOOST_TEST(std::count(labels.begin(), labels.end(), "agent:codegen") == 1);
  BOOST_TEST(issue[0].header("Authorization") == "Bearer " + github_token);
  BOOST_REQUIRE(wait_deliveries(chat, 1, 10s));
  BOOST_TEST(contains(deliveries(chat)[0].text, issue_url));

  // Each bad answer: a polite message to the chat, no issue, never a 5xx.
  struct bad_case {
    std::string marker;
    int64_t chat;
    std::string lang;
    std::string expected;
  };
  const std::vector<bad_case> bad = {
    {"[notjson]", authorized(11), "en", "not a usable issue"},
    {"[notitle]", authorized(12), "en", "not a usable issue"},
    {"[badagent]", authorized(13), "en", "not a usable issue"},
    {"[500]", authorized(14), "en", "not a usable issue"},
    {"[slow]", authorized(15), "en", "did not answer in time"},
    {"[garbage]", authorized(16), "en", "not a usable issue"},
    {"[deep]", authorized(19), "en", "not a usable issue"},
    {"[notjson]", authorized(17), "ja", "申し訳ありません"},
  };
  const auto issues_before = w.github.requests_to(issues_path).size();
  for (const auto& b : bad) {
    auto reply =
      say(bot, b.chat, "Please turn this into an issue " + b.marker, b.lang);
    BOOST_TEST(reply.status == 200);
    expect_message(reply, b.chat,
                   {b.lang == "ja" ? "メッセージから Issue を作成しています"
                                   : "Writing an issue"},
                   "plain text " + b.marker);
  }
  for (const auto& b : bad) {
    BOOST_REQUIRE_MESSAGE(wait_deliveries(b.chat, 1, 10s),
                          b.marker << ": the chat heard nothing");
    auto text = deliveries(b.chat)[0].text;
    BOOST_TEST(contains(text, b.lang == "ja"
                                ? "Issue を作成できませんでした"
                                : "Sorry, the issue could not be created"),
               b.marker << ": " << text);
    BOOST_TEST(contains(text, b.expected), b.marker << ": " << text);
    BOOST_TEST(!llm_calls_with(b.marker).empty());
  }
  // The slow answer arrives after the service gave up: still no issue.
  auto slow = llm_calls_with("[slow]");
  BOOST_REQUIRE(!slow.empty());
  std::this_thread::sleep_until(slow.back().at + 2500ms + 700ms);
  BOOST_TEST(w.github.requests_to(issues_path).size() == issues_before);
  BOOST_TEST(issues_titled("Bad agent title").empty());
  BOOST_TEST(issues_titled("Slow title").empty());

  // Telegram-only mode: the same, inline in the webhook reply.
  bot_client solo{w.solo()};
  const auto solo_chat = authorized(18);
  r = say(solo, solo_chat, "Inline dark mode [ok:solo]");
  expect_message(r, solo_chat, {"Created issue #42", issue_url},
                 "telegram-only plain text");
  BOOST_TEST(issues_titled("Add dark mode solo").size() == 1u);
  const auto solo_issues = w.github.requests_to(issues_path).size();
  for (const std::string marker :
       {"[notjson]", "[500]", "[badagent]", "[deep]"}) {
    r = say(solo, solo_chat, "inline " + marker);
    expect_message(r, solo_chat, {"Sorry, the issue could not be created"},
                   "telegram-only " + marker);
  }
  auto t0 = steady::now();
  r = say(solo, solo_chat, "inline [slow]");
  auto waited = ms_between(t0, steady::now());
  expect_message(r, solo_chat, {"Sorry", "did not answer in time"},
                 "telegram-only [slow]");
  BOOST_TEST(waited < 2400,
             "the slow LLM held the webhook " << waited << " ms");
  auto inline_slow = llm_calls_with("inline [slow]");
  BOOST_REQUIRE(!inline_slow.empty());
  std::this_thread::sleep_until(inline_slow.back().at + 2500ms + 500ms);
  BOOST_TEST(w.github.requests_to(issues_path).size() == solo_issues);

  // Without OPENAI_API_KEY: a hint to use /issue, no LLM call.
  bot_client bare{*w.tokenless};
  const auto bare_chat = authorized(32);
  expect_message(say(bare, bare_chat, "make an issue about caching [ok:bare]"),
                 bare_chat, {"/issue TITLE"}, "hint without an LLM");
  expect_message(say(bare, bare_chat, "キャッシュの issue [ok:bare]", "ja"),
                 bare_chat, {"Issue を作るには /issue"},
                 "hint without an LLM ja");
  BOOST_TEST(llm_calls_with("[ok:bare]").empty());
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(outbox)

BOOST_AUTO_TEST_CASE(
  without_a_bot_token_queued_rows_stay_pending_and_a_warning_names_it) {
  auto& w = world();
  auto& svc = *w.tokenless;
  // The first gauge refresh after the rows were queued warns (every 5 s).
  std::string warning;
  BOOST_TEST(svc.wait_for_line(
    [&](const std::string& l) {
      if (!contains(l, "\"WARNING\"") || !contains(l, "TELEGRAM_BOT_TOKEN"))
        return false;
      warning = l;
      return true;
    },
    12s));
  BOOST_TEST_MESSAGE("token-less warning: " << warning);
  BOOST_TEST(
    remembered_metric(svc, R"(miyabi_telegram_outbox{state="pending"})") == 3);
  // The first reply needs no token: it rides in the webhook answer.
  bot_client bot{svc};
  expect_message(say(bot, authorized(30), "/help"), authorized(30),
                 {"Commands:"}, "reply without a token");
  // Without a token the sender leaves message rows alone: still due, no
  // attempt counted, so they go out as soon as a token is there.
  BOOST_TEST(query_int(w.restart_db,
                       "SELECT count(*) FROM telegram_outbox WHERE state = "
                       "'pending' AND attempts = 0 AND next_attempt_at <= "
                       "now()") == 3);
  BOOST_TEST(deliveries(restart_chat_a).empty());
  BOOST_TEST(deliveries(restart_chat_b).empty());
  BOOST_TEST(w.telegram.requests_to("/bot/").empty()); // no token-less calls

  svc.signal(SIGTERM);
  BOOST_TEST(svc.wait_exit(15s).value_or(-1) == 0);
  BOOST_TEST(query_int(w.restart_db, "SELECT count(*) FROM telegram_outbox "
                                     "WHERE state = 'pending'") == 3);
}

BOOST_AUTO_TEST_CASE(split_message_keeps_every_part_within_4096_characters) {
  // Unit-style: the splitting storage::enqueue_message uses.
  std::string text;
  for (int i = 0; characters(text) < 10000; ++i)
    text += "行" + std::to_string(i) + ": 雅 miyabi テキスト line\n";
  auto parts = miyabi::storage::split_message(text);
  BOOST_TEST(parts.size() == 3u);
  std::string joined;
  for (const auto& p : parts) {
    BOOST_TEST(characters(p) <= 4096u);
    BOOST_TEST((static_cast<unsigned char>(p.front()) & 0xC0) != 0x80);
    BOOST_TEST(p.back() == '\n'); // broken after a full line
    joined += p;
  }
  BOOST_TEST(joined == text);
  // One long line: cut at exactly 4096 characters, never inside a sequence.
  std::string line;
  for (int i = 0; i < 10000; ++i)
    line += i % 3 == 0 ? "雅" : "a";
  parts = miyabi::storage::split_message(line);
  BOOST_REQUIRE_EQUAL(parts.size(), 3u);
  BOOST_TEST(characters(parts[0]) == 4096u);
  BOOST_TEST(characters(parts[1]) == 4096u);
  BOOST_TEST(characters(parts[2]) == 10000u - 8192u);
  BOOST_TEST(parts[0] + parts[1] + parts[2] == line);
  // Emoji beyond U+FFFF count two UTF-16 units, as Telegram counts them.
  std::string emoji;
  for (int i = 0; i < 5000; ++i)
    emoji += "\xF0\x9F\x98\x80"; // U+1F600
  emoji = "a" + emoji;
  parts = miyabi::storage::split_message(emoji);
  BOOST_REQUIRE_EQUAL(parts.size(), 3u);
  BOOST_TEST(characters(parts[0]) == 1u + 2047u); // 4095 units: no room for 2
  BOOST_TEST(characters(parts[1]) == 2048u);
  BOOST_TEST(parts[0] + parts[1] + parts[2] == emoji);
}

BOOST_AUTO_TEST_CASE(the_outbox_paces_each_chat_and_retries_as_telegram_asks) {
  auto& w = world();
  constexpr int64_t paced = 8001, throttled = 8002, blocked = 8003,
                    flaky = 8004, dropped = 8005;
  script_answers(
    throttled,
    {fake_response::json(
      429, R"({"ok":false,"error_code":429,"description":"Too Many )"
           R"(Requests: retry after 2","parameters":{"retry_after":2}})")});
  script_answers(
    blocked, {fake_response::json(403, R"({"ok":false,"error_code":403,)"
                                       R"("description":"Forbidden: bot was )"
                                       R"(blocked by the user"})")});
  script_answers(flaky,
                 {fake_response::json(500, R"({"ok":false,"error_code":500,)"
                                           R"("description":"Internal"})")});
  fake_response drop;
  drop.drop = true;
  script_answers(dropped, {drop});

  // A 10 000-character message, split by the service (through an issue
  // result whose URL is that long).
  auto bot = main_bot();
  const auto long_chat = authorized(25);
  say(bot, long_chat, "/issue Long URL");

  auto row = [](int64_t chat, const std::string& text) {
    return "(" + std::to_string(chat) + ", '{\"text\":\"" + text + "\"}')";
  };
  exec_sql(w.main_db, "INSERT INTO telegram_outbox (chat_id, payload) VALUES " +
                        row(paced, "m1") + "," + row(throttled, "t1") + "," +
                        row(paced, "m2") + "," + row(blocked, "b1") + "," +
                        row(flaky, "f1") + "," + row(paced, "m3") + "," +
                        row(dropped, "d1"));

  // Pacing: in order, about a second apart.
  BOOST_REQUIRE(wait_deliveries(paced, 3, 15s));
  auto p = deliveries(paced);
  BOOST_TEST(p.size() == 3u);
  BOOST_TEST(p[0].text == "m1");
  BOOST_TEST(p[1].text == "m2");
  BOOST_TEST(p[2].text == "m3");
  auto gap1 = ms_between(p[0].at, p[1].at);
  auto gap2 = ms_between(p[1].at, p[2].at);
  BOOST_TEST_MESSAGE("pacing: m1->m2 " << gap1 << " ms, m2->m3 " << gap2
                                       << " ms");
  BOOST_TEST(gap1 >= 900);
  BOOST_TEST(gap2 >= 900);

  // 429 retry_after 2: the retry waits, then succeeds.
  BOOST_REQUIRE(wait_deliveries(throttled, 2, 15s));
  auto t = deliveries(throttled);
  auto retry_gap = ms_between(t[0].at, t[1].at);
  BOOST_TEST_MESSAGE("429 retry_after=2: retried after " << retry_gap << " ms");
  BOOST_TEST(retry_gap >= 1900);
  BOOST_TEST(eventually(
    [&] { return outbox_rows(w.main_db, throttled, "state = 'sent'") == 1; },
    5s));

  // 403: failed at once, never retried.
  BOOST_TEST(eventually(
    [&] { return outbox_rows(w.main_db, blocked, "state = 'failed'") == 1; },
    10s));
  BOOST_TEST(
    contains(query_text(w.main_db, "SELECT last_error FROM telegram_outbox "
                                   "WHERE chat_id = " +
                                     std::to_string(blocked)),
             "blocked"));

  // 500 and a dropped connection: retried after a backoff, then sent.
  for (auto chat : {flaky, dropped}) {
    BOOST_REQUIRE_MESSAGE(wait_deliveries(chat, 2, 15s), "chat " << chat);
    auto d = deliveries(chat);
    auto gap = ms_between(d[0].at, d[1].at);
    BOOST_TEST_MESSAGE("chat " << chat << ": retried after " << gap << " ms");
    BOOST_TEST(gap >= 900);
    BOOST_TEST(eventually(
      [&] { return outbox_rows(w.main_db, chat, "state = 'sent'") == 1; }, 5s));
  }

  // The split message: three parts of at most 4096 characters, in order,
  // paced like any other messages of the chat.
  BOOST_REQUIRE(wait_deliveries(long_chat, 3, 15s));
  auto parts = deliveries(long_chat);
  BOOST_TEST(parts.size() == 3u);
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    BOOST_TEST(characters(parts[i].text) <= 4096u);
    joined += parts[i].text;
    if (i > 0)
      BOOST_TEST(ms_between(parts[i - 1].at, parts[i].at) >= 900);
  }
  BOOST_TEST(joined == "Created issue #42: " + long_url());

  // By now every retry has happened: the 403 row was tried once.
  BOOST_TEST(deliveries(blocked).size() == 1u);
  BOOST_TEST(query_int(w.main_db, "SELECT attempts FROM telegram_outbox "
                                  "WHERE chat_id = " +
                                    std::to_string(blocked)) == 1);
}

BOOST_AUTO_TEST_CASE(
  absurd_retry_after_values_keep_the_message_pending_and_the_service_up) {
  auto& w = world();
  constexpr int64_t huge_float = 8011, huge_int = 8012, bystander = 8013;
  // 20 digits in the JSON (beyond uint64) and 40 in the header.
  auto absurd = fake_response::json(
    429, R"({"ok":false,"error_code":429,"description":"Too Many )"
         R"(Requests","parameters":{"retry_after":99999999999999999999}})");
  absurd.headers.emplace_back("Retry-After", std::string(40, '9'));
  script_answers(huge_float, {absurd});
  script_answers(
    huge_int,
    {fake_response::json(429, R"({"ok":false,"error_code":429,"parameters":)"
                              R"({"retry_after":9223372036854775807}})")});
  exec_sql(w.main_db,
           "INSERT INTO telegram_outbox (chat_id, payload) VALUES (" +
             std::to_string(huge_float) + ", '{\"text\":\"absurd 1\"}'), (" +
             std::to_string(huge_int) + ", '{\"text\":\"absurd 2\"}')");
  BOOST_REQUIRE(wait_deliveries(huge_float, 1, 15s));
  BOOST_REQUIRE(wait_deliveries(huge_int, 1, 15s));

  // Later messages of another chat still go out, and the service is up.
  exec_sql(w.main_db,
           "INSERT INTO telegram_outbox (chat_id, payload) VALUES (" +
             std::to_string(bystander) + ", '{\"text\":\"after the 429s\"}')");
  BOOST_TEST(wait_deliveries(bystander, 1, 15s));
  BOOST_TEST(health_status(*w.main) == 200);

  // The throttled messages stay pending, for at most an hour.
  for (auto chat : {huge_float, huge_int}) {
    BOOST_TEST_INFO("chat " << chat);
    BOOST_TEST(eventually(
      [&] {
        return outbox_rows(w.main_db, chat,
                           "state = 'pending' AND next_attempt_at > now() + "
                           "interval '59 minutes' AND next_attempt_at <= "
                           "now() + interval '1 hour'") == 1;
      },
      5s));
    BOOST_TEST(deliveries(chat).size() == 1u);
  }
  // No actor died of an exception on the way.
  for (const auto& line : w.main->lines())
    BOOST_TEST(!contains(line, "\"exception\""), line);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(notifications)

BOOST_AUTO_TEST_CASE(execution_status_changes_reach_the_linked_chat) {
  auto& w = world();
  auto& svc = *w.main;
  auto bot = main_bot();
  auto b = sign_in(svc, "notify-user");
  const auto chat = stranger(10);
  expect_message(say(bot, chat, "/link " + new_link_code(svc, b)), chat,
                 {"Linked this chat to notify-user"}, "/link");

  auto repo = api(svc, "POST", "/repositories",
                  R"({"full_name":"octo-org/notify-repo"})", b.token);
  BOOST_REQUIRE_MESSAGE(repo.status == 201, repo.body);
  auto repo_id = str(parse_object(repo.body), "id");
  auto execute = [&](int issue, const std::string& agent) {
    auto e =
      api(svc, "POST", "/agents/execute",
          R"({"repository_id":")" + repo_id + R"(","issue_number":)" +
            std::to_string(issue) + R"(,"agent_type":")" + agent + R"("})",
          b.token);
    BOOST_REQUIRE_MESSAGE(e.status == 202, e.body);
    return str(parse_object(e.body), "id");
  };
  auto claim = [&](const std::string& agent) {
    auto c = api(svc, "POST", "/agents/executions/claim",
                 R"({"agent_types":[")" + agent + R"("]})", b.token);
    BOOST_REQUIRE_MESSAGE(c.status == 200, c.body);
    return str(parse_object(c.body), "id");
  };

  auto first = execute(77, "review");
  BOOST_TEST(claim("review") == first);
  BOOST_REQUIRE(wait_deliveries(chat, 1, 10s));
  auto running = deliveries(chat)[0].text;
  for (const std::string part :
       {"review", "octo-org/notify-repo", "#77", "running"})
    BOOST_TEST(contains(running, part), running);

  auto done = api(svc, "PATCH", "/agents/executions/" + first,
                  R"({"status":"completed","pr_number":123})", b.token);
  BOOST_REQUIRE_MESSAGE(done.status == 200, done.body);
  BOOST_REQUIRE(wait_deliveries(chat, 2, 10s));
  auto completed = deliveries(chat)[1].text;
  for (const std::string part :
       {"review", "octo-org/notify-repo", "#77", "completed", "#123"})
    BOOST_TEST(contains(completed, part), completed);

  // A failure carries its error.
  auto second = execute(78, "deployment");
  BOOST_TEST(claim("deployment") == second);
  auto failed =
    api(svc, "PATCH", "/agents/executions/" + second,
        R"({"status":"failed","error_message":"tests broke"})", b.token);
  BOOST_REQUIRE_MESSAGE(failed.status == 200, failed.body);
  BOOST_REQUIRE(wait_deliveries(chat, 4, 10s));
  auto d = deliveries(chat);
  for (size_t i = 0; i < d.size(); ++i)
    BOOST_TEST_MESSAGE("notification " << i << " at +"
                                       << ms_between(d[0].at, d[i].at)
                                       << " ms: " << d[i].text);
  // In the order of the changes: running, then failed.
  BOOST_TEST(contains(d[2].text, "#78"));
  BOOST_TEST(contains(d[2].text, "is now running"),
             "third message out of order: " << d[2].text);
  BOOST_TEST(contains(d[3].text, "deployment"));
  BOOST_TEST(contains(d[3].text, "is now failed"),
             "fourth message out of order: " << d[3].text);
  BOOST_TEST(contains(d[3].text, "tests broke"));
  for (size_t i = 1; i < d.size(); ++i)
    BOOST_TEST(ms_between(d[i - 1].at, d[i].at) >= 900);
  // One row per change, no pending creation notice.
  BOOST_TEST(outbox_rows(w.main_db, chat) == 4);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(telegram_metrics_follow_updates_sends_and_the_outbox) {
  auto& w = world();
  auto& svc = *w.main;
  auto updates = [&](const std::string& result) {
    return remembered_metric(svc, R"(miyabi_telegram_updates_total{result=")" +
                                    result + "\"}");
  };
  auto processed = updates("processed");
  auto duplicate = updates("duplicate");
  auto rejected = updates("rejected");
  BOOST_TEST(processed > 0);

  bot_client bot{svc, webhook_secret};
  auto body = message_update(next_update(), authorized(20), "/help");
  BOOST_TEST(bot.post(body).status == 200);
  BOOST_TEST(bot.post(body).status == 200);
  BOOST_TEST(bot.post(R"({"update_id":"x"})").status == 422);
  BOOST_TEST(bot.post("{broken").status == 400);
  BOOST_TEST(bot.post(body, {{"Content-Type", "text/plain"}}).status == 415);
  BOOST_TEST(
    bot.raw("POST", body, {{"Content-Type", "application/json"}}).status ==
    401);
  BOOST_TEST(updates("processed") == processed + 1);
  BOOST_TEST(updates("duplicate") == duplicate + 1);
  BOOST_TEST(updates("rejected") == rejected + 4);

  // Sends by status code.
  auto sent_200 = std::max(
    0.0, remembered_metric(svc, R"(miyabi_telegram_send_total{code="200"})"));
  const int64_t chat = 8101;
  exec_sql(w.main_db,
           "INSERT INTO telegram_outbox (chat_id, payload) VALUES (" +
             std::to_string(chat) + ", '{\"text\":\"ping\"}')");
  BOOST_REQUIRE(wait_deliveries(chat, 1, 10s));
  BOOST_TEST(eventually(
    [&] {
      return remembered_metric(svc,
                               R"(miyabi_telegram_send_total{code="200"})") ==
             sent_200 + 1;
    },
    5s));
  for (const std::string code : {"429", "403", "500"})
    BOOST_TEST(remembered_metric(svc, R"(miyabi_telegram_send_total{code=")" +
                                        code + "\"}") >= 1,
               "code " << code);

  // The pending gauge follows the table (refreshed every ~5 s).
  const std::string pending_series =
    R"(miyabi_telegram_outbox{state="pending"})";
  auto pending_now = [&] {
    return query_int(w.main_db, "SELECT count(*) FROM telegram_outbox WHERE "
                                "state = 'pending'");
  };
  exec_sql(w.main_db,
           "INSERT INTO telegram_outbox (chat_id, payload, next_attempt_at) "
           "SELECT 8102, '{\"text\":\"later\"}', now() + interval '1 hour' "
           "FROM generate_series(1, 4)");
  BOOST_TEST(pending_now() >= 4);
  BOOST_TEST(eventually(
    [&] {
      return remembered_metric(svc, pending_series) ==
             static_cast<double>(pending_now());
    },
    12s));
  exec_sql(w.main_db, "DELETE FROM telegram_outbox WHERE chat_id = 8102");
  BOOST_TEST(eventually(
    [&] {
      return remembered_metric(svc, pending_series) ==
             static_cast<double>(pending_now());
    },
    12s));
  BOOST_TEST(remembered_metric(svc, R"(miyabi_telegram_outbox{state="sent"})") >
             0);
  BOOST_TEST(
    remembered_metric(svc, R"(miyabi_telegram_outbox{state="failed"})") >= 1);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(the_bot_token_never_appears_in_logs_or_answers) {
  auto& w = world();
  // The token was used (it is in the fake's paths) ...
  BOOST_TEST(!w.telegram.requests_to(send_path).empty());
  // ... and logs of every process of the run never show it.
  size_t lines = 0;
  bool refusal_logged = false;
  for (const auto& p : w.all) {
    for (const auto& line : p->lines()) {
      ++lines;
      refusal_logged =
        refusal_logged || contains(line, "Telegram refused a message");
      BOOST_CHECK_MESSAGE(!contains(line, bot_token),
                          "bot token in a log line of pid " << p->pid() << ": "
                                                            << line);
      for (const auto& secret : {webhook_secret, github_token, openai_key})
        BOOST_CHECK_MESSAGE(!contains(line, secret),
                            "a secret in a log line: " << line);
    }
  }
  BOOST_TEST_MESSAGE("checked " << lines << " log lines of " << w.all.size()
                                << " processes");
  BOOST_TEST(lines > 100u);
  BOOST_TEST(refusal_logged);
  std::lock_guard<std::mutex> guard{w.answers_mtx};
  for (const auto& answer : w.answers) {
    BOOST_CHECK_MESSAGE(!contains(answer, bot_token),
                        "bot token in an answer: " << answer);
    BOOST_CHECK_MESSAGE(!contains(answer, github_token) &&
                          !contains(answer, openai_key),
                        "a secret in an answer: " << answer);
  }
  BOOST_TEST(w.answers.size() > 100u);
}

BOOST_AUTO_TEST_SUITE_END()
