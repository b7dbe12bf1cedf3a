// Outbound HTTP (GitHub, Telegram, the LLM) on libcurl. The outbound actor
// (registered as names::outbound) runs each call in a short-lived detached
// worker, so blocking transfers never occupy scheduler or reactor threads;
// at most OUTBOUND_WORKERS run at once and up to 256 more wait. Every call
// has connect and total timeouts, verifies TLS, sends a User-Agent, follows
// no redirects and keeps at most 1 MiB of a response.
//
// Errors: external_api_error (unreachable, timed out, response too large)
// and service_unavailable (too many calls waiting). Log lines name the
// service and path, never the URL's secrets (Bot API tokens sit in paths).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "config/settings.hpp"

namespace miyabi::metrics {
class service_metrics;
} // namespace miyabi::metrics

namespace miyabi::actors {

struct http_call {
  std::string service; ///< "github", "telegram", "llm": metric label
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
  std::string log_target; ///< what logs may show instead of the URL
};

struct http_outcome {
  long status = 0;
  std::string body;
  std::string retry_after; ///< the Retry-After header, if any
  double seconds = 0;
};

/// Performs one call synchronously (used by the workers; also handy in
/// tools). Any thread; blocks up to the call's timeout.
struct transfer_result {
  bool ok = false;
  std::string error; ///< curl's message when !ok (no URL in it)
  http_outcome outcome;
};
transfer_result perform(const http_call& call,
                        std::chrono::milliseconds connect_timeout);

/// Spawns the outbound actor as a child of `parent`.
caf::actor spawn_outbound(caf::local_actor* parent,
                          std::shared_ptr<const config::settings> cfg,
                          std::shared_ptr<metrics::service_metrics> metrics);

/// Percent-encodes for URLs and form bodies (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);

} // namespace miyabi::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::http_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::http_outcome)
