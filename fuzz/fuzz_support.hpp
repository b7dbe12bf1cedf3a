// Shared by the harnesses: an aborting CHECK (assert is compiled out in
// RelWithDebInfo), a strict UTF-8 validator written independently of the
// service's (config/utf8.hpp) as the oracle, and the switches for known,
// already reported findings.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <rapidjson/document.h>

#include "base/utf8.hpp"

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "invariant violated: %s (%s:%d)\n", #cond,          \
                   __FILE__, __LINE__);                                        \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace miyabi::fuzz {

/// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800 to
/// U+DFFF), nothing above U+10FFFF. PostgreSQL refuses anything else.
inline bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n)
      return false;
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

/// The service's own helpers (config/utf8.hpp) against the oracle above:
/// the same verdict, and a cut at any limit is a prefix that fits, loses at
/// most 3 bytes and stays valid when the text was.
inline void check_utf8_helpers(std::string_view s, size_t limit) {
  bool valid = valid_utf8(s);
  CHECK(miyabi::valid_utf8(s) == valid);
  auto cut = miyabi::cut_utf8(s, limit);
  CHECK(cut.size() <= limit);
  CHECK(cut.size() + 3 >= (limit < s.size() ? limit : s.size()));
  CHECK(s.substr(0, cut.size()) == cut);
  if (valid)
    CHECK(valid_utf8(cut));
}

/// True when every string and member name in `v` is valid UTF-8.
inline bool all_strings_utf8(const rapidjson::Value& v) {
  if (v.IsString())
    return valid_utf8({v.GetString(), v.GetStringLength()});
  if (v.IsArray()) {
    for (const auto& item : v.GetArray())
      if (!all_strings_utf8(item))
        return false;
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject())
      if (!valid_utf8({m.name.GetString(), m.name.GetStringLength()}) ||
          !all_strings_utf8(m.value))
        return false;
  }
  return true;
}

/// True when no string or member name in `v` holds a NUL byte (\u0000),
/// which PostgreSQL cannot store.
inline bool no_nul_in_strings(const rapidjson::Value& v) {
  auto clean = [](const rapidjson::Value& s) {
    return std::string_view{s.GetString(), s.GetStringLength()}.find('\0') ==
           std::string_view::npos;
  };
  if (v.IsString())
    return clean(v);
  if (v.IsArray()) {
    for (const auto& item : v.GetArray())
      if (!no_nul_in_strings(item))
        return false;
  } else if (v.IsObject()) {
    for (const auto& m : v.GetObject())
      if (!clean(m.name) || !no_nul_in_strings(m.value))
        return false;
  }
  return true;
}

/// MIYABI_FUZZ_KNOWN=lone-surrogate skips inputs that hit the reported
/// finding "JSON \uDC00-\uDFFF escapes decode to invalid UTF-8" (RapidJSON
/// 1.1.0 checks only high surrogates), so a long run can look past it.
/// Unset, such inputs abort like any other finding.
inline bool skip_lone_surrogates() {
  static const bool skip = [] {
    const char* known = std::getenv("MIYABI_FUZZ_KNOWN");
    return known != nullptr && std::strstr(known, "lone-surrogate") != nullptr;
  }();
  return skip;
}

/// MIYABI_FUZZ_KNOWN=issue-title-cut skips the reported finding "the bot
/// cuts an /issue title at 256 bytes, inside a multi-byte character".
inline bool skip_title_cut() {
  static const bool skip = [] {
    const char* known = std::getenv("MIYABI_FUZZ_KNOWN");
    return known != nullptr && std::strstr(known, "issue-title-cut") != nullptr;
  }();
  return skip;
}

/// MIYABI_FUZZ_KNOWN=query-utf8 skips the reported finding "percent-decoded
/// query values are never checked for UTF-8" (a redirect path reaches a SQL
/// parameter, GitHub's error text the error envelope).
inline bool skip_query_utf8() {
  static const bool skip = [] {
    const char* known = std::getenv("MIYABI_FUZZ_KNOWN");
    return known != nullptr && std::strstr(known, "query-utf8") != nullptr;
  }();
  return skip;
}

/// What parse_json promises: the document holds valid UTF-8 without NUL
/// only. False when the input must be skipped (the known finding, when
/// masked).
inline bool check_parsed_utf8(const rapidjson::Value& doc) {
  CHECK(no_nul_in_strings(doc));
  if (all_strings_utf8(doc))
    return true;
  if (skip_lone_surrogates())
    return false;
  std::fprintf(stderr, "invariant violated: parse_json accepted a document "
                       "whose strings are not valid UTF-8\n");
  std::abort();
}

} // namespace miyabi::fuzz
