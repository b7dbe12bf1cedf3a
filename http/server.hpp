// The HTTP front on Pistache: listens, guards the parser, matches routes,
// answers what needs no actor (404, 405, CORS preflight, 413, 415, 503
// while draining or overloaded), decodes bodies, and hands every other
// request to the actors as an `api_call`.
//
// Threads: `start`, `begin_drain`, `wait_idle` and `stop` from the main
// thread; the request handlers run on the Pistache reactor threads and
// never block.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "actors/service.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::http {

class server {
 public:
  server(std::shared_ptr<const config::settings> cfg,
         std::shared_ptr<metrics::service_metrics> metrics,
         std::shared_ptr<domain::service_status> status,
         actors::service& actors);

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  ~server();

  /// Binds and starts the reactor threads. Throws std::runtime_error when
  /// the address cannot be bound.
  void start();

  /// The bound port (useful with PORT=0).
  uint16_t port() const;

  /// From now on requests whose first byte arrives get 503 with
  /// `Connection: close`; those already begun are read to the end and
  /// served.
  void begin_drain();

  /// Waits until no request is in flight (from its first byte on) or
  /// `deadline` passes; true when idle.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

  /// Turns away every later answer, then stops the reactors and closes
  /// every connection after a short linger that lets them write the answers
  /// queued last. Nothing is written to a connection afterwards.
  void stop();

  /// The metrics labels of the routes (for the metrics registry).
  static std::vector<std::string> route_labels();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace miyabi::http
