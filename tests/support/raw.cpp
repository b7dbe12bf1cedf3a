#include "support/raw.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace miyabi::test {

namespace {

using clock = std::chrono::steady_clock;

} // namespace

bool wait_readable(int fd, clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - clock::now())
                .count();
  if (left <= 0)
    return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(left)) > 0;
}

size_t content_length(const std::string& head) {
  std::string lower;
  lower.reserve(head.size());
  for (char c : head)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto pos = lower.find("\r\ncontent-length:");
  if (pos == std::string::npos)
    return 0;
  return std::stoull(head.substr(pos + 17));
}

int connect_loopback(uint16_t port, int receive_buffer) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer,
                 sizeof(receive_buffer));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto why = std::string{"connect failed: "} + std::strerror(errno);
    ::close(fd);
    throw std::runtime_error(why);
  }
  return fd;
}

raw_connection::raw_connection(uint16_t port) {
  fd_ = connect_loopback(port);
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

raw_connection::~raw_connection() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool raw_connection::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n =
      ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string raw_connection::read_response(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  for (;;) {
    auto end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto head = buffer_.substr(0, end + 4);
      auto total = end + 4 + content_length(head);
      if (buffer_.size() >= total) {
        auto response = buffer_.substr(0, total);
        buffer_.erase(0, total);
        return response;
      }
    }
    if (!wait_readable(fd_, deadline))
      return {};
    char buf[8192];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0)
      return {};
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

std::string
raw_connection::read_until_close(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  std::string out = std::move(buffer_);
  buffer_.clear();
  while (wait_readable(fd_, deadline)) {
    char buf[8192];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool raw_connection::closed_within(std::chrono::milliseconds timeout) {
  auto deadline = clock::now() + timeout;
  while (wait_readable(fd_, deadline)) {
    char buf[8192];
    auto n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0)
      return true;
  }
  return false;
}

void raw_connection::reset() {
  linger lin{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
  ::close(fd_);
  fd_ = -1;
}

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12)
    return 0;
  return std::stoi(response.substr(9, 3));
}

std::string body_of(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string{} : response.substr(end + 4);
}

} // namespace miyabi::test
