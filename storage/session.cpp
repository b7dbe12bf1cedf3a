#include "storage/session.hpp"

#include <algorithm>

#include <pqxx/pqxx>

#include "base/errors.hpp"
#include "base/log.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

session::session(session_config cfg) : cfg_(std::move(cfg)) {}

session::~session() = default;

std::string session::effective_url(const session_config& cfg) {
  // libpq has no per-query client timeout; keepalives and tcp_user_timeout
  // detect a silent (blackholed) server, statement_timeout a slow query.
  auto seconds =
    std::max<long>(1, static_cast<long>(cfg.connect_timeout.count() / 1000));
  std::string params[][2] = {
    {"connect_timeout", std::to_string(seconds)},
    {"application_name", cfg.application_name},
    {"keepalives", "1"},
    {"keepalives_idle", "5"},
    {"keepalives_interval", "2"},
    {"keepalives_count", "2"},
    {"tcp_user_timeout", "5000"},
  };
  std::string url = cfg.url;
  bool uri =
    url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  for (auto& [key, value] : params) {
    if (url.find(key + "=") != std::string::npos)
      continue; // the operator's own setting wins
    if (uri)
      url +=
        (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
    else
      url += " " + key + "=" + value;
  }
  return url;
}

caf::error session::connect() {
  if (conn_)
    return {};
  try {
    auto conn = std::make_unique<pqxx::connection>(effective_url(cfg_));
    pqxx::nontransaction tx{*conn};
    tx.exec("SET statement_timeout = " +
            std::to_string(cfg_.statement_timeout.count()) +
            "; SET idle_in_transaction_session_timeout = " +
            std::to_string(cfg_.statement_timeout.count() * 2) +
            "; SET TIME ZONE 'UTC'");
    tx.commit();
    prepare_all(*conn);
    conn_ = std::move(conn);
    return {};
  } catch (const std::exception& e) {
    log::warning("database connection failed", {{"error", e.what()}});
    return make_error(errc::connection_lost, "the database is unavailable");
  }
}

void session::disconnect() {
  conn_.reset();
}

caf::error session::translate_current_exception(bool committing) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    disconnect();
    if (!committing)
      return make_error(errc::connection_lost, "the database is unavailable");
    // A warning like every lost connection: a request it fails is logged
    // at ERROR by the HTTP layer (503), background work retries.
    log::warning("database connection lost during commit; outcome unknown",
                 {{"error", e.what()}});
    return make_error(errc::unknown_outcome);
  } catch (const pqxx::broken_connection& e) {
    disconnect();
    log::warning("database connection lost", {{"error", e.what()}});
    if (committing)
      return make_error(errc::unknown_outcome);
    return make_error(errc::connection_lost, "the database is unavailable");
  } catch (const pqxx::sql_error& e) {
    const auto& state = e.sqlstate();
    if (state == "57014")
      return make_error(errc::timeout, "the database query took too long");
    if (state == "23505")
      return make_error(errc::conflict, "a conflicting record exists");
    if (state == "55P03")
      return make_error(errc::conflict,
                        "the same request is still being processed");
    if (state == "22021" || state == "22P05") {
      // Input validation lets only strict UTF-8 without U+0000 through; if
      // such text still arrives, it is the client's input, not a failure.
      log::warning("text the database cannot store", {{"sqlstate", state}});
      return make_error(errc::validation_error,
                        "text the database cannot store",
                        "strings must be UTF-8 without U+0000");
    }
    if (state == "40001" || state == "40P01")
      return make_error(errc::conflict,
                        "a concurrent change got in the way; retry");
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
      disconnect();
      return make_error(errc::connection_lost, "the database is unavailable");
    }
    log::error("database error", {{"sqlstate", state}, {"error", e.what()}});
    return make_error(errc::database_error);
  } catch (const std::exception& e) {
    log::error("database layer failure", {{"error", e.what()}});
    return make_error(errc::internal_error);
  }
}

caf::expected<std::any> session::run(const unit_of_work& work, access mode,
                                     std::chrono::milliseconds budget) {
  if (budget <= std::chrono::milliseconds::zero())
    return make_error(errc::timeout, "request deadline passed");
  if (auto err = connect())
    return err;
  // A job that waited in the queue gets less than the session's statement
  // timeout, so its answer is not later than its deadline.
  bool late = budget < cfg_.statement_timeout;
  bool committing = false;
  try {
    if (mode == access::read && !late) {
      // One round trip per statement instead of three for BEGIN, the
      // statement and COMMIT.
      pqxx::nontransaction tx{*conn_};
      return work(tx);
    }
    pqxx::work tx{*conn_};
    if (late)
      tx.exec("SET LOCAL statement_timeout = " +
              std::to_string(budget.count()));
    auto result = work(tx);
    if (!result)
      return result; // leaving the scope rolls the transaction back
    committing = true;
    tx.commit();
    return result;
  } catch (...) {
    // A connection lost during COMMIT leaves the outcome unknown for every
    // mode: running the work again would answer from the state the first
    // run may have made (404 after a delete that happened, 200 instead of
    // 201), a wrong success or failure.
    return translate_current_exception(committing);
  }
}

session::group_outcome
session::run_group(const std::vector<const unit_of_work*>& works,
                   std::chrono::milliseconds statement_budget) {
  group_outcome out;
  if (auto err = connect()) {
    out.error = std::move(err);
    return out;
  }
  bool committing = false;
  try {
    pqxx::work tx{*conn_};
    tx.exec("SET LOCAL statement_timeout = " +
            std::to_string(std::max<int64_t>(1, statement_budget.count())));
    out.values.reserve(works.size());
    for (const auto* work : works) {
      auto value = (*work)(tx);
      if (!value) {
        out.values.clear();
        return out; // leaving the scope rolls the group back
      }
      out.values.push_back(std::move(*value));
    }
    committing = true;
    tx.commit();
    out.committed = true;
    return out;
  } catch (const pqxx::in_doubt_error&) {
    out.error = translate_current_exception(committing);
  } catch (const pqxx::broken_connection&) {
    out.error = translate_current_exception(committing);
  } catch (const pqxx::sql_error& e) {
    // Each unit runs again alone, where its own failure (if it is one) is
    // translated and logged once.
    log::debug("a shared commit failed; its jobs run again alone",
               {{"sqlstate", e.sqlstate()}});
  } catch (const std::exception& e) {
    log::debug("a shared commit failed; its jobs run again alone",
               {{"error", e.what()}});
  }
  out.values.clear();
  return out;
}

caf::error session::ping() {
  // A connection kept from before an outage fails its first statement even
  // when the server is back: one fresh connection then tells at once,
  // instead of one probe period later.
  for (int attempt = 0;; ++attempt) {
    bool kept = connected();
    if (auto err = connect())
      return err;
    try {
      pqxx::nontransaction tx{*conn_};
      tx.exec("SELECT 1");
      return {};
    } catch (...) {
      auto err = translate_current_exception(false);
      disconnect(); // a failed probe never trusts its connection again
      if (!kept || attempt > 0 || !is(err, errc::connection_lost))
        return err;
    }
  }
}

} // namespace miyabi::storage
