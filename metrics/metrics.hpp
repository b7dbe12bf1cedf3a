// The service's Prometheus metrics: one registry, every family created at
// start (adding families while scraping is not safe in prometheus-cpp), and
// cached series references so no request pays for `Family::Add`.
//
// Thread-safety: every member may be used from any thread. Series are
// prometheus-cpp atomics; lazily added label sets are created once under a
// mutex (or a lock-free slot for the HTTP hot path) and then reused.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace miyabi::metrics {

/// A family whose series are looked up by their label values and cached.
template <class Metric>
class labelled {
 public:
  labelled(prometheus::Family<Metric>& family, std::string label,
           prometheus::Histogram::BucketBoundaries buckets = {})
      : labelled(family, std::vector<std::string>{std::move(label)},
                 std::move(buckets)) {}

  labelled(prometheus::Family<Metric>& family, std::vector<std::string> labels,
           prometheus::Histogram::BucketBoundaries buckets = {})
      : family_(family), labels_(std::move(labels)),
        buckets_(std::move(buckets)) {}

  /// The series for `value` (one label), created on first use.
  Metric& operator[](std::string_view value) { return at({value}); }

  /// The series for one value per label, in label order.
  Metric& at(std::initializer_list<std::string_view> values);

 private:
  prometheus::Family<Metric>& family_;
  std::vector<std::string> labels_;
  prometheus::Histogram::BucketBoundaries buckets_;
  std::mutex mtx_;
  std::map<std::string, Metric*, std::less<>> series_;
};

/// HTTP request metrics with lock-free cached series per route, method and
/// status code.
class http_metrics {
 public:
  /// HTTP methods in label order; `method_index` maps a name to its slot.
  static constexpr std::array<std::string_view, 9> methods = {
    "GET",  "POST",    "PUT",   "PATCH",  "DELETE",
    "HEAD", "OPTIONS", "TRACE", "CONNECT"};

  http_metrics(prometheus::Registry& reg, std::vector<std::string> routes);

  /// Records one finished request. `route` indexes the route labels given
  /// at construction; `method` indexes `methods`.
  void observe(size_t route, size_t method, int status, double seconds);

  /// Requests received and not yet answered: the HTTP layer counts them
  /// here (its admission and drain read it); the gauge takes the count at
  /// each scrape, so a request pays one relaxed atomic add, not a
  /// compare-and-swap loop on a shared double.
  std::atomic<size_t>& in_flight() { return in_flight_count_; }

  /// Sets the gauges that are sampled rather than counted (before a scrape).
  void sample();

 private:
  /// Status codes the service emits get their own slot; others share the
  /// last one and take the slow path.
  static size_t status_slot(int status);
  static constexpr size_t status_slots = 26;

  prometheus::Counter& counter(size_t route, size_t method, int status);
  prometheus::Histogram& histogram(size_t route, size_t method);

  std::vector<std::string> routes_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Gauge* in_flight_;
  std::atomic<size_t> in_flight_count_{0};
  std::unique_ptr<std::atomic<prometheus::Counter*>[]> counters_;
  std::unique_ptr<std::atomic<prometheus::Histogram*>[]> histograms_;
};

/// Every metric family of the service.
class service_metrics {
 public:
  /// `routes` are the route templates used as the `route` label; the version
  /// goes into `miyabi_build_info`.
  service_metrics(std::vector<std::string> routes, std::string_view version);

  service_metrics(const service_metrics&) = delete;
  service_metrics& operator=(const service_metrics&) = delete;

  /// Refreshes the process gauges from /proc and renders the Prometheus text
  /// exposition format (0.0.4).
  std::string render();

  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  http_metrics http;

  // -- actors -----------------------------------------------------------------
  labelled<prometheus::Counter> actor_restarts;

  // -- database ---------------------------------------------------------------
  labelled<prometheus::Gauge> db_sessions;
  prometheus::Gauge& db_queue_depth;
  labelled<prometheus::Histogram> db_query_duration;
  labelled<prometheus::Counter> db_errors;
  /// Jobs per shared commit (queued writes committed together).
  prometheus::Histogram& db_group_jobs;
  /// Shared commits that failed, whose jobs then ran alone.
  prometheus::Counter& db_group_retries;
  /// Reads answered by an identical read that was already waiting.
  prometheus::Counter& db_coalesced;

  // -- authentication ---------------------------------------------------------
  prometheus::Counter& auth_tokens_issued;
  labelled<prometheus::Counter> auth_failures;
  /// Requests refused with 429, by limit (`auth`: per client address on
  /// the login routes; `write`: per caller on writes).
  labelled<prometheus::Counter> rate_limited;

  // -- outbound HTTP ----------------------------------------------------------
  labelled<prometheus::Counter> outbound_requests; ///< (service, code)
  labelled<prometheus::Histogram> outbound_duration;
  /// (service) calls answered `timeout` without being sent: their deadline
  /// passed while they waited for their destination's concurrency limit.
  labelled<prometheus::Counter> outbound_dropped;

  // -- executions -------------------------------------------------------------
  /// Leases that ran out, each counted once over all instances.
  prometheus::Counter& lease_expiries;
  /// Expired executions put back to pending (the rest failed).
  prometheus::Counter& executions_requeued;
  /// Every status change of an execution, by the new status.
  labelled<prometheus::Counter> execution_transitions;

  // -- live events ------------------------------------------------------------
  /// Event streams open on this instance.
  prometheus::Gauge& event_streams_open;
  /// Events written to streams (one per stream that got it).
  prometheus::Counter& events_delivered;
  /// Streams ended because their reader fell too far behind.
  prometheus::Counter& event_streams_dropped;
  /// Seconds from an event's write to its hand-over to the streams here.
  prometheus::Histogram& event_fanout_lag;

  // -- Telegram ---------------------------------------------------------------
  labelled<prometheus::Counter> telegram_updates;
  labelled<prometheus::Gauge> telegram_outbox;
  /// Age of the oldest pending outbox row (0 when none): the backlog.
  prometheus::Gauge& telegram_outbox_oldest_pending;
  labelled<prometheus::Counter> telegram_send;

  // -- GitHub webhook ---------------------------------------------------------
  /// Deliveries by result: queued, linked, ignored, duplicate, pong,
  /// rejected (bad signature), error.
  labelled<prometheus::Counter> github_deliveries;

 private:
  // -- process ----------------------------------------------------------------
  prometheus::Gauge& resident_memory_;
  prometheus::Gauge& virtual_memory_;
  prometheus::Counter& cpu_seconds_;
  prometheus::Gauge& open_fds_;
  prometheus::Gauge& max_fds_;
  prometheus::Gauge& start_time_;
  prometheus::Gauge& threads_;
  std::mutex render_mtx_;
  double cpu_seen_ = 0;
};

/// Bucket boundaries of request latency histograms: 5 ms .. 10 s with a
/// boundary at exactly 1 s (the p95 alert threshold).
const prometheus::Histogram::BucketBoundaries& latency_buckets();

} // namespace miyabi::metrics
