// The Telegram bot of api.md (issue 6) against the real binary, a real
// PostgreSQL and fake Telegram, GitHub and LLM servers: the webhook's order
// of checks, exactly-once handling across two processes (and in memory in
// telegram-only mode), every command in English and Japanese, authorization
// and the link flow, issues from /issue and from plain text through the LLM
// (and every way the LLM can fail), the durable outbox (pacing, 429
// retry_after, 403, 5xx, dropped connections, splitting, restart without and
// then with a token), execution notifications, metrics, and the bot token
// kept out of every log line and answer.
//
// Processes: one main service (full mode, every integration configured) and
// its database serve most cases; cases use chats of their own so that the
// per-chat pacing of one case never slows another. A second process on the
// same database joins only for the exactly-once race and is stopped after
// it (two senders on one database would interleave a chat's messages). A
// telegram-only process (no DATABASE_URL) answers inline. A token-less
// process on a database of its own holds queued rows back and is restarted
// with the token at the end of the run (its rows are released for 30 s, so
// the restart comes last, after that time has passed).
//
// This header holds the helpers and fakes those suites share; each test
// executable that includes it gets its own service.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "fakes/fake_http.hpp"
#include "fakes/telegram_bot_api.hpp"
#include "storage/telegram.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/threads.hpp"

namespace miyabi::test::telegram_world {

using namespace miyabi::test;
using namespace std::chrono_literals;

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// -- fixed settings -----------------------------------------------------------

inline const std::string bot_token =
  "4242424242:AAH-test_BOT-token_never_logged_9f3c";
inline const std::string webhook_secret = "webhook-secret-7Qz2xLm9pW";
inline const std::string github_token = "ghp_telegramTestIssueToken0123";
inline const std::string openai_key = "sk-test-telegram-llm-key-5555";
inline const std::string gh_owner = "miyabi-org";
inline const std::string gh_repo = "miyabi-app";
inline const std::string llm_model = "test-model-1";
inline const std::string issue_url = "https://github.com/o/r/issues/42";
inline const std::string send_path = "/bot" + bot_token + "/sendMessage";
inline const std::string issues_path =
  "/repos/" + gh_owner + "/" + gh_repo + "/issues";

/// Chats 1000..1049 and one group are in AUTHORIZED_CHAT_IDS.
constexpr int64_t group_chat = -1001234567;
inline int64_t authorized(int n) {
  return 1000 + n;
}
/// Chats nobody authorized.
inline int64_t stranger(int n) {
  return 9000 + n;
}

/// Rows the token-less process holds back until the restart.
constexpr int64_t restart_chat_a = 7001;
constexpr int64_t restart_chat_b = 7002;

inline std::string authorized_list() {
  std::string list = std::to_string(group_chat);
  for (int n = 0; n < 50; ++n)
    list += "," + std::to_string(authorized(n));
  return list;
}

// -- small helpers ------------------------------------------------------------

inline bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  });
}

/// Unicode characters (UTF-8 sequences) in `s`.
inline size_t characters(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

inline std::string quote(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

/// A string member (empty when missing or not a string).
inline std::string str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject())
    return {};
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsString())
    return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

inline std::string error_code(const http_response& r) {
  return str(parse_object(r.body), "error");
}

inline std::string error_details(const http_response& r) {
  return str(parse_object(r.body), "details");
}

// -- Telegram updates ---------------------------------------------------------

inline std::atomic<int64_t> update_counter{500000};

inline int64_t next_update() {
  return update_counter++;
}

/// A private-chat text message; `lang` empty leaves out language_code.
inline std::string message_update(int64_t update_id, int64_t chat,
                                  const std::string& text,
                                  const std::string& lang = "en") {
  std::string from = R"({"id":)" + std::to_string(chat > 0 ? chat : 4711) +
                     R"(,"is_bot":false,"first_name":"Taro",)"
                     R"("last_name":"Yamada","username":"taro")";
  if (!lang.empty())
    from += R"(,"language_code":)" + quote(lang);
  from += "}";
  return R"({"update_id":)" + std::to_string(update_id) +
         R"(,"message":{"message_id":)" + std::to_string(update_id % 100000) +
         R"(,"date":1767312000,"chat":{"id":)" + std::to_string(chat) +
         R"(,"type":")" + (chat > 0 ? "private" : "supergroup") +
         R"("},"from":)" + from + R"(,"text":)" + quote(text) + "}}";
}

inline std::string callback_update(int64_t update_id, int64_t chat,
                                   const std::string& id,
                                   const std::string& lang) {
  std::string from = R"({"id":)" + std::to_string(chat) +
                     R"(,"is_bot":false,"first_name":"Taro")";
  if (!lang.empty())
    from += R"(,"language_code":)" + quote(lang);
  from += "}";
  return R"({"update_id":)" + std::to_string(update_id) +
         R"(,"callback_query":{"id":)" + quote(id) + R"(,"from":)" + from +
         R"(,"chat_instance":"ci-1","data":"approve:1",)"
         R"("message":{"message_id":3,"date":1767312000,"chat":{"id":)" +
         std::to_string(chat) + R"(,"type":"private"}}}})";
}

// -- fake third parties
// ---------------------------------------------------------

/// An html_url long enough that the message announcing it needs 3 parts.
inline const std::string& long_url() {
  static const std::string url = [] {
    std::string u = "https://github.com/o/r/issues/42?q=";
    for (int i = 0; u.size() < 10000; ++i)
      u += static_cast<char>('a' + i % 26);
    return u;
  }();
  return url;
}

inline fake_response github_answer(const fake_request& req) {
  if (req.method != "POST" || req.path() != issues_path)
    return fake_response::json(404, R"({"message":"Not Found"})");
  auto title = str(parse_lenient(req.body), "title");
  if (title == "Long URL")
    return fake_response::json(201, R"({"number":42,"html_url":)" +
                                      quote(long_url()) + "}");
  if (title.rfind("GitHub says no", 0) == 0)
    return fake_response::json(422, R"({"message":"Validation Failed"})");
  return fake_response::json(201, R"({"number":42,"html_url":")" + issue_url +
                                    "\"}");
}

inline std::string completion(const std::string& content) {
  return R"({"id":"chatcmpl-1","object":"chat.completion","model":")" +
         llm_model +
         R"(","choices":[{"index":0,"message":{"role":"assistant","content":)" +
         quote(content) + R"(},"finish_reason":"stop"}]})";
}

/// The fake LLM acts on markers in the user's message: [ok:NAME] drafts
/// "Add dark mode NAME"; the others fail in one way each.
inline fake_response llm_answer(const fake_request& req) {
  if (req.method != "POST" || req.path() != "/v1/chat/completions")
    return fake_response::json(404, R"({"error":{"message":"no route"}})");
  const auto& b = req.body;
  if (contains(b, "[notjson]"))
    return fake_response::json(
      200, completion("Sure! Here is your issue: the login page is broken."));
  if (contains(b, "[notitle]"))
    return fake_response::json(
      200, completion(
             R"({"body":"No title here","labels":["bug"],"agent":"codegen"})"));
  if (contains(b, "[badagent]"))
    return fake_response::json(
      200, completion(R"({"title":"Bad agent title","body":"b",)"
                      R"("labels":["bug"],"agent":"wizard"})"));
  if (contains(b, "[500]"))
    return fake_response::json(500, R"({"error":{"message":"overloaded"}})");
  if (contains(b, "[garbage]"))
    return {200, "<html>gateway says hi</html>", {}, 0ms, false};
  if (contains(b, "[deep]")) // an array nested 100 000 levels deep
    return fake_response::json(200, std::string(100000, '[') +
                                      std::string(100000, ']'));
  if (contains(b, "[slow]")) {
    auto r = fake_response::json(
      200, completion(R"({"title":"Slow title","body":"b","labels":[],)"
                      R"("agent":"codegen"})"));
    r.delay = 2500ms;
    return r;
  }
  std::string name = "?";
  if (auto at = b.find("[ok:"); at != std::string::npos)
    name = b.substr(at + 4, b.find(']', at) - at - 4);
  return fake_response::json(
    200, completion(R"({"title":"Add dark mode )" + name +
                    R"(","body":"Users want a dark theme.",)"
                    R"("labels":["enhancement"],"agent":"codegen"})"));
}

// -- the processes of the run
// ---------------------------------------------------

struct world_t {
  // Declared first: they outlive every process.
  fake_telegram telegram{bot_token};
  fake_http_server github{github_answer};
  fake_http_server llm{llm_answer};

  std::string main_db;
  std::string restart_db;
  service_process* main = nullptr;
  service_process* tokenless = nullptr;
  service_process* solo_ = nullptr;
  /// Every process started by this run, kept for the log checks.
  std::vector<std::unique_ptr<service_process>> all;

  std::mutex answers_mtx;
  std::vector<std::string> answers; ///< every HTTP answer of the services

  service_process& start(env_map env) {
    all.push_back(std::make_unique<service_process>(std::move(env)));
    return *all.back();
  }

  env_map common_env() const {
    auto env = base_env();
    env["TELEGRAM_API_URL"] = telegram.url();
    env["AUTHORIZED_CHAT_IDS"] = authorized_list();
    env["GITHUB_API_URL"] = github.url();
    return env;
  }

  /// Full mode with every integration configured.
  env_map main_env() const {
    auto env = common_env();
    env["LOG_LEVEL"] = "debug";
    env["DATABASE_URL"] = main_db;
    env["DB_POOL_SIZE"] = "4";
    env["TELEGRAM_BOT_TOKEN"] = bot_token;
    env["TELEGRAM_WEBHOOK_SECRET"] = webhook_secret;
    env["GITHUB_TOKEN"] = github_token;
    env["GITHUB_OWNER"] = gh_owner;
    env["GITHUB_REPO"] = gh_repo;
    env["OPENAI_API_KEY"] = openai_key;
    env["OPENAI_BASE_URL"] = llm.url() + "/v1";
    env["OPENAI_MODEL"] = llm_model;
    env["LLM_TIMEOUT_MS"] = "1000";
    env["OUTBOUND_TIMEOUT_MS"] = "3000";
    return env;
  }

  /// Full mode without a bot token, GitHub token or LLM key.
  env_map tokenless_env() const {
    auto env = common_env();
    env["DATABASE_URL"] = restart_db;
    env["DB_POOL_SIZE"] = "2";
    return env;
  }

  /// The telegram-only process, started on first use.
  service_process& solo() {
    if (solo_ == nullptr) {
      auto env = main_env();
      env.erase("DATABASE_URL");
      env.erase("DB_POOL_SIZE");
      env.erase("TELEGRAM_WEBHOOK_SECRET");
      solo_ = &start(env);
    }
    return *solo_;
  }
};

inline world_t& world() {
  static std::unique_ptr<world_t> instance = [] {
    auto w = std::make_unique<world_t>();
    w->main_db = create_database();
    w->restart_db = create_database();
    w->main = &w->start(w->main_env());
    w->tokenless = &w->start(w->tokenless_env());
    // Queued while there is no token: they must wait for the restart.
    exec_sql(w->restart_db,
             "INSERT INTO telegram_outbox (chat_id, payload) VALUES (" +
               std::to_string(restart_chat_a) +
               ", '{\"text\":\"queued while tokenless 1\"}'), (" +
               std::to_string(restart_chat_a) +
               ", '{\"text\":\"queued while tokenless 2\"}'), (" +
               std::to_string(restart_chat_b) +
               ", '{\"text\":\"queued while tokenless 3\"}')");
    return w;
  }();
  return *instance;
}

/// Answers the fake Telegram gives `chat` before it goes back to 200.
inline void script_answers(int64_t chat, std::vector<fake_response> answers) {
  world().telegram.script(chat, std::move(answers));
}

inline void remember(const http_response& r) {
  auto& w = world();
  std::string all = r.body;
  for (const auto& [name, value] : r.headers)
    all += "\n" + name + ": " + value;
  std::lock_guard<std::mutex> guard{w.answers_mtx};
  w.answers.push_back(std::move(all));
}

// -- talking to the services
// ----------------------------------------------------

/// Posts updates to one process's webhook (one connection; one per thread).
class bot_client {
 public:
  explicit bot_client(const service_process& svc, std::string secret = {})
      : url_(svc.base_url() + "/api/v1/telegram/webhook"),
        secret_(std::move(secret)) {}

  /// POST with the secret header (when the process has one).
  http_response post(const std::string& body,
                     header_pairs headers = {
                       {"Content-Type", "application/json"}}) {
    if (!secret_.empty())
      headers.emplace_back("X-Telegram-Bot-Api-Secret-Token", secret_);
    return raw("POST", body, headers);
  }

  /// Exactly these headers.
  http_response raw(const std::string& method, const std::string& body,
                    const header_pairs& headers) {
    auto r = client_.request(method, url_, body, headers);
    remember(r);
    return r;
  }

 private:
  http_client client_;
  std::string url_;
  std::string secret_;
};

inline bot_client main_bot() {
  return bot_client{*world().main, webhook_secret};
}

struct bot_reply {
  long status = 0;
  std::string body;
  std::string method;
  int64_t chat_id = 0;
  std::string text;
  std::string callback_id;
  bool ok_only = false; ///< `{"ok":true}`: nothing to say
};

inline bot_reply to_reply(const http_response& r) {
  bot_reply out;
  out.status = r.status;
  out.body = r.body;
  auto doc = parse_lenient(r.body);
  if (doc.HasParseError() || !doc.IsObject())
    return out;
  out.method = str(doc, "method");
  out.chat_id = int_of(doc, "chat_id");
  out.text = str(doc, "text");
  out.callback_id = str(doc, "callback_query_id");
  out.ok_only = doc.HasMember("ok") && doc["ok"].IsBool() &&
                doc["ok"].GetBool() && !doc.HasMember("method");
  return out;
}

/// Sends `text` from `chat` as a fresh update; checks the answer is 200.
inline bot_reply say(bot_client& bot, int64_t chat, const std::string& text,
                     const std::string& lang = "en") {
  auto r = bot.post(message_update(next_update(), chat, text, lang));
  BOOST_CHECK_MESSAGE(r.status == 200, "webhook for '"
                                         << text << "': " << r.status << " "
                                         << r.body);
  return to_reply(r);
}

/// A sendMessage reply to `chat` whose text contains every part.
inline void expect_message(const bot_reply& r, int64_t chat,
                           const std::vector<std::string>& parts,
                           const std::string& what) {
  BOOST_CHECK_MESSAGE(r.method == "sendMessage",
                      what << ": not a sendMessage reply: " << r.body);
  BOOST_CHECK_MESSAGE(r.chat_id == chat, what << ": chat_id " << r.chat_id
                                              << " instead of " << chat);
  for (const auto& part : parts)
    BOOST_CHECK_MESSAGE(contains(r.text, part),
                        what << ": '" << part << "' missing in: " << r.text);
}

struct account {
  std::string id;
  std::string login;
  std::string token;
};

inline std::atomic<int64_t> github_ids{610000};

inline account sign_in(const service_process& svc, const std::string& login) {
  auto id = github_ids++;
  http_client c;
  auto r = c.post_json(svc.base_url() + "/api/v1/auth/mock",
                       R"({"github_id":)" + std::to_string(id) +
                         R"(,"email":"tg)" + std::to_string(id) +
                         R"(@example.com","login":")" + login + R"("})");
  remember(r);
  BOOST_REQUIRE_MESSAGE(r.status == 200,
                        "mock login: " << r.status << " " << r.body);
  auto doc = parse_object(r.body);
  return {str(doc["user"], "id"), str(doc["user"], "login"),
          str(doc, "access_token")};
}

inline http_response api(const service_process& svc, const std::string& method,
                         const std::string& path, const std::string& body = {},
                         const std::string& token = {}) {
  http_client c;
  header_pairs headers;
  if (!token.empty())
    headers.emplace_back("Authorization", "Bearer " + token);
  if (!body.empty())
    headers.emplace_back("Content-Type", "application/json");
  auto r = c.request(method, svc.base_url() + "/api/v1" + path, body, headers);
  remember(r);
  return r;
}

inline std::string new_link_code(const service_process& svc, const account& a) {
  auto r = api(svc, "POST", "/telegram/link", {}, a.token);
  BOOST_REQUIRE_MESSAGE(r.status == 201,
                        "link code: " << r.status << " " << r.body);
  return str(parse_object(r.body), "code");
}

// -- what the fakes saw
// ---------------------------------------------------------

struct delivery {
  std::string text;
  steady::time_point at;
  std::string content_type;
};

/// Messages the fake Telegram received for `chat`, in arrival order.
inline std::vector<delivery> deliveries(int64_t chat) {
  std::vector<delivery> out;
  for (const auto& r : world().telegram.requests_to(send_path)) {
    auto doc = parse_object(r.body);
    if (int_of(doc, "chat_id") == chat)
      out.push_back({str(doc, "text"), r.at, r.header("Content-Type")});
  }
  return out;
}

inline bool wait_deliveries(int64_t chat, size_t n, milliseconds limit) {
  return eventually([&] { return deliveries(chat).size() >= n; }, limit);
}

/// Issue creations the fake GitHub received with this title.
inline std::vector<fake_request> issues_titled(const std::string& title) {
  std::vector<fake_request> out;
  for (auto& r : world().github.requests_to(issues_path))
    if (str(parse_object(r.body), "title") == title)
      out.push_back(r);
  return out;
}

inline std::vector<fake_request> llm_calls_with(const std::string& marker) {
  std::vector<fake_request> out;
  for (auto& r : world().llm.requests())
    if (contains(r.body, marker))
      out.push_back(r);
  return out;
}

inline long long outbox_rows(const std::string& db, int64_t chat,
                             const std::string& where = "true") {
  return query_int(db, "SELECT count(*) FROM telegram_outbox WHERE chat_id = " +
                         std::to_string(chat) + " AND " + where);
}

/// metric() of checks.hpp, with the scrape kept for the secrets check.
inline double remembered_metric(const service_process& svc,
                                const std::string& series) {
  auto r = scrape_metrics(svc);
  remember(r);
  return metric_value(r.body, series);
}

} // namespace miyabi::test::telegram_world
