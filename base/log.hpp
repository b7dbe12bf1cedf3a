// Structured logs: one JSON object per line on stdout, nothing before it.
//
// Every line is one JSON object with unique member names: `time`,
// `severity` (DEBUG/INFO/WARNING/ERROR) and `message`, then the fields the
// caller passes (`request_id`, and the Cloud Logging trace key built by
// `trace_field`). A field whose key is already taken (by `time`, `severity`,
// `message` or an earlier field) is written as KEY_2 (or KEY_3, ... the
// first free one), never as a duplicate member.
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

namespace miyabi::log {

enum class level : uint8_t { debug, info, warning, error };

/// Parses `debug`, `info`, `warn`/`warning`, `error` (any case), and the
/// RUST_LOG form `info,crate=debug` (the first bare level wins).
bool parse_level(std::string_view text, level& out);

/// Lines below `lvl` are dropped. Default: info.
void set_min_level(level lvl);

bool enabled(level lvl);

/// Enables the `logging.googleapis.com/trace` field (see `trace_field`).
void set_trace_project(std::string project);

/// Adds a string that must never appear in a log line's message or string
/// values (tokens, secrets). Empty strings are ignored.
void add_secret(std::string secret);

/// A value of a log field.
using value = std::variant<std::string_view, int64_t, double, bool>;

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
};

/// The line `write` would write (with its final newline), whatever the
/// minimum level: unique keys, secrets redacted.
std::string format(level lvl, std::string_view message,
                   std::initializer_list<field> fields = {});

/// Writes one line when `lvl` is enabled.
void write(level lvl, std::string_view message,
           std::initializer_list<field> fields = {});

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

/// The value of `logging.googleapis.com/trace` for an `X-Cloud-Trace-Context`
/// header (`TRACE_ID/SPAN;o=1`), or empty when no project is configured or the
/// header is malformed.
std::string trace_field(std::string_view cloud_trace_context);

/// The key under which `trace_field` values are logged.
constexpr std::string_view trace_key = "logging.googleapis.com/trace";

} // namespace miyabi::log
