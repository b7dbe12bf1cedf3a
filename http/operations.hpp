// The descriptor table: one entry per operation of api.md, saying
// everything the service decides about it before its handler runs: the
// route template and method, who may call it and which actor answers it
// (the actors' `operation_rules`, with the handler), how its database work
// may be retried, how its input is decoded, and its admission and caching
// rules. The router builds its table from it, the HTTP layer admits and
// decodes by it, the front actor dispatches by the rules copied into the
// request, and the OpenAPI test checks the document against it.
//
// Adding a route: one entry here, its handler (and decoder if it takes
// input), its tests, and its entry in the OpenAPI document, which the
// tests hold to this table.
//
// Built once, read-only afterwards: any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "actors/protocol.hpp"
#include "http/decode.hpp"

namespace miyabi::http {

/// Methods in the order of metrics::http_metrics::methods.
enum class method : uint8_t {
  get,
  post,
  put,
  patch,
  del,
  head,
  options,
  trace,
  connect,
};

constexpr size_t method_count = 9;

std::string_view to_string(method m);

/// Per-address limits checked before the operation reaches the actors.
enum class admission_limit : uint8_t {
  none,
  /// LOGIN_RATE_PER_MINUTE per client address (api.md, Rate limits).
  login,
};

struct operation_descriptor {
  /// The OpenAPI operationId (checked against the document); it names the
  /// operation (descriptor_of).
  std::string_view operation_id;
  /// Route template; `{id}` marks the UUID parameter. Also the `route`
  /// label of the metrics.
  std::string_view route;
  method verb = method::get;
  actors::operation_rules rules;
  /// Null: the operation takes no input.
  input_decoder decode = nullptr;
  /// Answered by the HTTP layer itself, without an actor (a static
  /// document); null for every other operation.
  actors::api_reply (*local_answer)() = nullptr;
  bool json_body = false; ///< needs a JSON body (415 otherwise)
  bool database = false;  ///< 503 in telegram-only mode
  /// On a GET: HEAD runs it too. False for GETs with side effects (then
  /// HEAD is 405).
  bool head = true;
  /// A probe or a scrape: answered even when too many requests are in
  /// flight, so an instance is not restarted for being busy.
  bool probe = false;
  /// A Telegram webhook update: `X-Telegram-Bot-Api-Secret-Token` is checked
  /// before the body is read, and rejections are counted.
  bool telegram_update = false;
  /// The Prometheus scrape: moves to its own listener with METRICS_ADDRESS
  /// (then a 404 here like an unknown path).
  bool scrape = false;
  /// A GitHub webhook delivery: `X-Hub-Signature-256` is checked over the
  /// raw body before it is parsed. Served only with GITHUB_WEBHOOK_SECRET;
  /// otherwise a 404 like an unknown path.
  bool github_signature = false;
  /// Reads the GitHub login cookie (the callback's binding).
  bool login_cookie = false;
  /// Served only with AUTH_MOCK_ENABLED; otherwise a 404 like an unknown
  /// path.
  bool mock_only = false;
  admission_limit limit = admission_limit::none;
};

/// Every operation, in the order of api.md.
const std::vector<operation_descriptor>& operations();

/// The descriptor of the operation with this operationId;
/// std::out_of_range when there is none.
const operation_descriptor& descriptor_of(std::string_view operation_id);

} // namespace miyabi::http
