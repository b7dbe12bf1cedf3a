#include "support/pg_proxy.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

namespace miyabi::test {

namespace {

// Query message: 'Q', int32 length (4 + 7), "COMMIT\0".
constexpr std::string_view commit_query{"Q\0\0\0\x0b"
                                        "COMMIT\0",
                                        12};

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    auto n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

} // namespace

pg_commit_cutter::pg_commit_cutter(uint16_t target_port)
    : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener_ < 0 ||
      ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::pipe(stop_pipe_) != 0)
    throw std::runtime_error("pg_commit_cutter: cannot listen");
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] {
    accept_loop();
  }};
}

pg_commit_cutter::~pg_commit_cutter() {
  ::close(stop_pipe_[1]); // every loop polls the read end and ends
  acceptor_.join();
  for (auto& t : relays_)
    t.join();
  ::close(stop_pipe_[0]);
  ::close(listener_);
}

void pg_commit_cutter::arm(std::string marker) {
  std::lock_guard<std::mutex> guard{marker_mtx_};
  marker_ = std::move(marker);
}

void pg_commit_cutter::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 || fds[1].revents != 0)
      return;
    int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0)
      continue;
    std::lock_guard<std::mutex> guard{mtx_};
    relays_.emplace_back([this, client] { relay(client); });
  }
}

void pg_commit_cutter::relay(int client) {
  int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(target_port_);
  if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr),
                              sizeof(addr)) != 0) {
    ::close(client);
    if (server >= 0)
      ::close(server);
    return;
  }
  bool marked = false;  // this connection sent the marker since arming
  bool cutting = false; // a COMMIT went out; its answer is to be lost
  char buf[16384];
  for (;;) {
    pollfd fds[3] = {
      {client, POLLIN, 0}, {server, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0 || fds[2].revents != 0)
      break;
    if (fds[0].revents != 0) {
      auto n = ::recv(client, buf, sizeof(buf), 0);
      if (n <= 0)
        break;
      std::string_view chunk{buf, static_cast<size_t>(n)};
      {
        std::lock_guard<std::mutex> guard{marker_mtx_};
        if (marker_.empty()) {
          marked = false;
        } else {
          if (chunk.find(marker_) != std::string_view::npos)
            marked = true;
          if (marked && chunk.find(commit_query) != std::string_view::npos) {
            cutting = true;
            marker_.clear();
          }
        }
      }
      if (!send_all(server, buf, static_cast<size_t>(n)))
        break;
    }
    if (fds[1].revents != 0) {
      auto n = ::recv(server, buf, sizeof(buf), 0);
      if (n <= 0)
        break;
      if (cutting) {
        // The server answered the COMMIT: it happened. The client never
        // hears of it.
        ++cut_;
        break;
      }
      if (!send_all(client, buf, static_cast<size_t>(n)))
        break;
    }
  }
  ::close(client);
  ::close(server);
}

} // namespace miyabi::test
