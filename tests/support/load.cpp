#include "support/load.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace miyabi::test {

namespace {

using clock = std::chrono::steady_clock;

struct connection {
  int fd = -1;
  size_t index = 0;
  size_t seq = 0;  ///< requests sent so far
  std::string out; ///< bytes of the current request not yet sent
  size_t out_pos = 0;
  std::string in;
  clock::time_point started;
  bool done = false;
};

bool parse_response(std::string& in, int& status, std::string& body) {
  auto end = in.find("\r\n\r\n");
  if (end == std::string::npos)
    return false;
  size_t length = 0;
  for (size_t pos = in.find("\r\n"); pos < end;) {
    auto next = in.find("\r\n", pos + 2);
    auto line = in.substr(pos + 2, next - pos - 2);
    if (line.size() > 15 &&
        strncasecmp(line.c_str(), "content-length:", 15) == 0)
      length = std::stoull(line.substr(15));
    pos = next;
  }
  if (in.size() < end + 4 + length)
    return false;
  status = std::stoi(in.substr(9, 3));
  body = in.substr(end + 4, length);
  in.erase(0, end + 4 + length);
  return true;
}

} // namespace

double load_result::quantile(double q) const {
  if (latencies.empty())
    return 0;
  auto sorted = latencies;
  std::sort(sorted.begin(), sorted.end());
  auto index = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
  return sorted[index];
}

size_t load_result::count(int status) const {
  auto i = statuses.find(status);
  return i == statuses.end() ? 0 : i->second;
}

size_t load_result::count_5xx() const {
  size_t n = 0;
  for (const auto& [status, count] : statuses)
    if (status >= 500)
      n += count;
  return n;
}

std::string simple_get(const std::string& path,
                       const std::string& extra_headers) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
         "\r\n";
}

load_result run_load(const load_plan& plan) {
  load_result result;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::unique_ptr<connection>> conns;
  size_t open = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(plan.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  auto close_conn = [&](connection& c, bool error) {
    if (c.done)
      return;
    c.done = true;
    if (error) {
      ++result.transport_errors;
      result.unfinished +=
        plan.requests_per_connection - c.seq + (c.out.empty() ? 0 : 1);
    }
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    --open;
  };
  auto next_request = [&](connection& c) {
    c.out = plan.make(c.index, c.seq++);
    c.out_pos = 0;
    c.started = clock::now();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = &c;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
  };

  for (size_t i = 0; i < plan.connections; ++i) {
    auto c = std::make_unique<connection>();
    c->index = i;
    c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto rc =
      ::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    if (rc != 0 && errno != EINPROGRESS) {
      ++result.transport_errors;
      result.unfinished += plan.requests_per_connection;
      ::close(c->fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.ptr = c.get();
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    ++open;
    conns.push_back(std::move(c));
  }
  for (auto& c : conns)
    if (plan.requests_per_connection > 0)
      next_request(*c);

  auto deadline = clock::now() + plan.limit;
  std::vector<epoll_event> events(512);
  while (open > 0 && clock::now() < deadline) {
    auto n =
      ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      auto& c =
        *static_cast<connection*>(events[static_cast<size_t>(k)].data.ptr);
      if (c.done)
        continue;
      auto flags = events[static_cast<size_t>(k)].events;
      if (flags & (EPOLLERR | EPOLLHUP)) {
        close_conn(c, true);
        continue;
      }
      if ((flags & EPOLLOUT) && c.out_pos < c.out.size()) {
        auto sent = ::send(c.fd, c.out.data() + c.out_pos,
                           c.out.size() - c.out_pos, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN) {
          close_conn(c, true);
          continue;
        }
        if (sent > 0)
          c.out_pos += static_cast<size_t>(sent);
        if (c.out_pos == c.out.size()) {
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.ptr = &c;
          ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &ev);
        }
      }
      if (flags & EPOLLIN) {
        char buf[16384];
        auto got = ::recv(c.fd, buf, sizeof(buf), 0);
        if (got <= 0) {
          if (got < 0 && errno == EAGAIN)
            continue;
          close_conn(c, true);
          continue;
        }
        c.in.append(buf, static_cast<size_t>(got));
        int status = 0;
        std::string body;
        while (!c.done && parse_response(c.in, status, body)) {
          ++result.completed;
          ++result.statuses[status];
          result.latencies.push_back(
            std::chrono::duration<double>(clock::now() - c.started).count());
          if (plan.check)
            plan.check(c.index, c.seq - 1, status, body);
          c.out.clear();
          if (c.seq < plan.requests_per_connection)
            next_request(c);
          else
            close_conn(c, false);
        }
      }
    }
  }
  for (auto& c : conns)
    if (!c->done) {
      result.unfinished +=
        plan.requests_per_connection - c->seq + (c->out.empty() ? 0 : 1);
      c->done = true;
      ::close(c->fd);
    }
  ::close(ep);
  return result;
}

} // namespace miyabi::test
