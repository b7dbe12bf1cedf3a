// Queries of workflow runs: a run creates one execution per node of its
// workflow's graph (roots pending, the others blocked) and records the
// graph's edges between those executions; a finished node releases or
// cancels its dependents. Blocking; run inside a transaction on a database
// session's thread.
//
// Locking: every status change of an execution that belongs to a run first
// locks the run's row (`lock_run_of`), then the execution's. Completions of
// predecessors therefore serialize per run, so the last one sees all the
// others committed and releases each dependent exactly once (under READ
// COMMITTED each would otherwise miss the other's uncommitted completion
// and leave the dependent blocked forever).
//
// Errors besides the session's: not_found (another user's or a missing
// workflow, run or repository), conflict (an inactive workflow).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Creates a run of the user's workflow `workflow_id` and its executions.
caf::expected<workflow_run> create_run(pqxx::transaction_base& tx,
                                       const std::string& user_id,
                                       const std::string& workflow_id,
                                       const new_workflow_run& input);

/// The runs of one workflow, newest first (at most 100).
caf::expected<std::vector<workflow_run>>
list_runs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& workflow_id);

caf::expected<std::optional<workflow_run>> find_run(pqxx::transaction_base& tx,
                                                    const std::string& user_id,
                                                    const std::string& run_id);

/// Cancels every unfinished node of the run (a running run becomes
/// cancelled); the changed executions, for notifications.
caf::expected<std::vector<execution_change>>
cancel_run(pqxx::transaction_base& tx, const std::string& user_id,
           const std::string& run_id);

/// Locks the run `run_id` (see Locking above).
void lock_run(pqxx::transaction_base& tx, const std::string& run_id);

/// What `change` (an execution of a run, its run locked) does to the rest of
/// the run: completion releases dependents whose predecessors all completed
/// and completes the run with its last node; failure or cancellation
/// cancels everything downstream and fails the run. The executions changed
/// in consequence.
std::vector<execution_change> settle_run(pqxx::transaction_base& tx,
                                         const execution_change& change);

} // namespace miyabi::storage
