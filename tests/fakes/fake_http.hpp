// A tiny HTTP/1.1 server on 127.0.0.1 (port 0) that stands in for a
// third-party service (GitHub, Telegram, an LLM) in tests. It records every
// request and answers through a handler that can delay, fail, or drop the
// connection. One thread per connection; meant for test traffic only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace miyabi::test {

struct fake_request {
  std::string method;
  std::string target;                              ///< path and query as sent
  std::multimap<std::string, std::string> headers; ///< names lower-cased
  std::string body;
  std::chrono::steady_clock::time_point at;

  std::string path() const { return target.substr(0, target.find('?')); }
  std::string header(const std::string& name) const;
};

struct fake_response {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};
  bool drop = false; ///< close the connection without answering

  static fake_response json(int status, std::string body) {
    return {status,
            std::move(body),
            {{"Content-Type", "application/json"}},
            std::chrono::milliseconds{0},
            false};
  }
};

class fake_http_server {
 public:
  using handler = std::function<fake_response(const fake_request&)>;

  explicit fake_http_server(handler h);
  fake_http_server(const fake_http_server&) = delete;
  fake_http_server& operator=(const fake_http_server&) = delete;
  ~fake_http_server();

  uint16_t port() const { return port_; }
  std::string url() const;

  void set_handler(handler h);

  std::vector<fake_request> requests() const;

  /// Requests whose path starts with `prefix`.
  std::vector<fake_request> requests_to(const std::string& prefix) const;

  /// Waits until at least `n` requests with path prefix `prefix` arrived.
  bool wait_for_requests(const std::string& prefix, size_t n,
                         std::chrono::milliseconds timeout) const;

  void clear();

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  handler handler_;
  std::vector<fake_request> requests_;
  std::list<std::thread> workers_;
};

} // namespace miyabi::test
