// The bodies actors answer with. Each alternative is a domain value; the
// HTTP layer's JSON codec (http/json_codec.hpp) decides how it is written.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "actors/status.hpp"

namespace miyabi::actors {

/// GET /api/v1/health.
struct health_report {
  std::string version;
  bool telegram_only = false;
  db_state database = db_state::disabled;
  int64_t uptime_seconds = 0;
};

/// GET /api/v1/health/live: `{"status":"ok"}`.
struct liveness {};

/// A body that is not JSON (e.g. the Prometheus exposition).
struct text_body {
  std::string content_type;
  std::string text;
};

/// A body that is already JSON text (e.g. a Bot API method call).
struct json_text {
  std::string json;
};

using reply_body
  = std::variant<std::monostate, liveness, health_report, text_body, json_text>;

} // namespace miyabi::actors
