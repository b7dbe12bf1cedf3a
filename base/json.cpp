#include "base/json.hpp"

#include <string>

#include <rapidjson/error/en.h>

#include "base/errors.hpp"
#include "base/utf8.hpp"

namespace miyabi {

size_t json_depth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > deepest && (deepest = depth) > limit)
          return deepest;
        break;
      case '}':
      case ']':
        if (depth > 0)
          --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

caf::error parse_json(std::string_view text, rapidjson::Document& doc,
                      size_t max_depth) {
  if (json_depth(text, max_depth) > max_depth)
    return make_error(errc::validation_error, "malformed JSON",
                      "JSON nested deeper than " + std::to_string(max_depth) +
                        " levels");
  constexpr unsigned flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  doc.Parse<flags>(text.data(), text.size());
  if (doc.HasParseError())
    return make_error(
      errc::validation_error, "malformed JSON",
      std::string{rapidjson::GetParseError_En(doc.GetParseError())} +
        " at offset " + std::to_string(doc.GetErrorOffset()));
  // kParseValidateEncodingFlag checks raw bytes only: RapidJSON 1.1.0 turns
  // an escaped low surrogate without a high one before it into the bytes of
  // a surrogate code point, and \u0000 into a NUL byte. PostgreSQL refuses
  // both: the first in text and jsonb (22021), the second in jsonb (22P05),
  // and libpq cuts a text parameter at it.
  bool nul = false;
  auto storable = [&nul](std::string_view s) {
    nul = s.find('\0') != std::string_view::npos;
    return !nul && valid_utf8(s);
  };
  if (!json_all_strings(doc, storable)) {
    if (nul)
      return make_error(errc::validation_error, "invalid request body",
                        "a string holds \\u0000, which cannot be stored");
    return make_error(errc::validation_error, "malformed JSON",
                      "a string is not valid UTF-8 (a \\u escape of an "
                      "unpaired surrogate, U+D800 to U+DFFF)");
  }
  return {};
}

} // namespace miyabi
