#include "support/event_stream.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include "support/raw.hpp"

namespace miyabi::test {

namespace {

using clock = std::chrono::steady_clock;

} // namespace

event_stream::event_stream(uint16_t port, const std::string& target,
                           const header_list& headers, int receive_buffer) {
  fd_ = connect_loopback(port, receive_buffer);
  std::string request = "GET " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Accept: text/event-stream\r\n";
  for (const auto& [name, value] : headers)
    request += name + ": " + value + "\r\n";
  request += "\r\n";
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    throw std::runtime_error("could not send the request");
  auto deadline = clock::now() + std::chrono::seconds{10};
  size_t end = std::string::npos;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos)
    if (!fill(deadline))
      return;
  head_ = raw_.substr(0, end + 4);
  raw_.erase(0, end + 4);
  if (head_.size() > 12)
    status_ = std::atoi(head_.c_str() + 9);
  if (status_ != 200) {
    auto length = content_length(head_);
    while (raw_.size() < length && fill(deadline)) {
    }
    body_ = raw_.substr(0, length);
  }
}

event_stream::event_stream(event_stream&& other) noexcept
    : fd_(other.fd_), status_(other.status_), head_(std::move(other.head_)),
      body_(std::move(other.body_)), raw_(std::move(other.raw_)),
      text_(std::move(other.text_)), queued_(std::move(other.queued_)),
      pending_(std::move(other.pending_)), has_pending_(other.has_pending_),
      ended_(other.ended_), comments_(other.comments_), retry_(other.retry_) {
  other.fd_ = -1;
}

event_stream::~event_stream() {
  close();
}

void event_stream::close() {
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = -1;
}

bool event_stream::fill(clock::time_point deadline) {
  if (fd_ < 0 || !wait_readable(fd_, deadline))
    return false;
  char buf[16384];
  auto n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n <= 0) {
    ended_ = true;
    return false;
  }
  raw_.append(buf, static_cast<size_t>(n));
  return true;
}

void event_stream::dechunk() {
  for (;;) {
    auto line_end = raw_.find("\r\n");
    if (line_end == std::string::npos)
      return;
    auto size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
    if (size == 0) {
      ended_ = true;
      raw_.clear();
      return;
    }
    if (raw_.size() < line_end + 2 + size + 2)
      return;
    text_.append(raw_, line_end + 2, size);
    raw_.erase(0, line_end + 2 + size + 2);
  }
}

std::optional<sse_event> event_stream::parse() {
  for (;;) {
    auto nl = text_.find('\n');
    if (nl == std::string::npos)
      return std::nullopt;
    auto line = text_.substr(0, nl);
    text_.erase(0, nl + 1);
    if (line.empty()) {
      if (!has_pending_)
        continue;
      has_pending_ = false;
      auto out = std::move(pending_);
      pending_ = sse_event{};
      return out;
    }
    if (line[0] == ':') {
      ++comments_;
      continue;
    }
    auto colon = line.find(':');
    auto field = line.substr(0, colon);
    std::string value;
    if (colon != std::string::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.erase(0, 1);
    }
    if (field == "retry") {
      retry_ = std::atoi(value.c_str());
      continue;
    }
    has_pending_ = true;
    if (field == "id")
      pending_.id = std::stoll(value);
    else if (field == "event")
      pending_.event = value;
    else if (field == "data")
      pending_.data += pending_.data.empty() ? value : "\n" + value;
  }
}

std::optional<sse_event> event_stream::next(std::chrono::milliseconds timeout) {
  if (!queued_.empty()) {
    auto e = std::move(queued_.front());
    queued_.erase(queued_.begin());
    return e;
  }
  auto deadline = clock::now() + timeout;
  for (;;) {
    dechunk();
    if (auto e = parse())
      return e;
    if (ended_ || !fill(deadline))
      return std::nullopt;
  }
}

bool event_stream::comment_within(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  int before = comments_;
  for (;;) {
    dechunk();
    // Parse line by line without losing events: they wait in `queued_`.
    while (auto e = parse())
      queued_.push_back(std::move(*e));
    if (comments_ > before)
      return true;
    if (ended_ || !fill(deadline))
      return false;
  }
}

bool event_stream::ended_within(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    dechunk();
    while (parse()) {
    }
    if (ended_)
      return true;
    if (!fill(deadline))
      return ended_;
  }
}

} // namespace miyabi::test
