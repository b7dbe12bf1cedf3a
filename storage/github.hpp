// Queries of work that GitHub and the chat start: webhook deliveries
// (exactly once), executions queued for an issue, pull requests linked to
// the executions that made them. Blocking; run inside a transaction on a
// database session's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Records a webhook delivery id; false when it was recorded before.
caf::expected<bool> record_delivery(pqxx::transaction_base& tx,
                                    const std::string& delivery_id,
                                    const std::string& event);

/// Queues a pending execution of `agent_type` for issue `issue_number` of
/// `owner/name` (case-insensitive) in every active registration of that
/// repository (only `user_id`'s when given), except where an execution of
/// that type for that issue is already pending, blocked or running: a label
/// and the chat that caused it queue one execution, not two. Concurrent
/// calls for one issue wait for each other. Returns the new executions.
caf::expected<std::vector<agent_execution>>
queue_issue_executions(pqxx::transaction_base& tx, const std::string& owner,
                       const std::string& name, int64_t issue_number,
                       const std::string& agent_type,
                       const std::optional<std::string>& user_id);

/// True when the user has `owner/name` registered and active.
caf::expected<bool> has_repository(pqxx::transaction_base& tx,
                                   const std::string& user_id,
                                   const std::string& owner,
                                   const std::string& name);

/// Sets `pr_number` on the newest running or completed execution of each
/// issue in `issues`, in every active registration of `owner/name`;
/// returns the ids of the executions it changed.
caf::expected<std::vector<std::string>>
link_pull_request(pqxx::transaction_base& tx, const std::string& owner,
                  const std::string& name, const std::vector<int64_t>& issues,
                  int64_t pr_number);

} // namespace miyabi::storage
