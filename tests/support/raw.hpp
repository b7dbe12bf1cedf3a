// Raw TCP helpers for tests that speak broken or hostile HTTP on purpose.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace miyabi::test {

class raw_connection {
 public:
  explicit raw_connection(uint16_t port);
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;
  ~raw_connection();

  /// Sends all bytes; false when the peer closed.
  bool send(const std::string& bytes);

  /// Reads one response (headers plus Content-Length body); empty when the
  /// connection closed or the timeout passed first.
  std::string read_response(std::chrono::milliseconds timeout);

  /// Reads until the peer closes or the timeout passes; returns the bytes.
  std::string read_until_close(std::chrono::milliseconds timeout);

  /// True when the peer closed (EOF or reset) within the timeout.
  bool closed_within(std::chrono::milliseconds timeout);

  /// Closes with a TCP reset (SO_LINGER 0).
  void reset();

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buffer_;
};

/// A TCP socket connected to 127.0.0.1:`port`; `receive_buffer` > 0 sets
/// SO_RCVBUF first. Throws std::runtime_error when the connect fails.
int connect_loopback(uint16_t port, int receive_buffer = 0);

/// Waits until `fd` is readable or `deadline` passes; false on timeout.
bool wait_readable(int fd, std::chrono::steady_clock::time_point deadline);

/// The Content-Length of a raw response head (0 when absent).
size_t content_length(const std::string& head);

/// Status code of a raw response ("HTTP/1.1 413 ..." -> 413), 0 if none.
int status_of(const std::string& response);

/// Body of a raw response (after the blank line).
std::string body_of(const std::string& response);

} // namespace miyabi::test
