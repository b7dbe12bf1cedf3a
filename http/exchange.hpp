// One request/response exchange: the `responder` the actors answer through.
//
// It owns the Pistache ResponseWriter (and the peer, so the connection
// object outlives any thread's use of it) and writes the response exactly
// once, from whichever thread answers: a reactor thread for early errors,
// a CAF thread otherwise. The promise `ResponseWriter::send` returns is never
// touched (attaching to it off the reactor races with the reactor). Every
// answer records the request metrics and leaves the in-flight count.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>

#include <pistache/http.h>
#include <pistache/peer.h>

#include "actors/protocol.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "config/fwd.hpp"
#include "domain/rate_limit.hpp"
#include "http/cors.hpp"
#include "http/headers.hpp"
#include "http/request_guard.hpp"
#include "http/routes.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::http {

class event_hub;

/// What every exchange of one server shares. Immutable but for the atomics.
struct server_context {
  server_context(std::shared_ptr<const config::settings> cfg_ptr,
                 std::shared_ptr<metrics::service_metrics> metrics_ptr,
                 std::shared_ptr<domain::service_status> status_ptr,
                 cors_policy cors_rules);

  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<domain::service_status> status;
  cors_policy cors;
  constant_headers headers;
  /// Requests received and not yet answered (metrics' counter, sampled
  /// into the gauge at each scrape).
  std::atomic<size_t>& in_flight;
  /// Per client address on the login routes (AUTH_RATE_PER_MINUTE).
  domain::rate_limiter login_limits;
  /// Requests being received, shared with the parser guard.
  std::shared_ptr<request_intake> intake = std::make_shared<request_intake>();
  /// Serves the event streams; null in telegram-only mode.
  std::shared_ptr<event_hub> events;

  /// Answers enter Pistache's write queue only while the endpoint exists:
  /// `close_writes` (before the endpoint is shut down) waits for the
  /// answers being written and turns later ones away, so no thread writes
  /// through a transport that is gone.
  void close_writes();

  /// Runs `write` unless the writes were closed; false when turned away.
  bool while_open(const std::function<bool()>& write);

 private:
  std::shared_mutex writes_mtx_;
  bool writes_open_ = true;
};

/// Facts about the request that the response needs.
struct request_facts {
  size_t route = 0;
  method verb = method::get;
  std::string origin;
  std::string request_id;
  trace_context trace;
  /// `projects/P/traces/T` when GOOGLE_CLOUD_PROJECT is set; else empty
  /// (then no trace fields are logged).
  std::string trace_resource;
  std::string path;       ///< without the query (it may hold codes)
  std::string user_agent; ///< for the access log
  actors::clock::time_point received;
  bool no_store = false; ///< Cache-Control: no-store (auth paths)
};

class exchange final : public actors::responder {
 public:
  exchange(std::shared_ptr<server_context> ctx,
           Pistache::Http::ResponseWriter writer, request_facts facts);

  ~exchange() override;

  void reply(actors::api_reply answer) override;

  void fail(const caf::error& err) override;

  /// Writes the stream's response head and hands the connection to the
  /// event hub (see responder::stream).
  void stream(actors::stream_request request) override;

  /// `fail` with extra headers (e.g. `Allow` on a 405).
  void fail(const caf::error& err, header_list extra);

  /// An answer without a body (204 preflights) with extra headers.
  void empty(int status, header_list extra);

  const request_facts& facts() const { return facts_; }

  /// The client's IP address as the socket sees it (empty once answered).
  std::string peer_address() const;

 private:
  void send(int status, std::string_view content_type, std::string body,
            header_list extra, bool error);

  /// Records the answer (metrics, access log) before it is written, so a
  /// client that has its answer finds it in the next scrape.
  void settle(int status, size_t response_bytes);

  /// Leaves the in-flight count once the answer is queued for writing (the
  /// drain waits for that, see server::wait_idle).
  void leave();

  /// The Cloud Logging trace fields of this request, when it has a trace
  /// resource, appended to `fields`.
  void add_trace_fields(log::field_list& fields) const;

  std::shared_ptr<server_context> ctx_;
  Pistache::Http::ResponseWriter writer_;
  std::shared_ptr<Pistache::Tcp::Peer> peer_;
  request_facts facts_;
  std::atomic<bool> answered_{false};
};

} // namespace miyabi::http
