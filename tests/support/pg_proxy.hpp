// A TCP proxy on 127.0.0.1 in front of the test PostgreSQL that can lose a
// COMMIT's answer: armed with a marker (text the statement's parameters
// carry, e.g. an id), it forwards the next `COMMIT` of a connection that
// sent the marker to the server, waits for the server's answer (so the
// commit happened), drops that answer and closes the connection. Other
// connections (the service's background jobs) pass untouched. The client sees
// its connection break during COMMIT: the outcome is in doubt from where it
// stands, yet the change is saved. It relies on libpq sending COMMIT as a
// simple query ('Q' message), as libpqxx 6.4 does.
//
// Threads: its own (one accepting, one per proxied connection); `arm` and
// `cut` from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace miyabi::test {

class pg_commit_cutter {
 public:
  /// Listens on a free loopback port and forwards to `target_port`.
  explicit pg_commit_cutter(uint16_t target_port);
  pg_commit_cutter(const pg_commit_cutter&) = delete;
  pg_commit_cutter& operator=(const pg_commit_cutter&) = delete;
  ~pg_commit_cutter();

  uint16_t port() const { return port_; }

  /// Loses the answer to the next COMMIT of a connection that sends
  /// `marker` from now on (once).
  void arm(std::string marker);

  /// Commits whose answer was lost so far.
  size_t cut() const { return cut_.load(); }

 private:
  void accept_loop();
  void relay(int client);

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::mutex marker_mtx_;
  std::string marker_; ///< empty: disarmed
  std::atomic<size_t> cut_{0};
  std::thread acceptor_;
  std::mutex mtx_;
  std::vector<std::thread> relays_;
};

} // namespace miyabi::test
