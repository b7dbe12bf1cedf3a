#include "storage/migrations.hpp"

#include <cstring>
#include <map>
#include <stdexcept>

#include <pqxx/pqxx>

#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "storage/session.hpp"

namespace miyabi::storage {

namespace {

// Any constant unique to this service; all instances must agree on it.
constexpr long long migration_lock_key = 0x6d69796162690001LL; // "miyabi" 1

int version_of(const std::string& name) {
  return std::stoi(name.substr(0, name.find('_')));
}

} // namespace

caf::expected<migration_report> migrate(pqxx::connection_base& conn) {
  migration_report report;
  report.total = embedded_migrations().size();
  std::string current;
  try {
    pqxx::work tx{conn};
    tx.exec("SELECT pg_advisory_xact_lock(" +
            std::to_string(migration_lock_key) + ")");
    tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())");
    std::map<int, std::pair<std::string, std::string>> applied;
    for (const auto& row :
         tx.exec("SELECT version, name, checksum FROM schema_migrations"))
      applied[row[0].as<int>()] = {row[1].as<std::string>(),
                                   row[2].as<std::string>()};
    for (const auto& m : embedded_migrations()) {
      current = m.name;
      auto version = version_of(m.name);
      auto sum = crypto::sha256_hex(m.sql);
      if (auto i = applied.find(version); i != applied.end()) {
        if (i->second.second != sum)
          return make_error(errc::internal_error,
                            "migration " + current +
                              " was changed after it was applied (checksum " +
                              i->second.second + " in the database, " + sum +
                              " in this binary); restore the original file "
                              "and add a new migration instead");
        continue;
      }
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, checksum)"
                     " VALUES ($1, $2, $3)",
                     version, current, sum);
      report.applied.push_back(current);
    }
    tx.commit();
    return report;
  } catch (const pqxx::broken_connection& e) {
    return make_error(errc::connection_lost, "the database is unavailable");
  } catch (const std::exception& e) {
    return make_error(errc::internal_error,
                      current.empty()
                        ? std::string{"migrations failed: "} + e.what()
                        : "migration " + current + " failed: " + e.what());
  }
}

caf::expected<migration_report> migrate(const session_config& cfg) {
  session db{cfg};
  if (auto err = db.connect())
    return err;
  return migrate(db.connection());
}

} // namespace miyabi::storage
