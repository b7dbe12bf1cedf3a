// Helpers for reading libpqxx rows into the model (storage-internal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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
constexpr pqxx::row::size_type execution_column_count = 14;

} // namespace miyabi::storage
