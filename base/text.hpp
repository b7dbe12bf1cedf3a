// Small text helpers every layer needs (HTTP header values, settings, chat
// commands). Pure inline functions; any thread.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace miyabi {

/// `text` without leading and trailing characters from `chars`.
inline std::string_view trim(std::string_view text,
                             std::string_view chars = " \t") {
  auto first = text.find_first_not_of(chars);
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(chars);
  return text.substr(first, last - first + 1);
}

/// ASCII case-insensitive equality (header names, schemes, media types).
inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

/// The pieces of `text` between `separator`s, empty ones included; nothing
/// for an empty text.
inline std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> pieces;
  if (text.empty())
    return pieces;
  size_t start = 0;
  while (true) {
    auto end = text.find(separator, start);
    if (end == std::string_view::npos) {
      pieces.emplace_back(text.substr(start));
      return pieces;
    }
    pieces.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
}

} // namespace miyabi
