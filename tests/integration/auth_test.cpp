// Authentication end to end: the real binary on a real PostgreSQL database,
// GitHub played by a fake server that checks what a real GitHub would check
// (client credentials, redirect_uri, PKCE S256, single-use codes, the access
// token on API calls, Accept and User-Agent headers). Covers the login flow,
// state and redirect rules, GitHub failures, /auth/mock, the Bearer rules and
// JWT checks (cross-checked with PyJWT), refresh rotation and reuse, logout
// (also as seen by a second process) and the auth metrics.
#define BOOST_TEST_MODULE auth_test
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
#include <openssl/sha.h>
#include <rapidjson/document.h>

#include "actors/outbound.hpp"
#include "base/crypto.hpp"
#include "fakes/fake_http.hpp"
#include "http/decode.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using miyabi::actors::url_encode;
using miyabi::crypto::base64url_encode;
using namespace miyabi::test;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

namespace {

// -- small helpers (independent of the service's own code) --------------------

constexpr const char* client_id = "Iv1.fakeclient42";
constexpr const char* client_secret = "fake-client-secret-5f3a9c1e7d";
constexpr const char* callback_url =
  "https://api.example/api/v1/auth/github/callback";
constexpr const char* frontend = "https://app.example";
constexpr long outbound_timeout_ms = 1500;

std::string jwt_secret() {
  return base_env().at("JWT_SECRET");
}

std::string random_text(size_t n) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static std::mutex mtx;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> guard{mtx};
  std::uniform_int_distribution<size_t> pick{0, sizeof(alphabet) - 2};
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += alphabet[pick(rng)];
  return out;
}

std::string random_uuid() {
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

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

std::string sha256_raw(const std::string& text) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(),
         md.data());
  return {reinterpret_cast<const char*>(md.data()), md.size()};
}

/// The PKCE S256 challenge of a verifier (RFC 7636): BASE64URL(SHA256(v)).
std::string s256(const std::string& verifier) {
  return base64url_encode(sha256_raw(verifier));
}

/// A percent-decoded component; the raw text when it is not valid.
std::string url_decode(const std::string& text) {
  return miyabi::http::percent_decode(text).value_or(text);
}

/// `a=1&b=2` (query, fragment or form body), decoded.
std::map<std::string, std::string> parse_pairs(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, '&')) {
    if (item.empty())
      continue;
    auto eq = item.find('=');
    if (eq == std::string::npos)
      out[url_decode(item)] = "";
    else
      out[url_decode(item.substr(0, eq))] = url_decode(item.substr(eq + 1));
  }
  return out;
}

std::string value_of(const std::map<std::string, std::string>& m,
                     const std::string& key) {
  auto i = m.find(key);
  return i == m.end() ? "<absent>" : i->second;
}

/// Runs a Python snippet with Debian's python3-jwt; returns its stdout.
std::string python(const std::string& code,
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
std::string pyjwt_encode(const std::string& claims_json,
                         const std::string& secret = jwt_secret(),
                         const std::string& alg = "HS256") {
  return python("import jwt,json,sys; print(jwt.encode(json.loads(sys.argv[1]),"
                " sys.argv[2], algorithm=sys.argv[3]))",
                {claims_json, secret, alg});
}

/// Claims as api.md lists them, with overrides spliced in as raw JSON.
std::string claims_json(const std::string& sub, int64_t github_id,
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

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, sep))
    out.push_back(item);
  if (!text.empty() && text.back() == sep)
    out.emplace_back();
  return out;
}

// -- the fake GitHub ----------------------------------------------------------

struct github_profile {
  int64_t id = 0;
  std::string login;
  std::string email_json = "null"; ///< raw JSON: null or "a@b"
  std::string name;
  std::string avatar_url;
};

/// GitHub's OAuth and REST endpoints, checking requests like GitHub would.
/// Problems found in a request are recorded (the handler runs on the fake's
/// threads, where Boost.Test macros are not allowed) and answered with an
/// error, so a test also fails on the status it sees.
class fake_github {
 public:
  enum class exchange_mode {
    ok,
    bad_verification_code,
    server_error,
    slow,
    dropped,
    deep ///< 200 with an array nested 100 000 levels deep
  };
  enum class user_mode { ok, unauthorized };
  enum class emails_mode { ok, server_error };

  fake_github()
      : server_([this](const fake_request& r) { return handle(r); }) {}

  std::string url() const { return server_.url(); }
  const fake_http_server& server() const { return server_; }

  /// What GitHub does when the user approves: a fresh code bound to the
  /// PKCE challenge of the authorize request.
  std::string authorize(const std::string& code_challenge) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto code = "code" + random_text(16);
    codes_[code] = code_challenge;
    return code;
  }

  void reset() {
    std::lock_guard<std::mutex> guard{mtx_};
    exchange_ = exchange_mode::ok;
    user_ = user_mode::ok;
    emails_ = emails_mode::ok;
    problems_.clear();
    server_.clear();
  }

  void set(exchange_mode m) {
    std::lock_guard<std::mutex> guard{mtx_};
    exchange_ = m;
  }
  void set(user_mode m) {
    std::lock_guard<std::mutex> guard{mtx_};
    user_ = m;
  }
  void set(emails_mode m) {
    std::lock_guard<std::mutex> guard{mtx_};
    emails_ = m;
  }
  void set_profile(github_profile p) {
    std::lock_guard<std::mutex> guard{mtx_};
    profile_ = std::move(p);
  }
  void set_emails(std::string json) {
    std::lock_guard<std::mutex> guard{mtx_};
    emails_json_ = std::move(json);
  }

  std::vector<std::string> problems() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return problems_;
  }
  std::vector<std::string> issued_tokens() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return {issued_.begin(), issued_.end()};
  }
  size_t exchanges() const {
    return server_.requests_to("/login/oauth/access_token").size();
  }

 private:
  void problem(const std::string& text) { problems_.push_back(text); }

  fake_response handle(const fake_request& r) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (r.path() == "/login/oauth/access_token")
      return exchange(r);
    if (r.path() == "/user")
      return user(r);
    if (r.path() == "/user/emails")
      return emails(r);
    problem("unexpected request " + r.method + " " + r.target);
    return fake_response::json(404, R"({"message":"Not Found"})");
  }

  fake_response exchange(const fake_request& r) {
    auto fail = [this](const std::string& why) {
      problem("token exchange: " + why);
      return fake_response::json(
        200,
        R"({"error":"fake_check_failed","error_description":")" + why + "\"}");
    };
    if (r.method != "POST")
      return fail("method " + r.method);
    if (!contains(r.header("Accept"), "application/json"))
      return fail("Accept is '" + r.header("Accept") + "'");
    if (!contains(r.header("Content-Type"),
                  "application/x-www-form-urlencoded"))
      return fail("Content-Type is '" + r.header("Content-Type") + "'");
    if (r.target.find('?') != std::string::npos)
      return fail("parameters in the URL: " + r.target);
    auto form = parse_pairs(r.body);
    if (value_of(form, "client_id") != client_id)
      return fail("client_id " + value_of(form, "client_id"));
    if (value_of(form, "client_secret") != client_secret)
      return fail("client_secret is wrong");
    if (value_of(form, "redirect_uri") != callback_url)
      return fail("redirect_uri " + value_of(form, "redirect_uri"));
    auto code = codes_.find(value_of(form, "code"));
    if (code == codes_.end())
      return fail("unknown or used code " + value_of(form, "code"));
    auto challenge = code->second;
    codes_.erase(code); // single use, like GitHub
    auto verifier = value_of(form, "code_verifier");
    if (verifier.size() < 43 || verifier.size() > 128)
      return fail("code_verifier length " + std::to_string(verifier.size()));
    if (s256(verifier) != challenge)
      return fail("code_verifier does not hash to the code_challenge");
    switch (exchange_) {
      case exchange_mode::bad_verification_code:
        return fake_response::json(
          200, R"({"error":"bad_verification_code","error_description":)"
               R"("The code passed is incorrect or expired.","error_uri":)"
               R"("https://docs.github.com/apps/troubleshooting"})");
      case exchange_mode::server_error:
        return fake_response::json(500, R"({"message":"Server Error"})");
      case exchange_mode::dropped: {
        fake_response dropped;
        dropped.drop = true;
        return dropped;
      }
      case exchange_mode::deep:
        return fake_response::json(200, std::string(100000, '[') +
                                          std::string(100000, ']'));
      default: break;
    }
    auto token = "gho_" + random_text(36);
    issued_.insert(token);
    auto resp = fake_response::json(
      200, R"({"access_token":")" + token +
             R"(","token_type":"bearer","scope":"read:user,user:email"})");
    if (exchange_ == exchange_mode::slow)
      resp.delay = std::chrono::milliseconds{outbound_timeout_ms + 2000};
    return resp;
  }

  /// Checks an API request; an empty result means it is fine.
  std::string api_problem(const fake_request& r) {
    if (r.method != "GET")
      return "method " + r.method;
    auto auth = r.header("Authorization");
    if (auth.rfind("Bearer ", 0) != 0 && auth.rfind("token ", 0) != 0)
      return "Authorization is '" + auth + "'";
    if (issued_.count(auth.substr(auth.find(' ') + 1)) == 0)
      return "Authorization carries a token this fake never issued";
    if (r.header("User-Agent").empty())
      return "no User-Agent";
    if (r.header("Accept") != "application/vnd.github+json")
      return "Accept is '" + r.header("Accept") + "'";
    return {};
  }

  fake_response user(const fake_request& r) {
    if (auto why = api_problem(r); !why.empty()) {
      problem("GET /user: " + why);
      return fake_response::json(401, R"({"message":"Bad credentials"})");
    }
    if (user_ == user_mode::unauthorized)
      return fake_response::json(401, R"({"message":"Bad credentials"})");
    const auto& p = profile_;
    return fake_response::json(
      200, "{\"login\":\"" + p.login + "\",\"id\":" + std::to_string(p.id) +
             ",\"node_id\":\"MDQ6VXNlcjE=\",\"avatar_url\":\"" + p.avatar_url +
             "\",\"type\":\"User\",\"site_admin\":false,\"name\":\"" + p.name +
             "\",\"company\":null,\"email\":" + p.email_json +
             ",\"public_repos\":3}");
  }

  fake_response emails(const fake_request& r) {
    if (auto why = api_problem(r); !why.empty()) {
      problem("GET /user/emails: " + why);
      return fake_response::json(401, R"({"message":"Bad credentials"})");
    }
    if (emails_ == emails_mode::server_error)
      return fake_response::json(500, R"({"message":"Server Error"})");
    return fake_response::json(200, emails_json_);
  }

  mutable std::mutex mtx_;
  exchange_mode exchange_ = exchange_mode::ok;
  user_mode user_ = user_mode::ok;
  emails_mode emails_ = emails_mode::ok;
  github_profile profile_;
  std::string emails_json_ = "[]";
  std::map<std::string, std::string> codes_; ///< code -> code_challenge
  std::set<std::string> issued_;
  std::vector<std::string> problems_;
  fake_http_server server_; // last: its threads call handle()
};

// -- service instances --------------------------------------------------------

env_map github_env(const fake_github& gh, const std::string& database) {
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

  fake_github github;
  std::string db = create_database();
  service_process proc;

  std::string url(const std::string& path) const {
    return proc.base_url() + path;
  }
};

/// The shared instance, with the fake GitHub back to its defaults.
/// Stops the test, with the tail of its log, when the shared instance exited
/// or began shutting down (e.g. it crashed, or something signalled it).
instance& service() {
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

login_start start_login(http_client& client, const instance& svc,
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

http_response callback(http_client& client, const instance& svc,
                       const std::string& query, const std::string& cookie) {
  header_pairs headers;
  if (!cookie.empty())
    headers.emplace_back("Cookie", cookie);
  return client.get(svc.url("/api/v1/auth/github/callback" + query), headers);
}

std::string callback_query(const std::string& code, const std::string& state) {
  return "?code=" + url_encode(code) + "&state=" + url_encode(state);
}

struct login_result {
  login_start start;
  http_response resp;
  std::string location;
  std::map<std::string, std::string> fragment;
};

/// Start, approve at the fake GitHub, come back: the whole browser dance.
login_result
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

std::atomic<int64_t> next_github_id{7000000};

/// A GitHub id no other test of this run uses.
int64_t fresh_github_id() {
  return next_github_id++;
}

/// Rows of any table of `db` whose text contains `needle`.
long long rows_containing(const std::string& db, const std::string& needle) {
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

std::string chat_list() {
  std::string list;
  for (int i = 0; i < chat_count; ++i)
    list += (i ? "," : "") + std::to_string(first_chat + i);
  return list;
}

/// The Telegram bot with issues from chat (and the LLM when `llm_url` is
/// given) on top of the GitHub login settings.
env_map chat_env(const fake_http_server& telegram, const std::string& llm_url) {
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

fake_response telegram_ok(const fake_request&) {
  return fake_response::json(
    200, R"({"ok":true,"result":{"message_id":1,"date":1767312000}})");
}

std::atomic<int64_t> next_update_id{880000};

/// Posts a private-chat text message to the webhook; the status.
long say(http_client& client, const instance& svc, int64_t chat,
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

} // namespace

// ===================================================================================

BOOST_AUTO_TEST_SUITE(github_login)

BOOST_AUTO_TEST_CASE(
  the_whole_flow_logs_in_with_pkce_and_returns_tokens_in_the_fragment) {
  // The fake's PKCE check itself, on RFC 7636 appendix B's example.
  BOOST_REQUIRE(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  auto& svc = service();
  http_client client;
  github_profile profile{fresh_github_id(), "octo-cat", "\"octo@example.com\"",
                         "Octo Cat", "https://avatars.example/u/1"};
  svc.github.set_profile(profile);

  // 1. The start: a redirect to GitHub's authorize page.
  auto start = start_login(client, svc);
  BOOST_TEST(start.resp.status == 302);
  BOOST_TEST(start.resp.header("Cache-Control") == "no-store");
  BOOST_TEST(start.location_base ==
             svc.github.url() + "/login/oauth/authorize");
  BOOST_TEST(value_of(start.query, "client_id") == client_id);
  BOOST_TEST(value_of(start.query, "redirect_uri") == callback_url);
  BOOST_TEST(value_of(start.query, "scope") == "read:user user:email");
  BOOST_TEST(start.state.size() >= 32u);
  BOOST_TEST(value_of(start.query, "code_challenge_method") == "S256");
  // S256 challenges are 43 base64url characters (32 bytes, no padding).
  BOOST_TEST(std::regex_match(value_of(start.query, "code_challenge"),
                              std::regex{"[A-Za-z0-9_-]{43}"}));
  auto set_cookie = start.resp.header("Set-Cookie");
  BOOST_TEST_MESSAGE("start Set-Cookie: " << set_cookie);
  BOOST_TEST(set_cookie.rfind("miyabi_oauth=", 0) == 0u);
  BOOST_TEST(start.cookie.size() > std::string{"miyabi_oauth="}.size());
  BOOST_TEST(contains(set_cookie, "HttpOnly"));
  BOOST_TEST(contains(set_cookie, "SameSite=Lax"));
  BOOST_TEST(!contains(set_cookie, "Secure")); // development
  BOOST_TEST(contains(set_cookie, "Max-Age=600"));
  // The state lives server-side only as a hash.
  BOOST_TEST(rows_containing(svc.db, start.state) == 0);

  // 2. GitHub sends the browser back with a code.
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto back =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  BOOST_TEST(back.status == 302, back.status << " " << back.body);
  BOOST_TEST(back.header("Cache-Control") == "no-store");
  for (const auto& p : svc.github.problems())
    BOOST_ERROR("fake GitHub: " << p);
  auto location = back.header("Location");
  BOOST_TEST_MESSAGE("callback Location: " << location.substr(0, 60) << "...");
  BOOST_TEST(location.rfind(std::string{frontend} + "/dashboard#", 0) == 0u);
  BOOST_TEST(!contains(location, "?")); // tokens never in the query
  auto hash = location.find('#');
  BOOST_REQUIRE(hash != std::string::npos);
  auto fragment = parse_pairs(location.substr(hash + 1));
  BOOST_TEST(value_of(fragment, "token_type") == "Bearer");
  BOOST_TEST(value_of(fragment, "expires_in") == "3600");
  auto access = value_of(fragment, "access_token");
  auto refresh = value_of(fragment, "refresh_token");
  BOOST_TEST(split(access, '.').size() == 3u);
  BOOST_TEST(refresh.size() >= 32u);
  BOOST_TEST(refresh != "<absent>");
  // The cookie is cleared.
  auto cleared = back.header("Set-Cookie");
  BOOST_TEST_MESSAGE("callback Set-Cookie: " << cleared);
  BOOST_TEST(cleared.rfind("miyabi_oauth=;", 0) == 0u);
  BOOST_TEST((contains(cleared, "Max-Age=0") || contains(cleared, "1970")));

  // What GitHub saw: one exchange, form-encoded, and the profile call.
  auto exchanges = svc.github.server().requests_to("/login/oauth/access_token");
  BOOST_REQUIRE(exchanges.size() == 1u);
  BOOST_TEST(exchanges[0].method == "POST");
  BOOST_TEST(contains(exchanges[0].header("Accept"), "application/json"));
  auto form = parse_pairs(exchanges[0].body);
  BOOST_TEST(value_of(form, "code") == code);
  BOOST_TEST(s256(value_of(form, "code_verifier")) ==
             value_of(start.query, "code_challenge"));
  auto users = svc.github.server().requests_to("/user");
  BOOST_REQUIRE(!users.empty());
  BOOST_TEST(!users[0].header("User-Agent").empty());
  BOOST_TEST(users[0].header("Accept") == "application/vnd.github+json");
  // The profile had a public email: /user/emails is not needed.
  BOOST_TEST(svc.github.server().requests_to("/user/emails").empty());

  // 3. The access token works and shows the GitHub profile.
  auto me = client.get(svc.url("/api/v1/auth/me"), bearer(access));
  BOOST_TEST(me.status == 200, me.body);
  BOOST_TEST(me.header("Cache-Control") == "no-store");
  auto user = parse_object(me.body);
  BOOST_TEST(int_of(user, "github_id") == profile.id);
  BOOST_TEST(text_of(user, "login") == "octo-cat");
  BOOST_TEST(text_of(user, "email") == "octo@example.com");
  BOOST_TEST(text_of(user, "name") == "Octo Cat");
  BOOST_TEST(text_of(user, "avatar_url") == "https://avatars.example/u/1");
  BOOST_TEST(!contains(me.body, "gho_")); // GitHub tokens never returned
  auto user_id = text_of(user, "id");

  // 4. A second login of the same GitHub account, renamed meanwhile,
  // updates the same row.
  profile.login = "octo-renamed";
  svc.github.set_profile(profile);
  auto again = log_in_with_github(client, svc);
  BOOST_TEST(again.resp.status == 302, again.resp.body);
  auto me2 = client.get(svc.url("/api/v1/auth/me"),
                        bearer(value_of(again.fragment, "access_token")));
  BOOST_TEST(me2.status == 200);
  BOOST_TEST(text_of(parse_object(me2.body), "id") == user_id);
  BOOST_TEST(text_of(parse_object(me2.body), "login") == "octo-renamed");
  auto gid = std::to_string(profile.id);
  BOOST_TEST(query_int(svc.db, "SELECT count(*) FROM users WHERE github_id = " +
                                 gid) == 1);
  BOOST_TEST(query_text(svc.db, "SELECT login FROM users WHERE github_id = " +
                                  gid) == "octo-renamed");

  // 5. GitHub's access tokens are stored nowhere and logged nowhere; refresh
  // tokens are stored only hashed; the client secret is never logged.
  auto tokens = svc.github.issued_tokens();
  BOOST_TEST(tokens.size() >= 2u);
  for (const auto& t : tokens) {
    BOOST_TEST(rows_containing(svc.db, t) == 0, "GitHub token in the database");
    for (const auto& line : svc.proc.lines())
      BOOST_TEST(!contains(line, t), "GitHub token in a log line: " << line);
  }
  BOOST_TEST(rows_containing(svc.db, refresh) == 0);
  BOOST_TEST(rows_containing(svc.db, access) == 0);
  for (const auto& line : svc.proc.lines()) {
    BOOST_TEST(!contains(line, client_secret), "secret in a log: " << line);
    BOOST_TEST(!contains(line, refresh), "refresh token in a log: " << line);
  }
}

BOOST_AUTO_TEST_CASE(
  a_user_without_public_email_gets_the_primary_verified_one) {
  auto& svc = service();
  http_client client;
  github_profile profile{fresh_github_id(), "private-mail", "null", "P M",
                         "https://avatars.example/u/2"};
  svc.github.set_profile(profile);
  svc.github.set_emails(
    R"([{"email":"old@example.com","primary":false,"verified":true,"visibility":null},)"
    R"({"email":"unverified@example.com","primary":false,"verified":false,"visibility":null},)"
    R"({"email":"main@example.com","primary":true,"verified":true,"visibility":"private"}])");
  auto login = log_in_with_github(client, svc);
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  for (const auto& p : svc.github.problems())
    BOOST_ERROR("fake GitHub: " << p);
  BOOST_TEST(svc.github.server().requests_to("/user/emails").size() == 1u);
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(value_of(login.fragment, "access_token")));
  BOOST_TEST(me.status == 200);
  BOOST_TEST(text_of(parse_object(me.body), "email") == "main@example.com");
  BOOST_TEST(query_text(svc.db, "SELECT email FROM users WHERE github_id = " +
                                  std::to_string(profile.id)) ==
             "main@example.com");
}

BOOST_AUTO_TEST_CASE(a_failing_emails_call_still_logs_in_with_a_null_email) {
  auto& svc = service();
  http_client client;
  github_profile profile{fresh_github_id(), "no-mail", "null", "N M",
                         "https://avatars.example/u/3"};
  svc.github.set_profile(profile);
  svc.github.set(fake_github::emails_mode::server_error);
  auto login = log_in_with_github(client, svc);
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  BOOST_TEST(svc.github.server().requests_to("/user/emails").size() == 1u);
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(value_of(login.fragment, "access_token")));
  BOOST_TEST(me.status == 200);
  BOOST_TEST(text_of(parse_object(me.body), "email") == "<null>");
  BOOST_TEST(text_of(parse_object(me.body), "login") == "no-mail");
}

BOOST_AUTO_TEST_CASE(the_login_cookie_is_found_among_other_cookies) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "cookie-jar", "\"c@example.com\"",
                          "C", "https://avatars.example/u/5"});
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto back =
    callback(client, svc, callback_query(code, start.state),
             "_ga=GA1.1.123.456; theme=dark; " + start.cookie + "; lang=en");
  BOOST_TEST(back.status == 302, back.body);
  BOOST_TEST(back.header("Location")
               .rfind(std::string{frontend} + "/dashboard#access_token=", 0) ==
             0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(login_state)

BOOST_AUTO_TEST_CASE(a_wrong_state_is_refused_without_calling_github) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto wrong_state = start.state;
  wrong_state[0] = wrong_state[0] == 'A' ? 'B' : 'A';
  auto resp =
    callback(client, svc, callback_query(code, wrong_state), start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_state_is_single_use) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "reuser", "\"r@example.com\"", "R",
                          "https://avatars.example/u/4"});
  http_client client;
  auto first = log_in_with_github(client, svc);
  BOOST_REQUIRE(first.resp.status == 302);
  BOOST_TEST(svc.github.exchanges() == 1u);
  auto code =
    svc.github.authorize(value_of(first.start.query, "code_challenge"));
  auto resp = callback(client, svc, callback_query(code, first.start.state),
                       first.start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
}

BOOST_AUTO_TEST_CASE(a_state_raced_by_two_callbacks_is_used_once) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "double-click",
                          "\"d@example.com\"", "D", "https://a.example/d"});
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto query = callback_query(code, start.state);
  std::array<http_response, 2> answers;
  std::vector<std::thread> tabs;
  for (size_t i = 0; i < answers.size(); ++i)
    tabs.emplace_back([&, i] {
      http_client tab;
      answers[i] = callback(tab, svc, query, start.cookie);
    });
  for (auto& t : tabs)
    t.join();
  auto ok =
    std::count_if(answers.begin(), answers.end(),
                  [](const http_response& r) { return r.status == 302; });
  BOOST_TEST(ok == 1, answers[0].status << " and " << answers[1].status);
  for (const auto& r : answers)
    if (r.status != 302)
      check_envelope(r, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
}

BOOST_AUTO_TEST_CASE(a_denied_authorization_is_a_400_without_calling_github) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  // What GitHub sends back when the user clicks "Cancel".
  auto resp = callback(client, svc,
                       "?error=access_denied&error_description=The+user+has+"
                       "denied+your+application+access.&state=" +
                         url_encode(start.state),
                       start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_long_or_non_utf8_github_error_keeps_the_envelope_utf8) {
  auto& svc = service();
  http_client client;
  std::string refused;
  for (int i = 0; i < 60; ++i)
    refused += "\xe6\x8b\x92"; // 拒, 180 bytes in all
  auto resp = client.get(svc.url("/api/v1/auth/github/callback?error=") +
                         url_encode(refused));
  check_envelope(resp, 400, "validation_error");
  // The echoed text is cut to 100 bytes on a character boundary (99 here):
  // the envelope is strict UTF-8.
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(resp.body.c_str(),
                                                   resp.body.size());
  BOOST_REQUIRE(!doc.HasParseError());
  auto message = text_of(doc, "message");
  BOOST_TEST(contains(message, refused.substr(0, 99)), message);
  BOOST_TEST(!contains(message, refused.substr(0, 102)), message);
  // Bytes that are not UTF-8 are refused, naming the parameter.
  auto bad = client.get(svc.url("/api/v1/auth/github/callback?error=no%FF"));
  check_envelope(bad, 400, "validation_error");
  BOOST_TEST(contains(text_of(parse_object(bad.body), "details"), "error"),
             bad.body);
}

BOOST_AUTO_TEST_CASE(an_expired_state_is_refused_without_calling_github) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  // Age every open state: the service stores states hashed, so the test
  // cannot pick its own row; the other open ones are leftovers of earlier
  // failure tests that nobody uses again.
  exec_sql(svc.db, "UPDATE oauth_states SET expires_at = now() - interval "
                   "'1 minute' WHERE expires_at > now()");
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto resp =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_state_used_with_another_browsers_cookie_is_refused) {
  auto& svc = service();
  http_client browser_a;
  http_client browser_b;
  auto a = start_login(browser_a, svc);
  auto b = start_login(browser_b, svc);
  BOOST_REQUIRE(a.resp.status == 302);
  BOOST_REQUIRE(b.resp.status == 302);
  BOOST_TEST(a.cookie != b.cookie);
  BOOST_TEST(a.state != b.state);
  auto code = svc.github.authorize(value_of(a.query, "code_challenge"));
  auto resp = callback(browser_b, svc, callback_query(code, a.state), b.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_callback_without_the_cookie_is_refused) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto resp = callback(client, svc, callback_query(code, start.state), "");
  check_envelope(resp, 400, "validation_error");
  // A cookie of another name does not count either.
  auto other = callback(client, svc, callback_query(code, start.state),
                        "session=" + start.cookie.substr(13));
  check_envelope(other, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_callback_without_code_or_state_is_refused) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  for (auto query : {"?state=" + url_encode(start.state), "?code=" + code,
                     "?code=&state=" + url_encode(start.state),
                     "?code=" + code + "&state=", std::string{}}) {
    BOOST_TEST_INFO("query " << query);
    check_envelope(callback(client, svc, query, start.cookie), 400,
                   "validation_error");
  }
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(redirect_target)

BOOST_AUTO_TEST_CASE(only_a_relative_path_is_accepted_as_redirect) {
  auto& svc = service();
  http_client client;
  for (auto bad : {"//evil.example", "https://evil.example", "/\\evil", "evil",
                   "/\\/evil.example", "///evil.example"}) {
    BOOST_TEST_INFO("redirect " << bad);
    auto resp =
      client.get(svc.url("/api/v1/auth/github?redirect=") + url_encode(bad));
    check_envelope(resp, 400, "validation_error");
    BOOST_TEST(!resp.has_header("Location"));
  }
  for (auto good : {"/", "/x?y=1"}) {
    BOOST_TEST_INFO("redirect " << good);
    auto resp =
      client.get(svc.url("/api/v1/auth/github?redirect=") + url_encode(good));
    BOOST_TEST(resp.status == 302);
  }
}

BOOST_AUTO_TEST_CASE(a_redirect_that_is_not_utf8_is_a_400_naming_it) {
  auto& svc = service();
  http_client client;
  // The redirect is stored (a SQL text parameter) until the callback; these
  // were 500s (SQLSTATE 22021).
  for (auto bad : {"/\xff", "/\xed\xb1\x8d", "/\xc0\xaf", "/caf\xc3"}) {
    BOOST_TEST_INFO("redirect " << url_encode(bad));
    auto resp =
      client.get(svc.url("/api/v1/auth/github?redirect=") + url_encode(bad));
    check_envelope(resp, 400, "validation_error");
    BOOST_TEST(
      contains(text_of(parse_object(resp.body), "details"), "redirect"),
      resp.body);
    BOOST_TEST(!resp.has_header("Location"));
  }
  auto resp = client.get(svc.url("/api/v1/auth/github?redirect=") +
                         url_encode("/\xe3\x83\x80\xc3\xa9"));
  BOOST_TEST(resp.status == 302, resp.body);
}

BOOST_AUTO_TEST_CASE(the_frontend_redirect_keeps_the_path_and_its_query) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "query-keeper",
                          "\"q@example.com\"", "Q", "https://a.example/q"});
  http_client client;
  auto login =
    log_in_with_github(client, svc, "?redirect=" + url_encode("/x?y=1"));
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  BOOST_TEST(login.location.rfind(
               std::string{frontend} + "/x?y=1#access_token=", 0) == 0u);
  // Without a redirect the user lands on the frontend's root.
  auto plain = log_in_with_github(client, svc, "");
  BOOST_TEST(plain.resp.status == 302, plain.resp.body);
  BOOST_TEST(
    plain.location.rfind(std::string{frontend} + "/#access_token=", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(github_failures)

BOOST_AUTO_TEST_CASE(an_exchange_answered_200_with_an_error_is_a_400) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::bad_verification_code);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 400, "validation_error");
  auto doc = parse_object(login.resp.body);
  BOOST_TEST((contains(text_of(doc, "message"), "bad_verification_code") ||
              contains(text_of(doc, "details"), "bad_verification_code")),
             login.resp.body);
  BOOST_TEST(svc.github.exchanges() == 1u);
  BOOST_TEST(svc.github.server().requests_to("/user").empty());
  for (const auto& p : svc.github.problems())
    BOOST_ERROR("fake GitHub: " << p);
}

BOOST_AUTO_TEST_CASE(an_exchange_answered_500_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::server_error);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(!contains(login.resp.body, "Server Error")); // no upstream text
}

BOOST_AUTO_TEST_CASE(an_exchange_whose_connection_drops_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::dropped);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
}

BOOST_AUTO_TEST_CASE(
  an_exchange_answered_with_json_nested_100000_deep_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::deep);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
  BOOST_TEST(health_status(svc.proc) == 200); // still up
}

BOOST_AUTO_TEST_CASE(an_exchange_that_times_out_is_a_502_within_the_deadline) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::slow);
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto began = steady_clock::now();
  auto resp =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    steady_clock::now() - began);
  BOOST_TEST_MESSAGE("slow GitHub: answered " << resp.status << " after "
                                              << took.count() << " ms");
  check_envelope(resp, 502, "external_api_error");
  BOOST_TEST(took.count() < outbound_timeout_ms + 1000);
}

BOOST_AUTO_TEST_CASE(a_profile_call_answered_401_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::user_mode::unauthorized);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(svc.github.server().requests_to("/user").size() == 1u);
}

BOOST_AUTO_TEST_CASE(without_client_id_and_secret_github_login_is_unavailable) {
  auto db = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "1";
  service_process proc{env};
  http_client client;
  check_envelope(client.get(proc.base_url() + "/api/v1/auth/github"), 503,
                 "service_unavailable");
  check_envelope(
    client.get(proc.base_url() + "/api/v1/auth/github?redirect=%2Fdashboard"),
    503, "service_unavailable");
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(mock_login_route)

BOOST_AUTO_TEST_CASE(mock_login_upserts_the_user_and_returns_a_token_response) {
  auto& svc = service();
  http_client client;
  auto gid = fresh_github_id();
  auto resp = client.post_json(svc.url("/api/v1/auth/mock"),
                               R"({"github_id":)" + std::to_string(gid) +
                                 R"(,"email":"m@example.com","name":"Mock"})");
  BOOST_TEST(resp.status == 200, resp.body);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  BOOST_TEST(resp.header("Cache-Control") == "no-store");
  auto doc = parse_object(resp.body);
  BOOST_TEST(split(text_of(doc, "access_token"), '.').size() == 3u);
  BOOST_TEST(text_of(doc, "refresh_token").size() >= 32u);
  BOOST_TEST(text_of(doc, "token_type") == "Bearer");
  BOOST_TEST(int_of(doc, "expires_in") == 3600);
  BOOST_REQUIRE(doc.HasMember("user") && doc["user"].IsObject());
  const auto& user = doc["user"];
  std::regex uuid{
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"};
  std::regex rfc3339{R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)"};
  BOOST_TEST(std::regex_match(text_of(user, "id"), uuid));
  BOOST_TEST(int_of(user, "github_id") == gid);
  BOOST_TEST(text_of(user, "login") == "user" + std::to_string(gid));
  BOOST_TEST(text_of(user, "email") == "m@example.com");
  BOOST_TEST(text_of(user, "name") == "Mock");
  BOOST_TEST(user.HasMember("avatar_url"));
  BOOST_TEST(std::regex_match(text_of(user, "created_at"), rfc3339));
  BOOST_TEST(std::regex_match(text_of(user, "updated_at"), rfc3339));
  BOOST_TEST(user.MemberCount() == 8u);
  // Again with the same github_id and a login: the same row, updated.
  auto again =
    client.post_json(svc.url("/api/v1/auth/mock"),
                     R"({"github_id":)" + std::to_string(gid) +
                       R"(,"email":"m2@example.com","login":"mocky"})");
  BOOST_TEST(again.status == 200, again.body);
  auto doc2 = parse_object(again.body);
  BOOST_TEST(text_of(doc2["user"], "id") == text_of(user, "id"));
  BOOST_TEST(text_of(doc2["user"], "login") == "mocky");
  BOOST_TEST(text_of(doc2, "refresh_token") != text_of(doc, "refresh_token"));
  BOOST_TEST(query_int(svc.db, "SELECT count(*) FROM users WHERE github_id = " +
                                 std::to_string(gid)) == 1);
  // The token works.
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(text_of(doc2, "access_token")));
  BOOST_TEST(me.status == 200);
  BOOST_TEST(text_of(parse_object(me.body), "email") == "m2@example.com");
}

BOOST_AUTO_TEST_CASE(mock_login_validates_its_body) {
  auto& svc = service();
  http_client client;
  auto url = svc.url("/api/v1/auth/mock");
  auto no_id = client.post_json(url, R"({"email":"a@example.com"})");
  check_envelope(no_id, 422, "unprocessable_entity");
  BOOST_TEST(
    contains(text_of(parse_object(no_id.body), "details"), "github_id"));
  auto no_email = client.post_json(url, R"({"github_id":5})");
  check_envelope(no_email, 422, "unprocessable_entity");
  BOOST_TEST(
    contains(text_of(parse_object(no_email.body), "details"), "email"));
  auto wrong_type =
    client.post_json(url, R"({"github_id":"5","email":"a@b.c"})");
  check_envelope(wrong_type, 422, "unprocessable_entity");
  check_envelope(client.post_json(url, R"({"github_id":5,"email":)"), 400,
                 "validation_error");
  check_envelope(client.post_json(url, R"({"github_id":5,"email":"a@b.c"})",
                                  {{"Content-Type", "text/plain"}}),
                 415, "unsupported_media_type");
}

BOOST_AUTO_TEST_CASE(
  under_production_rules_mock_login_is_not_found_and_the_cookie_is_secure) {
  for (auto environment : {"production", "staging"}) {
    BOOST_TEST_INFO(environment);
    fake_github github;
    auto env = github_env(github, create_database());
    env["ENVIRONMENT"] = environment;
    env["LOG_LEVEL"] = "info";
    // Production refuses plain http:// for GitHub; the login start only
    // redirects there, nothing connects to it.
    env["GITHUB_OAUTH_URL"] = "https://github.example";
    env["GITHUB_API_URL"] = "https://api.github.example";
    BOOST_REQUIRE(env["AUTH_MOCK_ENABLED"] == "true"); // ignored here
    BOOST_REQUIRE(env["JWT_SECRET"].size() >= 32u);
    service_process proc{env};
    http_client client;
    auto resp = client.post_json(proc.base_url() + "/api/v1/auth/mock",
                                 R"({"github_id":77,"email":"p@example.com"})");
    check_envelope(resp, 404, "not_found");
    auto start =
      client.get(proc.base_url() + "/api/v1/auth/github?redirect=%2Fdashboard");
    BOOST_TEST(start.status == 302);
    BOOST_TEST(start.header("Location")
                 .rfind("https://github.example/login/oauth/", 0) == 0);
    BOOST_TEST(contains(start.header("Set-Cookie"), "Secure"));
    BOOST_TEST(contains(start.header("Set-Cookie"), "HttpOnly"));
  }
}

BOOST_AUTO_TEST_CASE(in_test_the_login_cookie_is_not_secure) {
  auto& svc = service();
  http_client client;
  auto start = client.get(svc.url("/api/v1/auth/github?redirect=%2Fdashboard"));
  BOOST_TEST(start.status == 302);
  BOOST_TEST(contains(start.header("Set-Cookie"), "HttpOnly"));
  BOOST_TEST(!contains(start.header("Set-Cookie"), "Secure"));
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(bearer_rules)

BOOST_AUTO_TEST_CASE(
  a_missing_or_malformed_authorization_is_an_authentication_error) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto me = svc.url("/api/v1/auth/me");
  check_envelope(client.get(me), 401, "authentication_error");
  for (const auto& value : std::vector<std::string>{
         "Basic xyz", "Basic " + user.access, "Bearer", "Bearer ",
         "Bearer " + user.access + " " + user.access, "Token " + user.access,
         user.access}) {
    BOOST_TEST_INFO("Authorization: " << value.substr(0, 30));
    check_envelope(client.get(me, {{"Authorization", value}}), 401,
                   "authentication_error");
  }
}

BOOST_AUTO_TEST_CASE(the_bearer_scheme_is_case_insensitive) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  for (auto scheme : {"bearer ", "BEARER ", "Bearer "}) {
    BOOST_TEST_INFO(scheme);
    auto resp = client.get(svc.url("/api/v1/auth/me"),
                           {{"Authorization", scheme + user.access}});
    BOOST_TEST(resp.status == 200, resp.body);
  }
}

BOOST_AUTO_TEST_CASE(tokens_failing_any_check_are_a_jwt_error) {
  auto& svc = service();
  http_client client;
  auto gid = fresh_github_id();
  auto user = mock_login(client, svc.proc.base_url(), gid);
  auto now = unix_now();
  auto good_claims = claims_json(user.id, gid);
  auto good = pyjwt_encode(good_claims);
  auto parts = split(good, '.');
  BOOST_REQUIRE(parts.size() == 3u);
  auto sig = parts[2];
  auto flipped = sig;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  std::string none_header = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  auto other_sub = claims_json(user.id, gid + 1);
  std::vector<std::pair<std::string, std::string>> cases{
    {"garbage", "not-a-jwt"},
    {"two segments", parts[0] + "." + parts[1]},
    {"tampered signature", parts[0] + "." + parts[1] + "." + flipped},
    {"tampered payload",
     parts[0] + "." + base64url_encode(other_sub) + "." + sig},
    {"alg none, no signature", none_header + "." + parts[1] + "."},
    {"alg none, old signature", none_header + "." + parts[1] + "." + sig},
    {"HS512", pyjwt_encode(good_claims, jwt_secret(), "HS512")},
    {"other secret",
     pyjwt_encode(good_claims, "another-secret-0123456789abcdefghij")},
    {"expired",
     pyjwt_encode(claims_json(user.id, gid,
                              {{"exp", std::to_string(now - 120)},
                               {"iat", std::to_string(now - 3720)},
                               {"nbf", std::to_string(now - 3720)}}))},
    {"not yet valid",
     pyjwt_encode(claims_json(user.id, gid,
                              {{"nbf", std::to_string(now + 600)},
                               {"exp", std::to_string(now + 1200)}}))},
    {"wrong aud",
     pyjwt_encode(claims_json(user.id, gid, {{"aud", "\"other-web\""}}))},
    {"wrong iss",
     pyjwt_encode(claims_json(user.id, gid, {{"iss", "\"someone-else\""}}))},
    {"no exp", pyjwt_encode(claims_json(user.id, gid, {{"exp", ""}}))},
    {"no jti", pyjwt_encode(claims_json(user.id, gid, {{"jti", ""}}))},
    {"lone low surrogate in jti",
     pyjwt_encode(claims_json(user.id, gid, {{"jti", R"("\udc4d")"}}))},
    {"padding", good + "="},
    {"non-base64url character", parts[0] + "." + parts[1] + "." + sig + "*"},
    {"huge", good + std::string(10000 - good.size(), 'A')},
  };
  for (const auto& [what, token] : cases) {
    BOOST_TEST_INFO(what);
    auto resp = client.get(svc.url("/api/v1/auth/me"), bearer(token));
    check_envelope(resp, 401, "jwt_error");
  }
  // The control: the same claims, untampered, pass.
  auto ok = client.get(svc.url("/api/v1/auth/me"), bearer(good));
  BOOST_TEST(ok.status == 200, ok.body);
}

BOOST_AUTO_TEST_CASE(
  tokens_made_by_pyjwt_verify_and_the_services_decode_in_pyjwt) {
  auto& svc = service();
  http_client client;
  auto gid = fresh_github_id();
  auto user = mock_login(client, svc.proc.base_url(), gid);
  // PyJWT -> service.
  auto token = pyjwt_encode(claims_json(user.id, gid));
  auto me = client.get(svc.url("/api/v1/auth/me"), bearer(token));
  BOOST_TEST(me.status == 200, me.body);
  BOOST_TEST(text_of(parse_object(me.body), "id") == user.id);
  // Within the 30 s leeway: expired 10 s ago, valid only in 10 s.
  auto now = unix_now();
  for (const auto& [what, over] :
       std::vector<std::pair<std::string, std::map<std::string, std::string>>>{
         {"exp 10 s ago",
          {{"exp", std::to_string(now - 10)},
           {"iat", std::to_string(now - 3610)},
           {"nbf", std::to_string(now - 3610)}}},
         {"nbf in 10 s", {{"nbf", std::to_string(now + 10)}}},
       }) {
    BOOST_TEST_INFO(what);
    auto resp =
      client.get(svc.url("/api/v1/auth/me"),
                 bearer(pyjwt_encode(claims_json(user.id, gid, over))));
    BOOST_TEST(resp.status == 200, resp.body);
  }
  // Service -> PyJWT: signature, iss, aud and exp checked by PyJWT.
  auto decoded =
    python("import jwt,json,sys; h=jwt.get_unverified_header(sys.argv[1]);"
           " c=jwt.decode(sys.argv[1], sys.argv[2], algorithms=[\"HS256\"],"
           " audience=\"miyabi-web\", issuer=\"miyabi-api\","
           " options={\"require\":[\"exp\",\"iat\",\"nbf\",\"sub\",\"jti\"]});"
           " print(json.dumps({\"header\":h,\"claims\":c}))",
           {user.access, jwt_secret()});
  auto doc = parse_object(decoded);
  BOOST_TEST(text_of(doc["header"], "alg") == "HS256");
  BOOST_TEST(text_of(doc["header"], "typ") == "JWT");
  const auto& c = doc["claims"];
  BOOST_TEST(text_of(c, "sub") == user.id);
  BOOST_TEST(int_of(c, "github_id") == gid);
  BOOST_TEST(int_of(c, "exp") - int_of(c, "iat") == 3600);
  BOOST_TEST(std::regex_match(text_of(c, "jti"), std::regex{"[0-9a-f-]{36}"}));
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(refresh_and_logout)

BOOST_AUTO_TEST_CASE(refresh_rotates_and_a_reused_token_revokes_its_family) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto url = svc.url("/api/v1/auth/refresh");
  auto body = [](const std::string& t) {
    return R"({"refresh_token":")" + t + "\"}";
  };
  auto first = client.post_json(url, body(user.refresh));
  BOOST_TEST(first.status == 200, first.body);
  BOOST_TEST(first.header("Cache-Control") == "no-store");
  auto pair = parse_object(first.body);
  auto next = text_of(pair, "refresh_token");
  BOOST_TEST(next != user.refresh);
  BOOST_TEST(text_of(pair, "token_type") == "Bearer");
  BOOST_TEST(text_of(pair["user"], "id") == user.id);
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(text_of(pair, "access_token")));
  BOOST_TEST(me.status == 200);
  // The old token again: a reuse. Refused, and the family goes with it.
  check_envelope(client.post_json(url, body(user.refresh)), 401, "jwt_error");
  check_envelope(client.post_json(url, body(next)), 401, "jwt_error");
  // Unknown token, missing field, malformed JSON.
  check_envelope(client.post_json(url, body("unknown-" + random_text(40))), 401,
                 "jwt_error");
  auto missing = client.post_json(url, "{}");
  check_envelope(missing, 422, "unprocessable_entity");
  BOOST_TEST(
    contains(text_of(parse_object(missing.body), "details"), "refresh_token"));
  check_envelope(client.post_json(url, "{\"refresh_token\":"), 400,
                 "validation_error");
}

BOOST_AUTO_TEST_CASE(an_expired_refresh_token_is_refused) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  exec_sql(svc.db, "UPDATE refresh_tokens SET expires_at = now() - interval "
                   "'1 second' WHERE user_id = '" +
                     user.id + "'");
  check_envelope(
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + user.refresh + "\"}"),
    401, "jwt_error");
}

BOOST_AUTO_TEST_CASE(logout_revokes_the_access_token_and_the_refresh_token) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto me = svc.url("/api/v1/auth/me");
  BOOST_TEST(client.get(me, bearer(user.access)).status == 200);
  auto out = client.post_json(svc.url("/api/v1/auth/logout"),
                              R"({"refresh_token":")" + user.refresh + "\"}",
                              bearer(user.access));
  BOOST_TEST(out.status == 204, out.body);
  BOOST_TEST(out.body.empty());
  check_envelope(client.get(me, bearer(user.access)), 401, "jwt_error");
  check_envelope(
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + user.refresh + "\"}"),
    401, "jwt_error");
  // A second logout with the revoked token is refused too.
  check_envelope(
    client.post_json(svc.url("/api/v1/auth/logout"), "{}", bearer(user.access)),
    401, "jwt_error");
}

BOOST_AUTO_TEST_CASE(logout_cannot_revoke_another_users_refresh_token) {
  auto& svc = service();
  http_client client;
  auto mallory = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto alice = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto out = client.post_json(svc.url("/api/v1/auth/logout"),
                              R"({"refresh_token":")" + alice.refresh + "\"}",
                              bearer(mallory.access));
  BOOST_TEST(out.status == 204, out.body);
  auto refreshed =
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + alice.refresh + "\"}");
  BOOST_TEST(refreshed.status == 200, refreshed.body);
  BOOST_TEST(
    client.get(svc.url("/api/v1/auth/me"), bearer(alice.access)).status == 200);
}

BOOST_AUTO_TEST_CASE(logout_without_a_body_also_succeeds_and_needs_a_bearer) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto logout = svc.url("/api/v1/auth/logout");
  check_envelope(client.request("POST", logout), 401, "authentication_error");
  auto out = client.request("POST", logout, "", bearer(user.access));
  BOOST_TEST(out.status == 204, out.body);
  check_envelope(client.get(svc.url("/api/v1/auth/me"), bearer(user.access)),
                 401, "jwt_error");
  // The refresh token was not named, so it still rotates.
  auto refreshed =
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + user.refresh + "\"}");
  BOOST_TEST(refreshed.status == 200, refreshed.body);
}

BOOST_AUTO_TEST_CASE(a_logout_is_seen_by_a_second_process_within_seconds) {
  auto db = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "2";
  service_process a{env};
  service_process b{env};
  http_client client;
  auto user = mock_login(client, a.base_url(), fresh_github_id());
  BOOST_TEST(
    client.get(a.base_url() + "/api/v1/auth/me", bearer(user.access)).status ==
    200);
  BOOST_TEST(
    client.get(b.base_url() + "/api/v1/auth/me", bearer(user.access)).status ==
    200);
  auto out = client.request("POST", a.base_url() + "/api/v1/auth/logout", "",
                            bearer(user.access));
  BOOST_REQUIRE(out.status == 204);
  auto began = steady_clock::now();
  http_response last;
  bool refused = eventually(
    [&] {
      last = client.get(b.base_url() + "/api/v1/auth/me", bearer(user.access));
      return last.status == 401;
    },
    5s, 25ms);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    steady_clock::now() - began);
  BOOST_TEST_MESSAGE("process B refused the logged-out token after "
                     << took.count() << " ms");
  BOOST_TEST(refused, "B still accepts the token after 5 s");
  if (refused)
    check_envelope(last, 401, "jwt_error");
  check_envelope(
    client.get(a.base_url() + "/api/v1/auth/me", bearer(user.access)), 401,
    "jwt_error");
}

BOOST_AUTO_TEST_CASE(
  a_process_started_after_a_logout_refuses_the_token_at_once) {
  auto db = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "2";
  http_client client;
  mock_user user;
  {
    service_process a{env};
    user = mock_login(client, a.base_url(), fresh_github_id());
    auto out = client.request("POST", a.base_url() + "/api/v1/auth/logout", "",
                              bearer(user.access));
    BOOST_REQUIRE(out.status == 204);
  }
  // A new instance (a restart, a scale-out) must know the revocation from
  // its very first request, not after its first cache refresh.
  service_process fresh{env};
  auto began = steady_clock::now();
  auto first =
    client.get(fresh.base_url() + "/api/v1/auth/me", bearer(user.access));
  BOOST_TEST(first.status == 401,
             "a revoked token was accepted by a new process: " << first.status);
  if (first.status == 401)
    check_envelope(first, 401, "jwt_error");
  else {
    // How long the new process accepted the revoked token.
    bool refused = eventually(
      [&] {
        return client
                 .get(fresh.base_url() + "/api/v1/auth/me", bearer(user.access))
                 .status == 401;
      },
      5s, 10ms);
    BOOST_TEST_MESSAGE("the new process accepted the revoked token for "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(
                            steady_clock::now() - began)
                            .count()
                       << " ms after listening");
    BOOST_TEST(refused);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(auth_metrics)

BOOST_AUTO_TEST_CASE(auth_failures_issued_tokens_and_github_calls_are_counted) {
  auto& svc = service();
  http_client client;
  auto metrics = [&] {
    return client.get(svc.url("/metrics")).body;
  };
  auto issued_before =
    metric_sample(metrics(), "miyabi_auth_tokens_issued_total");
  BOOST_TEST(issued_before >= 0);

  // A failed verification: a tampered signature.
  auto gid = fresh_github_id();
  auto user = mock_login(client, svc.proc.base_url(), gid);
  auto bad = user.access.substr(0, user.access.size() - 8) + "AAAAAAAA";
  BOOST_TEST(client.get(svc.url("/api/v1/auth/me"), bearer(bad)).status == 401);

  // A GitHub login.
  svc.github.set_profile({fresh_github_id(), "metric-user",
                          "\"metric@example.com\"", "M",
                          "https://a.example/m"});
  auto login = log_in_with_github(client, svc);
  BOOST_TEST(login.resp.status == 302, login.resp.body);

  auto text = metrics();
  auto failures = metric_sample(text, "miyabi_auth_failures_total");
  BOOST_TEST(failures >= 1, "no miyabi_auth_failures_total sample");
  BOOST_TEST(metric_sample(text, "miyabi_auth_failures_total",
                           {"reason=\"bad_signature\""}) >= 1);
  auto issued_after = metric_sample(text, "miyabi_auth_tokens_issued_total");
  BOOST_TEST(issued_after >= issued_before + 2); // mock + GitHub login
  BOOST_TEST(metric_sample(text, "miyabi_outbound_requests_total",
                           {"code=\"200\"", "service=\"github\""}) >=
             2); // the exchange and /user
  BOOST_TEST(metric_sample(text,
                           "miyabi_outbound_request_duration_seconds_count",
                           {"service=\"github\""}) >= 2);
  BOOST_TEST_MESSAGE("issued " << issued_before << " -> " << issued_after);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(outbound_isolation)

BOOST_AUTO_TEST_CASE(twenty_held_llm_calls_do_not_delay_a_github_login) {
  // Declared before the service, so they outlive it.
  held_fake llm{fake_response::json(500, R"({"error":{"message":"busy"}})")};
  fake_http_server telegram{telegram_ok};
  instance svc{chat_env(telegram, llm.url())};
  http_client client;
  // Twenty chat messages, each becoming an LLM call (one per chat: the
  // per-chat hourly limit is not what this is about). The outbox runs one
  // batch of tasks at a time: while the first message's call is held, the
  // other nineteen queue up, and are then taken together.
  const std::string llm_path = "/v1/chat/completions";
  auto message = [&](int i) {
    return say(client, svc, first_chat + i,
               "please add a dark mode, variant " + std::to_string(i));
  };
  BOOST_REQUIRE(message(0) == 200);
  BOOST_REQUIRE(llm.server().wait_for_requests(llm_path, 1, 15000ms));
  for (int i = 1; i < chat_count; ++i)
    BOOST_REQUIRE(message(i) == 200);
  llm.release_one();
  // The LLM holds every other call: as many as its concurrency limit (4)
  // allows are in flight, the rest wait in the LLM's queue.
  if (!llm.server().wait_for_requests(llm_path, 1 + 4, 15000ms)) {
    auto lines = svc.proc.lines();
    for (size_t i = lines.size() > 40 ? lines.size() - 40 : 0; i < lines.size();
         ++i)
      BOOST_TEST_MESSAGE("service: " << lines[i]);
    BOOST_FAIL("the LLM got " << llm.server().requests().size()
                              << " calls, not 5");
  }

  svc.github.set_profile({fresh_github_id(), "patient-octo",
                          "\"patient@example.com\"", "Patient",
                          "https://a.example/p"});
  auto began = steady_clock::now();
  auto login = log_in_with_github(client, svc);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    steady_clock::now() - began);
  BOOST_TEST_MESSAGE("GitHub login behind 20 held LLM calls: "
                     << login.resp.status << " after " << took.count()
                     << " ms");
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  BOOST_TEST(!value_of(login.fragment, "access_token").empty());
  BOOST_TEST(took.count() < 2000);
  // Still held: nothing the LLM got since the first call was answered,
  // and it got no more than its limit.
  BOOST_TEST(llm.held() == 4u);
  BOOST_TEST(llm.server().requests().size() == 1u + 4u);
  llm.release();
}

BOOST_AUTO_TEST_CASE(
  a_github_call_whose_deadline_passes_while_queued_is_never_sent) {
  // GitHub's API holds the issue creation; its OAuth side is the usual fake.
  held_fake issues{fake_response::json(
    201,
    R"({"number":7,"html_url":"https://github.com/octo-org/octo-app/issues/7"})")};
  fake_http_server telegram{telegram_ok};
  auto env = chat_env(telegram, {});
  env["GITHUB_API_URL"] = issues.url();
  env["OUTBOUND_GITHUB_CONCURRENCY"] = "1";
  env["OUTBOUND_TIMEOUT_MS"] = "10000";
  env["REQUEST_TIMEOUT_MS"] = "1000";
  instance svc{env};
  http_client client;
  BOOST_REQUIRE(say(client, svc, first_chat, "/issue Held in the queue") ==
                200);
  BOOST_REQUIRE(issues.server().wait_for_requests("/repos/", 1, 15000ms));

  // GitHub's one slot is taken: the login's token exchange waits behind
  // the issue, past the request's deadline.
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto resp =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  BOOST_TEST((resp.status == 504 || resp.status == 502), resp.body);

  // The issue call ends and frees the slot: the expired exchange is
  // dropped, never sent.
  issues.release();
  BOOST_TEST(eventually(
    [&] {
      return metric(svc.proc,
                    "miyabi_outbound_dropped_total{service=\"github\"}") >= 1;
    },
    10000ms));
  BOOST_TEST(svc.github.exchanges() == 0u);
  BOOST_TEST(issues.server().requests().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
