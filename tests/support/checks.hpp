// What the integration tests share when they talk to the service and check
// its answers: JSON bodies, the error envelope of api.md, Bearer headers and
// /auth/mock sign-in, polling with a deadline, /metrics samples, health and
// liveness probes. Independent of the service's own code.
//
// Functions that use Boost.Test macros (marked "test thread") must run on
// the test's main thread, never on a fake server's or a load thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "support/http_client.hpp"
#include "support/process.hpp"

namespace miyabi::test {

// -- text ---------------------------------------------------------------------

/// True when `part` occurs in `text`.
bool contains(const std::string& text, const std::string& part);

/// Whole milliseconds from `from` to `to`.
long long ms_between(std::chrono::steady_clock::time_point from,
                     std::chrono::steady_clock::time_point to);

// -- JSON ---------------------------------------------------------------------

/// Parses any JSON value; fails the test when `text` is not JSON. Test
/// thread.
rapidjson::Document parse_json(const std::string& text);

/// Parses a JSON object; fails the test when `text` is anything else. Test
/// thread.
rapidjson::Document parse_object(const std::string& text);

/// Parses without any check (look at HasParseError()); for any thread,
/// e.g. a fake server's handler, and for answers that may not be JSON.
rapidjson::Document parse_lenient(const std::string& text);

/// A string member, or a marker saying why there is none: "<missing>"
/// (also when `v` is not an object), "<null>", "<not a string>".
std::string text_of(const rapidjson::Value& v, const char* key);

/// An integer member, or -999999 when missing or not an integer.
long long int_of(const rapidjson::Value& v, const char* key);

// -- talking to the API -------------------------------------------------------

/// `Authorization: Bearer <token>`.
header_pairs bearer(const std::string& token);

/// Checks an error answer of api.md: the status, JSON with no-store, and an
/// envelope with `error` == `code`, a string `message` and the answer's
/// X-Request-Id as `request_id`. Test thread.
void check_envelope(const http_response& resp, long status,
                    const std::string& code);

/// A user and its tokens from POST /api/v1/auth/mock.
struct mock_user {
  std::string id;
  std::string access;
  std::string refresh;
};

/// Signs in `github_id` (email u<github_id>@example.com) through
/// /api/v1/auth/mock (development mode); requires a 200 with the user and
/// both tokens. Test thread.
mock_user mock_login(http_client& client, const std::string& base_url,
                     int64_t github_id);
mock_user mock_login(const service_process& svc, int64_t github_id);

// -- waiting ------------------------------------------------------------------

/// Calls `probe` every `every` while less than `limit` has passed since the
/// start; the time until it first returned true, or nothing.
std::optional<std::chrono::milliseconds>
time_until(const std::function<bool()>& probe, std::chrono::milliseconds limit,
           std::chrono::milliseconds every = std::chrono::milliseconds{10});

/// Like time_until: whether `probe` returned true within `limit`.
bool eventually(const std::function<bool()>& probe,
                std::chrono::milliseconds limit,
                std::chrono::milliseconds every = std::chrono::milliseconds{
                  20});

// -- the running service ------------------------------------------------------

/// True while the process has not exited.
bool alive(service_process& svc);

/// The status of GET /api/v1/health, or 0 when no answer came within
/// `timeout` or the answer does not carry this probe's own X-Request-Id (an
/// answer meant for another connection). Logs answers other than 200 and
/// 503 (the documented "degraded"). Test thread.
long health_status(const service_process& svc,
                   std::chrono::milliseconds timeout = std::chrono::seconds{2});

/// GET /metrics.
http_response
scrape_metrics(const service_process& svc,
               std::chrono::milliseconds timeout = std::chrono::seconds{5});

/// The value of the sample `series` (`name` or `name{labels}`, exactly as
/// exposed) in /metrics text, or -1 when there is none.
double metric_value(const std::string& exposition, const std::string& series);

/// The value of the first sample of metric `name` (any labels) whose line
/// contains every string of `parts` (e.g. `code="200"`), or -1.
double metric_sample(const std::string& exposition, const std::string& name,
                     const std::vector<std::string>& parts = {});

/// Scrapes /metrics and reads one sample (see metric_value); -1 when the
/// series is missing or the scrape failed.
double metric(const service_process& svc, const std::string& series,
              std::chrono::milliseconds timeout = std::chrono::seconds{5});

} // namespace miyabi::test
