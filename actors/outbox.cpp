#include "actors/outbox.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/db.hpp"
#include "actors/issue_flow.hpp"
#include "actors/outbound.hpp"
#include "actors/supervision.hpp"
#include "base/backoff.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "base/utf8.hpp"
#include "metrics/metrics.hpp"
#include "storage/github.hpp"
#include "storage/telegram.hpp"

namespace miyabi::actors {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto tick_period = milliseconds{500};
constexpr auto chat_spacing = milliseconds{1000};
constexpr auto gauge_period = seconds{5};
constexpr auto token_warning_period = seconds{60};
constexpr int64_t lease_seconds = 60;
constexpr int64_t batch = 20;
constexpr int64_t max_attempts = 8;
/// Bounds of a wait Telegram asks for after 429, in seconds, and the wait
/// when it names none.
constexpr int64_t min_retry_after = 1;
constexpr int64_t max_retry_after = 3600;
constexpr int64_t default_retry_after = 5;
/// Longest Telegram error description kept as last_error, in bytes.
constexpr size_t max_description = 500;

struct outbox_state {
  static inline const char* name = "outbox";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::unordered_map<int64_t, clock::time_point> next_allowed;
  size_t in_flight = 0;
  bool leasing = false;
  clock::time_point next_gauges;
  clock::time_point next_token_warning;
};

using outbox_actor = outbox_handle::stateful_pointer<outbox_state>;

request_meta internal_meta(const char* what, milliseconds budget) {
  request_meta meta;
  meta.request_id = what;
  meta.deadline = clock::now() + budget;
  meta.background = true;
  return meta;
}

void drain(outbox_actor self);

/// Runs one bookkeeping statement for a row; failures leave the row leased
/// (it comes back when the lease ends), which is logged.
template <class Work>
void update_row(outbox_actor self, const char* label, Work work) {
  query(
    self, internal_meta(label, seconds{5}), label, storage::access::write,
    std::move(work), [](bool) {},
    [label](caf::error&) {
      log::warning("outbox bookkeeping failed; the row retries after its "
                   "lease",
                   {{"step", label}});
    });
}

/// After a failed send: another attempt after the backoff (1 s doubling
/// to 5 min), or failed for good after the last attempt.
void retry_later_or_fail(outbox_actor self, int64_t id, int64_t attempts,
                         std::string why) {
  if (attempts >= max_attempts) {
    update_row(self, "outbox_failed", [id, why](pqxx::transaction_base& tx) {
      return storage::mark_failed(tx, id, why);
    });
    return;
  }
  auto delay = backoff_delay(static_cast<uint32_t>(attempts),
                             milliseconds{1000}, milliseconds{300000});
  update_row(self, "outbox_reschedule",
             [id, delay = delay.count(), why](pqxx::transaction_base& tx) {
               return storage::reschedule(tx, id, delay, why);
             });
}

void finished(outbox_actor self) {
  if (--self->state.in_flight == 0)
    self->send(self, kick_atom::value);
}

/// The sendMessage body of a message row: its text and, when it has one,
/// its inline keyboard.
std::string message_json(int64_t chat_id, const std::string& payload) {
  rapidjson::Document doc;
  bool usable = !parse_json(payload, doc) && doc.IsObject();
  std::string text = usable && doc.HasMember("text") && doc["text"].IsString()
                       ? doc["text"].GetString()
                       : "";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("chat_id");
  w.Int64(chat_id);
  w.Key("text");
  w.String(text.c_str(), static_cast<rapidjson::SizeType>(text.size()));
  if (usable && doc.HasMember("reply_markup") &&
      doc["reply_markup"].IsObject()) {
    w.Key("reply_markup");
    doc["reply_markup"].Accept(w);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

/// Seconds of a JSON number, clamped to the allowed wait (no overflow for
/// huge integers, floats, or numbers beyond int64); nothing for other types.
std::optional<int64_t> clamped_seconds(const rapidjson::Value& v) {
  if (v.IsInt64())
    return std::clamp(v.GetInt64(), min_retry_after, max_retry_after);
  if (v.IsUint64())
    return max_retry_after; // only values above int64's maximum land here
  if (!v.IsNumber())
    return std::nullopt;
  auto d = v.GetDouble();
  if (std::isnan(d))
    return std::nullopt;
  if (d >= static_cast<double>(max_retry_after))
    return max_retry_after;
  if (d <= static_cast<double>(min_retry_after))
    return min_retry_after;
  return static_cast<int64_t>(std::ceil(d));
}

/// A Retry-After header in delta-seconds, clamped; nothing for an HTTP
/// date or anything else. Any number of digits: the value saturates.
std::optional<int64_t> header_seconds(std::string_view text) {
  text = trim(text);
  if (text.empty())
    return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    if (value <= max_retry_after)
      value = value * 10 + (c - '0');
  }
  return std::clamp(value, min_retry_after, max_retry_after);
}

} // namespace

int64_t retry_after_seconds(std::string_view body, std::string_view header) {
  rapidjson::Document doc;
  if (!parse_json(body, doc) && doc.IsObject() && doc.HasMember("parameters") &&
      doc["parameters"].IsObject() &&
      doc["parameters"].HasMember("retry_after")) {
    if (auto wait = clamped_seconds(doc["parameters"]["retry_after"]))
      return *wait;
  }
  if (auto wait = header_seconds(header))
    return *wait;
  return default_retry_after;
}

namespace {

void send_message(outbox_actor self, storage::outbox_message row) {
  auto& st = self->state;
  const auto& cfg = *st.cfg;
  auto call =
    telegram_call(cfg, "sendMessage", message_json(row.chat_id, row.payload));
  ++st.in_flight;
  auto id = row.id;
  auto chat = row.chat_id;
  auto attempts = row.attempts;
  auto meta = internal_meta("telegram", cfg.outbound_timeout + seconds{1});
  call.deadline = meta.deadline;
  ask(
    self, lookup(self, names::outbound), meta,
    [self, id, chat, attempts](http_outcome& out) {
      auto& s = self->state;
      s.metrics->telegram_send[std::to_string(out.status)].Increment();
      if (out.status == 200) {
        update_row(self, "outbox_sent", [id](pqxx::transaction_base& tx) {
          return storage::mark_sent(tx, id);
        });
      } else if (out.status == 429) {
        auto wait = retry_after_seconds(out.body, out.retry_after);
        s.next_allowed[chat] = clock::now() + seconds{wait};
        update_row(self, "outbox_reschedule",
                   [id, wait](pqxx::transaction_base& tx) {
                     return storage::reschedule(tx, id, wait * 1000,
                                                "429 Too Many Requests");
                   });
      } else if (out.status == 400 || out.status == 403) {
        // The chat blocked the bot or the message is invalid: retrying
        // cannot help.
        auto why = telegram_description(out, max_description);
        log::warning(
          "Telegram refused a message",
          {{"status", static_cast<int64_t>(out.status)}, {"reason", why}});
        update_row(self, "outbox_failed",
                   [id, why](pqxx::transaction_base& tx) {
                     return storage::mark_failed(tx, id, why);
                   });
      } else {
        retry_later_or_fail(self, id, attempts,
                            telegram_description(out, max_description));
      }
      finished(self);
    },
    [self, id, attempts](caf::error&) {
      self->state.metrics->telegram_send["0"].Increment();
      retry_later_or_fail(self, id, attempts, "no answer from Telegram");
      finished(self);
    },
    std::move(call));
}

/// After the issue flow: the execution of the issue's agent for the linked
/// user who asked (when that user registered the repository), and the
/// message that says what happened, in one transaction.
caf::expected<int64_t> issue_result(pqxx::transaction_base& tx,
                                    const domain::issue_request& req,
                                    const issue_outcome& outcome,
                                    const std::string& owner,
                                    const std::string& repo) {
  if (outcome.number <= 0)
    return storage::enqueue_message(tx, req.chat_id, outcome.failure);
  std::optional<bool> registered;
  std::string execution_id;
  if (!req.user_id.empty()) {
    auto has = storage::has_repository(tx, req.user_id, owner, repo);
    if (!has)
      return std::move(has.error());
    registered = *has;
    if (*has) {
      auto queued = storage::queue_issue_executions(
        tx, owner, repo, outcome.number, outcome.agent, req.user_id);
      if (!queued)
        return std::move(queued.error());
      if (!queued->empty())
        execution_id = queued->front().id;
    }
  }
  return storage::enqueue_message(
    tx, req.chat_id,
    domain::issue_done_text(req.japanese, outcome.number, outcome.url,
                            outcome.agent, execution_id, registered,
                            owner + "/" + repo));
}

void run_task(outbox_actor self, storage::outbox_message row) {
  auto& st = self->state;
  auto task = decode_task(row.payload, row.chat_id);
  auto id = row.id;
  if (!task) {
    update_row(self, "outbox_failed", [id](pqxx::transaction_base& tx) {
      return storage::mark_failed(tx, id, "malformed task");
    });
    return;
  }
  ++st.in_flight;
  // Taken before it runs: an issue is created at most once, even if this
  // instance dies half way.
  update_row(self, "outbox_sent", [id](pqxx::transaction_base& tx) {
    return storage::mark_sent(tx, id);
  });
  auto budget = st.cfg->llm_timeout + st.cfg->outbound_timeout + seconds{2};
  create_issue(
    outbound_of(self), *st.cfg, *task, clock::now() + budget,
    [self, req = *task](issue_outcome outcome) {
      query(
        self, internal_meta("issue_result", seconds{5}), "issue_result",
        storage::access::write_once,
        [req, outcome, owner = self->state.cfg->github_owner,
         repo = self->state.cfg->github_repo](pqxx::transaction_base& tx) {
          return issue_result(tx, req, outcome, owner, repo);
        },
        [self](int64_t) { self->send(self, kick_atom::value); },
        [](caf::error&) {
          log::error("could not queue the result of an issue task");
        });
      finished(self);
    });
}

void refresh_gauges(outbox_actor self) {
  auto& st = self->state;
  if (clock::now() < st.next_gauges)
    return;
  st.next_gauges = clock::now() + gauge_period;
  query(
    self, internal_meta("outbox_gauges", seconds{2}), "count_outbox",
    storage::access::read,
    [](pqxx::transaction_base& tx) { return storage::count_outbox(tx); },
    [self](storage::outbox_counts& n) {
      auto& gauges = self->state.metrics->telegram_outbox;
      gauges["pending"].Set(static_cast<double>(n.pending));
      gauges["sent"].Set(static_cast<double>(n.sent));
      gauges["failed"].Set(static_cast<double>(n.failed));
      self->state.metrics->telegram_outbox_oldest_pending.Set(
        n.oldest_pending_seconds);
      if (n.pending > 0 && self->state.cfg->telegram_bot_token.empty() &&
          clock::now() >= self->state.next_token_warning) {
        self->state.next_token_warning = clock::now() + token_warning_period;
        log::warning("TELEGRAM_BOT_TOKEN is not set: outbox messages stay "
                     "pending until it is",
                     {{"pending", n.pending}});
      }
    },
    [](caf::error&) {});
}

void dispatch(outbox_actor self, std::vector<storage::outbox_message>& rows) {
  auto& st = self->state;
  auto now = clock::now();
  for (auto& row : rows) {
    auto id = row.id;
    if (row.kind == "create_issue") {
      run_task(self, std::move(row));
      continue;
    }
    auto& allowed = st.next_allowed[row.chat_id];
    if (now < allowed) {
      // About a second between messages to one chat: come back then.
      auto wait = std::chrono::duration_cast<milliseconds>(allowed - now);
      update_row(self, "outbox_release",
                 [id, wait](pqxx::transaction_base& tx) {
                   return storage::release(tx, id, wait.count());
                 });
      continue;
    }
    allowed = now + chat_spacing;
    send_message(self, std::move(row));
  }
}

void drain(outbox_actor self) {
  auto& st = self->state;
  refresh_gauges(self);
  if (st.in_flight > 0 || st.leasing)
    return;
  st.leasing = true;
  query(
    self, internal_meta("outbox_lease", seconds{5}), "lease_outbox",
    storage::access::write_once,
    [have_token =
       !st.cfg->telegram_bot_token.empty()](pqxx::transaction_base& tx) {
      return storage::lease_outbox(tx, batch, lease_seconds, have_token);
    },
    [self](std::vector<storage::outbox_message>& rows) {
      self->state.leasing = false;
      dispatch(self, rows);
    },
    [self](caf::error&) { self->state.leasing = false; });
}

outbox_handle::behavior_type
outbox(outbox_actor self, std::shared_ptr<const config::settings> cfg,
       std::shared_ptr<metrics::service_metrics> metrics) {
  self->state.cfg = std::move(cfg);
  self->state.metrics = std::move(metrics);
  log_exceptions(self, "outbox");
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      drain(self);
      self->delayed_send(self, tick_period, tick_atom::value);
    },
    [self](kick_atom) { drain(self); },
    [self](const storage::execution_change&) { drain(self); },
  };
}

} // namespace

outbox_handle spawn_outbox(caf::local_actor* parent,
                           std::shared_ptr<const config::settings> cfg,
                           std::shared_ptr<metrics::service_metrics> metrics) {
  return parent->spawn(outbox, std::move(cfg), std::move(metrics));
}

} // namespace miyabi::actors
