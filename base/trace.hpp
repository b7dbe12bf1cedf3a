// W3C Trace Context for requests (https://www.w3.org/TR/trace-context/):
// the incoming `traceparent` (or Cloud Run's `X-Cloud-Trace-Context`), a new
// trace when none came, a span id of this service's own per request, the
// `traceparent` to send on to GitHub, Telegram and the LLM, and the Cloud
// Logging fields that tie log lines to the trace. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

namespace miyabi {

struct trace_context {
  std::string trace_id;  ///< 32 lower-case hex digits, never all zeros
  std::string span_id;   ///< 16 lower-case hex digits: this service's span
  std::string parent_id; ///< the caller's span (16 hex), empty when none
  bool sampled = false;  ///< the caller's sampled flag
};

/// The context of a request: from `traceparent` when it is valid (version
/// 00, or a later version read as 00; `ff` and malformed values are
/// ignored), else from `X-Cloud-Trace-Context` (`TRACE/SPAN;o=1`), else a
/// new trace; the span id is always new.
trace_context trace_of(std::string_view traceparent,
                       std::string_view cloud_trace_context);

/// `00-TRACE-SPAN-FLAGS` with this service's span as the parent of the
/// callee's.
std::string traceparent_of(const trace_context& t);

/// The keys of the Cloud Logging fields.
constexpr std::string_view log_trace_key = "logging.googleapis.com/trace";
constexpr std::string_view log_span_key = "logging.googleapis.com/spanId";
constexpr std::string_view log_sampled_key =
  "logging.googleapis.com/trace_sampled";

/// `projects/PROJECT/traces/TRACE`, or empty without a project.
std::string trace_resource(std::string_view project, const trace_context& t);

} // namespace miyabi
