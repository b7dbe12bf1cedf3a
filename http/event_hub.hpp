// The live event hub of one instance (api.md, "Live events"): it numbers
// finished events (storage::sequence_events), follows the event log, and
// writes every new event to the server-sent event streams open here.
//
// One thread owns the hub's database connection and every stream: it
// LISTENs for the wake-up NOTIFY, numbers events every 100 ms, reads each
// new event once per instance (not once per stream), replays a resuming
// stream from the log, pings, ends streams that ran their time, and drops
// streams whose reader fell behind (their unsent bytes over a bound; the
// client resumes from its last id). It is a thread rather than an actor
// because it blocks in poll() on the listening socket. A lost connection
// is retried with backoff while the streams stay open; the log is the
// source of truth, so the hub catches up afterwards and nothing is lost.
//
// Threads: `admit`, `release`, `adopt` from any thread; `start`,
// `end_streams` and `stop` from the main thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pistache/peer.h>

#include "actors/protocol.hpp"
#include "config/fwd.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::http {

struct server_context;

/// Kernel send buffer of a stream's socket: bounds what a stalled client
/// pins in the kernel, so the hub sees the stall long before its own limit.
constexpr int event_stream_send_buffer = 64 * 1024;

class event_hub {
 public:
  /// `ctx` must outlive the hub (the server owns both).
  event_hub(std::shared_ptr<const config::settings> cfg,
            std::shared_ptr<metrics::service_metrics> metrics,
            server_context& ctx);

  event_hub(const event_hub&) = delete;
  event_hub& operator=(const event_hub&) = delete;

  ~event_hub();

  /// Starts the hub's thread.
  void start();

  /// Counts a stream for `user_id`; false when the user has
  /// EVENT_STREAMS_PER_USER open here already or streams were ended.
  bool admit(const std::string& user_id);

  /// True once `end_streams` ran: no new stream opens here.
  bool closed() const { return ending_.load(); }

  /// Gives back a slot taken by `admit` whose stream never opened.
  void release(const std::string& user_id);

  /// Takes over the connection of `peer` for a stream (a slot taken by
  /// `admit`); `head` is the response head, written first by the hub.
  void adopt(std::shared_ptr<Pistache::Tcp::Peer> peer, std::string head,
             actors::stream_request subscription);

  /// Ends every stream at once (`retry:` and the final chunk) and refuses
  /// new ones; does not wait for the clients (SIGTERM).
  void end_streams();

  /// Ends the streams and joins the thread.
  void stop();

 private:
  struct stream;
  class loop;

  void run();

  std::shared_ptr<const config::settings> cfg_;
  std::shared_ptr<metrics::service_metrics> metrics_;
  server_context& ctx_;

  std::mutex slots_mtx_;
  std::map<std::string, uint32_t> slots_;
  bool closed_ = false;

  std::mutex inbox_mtx_;
  std::vector<std::unique_ptr<stream>> inbox_;
  std::atomic<bool> ending_{false};
  /// The last id fanned out (-1 before the first connection).
  std::atomic<int64_t> published_{-1};
  int wake_fd_ = -1;
  std::thread thread_;
};

} // namespace miyabi::http
