// The opaque `cursor` of paginated lists: base64url of
// "<created_at>|<id>" of the last row of the previous page. Clients treat it
// as an opaque string. Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/model.hpp"

namespace miyabi::http {

std::string encode_cursor(const storage::page_cursor& cursor);

/// Nothing unless the text is a cursor this service made (canonical
/// base64url, a valid RFC 3339 time and a UUID).
std::optional<storage::page_cursor> decode_cursor(std::string_view text);

} // namespace miyabi::http
