// The JSON codec of the API: writes every reply body and error envelope and
// parses every request body, on RapidJSON. Parsing is iterative, validates
// UTF-8 (of the text and of the decoded strings) and refuses nesting deeper
// than `max_json_depth`, so hostile bodies cannot exhaust the stack or
// carry text PostgreSQL refuses. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>
#include <rapidjson/document.h>

#include "actors/replies.hpp"
#include "http/errors.hpp"

namespace miyabi::http {

constexpr size_t max_json_depth = 32;

/// An encoded body and its media type (empty text for no body).
struct encoded_body {
  std::string_view content_type;
  std::string text;
};

/// Encodes a reply body. `std::monostate` encodes to no body.
encoded_body encode(const actors::reply_body& body);

/// Encodes the error envelope.
std::string encode_error(const error_response& err,
                         std::string_view request_id);

/// Parses a request body into `doc`. On success every string and member
/// name in `doc` is strict UTF-8 (config/utf8.hpp) without U+0000, i.e.
/// text PostgreSQL stores as it is. Errors (as `validation_error` with a
/// details text): malformed JSON, invalid UTF-8 in the text or in what an
/// escape decodes to (a lone surrogate), a \u0000 escape in a string,
/// nesting deeper than `max_json_depth`.
caf::error parse_json(std::string_view text, rapidjson::Document& doc);

/// Nesting depth of JSON text (objects and arrays), stopping early once it
/// exceeds `limit`. Strings are skipped with their escapes.
size_t json_depth(std::string_view text, size_t limit);

} // namespace miyabi::http
