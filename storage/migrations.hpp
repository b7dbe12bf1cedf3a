// Schema migrations: the SQL files of storage/migrations/ (NNNN_name.sql),
// compiled into the binary and applied at start inside one transaction
// under a transaction-level advisory lock, so several instances starting at
// once apply each migration exactly once. Every applied migration is
// recorded in `schema_migrations` with a SHA-256 checksum; a changed
// checksum of an applied migration stops the start.
//
// Blocking; call from the thread that owns the connection.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

namespace miyabi::storage {

struct embedded_migration {
  const char* name; ///< file name without .sql, e.g. "0001_schema"
  const char* sql;
};

/// The migrations compiled into this binary, in version order.
const std::vector<embedded_migration>& embedded_migrations();

struct migration_report {
  std::vector<std::string> applied; ///< names applied by this call
  size_t total = 0;                 ///< migrations known to this binary
};

/// Applies every pending migration. Errors: `connection_lost` (database
/// unreachable; retry later) or `internal_error` whose message explains a
/// checksum mismatch or a failing migration (do not start).
caf::expected<migration_report> migrate(pqxx::connection_base& conn);

struct session_config;

/// Connects once and migrates (used at start-up, before serving). Errors as
/// `migrate`; `connection_lost` when the database cannot be reached.
caf::expected<migration_report> migrate(const session_config& cfg);

} // namespace miyabi::storage
