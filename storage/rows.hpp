// Reading libpqxx rows into the model (storage-internal): the column map of
// every model type, and field helpers.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "storage/model.hpp"

namespace miyabi::storage {

inline std::optional<std::string> optional_text(const pqxx::field& f) {
  if (f.is_null())
    return std::nullopt;
  return f.as<std::string>();
}

inline std::optional<int64_t> optional_int(const pqxx::field& f) {
  if (f.is_null())
    return std::nullopt;
  return f.as<int64_t>();
}

/// The items of `array_to_string(a, ',')` (null: nothing).
std::optional<std::vector<std::string>> split_list(const pqxx::field& f);

/// Reads one field into a model member of the matching type; null into an
/// optional is nothing, null elsewhere throws pqxx::conversion_error.
inline void read_field(const pqxx::field& f, std::string& out) {
  out = f.as<std::string>();
}
inline void read_field(const pqxx::field& f, std::optional<std::string>& out) {
  out = optional_text(f);
}
inline void read_field(const pqxx::field& f, int64_t& out) {
  out = f.as<int64_t>();
}
inline void read_field(const pqxx::field& f, std::optional<int64_t>& out) {
  out = optional_int(f);
}
inline void read_field(const pqxx::field& f, bool& out) {
  out = f.as<bool>();
}
inline void read_field(const pqxx::field& f, double& out) {
  out = f.as<double>();
}
inline void read_field(const pqxx::field& f,
                       std::optional<std::vector<std::string>>& out) {
  out = split_list(f);
}

/// A model type's columns: each SQL expression next to the member it fills,
/// so a select list and the reader of its rows cannot drift apart. In an
/// expression, `@` stands for the table alias and its dot ("e." for alias
/// `e`, nothing without one). Kept in function-local statics; read-only
/// once built, any thread.
template <class T>
class row_map {
 public:
  struct column {
    template <class Member>
    column(const char* sql, Member T::*member)
        : expression(sql), read([member](T& out, const pqxx::field& f) {
            read_field(f, out.*member);
          }) {}

    const char* expression;
    std::function<void(T&, const pqxx::field&)> read;
  };

  row_map(std::initializer_list<column> columns) : columns_(columns) {}

  /// The select list with `alias` in place of `@`.
  std::string select_list(std::string_view alias = {}) const {
    std::string prefix = alias.empty() ? "" : std::string{alias} + ".";
    std::string out;
    for (const auto& c : columns_) {
      if (!out.empty())
        out += ", ";
      for (const char* p = c.expression; *p != '\0'; ++p) {
        if (*p == '@')
          out += prefix;
        else
          out += *p;
      }
    }
    return out;
  }

  /// How many columns a row of T takes.
  pqxx::row::size_type size() const {
    return static_cast<pqxx::row::size_type>(columns_.size());
  }

  /// The T in columns `first` to `first + size()` of `r`.
  T read(const pqxx::row& r, pqxx::row::size_type first = 0) const {
    T out;
    for (pqxx::row::size_type i = 0; i < size(); ++i)
      columns_[i].read(out, r[first + i]);
    return out;
  }

 private:
  std::vector<column> columns_;
};

// How each model type is read from its table (storage/rows.cpp): the
// mapping between the schema's columns and the model, in one place.

const row_map<user>& user_row();
const row_map<agent_execution>& execution_row();
const row_map<execution_log>& log_row();
const row_map<repository>& repository_row();
const row_map<workflow>& workflow_row();
const row_map<worker_token>& token_row(); ///< never the token itself
const row_map<event_record>& event_row();
/// A workflow run without its nodes (read apart, see workflow_runs.cpp).
const row_map<workflow_run>& run_row();

/// Reads a status change from `r`: the execution's columns, then the
/// repository's user_id, owner and name.
execution_change change_of(const pqxx::row& r, std::string previous_status);

/// A PostgreSQL array literal of items that need no quoting (validated
/// UUIDs and agent types).
std::string array_literal(const std::vector<std::string>& items);

} // namespace miyabi::storage
