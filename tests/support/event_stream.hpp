// A server-sent event client for tests: opens GET /api/v1/events on a raw
// socket, reads the response head, undoes the chunked encoding and parses
// events as the WHATWG rules say (`id:`, `event:`, `data:`, comments,
// `retry:`). One thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace miyabi::test {

struct sse_event {
  std::optional<int64_t> id;
  std::string event = "message";
  std::string data;
};

class event_stream {
 public:
  using header_list = std::vector<std::pair<std::string, std::string>>;

  /// Connects to 127.0.0.1:`port`, sends `GET target` with `headers` and
  /// reads the response head (within 10 s). `receive_buffer` > 0 sets
  /// SO_RCVBUF before connecting (a reader that barely reads).
  event_stream(uint16_t port, const std::string& target,
               const header_list& headers = {}, int receive_buffer = 0);
  event_stream(const event_stream&) = delete;
  event_stream& operator=(const event_stream&) = delete;
  event_stream(event_stream&& other) noexcept;
  ~event_stream();

  /// The status code (0 when no head arrived).
  int status() const { return status_; }
  const std::string& head() const { return head_; }
  /// The body of a non-stream answer (an error envelope).
  const std::string& body() const { return body_; }

  /// The next event within `timeout`; nothing on timeout or end.
  std::optional<sse_event> next(std::chrono::milliseconds timeout);

  /// Reads (discarding events) until the server ends the chunked body or
  /// closes; true when it did within `timeout`.
  bool ended_within(std::chrono::milliseconds timeout);

  /// Reads (keeping events for `next`) until a comment line arrives; true
  /// when one did within `timeout`.
  bool comment_within(std::chrono::milliseconds timeout);

  /// True once the final chunk arrived or the server closed.
  bool ended() const { return ended_; }
  /// Comment lines seen (": ping" and the like).
  int comments() const { return comments_; }
  /// The last `retry:` value seen.
  std::optional<int> retry() const { return retry_; }

  void close();

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  void dechunk();
  std::optional<sse_event> parse();

  int fd_ = -1;
  int status_ = 0;
  std::string head_;
  std::string body_;
  std::string raw_;               ///< bytes after the head, still chunked
  std::string text_;              ///< de-chunked stream text not yet parsed
  std::vector<sse_event> queued_; ///< parsed while waiting for a comment
  sse_event pending_;
  bool has_pending_ = false;
  bool ended_ = false;
  int comments_ = 0;
  std::optional<int> retry_;
};

} // namespace miyabi::test
