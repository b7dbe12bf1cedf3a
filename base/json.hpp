// Parsing JSON that crosses a boundary of the service: request bodies (the
// HTTP layer) and the answers of GitHub, Telegram and the LLM (the actors).
// Parsing is iterative, validates UTF-8 (of the text and of the decoded
// strings) and refuses nesting deeper than a limit before RapidJSON sees
// the text, so hostile or broken input cannot exhaust the stack or carry
// text PostgreSQL refuses. Pure functions; any thread.
#pragma once

#include <cstddef>
#include <string_view>

#include <caf/error.hpp>
#include <rapidjson/document.h>

namespace miyabi {

/// The deepest nesting (objects and arrays) `parse_json` accepts.
constexpr size_t max_json_depth = 32;

/// Parses `text` into `doc`. On success every string and member name in
/// `doc` is strict UTF-8 (config/utf8.hpp) without U+0000, i.e. text
/// PostgreSQL stores as it is. Errors (as `validation_error` with a details
/// text): malformed JSON, invalid UTF-8 in the text or in what an escape
/// decodes to (a lone surrogate), a \u0000 escape in a string, nesting
/// deeper than `max_depth`. Throws only std::bad_alloc.
caf::error parse_json(std::string_view text, rapidjson::Document& doc,
                      size_t max_depth = max_json_depth);

/// Nesting depth of JSON text (objects and arrays), stopping early once it
/// exceeds `limit`. Strings are skipped with their escapes.
size_t json_depth(std::string_view text, size_t limit);

} // namespace miyabi
