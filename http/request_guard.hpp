// Guards around Pistache 0.0.5's request parser (architecture.md, "Known
// defects"): it `reserve()`s an announced Content-Length (and chunk sizes)
// before any byte arrives, answers its own parse errors in plain text (a
// 500 carrying `e.what()` for some), and takes duplicate or signed lengths.
//
// The guarded parser keeps Pistache's steps but wraps each one:
// - the request line must end within 8 KiB (414) and the header block
//   within 32 KiB (431);
// - the header block is checked before Pistache parses it: no obsolete line
//   folding, no NUL bytes, well-formed names, Content-Length only as digits
//   and never conflicting (400), no Transfer-Encoding (411: bodies need a
//   length), and an announced length over the body limit is refused (413)
//   before anything is allocated for it;
// - a read that holds more than one request (pipelining) is refused with
//   400: Pistache would serve the first and silently drop the rest;
// - any exception from Pistache's steps becomes a JSON 400.
// A refused request is answered with a JSON envelope and `Connection: close`,
// the write side is shut, and the rest of the connection's input is dropped.
//
// Threads: everything here runs on the reactor thread that owns the peer.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include <pistache/peer.h>

namespace miyabi::http {

/// What the server's connections share about requests being received: a
/// request is in flight from its first byte (api.md, graceful shutdown),
/// long before Pistache hands it to the handler. Any thread.
struct request_intake {
  /// Requests whose first byte arrived and that were not handed to the
  /// handler yet (nor refused, nor abandoned by their client).
  std::atomic<size_t> reading{0};
  /// Set at SIGTERM: requests that begin afterwards are not waited for.
  std::atomic<bool> draining{false};
};

struct guard_limits {
  size_t max_body = 1 << 20;
  size_t max_request_line = 8 * 1024;
  size_t max_header_block = 32 * 1024;
  bool production = false;
  std::shared_ptr<request_intake> intake; ///< required
};

/// Installs the guarded parser on a new connection (replaces
/// Http::Handler::onConnection).
void install_guarded_parser(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                            size_t max_request_size,
                            const guard_limits& limits);

/// True when the guard refused a request on this connection: it was
/// answered already and must not be answered again.
bool refused(const std::shared_ptr<Pistache::Tcp::Peer>& peer);

/// Records that the client of `peer` disconnected (from the reactor thread,
/// in Handler::onDisconnection, before Pistache closes the descriptor).
/// After it returns, no answer for this connection enters Pistache's write
/// queue (see send_if_connected).
void mark_gone(const std::shared_ptr<Pistache::Tcp::Peer>& peer);

/// Called by the handler when it takes over the request of `peer` (reactor
/// thread): the request stops counting in `request_intake::reading`. True
/// when its first byte arrived before the drain began, so it must be
/// served rather than refused with 503.
bool take_request(const std::shared_ptr<Pistache::Tcp::Peer>& peer);

/// Runs `send` unless the client disconnected, holding the connection's
/// lock so a disconnect cannot slip in between the check and the send.
/// Pistache 0.0.5 queues writes by descriptor number and closes the
/// descriptor on disconnect, so an answer sent after the client left could
/// reach the next connection that gets the same number. False when dropped.
bool send_if_connected(const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                       const std::function<void()>& send);

/// False once the client of `peer` disconnected (any thread).
bool still_connected(const std::shared_ptr<Pistache::Tcp::Peer>& peer);

/// Result of checking a complete header block (exposed for tests).
struct head_check {
  int status = 0;               ///< 0: acceptable; else the status to answer
  const char* reason = nullptr; ///< details for the envelope
  size_t content_length = 0;
};

/// Checks the header lines of one request; `block` ends before the blank
/// line that closes it.
head_check check_header_block(const char* block, size_t size,
                              const guard_limits& limits);

} // namespace miyabi::http
