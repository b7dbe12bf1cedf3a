// Supervision: restart policy, the generic supervisor of one long-lived
// worker, and the JSON exception logger every actor installs.
//
// A supervisor spawns its child, publishes it in the actor system's registry
// under a name (clients look it up per request, so they always reach the
// current child), monitors it and respawns it after an abnormal exit with
// exponential backoff (50 ms doubling to 5 s). More than `max_restarts`
// crashes within `window` escalate: the supervisor logs and asks the process
// to shut down with a non-zero exit code, so the platform restarts it.
// Requests that reach a dead child fail at once (CAF bounces them), which the
// HTTP layer answers with 503.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/scheduled_actor.hpp>

#include "actors/protocol.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

/// Exponential backoff plus restart intensity. Pure logic; one owner.
class restart_policy {
 public:
  using clock = std::chrono::steady_clock;

  restart_policy(clock::duration initial = std::chrono::milliseconds{50},
                 clock::duration cap = std::chrono::seconds{5},
                 size_t max_restarts = 10,
                 clock::duration window = std::chrono::seconds{30});

  /// Records a crash at `now`. Returns the delay before the restart, or
  /// nothing when the crash exceeds the restart intensity (escalate).
  std::optional<clock::duration> on_crash(clock::time_point now);

  /// Records a failure that never escalates (e.g. a lost database
  /// connection): only the backoff grows. Returns the delay.
  clock::duration on_failure(clock::time_point now);

  /// Resets the backoff after a child proved healthy.
  void on_success();

 private:
  clock::duration next_delay();

  clock::duration initial_;
  clock::duration cap_;
  size_t max_restarts_;
  clock::duration window_;
  uint32_t failures_ = 0; ///< since the last success or forgotten crash
  std::deque<clock::time_point> crashes_;
};

/// Installs an exception handler on `self` that logs the exception as one
/// JSON line (never CAF's plain-text default on stdout) and ends the actor
/// with `errc::internal_error`.
void log_exceptions(caf::scheduled_actor* self, std::string name);

/// Asks the process to shut down because a supervisor gave up; `main` then
/// exits with a non-zero code. Any thread.
void escalate(const std::string& who);

/// True once `escalate` was called.
bool escalated();

/// Spawns the child of a supervisor; runs in the supervisor's context.
using child_factory = std::function<caf::actor(caf::local_actor* parent)>;

/// What a supervisor supervises.
struct child_spec {
  caf::atom_value name; ///< registry key, e.g. atom("auth")
  std::string label;    ///< `actor` label of miyabi_actor_restarts_total
  child_factory spawn;
};

/// The spec of a child published under `name`: `spawn(parent)` must return
/// the handle the name promises (or one that accepts more), so what clients
/// look up under a name is what runs there.
template <class Handle, class Factory>
child_spec supervised(registry_name<Handle> name, std::string label,
                      Factory spawn) {
  return {name.key, std::move(label),
          [spawn = std::move(spawn)](caf::local_actor* parent) {
            Handle child = spawn(parent);
            return caf::actor_cast<caf::actor>(child);
          }};
}

/// Spawns a supervisor for `spec`. On exit (user_shutdown) it stops its
/// child and removes it from the registry.
supervisor_handle
spawn_supervisor(caf::actor_system& sys, child_spec spec,
                 std::shared_ptr<metrics::service_metrics> metrics);

} // namespace miyabi::actors
