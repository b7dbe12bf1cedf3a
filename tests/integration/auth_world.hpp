// Authentication end to end: the real binary on a real PostgreSQL database,
// GitHub played by fakes/github_oauth.hpp (which checks what a real GitHub
// would check). Covers the login flow, state and redirect rules, GitHub
// failures, /auth/mock, the Bearer rules and JWT checks (cross-checked with
// PyJWT), refresh rotation and reuse, logout (also as seen by a second
// process) and the auth metrics.
//
// This header holds the helpers those suites share; each test executable
// that includes it gets its own service.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "actors/outbound.hpp"
#include "base/crypto.hpp"
#include "fakes/fake_http.hpp"
#include "fakes/github_oauth.hpp"
#include "support/checks.hpp"
#include "support/encoding.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

namespace miyabi::test::auth_world {

using miyabi::actors::url_encode;
using miyabi::crypto::base64url_encode;
using namespace miyabi::test;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

// -- small helpers (independent of the service's own code) --------------------

constexpr const char* client_id = "Iv1.fakeclient42";
constexpr const char* client_secret = "fake-client-secret-5f3a9c1e7d";
constexpr const char* callback_url =
  "https://api.example/api/v1/auth/github/callback";
constexpr const char* frontend = "https://app.example";
constexpr long outbound_timeout_ms = 1500;

/// The OAuth app the services of these tests are configured with.
inline github_app oauth_app() {
  return {client_id, client_secret, callback_url,
          std::chrono::milliseconds{outbound_timeout_ms + 2000}};
}

inline std::string jwt_secret() {
  return base_env().at("JWT_SECRET");
}

inline std::string random_uuid() {
  static constexpr char hex[] = "0123456789abcdef";
  static std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20)
      out += '-';
    int v = static_cast<int>(rng() % 16);
    if (i == 12)
      v = 4;
    if (i == 16)
      v = 8 + (v % 4);
    out += hex[v];
  }
  return out;
}

inline int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Runs a Python snippet with Debian's python3-jwt; returns its stdout.
inline std::string python(const std::string& code,
                          const std::vector<std::string>& args) {
  std::string command = "/usr/bin/python3 -c '" + code + "'";
  for (const auto& a : args)
    command += " '" + a + "'";
  command += " 2>&1";
  std::string out;
  auto* pipe = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  std::array<char, 1024> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr)
    out += buf.data();
  auto rc = ::pclose(pipe);
  BOOST_REQUIRE_MESSAGE(rc == 0, "python3 failed: " << out);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
    out.pop_back();
  return out;
}

/// A token signed by PyJWT (an implementation independent of the service).
inline std::string pyjwt_encode(const std::string& claims_json,
                                const std::string& secret = jwt_secret(),
                                const std::string& alg = "HS256") {
  return python("import jwt,json,sys; print(jwt.encode(json.loads(sys.argv[1]),"
                " sys.argv[2], algorithm=sys.argv[3]))",
                {claims_json, secret, alg});
}

/// Claims as api.md lists them, with overrides spliced in as raw JSON.
inline std::string claims_json(const std::string& sub, int64_t github_id,
                               std::map<std::string, std::string> over = {}) {
  auto now = unix_now();
  std::map<std::string, std::string> c{
    {"iss", "\"miyabi-api\""},
    {"aud", "\"miyabi-web\""},
    {"sub", "\"" + sub + "\""},
    {"github_id", std::to_string(github_id)},
    {"iat", std::to_string(now)},
    {"nbf", std::to_string(now)},
    {"exp", std::to_string(now + 600)},
    {"jti", "\"" + random_uuid() + "\""},
  };
  for (auto& [k, v] : over)
    c[k] = v;
  std::string out = "{";
  for (auto& [k, v] : c) {
    if (v.empty())
      continue; // an empty override removes the claim
    if (out.size() > 1)
      out += ",";
    out += "\"" + k + "\":" + v;
  }
  return out + "}";
}

inline std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, sep))
    out.push_back(item);
  if (!text.empty() && text.back() == sep)
    out.emplace_back();
  return out;
}

// -- service instances --------------------------------------------------------

inline env_map github_env(const fake_github& gh, const std::string& database) {
  auto env = base_env();
  env["DATABASE_URL"] = database;
  env["DB_POOL_SIZE"] = "2";
  env["GITHUB_CLIENT_ID"] = client_id;
  env["GITHUB_CLIENT_SECRET"] = client_secret;
  env["GITHUB_OAUTH_URL"] = gh.url();
  env["GITHUB_API_URL"] = gh.url();
  env["GITHUB_CALLBACK_URL"] = callback_url;
  env["FRONTEND_URL"] = frontend;
  env["OUTBOUND_TIMEOUT_MS"] = std::to_string(outbound_timeout_ms);
  env["LOG_LEVEL"] = "debug"; // the most output a leak could hide in
  return env;
}

/// The service most tests share: GitHub configured, development mode.
/// `extra` adds or replaces settings (for a private instance).
struct instance {
  explicit instance(env_map extra = {})
      : proc{[&] {
          auto env = github_env(github, db);
          for (auto& [name, value] : extra)
            env[name] = value;
          return env;
        }()} {}

  fake_github github{
    github_app{client_id, client_secret, callback_url,
               std::chrono::milliseconds{outbound_timeout_ms + 2000}}};
  std::string db = create_database();
  service_process proc;

  std::string url(const std::string& path) const {
    return proc.base_url() + path;
  }
};

/// The shared instance, with the fake GitHub back to its defaults.
/// Stops the test, with the tail of its log, when the shared instance exited
/// or began shutting down (e.g. it crashed, or something signalled it).
inline instance& service() {
  static std::unique_ptr<instance> shared = std::make_unique<instance>();
  shared->github.reset();
  auto lines = shared->proc.lines();
  bool stopped = shared->proc.wait_exit(0ms).has_value() ||
                 std::any_of(lines.begin(), lines.end(), [](auto& l) {
                   return contains(l, "\"shutdown started\"");
                 });
  if (stopped) {
    std::string tail;
    for (size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size();
         ++i)
      tail += "\n  " + lines[i];
    BOOST_FAIL("the shared service stopped; its last log lines:" << tail);
  }
  return *shared;
}

// -- steps of the login flow --------------------------------------------------

struct login_start {
  http_response resp;
  std::string location_base; ///< Location before '?'
  std::map<std::string, std::string> query;
  std::string cookie; ///< "miyabi_oauth=VALUE", ready for a Cookie header
  std::string state;
};

inline login_start
start_login(http_client& client, const instance& svc,
            const std::string& query = "?redirect=%2Fdashboard") {
  login_start out;
  out.resp = client.get(svc.url("/api/v1/auth/github" + query));
  auto location = out.resp.header("Location");
  auto q = location.find('?');
  out.location_base = location.substr(0, q);
  if (q != std::string::npos)
    out.query = parse_pairs(location.substr(q + 1));
  auto set_cookie = out.resp.header("Set-Cookie");
  out.cookie = set_cookie.substr(0, set_cookie.find(';'));
  out.state = value_of(out.query, "state");
  return out;
}

inline http_response callback(http_client& client, const instance& svc,
                              const std::string& query,
                              const std::string& cookie) {
  header_pairs headers;
  if (!cookie.empty())
    headers.emplace_back("Cookie", cookie);
  return client.get(svc.url("/api/v1/auth/github/callback" + query), headers);
}

inline std::string callback_query(const std::string& code,
                                  const std::string& state) {
  return "?code=" + url_encode(code) + "&state=" + url_encode(state);
}

struct login_result {
  login_start start;
  http_response resp;
  std::string location;
  std::map<std::string, std::string> fragment;
};

/// Start, approve at the fake GitHub, come back: the whole browser dance.
inline login_result
log_in_with_github(http_client& client, instance& svc,
                   const std::string& query = "?redirect=%2Fdashboard") {
  login_result out;
  out.start = start_login(client, svc, query);
  BOOST_REQUIRE_MESSAGE(out.start.resp.status == 302,
                        "start: " << out.start.resp.status << " "
                                  << out.start.resp.body);
  auto code = svc.github.authorize(value_of(out.start.query, "code_challenge"));
  out.resp = callback(client, svc, callback_query(code, out.start.state),
                      out.start.cookie);
  out.location = out.resp.header("Location");
  auto hash = out.location.find('#');
  if (hash != std::string::npos)
    out.fragment = parse_pairs(out.location.substr(hash + 1));
  return out;
}

inline std::atomic<int64_t> next_github_id{7000000};

/// A GitHub id no other test of this run uses.
inline int64_t fresh_github_id() {
  return next_github_id++;
}

/// Rows of any table of `db` whose text contains `needle`.
inline long long rows_containing(const std::string& db,
                                 const std::string& needle) {
  auto tables = query_text(
    db, "SELECT string_agg(quote_ident(table_name), ',') FROM "
        "information_schema.tables WHERE table_schema = 'public' AND "
        "table_type = 'BASE TABLE'");
  BOOST_REQUIRE(contains(tables, "refresh_tokens"));
  long long total = 0;
  for (const auto& t : split(tables, ','))
    total += query_int(db, "SELECT count(*) FROM " + t +
                             " AS r WHERE r::text "
                             "LIKE '%" +
                             needle + "%'");
  return total;
}

// -- outbound isolation: a fake that holds its answers
// --------------------------

/// A third party that holds every request until the test releases it (one
/// or all), then answers each with `answer`. Counts what it received
/// (server()).
class held_fake {
 public:
  explicit held_fake(fake_response answer)
      : answer_(std::move(answer)),
        server_([this](const fake_request&) { return hold(); }) {}
  held_fake(const held_fake&) = delete;
  held_fake& operator=(const held_fake&) = delete;
  ~held_fake() { release(); } // before server_ joins its threads

  void release() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      released_ = true;
    }
    cv_.notify_all();
  }

  /// Lets one held (or the next) request be answered.
  void release_one() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      ++permits_;
    }
    cv_.notify_all();
  }

  /// Requests received and not answered yet.
  size_t held() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return held_;
  }

  std::string url() const { return server_.url(); }
  const fake_http_server& server() const { return server_; }

 private:
  fake_response hold() {
    std::unique_lock<std::mutex> lock{mtx_};
    ++held_;
    cv_.wait(lock, [this] { return released_ || permits_ > 0; });
    if (!released_)
      --permits_;
    --held_;
    return answer_;
  }

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  bool released_ = false;
  size_t permits_ = 0;
  size_t held_ = 0;
  fake_response answer_;
  fake_http_server server_; // last: its threads call hold()
};

constexpr const char* hook_secret = "hook-secret-for-outbound-tests";
constexpr int64_t first_chat = 5550001;
constexpr int chat_count = 20;

inline std::string chat_list() {
  std::string list;
  for (int i = 0; i < chat_count; ++i)
    list += (i ? "," : "") + std::to_string(first_chat + i);
  return list;
}

/// The Telegram bot with issues from chat (and the LLM when `llm_url` is
/// given) on top of the GitHub login settings.
inline env_map chat_env(const fake_http_server& telegram,
                        const std::string& llm_url) {
  env_map env{{"TELEGRAM_BOT_TOKEN", "4242:outbound-test-bot-token"},
              {"TELEGRAM_API_URL", telegram.url()},
              {"TELEGRAM_WEBHOOK_SECRET", hook_secret},
              {"AUTHORIZED_CHAT_IDS", chat_list()},
              {"GITHUB_TOKEN", "ghp_outboundTestIssueToken"},
              {"GITHUB_OWNER", "octo-org"},
              {"GITHUB_REPO", "octo-app"}};
  if (!llm_url.empty()) {
    env["OPENAI_API_KEY"] = "sk-outbound-test-key";
    env["OPENAI_BASE_URL"] = llm_url + "/v1";
  }
  return env;
}

inline fake_response telegram_ok(const fake_request&) {
  return fake_response::json(
    200, R"({"ok":true,"result":{"message_id":1,"date":1767312000}})");
}

inline std::atomic<int64_t> next_update_id{880000};

/// Posts a private-chat text message to the webhook; the status.
inline long say(http_client& client, const instance& svc, int64_t chat,
                const std::string& text) {
  auto id = std::to_string(next_update_id++);
  auto body = R"({"update_id":)" + id + R"(,"message":{"message_id":)" + id +
              R"(,"date":1767312000,"chat":{"id":)" + std::to_string(chat) +
              R"(,"type":"private"},"from":{"id":)" + std::to_string(chat) +
              R"(,"is_bot":false,"first_name":"Taro","language_code":"en"},)"
              R"("text":")" +
              text + R"("}})";
  auto r = client.request("POST", svc.url("/api/v1/telegram/webhook"), body,
                          {{"Content-Type", "application/json"},
                           {"X-Telegram-Bot-Api-Secret-Token", hook_secret}});
  return r.status;
}

} // namespace miyabi::test::auth_world
