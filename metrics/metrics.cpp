#include "metrics/metrics.hpp"

#include <prometheus/text_serializer.h>

#include "metrics/process.hpp"

namespace miyabi::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// Codes the service answers with; index = slot. The last slot is "other".
constexpr std::array<int, 25> known_statuses = {
  200, 201, 202, 204, 302, 304, 400, 401, 403, 404, 405, 408, 409,
  411, 413, 415, 422, 429, 431, 500, 501, 502, 503, 504, 505};

} // namespace

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0};
  return buckets;
}

template <class Metric>
Metric& labelled<Metric>::at(std::initializer_list<std::string_view> values) {
  std::string key;
  for (auto v : values) {
    key.append(v);
    key += '\x1f'; // never part of a label value we use
  }
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = series_.find(key); i != series_.end())
    return *i->second;
  prometheus::Labels labels;
  size_t n = 0;
  for (auto v : values)
    labels.emplace(labels_.at(n++), std::string{v});
  Metric* added = nullptr;
  if constexpr (std::is_same_v<Metric, prometheus::Histogram>)
    added = &family_.Add(labels, buckets_);
  else
    added = &family_.Add(labels);
  series_.emplace(std::move(key), added);
  return *added;
}

template class labelled<prometheus::Counter>;
template class labelled<prometheus::Gauge>;
template class labelled<prometheus::Histogram>;

// -- http_metrics -------------------------------------------------------------

http_metrics::http_metrics(prometheus::Registry& reg,
                           std::vector<std::string> routes)
    : routes_(std::move(routes)),
      requests_(BuildCounter()
                  .Name("http_requests_total")
                  .Help("HTTP requests answered, by method, route template "
                        "and status code")
                  .Register(reg)),
      durations_(BuildHistogram()
                   .Name("http_request_duration_seconds")
                   .Help("Time from a complete request to its response being "
                         "queued, by method and route template")
                   .Register(reg)),
      in_flight_(&BuildGauge()
                    .Name("http_requests_in_flight")
                    .Help("Requests received and not yet answered")
                    .Register(reg)
                    .Add({})) {
  auto n = routes_.size() * methods.size();
  counters_.reset(new std::atomic<prometheus::Counter*>[n * status_slots]);
  histograms_.reset(new std::atomic<prometheus::Histogram*>[n]);
  for (size_t i = 0; i < n * status_slots; ++i)
    counters_[i] = nullptr;
  for (size_t i = 0; i < n; ++i)
    histograms_[i] = nullptr;
}

size_t http_metrics::status_slot(int status) {
  for (size_t i = 0; i < known_statuses.size(); ++i)
    if (known_statuses[i] == status)
      return i;
  return status_slots - 1;
}

prometheus::Counter& http_metrics::counter(size_t route, size_t method,
                                           int status) {
  auto slot = status_slot(status);
  auto labels = prometheus::Labels{{"method", std::string{methods[method]}},
                                   {"route", routes_[route]},
                                   {"code", std::to_string(status)}};
  if (slot == status_slots - 1)
    return requests_.Add(labels); // rare: an unusual code takes the slow path
  auto& cell =
    counters_[(route * methods.size() + method) * status_slots + slot];
  if (auto* cached = cell.load(std::memory_order_acquire))
    return *cached;
  // Family::Add returns the same series for the same labels, so a race
  // between two threads stores the same pointer twice.
  auto* added = &requests_.Add(labels);
  cell.store(added, std::memory_order_release);
  return *added;
}

prometheus::Histogram& http_metrics::histogram(size_t route, size_t method) {
  auto& cell = histograms_[route * methods.size() + method];
  if (auto* cached = cell.load(std::memory_order_acquire))
    return *cached;
  auto* added = &durations_.Add(
    {{"method", std::string{methods[method]}}, {"route", routes_[route]}},
    latency_buckets());
  cell.store(added, std::memory_order_release);
  return *added;
}

void http_metrics::observe(size_t route, size_t method, int status,
                           double seconds) {
  if (route >= routes_.size() || method >= methods.size())
    return;
  counter(route, method, status).Increment();
  histogram(route, method).Observe(seconds);
}

// -- service_metrics ----------------------------------------------------------

service_metrics::service_metrics(std::vector<std::string> routes,
                                 std::string_view version)
    : registry_(std::make_shared<prometheus::Registry>()),
      http(*registry_, std::move(routes)),
      actor_restarts(BuildCounter()
                       .Name("miyabi_actor_restarts_total")
                       .Help("Worker actors restarted by their supervisor")
                       .Register(*registry_),
                     "actor"),
      db_sessions(BuildGauge()
                    .Name("miyabi_db_sessions")
                    .Help("Database sessions by state")
                    .Register(*registry_),
                  "state"),
      db_queue_depth(BuildGauge()
                       .Name("miyabi_db_queue_depth")
                       .Help("Database requests waiting for a free session")
                       .Register(*registry_)
                       .Add({})),
      db_query_duration(BuildHistogram()
                          .Name("miyabi_db_query_duration_seconds")
                          .Help("Database work per request, by query name")
                          .Register(*registry_),
                        "query",
                        {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                         0.25, 0.5, 1.0, 2.5, 5.0}),
      db_errors(BuildCounter()
                  .Name("miyabi_db_errors_total")
                  .Help("Database failures by kind")
                  .Register(*registry_),
                "kind"),
      db_group_jobs(
        BuildHistogram()
          .Name("miyabi_db_group_jobs")
          .Help("Queued writes committed together, per commit")
          .Register(*registry_)
          .Add({}, prometheus::Histogram::BucketBoundaries{2, 4, 8, 16, 32})),
      db_group_retries(BuildCounter()
                         .Name("miyabi_db_group_retries_total")
                         .Help("Shared commits that failed; their writes "
                               "then ran one by one")
                         .Register(*registry_)
                         .Add({})),
      db_coalesced(BuildCounter()
                     .Name("miyabi_db_coalesced_total")
                     .Help("Reads answered by an identical read that was "
                           "already waiting for a session")
                     .Register(*registry_)
                     .Add({})),
      auth_tokens_issued(BuildCounter()
                           .Name("miyabi_auth_tokens_issued_total")
                           .Help("Access tokens issued")
                           .Register(*registry_)
                           .Add({})),
      auth_failures(BuildCounter()
                      .Name("miyabi_auth_failures_total")
                      .Help("Rejected authentication attempts by reason")
                      .Register(*registry_),
                    "reason"),
      rate_limited(BuildCounter()
                     .Name("miyabi_rate_limited_total")
                     .Help("Requests refused with 429 by limit")
                     .Register(*registry_),
                   "limit"),
      outbound_requests(BuildCounter()
                          .Name("miyabi_outbound_requests_total")
                          .Help("Calls to GitHub, Telegram and the LLM by "
                                "service and status code (0: no answer)")
                          .Register(*registry_),
                        std::vector<std::string>{"service", "code"}),
      outbound_duration(BuildHistogram()
                          .Name("miyabi_outbound_request_duration_seconds")
                          .Help("Duration of outbound calls by service")
                          .Register(*registry_),
                        "service", latency_buckets()),
      outbound_dropped(BuildCounter()
                         .Name("miyabi_outbound_dropped_total")
                         .Help("Outbound calls never sent because their "
                               "deadline passed while they waited, by "
                               "service")
                         .Register(*registry_),
                       "service"),
      lease_expiries(BuildCounter()
                       .Name("miyabi_lease_expiries_total")
                       .Help("Execution leases that expired (requeued or "
                             "failed)")
                       .Register(*registry_)
                       .Add({})),
      executions_requeued(BuildCounter()
                            .Name("miyabi_executions_requeued_total")
                            .Help("Executions put back to pending after "
                                  "their lease expired")
                            .Register(*registry_)
                            .Add({})),
      execution_transitions(BuildCounter()
                              .Name("miyabi_execution_transitions_total")
                              .Help("Status changes of executions by the new "
                                    "status")
                              .Register(*registry_),
                            "status"),
      event_streams_open(BuildGauge()
                           .Name("miyabi_event_streams_open")
                           .Help("Server-sent event streams open")
                           .Register(*registry_)
                           .Add({})),
      events_delivered(BuildCounter()
                         .Name("miyabi_events_delivered_total")
                         .Help("Events written to streams (once per stream)")
                         .Register(*registry_)
                         .Add({})),
      event_streams_dropped(BuildCounter()
                              .Name("miyabi_event_streams_dropped_total")
                              .Help("Streams ended because the reader fell "
                                    "behind")
                              .Register(*registry_)
                              .Add({})),
      event_fanout_lag(
        BuildHistogram()
          .Name("miyabi_event_fanout_lag_seconds")
          .Help("Seconds from an event's write to its hand-over to the "
                "streams of this instance")
          .Register(*registry_)
          .Add({},
               prometheus::Histogram::BucketBoundaries{0.01, 0.025, 0.05, 0.1,
                                                       0.25, 0.5, 1, 2.5, 5})),
      telegram_updates(BuildCounter()
                         .Name("miyabi_telegram_updates_total")
                         .Help("Telegram webhook updates by result")
                         .Register(*registry_),
                       "result"),
      telegram_outbox(BuildGauge()
                        .Name("miyabi_telegram_outbox")
                        .Help("Telegram outbox messages by state")
                        .Register(*registry_),
                      "state"),
      telegram_outbox_oldest_pending(
        BuildGauge()
          .Name("miyabi_telegram_outbox_oldest_pending_seconds")
          .Help("Age in seconds of the oldest pending Telegram outbox row "
                "(0 when none)")
          .Register(*registry_)
          .Add({})),
      telegram_send(BuildCounter()
                      .Name("miyabi_telegram_send_total")
                      .Help("Bot API sendMessage calls by status code")
                      .Register(*registry_),
                    "code"),
      github_deliveries(BuildCounter()
                          .Name("miyabi_github_deliveries_total")
                          .Help("GitHub webhook deliveries by result")
                          .Register(*registry_),
                        "result"),
      resident_memory_(BuildGauge()
                         .Name("process_resident_memory_bytes")
                         .Help("Resident memory size in bytes")
                         .Register(*registry_)
                         .Add({})),
      virtual_memory_(BuildGauge()
                        .Name("process_virtual_memory_bytes")
                        .Help("Virtual memory size in bytes")
                        .Register(*registry_)
                        .Add({})),
      cpu_seconds_(BuildCounter()
                     .Name("process_cpu_seconds_total")
                     .Help("User and system CPU time spent in seconds")
                     .Register(*registry_)
                     .Add({})),
      open_fds_(BuildGauge()
                  .Name("process_open_fds")
                  .Help("Open file descriptors")
                  .Register(*registry_)
                  .Add({})),
      max_fds_(BuildGauge()
                 .Name("process_max_fds")
                 .Help("Maximum number of open file descriptors")
                 .Register(*registry_)
                 .Add({})),
      start_time_(BuildGauge()
                    .Name("process_start_time_seconds")
                    .Help("Start time of the process since the Unix epoch")
                    .Register(*registry_)
                    .Add({})),
      threads_(BuildGauge()
                 .Name("process_threads")
                 .Help("Threads of the process")
                 .Register(*registry_)
                 .Add({})) {
  BuildGauge()
    .Name("miyabi_build_info")
    .Help("Always 1; the version label names the running build")
    .Register(*registry_)
    .Add({{"version", std::string{version}}})
    .Set(1);
  for (auto state : {"idle", "busy", "broken"})
    db_sessions[state].Set(0);
  for (auto state : {"pending", "sent", "failed"})
    telegram_outbox[state].Set(0);
  for (auto result : {"processed", "duplicate", "rejected", "error"})
    telegram_updates[result];
  for (auto result : {"queued", "linked", "ignored", "duplicate", "pong",
                      "rejected", "error"})
    github_deliveries[result];
  for (auto limit : {"auth", "write", "telegram_issues"})
    rate_limited[limit];
  for (auto status : {"pending", "running", "completed", "failed", "cancelled"})
    execution_transitions[status];
}

std::string service_metrics::render() {
  {
    std::lock_guard<std::mutex> guard{render_mtx_};
    auto snap = read_process();
    resident_memory_.Set(static_cast<double>(snap.resident_bytes));
    virtual_memory_.Set(static_cast<double>(snap.virtual_bytes));
    open_fds_.Set(static_cast<double>(snap.open_fds));
    max_fds_.Set(static_cast<double>(snap.max_fds));
    start_time_.Set(snap.start_time_seconds);
    threads_.Set(static_cast<double>(snap.threads));
    if (snap.cpu_seconds > cpu_seen_) {
      cpu_seconds_.Increment(snap.cpu_seconds - cpu_seen_);
      cpu_seen_ = snap.cpu_seconds;
    }
  }
  http.sample();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void http_metrics::sample() {
  in_flight_->Set(
    static_cast<double>(in_flight_count_.load(std::memory_order_relaxed)));
}

} // namespace miyabi::metrics
