// The database actors and how other actors use them.
//
// The pool (registered as names::db) owns DB_POOL_SIZE detached session
// actors, one pqxx connection each, so blocking libpqxx calls never run on
// scheduler or reactor threads. A job goes to an idle session first; when
// all are busy it waits in a bounded queue; when the queue is full, or the
// database is known to be down, it fails at once with service_unavailable
// (503 + Retry-After). A session whose connection breaks answers its job
// with connection_lost and exits; the pool retries idempotent jobs once on
// another session and starts a fresh session (new connection, statements
// prepared anew) after a backoff, counting it in miyabi_actor_restarts_total.
//
// A detached monitor actor applies migrations when the database becomes
// reachable, probes it every DB_HEALTH_INTERVAL_MS (service_status::database
// feeds /api/v1/health: never a query per health request), and purges
// expired rows every few minutes.
#pragma once

#include <any>
#include <chrono>
#include <memory>
#include <utility>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>

#include "actors/ask.hpp"
#include "actors/messages.hpp"
#include "actors/names.hpp"
#include "actors/status.hpp"
#include "config/settings.hpp"
#include "storage/session.hpp"

namespace miyabi::metrics {
class service_metrics;
} // namespace miyabi::metrics

namespace miyabi::actors {

/// Work for a database session.
struct db_job {
  const char* label = "unnamed"; ///< `query` label of the duration metric
  bool idempotent = true;        ///< may be retried after a lost connection
  clock::time_point deadline;
  storage::unit_of_work work;
};

/// The value a job produced.
struct db_result {
  std::any value;
};

/// Spawns the pool (and its sessions and monitor) as a child of `parent`.
caf::actor spawn_db_pool(caf::local_actor* parent,
                         std::shared_ptr<const config::settings> cfg,
                         std::shared_ptr<metrics::service_metrics> metrics,
                         std::shared_ptr<service_status> status);

/// Runs `work` (a callable taking `pqxx::transaction_base&` and returning
/// `caf::expected<T>`) in one transaction on a database session, within the
/// request's deadline. `on_value(T&)` or `on_error(caf::error&)` runs in
/// the calling actor afterwards.
template <class T, class Self, class Work, class OnValue, class OnError>
void query(Self* self, const request_meta& meta, const char* label,
           bool idempotent, Work work, OnValue on_value, OnError on_error) {
  db_job job;
  job.label = label;
  job.idempotent = idempotent;
  job.deadline = meta.deadline;
  job.work = [work = std::move(work)](
               pqxx::transaction_base& tx) -> caf::expected<std::any> {
    auto result = work(tx);
    if (!result)
      return std::move(result.error());
    return std::any{std::move(*result)};
  };
  ask(
    self, lookup(self, names::db), meta,
    [on_value = std::move(on_value)](db_result& res) mutable {
      on_value(std::any_cast<T&>(res.value));
    },
    std::move(on_error), std::move(job));
}

} // namespace miyabi::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::db_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::db_result)
