// The service's settings, loaded once at start from the environment
// (12-factor: Cloud Run secrets arrive as environment variables) and
// validated before anything else starts. Immutable afterwards and shared
// read-only by every thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "base/log.hpp"

namespace miyabi::config {

using std::chrono::milliseconds;
using std::chrono::seconds;

/// Where the service runs (`ENVIRONMENT`). `production` and `staging` follow
/// the production rules (see `settings::production_rules`); `development`
/// and `test` relax them for a laptop and for the test suites.
enum class environment { production, staging, development, test };

/// The value of `ENVIRONMENT` that names `env`.
std::string_view to_string(environment env);

struct settings {
  // -- HTTP server ------------------------------------------------------------
  std::string bind_host = "0.0.0.0";
  uint16_t port = 8080;
  environment env = environment::production; ///< the default when unset
  log::level log_level = log::level::info;
  size_t http_threads = 0;  ///< 0 before loading; then CPUs available
  size_t actor_threads = 0; ///< 0 before loading; then half the CPUs
  size_t max_body_bytes = 1 << 20;
  milliseconds request_timeout{15000};
  size_t max_inflight = 1024;
  milliseconds shutdown_grace{8000};
  milliseconds header_timeout{10000};
  milliseconds body_timeout{10000};
  milliseconds keepalive_timeout{120000};
  /// Empty: any origin (`*`). Otherwise the exact origins allowed.
  std::vector<std::string> cors_allowed_origins;
  std::string metrics_token;
  std::string google_cloud_project;
  /// Cloud Run's K_REVISION (the revision name), logged at start.
  std::string revision;
  /// ACCESS_LOG: one info line per request with Cloud Logging's httpRequest.
  bool access_log = false;
  /// METRICS_ADDRESS (HOST:PORT): /metrics on its own listener and not on
  /// the public port; empty host: on the public port.
  std::string metrics_host;
  uint16_t metrics_port = 0;
  /// Requests per minute per client address on the login routes (0: off).
  uint32_t auth_rate_per_minute = 30;
  /// Writes per minute per user or worker token (0: off).
  uint32_t write_rate_per_minute = 600;
  /// EXECUTION_LEASE_SECONDS: how long a claim holds an execution without a
  /// heartbeat.
  uint32_t execution_lease_seconds = 60;
  /// EXECUTION_MAX_ATTEMPTS: expired leases after which an execution fails.
  uint32_t execution_max_attempts = 3;
  /// EVENT_RETENTION_HOURS: how long the event log keeps events for resume.
  uint32_t event_retention_hours = 24;
  /// EVENT_STREAM_MAX_SECONDS: a stream ends by itself after this long.
  seconds event_stream_max{240};
  /// EVENT_STREAMS_PER_USER: open streams per user on one instance.
  uint32_t event_streams_per_user = 10;
  /// The client address is the first X-Forwarded-For entry (behind Cloud
  /// Run's front end) instead of the socket peer.
  bool trust_proxy = false;

  // -- PostgreSQL -------------------------------------------------------------
  /// Empty: telegram-only mode (no database, DB-backed routes answer 503).
  std::string database_url;
  size_t db_pool_size = 8;
  size_t db_queue_limit = 1024;
  milliseconds db_health_interval{500};
  milliseconds db_connect_timeout{2000};
  milliseconds db_purge_interval{300000};

  // -- authentication ---------------------------------------------------------
  std::string jwt_secret;
  bool jwt_secret_generated = false;
  /// POST /api/v1/auth/mock is served: `AUTH_MOCK_ENABLED=true` with
  /// ENVIRONMENT development or test; always false under production rules.
  bool auth_mock_enabled = false;
  std::string jwt_issuer = "miyabi-api";
  std::string jwt_audience = "miyabi-web";
  seconds jwt_expiration{3600};
  seconds refresh_token_ttl{30 * 24 * 3600};
  std::string github_client_id;
  std::string github_client_secret;
  std::string github_callback_url =
    "http://localhost:8080/api/v1/auth/github/callback";
  std::string github_oauth_url = "https://github.com";
  std::string github_api_url = "https://api.github.com";
  std::string frontend_url = "http://localhost:3000";

  // -- outbound HTTP (GitHub, Telegram, LLM) ----------------------------------
  milliseconds outbound_connect_timeout{3000};
  milliseconds outbound_timeout{10000};
  /// Concurrent calls per destination; each has its own queue, so one
  /// slow destination never delays the others.
  size_t outbound_github_concurrency = 4;
  size_t outbound_telegram_concurrency = 4;
  size_t outbound_llm_concurrency = 4;

  // -- GitHub issues from chat ------------------------------------------------
  std::string github_token;
  std::string github_owner;
  std::string github_repo;

  // -- Telegram ---------------------------------------------------------------
  std::string telegram_bot_token;
  std::string telegram_webhook_secret;
  std::string telegram_api_url = "https://api.telegram.org";
  /// Set: the service registers it with setWebhook at start.
  std::string telegram_webhook_url;
  std::vector<int64_t> authorized_chat_ids;
  /// Issues (and LLM calls) one chat may ask for per hour, all instances.
  uint32_t telegram_issues_per_hour = 10;

  // -- GitHub webhook -------------------------------------------------------
  /// Empty: POST /api/v1/github/webhook answers 404.
  std::string github_webhook_secret;

  // -- LLM (OpenAI-compatible) ------------------------------------------------
  std::string openai_api_key;
  std::string openai_base_url = "https://api.openai.com/v1";
  std::string openai_model = "gpt-4o-mini";
  milliseconds llm_timeout{20000};

  // -- derived ----------------------------------------------------------------
  /// HSTS, Secure cookies, strict secrets, https:// third parties, no
  /// /auth/mock: production and staging alike.
  bool production_rules() const {
    return env == environment::production || env == environment::staging;
  }
  bool database_enabled() const { return !database_url.empty(); }
  bool metrics_listener() const { return !metrics_host.empty(); }
  bool cors_any_origin() const { return cors_allowed_origins.empty(); }
};

/// Looks up an environment variable; nullptr when unset.
using env_lookup = std::function<const char*(const char* name)>;

/// The process environment.
env_lookup process_environment();

/// One documented setting.
struct setting_doc {
  std::string_view name;
  std::string_view default_text;
  std::string_view help;
};

/// Every setting the service reads, in the order they are applied.
const std::vector<setting_doc>& documented_settings();

/// Reads and validates all settings. On failure the error's message is one
/// line naming the variable (never its value), and its details hold the
/// variable's name. The production rules (`production_rules()`) are checked
/// here; DATABASE_URL's syntax is checked by storage::check_database_url
/// (libpq's parser lives in the storage layer).
/// `warnings` receives non-fatal findings (e.g. a generated JWT secret).
caf::expected<settings> load(const env_lookup& env,
                             std::vector<std::string>& warnings);

/// The `--help` text: usage plus every setting with its default.
std::string help_text(std::string_view program, std::string_view version);

/// Strings that must never reach a log line (secrets of `cfg`).
std::vector<std::string> secrets_of(const settings& cfg);

} // namespace miyabi::config
