// The front actor: receives every decoded request (`api_call`) from the HTTP
// layer, authenticates it when the operation needs a user (in place, with
// the token_verifier the auth actor keeps current; worker tokens through
// the database and a one-second cache), and dispatches it to the
// actor that owns the operation with the request's deadline. It never
// blocks and keeps no per-request state beyond pending responses.
//
// Errors: every failure reaches the caller's responder as a `caf::error`
// (ours, or CAF's request_timeout / request_receiver_down, which the HTTP
// layer maps to 504 / 503).
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "actors/resources.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::domain {
class rate_limiter;
} // namespace miyabi::domain

namespace miyabi::actors {

class token_verifier;

struct front_deps {
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<domain::service_status> status;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<const token_verifier> tokens;
  /// Writes per caller (WRITE_RATE_PER_MINUTE), shared by the front actors.
  std::shared_ptr<domain::rate_limiter> writes;
  /// Verified worker tokens, shared by the front actors.
  std::shared_ptr<worker_token_cache> workers;
  /// What the resource operations need (lease policy, the same cache).
  resource_deps resources;
};

/// Spawns one front actor as a child of `parent`.
front_handle spawn_front(caf::local_actor* parent, front_deps deps);

/// Spawns the metrics actor (renders /metrics) as a child of `parent`.
metrics_handle spawn_metrics_actor(caf::local_actor* parent,
                                   std::shared_ptr<metrics::service_metrics> m);

} // namespace miyabi::actors
