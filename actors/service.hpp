// The actor side of the service: owns the CAF actor system, starts every
// supervisor in order, hands requests to the front actors, and stops
// everything in reverse order on shutdown.
//
// Threads: construct and `stop` from the main thread; `dispatch` from any
// thread (the Pistache reactors call it).
#pragma once

#include <memory>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

class service {
 public:
  service(std::shared_ptr<const config::settings> cfg,
          std::shared_ptr<metrics::service_metrics> metrics,
          std::shared_ptr<domain::service_status> status);

  service(const service&) = delete;
  service& operator=(const service&) = delete;

  ~service();

  /// Hands a request to a front actor (round robin). When no front actor is
  /// available, the responder gets `service_unavailable` at once.
  void dispatch(api_call call);

  /// Stops all actors in reverse start order and waits for them.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace miyabi::actors
