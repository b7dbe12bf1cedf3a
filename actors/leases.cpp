#include "actors/leases.hpp"

#include <chrono>

#include <caf/stateful_actor.hpp>

#include "actors/db.hpp"
#include "actors/resources.hpp"
#include "actors/supervision.hpp"
#include "base/log.hpp"
#include "metrics/metrics.hpp"
#include "storage/executions.hpp"

namespace miyabi::actors {

namespace {

using std::chrono::seconds;

constexpr auto sweep_period = seconds{1};
/// Expiries handled per transaction; a full batch sweeps again at once.
constexpr int64_t batch = 100;

struct sweeper_state {
  static inline const char* name = "leases";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  bool sweeping = false;
  bool failing = false; ///< the last sweep failed (logged once per run)
};

using sweeper_actor = leases_handle::stateful_pointer<sweeper_state>;

void sweep(sweeper_actor self) {
  auto& st = self->state;
  if (st.sweeping)
    return;
  st.sweeping = true;
  request_meta meta;
  meta.request_id = "lease-sweep";
  meta.deadline = clock::now() + seconds{5};
  meta.background = true;
  storage::lease_policy policy;
  policy.lease_seconds = st.cfg->execution_lease_seconds;
  policy.max_attempts = st.cfg->execution_max_attempts;
  query(
    self, meta, "expire_leases", storage::access::write_once,
    [policy](
      pqxx::transaction_base& tx) -> caf::expected<storage::lease_sweep> {
      auto swept = storage::expire_leases(tx, policy, batch);
      if (swept)
        if (auto err = notify(tx, swept->changes))
          return err;
      return swept;
    },
    [self](storage::lease_sweep& swept) {
      auto& s = self->state;
      s.sweeping = false;
      if (s.failing) {
        s.failing = false;
        log::info("lease sweeps work again");
      }
      if (swept.expired == 0)
        return;
      s.metrics->lease_expiries.Increment(static_cast<double>(swept.expired));
      s.metrics->executions_requeued.Increment(
        static_cast<double>(swept.requeued));
      publish(self->system(), *s.metrics, swept.changes);
      log::info("leases expired",
                {{"expired", swept.expired}, {"requeued", swept.requeued}});
      if (swept.expired >= batch)
        self->send(self, kick_atom::value);
    },
    [self](caf::error& err) {
      auto& s = self->state;
      s.sweeping = false;
      // Once per run of failures: a database outage would otherwise log
      // every second (the outage itself is logged by the database actors).
      if (!s.failing)
        log::warning("lease sweep failed; retrying every second",
                     {{"error", caf::to_string(err)}});
      s.failing = true;
    });
}

leases_handle::behavior_type
sweeper(sweeper_actor self, std::shared_ptr<const config::settings> cfg,
        std::shared_ptr<metrics::service_metrics> metrics) {
  self->state.cfg = std::move(cfg);
  self->state.metrics = std::move(metrics);
  log_exceptions(self, "leases");
  // The first sweep waits a period, so the database pool is registered.
  self->delayed_send(self, sweep_period, tick_atom::value);
  return {
    [self](tick_atom) {
      sweep(self);
      self->delayed_send(self, sweep_period, tick_atom::value);
    },
    [self](kick_atom) { sweep(self); },
  };
}

} // namespace

leases_handle spawn_lease_sweeper(caf::local_actor* parent,
                                  std::shared_ptr<const config::settings> cfg,
                                  std::shared_ptr<metrics::service_metrics> m) {
  return parent->spawn(sweeper, std::move(cfg), std::move(m));
}

} // namespace miyabi::actors
