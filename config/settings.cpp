#include "config/settings.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <limits>
#include <sched.h>
#include <sstream>

#include <openssl/rand.h>

#include "base/errors.hpp"
#include "base/text.hpp"

namespace miyabi::config {

namespace {

/// Applies one raw value; returns an error text (without the variable name)
/// or an empty string.
using apply_fn = std::function<std::string(settings&, std::string_view)>;

struct setting_spec {
  setting_doc doc;
  apply_fn apply;
};

size_t available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    auto n = CPU_COUNT(&set);
    if (n > 0)
      return static_cast<size_t>(n);
  }
  return 1;
}

template <class Int>
bool parse_int(std::string_view text, Int& out) {
  text = trim(text);
  if (text.empty())
    return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size();
}

template <class Int>
std::string in_range(std::string_view text, Int lo, Int hi, Int& out) {
  Int value{};
  if (!parse_int(text, value) || value < lo || value > hi)
    return "must be an integer in " + std::to_string(lo) + ".." +
           std::to_string(hi);
  out = value;
  return {};
}

std::string millis(std::string_view text, int64_t lo, int64_t hi,
                   milliseconds& out) {
  int64_t value = 0;
  auto err = in_range<int64_t>(text, lo, hi, value);
  if (err.empty())
    out = milliseconds{value};
  return err;
}

std::string secs(std::string_view text, int64_t lo, int64_t hi, seconds& out) {
  int64_t value = 0;
  auto err = in_range<int64_t>(text, lo, hi, value);
  if (err.empty())
    out = seconds{value};
  return err;
}

std::string url(std::string_view text, std::string& out) {
  text = trim(text);
  bool ok = (text.rfind("http://", 0) == 0 || text.rfind("https://", 0) == 0) &&
            text.size() > 8 &&
            text.find_first_of(" \t\r\n") == std::string_view::npos;
  if (!ok)
    return "must be an http:// or https:// URL";
  out.assign(text);
  while (out.size() > 1 && out.back() == '/')
    out.pop_back(); // Base URLs are joined with paths that start with '/'.
  return {};
}

std::string boolean(std::string_view text, bool& out) {
  text = trim(text);
  if (text == "true" || text == "1") {
    out = true;
  } else if (text == "false" || text == "0" || text.empty()) {
    out = false;
  } else {
    return "must be true or false";
  }
  return {};
}

bool plain_http(const std::string& url) {
  return url.rfind("http://", 0) == 0;
}

caf::error refuse(const std::string& name, const std::string& why) {
  return make_error(errc::validation_error,
                    "invalid setting " + name + ": " + why, name);
}

/// The production rules (production and staging) beyond JWT_SECRET.
caf::error check_production_rules(const settings& cfg) {
  if (!cfg.telegram_bot_token.empty() && cfg.telegram_webhook_secret.empty())
    return refuse("TELEGRAM_WEBHOOK_SECRET",
                  "required when TELEGRAM_BOT_TOKEN is set in production and "
                  "staging");
  const std::pair<const char*, const std::string*> third_parties[] = {
    {"GITHUB_OAUTH_URL", &cfg.github_oauth_url},
    {"GITHUB_API_URL", &cfg.github_api_url},
    {"TELEGRAM_API_URL", &cfg.telegram_api_url},
    {"OPENAI_BASE_URL", &cfg.openai_base_url},
  };
  for (const auto& [name, value] : third_parties)
    if (plain_http(*value))
      return refuse(name, "must be an https:// URL in production and staging");
  return {};
}

std::string text_value(std::string_view text, std::string& out) {
  out.assign(trim(text));
  return {};
}

std::string non_empty_text(std::string_view text, std::string& out) {
  text = trim(text);
  if (text.empty())
    return "must not be empty";
  out.assign(text);
  return {};
}

bool valid_origin(std::string_view origin) {
  return (origin.rfind("http://", 0) == 0 ||
          origin.rfind("https://", 0) == 0) &&
         origin.find_first_of(" \t/", 8) == std::string_view::npos &&
         origin.size() > 8;
}

std::string cors_origins(settings& cfg, std::string_view text) {
  cfg.cors_allowed_origins.clear();
  text = trim(text);
  if (text == "*" || text.empty())
    return {};
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{}
                                           : text.substr(comma + 1);
    if (item.empty())
      continue;
    if (item == "*")
      return "mixes * with explicit origins";
    if (!valid_origin(item))
      return "each origin must look like https://host[:port] (no path)";
    cfg.cors_allowed_origins.emplace_back(item);
  }
  return {};
}

std::string chat_ids(settings& cfg, std::string_view text) {
  cfg.authorized_chat_ids.clear();
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{}
                                           : text.substr(comma + 1);
    if (item.empty())
      continue;
    int64_t id = 0;
    if (!parse_int(item, id))
      return "must be a comma-separated list of integer chat ids";
    cfg.authorized_chat_ids.push_back(id);
  }
  return {};
}

/// HOST:PORT into `host` and `port` (0 picks a free port).
std::string host_port(std::string_view text, std::string_view example,
                      std::string& host, uint16_t& port) {
  text = trim(text);
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return "must be HOST:PORT, e.g. " + std::string{example};
  auto err = in_range<uint16_t>(text.substr(colon + 1), 0, 65535, port);
  if (!err.empty())
    return "port " + err;
  host.assign(text.substr(0, colon));
  return {};
}

std::string server_address(settings& cfg, std::string_view text) {
  return host_port(text, "0.0.0.0:8080", cfg.bind_host, cfg.port);
}

std::string metrics_address(settings& cfg, std::string_view text) {
  if (trim(text).empty()) {
    cfg.metrics_host.clear();
    return {};
  }
  return host_port(text, "127.0.0.1:9464", cfg.metrics_host, cfg.metrics_port);
}

std::string log_level(settings& cfg, std::string_view text) {
  if (!log::parse_level(text, cfg.log_level))
    return "must be one of debug, info, warn, error";
  return {};
}

/// Setters of one field, for the table below.
template <class Int>
apply_fn number(Int settings::*field, Int lo, Int hi) {
  return [=](settings& c, std::string_view v) {
    return in_range<Int>(v, lo, hi, c.*field);
  };
}

apply_fn milliseconds_of(milliseconds settings::*field, int64_t lo,
                         int64_t hi) {
  return [=](settings& c, std::string_view v) {
    return millis(v, lo, hi, c.*field);
  };
}

apply_fn seconds_of(seconds settings::*field, int64_t lo, int64_t hi) {
  return [=](settings& c, std::string_view v) {
    return secs(v, lo, hi, c.*field);
  };
}

apply_fn text_of(std::string settings::*field) {
  return [=](settings& c, std::string_view v) {
    return text_value(v, c.*field);
  };
}

apply_fn required_text_of(std::string settings::*field) {
  return [=](settings& c, std::string_view v) {
    return non_empty_text(v, c.*field);
  };
}

apply_fn url_of(std::string settings::*field) {
  return [=](settings& c, std::string_view v) {
    return url(v, c.*field);
  };
}

apply_fn flag_of(bool settings::*field) {
  return [=](settings& c, std::string_view v) {
    return boolean(v, c.*field);
  };
}

const std::vector<setting_spec>& specs() {
  // Order matters where two variables set the same thing: the later wins
  // (PORT over SERVER_ADDRESS, LOG_LEVEL over RUST_LOG).
  static const std::vector<setting_spec> table = {
    {{"SERVER_ADDRESS", "0.0.0.0:8080", "Address to listen on (HOST:PORT)"},
     server_address},
    {{"PORT", "8080",
      "Port to listen on (0: any free port); wins over SERVER_ADDRESS's port"},
     number<uint16_t>(&settings::port, 0, 65535)},
    {{"ENVIRONMENT", "production",
      "production, staging, development or test; production and staging "
      "follow the production rules (HSTS, Secure cookies, strict secrets, "
      "https:// third parties, no /auth/mock)"},
     [](settings& c, std::string_view v) -> std::string {
       v = trim(v);
       for (auto e : {environment::production, environment::staging,
                      environment::development, environment::test}) {
         if (v == to_string(e)) {
           c.env = e;
           return {};
         }
       }
       return "must be production, staging, development or test";
     }},
    {{"RUST_LOG", "info", "Accepted for compatibility; LOG_LEVEL wins"},
     log_level},
    {{"LOG_LEVEL", "info", "debug, info, warn or error"}, log_level},
    {{"HTTP_THREADS", "CPUs available", "Pistache reactor threads"},
     number<size_t>(&settings::http_threads, 1, 256)},
    {{"ACTOR_THREADS", "half the CPUs available, at least 1",
      "CAF scheduler threads"},
     number<size_t>(&settings::actor_threads, 1, 256)},
    {{"MAX_BODY_BYTES", "1048576", "Largest accepted request body (bytes)"},
     number<size_t>(&settings::max_body_bytes, 1024, 64u << 20)},
    {{"REQUEST_TIMEOUT_MS", "15000",
      "Deadline of every request; past it the client gets 504"},
     milliseconds_of(&settings::request_timeout, 100, 300000)},
    {{"MAX_INFLIGHT", "1024",
      "Requests in flight before new ones get 503 with Retry-After"},
     number<size_t>(&settings::max_inflight, 1, 1000000)},
    {{"SHUTDOWN_GRACE_MS", "8000",
      "On SIGTERM: time to finish in-flight requests before exiting"},
     milliseconds_of(&settings::shutdown_grace, 0, 60000)},
    {{"HEADER_TIMEOUT_MS", "10000", "Time a client has to send its headers"},
     milliseconds_of(&settings::header_timeout, 100, 300000)},
    {{"BODY_TIMEOUT_MS", "10000", "Time a client has to send its body"},
     milliseconds_of(&settings::body_timeout, 100, 300000)},
    {{"KEEPALIVE_TIMEOUT_MS", "120000",
      "Idle keep-alive connections are closed after this"},
     milliseconds_of(&settings::keepalive_timeout, 1000, 3600000)},
    {{"CORS_ALLOWED_ORIGINS", "*",
      "* or a comma list of exact origins (https://app.example.com)"},
     cors_origins},
    {{"METRICS_TOKEN", "(none)",
      "When set, GET /metrics needs Authorization: Bearer <token>"},
     text_of(&settings::metrics_token)},
    {{"GOOGLE_CLOUD_PROJECT", "(none)",
      "Adds logging.googleapis.com/trace to request logs"},
     text_of(&settings::google_cloud_project)},
    {{"K_REVISION", "(set by Cloud Run)",
      "The revision name; the start-up log line carries it"},
     text_of(&settings::revision)},
    {{"ACCESS_LOG", "false",
      "true: one info line per request with Cloud Logging's httpRequest "
      "(Cloud Run logs requests itself; this adds the request id and trace)"},
     flag_of(&settings::access_log)},
    {{"METRICS_ADDRESS", "(none: /metrics on the public port)",
      "HOST:PORT of a listener of its own for GET /metrics (e.g. "
      "127.0.0.1:9464, port 0 picks one); /metrics then leaves the public "
      "port (404)"},
     metrics_address},
    {{"AUTH_RATE_PER_MINUTE", "30",
      "Requests per minute per client address on /auth/github, its "
      "callback, /auth/refresh and /auth/mock (0: no limit); 429 beyond"},
     number<uint32_t>(&settings::auth_rate_per_minute, 0, 1000000)},
    {{"WRITE_RATE_PER_MINUTE", "600",
      "POST, PUT, PATCH and DELETE per minute per user or worker token "
      "(0: no limit); 429 beyond"},
     number<uint32_t>(&settings::write_rate_per_minute, 0, 1000000)},
    {{"EXECUTION_LEASE_SECONDS", "60",
      "seconds a claimed execution stays leased without a heartbeat; then "
      "it is requeued (or failed after EXECUTION_MAX_ATTEMPTS)"},
     number<uint32_t>(&settings::execution_lease_seconds, 1, 3600)},
    {{"EXECUTION_MAX_ATTEMPTS", "3",
      "attempts an execution gets; the lease expiring on the last one fails "
      "it with \"lease expired\""},
     number<uint32_t>(&settings::execution_max_attempts, 1, 100)},
    {{"EVENT_RETENTION_HOURS", "24",
      "hours the event log keeps events for Last-Event-ID resume; older "
      "resume points get `event: reset`"},
     number<uint32_t>(&settings::event_retention_hours, 1, 720)},
    {{"EVENT_STREAM_MAX_SECONDS", "240",
      "seconds after which an event stream ends by itself (retry: 1000); "
      "keep it under the platform's request timeout"},
     seconds_of(&settings::event_stream_max, 1, 86400)},
    {{"EVENT_STREAMS_PER_USER", "10",
      "open event streams per user on one instance; 429 beyond"},
     number<uint32_t>(&settings::event_streams_per_user, 1, 100000)},
    {{"TRUST_PROXY", "false",
      "true behind a front end that sets X-Forwarded-For (Cloud Run): the "
      "client address for rate limits is its first entry"},
     flag_of(&settings::trust_proxy)},
    {{"DATABASE_URL", "(none: telegram-only mode)",
      "PostgreSQL connection URI (postgresql://user:pass@host:port/db) or "
      "key=value string; one libpq cannot parse stops the start"},
     text_of(&settings::database_url)},
    {{"DB_POOL_SIZE", "8", "Database sessions (one connection each)"},
     number<size_t>(&settings::db_pool_size, 1, 128)},
    {{"DB_QUEUE_LIMIT", "1024",
      "Database requests that may wait for a session before 503"},
     number<size_t>(&settings::db_queue_limit, 0, 100000)},
    {{"DB_HEALTH_INTERVAL_MS", "500", "Period of the database health check"},
     milliseconds_of(&settings::db_health_interval, 100, 60000)},
    {{"DB_CONNECT_TIMEOUT_MS", "2000", "Connect timeout of a database session"},
     milliseconds_of(&settings::db_connect_timeout, 1000, 60000)},
    {{"DB_PURGE_INTERVAL_MS", "300000",
      "Period of the purge of expired rows (tokens, codes, update ids)"},
     milliseconds_of(&settings::db_purge_interval, 1000, 86400000)},
    {{"JWT_SECRET", "(generated in development and test)",
      "HS256 key for access tokens; required, at least 32 bytes, in "
      "production and staging"},
     [](settings& c, std::string_view v) {
       c.jwt_secret.assign(v);
       return std::string{};
     }},
    {{"JWT_ISSUER", "miyabi-api", "iss claim"},
     required_text_of(&settings::jwt_issuer)},
    {{"JWT_AUDIENCE", "miyabi-web", "aud claim"},
     required_text_of(&settings::jwt_audience)},
    {{"JWT_EXPIRATION", "3600", "Access token lifetime (seconds)"},
     seconds_of(&settings::jwt_expiration, 60, 86400)},
    {{"REFRESH_TOKEN_TTL", "2592000", "Refresh token lifetime (seconds)"},
     seconds_of(&settings::refresh_token_ttl, 300, 365 * 86400)},
    {{"AUTH_MOCK_ENABLED", "false",
      "true serves POST /api/v1/auth/mock (login without GitHub) when "
      "ENVIRONMENT is development or test; ignored with a warning in "
      "production and staging"},
     flag_of(&settings::auth_mock_enabled)},
    {{"GITHUB_CLIENT_ID", "(none: GitHub login answers 503)",
      "OAuth app client id"},
     text_of(&settings::github_client_id)},
    {{"GITHUB_CLIENT_SECRET", "(none)", "OAuth app client secret"},
     text_of(&settings::github_client_secret)},
    {{"GITHUB_CALLBACK_URL",
      "http://localhost:8080/api/v1/auth/github/callback",
      "redirect_uri registered with the OAuth app"},
     url_of(&settings::github_callback_url)},
    {{"GITHUB_OAUTH_URL", "https://github.com",
      "Base of /login/oauth/authorize and /login/oauth/access_token"},
     url_of(&settings::github_oauth_url)},
    {{"GITHUB_API_URL", "https://api.github.com", "Base of the REST API"},
     url_of(&settings::github_api_url)},
    {{"FRONTEND_URL", "http://localhost:3000",
      "Where the login callback redirects with the tokens"},
     url_of(&settings::frontend_url)},
    {{"OUTBOUND_CONNECT_TIMEOUT_MS", "3000",
      "Connect timeout of calls to GitHub, Telegram and the LLM"},
     milliseconds_of(&settings::outbound_connect_timeout, 100, 60000)},
    {{"OUTBOUND_TIMEOUT_MS", "10000",
      "Total timeout of calls to GitHub and Telegram"},
     milliseconds_of(&settings::outbound_timeout, 100, 120000)},
    {{"GITHUB_TOKEN", "(none: /issue is disabled)",
      "Token that creates issues for the Telegram bot"},
     text_of(&settings::github_token)},
    {{"GITHUB_OWNER", "(none)", "Owner of the repository /issue writes to"},
     text_of(&settings::github_owner)},
    {{"GITHUB_REPO", "(none)", "Repository /issue writes to"},
     text_of(&settings::github_repo)},
    {{"TELEGRAM_BOT_TOKEN", "(none: outbox stays pending)",
      "Bot API token for messages beyond the webhook reply"},
     text_of(&settings::telegram_bot_token)},
    {{"TELEGRAM_WEBHOOK_SECRET", "(none)",
      "Expected X-Telegram-Bot-Api-Secret-Token header; required with "
      "TELEGRAM_BOT_TOKEN in production and staging"},
     text_of(&settings::telegram_webhook_secret)},
    {{"TELEGRAM_API_URL", "https://api.telegram.org", "Bot API base URL"},
     url_of(&settings::telegram_api_url)},
    {{"TELEGRAM_WEBHOOK_URL", "(none: the webhook is registered by hand)",
      "Public URL of /api/v1/telegram/webhook; set, the service calls "
      "setWebhook at start (retried with backoff, never fatal)"},
     url_of(&settings::telegram_webhook_url)},
    {{"TELEGRAM_ISSUES_PER_HOUR", "10",
      "Issues created from one chat per hour (an LLM draft counts once), "
      "counted in the database across instances"},
     number<uint32_t>(&settings::telegram_issues_per_hour, 1, 10000)},
    {{"GITHUB_WEBHOOK_SECRET", "(none: /api/v1/github/webhook is 404)",
      "Secret of the GitHub webhook (X-Hub-Signature-256)"},
     text_of(&settings::github_webhook_secret)},
    {{"AUTHORIZED_CHAT_IDS", "(none)",
      "Comma list of chat ids allowed to use the bot without linking"},
     chat_ids},
    {{"OPENAI_API_KEY", "(none: plain text gets a /issue hint)",
      "Key of the OpenAI-compatible LLM"},
     text_of(&settings::openai_api_key)},
    {{"OPENAI_BASE_URL", "https://api.openai.com/v1",
      "LLM base URL including the version path"},
     url_of(&settings::openai_base_url)},
    {{"OPENAI_MODEL", "gpt-4o-mini", "LLM model name"},
     required_text_of(&settings::openai_model)},
    {{"LLM_TIMEOUT_MS", "20000", "Total timeout of one LLM call"},
     milliseconds_of(&settings::llm_timeout, 100, 120000)},

    // -- outbound concurrency, one limit and queue per destination --------
    // (replaces OUTBOUND_WORKERS: one shared pool let slow LLM calls
    // starve GitHub logins)
    {{"OUTBOUND_GITHUB_CONCURRENCY", "4",
      "Concurrent calls to GitHub (login, issues); more wait in GitHub's "
      "own queue"},
     number<size_t>(&settings::outbound_github_concurrency, 1, 64)},
    {{"OUTBOUND_TELEGRAM_CONCURRENCY", "4",
      "Concurrent calls to the Telegram Bot API (outbox messages)"},
     number<size_t>(&settings::outbound_telegram_concurrency, 1, 64)},
    {{"OUTBOUND_LLM_CONCURRENCY", "4",
      "Concurrent calls to the LLM (each may take up to LLM_TIMEOUT_MS)"},
     number<size_t>(&settings::outbound_llm_concurrency, 1, 64)},
  };
  return table;
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    return {};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (auto b : raw) {
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

} // namespace

std::string_view to_string(environment env) {
  switch (env) {
    case environment::production: return "production";
    case environment::staging: return "staging";
    case environment::development: return "development";
    default: return "test";
  }
}

env_lookup process_environment() {
  return [](const char* name) {
    return std::getenv(name);
  };
}

const std::vector<setting_doc>& documented_settings() {
  static const std::vector<setting_doc> docs = [] {
    std::vector<setting_doc> result;
    for (const auto& spec : specs())
      result.push_back(spec.doc);
    return result;
  }();
  return docs;
}

caf::expected<settings> load(const env_lookup& env,
                             std::vector<std::string>& warnings) {
  settings cfg;
  cfg.http_threads = available_cpus();
  // Scheduler threads only dispatch: parsing runs on the reactor threads,
  // database work and the encoding of its answers on the session threads.
  // On 2 vCPUs one scheduler thread leaves the other core to those (bench/
  // measured more req/s with 1 than with 2, for health and for database
  // routes alike).
  cfg.actor_threads = std::max<size_t>(1, available_cpus() / 2);
  for (const auto& spec : specs()) {
    std::string name{spec.doc.name};
    const char* raw = env(name.c_str());
    if (raw == nullptr)
      continue;
    auto err = spec.apply(cfg, raw);
    if (!err.empty())
      return refuse(name, err);
  }
  if (cfg.jwt_secret.empty()) {
    if (cfg.production_rules())
      return refuse("JWT_SECRET", "required in production and staging");
    cfg.jwt_secret = random_hex(32);
    if (cfg.jwt_secret.empty())
      return refuse("JWT_SECRET",
                    "not set, and no random one could be generated (the "
                    "system's random source failed)");
    cfg.jwt_secret_generated = true;
    warnings.emplace_back("JWT_SECRET is not set: generated a random one; "
                          "tokens will not survive a restart");
  } else if (cfg.jwt_secret.size() < 32) {
    if (cfg.production_rules())
      return refuse("JWT_SECRET",
                    "must be at least 32 bytes in production and staging");
    warnings.emplace_back("JWT_SECRET is shorter than 32 bytes; "
                          "production refuses such a key");
  }
  if (cfg.production_rules()) {
    if (auto err = check_production_rules(cfg))
      return err;
    if (cfg.auth_mock_enabled) {
      cfg.auth_mock_enabled = false;
      warnings.emplace_back("AUTH_MOCK_ENABLED is ignored in production and "
                            "staging: /api/v1/auth/mock answers 404");
    }
  }
  if (cfg.github_client_id.empty() != cfg.github_client_secret.empty())
    warnings.emplace_back("only one of GITHUB_CLIENT_ID and "
                          "GITHUB_CLIENT_SECRET is set: GitHub login is off");
  if (!cfg.database_url.empty() && cfg.db_pool_size == 0)
    return refuse("DB_POOL_SIZE", "must be at least 1");
  return cfg;
}

std::string help_text(std::string_view program, std::string_view version) {
  std::ostringstream out;
  out << "miyabi-api " << version << " - the Miyabi Web API\n\n"
      << "Usage: " << program << " [--help | --version]\n\n"
      << "Every setting comes from the environment "
         "(see config/miyabi.env.example):\n\n";
  size_t width = 0;
  for (const auto& doc : documented_settings())
    width = std::max(width, doc.name.size());
  for (const auto& doc : documented_settings()) {
    out << "  " << doc.name << std::string(width - doc.name.size() + 2, ' ')
        << doc.help << " [default: " << doc.default_text << "]\n";
  }
  return out.str();
}

std::vector<std::string> secrets_of(const settings& cfg) {
  std::vector<std::string> result;
  for (const auto* s :
       {&cfg.jwt_secret, &cfg.github_client_secret, &cfg.github_token,
        &cfg.telegram_bot_token, &cfg.telegram_webhook_secret,
        &cfg.openai_api_key, &cfg.metrics_token, &cfg.github_webhook_secret})
    if (!s->empty())
      result.push_back(*s);
  // The password inside DATABASE_URL (postgresql://user:PASSWORD@host/db).
  auto scheme = cfg.database_url.find("://");
  auto at = cfg.database_url.find('@');
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    auto creds = cfg.database_url.substr(scheme + 3, at - scheme - 3);
    auto colon = creds.find(':');
    if (colon != std::string::npos && colon + 1 < creds.size())
      result.push_back(creds.substr(colon + 1));
  }
  return result;
}

} // namespace miyabi::config
