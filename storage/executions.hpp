// Queries of agent executions and their logs, scoped to one user: the work
// queue (create, idempotent create, claim with FOR UPDATE SKIP LOCKED),
// keyset-paginated lists, the status state machine and logs. Blocking; run
// inside a transaction on a database session's thread.
//
// Errors besides the session's: not_found (another user's or a missing
// execution or repository), conflict (illegal transition; idempotency key
// still in flight), unprocessable_entity (idempotency key reused with
// another body).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Creates a pending execution in one of the user's active repositories.
/// With an idempotency key, a repeat with the same request hash returns the
/// execution the key created; another hash is unprocessable_entity; a
/// concurrent request with the key still uncommitted is conflict.
caf::expected<agent_execution> create_execution(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const new_execution& input);

caf::expected<execution_page> list_executions(pqxx::transaction_base& tx,
                                              const std::string& user_id,
                                              const execution_filter& filter);

caf::expected<std::optional<agent_execution>>
find_execution(pqxx::transaction_base& tx, const std::string& user_id,
               const std::string& id);

/// Sets the oldest pending execution of the user running under a lease of
/// `lease.lease_seconds` (database clock), of `req.agent_types` and
/// `req.repository_id` when given and within a worker's scope; concurrent
/// claimers skip locked rows, so no execution is claimed twice. Nothing when
/// none is pending. authorization_error when the request lies wholly
/// outside the worker's scope; not_found for a repository_id that is not
/// the user's active repository.
caf::expected<std::optional<execution_change>>
claim_execution(pqxx::transaction_base& tx, const std::string& user_id,
                const claim_request& req, const lease_policy& lease);

/// Decides whether an execution may go from one status to another (the
/// state machine lives with the domain rules, actors/rules.hpp).
using transition_rule = bool (*)(std::string_view from, std::string_view to);

/// Applies a status change that `allowed` accepts (conflict otherwise);
/// `u.finishes` sets completed_at, `running` sets a lease, other statuses
/// clear it. A worker (`worker` set) must send the attempt it holds
/// (validation_error without; conflict when the execution is not running
/// under that attempt or another token claimed it); a user's attempt, when
/// sent, must be the current one. The first change is the execution's; the
/// rest follow from it within its workflow run (see settle_run).
caf::expected<std::vector<execution_change>>
update_execution(pqxx::transaction_base& tx, const std::string& user_id,
                 const std::string& id, const execution_update& u,
                 transition_rule allowed, const worker_scope* worker,
                 const lease_policy& lease);

/// Extends the lease of a running execution held under `hb.attempt` (and
/// by the worker, when one calls), stores the progress and logs the message
/// at INFO. conflict with details naming the current status and attempt
/// when it is not held so, or its lease already passed.
caf::expected<heartbeat_answer>
heartbeat_execution(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& id, const heartbeat& hb,
                    const worker_scope* worker, const lease_policy& lease);

/// A new pending execution like the failed or cancelled `id` (conflict for
/// other statuses), with retry_of set.
caf::expected<agent_execution> retry_execution(pqxx::transaction_base& tx,
                                               const std::string& user_id,
                                               const std::string& id);

/// What one sweep of expired leases did.
struct lease_sweep {
  std::vector<execution_change> changes; ///< expiries and their follow-ups
  int64_t expired = 0;
  int64_t requeued = 0;
};

/// Puts up to `limit` running executions whose lease passed (database
/// clock) back to pending with attempt + 1, or fails them on their last
/// attempt. Every instance may sweep at once: each expiry happens once.
caf::expected<lease_sweep> expire_leases(pqxx::transaction_base& tx,
                                         const lease_policy& lease,
                                         int64_t limit);

/// Appends a log line; a worker only within its scope
/// (authorization_error).
caf::expected<execution_log> append_log(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const std::string& execution_id,
                                        const new_log& log,
                                        const worker_scope* worker = nullptr);

/// Logs oldest first, after `filter.after` when given.
caf::expected<std::vector<execution_log>>
list_logs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& execution_id, const log_filter& filter);

} // namespace miyabi::storage
