// bench/event_streams: measures GET /api/v1/events (server-sent events) from
// the outside, with POSIX sockets and epoll only, so the client costs next
// to nothing and shares no code with the service it measures.
//
//   event_streams memory --port P --token T --streams N --pid PID
//                        [--host H] [--parallel K] [--timeout S]
//     VmRSS of PID before and after N open streams (2 s after the last one
//     got its 200 and headers): streams=N rss_before_kib=.. rss_after_kib=..
//     per_stream_kib=..
//
//   event_streams latency --write-port PA --read-port PB --token T
//                         --repository R --events M [--streams S]
//                         [--host H] [--samples FILE] [--timeout S]
//     S streams on PB, then M times: POST /api/v1/agents/execute on PA and
//     wait until every stream got the execution event carrying the new id.
//     The next write goes out only after that (or after 5 s: lost), so the
//     latencies do not queue behind each other: events=M lost=L p50_ms=..
//     p99_ms=.. max_ms=.. streams=S
//
// Exit status: 0 measured, 1 failed (message on stderr), 2 usage.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <sstream>
#include <string>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using time_point = clock_type::time_point;

constexpr std::size_t max_head_bytes = 64 * 1024;
// An SSE line longer than this means the parser is out of step with the
// stream (or the stream is broken); events here are a few hundred bytes.
constexpr std::size_t max_line_bytes = 1024 * 1024;
constexpr std::uint64_t write_tag = UINT64_MAX;

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "event_streams: " << message << "\n";
  std::exit(1);
}

[[noreturn]] void usage(const std::string& message) {
  if (!message.empty())
    std::cerr << "event_streams: " << message << "\n";
  std::cerr
    << "usage: event_streams memory --port P --token T --streams N --pid PID\n"
       "                            [--host H] [--parallel K] [--timeout S]\n"
       "       event_streams latency --write-port PA --read-port PB --token T\n"
       "                             --repository R --events M [--streams S]\n"
       "                             [--host H] [--parallel K] [--samples "
       "FILE]\n"
       "                             [--timeout S]\n"
       "--host defaults to 127.0.0.1, --parallel (streams opening at once) "
       "to 64,\n--timeout (the whole run, seconds) to a bound derived from "
       "the counts.\n";
  std::exit(2);
}

double seconds_between(time_point from, time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

time_point after(time_point t, double seconds) {
  return t + std::chrono::duration_cast<clock_type::duration>(
               std::chrono::duration<double>(seconds));
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// epoll_wait's timeout for a deadline, rounded up so a wait never returns
// just before the deadline and spins.
int wait_ms(time_point deadline) {
  auto left = deadline - clock_type::now();
  if (left <= clock_type::duration::zero())
    return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, 60 * 1000));
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos)
    return {};
  auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

// Whether a comma-separated header value lists `token` (case-insensitive),
// e.g. "chunked" in Transfer-Encoding or "close" in Connection.
bool has_token(const std::string& value, const std::string& token) {
  std::istringstream in(value);
  std::string item;
  while (std::getline(in, item, ','))
    if (lower(trim(item)) == token)
      return true;
  return false;
}

// Printable excerpt of a response body for error messages.
std::string excerpt(const std::string& s, std::size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max))
    out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  return trim(out);
}

// -- JSON: just enough to take the execution id from an answer ----------------

// Index of the quote closing the JSON string opened at `open`, or npos.
std::size_t string_end(const std::string& json, std::size_t open) {
  for (std::size_t i = open + 1; i < json.size(); ++i) {
    if (json[i] == '\\')
      ++i;
    else if (json[i] == '"')
      return i;
  }
  return std::string::npos;
}

std::size_t skip_space(const std::string& json, std::size_t i) {
  while (i < json.size() && (json[i] == ' ' || json[i] == '\t' ||
                             json[i] == '\n' || json[i] == '\r'))
    ++i;
  return i;
}

// The string value of member `name` of the top-level object, or "" when it
// is absent or not a string. Nested objects may have an "id" of their own,
// so a plain substring search is not enough. Escapes are kept as they are:
// ids are UUIDs.
std::string top_level_string(const std::string& json, const std::string& name) {
  int depth = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') {
      auto end = string_end(json, i);
      if (end == std::string::npos)
        return {};
      // Only a member name is followed by ':'.
      auto next = skip_space(json, end + 1);
      if (depth == 1 && next < json.size() && json[next] == ':' &&
          json.compare(i + 1, end - i - 1, name) == 0) {
        auto value = skip_space(json, next + 1);
        if (value >= json.size() || json[value] != '"')
          return {};
        auto value_end = string_end(json, value);
        if (value_end == std::string::npos)
          return {};
        return json.substr(value + 1, value_end - value - 1);
      }
      i = end;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return {};
}

// -- HTTP/1.1 pieces
// ---------------------------------------------------------------

struct http_head {
  int status = 0;
  std::string status_line;
  std::map<std::string, std::string> headers; ///< lower-case names
  std::size_t length = 0; ///< bytes up to and including the blank line

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

enum class parse_result { more, complete, bad };

parse_result parse_head(const std::string& buf, http_head& head) {
  auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos)
    return buf.size() > max_head_bytes ? parse_result::bad : parse_result::more;
  head = http_head{};
  head.length = end + 4;
  std::istringstream in(buf.substr(0, end));
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r')
    line.pop_back();
  head.status_line = line;
  // "HTTP/1.1 200 OK"
  if (line.compare(0, 5, "HTTP/") != 0 || line.size() < 12 || line[8] != ' ')
    return parse_result::bad;
  char* stop = nullptr;
  long status = std::strtol(line.c_str() + 9, &stop, 10);
  if (stop != line.c_str() + 12 || status < 100 || status > 999)
    return parse_result::bad;
  head.status = static_cast<int>(status);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      return parse_result::bad;
    auto name = lower(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    auto& slot = head.headers[name];
    slot = slot.empty() ? value : slot + ", " + value;
  }
  return parse_result::complete;
}

// De-chunks a Transfer-Encoding: chunked body fed in arbitrary pieces (a
// chunk may hold several events or part of one, and a read may end
// anywhere, even inside a size line).
class chunk_decoder {
 public:
  enum class result { more, done, bad };

  // Appends the payload of [data, data + size) to `out`.
  result feed(const char* data, std::size_t size, std::string& out) {
    std::size_t i = 0;
    while (i < size) {
      if (state_ == state::done)
        return result::done; // nothing follows; a keep-alive peer is idle
      if (state_ == state::payload) {
        auto take =
          static_cast<std::size_t>(std::min<std::uint64_t>(left_, size - i));
        out.append(data + i, take);
        i += take;
        left_ -= take;
        if (left_ == 0)
          state_ = state::payload_end;
        continue;
      }
      // The other states read lines.
      char c = data[i++];
      if (c != '\n') {
        if (line_.size() >= 1024)
          return result::bad;
        line_ += c;
        continue;
      }
      if (!line_.empty() && line_.back() == '\r')
        line_.pop_back();
      auto line = std::move(line_);
      line_.clear();
      if (!take_line(line))
        return result::bad;
    }
    return state_ == state::done ? result::done : result::more;
  }

 private:
  enum class state { size_line, payload, payload_end, trailer, done };

  bool take_line(const std::string& line) {
    switch (state_) {
      case state::size_line: {
        auto digits = trim(line.substr(0, line.find(';')));
        if (digits.empty() || digits.size() > 15)
          return false;
        std::uint64_t size = 0;
        for (char c : digits) {
          int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                  : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                              : -1;
          if (v < 0)
            return false;
          size = size * 16 + static_cast<std::uint64_t>(v);
        }
        left_ = size;
        state_ = size == 0 ? state::trailer : state::payload;
        return true;
      }
      case state::payload_end:
        // The CRLF closing a chunk's payload.
        if (!line.empty())
          return false;
        state_ = state::size_line;
        return true;
      case state::trailer:
        if (line.empty())
          state_ = state::done;
        return true;
      case state::payload:
      case state::done: break;
    }
    return false;
  }

  state state_ = state::size_line;
  std::string line_;
  std::uint64_t left_ = 0;
};

// -- server-sent events
// ----------------------------------------------------------------

struct sse_event {
  std::string type; ///< "message" when the event had no `event:` field
  std::string id;
  std::string data;
};

// Splits the de-chunked stream into lines and lines into events (which end
// at a blank line). Comments (": ping") and `retry:` are skipped.
class sse_parser {
 public:
  // Returns false when a line grows past max_line_bytes.
  bool feed(const char* data, std::size_t size, std::vector<sse_event>& out) {
    while (size > 0) {
      auto nl = static_cast<const char*>(std::memchr(data, '\n', size));
      std::size_t take = nl ? static_cast<std::size_t>(nl - data) : size;
      if (line_.size() + take > max_line_bytes)
        return false;
      line_.append(data, take);
      if (!nl)
        return true;
      if (!line_.empty() && line_.back() == '\r')
        line_.pop_back();
      take_line(out);
      line_.clear();
      data += take + 1;
      size -= take + 1;
    }
    return true;
  }

 private:
  void take_line(std::vector<sse_event>& out) {
    if (line_.empty()) {
      if (has_data_) {
        if (event_.type.empty())
          event_.type = "message";
        out.push_back(std::move(event_));
      }
      event_ = sse_event{};
      has_data_ = false;
      return;
    }
    if (line_[0] == ':')
      return;
    auto colon = line_.find(':');
    auto name = line_.substr(0, colon);
    std::string value;
    if (colon != std::string::npos) {
      value = line_.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.erase(0, 1);
    }
    if (name == "event") {
      event_.type = std::move(value);
    } else if (name == "id") {
      event_.id = std::move(value);
    } else if (name == "data") {
      if (has_data_)
        event_.data += '\n';
      event_.data += value;
      has_data_ = true;
    }
  }

  std::string line_;
  sse_event event_;
  bool has_data_ = false;
};

// -- sockets
// ------------------------------------------------------------------------------

struct endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string label; ///< host:port, also the Host header
};

endpoint resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0)
    fail("cannot resolve " + host + ": " + ::gai_strerror(rc));
  endpoint ep;
  std::memcpy(&ep.address, found->ai_addr, found->ai_addrlen);
  ep.length = found->ai_addrlen;
  ep.label = host + ":" + service;
  ::freeaddrinfo(found);
  return ep;
}

// One non-blocking TCP connection registered with an epoll instance under
// a tag (level-triggered). Bytes to send are queued and flushed as the
// socket allows.
class connection {
 public:
  enum class io { ok, eof, error };

  connection() = default;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { close(); }

  bool open(const endpoint& ep, int epoll_fd, std::uint64_t tag,
            std::string& error) {
    close();
    epoll_fd_ = epoll_fd;
    tag_ = tag;
    label_ = ep.label;
    fd_ = ::socket(ep.address.ss_family,
                   SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      error = std::string("socket: ") + std::strerror(errno);
      return false;
    }
    // Each write is one small request; Nagle must not hold any back.
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&ep.address),
                  ep.length) == 0) {
      connecting_ = false;
    } else if (errno == EINPROGRESS) {
      connecting_ = true;
    } else {
      error = "connect to " + label_ + ": " + std::strerror(errno);
      close();
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd_, &ev) != 0) {
      error = std::string("epoll_ctl: ") + std::strerror(errno);
      close();
      return false;
    }
    watched_ = EPOLLOUT;
    return true;
  }

  // Queues bytes and, when connected, sends what the socket takes now, so
  // a write's clock starts with its send() and not one epoll round later.
  bool send(const std::string& bytes, std::string& error) {
    out_.append(bytes);
    if (connecting_)
      return true;
    return flush(error) && watch(error);
  }

  // Handles readiness: finishes the connect, sends queued bytes, appends
  // what arrived to `in`. eof: the peer closed (after the bytes in `in`).
  io on_ready(std::uint32_t ready, std::string& in, std::string& error) {
    if (fd_ < 0) {
      error = "connection is closed";
      return io::error;
    }
    if (connecting_) {
      if (!(ready & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        return io::ok;
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
      if (so_error != 0) {
        error = "connect to " + label_ + ": " + std::strerror(so_error);
        return io::error;
      }
      connecting_ = false;
    }
    if (!flush(error) || !watch(error))
      return io::error;
    if (!(ready & (EPOLLIN | EPOLLERR | EPOLLHUP)))
      return io::ok;
    char buf[64 * 1024];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        in.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0)
        return io::eof;
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return io::ok;
      error = std::string("recv: ") + std::strerror(errno);
      return io::error;
    }
  }

  bool connected() const { return fd_ >= 0 && !connecting_; }
  bool is_open() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0)
      ::close(fd_); // also leaves the epoll set
    fd_ = -1;
    connecting_ = false;
    out_.clear();
    sent_ = 0;
    watched_ = 0;
  }

 private:
  bool flush(std::string& error) {
    while (sent_ < out_.size()) {
      ssize_t n =
        ::send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
      if (n > 0) {
        sent_ += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    out_.clear();
    sent_ = 0;
    return true;
  }

  // Reading always; writability only while bytes wait (level-triggered
  // EPOLLOUT would otherwise wake every round).
  bool watch(std::string& error) {
    std::uint32_t want = EPOLLIN | (out_.empty() ? 0u : EPOLLOUT);
    if (want == watched_)
      return true;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = tag_;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd_, &ev) != 0) {
      error = std::string("epoll_ctl: ") + std::strerror(errno);
      return false;
    }
    watched_ = want;
    return true;
  }

  int fd_ = -1;
  int epoll_fd_ = -1;
  std::uint64_t tag_ = 0;
  std::string label_;
  bool connecting_ = false;
  std::string out_;
  std::size_t sent_ = 0;
  std::uint32_t watched_ = 0;
};

// -- one event stream
// --------------------------------------------------------------------

class event_stream {
 public:
  bool open(const endpoint& ep, const std::string& request, int epoll_fd,
            std::uint64_t tag) {
    return conn_.open(ep, epoll_fd, tag, error_) && conn_.send(request, error_);
  }

  // Complete events are appended to `out`. false: the stream failed or
  // ended (error() says how); every stream is meant to stay open.
  bool on_ready(std::uint32_t ready, std::vector<sse_event>& out) {
    auto io = conn_.on_ready(ready, in_, error_);
    if (io == connection::io::error)
      return false;
    if (!live_) {
      http_head head;
      auto parsed = parse_head(in_, head);
      if (parsed == parse_result::bad) {
        error_ = "malformed response head: " + excerpt(in_);
        return false;
      }
      if (parsed == parse_result::more) {
        if (io == connection::io::eof) {
          error_ = in_.empty() ? "connection closed before any answer"
                               : "connection closed inside the answer's head";
          return false;
        }
        return true;
      }
      if (head.status != 200) {
        error_ = "answered '" + head.status_line + "'";
        auto body = excerpt(in_.substr(head.length));
        if (!body.empty())
          error_ += ": " + body;
        return false;
      }
      auto type = lower(head.header("content-type"));
      if (type.compare(0, 17, "text/event-stream") != 0) {
        error_ = "200 with Content-Type '" + type + "', not text/event-stream";
        return false;
      }
      chunked_ = has_token(head.header("transfer-encoding"), "chunked");
      live_ = true;
      in_.erase(0, head.length);
    }
    if (!take_body(out))
      return false;
    if (io == connection::io::eof) {
      error_ = "the server closed the stream";
      return false;
    }
    return true;
  }

  bool live() const { return live_; }
  const std::string& error() const { return error_; }
  void close() { conn_.close(); }

 private:
  bool take_body(std::vector<sse_event>& out) {
    if (in_.empty())
      return true;
    const std::string* payload = &in_;
    bool ended = false;
    if (chunked_) {
      payload_.clear();
      auto r = chunks_.feed(in_.data(), in_.size(), payload_);
      if (r == chunk_decoder::result::bad) {
        error_ = "malformed chunked encoding";
        return false;
      }
      ended = r == chunk_decoder::result::done;
      payload = &payload_;
    }
    bool ok = sse_.feed(payload->data(), payload->size(), out);
    in_.clear();
    if (!ok) {
      error_ = "an event stream line longer than 1 MiB";
      return false;
    }
    if (ended) {
      // The last chunk: the server ended the stream (its time limit or a
      // shutdown), which spoils the measurement.
      error_ = "the server ended the stream (last chunk)";
      return false;
    }
    return true;
  }

  connection conn_;
  std::string in_;
  std::string payload_;
  bool live_ = false;
  bool chunked_ = false;
  chunk_decoder chunks_;
  sse_parser sse_;
  std::string error_;
};

// N streams of one user on one endpoint, tagged 0..N-1 in one epoll set.
class stream_set {
 public:
  stream_set(int epoll_fd, const endpoint& ep, const std::string& token,
             std::size_t count)
      : epoll_fd_(epoll_fd), endpoint_(ep) {
    request_ = "GET /api/v1/events HTTP/1.1\r\nHost: " + ep.label +
               "\r\nAuthorization: Bearer " + token +
               "\r\nAccept: text/event-stream\r\n\r\n";
    streams_.resize(count);
    for (auto& s : streams_)
      s = std::make_unique<event_stream>();
  }

  std::size_t size() const { return streams_.size(); }

  // Opens every stream, at most `parallel` waiting for their head at once:
  // a thousand simultaneous connects would only overflow the listen
  // backlog and measure SYN retransmits. Fails unless all are live by
  // `deadline`.
  void open_all(std::size_t parallel, time_point deadline) {
    auto begun = clock_type::now();
    std::size_t started = 0, live = 0;
    std::vector<epoll_event> ready(256);
    std::vector<sse_event> events;
    while (live < streams_.size()) {
      while (started < streams_.size() && started - live < parallel) {
        if (!streams_[started]->open(endpoint_, request_, epoll_fd_, started))
          fail("stream " + std::to_string(started + 1) + ": " +
               streams_[started]->error());
        ++started;
      }
      if (clock_type::now() >= deadline)
        fail(std::to_string(streams_.size() - live) + " of " +
             std::to_string(streams_.size()) + " streams to " +
             endpoint_.label + " had no 200 and headers within " +
             fixed(seconds_between(begun, deadline), 0) + " s");
      int n = ::epoll_wait(epoll_fd_, ready.data(),
                           static_cast<int>(ready.size()), wait_ms(deadline));
      if (n < 0 && errno != EINTR)
        fail(std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i) {
        auto tag = ready[i].data.u64;
        bool was_live = streams_[tag]->live();
        events.clear();
        dispatch(tag, ready[i].events, events);
        if (!was_live && streams_[tag]->live())
          ++live;
      }
    }
  }

  // Reads from stream `tag`; fails the run if it broke, since every later
  // number would silently count fewer streams.
  void dispatch(std::uint64_t tag, std::uint32_t ready,
                std::vector<sse_event>& out) {
    auto& s = *streams_[tag];
    if (!s.on_ready(ready, out))
      fail("stream " + std::to_string(tag + 1) + " of " +
           std::to_string(streams_.size()) + " to " + endpoint_.label + ": " +
           s.error());
  }

  void close_all() {
    for (auto& s : streams_)
      s->close();
  }

 private:
  int epoll_fd_;
  endpoint endpoint_;
  std::string request_;
  std::vector<std::unique_ptr<event_stream>> streams_;
};

// -- process facts
// ------------------------------------------------------------------------

std::optional<long> rss_kib(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0)
      return std::strtol(line.c_str() + 6, nullptr, 10); // "  1234 kB"
  }
  return std::nullopt;
}

// Every stream is a descriptor; the default soft limit (often 1024) is too
// low for a thousand of them.
void ensure_descriptors(std::size_t needed) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    fail(std::string("getrlimit: ") + std::strerror(errno));
  auto want = static_cast<rlim_t>(needed);
  if (lim.rlim_cur >= want)
    return;
  lim.rlim_cur = want;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < want)
    lim.rlim_max = want; // only root may; the error below says so
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
    fail("need " + std::to_string(needed) +
         " descriptors but RLIMIT_NOFILE cannot be raised that far (" +
         std::strerror(errno) + "); raise `ulimit -Hn`");
}

// -- options
// ----------------------------------------------------------------------------------

struct options {
  std::string mode;
  std::string host = "127.0.0.1";
  std::string token;
  std::string repository;
  std::string samples;
  long port = 0;
  long write_port = 0;
  long read_port = 0;
  long streams = 0;
  long events = 0;
  long pid = 0;
  long parallel = 64;
  double timeout_s = 0; ///< 0: derived from the counts
};

long parse_long(const std::string& flag, const std::string& text, long min,
                long max) {
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < min || v > max)
    usage(flag + " wants an integer in [" + std::to_string(min) + ", " +
          std::to_string(max) + "], got '" + text + "'");
  return v;
}

options parse_options(int argc, char** argv) {
  if (argc < 2)
    usage("");
  options o;
  o.mode = argv[1];
  if (o.mode == "-h" || o.mode == "--help")
    usage("");
  if (o.mode != "memory" && o.mode != "latency")
    usage("unknown mode '" + o.mode + "'");
  std::map<std::string, std::function<void(const std::string&)>> flags{
    {"--host",
     [&](const std::string& v) {
       o.host = v;
     }},
    {"--token",
     [&](const std::string& v) {
       o.token = v;
     }},
    {"--repository",
     [&](const std::string& v) {
       o.repository = v;
     }},
    {"--samples",
     [&](const std::string& v) {
       o.samples = v;
     }},
    {"--port",
     [&](const std::string& v) {
       o.port = parse_long("--port", v, 1, 65535);
     }},
    {"--write-port",
     [&](const std::string& v) {
       o.write_port = parse_long("--write-port", v, 1, 65535);
     }},
    {"--read-port",
     [&](const std::string& v) {
       o.read_port = parse_long("--read-port", v, 1, 65535);
     }},
    {"--streams",
     [&](const std::string& v) {
       o.streams = parse_long("--streams", v, 1, 1000000);
     }},
    {"--events",
     [&](const std::string& v) {
       o.events = parse_long("--events", v, 1, 1000000);
     }},
    {"--pid",
     [&](const std::string& v) {
       o.pid = parse_long("--pid", v, 1, 0x7fffffff);
     }},
    {"--parallel",
     [&](const std::string& v) {
       o.parallel = parse_long("--parallel", v, 1, 100000);
     }},
    {"--timeout",
     [&](const std::string& v) {
       o.timeout_s =
         static_cast<double>(parse_long("--timeout", v, 1, 7 * 24 * 3600));
     }},
  };
  for (int i = 2; i < argc; i += 2) {
    std::string flag = argv[i];
    auto it = flags.find(flag);
    if (it == flags.end())
      usage("unknown option '" + flag + "'");
    if (i + 1 >= argc)
      usage(flag + " needs a value");
    it->second(argv[i + 1]);
  }
  // Both go verbatim into a request head or a JSON body.
  if (o.token.empty() ||
      o.token.find_first_of("\r\n \t\"\\") != std::string::npos)
    usage("--token is required (one word)");
  if (o.mode == "memory") {
    if (o.port == 0 || o.streams == 0 || o.pid == 0)
      usage("memory needs --port, --token, --streams and --pid");
  } else {
    if (o.write_port == 0 || o.read_port == 0 || o.events == 0 ||
        o.repository.empty())
      usage("latency needs --write-port, --read-port, --token, "
            "--repository and --events");
    if (o.repository.find_first_not_of("0123456789abcdefABCDEF-") !=
        std::string::npos)
      usage("--repository must be a UUID");
    if (o.streams == 0)
      o.streams = 1;
  }
  return o;
}

// -- memory
// ------------------------------------------------------------------------------------

// The time streams may take to open, and the settle time before the second
// reading (lets the hub take every stream in and the allocator settle).
constexpr double open_limit_s = 30;
constexpr double settle_s = 2;

int run_memory(const options& o) {
  auto streams = static_cast<std::size_t>(o.streams);
  auto start = clock_type::now();
  double limit = o.timeout_s > 0 ? o.timeout_s : open_limit_s + settle_s + 30;
  auto overall = after(start, limit);
  auto before = rss_kib(o.pid);
  if (!before)
    fail("no VmRSS for pid " + std::to_string(o.pid) + " (not running?)");
  ensure_descriptors(streams + 64);
  auto ep = resolve(o.host, static_cast<int>(o.port));
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0)
    fail(std::string("epoll_create1: ") + std::strerror(errno));

  stream_set set(epoll_fd, ep, o.token, streams);
  set.open_all(static_cast<std::size_t>(o.parallel),
               std::min(overall, after(start, open_limit_s)));
  auto opened = clock_type::now();
  std::cerr << "event_streams: " << streams << " streams open in "
            << fixed(seconds_between(start, opened), 2) << " s\n";

  // Keep reading while settling: a stream the server writes to (a replay,
  // an event) must not back up into the server's buffers.
  auto settled = after(opened, settle_s);
  if (settled > overall)
    fail("overall timeout reached before the settle time");
  std::vector<epoll_event> ready(256);
  std::vector<sse_event> events;
  while (clock_type::now() < settled) {
    int n = ::epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()),
                         wait_ms(settled));
    if (n < 0 && errno != EINTR)
      fail(std::string("epoll_wait: ") + std::strerror(errno));
    for (int i = 0; i < n; ++i) {
      events.clear();
      set.dispatch(ready[i].data.u64, ready[i].events, events);
    }
  }
  auto after = rss_kib(o.pid);
  if (!after)
    fail("pid " + std::to_string(o.pid) + " vanished while streams were open");
  std::printf("streams=%zu rss_before_kib=%ld rss_after_kib=%ld "
              "per_stream_kib=%.1f\n",
              streams, *before, *after,
              static_cast<double>(*after - *before) /
                static_cast<double>(streams));
  std::fflush(stdout);
  set.close_all();
  ::close(epoll_fd);
  return 0;
}

// -- latency
// -----------------------------------------------------------------------------------

constexpr double event_limit_s = 5;

// The keep-alive connection for the writes and the answer being read.
class writer {
 public:
  writer(int epoll_fd, const endpoint& ep, const options& o)
      : epoll_fd_(epoll_fd), endpoint_(ep) {
    auto body = "{\"repository_id\":\"" + o.repository +
                "\",\"issue_number\":1,\"agent_type\":\"codegen\"}";
    request_ = "POST /api/v1/agents/execute HTTP/1.1\r\nHost: " + ep.label +
               "\r\nAuthorization: Bearer " + o.token +
               "\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  bool connected() const { return conn_.connected(); }
  bool usable() const { return conn_.is_open() && !closing_; }
  bool waiting() const { return waiting_; }
  // The id of the execution the last answer created ("" before it).
  const std::string& id() const { return id_; }

  void open() {
    std::string error;
    closing_ = false;
    in_.clear();
    if (!conn_.open(endpoint_, epoll_fd_, write_tag, error))
      fail("write connection: " + error);
  }

  void send() {
    std::string error;
    in_.clear();
    id_.clear();
    head_ = http_head{};
    has_head_ = false;
    chunks_ = chunk_decoder{};
    body_.clear();
    waiting_ = true;
    if (!conn_.send(request_, error))
      fail("write to " + endpoint_.label + ": " + error);
  }

  // Reads what arrived. Returns true when this completed the answer.
  bool on_ready(std::uint32_t ready) {
    std::string error;
    auto io = conn_.on_ready(ready, in_, error);
    if (io == connection::io::error)
      fail("write connection to " + endpoint_.label + ": " + error);
    bool eof = io == connection::io::eof;
    if (!waiting_) {
      // Idle keep-alive connection: the server may close it; reconnect
      // before the next write (outside any measured interval).
      if (eof || !in_.empty())
        closing_ = true;
      in_.clear();
      return false;
    }
    if (!has_head_) {
      auto parsed = parse_head(in_, head_);
      if (parsed == parse_result::bad)
        fail("malformed answer to a write: " + excerpt(in_));
      if (parsed == parse_result::more) {
        if (eof)
          fail("write connection closed before the answer");
        return false;
      }
      has_head_ = true;
      in_.erase(0, head_.length);
    }
    bool complete = false;
    if (has_token(head_.header("transfer-encoding"), "chunked")) {
      auto r = chunks_.feed(in_.data(), in_.size(), body_);
      in_.clear();
      if (r == chunk_decoder::result::bad)
        fail("malformed chunked answer to a write");
      complete = r == chunk_decoder::result::done;
    } else if (!head_.header("content-length").empty()) {
      auto length =
        std::strtoul(head_.header("content-length").c_str(), nullptr, 10);
      body_ += in_;
      in_.clear();
      complete = body_.size() >= length;
    } else {
      body_ += in_; // delimited by the close
      in_.clear();
      complete = eof;
    }
    if (!complete) {
      if (eof)
        fail("write connection closed inside the answer");
      return false;
    }
    waiting_ = false;
    if (eof || has_token(head_.header("connection"), "close"))
      closing_ = true;
    if (head_.status != 201 && head_.status != 202)
      fail("POST /api/v1/agents/execute answered '" + head_.status_line +
           "': " + excerpt(body_));
    id_ = top_level_string(body_, "id");
    if (id_.empty())
      fail("no \"id\" in the write's answer: " + excerpt(body_));
    return true;
  }

 private:
  int epoll_fd_;
  endpoint endpoint_;
  std::string request_;
  connection conn_;
  std::string in_;
  http_head head_;
  bool has_head_ = false;
  chunk_decoder chunks_;
  std::string body_;
  std::string id_;
  bool waiting_ = false;
  bool closing_ = false;
};

// Which streams have seen the current write's execution event, and when.
// The event may arrive before the write's answer (the id is unknown then),
// so execution events are kept until the id is known.
class delivery {
 public:
  explicit delivery(std::size_t streams) : seen_(streams), early_(streams) {}

  void reset() {
    id_.clear();
    for (auto& s : seen_)
      s.reset();
    for (auto& e : early_)
      e.clear();
    count_ = 0;
  }

  void on_event(std::size_t stream, const sse_event& ev, time_point at) {
    if (ev.type != "execution" || seen_[stream])
      return;
    if (id_.empty())
      early_[stream].emplace_back(at, ev.data);
    else if (ev.data.find(id_) != std::string::npos)
      mark(stream, at);
  }

  void on_id(const std::string& id) {
    id_ = id;
    for (std::size_t s = 0; s < early_.size(); ++s) {
      for (const auto& [at, data] : early_[s]) {
        if (data.find(id_) != std::string::npos) {
          mark(s, at);
          break;
        }
      }
      early_[s].clear();
    }
  }

  bool complete() const { return !id_.empty() && count_ == seen_.size(); }

  // The last stream's arrival: delivery means every stream has it.
  time_point last() const {
    time_point t{};
    for (const auto& s : seen_)
      if (s && *s > t)
        t = *s;
    return t;
  }

 private:
  void mark(std::size_t stream, time_point at) {
    seen_[stream] = at;
    ++count_;
  }

  std::string id_;
  std::vector<std::optional<time_point>> seen_;
  std::vector<std::vector<std::pair<time_point, std::string>>> early_;
  std::size_t count_ = 0;
};

double percentile(const std::vector<double>& sorted, double p) {
  // Nearest rank, as bench/report computes pgbench's percentiles.
  auto rank =
    static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

int run_latency(const options& o) {
  auto streams = static_cast<std::size_t>(o.streams);
  auto events = static_cast<std::size_t>(o.events);
  auto start = clock_type::now();
  // Opening, every write's full wait, and room for slow answers.
  double limit =
    o.timeout_s > 0
      ? o.timeout_s
      : open_limit_s + 30 + static_cast<double>(events) * (event_limit_s + 1);
  auto overall = after(start, limit);
  std::ofstream samples;
  if (!o.samples.empty()) {
    samples.open(o.samples);
    if (!samples)
      fail("cannot write " + o.samples);
  }
  ensure_descriptors(streams + 64);
  auto read_ep = resolve(o.host, static_cast<int>(o.read_port));
  auto write_ep = resolve(o.host, static_cast<int>(o.write_port));
  int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0)
    fail(std::string("epoll_create1: ") + std::strerror(errno));

  // Streams first: a write committed after a stream got its head is never
  // skipped by that stream, so from here on every write must arrive.
  stream_set set(epoll_fd, read_ep, o.token, streams);
  set.open_all(static_cast<std::size_t>(o.parallel),
               std::min(overall, after(start, open_limit_s)));

  writer w(epoll_fd, write_ep, o);
  delivery d(streams);
  std::vector<epoll_event> ready(256);
  std::vector<sse_event> got;
  bool tracking = false; // whether stream events belong to a write

  // One epoll round: stream events go to `d` while tracking, the write's
  // answer hands its id to `d`.
  auto pump = [&](time_point deadline) {
    if (clock_type::now() >= overall)
      fail("overall timeout of " + std::to_string(static_cast<long>(limit)) +
           " s reached (--timeout)");
    int n = ::epoll_wait(epoll_fd, ready.data(), static_cast<int>(ready.size()),
                         wait_ms(std::min(deadline, overall)));
    if (n < 0 && errno != EINTR)
      fail(std::string("epoll_wait: ") + std::strerror(errno));
    auto now = clock_type::now();
    for (int i = 0; i < n; ++i) {
      auto tag = ready[i].data.u64;
      if (tag == write_tag) {
        if (w.on_ready(ready[i].events) && tracking)
          d.on_id(w.id());
        continue;
      }
      got.clear();
      set.dispatch(tag, ready[i].events, got);
      if (tracking)
        for (const auto& ev : got)
          d.on_event(static_cast<std::size_t>(tag), ev, now);
    }
  };

  std::vector<double> latencies_ms;
  std::size_t lost = 0;
  for (std::size_t k = 0; k < events; ++k) {
    // (Re)connect outside the measured interval.
    if (!w.usable())
      w.open();
    while (!w.connected())
      pump(overall);
    d.reset();
    tracking = true;
    auto t0 = clock_type::now();
    w.send();
    auto give_up = after(t0, event_limit_s);
    while (!d.complete() && clock_type::now() < give_up)
      pump(give_up);
    tracking = false;
    if (d.complete()) {
      double ms =
        std::chrono::duration<double, std::milli>(d.last() - t0).count();
      latencies_ms.push_back(ms);
      if (samples)
        samples << ms << "\n";
    } else {
      ++lost;
      if (samples)
        samples << "lost\n";
      std::cerr << "event_streams: write " << (k + 1)
                << (w.waiting() ? " had no answer" : " (id " + w.id() + ")")
                << " within " << event_limit_s << " s; counted as lost\n";
    }
    // The connection carries one request at a time.
    while (w.waiting())
      pump(overall);
  }
  set.close_all();
  ::close(epoll_fd);

  std::sort(latencies_ms.begin(), latencies_ms.end());
  if (latencies_ms.empty()) {
    std::printf("events=%zu lost=%zu p50_ms=nan p99_ms=nan max_ms=nan "
                "streams=%zu\n",
                events, lost, streams);
    fail("no write was delivered to every stream");
  }
  std::printf("events=%zu lost=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
              "streams=%zu\n",
              events, lost, percentile(latencies_ms, 0.50),
              percentile(latencies_ms, 0.99), latencies_ms.back(), streams);
  std::fflush(stdout);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto o = parse_options(argc, argv);
  return o.mode == "memory" ? run_memory(o) : run_latency(o);
}
