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

#include "actors/messages.hpp"

namespace miyabi::http {

using query_map = std::map<std::string, std::string, std::less<>>;

/// Decodes `%XX` escapes and `+` (as a space). Nothing on a bad escape.
std::optional<std::string> percent_decode(std::string_view text);

/// Request headers some inputs need.
struct request_headers {
  std::string idempotency_key;
  std::string login_cookie; ///< value of the GitHub login cookie
};

/// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name);

/// The typed input of `op`. `body` is null when the request had none.
/// Every query name and value must be strict UTF-8 (400 naming the
/// parameter otherwise), whether or not `op` reads it.
caf::expected<actors::request_input>
decode_input(actors::operation op, const rapidjson::Value* body,
             const query_map& query, const request_headers& headers);

} // namespace miyabi::http
