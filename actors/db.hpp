// The database actors and how other actors use them.
//
// The pool (registered as names::db) owns DB_POOL_SIZE detached session
// actors, one pqxx connection each, so blocking libpqxx calls never run on
// scheduler or reactor threads. A job goes to an idle session first; when
// all are busy it waits in a bounded queue; when the queue is full (for a
// client's request; the service's own background jobs still queue), or the
// database is known to be down, it fails at once with service_unavailable
// (503 + Retry-After). Queued jobs fail with a timeout at their deadline.
// A session whose connection breaks reconnects in place (statements are
// prepared anew) and runs the job once more unless it is write_once; when
// the server is gone it answers connection_lost and exits, and the pool
// starts a fresh session after a backoff, counting it in
// miyabi_actor_restarts_total.
//
// Writes that allow it (db_grouping::shared_commit: the Telegram webhook)
// commit together when they queue: the session that frees up takes the
// oldest and up to 31 more of the same label, runs them in one transaction
// and commits once, so concurrent updates share one WAL flush instead of
// waiting for one each. Each is answered after that commit. When the group
// cannot commit (a member's error, a statement over 250 ms, a deadlock, a
// lost connection before COMMIT) it rolls back and its jobs go back to the
// front of the queue to run alone, on any session, each within its own
// deadline; one bad update cannot fail the others.
//
// Identical reads share one query: a read answered in place with a
// coalesce key (GET /api/v1/repositories: the label and the user) that
// arrives while a job with the same key waits in the queue joins that job
// and gets a copy of its value. Only waiting jobs are joined, never running
// ones, so the query starts after every request it answers arrived and
// each sees at least every write that finished before it came. A follower
// keeps its own deadline: when the job's own expires in the queue, the
// earliest live follower takes its place.
//
// A detached monitor actor applies migrations when the database becomes
// reachable, probes it every DB_HEALTH_INTERVAL_MS (service_status::database
// feeds /api/v1/health: never a query per health request), and purges
// expired rows every few minutes.
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/send.hpp>

#include "actors/ask.hpp"
#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "metrics/fwd.hpp"
#include "storage/session.hpp"

namespace miyabi::actors {

/// Spawns the pool (and its sessions and monitor) as a child of `parent`.
db_pool_handle spawn_db_pool(caf::local_actor* parent,
                             std::shared_ptr<const config::settings> cfg,
                             std::shared_ptr<metrics::service_metrics> metrics,
                             std::shared_ptr<domain::service_status> status);

/// The `T` of a unit of work: a callable taking `pqxx::transaction_base&`
/// and returning `caf::expected<T>`. Every job's value type is deduced from
/// its work, so the value a session produces and the one its receiver
/// reads are the same type by construction.
template <class Work>
using work_value_t =
  typename std::invoke_result_t<Work&, pqxx::transaction_base&>::value_type;

/// Wraps `work` (see `work_value_t`) into a job.
template <class Work>
db_job make_db_job(const request_meta& meta, const char* label,
                   storage::access mode, Work work) {
  db_job job;
  job.label = label;
  job.mode = mode;
  job.deadline = meta.deadline;
  job.background = meta.background;
  job.work = [work = std::move(work)](
               pqxx::transaction_base& tx) -> caf::expected<std::any> {
    auto result = work(tx);
    if (!result)
      return std::move(result.error());
    return std::any{std::move(*result)};
  };
  return job;
}

/// Runs `work` on a database session as `mode` says (see storage::access),
/// within the request's deadline; work that is not write_once runs again
/// once after a lost connection. `on_value(T&)` or `on_error(caf::error&)`
/// runs in the calling actor afterwards.
template <class Self, class Work, class OnValue, class OnError>
void query(Self* self, const request_meta& meta, const char* label,
           storage::access mode, Work work, OnValue on_value,
           OnError on_error) {
  using T = work_value_t<Work>;
  ask(
    self, lookup(self, names::db), meta,
    [on_value = std::move(on_value)](db_result& res) mutable {
      on_value(std::any_cast<T&>(res.value));
    },
    std::move(on_error), make_db_job(meta, label, mode, std::move(work)));
}

/// Like `query`, but `on_value` and `on_error` run on the session's thread
/// right after the work (or on the pool's when the job cannot start): one
/// message and one thread switch less per request. They must not touch the
/// calling actor, only what they captured by value (a responder, say). The
/// pool enforces the deadline while the job waits; statement_timeout while
/// it runs. `sharing` may let the job commit together with other queued
/// jobs of its label (see db_grouping for what the work must allow) or
/// answer identical queued reads with one query (db_job::coalesce_key).
template <class Work, class OnValue, class OnError>
void query_in_session(caf::local_actor* self, const request_meta& meta,
                      const char* label, storage::access mode, Work work,
                      OnValue on_value, OnError on_error,
                      db_sharing sharing = {}) {
  using T = work_value_t<Work>;
  auto pool = lookup(self, names::db);
  if (auto err = can_ask(pool, meta)) {
    on_error(err);
    return;
  }
  auto job = make_db_job(meta, label, mode, std::move(work));
  job.grouping = sharing.grouping;
  job.coalesce_key = std::move(sharing.coalesce_key);
  job.outcome = std::make_shared<db_outcome>(
    [on_value = std::move(on_value),
     on_error = std::move(on_error)](caf::expected<std::any>& result) mutable {
      if (result)
        on_value(std::any_cast<T&>(*result));
      else
        on_error(result.error());
    });
  // No answer comes back to `self` (the outcome is settled in place), so
  // the job goes without a sender: any actor, typed or not, may call this.
  caf::anon_send(pool, std::move(job));
}

} // namespace miyabi::actors
