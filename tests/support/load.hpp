// A bounded keep-alive load driver for tests: N connections, each sending
// requests one after another, all multiplexed on one epoll thread. Every
// response is parsed (status line, Content-Length body) and timed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace miyabi::test {

struct load_result {
  size_t completed = 0;        ///< responses received
  size_t transport_errors = 0; ///< connects refused, resets, early closes
  size_t unfinished = 0;       ///< requests not answered before the limit
  std::map<int, size_t> statuses;
  std::vector<double> latencies; ///< seconds, one per response

  /// Latency at quantile q in [0,1].
  double quantile(double q) const;
  size_t count(int status) const;
  size_t count_5xx() const;
};

/// Raw request bytes for connection `conn`, request number `seq`.
using request_maker = std::function<std::string(size_t conn, size_t seq)>;

/// Optional check of every response (status and body); count it failed by
/// returning false.
using response_check = std::function<void(size_t conn, size_t seq, int status,
                                          const std::string& body)>;

struct load_plan {
  uint16_t port = 0;
  size_t connections = 100;
  size_t requests_per_connection = 10;
  std::chrono::milliseconds limit{60000}; ///< hard stop for the whole run
  request_maker make;
  response_check check;
};

load_result run_load(const load_plan& plan);

/// `GET path` with keep-alive and a Host header.
std::string simple_get(const std::string& path,
                       const std::string& extra_headers = {});

} // namespace miyabi::test
