#include "http/cursor.hpp"

#include "base/crypto.hpp"
#include "domain/rules.hpp"

namespace miyabi::http {

std::string encode_cursor(const storage::page_cursor& cursor) {
  return crypto::base64url_encode(cursor.created_at + "|" + cursor.id);
}

std::optional<storage::page_cursor> decode_cursor(std::string_view text) {
  if (text.size() > 200)
    return std::nullopt;
  auto raw = crypto::base64url_decode(text);
  if (!raw)
    return std::nullopt;
  auto bar = raw->find('|');
  if (bar == std::string::npos)
    return std::nullopt;
  storage::page_cursor cursor{raw->substr(0, bar), raw->substr(bar + 1)};
  if (!domain::valid_rfc3339(cursor.created_at) ||
      !domain::valid_uuid(cursor.id))
    return std::nullopt;
  return cursor;
}

} // namespace miyabi::http
