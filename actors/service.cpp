#include "actors/service.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/auth.hpp"
#include "actors/db.hpp"
#include "actors/front.hpp"
#include "actors/leases.hpp"
#include "actors/outbound.hpp"
#include "actors/outbox.hpp"
#include "actors/protocol.hpp"
#include "actors/supervision.hpp"
#include "actors/telegram.hpp"
#include "actors/token_verifier.hpp"
#include "actors/worker_tokens.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "domain/rate_limit.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::actors {

responder::~responder() = default;

namespace {

caf::actor_system_config make_config(const config::settings& cfg) {
  caf::actor_system_config result;
  // CAF 0.17 otherwise takes max(hardware threads, 4), blind to container
  // CPU limits.
  result.set("scheduler.max-threads", cfg.actor_threads);
  result.set("logger.file-verbosity", caf::atom("quiet"));
  result.set("logger.console-verbosity", caf::atom("quiet"));
  return result;
}

} // namespace

struct service::impl {
  impl(std::shared_ptr<const config::settings> cfg_ptr,
       std::shared_ptr<metrics::service_metrics> metrics_ptr,
       std::shared_ptr<domain::service_status> status_ptr)
      : cfg(std::move(cfg_ptr)), metrics(std::move(metrics_ptr)),
        status(std::move(status_ptr)), sys_cfg(make_config(*cfg)),
        sys(sys_cfg) {}

  template <class Handle, class Factory>
  void supervise(registry_name<Handle> name, std::string label,
                 Factory factory) {
    supervisors.push_back(spawn_supervisor(
      sys, supervised(name, std::move(label), std::move(factory)), metrics));
    names.push_back(name.key);
  }

  /// Supervisors publish their children once they run; the HTTP front must
  /// not take requests before every name resolves.
  void await_children() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    for (auto name : names)
      while (!sys.registry().get<caf::actor>(name)) {
        if (std::chrono::steady_clock::now() > deadline) {
          log::error("an actor did not start in time",
                     {{"actor", caf::to_string(name)}});
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{1});
      }
  }

  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<domain::service_status> status;
  caf::actor_system_config sys_cfg;
  caf::actor_system sys;
  std::vector<supervisor_handle> supervisors; ///< in start order
  std::vector<caf::atom_value> names; ///< every supervised registry name
  std::vector<registry_name<front_handle>> fronts;
  /// What the front handlers use; also for those run on the caller's thread.
  std::shared_ptr<const front_deps> deps;
  std::atomic<size_t> next_front{0};
};

service::service(std::shared_ptr<const config::settings> cfg,
                 std::shared_ptr<metrics::service_metrics> metrics,
                 std::shared_ptr<domain::service_status> status)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(metrics),
                                   std::move(status))) {
  auto& st = *impl_;
  st.supervise(names::metrics, "metrics",
               [m = st.metrics](caf::local_actor* parent) {
                 return spawn_metrics_actor(parent, m);
               });
  if (st.cfg->database_enabled())
    st.supervise(names::db, "db",
                 [cfg = st.cfg, m = st.metrics,
                  status = st.status](caf::local_actor* parent) {
                   return spawn_db_pool(parent, cfg, m, status);
                 });
  st.supervise(names::outbound, "outbound",
               [cfg = st.cfg, m = st.metrics](caf::local_actor* parent) {
                 return spawn_outbound(parent, cfg, m);
               });
  auto tokens = std::make_shared<token_verifier>(*st.cfg, st.metrics);
  st.supervise(
    names::auth, "auth",
    [cfg = st.cfg, m = st.metrics, tokens](caf::local_actor* parent) {
      return spawn_auth(parent, cfg, m, tokens);
    });
  st.supervise(names::telegram, "telegram",
               [cfg = st.cfg, m = st.metrics,
                status = st.status](caf::local_actor* parent) {
                 return spawn_telegram(parent, cfg, m, status);
               });
  if (st.cfg->database_enabled())
    st.supervise(names::outbox, "outbox",
                 [cfg = st.cfg, m = st.metrics](caf::local_actor* parent) {
                   return spawn_outbox(parent, cfg, m);
                 });
  if (st.cfg->database_enabled())
    st.supervise(names::leases, "leases",
                 [cfg = st.cfg, m = st.metrics](caf::local_actor* parent) {
                   return spawn_lease_sweeper(parent, cfg, m);
                 });
  auto workers = std::make_shared<worker_token_cache>();
  storage::lease_policy lease;
  lease.lease_seconds = st.cfg->execution_lease_seconds;
  lease.max_attempts = st.cfg->execution_max_attempts;
  st.deps = std::make_shared<front_deps>(front_deps{
    st.cfg,
    st.status,
    st.metrics,
    tokens,
    std::make_shared<domain::rate_limiter>(st.cfg->write_rate_per_minute),
    workers,
    {lease, workers, st.metrics}});
  // One front actor per scheduler thread keeps the dispatch step from
  // becoming a single mailbox every request has to pass.
  for (size_t i = 0; i < st.cfg->actor_threads; ++i) {
    registry_name<front_handle> name{
      caf::atom_from_string("front" + std::to_string(i))};
    st.fronts.push_back(name);
    st.supervise(name, "front", [deps = *st.deps](caf::local_actor* parent) {
      return spawn_front(parent, deps);
    });
  }
  st.await_children();
}

service::~service() {
  stop();
}

void service::dispatch(api_call call) {
  auto& st = *impl_;
  if (call.request.rules.on_caller_thread) {
    // Atomics and constants only: a hop to an actor costs more than the
    // answer (bench/report: health went from 0.72 to 0.84 of bare Pistache).
    call.request.rules.handler(nullptr, *st.deps, call);
    return;
  }
  auto index =
    st.next_front.fetch_add(1, std::memory_order_relaxed) % st.fronts.size();
  auto front =
    caf::actor_cast<front_handle>(st.sys.registry().get(st.fronts[index].key));
  if (!front) {
    call.out->fail(make_error(errc::service_unavailable,
                              "the service is restarting a component"));
    return;
  }
  caf::anon_send(front, std::move(call));
}

void service::stop() {
  auto& st = *impl_;
  if (st.supervisors.empty())
    return;
  for (auto i = st.supervisors.rbegin(); i != st.supervisors.rend(); ++i)
    caf::anon_send_exit(*i, caf::exit_reason::user_shutdown);
  st.supervisors.clear();
  st.sys.await_all_actors_done();
  log::info("actors stopped");
}

} // namespace miyabi::actors
