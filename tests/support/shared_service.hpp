// One database and one service process shared by all tests of an
// executable (the resource suites): started before the first test by the
// global fixture `start_shared_service`, which also sets `default_base()`.
// Every test case signs in users of its own, so cases never see each
// other's rows. Any thread once started.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "support/api.hpp"
#include "support/env.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

namespace miyabi::test {

using steady = std::chrono::steady_clock;

/// The service's environment on `database`.
inline env_map resource_service_env(const std::string& database) {
  auto env = base_env();
  env["DATABASE_URL"] = database;
  env["DB_POOL_SIZE"] = "8";
  return env;
}

struct shared_service {
  std::string database;
  std::unique_ptr<service_process> process;
};

/// The database and the service process of this executable.
inline shared_service& shared() {
  static shared_service instance = [] {
    raise_fd_limit();
    shared_service s;
    s.database = create_database();
    s.process =
      std::make_unique<service_process>(resource_service_env(s.database));
    default_base() = s.process->base_url();
    return s;
  }();
  return instance;
}

inline std::string base_url() {
  return shared().process->base_url();
}

inline const std::string& db() {
  return shared().database;
}

inline long long sql_count(const std::string& sql) {
  return query_int(db(), sql);
}

/// Global fixture: starts the shared service before any test.
struct start_shared_service {
  start_shared_service() { shared(); }
};

} // namespace miyabi::test
