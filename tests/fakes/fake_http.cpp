#include "fakes/fake_http.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace miyabi::test {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

/// Reads with a short poll so a stopping server is noticed.
bool read_more(int fd, std::string& buf, const std::atomic<bool>& stopping) {
  while (!stopping) {
    pollfd p{fd, POLLIN, 0};
    auto r = ::poll(&p, 1, 100);
    if (r < 0 && errno != EINTR)
      return false;
    if (r <= 0)
      continue;
    char chunk[8192];
    auto n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0)
      return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }
  return false;
}

} // namespace

std::string fake_request::header(const std::string& name) const {
  auto i = headers.find(lower(name));
  return i == headers.end() ? std::string{} : i->second;
}

fake_http_server::fake_http_server(handler h) : handler_(std::move(h)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0 ||
      ::listen(listen_fd_, 128) != 0)
    throw std::runtime_error("fake server cannot listen");
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread{[this] {
    accept_loop();
  }};
}

fake_http_server::~fake_http_server() {
  stopping_ = true;
  if (acceptor_.joinable())
    acceptor_.join();
  ::close(listen_fd_);
  std::list<std::thread> workers;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    workers.swap(workers_);
  }
  for (auto& t : workers)
    if (t.joinable())
      t.join();
}

std::string fake_http_server::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

void fake_http_server::set_handler(handler h) {
  std::lock_guard<std::mutex> guard{mtx_};
  handler_ = std::move(h);
}

std::vector<fake_request> fake_http_server::requests() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

std::vector<fake_request>
fake_http_server::requests_to(const std::string& prefix) const {
  std::vector<fake_request> out;
  for (auto& r : requests())
    if (r.path().rfind(prefix, 0) == 0)
      out.push_back(r);
  return out;
}

bool fake_http_server::wait_for_requests(
  const std::string& prefix, size_t n,
  std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> guard{mtx_};
  return cv_.wait_for(guard, timeout, [&] {
    return static_cast<size_t>(std::count_if(
             requests_.begin(), requests_.end(), [&](const fake_request& r) {
               return r.path().rfind(prefix, 0) == 0;
             })) >= n;
  });
}

void fake_http_server::clear() {
  std::lock_guard<std::mutex> guard{mtx_};
  requests_.clear();
}

void fake_http_server::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    std::lock_guard<std::mutex> guard{mtx_};
    workers_.emplace_back([this, fd] { serve(fd); });
  }
}

void fake_http_server::serve(int fd) {
  std::string buf;
  while (!stopping_) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos)
      if (!read_more(fd, buf, stopping_)) {
        ::close(fd);
        return;
      }
    fake_request req;
    req.at = std::chrono::steady_clock::now();
    auto head = buf.substr(0, end);
    auto line_end = head.find("\r\n");
    auto request_line = head.substr(0, line_end);
    auto sp1 = request_line.find(' ');
    auto sp2 = request_line.find(' ', sp1 + 1);
    req.method = request_line.substr(0, sp1);
    req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t length = 0;
    for (size_t pos = line_end;
         pos != std::string::npos && pos < head.size();) {
      auto next = head.find("\r\n", pos + 2);
      auto line =
        head.substr(pos + 2, next == std::string::npos ? std::string::npos
                                                       : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto name = lower(line.substr(0, colon));
        auto value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (name == "content-length")
          length = std::stoull(value);
        req.headers.emplace(name, value);
      }
      pos = next;
    }
    buf.erase(0, end + 4);
    while (buf.size() < length)
      if (!read_more(fd, buf, stopping_)) {
        ::close(fd);
        return;
      }
    req.body = buf.substr(0, length);
    buf.erase(0, length);
    handler h;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      requests_.push_back(req);
      h = handler_;
    }
    cv_.notify_all();
    auto resp = h ? h(req) : fake_response{404, "", {}, {}, false};
    auto wake = std::chrono::steady_clock::now() + resp.delay;
    while (!stopping_ && std::chrono::steady_clock::now() < wake)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    if (resp.drop || stopping_)
      break;
    std::string out = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                      reason(resp.status) + "\r\n";
    for (const auto& [name, value] : resp.headers)
      out += name + ": " + value + "\r\n";
    out += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n\r\n";
    out += resp.body;
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(out.size()))
      break;
  }
  ::close(fd);
}

} // namespace miyabi::test
