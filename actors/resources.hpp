// The Resources part of api.md (repositories, agent executions and their
// logs, worker tokens, workflows and their runs, dashboard): each operation
// is one handler of actors/handlers.hpp that runs one database job on
// behalf of the authenticated user. This header holds what those handlers
// share with the rest of the actors: their dependencies and the way an
// execution's status change is announced (Telegram notice in the same
// transaction, counters and the outbox after the commit).
#pragma once

#include <memory>

#include <caf/fwd.hpp>
#include <pqxx/types.hxx>

#include "actors/protocol.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

class worker_token_cache;

/// What the resource operations share beyond the call itself.
struct resource_deps {
  storage::lease_policy lease;
  std::shared_ptr<worker_token_cache> workers;
  std::shared_ptr<metrics::service_metrics> metrics;
};

/// Queues the Telegram notices of `changes` in their transaction, so none
/// is lost.
caf::error notify(pqxx::transaction_base& tx,
                  const std::vector<storage::execution_change>& changes);

/// After the commit: counts each change and wakes the outbox sender. Any
/// thread (also a database session's, answering a request).
void publish(caf::actor_system& system, metrics::service_metrics& metrics,
             const std::vector<storage::execution_change>& changes);

} // namespace miyabi::actors
