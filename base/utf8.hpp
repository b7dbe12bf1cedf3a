// Strict UTF-8 for text that crosses a boundary of the service: PostgreSQL
// refuses anything else in text and jsonb (SQLSTATE 22021) and JSON answers
// must be UTF-8, so every string that arrives from a client is checked with
// `valid_utf8` and every cut of text goes through `cut_utf8`. Pure
// functions; any thread.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace miyabi {

/// True when `text` is strict UTF-8 (RFC 3629): every sequence complete,
/// no overlong forms, no surrogate code points (U+D800 to U+DFFF), nothing
/// above U+10FFFF. U+0000 is valid UTF-8 and accepted.
bool valid_utf8(std::string_view text);

/// The longest prefix of `text` of at most `max_bytes` bytes that does not
/// end inside a character (`text` itself when it fits). Valid UTF-8 gives
/// valid UTF-8; on other input it steps back at most three bytes and the
/// prefix is only as valid as the input.
std::string_view cut_utf8(std::string_view text, size_t max_bytes);

/// True when `accept(std::string_view)` holds for every string and member
/// name in the JSON value `root`; stops at the first that fails. `Json` is
/// a `rapidjson::GenericValue` or `GenericDocument` with UTF-8 encoding (a
/// template, so this header needs no RapidJSON). Walks with an explicit
/// stack, so nesting depth cannot exhaust the call stack. Throws only
/// std::bad_alloc (and what `accept` throws).
template <class Json, class Accept>
bool json_all_strings(const Json& root, Accept&& accept) {
  // A GenericDocument is a GenericValue; walk it as one.
  using Value = typename Json::ValueType;
  auto accepted = [&accept](const Value& str) {
    return accept(std::string_view{str.GetString(), str.GetStringLength()});
  };
  std::vector<const Value*> containers;
  auto visit = [&](const Value& v) {
    if (v.IsString())
      return accepted(v);
    if (v.IsArray() || v.IsObject())
      containers.push_back(&v);
    return true;
  };
  if (!visit(static_cast<const Value&>(root)))
    return false;
  while (!containers.empty()) {
    const Value* v = containers.back();
    containers.pop_back();
    if (v->IsArray()) {
      for (const auto& item : v->GetArray())
        if (!visit(item))
          return false;
    } else {
      for (const auto& member : v->GetObject())
        if (!accepted(member.name) || !visit(member.value))
          return false;
    }
  }
  return true;
}

/// True when every string and member name in the JSON value `root` is
/// strict UTF-8 (see json_all_strings for `Json` and errors).
template <class Json>
bool json_strings_valid_utf8(const Json& root) {
  return json_all_strings(
    root, [](std::string_view text) { return valid_utf8(text); });
}

} // namespace miyabi
