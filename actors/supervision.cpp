#include "actors/supervision.hpp"

#include <atomic>
#include <csignal>
#include <exception>
#include <unistd.h>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/protocol.hpp"
#include "base/backoff.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::actors {

namespace {

std::atomic<bool> escalated_flag{false};

} // namespace

// -- restart_policy -----------------------------------------------------------

restart_policy::restart_policy(clock::duration initial, clock::duration cap,
                               size_t max_restarts, clock::duration window)
    : initial_(initial), cap_(cap), max_restarts_(max_restarts),
      window_(window) {}

restart_policy::clock::duration restart_policy::next_delay() {
  return backoff_delay(++failures_, initial_, cap_);
}

std::optional<restart_policy::clock::duration>
restart_policy::on_crash(clock::time_point now) {
  crashes_.push_back(now);
  while (!crashes_.empty() && now - crashes_.front() > window_)
    crashes_.pop_front();
  if (crashes_.size() > max_restarts_)
    return std::nullopt;
  if (crashes_.size() == 1)
    failures_ = 0; // The previous crash is long forgotten.
  return next_delay();
}

restart_policy::clock::duration restart_policy::on_failure(clock::time_point) {
  return next_delay();
}

void restart_policy::on_success() {
  failures_ = 0;
}

// -- exception logging and escalation -----------------------------------------

void log_exceptions(caf::scheduled_actor* self, std::string name) {
  self->set_exception_handler(
    [name = std::move(name)](caf::scheduled_actor*,
                             std::exception_ptr& ptr) -> caf::error {
      std::string what = "unknown exception";
      try {
        std::rethrow_exception(ptr);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
        // Keep the generic text.
      }
      log::error("actor crashed with an exception",
                 {{"actor", name}, {"exception", what}});
      return make_error(errc::internal_error, "internal error");
    });
}

void escalate(const std::string& who) {
  if (escalated_flag.exchange(true))
    return;
  log::error("restart intensity exceeded: shutting down so the platform "
             "restarts the process",
             {{"actor", who}});
  ::kill(::getpid(), SIGTERM);
}

bool escalated() {
  return escalated_flag.load();
}

// -- supervisor ---------------------------------------------------------------

namespace {

struct supervisor_state {
  static inline const char* name = "supervisor";
  child_spec spec;
  std::shared_ptr<metrics::service_metrics> metrics;
  restart_policy policy;
  caf::actor child;
  bool stopping = false;
};

using supervisor_actor = supervisor_handle::stateful_pointer<supervisor_state>;

void start_child(supervisor_actor self) {
  auto& st = self->state;
  st.child = st.spec.spawn(self);
  self->monitor(st.child);
  // CAF 0.17's registry keeps the first actor put under a name (put does
  // not replace): without the erase, a restarted child would stay hidden
  // behind its dead predecessor and every request to it would fail.
  auto& registry = self->system().registry();
  registry.erase(st.spec.name);
  registry.put(st.spec.name, st.child);
}

supervisor_handle::behavior_type
supervisor(supervisor_actor self, child_spec spec,
           std::shared_ptr<metrics::service_metrics> metrics) {
  self->state.spec = std::move(spec);
  self->state.metrics = std::move(metrics);
  log_exceptions(self, "supervisor/" + self->state.spec.label);
  start_child(self);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source != st.child.address() || st.stopping)
      return; // A stale notice about an earlier generation.
    auto delay = st.policy.on_crash(std::chrono::steady_clock::now());
    st.metrics->actor_restarts[st.spec.label].Increment();
    if (!delay) {
      escalate(st.spec.label);
      return;
    }
    log::error("worker actor died; restarting",
               {{"actor", st.spec.label},
                {"reason", self->system().render(msg.reason)},
                {"delay_ms",
                 static_cast<int64_t>(
                   std::chrono::duration_cast<std::chrono::milliseconds>(*delay)
                     .count())}});
    self->delayed_send(self, *delay, respawn_atom::value);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& st = self->state;
    st.stopping = true;
    self->system().registry().erase(st.spec.name);
    if (st.child)
      self->send_exit(st.child, msg.reason);
    st.child = nullptr;
    self->quit(msg.reason);
  });
  return {
    [self](respawn_atom) {
      if (self->state.stopping)
        return;
      start_child(self);
      log::info("worker actor restarted", {{"actor", self->state.spec.label}});
    },
  };
}

} // namespace

supervisor_handle
spawn_supervisor(caf::actor_system& sys, child_spec spec,
                 std::shared_ptr<metrics::service_metrics> metrics) {
  return sys.spawn(supervisor, std::move(spec), std::move(metrics));
}

} // namespace miyabi::actors
