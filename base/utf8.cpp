#include "base/utf8.hpp"

namespace miyabi {

namespace {

bool continuation(unsigned char c) {
  return (c & 0xc0) == 0x80;
}

} // namespace

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    // The lead byte fixes the length and the allowed range of the second
    // byte (RFC 3629, section 4); that range is what rules out overlong
    // forms, surrogates and code points above U+10FFFF.
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0)
        low = 0xa0;
      else if (c == 0xed)
        high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0)
        low = 0x90;
      else if (c == 0xf4)
        high = 0x8f;
    } else {
      return false; // a continuation byte, C0, C1 or F5 to FF
    }
    if (text.size() - i < length)
      return false;
    auto second = static_cast<unsigned char>(text[i + 1]);
    if (second < low || second > high)
      return false;
    for (size_t k = 2; k < length; ++k)
      if (!continuation(static_cast<unsigned char>(text[i + k])))
        return false;
    i += length;
  }
  return true;
}

std::string_view cut_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes)
    return text;
  // text[size] is the first byte left out; while it continues a character,
  // that character started inside the prefix and must go too.
  size_t size = max_bytes;
  for (int steps = 0; steps < 3 && size > 0 &&
                      continuation(static_cast<unsigned char>(text[size]));
       ++steps)
    --size;
  return text.substr(0, size);
}

} // namespace miyabi
