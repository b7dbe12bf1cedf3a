// Prepared statements: every SQL statement the service runs at request time
// is declared here by name and prepared on each new connection (libpqxx 6.4
// prepares lazily on first use, so this costs nothing at connect time).
// Query modules execute them with `tx.exec_prepared(name, args...)`.
#pragma once

#include <string>
#include <vector>

#include <pqxx/types.hxx>

namespace miyabi::storage {

struct statement {
  std::string name;
  std::string sql;
};

/// Statements of each query module (defined next to their queries).
const std::vector<statement>& maintenance_statements();
const std::vector<statement>& user_statements();
const std::vector<statement>& repository_statements();
const std::vector<statement>& execution_statements();
const std::vector<statement>& workflow_statements();
const std::vector<statement>& dashboard_statements();
const std::vector<statement>& telegram_statements();
const std::vector<statement>& worker_statements();
const std::vector<statement>& workflow_run_statements();
const std::vector<statement>& github_statements();

/// Registers every statement on `conn`.
void prepare_all(pqxx::connection_base& conn);

} // namespace miyabi::storage
