// The JSON codec of the API: writes every reply body and error envelope and
// parses every request body, on RapidJSON, with `parse_json` of
// config/json.hpp (iterative, depth-limited, strict UTF-8), so hostile
// bodies cannot exhaust the stack or carry text PostgreSQL refuses. Pure
// functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>
#include <rapidjson/document.h>

#include "base/json.hpp"
#include "domain/replies.hpp"
#include "http/errors.hpp"

namespace miyabi::http {

/// An encoded body and its media type (empty text for no body).
struct encoded_body {
  std::string_view content_type;
  std::string text;
};

/// Encodes a reply body. `std::monostate` encodes to no body.
encoded_body encode(const domain::reply_body& body);

/// Encodes the error envelope.
std::string encode_error(const error_response& err,
                         std::string_view request_id);

/// Request bodies are parsed with the service's one JSON parser
/// (config/json.hpp: iterative, depth-limited, strict UTF-8).
using miyabi::json_depth;
using miyabi::max_json_depth;
using miyabi::parse_json;

} // namespace miyabi::http
