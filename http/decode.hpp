// Request decoding: query strings and JSON bodies into the typed inputs of
// actors/inputs.hpp, with api.md's validation (400 for malformed values,
// 422 with the field named in `details` for well-formed JSON of the wrong
// shape). Pure functions; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>
#include <rapidjson/document.h>

#include "actors/protocol.hpp"

namespace miyabi::http {

using query_map = std::map<std::string, std::string, std::less<>>;

/// Decodes `%XX` escapes and `+` (as a space). Nothing on a bad escape.
std::optional<std::string> percent_decode(std::string_view text);

/// Request headers some inputs need.
struct request_headers {
  std::string idempotency_key;
  std::string login_cookie;    ///< value of the GitHub login cookie
  std::string last_event_id;   ///< Last-Event-ID (empty when absent)
  std::string github_event;    ///< X-GitHub-Event
  std::string github_delivery; ///< X-GitHub-Delivery
};

/// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name);

/// What a decoder reads of a request. `body` is null when the request had
/// none; query values are already percent-decoded.
struct request_parts {
  const rapidjson::Value* body = nullptr;
  const query_map& query;
  const request_headers& headers;
};

/// The typed input of one operation, or its validation error.
using decoded = caf::expected<domain::request_input>;

/// Decodes the input of one operation (see `operation_descriptor::decode`).
using input_decoder = decoded (*)(const request_parts& parts);

/// The decoders of the operations that take input, named after them.
namespace decoders {

decoded mock_login(const request_parts& parts);
decoded refresh(const request_parts& parts);
decoded logout(const request_parts& parts);
decoded github_start(const request_parts& parts);
decoded github_callback(const request_parts& parts);
decoded create_repository(const request_parts& parts);
decoded execute_agent(const request_parts& parts);
decoded list_executions(const request_parts& parts);
decoded claim(const request_parts& parts);
decoded update_execution(const request_parts& parts);
decoded heartbeat(const request_parts& parts);
decoded append_log(const request_parts& parts);
decoded list_logs(const request_parts& parts);
decoded worker_token(const request_parts& parts);
decoded list_workflows(const request_parts& parts);
/// POST and PUT of a workflow share one body.
decoded workflow(const request_parts& parts);
decoded workflow_run(const request_parts& parts);
decoded telegram_update(const request_parts& parts);
decoded event_stream(const request_parts& parts);
/// The GitHub webhook: headers X-GitHub-Event and X-GitHub-Delivery (400
/// when missing or not a short token), a JSON object body; the fields of
/// the events the service acts on are required (422 naming the field).
decoded github_delivery(const request_parts& parts);

} // namespace decoders

struct operation_descriptor;

/// The typed input of the operation `op` describes. Every query name and
/// value must be strict UTF-8 (400 naming the parameter otherwise), whether
/// or not the operation reads it.
decoded decode_input(const operation_descriptor& op,
                     const request_parts& parts);

} // namespace miyabi::http
