#include "actors/db.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/supervision.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "metrics/metrics.hpp"
#include "storage/database_url.hpp"
#include "storage/maintenance.hpp"
#include "storage/migrations.hpp"

namespace miyabi::actors {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

/// How often queued jobs are checked against their deadline.
constexpr auto sweep_interval = milliseconds{50};

/// The most jobs one shared commit holds, and how long any statement of
/// such a group may take (members take about a millisecond; one that waits
/// longer, on a lock say, sends the group back to run alone).
constexpr size_t max_group_jobs = 32;
constexpr auto group_statement_timeout = milliseconds{250};

using service_metrics_ref = const std::shared_ptr<metrics::service_metrics>&;

std::string error_kind(const caf::error& err) {
  auto info = describe(err);
  if (!info.ours)
    return "actor";
  switch (info.code) {
    case errc::connection_lost: return "connection_lost";
    case errc::unknown_outcome: return "unknown_outcome";
    case errc::timeout: return "timeout";
    case errc::conflict: return "conflict";
    case errc::database_error: return "sql";
    case errc::internal_error: return "internal";
    default: return {}; // a business answer (not found, ...), not a failure
  }
}

storage::session_config session_config_of(const config::settings& cfg) {
  storage::session_config result;
  result.url = cfg.database_url;
  result.connect_timeout = cfg.db_connect_timeout;
  // Below the HTTP deadline, so a slow statement ends before the request.
  result.statement_timeout =
    std::max(milliseconds{100}, cfg.request_timeout - milliseconds{500});
  return result;
}

/// Hands a job's outcome to whoever waits for it: its db_outcome, or the
/// requester behind `rp`.
template <class Promise>
void settle(db_job& job, Promise& rp, caf::expected<std::any> result) {
  for (auto& f : job.followers)
    f.outcome->settle(result); // a copy each
  job.followers.clear();
  if (job.outcome)
    job.outcome->settle(std::move(result));
  else if (result)
    rp.deliver(db_result{std::move(*result)});
  else
    rp.deliver(std::move(result.error()));
}

// -- session ------------------------------------------------------------------

struct session_state {
  static inline const char* name = "db_session";
  std::unique_ptr<storage::session> db;
  /// Duration series by job label (labels are string literals).
  std::unordered_map<const char*, prometheus::Histogram*> durations;
};

using session_actor = db_session_handle::stateful_pointer<session_state>;

void observe_duration(session_actor self, service_metrics_ref metrics,
                      const char* label, clock::time_point started) {
  auto& series = self->state.durations[label];
  if (series == nullptr)
    series = &metrics->db_query_duration[label];
  series->Observe(
    std::chrono::duration<double>(clock::now() - started).count());
}

/// After a job or group: tells the pool the session is idle, or ends the
/// session when the database became unreachable (the pool starts a fresh
/// one after a backoff, shown in miyabi_actor_restarts_total).
void finish(session_actor self, const db_pool_handle& pool,
            bool had_connection) {
  auto& db = *self->state.db;
  if (!db.connected() && had_connection) {
    self->quit(make_error(errc::connection_lost, "connection lost"));
    return;
  }
  self->send(pool, idle_atom::value, db.connected());
}

template <class Promise>
void run_job(session_actor self, const db_pool_handle& pool,
             service_metrics_ref metrics, db_job& job, Promise& rp) {
  if (job.deadline <= clock::now()) {
    settle(job, rp, make_error(errc::timeout, "request deadline passed"));
    self->send(pool, idle_atom::value, true);
    return;
  }
  auto& db = *self->state.db;
  bool had_connection = db.connected();
  auto started = clock::now();
  auto budget = [&job] {
    return std::chrono::duration_cast<milliseconds>(job.deadline -
                                                    clock::now());
  };
  auto result = db.run(job.work, job.mode, budget());
  if (!result && had_connection && is(result.error(), errc::connection_lost)) {
    // The server dropped this connection (restart, pg_terminate_backend,
    // idle kill). Replace it at once; nothing was committed, so
    // work that is not write_once runs again on the new connection.
    metrics->db_errors["connection_lost"].Increment();
    if (!db.connect() && job.mode != storage::access::write_once)
      result = db.run(job.work, job.mode, budget());
  }
  observe_duration(self, metrics, job.label, started);
  if (!result)
    if (auto kind = error_kind(result.error());
        !kind.empty() && kind != "connection_lost")
      metrics->db_errors[kind].Increment();
  settle(job, rp, std::move(result));
  finish(self, pool, had_connection);
}

/// Runs a group in one transaction. Jobs that cannot commit together go
/// back to the pool to run alone, on any session, each with its own
/// deadline: a slow or failing member costs the others at most
/// `group_statement_timeout`.
void run_group(session_actor self, const db_pool_handle& pool,
               service_metrics_ref metrics, std::vector<db_job>& jobs) {
  auto now = clock::now();
  std::vector<db_job> live;
  for (auto& job : jobs) {
    if (job.deadline <= now)
      job.outcome->settle(make_error(errc::timeout, "request deadline passed"));
    else
      live.push_back(std::move(job));
  }
  if (live.size() <= 1) {
    auto rp = self->make_response_promise<db_result>();
    if (live.empty())
      self->send(pool, idle_atom::value, true);
    else
      run_job(self, pool, metrics, live.front(), rp);
    return;
  }
  auto budget = group_statement_timeout;
  std::vector<const storage::unit_of_work*> works;
  for (const auto& job : live) {
    budget = std::min(budget, duration_cast<milliseconds>(job.deadline - now));
    works.push_back(&job.work);
  }
  auto& db = *self->state.db;
  bool had_connection = db.connected();
  auto result = db.run_group(works, budget);
  for (const auto& job : live)
    observe_duration(self, metrics, job.label, now);
  if (result.committed) {
    for (size_t i = 0; i < live.size(); ++i)
      live[i].outcome->settle(std::move(result.values[i]));
  } else if (result.error && is(result.error, errc::unknown_outcome)) {
    metrics->db_errors["unknown_outcome"].Increment();
    for (auto& job : live)
      job.outcome->settle(result.error);
  } else {
    // Nothing was saved (a lost connection before COMMIT included).
    if (result.error)
      metrics->db_errors["connection_lost"].Increment();
    metrics->db_group_retries.Increment();
    for (auto& job : live)
      job.grouping = db_grouping::alone;
    self->send(pool, db_group{std::move(live)});
  }
  finish(self, pool, had_connection);
}

db_session_handle::behavior_type
db_session(session_actor self, storage::session_config cfg, db_pool_handle pool,
           std::shared_ptr<metrics::service_metrics> metrics) {
  self->state.db = std::make_unique<storage::session>(std::move(cfg));
  log_exceptions(self, "db_session");
  // Connect right away so the pool knows which sessions work; a failure
  // leaves the session unconnected until its next job.
  self->send(self, probe_atom::value);
  return {
    [=](probe_atom) {
      self->state.db->connect();
      self->send(pool, probe_atom::value, self->state.db->connected());
    },
    [=](db_job& job) -> caf::result<db_result> {
      auto rp = self->make_response_promise<db_result>();
      run_job(self, pool, metrics, job, rp);
      return rp;
    },
    [=](db_group& group) { run_group(self, pool, metrics, group.jobs); },
  };
}

// -- monitor: migrations, health probe, purge ---------------------------------

struct monitor_state {
  static inline const char* name = "db_monitor";
  std::unique_ptr<storage::session> db;
  std::string conninfo; ///< for the quiet probe while the database is down
  bool migrated = false;
  clock::time_point next_purge;
};

db_monitor_handle::behavior_type
db_monitor(db_monitor_handle::stateful_pointer<monitor_state> self,
           storage::session_config cfg,
           std::shared_ptr<domain::service_status> status,
           std::shared_ptr<metrics::service_metrics> metrics,
           milliseconds interval, milliseconds purge_period) {
  cfg.application_name = "miyabi-api-monitor";
  cfg.statement_timeout = std::max(interval, milliseconds{1000});
  self->state.conninfo = storage::session::effective_url(cfg);
  self->state.db = std::make_unique<storage::session>(std::move(cfg));
  self->state.next_purge =
    clock::now() +
    std::min<clock::duration>(purge_period, std::chrono::seconds{30});
  log_exceptions(self, "db_monitor");
  self->send(self, tick_atom::value);
  return {
    [=](tick_atom) {
      auto& st = self->state;
      // While the database is down, probe without logging in: a failed
      // session connect logs a warning, and the outage is reported once
      // below, on the change of state, not on every tick.
      caf::error err;
      if (status->database.load() != domain::db_state::connected &&
          !storage::accepts_connections(st.conninfo))
        err = make_error(errc::connection_lost, "the database is unavailable");
      else
        err = st.db->ping();
      if (!err && !st.migrated) {
        auto report = storage::migrate(st.db->connection());
        if (report) {
          st.migrated = true;
          for (const auto& name : report->applied)
            log::info("migration applied", {{"migration", name}});
        } else if (is(report.error(), errc::connection_lost)) {
          err = report.error();
          st.db->disconnect();
        } else {
          log::error(describe(report.error()).message);
          escalate("db_monitor");
          return;
        }
      }
      auto now_state = !err && st.migrated ? domain::db_state::connected
                                           : domain::db_state::disconnected;
      auto before = status->database.exchange(now_state);
      if (before != now_state) {
        if (now_state == domain::db_state::connected)
          log::info("database connected");
        else
          log::warning("database unreachable; database routes answer 503");
      }
      if (now_state == domain::db_state::connected &&
          clock::now() >= st.next_purge) {
        st.next_purge = clock::now() + purge_period;
        auto purged = st.db->run(
          [](pqxx::transaction_base& tx) -> caf::expected<std::any> {
            auto r = storage::purge_expired(tx);
            if (!r)
              return std::move(r.error());
            return std::any{r->rows};
          },
          storage::access::write);
        if (purged)
          log::debug("expired rows purged",
                     {{"rows", std::any_cast<int64_t>(*purged)}});
      }
      (void)metrics;
      self->delayed_send(self, interval, tick_atom::value);
    },
  };
}

// -- pool ---------------------------------------------------------------------

struct pending_job {
  db_job job;
  caf::typed_response_promise<db_result> rp;
};

struct slot {
  db_session_handle session;
  bool idle = false;
  bool connected = false;
  restart_policy policy;
};

struct pool_state {
  static inline const char* name = "db_pool";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<domain::service_status> status;
  storage::session_config session_cfg;
  std::vector<slot> slots;
  std::deque<size_t> idle;
  std::deque<pending_job> queue;
  db_monitor_handle monitor;
  bool stopping = false;
  bool sweeping = false; ///< a tick_atom for `sweep` is on its way
  prometheus::Gauge* idle_sessions = nullptr;
  prometheus::Gauge* busy_sessions = nullptr;
  prometheus::Gauge* broken_sessions = nullptr;
};

using pool_actor = db_pool_handle::stateful_pointer<pool_state>;

void update_gauges(pool_actor self) {
  auto& st = self->state;
  size_t idle = 0;
  size_t busy = 0;
  size_t broken = 0;
  for (const auto& s : st.slots) {
    if (!s.session || (!s.connected && s.idle))
      ++broken;
    else if (s.idle)
      ++idle;
    else
      ++busy;
  }
  st.idle_sessions->Set(static_cast<double>(idle));
  st.busy_sessions->Set(static_cast<double>(busy));
  st.broken_sessions->Set(static_cast<double>(broken));
  st.metrics->db_queue_depth.Set(static_cast<double>(st.queue.size()));
}

void spawn_session(pool_actor self, size_t index) {
  auto& st = self->state;
  auto session = self->spawn<caf::detached + caf::linked>(
    db_session, st.session_cfg, caf::actor_cast<db_pool_handle>(self),
    st.metrics);
  self->monitor(session);
  st.slots[index].session = session;
  st.slots[index].idle = true;
  st.slots[index].connected = false;
  st.idle.push_back(index);
}

/// `first` and the queued jobs that may commit with it (same label, oldest
/// first, at most max_group_jobs), taken out of the queue; empty, with
/// `first` untouched, when no queued job may join it.
std::vector<db_job> take_group(pool_actor self, db_job& first) {
  std::vector<db_job> group;
  auto& queue = self->state.queue;
  auto joins = [&first](const db_job& job) {
    return job.grouping == db_grouping::shared_commit && job.outcome &&
           std::strcmp(job.label, first.label) == 0;
  };
  if (!first.outcome)
    return group;
  for (auto it = queue.begin();
       it != queue.end() && group.size() + 1 < max_group_jobs;) {
    if (joins(it->job)) {
      group.push_back(std::move(it->job));
      it = queue.erase(it);
    } else {
      ++it;
    }
  }
  if (!group.empty())
    group.insert(group.begin(), std::move(first));
  return group;
}

/// Whether the waiting job is past its deadline; if so, its own requester is
/// answered with a timeout, and the earliest of its followers that still
/// has time takes its place (the job stays, with that deadline), or, with
/// none left, every follower is answered too.
bool expired(pending_job& p, clock::time_point now) {
  auto& job = p.job;
  if (job.deadline > now)
    return false;
  auto late = [now](const db_follower& f) {
    return f.deadline <= now;
  };
  auto timeout = [] {
    return make_error(errc::timeout, "request deadline passed");
  };
  for (auto& f : job.followers)
    if (late(f))
      f.outcome->settle(timeout());
  auto& fs = job.followers;
  fs.erase(std::remove_if(fs.begin(), fs.end(), late), fs.end());
  if (fs.empty()) {
    settle(job, p.rp, timeout());
    return true;
  }
  auto next = std::min_element(fs.begin(), fs.end(),
                               [](const db_follower& a, const db_follower& b) {
                                 return a.deadline < b.deadline;
                               });
  job.outcome->settle(timeout());
  job.outcome = std::move(next->outcome);
  job.deadline = next->deadline;
  fs.erase(next);
  return false;
}

/// Adds `p` to a waiting job with its coalesce key, if there is one.
bool join_waiting(pool_actor self, pending_job& p) {
  auto& job = p.job;
  if (job.coalesce_key.empty() || !job.outcome ||
      job.mode != storage::access::read)
    return false;
  for (auto& q : self->state.queue) {
    if (q.job.coalesce_key == job.coalesce_key && q.job.outcome &&
        q.job.mode == storage::access::read) {
      q.job.followers.push_back({std::move(job.outcome), job.deadline});
      self->state.metrics->db_coalesced.Increment();
      return true;
    }
  }
  return false;
}

void start(pool_actor self, size_t index, pending_job p) {
  auto& st = self->state;
  auto& s = st.slots[index];
  s.idle = false;
  if (expired(p, clock::now())) {
    s.idle = true;
    st.idle.push_front(index);
    return;
  }
  if (p.job.grouping == db_grouping::shared_commit) {
    if (auto group = take_group(self, p.job); group.size() > 1) {
      st.metrics->db_group_jobs.Observe(static_cast<double>(group.size()));
      self->send(s.session, db_group{std::move(group)});
      return;
    }
  }
  // The session answers the requester directly (one hop less); it retries
  // retryable work itself when its connection breaks, and the requester's
  // own deadline bounds the wait.
  p.rp.delegate(s.session, std::move(p.job));
}

void drain_queue(pool_actor self) {
  auto& st = self->state;
  while (!st.idle.empty() && !st.queue.empty()) {
    auto index = st.idle.front();
    st.idle.pop_front();
    auto p = std::move(st.queue.front());
    st.queue.pop_front();
    start(self, index, std::move(p));
  }
  update_gauges(self);
}

/// Answers queued jobs whose deadline passed (jobs answered in the session
/// have no request timeout of their own to do it).
void sweep(pool_actor self) {
  auto& st = self->state;
  auto now = clock::now();
  st.queue.erase(
    std::remove_if(st.queue.begin(), st.queue.end(),
                   [now](pending_job& p) { return expired(p, now); }),
    st.queue.end());
  st.sweeping = !st.queue.empty();
  if (st.sweeping)
    self->delayed_send(self, sweep_interval, tick_atom::value);
  update_gauges(self);
}

/// Queued jobs of clients; the service's own background jobs do not count
/// against DB_QUEUE_LIMIT.
size_t client_jobs_queued(pool_actor self) {
  const auto& queue = self->state.queue;
  return static_cast<size_t>(
    std::count_if(queue.begin(), queue.end(),
                  [](const pending_job& p) { return !p.job.background; }));
}

void submit(pool_actor self, pending_job p) {
  auto& st = self->state;
  if (st.status->database.load() == domain::db_state::disconnected) {
    settle(
      p.job, p.rp,
      make_error(errc::service_unavailable, "the database is unavailable"));
    return;
  }
  if (!st.idle.empty()) {
    auto index = st.idle.front();
    st.idle.pop_front();
    start(self, index, std::move(p));
  } else if (join_waiting(self, p)) {
    // answered with the job it joined
  } else if (p.job.background ||
             client_jobs_queued(self) < st.cfg->db_queue_limit) {
    st.queue.push_back(std::move(p));
    if (!st.sweeping) {
      st.sweeping = true;
      self->delayed_send(self, sweep_interval, tick_atom::value);
    }
  } else {
    settle(p.job, p.rp,
           make_error(errc::service_unavailable,
                      "the database is busy; retry shortly"));
  }
  update_gauges(self);
}

std::optional<size_t> slot_of(pool_actor self, const caf::actor_addr& addr) {
  auto& slots = self->state.slots;
  for (size_t i = 0; i < slots.size(); ++i)
    if (slots[i].session && slots[i].session.address() == addr)
      return i;
  return std::nullopt;
}

db_pool_handle::behavior_type
db_pool(pool_actor self, std::shared_ptr<const config::settings> cfg,
        std::shared_ptr<metrics::service_metrics> metrics,
        std::shared_ptr<domain::service_status> status) {
  auto& init = self->state;
  init.cfg = std::move(cfg);
  init.metrics = std::move(metrics);
  init.status = std::move(status);
  init.idle_sessions = &init.metrics->db_sessions["idle"];
  init.busy_sessions = &init.metrics->db_sessions["busy"];
  init.broken_sessions = &init.metrics->db_sessions["broken"];
  init.session_cfg = session_config_of(*init.cfg);
  init.slots.resize(init.cfg->db_pool_size);
  log_exceptions(self, "db_pool");
  for (size_t i = 0; i < init.slots.size(); ++i)
    spawn_session(self, i);
  init.monitor = self->spawn<caf::detached + caf::linked>(
    db_monitor, init.session_cfg, init.status, init.metrics,
    init.cfg->db_health_interval, init.cfg->db_purge_interval);
  update_gauges(self);
  // Sessions are linked so they end with the pool. Their own exits (a lost
  // connection, a crash) are the down handler's business; only a shutdown
  // from the supervisor ends the pool.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.reason != caf::exit_reason::user_shutdown)
      return;
    self->state.stopping = true;
    for (auto& p : self->state.queue)
      settle(p.job, p.rp,
             make_error(errc::service_unavailable, "shutting down"));
    self->state.queue.clear();
    self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto index = slot_of(self, msg.source);
    if (!index || st.stopping)
      return;
    auto& s = st.slots[*index];
    s.session = nullptr;
    s.idle = false;
    st.idle.erase(std::remove(st.idle.begin(), st.idle.end(), *index),
                  st.idle.end());
    auto now = clock::now();
    std::optional<clock::duration> delay;
    if (is(msg.reason, errc::connection_lost))
      delay = s.policy.on_failure(now); // the database's fault, not a bug
    else
      delay = s.policy.on_crash(now);
    st.metrics->actor_restarts["db_session"].Increment();
    update_gauges(self);
    if (!delay) {
      escalate("db_session");
      return;
    }
    // A lost connection is the database's trouble, which the monitor
    // reports once per change of state; a crash is ours.
    log::write(is(msg.reason, errc::connection_lost) ? log::level::debug
                                                     : log::level::warning,
               "database session ended; starting a new one",
               {{"reason", self->system().render(msg.reason)},
                {"delay_ms", static_cast<int64_t>(
                               duration_cast<milliseconds>(*delay).count())}});
    self->delayed_send(self, *delay, respawn_atom::value, *index);
  });
  return {
    [self](db_job& job) -> caf::result<db_result> {
      auto rp = self->make_response_promise<db_result>();
      submit(self, pending_job{std::move(job), rp});
      return rp;
    },
    [self](db_group& group) {
      // Back from a session whose shared commit failed: these were
      // admitted already, so they go first and bypass DB_QUEUE_LIMIT.
      auto& queue = self->state.queue;
      for (auto it = group.jobs.rbegin(); it != group.jobs.rend(); ++it)
        queue.push_front(pending_job{std::move(*it),
                                     self->make_response_promise<db_result>()});
      if (!self->state.sweeping && !queue.empty()) {
        self->state.sweeping = true;
        self->delayed_send(self, sweep_interval, tick_atom::value);
      }
      drain_queue(self);
    },
    [self](idle_atom, bool connected) {
      auto index =
        slot_of(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (!index)
        return;
      auto& s = self->state.slots[*index];
      s.connected = connected;
      if (connected)
        s.policy.on_success();
      if (!s.idle) {
        s.idle = true;
        self->state.idle.push_back(*index);
      }
      drain_queue(self);
    },
    [self](probe_atom, bool connected) {
      auto index =
        slot_of(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (index)
        self->state.slots[*index].connected = connected;
      update_gauges(self);
    },
    [self](tick_atom) { sweep(self); },
    [self](respawn_atom, size_t index) {
      if (self->state.stopping || self->state.slots[index].session)
        return;
      spawn_session(self, index);
      drain_queue(self);
    },
  };
}

} // namespace

db_outcome::~db_outcome() {
  settle(make_error(errc::service_unavailable,
                    "the database component restarted; retry"));
}

void db_outcome::settle(caf::expected<std::any> result) {
  if (settled_.exchange(true))
    return;
  fn_(result);
}

db_pool_handle spawn_db_pool(caf::local_actor* parent,
                             std::shared_ptr<const config::settings> cfg,
                             std::shared_ptr<metrics::service_metrics> metrics,
                             std::shared_ptr<domain::service_status> status) {
  return parent->spawn(db_pool, std::move(cfg), std::move(metrics),
                       std::move(status));
}

} // namespace miyabi::actors
