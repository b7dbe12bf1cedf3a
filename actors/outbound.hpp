// Outbound HTTP (GitHub, Telegram, the LLM) on libcurl. The outbound actor
// (registered as names::outbound) runs each call in a short-lived detached
// worker, so blocking transfers never occupy scheduler or reactor threads.
// Each destination (`http_call::service`: github, telegram, llm) has its
// own concurrency limit (OUTBOUND_GITHUB_CONCURRENCY, ..._TELEGRAM_...,
// ..._LLM_...) and its own queue of up to 256 waiting calls, so slow LLM
// calls never delay a GitHub login. A call whose deadline passes while it
// waits is never sent: it is answered with `timeout` and counted in
// miyabi_outbound_dropped_total{service}; a call that starts gets at most
// the time left until its deadline. Every call has connect and total
// timeouts, verifies TLS, sends a User-Agent, follows no redirects and
// keeps at most 1 MiB of a response.
//
// Errors: external_api_error (unreachable, timed out, response too large),
// timeout (deadline passed before the call could start) and
// service_unavailable (too many calls waiting for that destination). Log
// lines name the service and path, never the URL's secrets (Bot API tokens
// sit in paths).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

/// The timeout of a call that must be answered `reserve` before
/// `deadline`: what is left, at most `limit`, at least 100 ms.
std::chrono::milliseconds
call_budget(std::chrono::milliseconds limit,
            std::chrono::steady_clock::time_point deadline,
            std::chrono::milliseconds reserve = std::chrono::milliseconds{0});

/// A call to GitHub's REST API (`service` "github"): GitHub's media type
/// and API version, `token` as Bearer, the deadline and its budget.
http_call github_call(std::string method, std::string url,
                      std::string log_target, const std::string& token,
                      std::chrono::milliseconds timeout,
                      std::chrono::steady_clock::time_point deadline);

/// Passes the trace on: adds `traceparent` (W3C Trace Context) when the
/// work that makes the call has one.
void add_traceparent(http_call& call, const std::string& traceparent);

/// A Bot API call (`service` "telegram"): POST TELEGRAM_API_URL/bot<TOKEN>/
/// `bot_method` with a JSON `body`, OUTBOUND_TIMEOUT_MS; the log target
/// names the method, never the token.
http_call telegram_call(const config::settings& cfg,
                        const std::string& bot_method, std::string body);

/// Telegram's `description` of a refusal, cut to `max` bytes on a character
/// boundary; "HTTP <status>" when there is none or it is not UTF-8 (it is
/// logged and stored as SQL text).
std::string telegram_description(const http_outcome& out, size_t max);

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
outbound_handle
spawn_outbound(caf::local_actor* parent,
               std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics);

/// Percent-encodes for URLs and form bodies (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);

} // namespace miyabi::actors
