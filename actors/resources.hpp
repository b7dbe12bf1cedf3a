// The Resources part of api.md (repositories, agent executions and their
// logs, workflows, dashboard): each operation becomes one database job run
// on behalf of the authenticated user, answered through the call's
// responder. Runs inside the front actor that received the call.
//
// Errors reach the responder: not_found for missing or other users' rows,
// conflict / unprocessable_entity from the queries, and the database
// errors of storage::session.
#pragma once

#include <memory>

#include <caf/fwd.hpp>
#include <pqxx/types.hxx>

#include "actors/messages.hpp"

namespace miyabi::metrics {
class service_metrics;
} // namespace miyabi::metrics

namespace miyabi::actors {

class worker_token_cache;

/// What the resource operations share beyond the call itself.
struct resource_deps {
  storage::lease_policy lease;
  std::shared_ptr<worker_token_cache> workers;
  std::shared_ptr<metrics::service_metrics> metrics;
};

/// True for the operations `handle_resource` serves.
bool is_resource_operation(operation op);

/// True for the operations a worker token may call (claim, heartbeat,
/// PATCH, POST logs, GET an execution); others answer it 403.
bool worker_operation(operation op);

/// Serves one resource operation of an authenticated call.
void handle_resource(caf::event_based_actor* self, const resource_deps& deps,
                     api_call& call);

/// Queues the Telegram notices of `changes` in their transaction, so none
/// is lost.
caf::error notify(pqxx::transaction_base& tx,
                  const std::vector<storage::execution_change>& changes);

/// After the commit: counts each change and wakes the outbox sender.
void publish(caf::event_based_actor* self, metrics::service_metrics& metrics,
             const std::vector<storage::execution_change>& changes);

} // namespace miyabi::actors
