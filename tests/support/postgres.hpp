// PostgreSQL for tests: fresh databases on the shared server scripts/test
// started, SQL helpers, and private instances (copies of the template
// cluster) for tests that stop, kill or restart the database.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace miyabi::test {

/// URL of a new, empty database on the shared test server.
std::string create_database();

/// Runs SQL (no result) against `url`.
void exec_sql(const std::string& url, const std::string& sql);

/// Runs a query that returns one integer (e.g. a count).
long long query_int(const std::string& url, const std::string& sql);

/// Runs a query that returns one text value (empty for NULL).
std::string query_text(const std::string& url, const std::string& sql);

/// A PostgreSQL server of the test's own, on its own port.
class private_postgres {
 public:
  private_postgres();
  private_postgres(const private_postgres&) = delete;
  private_postgres& operator=(const private_postgres&) = delete;
  ~private_postgres();

  /// URL of database `db` (created on first call) on this server.
  std::string url(const std::string& db = "miyabi");

  /// pg_ctl stop -m fast|immediate.
  void stop(const std::string& mode = "fast");

  /// Starts again on the same port.
  void start();

  uint16_t port() const { return port_; }

 private:
  std::string run(const std::string& args);

  std::string dir_;
  uint16_t port_ = 0;
};

} // namespace miyabi::test
