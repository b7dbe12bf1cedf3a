#include "http/request_guard.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/socket.h>

#include <pistache/http.h>
#include <pistache/stream.h>

#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "http/errors.hpp"
#include "http/headers.hpp"
#include "http/json_codec.hpp"

namespace miyabi::http {

namespace {

namespace Http = Pistache::Http;
using Http::Private::State;
using Http::Private::StepId;
using Pistache::StreamCursor;

struct guard_state {
  std::weak_ptr<Pistache::Tcp::Peer> peer;
  guard_limits limits;
  bool refused = false;
  bool head_checked = false;
  std::mutex gone_mtx;       ///< orders `gone` against late answers
  bool gone = false;         ///< the client disconnected
  bool reading = false;      ///< a request began and is counted in intake
  bool before_drain = false; ///< ...and its first byte came before SIGTERM
};

/// The request that began on this connection stops counting as being read.
void end_reading(guard_state& st) {
  if (st.reading) {
    st.reading = false;
    st.limits.intake->reading.fetch_sub(1, std::memory_order_acq_rel);
  }
}

errc code_for_status(int status) {
  switch (status) {
    case 411: return errc::length_required;
    case 413: return errc::payload_too_large;
    case 414: return errc::uri_too_long;
    case 431: return errc::header_too_large;
    default: return errc::validation_error;
  }
}

/// Answers a refused request with a JSON envelope and closes our side.
void refuse(guard_state& st, int status, std::string_view details) {
  if (st.refused)
    return;
  st.refused = true;
  end_reading(st);
  auto peer = st.peer.lock();
  if (!peer)
    return;
  auto err =
    to_response(make_error(code_for_status(status), {}, std::string{details}));
  err.status = status;
  auto request_id = crypto::random_uuid();
  auto body = encode_error(err, request_id);
  auto headers = raw_error_headers(st.limits.production, request_id);
  headers.emplace_back("Content-Type", "application/json");
  headers.emplace_back("Content-Length", std::to_string(body.size()));
  headers.emplace_back("Connection", "close");
  std::string text = "HTTP/1.1 " + std::to_string(status) + " ";
  text += reason_phrase(status);
  text += "\r\n";
  for (const auto& [name, value] : headers)
    text += name + ": " + value + "\r\n";
  text += "\r\n";
  text += body;
  // A short answer fits the socket buffer of a fresh connection; if it
  // does not, the client is not reading and loses nothing it wanted.
  auto fd = peer->fd();
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
  log::info(
    "request refused by the parser guard",
    {{"request_id", request_id}, {"status", status}, {"details", details}});
}

State drop_input(StreamCursor& cursor) {
  cursor.advance(cursor.remaining());
  return State::Again;
}

/// Runs one of Pistache's steps and turns its exceptions into refusals.
template <class Step>
State run_guarded(guard_state& st, Step& step, StreamCursor& cursor) {
  try {
    return step.apply(cursor);
  } catch (const Http::HttpError& e) {
    auto status = e.code() == 413 ? 413 : 400;
    refuse(st, status, "malformed HTTP request");
  } catch (const std::exception&) {
    refuse(st, 400, "malformed HTTP request");
  }
  return drop_input(cursor);
}

/// Offset of the first "\r\n" within `limit` bytes, or npos.
size_t find_crlf(const char* data, size_t size) {
  std::string_view view{data, size};
  return view.find("\r\n");
}

class guarded_line_step final : public Http::Private::Step {
 public:
  guarded_line_step(Http::Request* request, guard_state& st)
      : Step(request), inner_(request), st_(st) {}

  StepId id() const override { return Http::Private::RequestLineStep::Id; }

  State apply(StreamCursor& cursor) override {
    if (st_.refused)
      return drop_input(cursor);
    auto avail = cursor.remaining();
    if (avail > 0 && !st_.reading) {
      // The first byte of a request: from now on it is in flight.
      st_.reading = true;
      st_.limits.intake->reading.fetch_add(1, std::memory_order_acq_rel);
      st_.before_drain =
        !st_.limits.intake->draining.load(std::memory_order_acquire);
    }
    auto eol = find_crlf(cursor.offset(),
                         std::min(avail, st_.limits.max_request_line + 2));
    if (eol == std::string_view::npos) {
      if (avail > st_.limits.max_request_line) {
        refuse(st_, 414, "the request line exceeds 8 KiB");
        return drop_input(cursor);
      }
      return State::Again;
    }
    return run_guarded(st_, inner_, cursor);
  }

 private:
  Http::Private::RequestLineStep inner_;
  guard_state& st_;
};

class guarded_headers_step final : public Http::Private::Step {
 public:
  guarded_headers_step(Http::Request* request, guard_state& st)
      : Step(request), inner_(request), st_(st) {}

  StepId id() const override { return Http::Private::HeadersStep::Id; }

  State apply(StreamCursor& cursor) override {
    if (st_.refused)
      return drop_input(cursor);
    if (!st_.head_checked) {
      const char* data = cursor.offset();
      auto avail = cursor.remaining();
      std::string_view view{data,
                            std::min(avail, st_.limits.max_header_block + 4)};
      size_t end = 0;
      if (view.size() >= 2 && view[0] == '\r' && view[1] == '\n') {
        end = 0; // no header lines at all
      } else if (auto pos = view.find("\r\n\r\n");
                 pos != std::string_view::npos) {
        end = pos + 2; // keep the CRLF of the last line
      } else {
        if (avail > st_.limits.max_header_block) {
          refuse(st_, 431, "the request headers exceed 32 KiB");
          return drop_input(cursor);
        }
        return State::Again;
      }
      auto check = check_header_block(data, end, st_.limits);
      if (check.status != 0) {
        refuse(st_, check.status, check.reason);
        return drop_input(cursor);
      }
      st_.head_checked = true;
    }
    return run_guarded(st_, inner_, cursor);
  }

 private:
  Http::Private::HeadersStep inner_;
  guard_state& st_;
};

class guarded_body_step final : public Http::Private::Step {
 public:
  guarded_body_step(Http::Request* request, guard_state& st)
      : Step(request), inner_(request), st_(st) {}

  StepId id() const override { return Http::Private::BodyStep::Id; }

  State apply(StreamCursor& cursor) override {
    if (st_.refused)
      return drop_input(cursor);
    auto state = run_guarded(st_, inner_, cursor);
    if (state != State::Done)
      return state;
    // Pistache serves one request per read and then empties its buffer, so
    // a pipelined request behind this one would be lost and its client left
    // waiting for an answer that never comes. Refusing the read as a whole
    // (400 and close) tells the client at once; empty lines between
    // requests are tolerated (RFC 9112, 2.2).
    while (cursor.remaining() > 0 &&
           (cursor.current() == '\r' || cursor.current() == '\n'))
      cursor.advance(1);
    if (cursor.remaining() == 0)
      return state;
    refuse(st_, 400,
           "pipelined requests are not supported: send each request after "
           "the answer to the previous one");
    return drop_input(cursor);
  }

 private:
  Http::Private::BodyStep inner_;
  guard_state& st_;
};

class guarded_parser final : public Http::RequestParser {
 public:
  guarded_parser(size_t max_size, std::weak_ptr<Pistache::Tcp::Peer> peer,
                 const guard_limits& limits)
      : Http::RequestParser(max_size) {
    state_.peer = std::move(peer);
    state_.limits = limits;
    allSteps[0] = std::make_unique<guarded_line_step>(&request, state_);
    allSteps[1] = std::make_unique<guarded_headers_step>(&request, state_);
    allSteps[2] = std::make_unique<guarded_body_step>(&request, state_);
  }

  void reset() override {
    Http::RequestParser::reset();
    state_.head_checked = false;
  }

  bool refused() const { return state_.refused; }

  guard_state& state() { return state_; }

 private:
  guard_state state_;
};

bool token_char(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

} // namespace

head_check check_header_block(const char* block, size_t size,
                              const guard_limits& limits) {
  head_check result;
  std::string_view rest{block, size};
  if (rest.find('\0') != std::string_view::npos)
    return {400, "NUL byte in the request headers", 0};
  bool has_length = false;
  bool has_transfer_encoding = false;
  std::string_view length_text;
  while (!rest.empty()) {
    auto eol = rest.find("\r\n");
    auto line = rest.substr(0, eol);
    rest =
      eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    if (line.empty())
      break;
    if (line.front() == ' ' || line.front() == '\t')
      return {400, "obsolete header line folding", 0};
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return {400, "malformed header line", 0};
    auto name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), [](char c) {
          return token_char(static_cast<unsigned char>(c));
        }))
      return {400, "malformed header name", 0};
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      bool digits = !value.empty() && value.size() <= 19 &&
                    std::all_of(value.begin(), value.end(),
                                [](char c) { return c >= '0' && c <= '9'; });
      if (!digits)
        return {400, "Content-Length must be a decimal number", 0};
      if (has_length && value != length_text)
        return {400, "conflicting Content-Length headers", 0};
      has_length = true;
      length_text = value;
    } else if (iequals(name, "transfer-encoding")) {
      has_transfer_encoding = true;
    }
  }
  if (has_transfer_encoding)
    return {411, "Transfer-Encoding is not accepted; send Content-Length", 0};
  if (has_length) {
    result.content_length = std::stoull(std::string{length_text});
    if (result.content_length > limits.max_body)
      return {413, "the announced body exceeds MAX_BODY_BYTES",
              result.content_length};
  }
  return result;
}

void install_guarded_parser(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                            size_t max_request_size,
                            const guard_limits& limits) {
  peer->putData(Http::Handler::ParserData, std::make_shared<guarded_parser>(
                                             max_request_size, peer, limits));
}

bool refused(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  if (!peer)
    return false;
  auto data = peer->tryGetData(Http::Handler::ParserData);
  return data && std::static_pointer_cast<guarded_parser>(data)->refused();
}

namespace {

guard_state* state_of(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  if (!peer)
    return nullptr;
  auto data = peer->tryGetData(Http::Handler::ParserData);
  return data ? &std::static_pointer_cast<guarded_parser>(data)->state()
              : nullptr;
}

} // namespace

void mark_gone(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  if (auto* st = state_of(peer)) {
    end_reading(*st);
    std::lock_guard<std::mutex> guard{st->gone_mtx};
    st->gone = true;
  }
}

bool take_request(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  auto* st = state_of(peer);
  if (st == nullptr)
    return false;
  bool before_drain = st->reading && st->before_drain;
  end_reading(*st);
  return before_drain;
}

bool send_if_connected(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                       const std::function<void()>& send) {
  auto* st = state_of(peer);
  if (st == nullptr)
    return false;
  std::lock_guard<std::mutex> guard{st->gone_mtx};
  if (st->gone)
    return false;
  send();
  return true;
}

bool still_connected(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  auto* st = state_of(peer);
  if (st == nullptr)
    return false;
  std::lock_guard<std::mutex> guard{st->gone_mtx};
  return !st->gone;
}

} // namespace miyabi::http
