// One database session: a libpqxx connection owned by exactly one thread
// (the detached actor that runs it), and the one place where libpqxx's
// exceptions become error values.
//
// libpqxx 6.4's implicit reactivation is not relied upon: a broken
// connection is dropped and the next `connect()` builds a new one (which
// re-prepares every statement lazily on first use). `statement_timeout` is
// set per session below the HTTP deadline.
//
// Errors of `run` (caf::error, category miyabi):
//   connection_lost  the connection broke before COMMIT was sent; work that
//                    is not write_once may be retried on a new connection
//   unknown_outcome  the connection broke during COMMIT: the change may or
//                    may not be saved, and running the work again would
//                    answer from the state it may have made (never retried)
//   timeout          statement_timeout cancelled the statement
//   conflict         unique violation or lock not available (in flight)
//   validation_error text PostgreSQL cannot store (SQLSTATE 22021, 22P05)
//   database_error   any other SQL error (logged with its SQLSTATE; clients
//                    never see the text)
//   internal_error   a bug: unexpected rows, usage errors
//   ...or the error the work itself returned (the transaction rolls back).
#pragma once

#include <any>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <pqxx/connection.hxx>
#include <pqxx/types.hxx>

namespace miyabi::storage {

struct session_config {
  std::string url;
  std::string application_name = "miyabi-api";
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds statement_timeout{14000};
};

/// Work done inside one transaction; its value travels back type-erased.
using unit_of_work =
  std::function<caf::expected<std::any>(pqxx::transaction_base&)>;

/// How `session::run` wraps a unit of work.
enum class access {
  /// Reads only, in autocommit mode: no BEGIN and COMMIT round trips; each
  /// statement sees its own snapshot, so use it where that is enough (one
  /// statement, or later statements that only refine the answer). Safe to
  /// run again after a lost connection.
  read,
  /// A read-committed transaction that is safe to run again when its
  /// connection is lost before COMMIT (its effect is the same when applied
  /// twice). Lost during COMMIT: unknown_outcome, as for every mode.
  write,
  /// A read-committed transaction that is never run a second time.
  write_once,
};

class session {
 public:
  explicit session(session_config cfg);
  session(const session&) = delete;
  session& operator=(const session&) = delete;
  ~session();

  /// Connects (blocking, bounded by the connect timeout) and applies the
  /// session settings. Errors: connection_lost.
  caf::error connect();

  bool connected() const { return conn_ != nullptr; }

  void disconnect();

  /// Runs `work` as `mode` says and commits when it returns a value.
  /// Connects first when needed. A connection lost during COMMIT is
  /// unknown_outcome whatever `mode` says. Statements end with `timeout` after
  /// `budget` when that is shorter than the statement timeout (costing a
  /// transaction for a read), at once when it is not positive.
  caf::expected<std::any>
  run(const unit_of_work& work, access mode,
      std::chrono::milliseconds budget = std::chrono::milliseconds::max());

  /// What `run_group` did.
  struct group_outcome {
    /// The transaction committed: one value per unit, in order.
    bool committed = false;
    std::vector<std::any> values;
    /// Not committed, and the connection is gone: connection_lost (before
    /// COMMIT: nothing was saved) or unknown_outcome (during COMMIT).
    /// Neither committed nor an error: a unit returned an error or a
    /// statement failed (the group's timeout, a deadlock, a constraint);
    /// nothing was saved and each unit may run again on its own.
    caf::error error;
  };

  /// Runs `works` in order in one read-committed transaction and commits
  /// once. Every statement of the group ends with `timeout` after
  /// `statement_budget` (the group rolls back then, so one slow unit does
  /// not hold the others). Connects first when needed.
  group_outcome run_group(const std::vector<const unit_of_work*>& works,
                          std::chrono::milliseconds statement_budget);

  /// Runs one statement outside a transaction (health probes). A kept
  /// connection that turns out lost is replaced once, so a server that is
  /// back answers this probe. Errors: connection_lost, or what the
  /// statement raised.
  caf::error ping();

  /// The live connection (for migrations); connect() first.
  pqxx::connection_base& connection() { return *conn_; }

  /// The connection URL with keepalive and timeout parameters added.
  static std::string effective_url(const session_config& cfg);

 private:
  caf::error translate_current_exception(bool committing);

  session_config cfg_;
  // The concrete type: pqxx 6.4's connection_base has no public virtual
  // destructor, so deleting through it would be undefined (ASan reports a
  // new/delete size mismatch).
  std::unique_ptr<pqxx::connection> conn_;
};

} // namespace miyabi::storage
