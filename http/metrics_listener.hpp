// METRICS_ADDRESS: a listener of its own for `GET /metrics` (and HEAD), so
// the scrape stays off the public port (Cloud Run's sidecar scrapes
// 127.0.0.1:9464). One reactor thread; it renders the registry directly
// (service_metrics::render is thread-safe) and knows no other path (404).
// With METRICS_TOKEN set it wants the same bearer token as the public
// route did.
//
// Threads: `start` and `stop` from the main thread; requests on its own
// reactor thread. `start` throws std::runtime_error when the address
// cannot be bound.
#pragma once

#include <cstdint>
#include <memory>

#include "config/settings.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::http {

class metrics_listener {
 public:
  metrics_listener(std::shared_ptr<const config::settings> cfg,
                   std::shared_ptr<metrics::service_metrics> metrics);
  metrics_listener(const metrics_listener&) = delete;
  metrics_listener& operator=(const metrics_listener&) = delete;
  ~metrics_listener();

  void start();

  /// The bound port (METRICS_ADDRESS may name port 0).
  uint16_t port() const;

  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace miyabi::http
