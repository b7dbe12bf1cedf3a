#include "http/event_hub.hpp"

#include <algorithm>
#include <any>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <malloc.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "base/backoff.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "http/exchange.hpp"
#include "http/request_guard.hpp"
#include "metrics/metrics.hpp"
#include "storage/events.hpp"
#include "storage/session.hpp"

namespace miyabi::http {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Numbering and catching up happen at least this often.
constexpr auto tick = 100ms;
constexpr auto ping_interval = 15s;
constexpr auto purge_interval = 60s;
/// Unsent bytes a stream may hold before it is dropped as too slow.
constexpr size_t backlog_limit = 256 * 1024;
/// A replaying stream reads the next page only below this backlog.
constexpr size_t replay_pause = 64 * 1024;
constexpr int fetch_batch = 1000;
constexpr int replay_batch = 500;

const std::string retry_frame = "retry: 1000\n\n";
const std::string ping_frame = ": ping\n\n";
const std::string last_chunk = "0\r\n\r\n";

std::string chunk_of(const std::string& payload) {
  char size[20];
  auto n = std::snprintf(size, sizeof(size), "%zx\r\n", payload.size());
  std::string out;
  out.reserve(payload.size() + static_cast<size_t>(n) + 2);
  out.append(size, static_cast<size_t>(n));
  out += payload;
  out += "\r\n";
  return out;
}

std::string frame_of(const storage::event_record& e) {
  std::string out;
  out.reserve(e.data.size() + e.kind.size() + 40);
  out += "id: ";
  out += std::to_string(e.id);
  out += "\nevent: ";
  out += e.kind;
  out += "\ndata: ";
  out += e.data; // jsonb text: one line
  out += "\n\n";
  return out;
}

std::string reset_frame(int64_t id) {
  auto n = std::to_string(id);
  return "id: " + n +
         "\nevent: reset\ndata: {\"reason\":\"the resume point is "
         "older than the event retention or unknown; reload, "
         "then follow from here\",\"last_event_id\":" +
         n + "}\n\n";
}

bool matches(const std::optional<std::string>& wanted,
             const std::optional<std::string>& value) {
  return !wanted || wanted == value;
}

/// How a stream fared when the hub tried to write to it.
enum class outcome { written, waiting, gone };

/// Writes as much of `out` as the socket takes now and erases that part.
/// The hub writes streams itself, never through Pistache's write queue:
/// Pistache 0.0.5 retries a write that met a full socket in a loop on the
/// reactor thread, so one reader that stops reading would stall every
/// connection of that reactor. Written under the connection's lock, so
/// the descriptor is still this client's.
outcome write_some(server_context& ctx,
                   const std::shared_ptr<Pistache::Tcp::Peer>& peer,
                   std::string& out) {
  auto result = outcome::gone;
  ctx.while_open([&] {
    return send_if_connected(peer, [&] {
      result = outcome::written;
      while (!out.empty()) {
        auto n = ::send(peer->fd(), out.data(), out.size(),
                        MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
          out.erase(0, static_cast<size_t>(n));
          continue;
        }
        if (n < 0 && errno == EINTR)
          continue;
        result = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                   ? outcome::waiting
                   : outcome::gone;
        return;
      }
    });
  });
  return result;
}

/// Closes the connection of a dropped stream: the reactor sees the end of
/// input, closes the descriptor and frees what Pistache still queues.
void cut(const std::shared_ptr<Pistache::Tcp::Peer>& peer) {
  send_if_connected(peer, [&] { ::shutdown(peer->fd(), SHUT_RDWR); });
}

double epoch_now() {
  return std::chrono::duration<double>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

struct event_hub::stream {
  std::shared_ptr<Pistache::Tcp::Peer> peer;
  actors::stream_request sub;
  /// Events up to this id were handled (written or not visible).
  int64_t position = 0;
  /// The hub's published position when the stream was adopted (-1:
  /// unknown); a stream without a resume point starts after it.
  int64_t start = -1;
  bool positioned = false;
  bool replaying = false;
  std::string backlog; ///< event frames not yet in `out`
  std::string out;     ///< chunked bytes being written (first: the head)
  clock::time_point opened = clock::now();
  clock::time_point last_write = clock::now();

  bool sees(const storage::event_record& e) const {
    if (e.user_id != sub.user_id)
      return false;
    if (sub.repositories &&
        (!e.repository_id ||
         std::find(sub.repositories->begin(), sub.repositories->end(),
                   *e.repository_id) == sub.repositories->end()))
      return false;
    const auto& f = sub.filter;
    return matches(f.execution_id, e.execution_id) &&
           matches(f.repository_id, e.repository_id) &&
           matches(f.workflow_run_id, e.workflow_run_id);
  }
};

/// The hub's thread: everything here is touched by it alone.
class event_hub::loop {
 public:
  loop(event_hub& hub, storage::session_config cfg)
      : hub_(hub), db_(std::move(cfg)) {}

  /// Until the streams are ended: take in new streams, follow the log,
  /// serve the streams, sleep.
  void run();

 private:
  void finish(stream& s, bool dropped);
  void lost(const std::string& why);
  template <class Work>
  bool with_db(Work&& work, storage::access mode);
  bool connected();
  void position(stream& s);
  void replay(stream& s);
  void fan_out(const std::vector<storage::event_record>& events);
  void follow();
  bool serve(stream& s, clock::time_point now);
  void take_new_streams();
  void sleep();

  event_hub& hub_;
  storage::session db_;
  bool listening_ = false;
  uint32_t failures_ = 0;
  clock::time_point next_connect_ = clock::now();
  clock::time_point next_sequence_ = clock::now();
  clock::time_point next_purge_ = clock::now();
  std::optional<int64_t> hub_last_; ///< last id read from the log
  bool notified_ = false;
  std::vector<std::unique_ptr<stream>> streams_;
};

event_hub::event_hub(std::shared_ptr<const config::settings> cfg,
                     std::shared_ptr<metrics::service_metrics> metrics,
                     server_context& ctx)
    : cfg_(std::move(cfg)), metrics_(std::move(metrics)), ctx_(ctx) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

event_hub::~event_hub() {
  stop();
  if (wake_fd_ >= 0)
    ::close(wake_fd_);
}

void event_hub::start() {
  if (!thread_.joinable())
    thread_ = std::thread{[this] {
      run();
    }};
}

bool event_hub::admit(const std::string& user_id) {
  std::lock_guard<std::mutex> guard{slots_mtx_};
  auto& n = slots_[user_id];
  if (closed_ || n >= cfg_->event_streams_per_user) {
    if (n == 0)
      slots_.erase(user_id);
    return false;
  }
  ++n;
  return true;
}

void event_hub::release(const std::string& user_id) {
  std::lock_guard<std::mutex> guard{slots_mtx_};
  auto i = slots_.find(user_id);
  if (i != slots_.end() && --i->second == 0)
    slots_.erase(i);
}

void event_hub::adopt(std::shared_ptr<Pistache::Tcp::Peer> peer,
                      std::string head, actors::stream_request subscription) {
  auto s = std::make_unique<stream>();
  s->peer = std::move(peer);
  s->out = std::move(head);
  s->sub = std::move(subscription);
  // Every event numbered after this was not yet fanned out when the
  // client saw the response head, so the stream replays from here.
  s->start = published_.load();
  metrics_->event_streams_open.Increment();
  {
    std::lock_guard<std::mutex> guard{inbox_mtx_};
    if (ending_) {
      // The hub's thread is done; end this one here.
      s->out += chunk_of(retry_frame) + last_chunk;
      write_some(ctx_, s->peer, s->out);
      release(s->sub.user_id);
      metrics_->event_streams_open.Decrement();
      return;
    }
    inbox_.push_back(std::move(s));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void event_hub::end_streams() {
  {
    std::lock_guard<std::mutex> guard{slots_mtx_};
    closed_ = true;
  }
  ending_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof(one));
}

void event_hub::stop() {
  end_streams();
  if (thread_.joinable())
    thread_.join();
}

void event_hub::run() {
  storage::session_config db_cfg;
  db_cfg.url = cfg_->database_url;
  db_cfg.application_name = "miyabi-api-events";
  db_cfg.connect_timeout = cfg_->db_connect_timeout;
  loop{*this, std::move(db_cfg)}.run();
}

void event_hub::loop::finish(stream& s, bool dropped) {
  if (dropped) {
    s.out += chunk_of(retry_frame);
    write_some(hub_.ctx_, s.peer, s.out);
    cut(s.peer);
    hub_.metrics_->event_streams_dropped.Increment();
    // The backlog just freed was hundreds of KiB, in whichever arena
    // the hub's thread uses: hand it back to the system.
    s.backlog = std::string{};
    s.out = std::string{};
    ::malloc_trim(0);
  } else {
    s.out += chunk_of(s.backlog + retry_frame) + last_chunk;
    // A reader too slow to take the end would wait on a cut-off chunk
    // until the keep-alive limit; closing makes it reconnect now.
    if (write_some(hub_.ctx_, s.peer, s.out) == outcome::waiting)
      cut(s.peer);
  }
  hub_.release(s.sub.user_id);
  hub_.metrics_->event_streams_open.Decrement();
}

// Drops the connection and schedules a reconnect with backoff; one
// warning per outage, however many attempts it takes.
void event_hub::loop::lost(const std::string& why) {
  db_.disconnect();
  listening_ = false;
  ++failures_;
  next_connect_ = clock::now() + backoff_delay(failures_, 200ms, 5000ms);
  if (failures_ == 1)
    log::warning("event hub lost the database; retrying", {{"error", why}});
}

// Runs one unit of work on the hub's connection; a failure drops the
// connection and schedules a reconnect, and the caller skips the step.
template <class Work>
bool event_hub::loop::with_db(Work&& work, storage::access mode) {
  auto result = db_.run(
    [&](pqxx::transaction_base& tx) -> caf::expected<std::any> {
      work(tx);
      return std::any{};
    },
    mode);
  if (result)
    return true;
  lost(describe(result.error()).message);
  return false;
}

bool event_hub::loop::connected() {
  if (listening_)
    return true;
  // During an outage the database monitor says when the server is back;
  // trying on our own would only add a warning per attempt.
  if (clock::now() < next_connect_ ||
      hub_.ctx_.status->database.load() == domain::db_state::disconnected)
    return false;
  bool ok = with_db(
    [&](pqxx::transaction_base& tx) {
      tx.exec(std::string{"LISTEN "} + storage::event_channel);
      if (!hub_last_) {
        hub_last_ = storage::current_event_position(tx).last_id;
        hub_.published_ = *hub_last_;
      }
    },
    storage::access::read);
  if (ok) {
    listening_ = true;
    notified_ = true; // catch up with what happened while away
    if (failures_ > 0)
      log::info("event hub reconnected");
    failures_ = 0;
  }
  return ok;
}

// Where a new stream starts: live from here, a replay from its resume
// point, or a reset when that point is gone or unknown.
void event_hub::loop::position(stream& s) {
  int64_t now = *hub_last_;
  if (!s.sub.last_event_id) {
    s.position = s.start >= 0 ? std::min(s.start, now) : now;
    s.replaying = s.position < now;
    s.positioned = true;
    return;
  }
  int64_t resume = *s.sub.last_event_id;
  storage::event_position at;
  if (!with_db(
        [&](pqxx::transaction_base& tx) {
          at = storage::current_event_position(tx);
        },
        storage::access::read))
    return;
  s.positioned = true;
  if (resume < at.purged_through || resume > at.last_id) {
    s.backlog += reset_frame(now);
    s.position = now;
    return;
  }
  s.position = resume;
  s.replaying = resume < now;
}

// The next page of a replay; live once it reached the hub's position.
void event_hub::loop::replay(stream& s) {
  std::vector<storage::event_record> page;
  if (!with_db(
        [&](pqxx::transaction_base& tx) {
          page =
            storage::user_events_between(tx, s.sub.user_id, s.sub.filter,
                                         s.position, *hub_last_, replay_batch);
        },
        storage::access::read))
    return;
  for (const auto& e : page) {
    if (s.sees(e)) {
      s.backlog += frame_of(e);
      hub_.metrics_->events_delivered.Increment();
    }
    s.position = e.id;
  }
  if (page.size() < static_cast<size_t>(replay_batch)) {
    s.position = *hub_last_;
    s.replaying = false;
  }
}

void event_hub::loop::fan_out(
  const std::vector<storage::event_record>& events) {
  double now = epoch_now();
  for (const auto& e : events) {
    hub_.metrics_->event_fanout_lag.Observe(std::max(0.0, now - e.written_at));
    std::string text;
    for (auto& s : streams_) {
      if (!s->positioned || s->replaying || e.id <= s->position)
        continue;
      s->position = e.id;
      if (!s->sees(e))
        continue;
      if (text.empty())
        text = frame_of(e);
      s->backlog += text;
      hub_.metrics_->events_delivered.Increment();
    }
    hub_last_ = e.id;
  }
  if (hub_last_)
    hub_.published_ = *hub_last_;
}

// Numbers finished events, then reads what is new since the hub's
// position when the numbering or a NOTIFY says there is something.
void event_hub::loop::follow() {
  auto now = clock::now();
  if (now >= next_sequence_) {
    next_sequence_ = now + tick;
    std::optional<int64_t> last;
    if (!with_db(
          [&](pqxx::transaction_base& tx) {
            last = storage::sequence_events(tx, fetch_batch);
          },
          storage::access::write))
      return;
    if (last && *last > *hub_last_)
      notified_ = true;
  }
  while (notified_) {
    std::vector<storage::event_record> events;
    if (!with_db(
          [&](pqxx::transaction_base& tx) {
            events = storage::events_after(tx, *hub_last_, fetch_batch);
          },
          storage::access::read))
      return;
    fan_out(events);
    notified_ = events.size() == static_cast<size_t>(fetch_batch);
  }
  if (now >= next_purge_) {
    next_purge_ = now + purge_interval;
    int64_t purged = 0;
    if (with_db(
          [&](pqxx::transaction_base& tx) {
            purged = storage::purge_events(
              tx, std::chrono::hours{hub_.cfg_->event_retention_hours});
          },
          storage::access::write) &&
        purged > 0)
      log::info("event log purged", {{"rows", purged}});
  }
}

// Writes, pings, ends and drops; false when the stream is over.
bool event_hub::loop::serve(stream& s, clock::time_point now) {
  if (now - s.opened >= hub_.cfg_->event_stream_max) {
    finish(s, false);
    return false;
  }
  if (s.backlog.empty() && s.out.empty() && now - s.last_write >= ping_interval)
    s.backlog = ping_frame;
  if (s.out.empty() && !s.backlog.empty()) {
    s.out = chunk_of(s.backlog);
    s.backlog.clear();
  }
  if (s.out.empty()) {
    if (still_connected(s.peer))
      return true;
    hub_.release(s.sub.user_id);
    hub_.metrics_->event_streams_open.Decrement();
    return false;
  }
  switch (write_some(hub_.ctx_, s.peer, s.out)) {
    case outcome::written: s.last_write = now; break;
    case outcome::waiting:
      if (s.out.size() + s.backlog.size() > backlog_limit) {
        log::info("event stream dropped: the reader fell behind",
                  {{"unsent_bytes",
                    static_cast<int64_t>(s.out.size() + s.backlog.size())}});
        finish(s, true);
        return false;
      }
      break;
    case outcome::gone:
      hub_.release(s.sub.user_id);
      hub_.metrics_->event_streams_open.Decrement();
      return false;
  }
  return true;
}

void event_hub::loop::take_new_streams() {
  std::lock_guard<std::mutex> guard{hub_.inbox_mtx_};
  for (auto& s : hub_.inbox_)
    streams_.push_back(std::move(s));
  hub_.inbox_.clear();
}

// Until the next numbering tick, a NOTIFY, a new stream or the end.
void event_hub::loop::sleep() {
  pollfd fds[2] = {{hub_.wake_fd_, POLLIN, 0}, {-1, POLLIN, 0}};
  if (listening_)
    fds[1].fd = db_.connection().sock();
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::max(clock::duration::zero(), next_sequence_ - clock::now()));
  if (::poll(fds, 2, static_cast<int>(std::max<int64_t>(1, wait.count()))) <= 0)
    return;
  if (fds[0].revents & POLLIN) {
    uint64_t count = 0;
    [[maybe_unused]] auto n = ::read(hub_.wake_fd_, &count, sizeof(count));
  }
  if (listening_ && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
    try {
      if (db_.connection().get_notifs() > 0)
        notified_ = true;
    } catch (const std::exception& e) {
      lost(e.what());
    }
  }
}

void event_hub::loop::run() {
  while (!hub_.ending_) {
    take_new_streams();
    if (connected()) {
      for (auto& s : streams_)
        if (!s->positioned && listening_)
          position(*s);
      if (listening_)
        follow();
      for (auto& s : streams_)
        if (s->replaying && listening_ &&
            s->backlog.size() + s->out.size() < replay_pause)
          replay(*s);
    }
    auto now = clock::now();
    streams_.erase(std::remove_if(streams_.begin(), streams_.end(),
                                  [&](const std::unique_ptr<stream>& s) {
                                    return !serve(*s, now);
                                  }),
                   streams_.end());
    sleep();
  }
  // SIGTERM: every stream ends now; the clients resume elsewhere. Streams
  // adopted from now on are ended by `adopt` itself.
  take_new_streams();
  for (auto& s : streams_)
    finish(*s, false);
  streams_.clear();
}

} // namespace miyabi::http
