// Helpers for reading libpqxx rows into the model (storage-internal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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

/// The columns `user_of` reads, in order, of table alias `alias`.
std::string user_columns_of(const std::string& alias);

/// Reads a user from `r` (columns of `user_columns_of`).
user user_of(const pqxx::row& r);

/// The columns `execution_of` reads, in order (prefix with a table alias
/// through `execution_columns_of`).
std::string execution_columns_of(const std::string& alias);

/// Reads an agent_execution from `r` starting at column `first`.
agent_execution execution_of(const pqxx::row& r,
                             pqxx::row::size_type first = 0);

/// Number of columns `execution_of` reads.
constexpr pqxx::row::size_type execution_column_count = 21;

/// The columns `log_of` reads, of table alias `l`.
extern const char* const log_columns;

/// Reads an execution log line (columns of `log_columns`).
execution_log log_of(const pqxx::row& r);

/// Reads a status change from `r`: the execution's columns, then the
/// repository's user_id, owner and name.
execution_change change_of(const pqxx::row& r, std::string previous_status);

/// A PostgreSQL array literal of items that need no quoting (validated
/// UUIDs and agent types).
std::string array_literal(const std::vector<std::string>& items);

/// The items of `array_to_string(a, ',')` (null: nothing).
std::optional<std::vector<std::string>> split_list(const pqxx::field& f);

} // namespace miyabi::storage
