// Small text helpers every layer needs (HTTP header values, settings, chat
// commands). Pure inline functions; any thread.
#pragma once

#include <algorithm>
#include <cctype>
#include <string_view>

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

} // namespace miyabi
