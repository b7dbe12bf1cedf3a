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
#define BOOST_TEST_MODULE telegram_test
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
#include "storage/telegram.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/threads.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

// -- fixed settings -----------------------------------------------------------

const std::string bot_token = "4242424242:AAH-test_BOT-token_never_logged_9f3c";
const std::string webhook_secret = "webhook-secret-7Qz2xLm9pW";
const std::string github_token = "ghp_telegramTestIssueToken0123";
const std::string openai_key = "sk-test-telegram-llm-key-5555";
const std::string gh_owner = "miyabi-org";
const std::string gh_repo = "miyabi-app";
const std::string llm_model = "test-model-1";
const std::string issue_url = "https://github.com/o/r/issues/42";
const std::string send_path = "/bot" + bot_token + "/sendMessage";
const std::string issues_path =
  "/repos/" + gh_owner + "/" + gh_repo + "/issues";

/// Chats 1000..1049 and one group are in AUTHORIZED_CHAT_IDS.
constexpr int64_t group_chat = -1001234567;
int64_t authorized(int n) {
  return 1000 + n;
}
/// Chats nobody authorized.
int64_t stranger(int n) {
  return 9000 + n;
}

/// Rows the token-less process holds back until the restart.
constexpr int64_t restart_chat_a = 7001;
constexpr int64_t restart_chat_b = 7002;

std::string authorized_list() {
  std::string list = std::to_string(group_chat);
  for (int n = 0; n < 50; ++n)
    list += "," + std::to_string(authorized(n));
  return list;
}

// -- small helpers ------------------------------------------------------------

bool is_ascii(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x80;
  });
}

/// Unicode characters (UTF-8 sequences) in `s`.
size_t characters(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string quote(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

/// A string member (empty when missing or not a string).
std::string str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject())
    return {};
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd() || !i->value.IsString())
    return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

std::string error_code(const http_response& r) {
  return str(parse_object(r.body), "error");
}

std::string error_details(const http_response& r) {
  return str(parse_object(r.body), "details");
}

// -- Telegram updates ---------------------------------------------------------

std::atomic<int64_t> update_counter{500000};

int64_t next_update() {
  return update_counter++;
}

/// A private-chat text message; `lang` empty leaves out language_code.
std::string message_update(int64_t update_id, int64_t chat,
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

std::string callback_update(int64_t update_id, int64_t chat,
                            const std::string& id, const std::string& lang) {
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

/// Answers the fake Telegram gives, per chat, before it goes back to 200.
struct telegram_script {
  std::mutex mtx;
  std::map<int64_t, std::deque<fake_response>> next;
};

telegram_script& script() {
  static telegram_script s;
  return s;
}

void script_answers(int64_t chat, std::vector<fake_response> answers) {
  std::lock_guard<std::mutex> guard{script().mtx};
  auto& q = script().next[chat];
  for (auto& a : answers)
    q.push_back(std::move(a));
}

int64_t chat_of(const fake_request& r) {
  return int_of(parse_lenient(r.body), "chat_id");
}

fake_response telegram_answer(const fake_request& req) {
  if (req.method == "POST" && req.path() == send_path) {
    auto chat = chat_of(req);
    {
      std::lock_guard<std::mutex> guard{script().mtx};
      auto& q = script().next[chat];
      if (!q.empty()) {
        auto answer = q.front();
        q.pop_front();
        return answer;
      }
    }
    return fake_response::json(
      200, R"({"ok":true,"result":{"message_id":1,"date":1767312000}})");
  }
  return fake_response::json(
    404, R"({"ok":false,"error_code":404,"description":"Not Found"})");
}

/// An html_url long enough that the message announcing it needs 3 parts.
const std::string& long_url() {
  static const std::string url = [] {
    std::string u = "https://github.com/o/r/issues/42?q=";
    for (int i = 0; u.size() < 10000; ++i)
      u += static_cast<char>('a' + i % 26);
    return u;
  }();
  return url;
}

fake_response github_answer(const fake_request& req) {
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

std::string completion(const std::string& content) {
  return R"({"id":"chatcmpl-1","object":"chat.completion","model":")" +
         llm_model +
         R"(","choices":[{"index":0,"message":{"role":"assistant","content":)" +
         quote(content) + R"(},"finish_reason":"stop"}]})";
}

/// The fake LLM acts on markers in the user's message: [ok:NAME] drafts
/// "Add dark mode NAME"; the others fail in one way each.
fake_response llm_answer(const fake_request& req) {
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
  fake_http_server telegram{telegram_answer};
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

world_t& world() {
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

void remember(const http_response& r) {
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

bot_client main_bot() {
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

bot_reply to_reply(const http_response& r) {
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
bot_reply say(bot_client& bot, int64_t chat, const std::string& text,
              const std::string& lang = "en") {
  auto r = bot.post(message_update(next_update(), chat, text, lang));
  BOOST_CHECK_MESSAGE(r.status == 200, "webhook for '"
                                         << text << "': " << r.status << " "
                                         << r.body);
  return to_reply(r);
}

/// A sendMessage reply to `chat` whose text contains every part.
void expect_message(const bot_reply& r, int64_t chat,
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

std::atomic<int64_t> github_ids{610000};

account sign_in(const service_process& svc, const std::string& login) {
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

http_response api(const service_process& svc, const std::string& method,
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

std::string new_link_code(const service_process& svc, const account& a) {
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
std::vector<delivery> deliveries(int64_t chat) {
  std::vector<delivery> out;
  for (const auto& r : world().telegram.requests_to(send_path)) {
    auto doc = parse_object(r.body);
    if (int_of(doc, "chat_id") == chat)
      out.push_back({str(doc, "text"), r.at, r.header("Content-Type")});
  }
  return out;
}

bool wait_deliveries(int64_t chat, size_t n, milliseconds limit) {
  return eventually([&] { return deliveries(chat).size() >= n; }, limit);
}

/// Issue creations the fake GitHub received with this title.
std::vector<fake_request> issues_titled(const std::string& title) {
  std::vector<fake_request> out;
  for (auto& r : world().github.requests_to(issues_path))
    if (str(parse_object(r.body), "title") == title)
      out.push_back(r);
  return out;
}

std::vector<fake_request> llm_calls_with(const std::string& marker) {
  std::vector<fake_request> out;
  for (auto& r : world().llm.requests())
    if (contains(r.body, marker))
      out.push_back(r);
  return out;
}

long long outbox_rows(const std::string& db, int64_t chat,
                      const std::string& where = "true") {
  return query_int(db, "SELECT count(*) FROM telegram_outbox WHERE chat_id = " +
                         std::to_string(chat) + " AND " + where);
}

/// metric() of checks.hpp, with the scrape kept for the secrets check.
double remembered_metric(const service_process& svc,
                         const std::string& series) {
  auto r = scrape_metrics(svc);
  remember(r);
  return metric_value(r.body, series);
}

} // namespace

// =============================================================================

BOOST_AUTO_TEST_SUITE(webhook)

BOOST_AUTO_TEST_CASE(
  every_rejection_answers_in_the_documented_order_and_records_nothing) {
  auto& w = world();
  bot_client bot{*w.main, webhook_secret}; // raw() sends no secret
  const header_pairs json = {{"Content-Type", "application/json"}};
  auto with_secret = [](header_pairs h, const std::string& value) {
    h.emplace_back("X-Telegram-Bot-Api-Secret-Token", value);
    return h;
  };
  std::vector<int64_t> refused;
  auto refused_update = [&](int64_t chat = authorized(1)) {
    auto id = next_update();
    refused.push_back(id);
    return message_update(id, chat, "/help");
  };

  // 405 before anything else: no secret, any body.
  auto r = bot.raw("GET", {}, {});
  BOOST_TEST(r.status == 405);
  BOOST_TEST(error_code(r) == "method_not_allowed");
  BOOST_TEST(contains(r.header("Allow"), "POST"));
  r = bot.raw("GET", {}, with_secret({}, webhook_secret));
  BOOST_TEST(r.status == 405);
  r = bot.raw("PUT", refused_update(), json);
  BOOST_TEST(r.status == 405);

  // 401: missing, wrong, a prefix, one character more; the body is not
  // looked at before the secret (garbage of any type is still 401).
  for (const auto& h :
       {json, with_secret(json, "wrong-secret"),
        with_secret(json, webhook_secret.substr(0, webhook_secret.size() - 1)),
        with_secret(json, webhook_secret.substr(0, 6)),
        with_secret(json, webhook_secret + "x")}) {
    r = bot.raw("POST", refused_update(), h);
    BOOST_TEST(r.status == 401);
    BOOST_TEST(error_code(r) == "authentication_error");
  }
  r = bot.raw("POST", "not json at all", {{"Content-Type", "text/plain"}});
  BOOST_TEST(r.status == 401);
  r = bot.raw("POST", R"({"update_id":)", json);
  BOOST_TEST(r.status == 401);

  // The right value under a lower-case header name is accepted.
  auto accepted = next_update();
  r = bot.raw("POST", message_update(accepted, authorized(1), "/help"),
              {{"content-type", "application/json"},
               {"x-telegram-bot-api-secret-token", webhook_secret}});
  BOOST_TEST(r.status == 200);
  expect_message(to_reply(r), authorized(1), {"/getid"}, "lower-case header");

  // 415 (also before a malformed body, and without any content type).
  r = bot.raw("POST", refused_update(),
              with_secret({{"Content-Type", "text/plain"}}, webhook_secret));
  BOOST_TEST(r.status == 415);
  BOOST_TEST(error_code(r) == "unsupported_media_type");
  r = bot.raw("POST", "{broken",
              with_secret({{"Content-Type", "text/plain"}}, webhook_secret));
  BOOST_TEST(r.status == 415);
  r =
    bot.raw("POST", refused_update(),
            with_secret({{"Content-Type", "application/x-www-form-urlencoded"}},
                        webhook_secret));
  BOOST_TEST(r.status == 415);
  r = bot.raw("POST", refused_update(),
              with_secret({{"Content-Type", "application/json; charset=utf-8"}},
                          webhook_secret));
  BOOST_TEST(r.status == 200); // parameters do not change the type
  refused.pop_back();

  // 400: malformed JSON.
  for (const std::string body :
       {R"({"update_id":)", "{broken", R"({"update_id":1,})"}) {
    r = bot.post(body);
    BOOST_TEST(r.status == 400, body << " -> " << r.status);
    BOOST_TEST(error_code(r) == "validation_error");
  }

  // 422 naming the field.
  struct shape_case {
    std::string body;
    std::string field;
  };
  auto id = [&] {
    auto i = next_update();
    refused.push_back(i);
    return std::to_string(i);
  };
  const std::vector<shape_case> shapes = {
    {"{}", "update_id"},
    {"[1,2]", ""},
    {R"({"update_id":")" + id() + R"("})", "update_id"},
    {R"({"update_id":)" + id() + R"(.5})", "update_id"},
    {R"({"update_id":null})", "update_id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"date":1,"chat":{"id":1001},"text":"/help"}})",
     "message_id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"chat":{"id":1001},"text":"/help"}})",
     "date"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"date":1,"chat":{"type":"private"},"text":"/help"}})",
     "chat.id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"date":1,"chat":{"id":"1001"},"text":"/help"}})",
     "chat.id"},
    {R"({"update_id":)" + id() +
       R"(,"message":{"message_id":1,"date":1,"text":"/help"}})",
     "chat"},
    {R"({"update_id":)" + id() + R"(,"message":"hello"})", "message"},
  };
  for (const auto& s : shapes) {
    r = bot.post(s.body);
    BOOST_TEST(r.status == 422, s.body << " -> " << r.status << " " << r.body);
    BOOST_TEST(error_code(r) == "unprocessable_entity");
    BOOST_TEST(contains(error_details(r), s.field),
               s.body << " -> details: " << error_details(r));
  }

  // Nothing refused was recorded; the accepted update was.
  std::string list;
  for (auto i : refused)
    list += (list.empty() ? "" : ",") + std::to_string(i);
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_updates WHERE "
                                  "update_id IN (" +
                                    list + ")") == 0);
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_updates WHERE "
                                  "update_id = " +
                                    std::to_string(accepted)) == 1);

  // Unknown update kinds: 200 {"ok":true}.
  for (
    const std::string kind :
    {R"("edited_channel_post":{"message_id":5,"date":1,"chat":{"id":-100999,"type":"channel"},"text":"edited"})",
     R"("poll":{"id":"p1","question":"lunch?","options":[],"is_closed":false})",
     R"("my_chat_member":{"chat":{"id":1001},"date":1})"}) {
    r = bot.post(R"({"update_id":)" + std::to_string(next_update()) + "," +
                 kind + "}");
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == R"({"ok":true})");
  }
  // A message without text (a sticker): nothing to say.
  r = bot.post(R"({"update_id":)" + std::to_string(next_update()) +
               R"(,"message":{"message_id":9,"date":1,"chat":{"id":1001},)"
               R"("sticker":{"file_id":"x"}}})");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body == R"({"ok":true})");

  // Unknown fields everywhere are ignored.
  r = bot.post(
    R"({"update_id":)" + std::to_string(next_update()) +
    R"(,"future_field":{"x":[1,2,{"y":null}]},"message":{"message_id":1,)"
    R"("date":1767312000,"chat":{"id":9001,"type":"private","extra":true},)"
    R"("from":{"id":9001,"is_bot":false,"first_name":"Hana","is_premium":true,)"
    R"("added_to_attachment_menu":false},"text":"/getid","entities":)"
    R"([{"type":"bot_command","offset":0,"length":6}],)"
    R"("link_preview_options":{"is_disabled":true}}})");
  BOOST_TEST(r.status == 200);
  expect_message(to_reply(r), stranger(1), {"9001", "Hana"}, "extra fields");
}

BOOST_AUTO_TEST_SUITE_END()

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

BOOST_AUTO_TEST_SUITE(exactly_once)

BOOST_AUTO_TEST_CASE(
  one_update_posted_fifty_times_to_two_processes_is_processed_once) {
  auto& w = world();
  auto& second = w.start(w.main_env());
  const service_process* targets[2] = {w.main, &second};

  // Posts `body` n times at once, alternating between the two processes.
  auto storm = [&](const std::string& body, int n) {
    std::vector<http_response> answers(static_cast<size_t>(n));
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    {
      thread_group threads;
      for (int i = 0; i < n; ++i)
        threads.spawn([&, i] {
          bot_client client{*targets[i % 2], webhook_secret};
          ++ready;
          while (!go)
            std::this_thread::yield();
          answers[static_cast<size_t>(i)] = client.post(body);
        });
      while (ready < n)
        std::this_thread::yield();
      go = true;
      threads.wait();
    }
    return answers;
  };

  const auto chat = authorized(2);
  const auto id = next_update();
  auto answers = storm(message_update(id, chat, "/getid"), 50);
  int replies = 0, ok = 0, other = 0;
  for (const auto& a : answers) {
    auto r = to_reply(a);
    if (a.status != 200)
      ++other;
    else if (r.method == "sendMessage" && r.chat_id == chat &&
             contains(r.text, "Chat ID: 1002"))
      ++replies;
    else if (r.ok_only)
      ++ok;
    else
      ++other;
  }
  BOOST_TEST(replies == 1);
  BOOST_TEST(ok == 49);
  BOOST_TEST(other == 0);
  BOOST_TEST(query_int(w.main_db, "SELECT count(*) FROM telegram_updates WHERE "
                                  "update_id = " +
                                    std::to_string(id)) == 1);

  // /issue posted 20 times at once: one task, one issue, one result.
  const auto issue_chat = authorized(3);
  const auto issue_id = next_update();
  const auto title = "Race issue " + std::to_string(issue_id);
  answers = storm(message_update(issue_id, issue_chat, "/issue " + title), 20);
  replies = ok = other = 0;
  for (const auto& a : answers) {
    auto r = to_reply(a);
    if (a.status == 200 && r.method == "sendMessage" &&
        contains(r.text, "Creating the issue"))
      ++replies;
    else if (a.status == 200 && r.ok_only)
      ++ok;
    else
      ++other;
  }
  BOOST_TEST(replies == 1);
  BOOST_TEST(ok == 19);
  BOOST_TEST(other == 0);
  BOOST_REQUIRE(wait_deliveries(issue_chat, 1, 15s));
  BOOST_TEST(outbox_rows(w.main_db, issue_chat, "kind = 'create_issue'") == 1);
  BOOST_TEST(issues_titled(title).size() == 1u);
  BOOST_TEST(deliveries(issue_chat).size() == 1u);

  // Stop the second sender before anything else measures pacing.
  second.signal(SIGTERM);
  BOOST_TEST(second.wait_exit(15s).value_or(-1) == 0);

  // Telegram-only mode: a window in memory.
  const auto solo_id = next_update();
  const auto solo_body = message_update(solo_id, chat, "/getid");
  std::vector<http_response> solo_answers(10);
  auto& solo_process = w.solo(); // started before the threads use it
  {
    thread_group threads;
    for (size_t i = 0; i < solo_answers.size(); ++i)
      threads.spawn([&, i] {
        bot_client client{solo_process};
        solo_answers[i] = client.post(solo_body);
      });
    threads.wait();
  }
  replies = ok = 0;
  for (const auto& a : solo_answers) {
    auto r = to_reply(a);
    replies += a.status == 200 && r.method == "sendMessage";
    ok += a.status == 200 && r.ok_only;
  }
  BOOST_TEST(replies == 1);
  BOOST_TEST(ok == 9);
  bot_client solo{solo_process};
  auto again = solo.post(solo_body);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.body == R"({"ok":true})");
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

BOOST_AUTO_TEST_SUITE(restart)

BOOST_AUTO_TEST_CASE(pending_rows_are_sent_after_a_restart_with_the_token) {
  auto& w = world();
  // Normally stopped by the token-less case; stop it here when that case
  // did not run.
  if (!w.tokenless->wait_exit(0ms)) {
    w.tokenless->signal(SIGTERM);
    BOOST_REQUIRE(w.tokenless->wait_exit(15s).has_value());
  }
  BOOST_TEST(query_int(w.restart_db, "SELECT count(*) FROM telegram_outbox "
                                     "WHERE state = 'pending'") == 3);
  auto due_in =
    query_int(w.restart_db, "SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM "
                            "max(next_attempt_at) - now())))::bigint FROM "
                            "telegram_outbox WHERE state = 'pending'");
  BOOST_TEST_MESSAGE("restart: the held rows are due in " << due_in << " s");
  auto env = w.tokenless_env();
  env["TELEGRAM_BOT_TOKEN"] = bot_token;
  auto started = steady::now();
  w.start(env);
  BOOST_TEST(eventually(
    [] {
      return deliveries(restart_chat_a).size() >= 2 &&
             deliveries(restart_chat_b).size() >= 1;
    },
    std::chrono::seconds{due_in + 10}));
  BOOST_TEST_MESSAGE("restart: delivered "
                     << ms_between(started, steady::now())
                     << " ms after the start with the token");
  auto a = deliveries(restart_chat_a);
  BOOST_REQUIRE_EQUAL(a.size(), 2u);
  BOOST_TEST(a[0].text == "queued while tokenless 1");
  BOOST_TEST(a[1].text == "queued while tokenless 2");
  BOOST_TEST(deliveries(restart_chat_b).size() == 1u);
  BOOST_TEST(eventually(
    [&] {
      return query_int(w.restart_db, "SELECT count(*) FROM telegram_outbox "
                                     "WHERE state = 'sent'") == 3;
    },
    5s));
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
