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

/// Sets the oldest pending execution of the user (of `agent_types` when not
/// empty) running; concurrent claimers skip locked rows, so no execution is
/// claimed twice. Nothing when none is pending.
caf::expected<std::optional<execution_change>>
claim_execution(pqxx::transaction_base& tx, const std::string& user_id,
                const std::vector<std::string>& agent_types);

/// Decides whether an execution may go from one status to another (the
/// state machine lives with the domain rules, actors/rules.hpp).
using transition_rule = bool (*)(std::string_view from, std::string_view to);

/// Applies a status change that `allowed` accepts (conflict otherwise);
/// `u.finishes` sets completed_at.
caf::expected<execution_change> update_execution(pqxx::transaction_base& tx,
                                                 const std::string& user_id,
                                                 const std::string& id,
                                                 const execution_update& u,
                                                 transition_rule allowed);

caf::expected<execution_log> append_log(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const std::string& execution_id,
                                        const new_log& log);

/// Logs oldest first, after `filter.after` when given.
caf::expected<std::vector<execution_log>>
list_logs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& execution_id, const log_filter& filter);

} // namespace miyabi::storage
