// Structured logs: one JSON object per line on stdout, nothing before it.
//
// Every line is one JSON object with unique member names: `time`,
// `severity` (DEBUG/INFO/WARNING/ERROR) and `message`, then the fields the
// caller passes (`request_id`, the Cloud Logging trace fields of
// base/trace.hpp, an `httpRequest` object). A field whose key is already taken
// (by `time`, `severity`, `message` or an earlier field) is written as KEY_2
// (or KEY_3, ... the first free one), never as a duplicate member.
//
// Registered secrets are replaced by `[REDACTED]` as a last line of
// defence (callers still must not log secrets): in the message and in every
// string value, before JSON escaping, so a secret holding `"` or `\` is
// found too. Every non-empty secret counts, however short; a short one
// redacts more text than it should, which is the lesser evil. Keys (fixed
// names in the code), numbers, booleans, `time` and `severity` are not
// searched.
//
// Thread-safe: any thread may log; each line is written with one write(2)
// under a mutex, so lines never interleave.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace miyabi::log {

enum class level : uint8_t { debug, info, warning, error };

/// Parses `debug`, `info`, `warn`/`warning`, `error` (any case), and the
/// RUST_LOG form `info,crate=debug` (the first bare level wins).
bool parse_level(std::string_view text, level& out);

/// Lines below `lvl` are dropped. Default: info.
void set_min_level(level lvl);

bool enabled(level lvl);

/// Adds a string that must never appear in a log line's message or string
/// values (tokens, secrets). Empty strings are ignored.
void add_secret(std::string secret);

struct field;

/// A nested object of fields (e.g. Cloud Logging's `httpRequest`); the
/// fields must outlive the call (a braced list in the call does).
struct object_value {
  const field* first = nullptr;
  size_t size = 0;
};

/// A value of a log field.
using value =
  std::variant<std::string_view, int64_t, double, bool, object_value>;

struct field {
  std::string_view key;
  value val;
  field(std::string_view k, std::string_view v) : key(k), val(v) {}
  field(std::string_view k, const std::string& v)
      : key(k), val(std::string_view{v}) {}
  field(std::string_view k, const char* v) : key(k), val(std::string_view{v}) {}
  field(std::string_view k, int64_t v) : key(k), val(v) {}
  field(std::string_view k, int v) : key(k), val(int64_t{v}) {}
  field(std::string_view k, uint64_t v)
      : key(k), val(static_cast<int64_t>(v)) {}
  field(std::string_view k, double v) : key(k), val(v) {}
  field(std::string_view k, bool v) : key(k), val(v) {}
  field(std::string_view k, object_value v) : key(k), val(v) {}
};

/// Fields assembled at run time (some only present sometimes).
using field_list = std::vector<field>;

/// The line `write` would write (with its final newline), whatever the
/// minimum level: unique keys, secrets redacted.
std::string format(level lvl, std::string_view message,
                   std::initializer_list<field> fields = {});

/// Writes one line when `lvl` is enabled.
void write(level lvl, std::string_view message,
           std::initializer_list<field> fields = {});
void write(level lvl, std::string_view message, const field_list& fields);

inline void debug(std::string_view msg, std::initializer_list<field> f = {}) {
  if (enabled(level::debug))
    write(level::debug, msg, f);
}
inline void info(std::string_view msg, std::initializer_list<field> f = {}) {
  write(level::info, msg, f);
}
inline void warning(std::string_view msg, std::initializer_list<field> f = {}) {
  write(level::warning, msg, f);
}
inline void error(std::string_view msg, std::initializer_list<field> f = {}) {
  write(level::error, msg, f);
}

} // namespace miyabi::log
