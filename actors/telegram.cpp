#include "actors/telegram.hpp"

#include <deque>
#include <stdexcept>
#include <unordered_set>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/ask.hpp"
#include "actors/db.hpp"
#include "actors/front.hpp"
#include "actors/handlers.hpp"
#include "actors/issue_flow.hpp"
#include "actors/outbound.hpp"
#include "actors/resources.hpp"
#include "actors/supervision.hpp"
#include "base/backoff.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "base/utf8.hpp"
#include "base/version.hpp"
#include "domain/bot.hpp"
#include "domain/rules.hpp"
#include "metrics/metrics.hpp"
#include "storage/dashboard.hpp"
#include "storage/executions.hpp"
#include "storage/telegram.hpp"

namespace miyabi::actors {

/// The Telegram actor's state; its operations (telegram_ops) receive it.
struct telegram_state {
  static inline const char* name = "telegram";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<domain::service_status> status;
  std::unordered_set<int64_t> seen;
  std::deque<int64_t> seen_order;
  /// TELEGRAM_ISSUES_PER_HOUR in telegram-only mode (per instance).
  std::unique_ptr<domain::rate_limiter> issue_limits;
  /// setWebhook attempts so far (TELEGRAM_WEBHOOK_URL).
  uint32_t webhook_attempts = 0;
};

namespace {

/// Storage behind the bot's decisions, inside the update's transaction. It
/// keeps the status changes it made, to be announced after the commit, and
/// whether it queued outbox rows.
class transaction_backend final : public domain::bot_backend {
 public:
  transaction_backend(pqxx::transaction_base& tx,
                      const storage::lease_policy& lease)
      : tx_(tx), lease_(lease) {}

  std::optional<storage::user> linked_user(int64_t chat_id) override {
    return value_or_throw(storage::linked_user(tx_, chat_id));
  }

  std::optional<storage::user> consume_link(const std::string& code,
                                            int64_t chat_id) override {
    return value_or_throw(
      storage::consume_link_code(tx_, crypto::sha256_hex(code), chat_id));
  }

  std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string& user_id) override {
    auto n = value_or_throw(storage::count_active_executions(tx_, user_id));
    return std::pair<int64_t, int64_t>{n.pending, n.running};
  }

  std::optional<int64_t> take_issue_quota(int64_t chat_id,
                                          uint32_t per_hour) override {
    auto wait =
      value_or_throw(storage::take_issue_quota(tx_, chat_id, per_hour));
    if (wait)
      ++refusals_; // counted after the commit: the work may run twice
    return wait;
  }

  std::vector<storage::recent_execution>
  recent_executions(const std::string& user_id, int64_t limit) override {
    return value_or_throw(storage::recent_executions(tx_, user_id, limit));
  }

  domain::execution_lookup find_execution(const std::string& user_id,
                                          const std::string& prefix) override {
    auto found =
      value_or_throw(storage::executions_by_prefix(tx_, user_id, prefix, 2));
    domain::execution_lookup lookup;
    if (found.size() == 1) {
      lookup.found = domain::execution_lookup::outcome::one;
      lookup.match = std::move(found.front());
    } else if (found.size() > 1) {
      lookup.found = domain::execution_lookup::outcome::many;
    }
    return lookup;
  }

  std::vector<storage::execution_log> last_logs(const std::string& user_id,
                                                const std::string& id,
                                                int64_t limit) override {
    return value_or_throw(storage::last_logs(tx_, user_id, id, limit));
  }

  domain::execution_action cancel_execution(const std::string& user_id,
                                            const std::string& id) override {
    storage::execution_update u;
    u.status = "cancelled";
    u.finishes = domain::finishing_status(u.status);
    auto changes = storage::update_execution(
      tx_, user_id, id, u, domain::transition_allowed, nullptr, lease_);
    if (!changes)
      return refused(changes.error(), user_id, id);
    if (auto err = notify(tx_, *changes))
      throw_error(err);
    for (auto& c : *changes)
      changes_.push_back(std::move(c));
    queued_ = true;
    return {domain::execution_action::outcome::done, "cancelled", {}};
  }

  domain::execution_action retry_execution(const std::string& user_id,
                                           const std::string& id) override {
    auto retried = storage::retry_execution(tx_, user_id, id);
    if (!retried)
      return refused(retried.error(), user_id, id);
    return {domain::execution_action::outcome::done, retried->status,
            retried->id};
  }

  void send_later(int64_t chat_id,
                  const domain::chat_message& message) override {
    value_or_throw(storage::enqueue_message(
      tx_, chat_id, message.text, domain::keyboard_json(message.keyboard)));
    queued_ = true;
  }

  bool has_database() const override { return true; }

  std::vector<storage::execution_change>& changes() { return changes_; }
  bool queued() const { return queued_; }
  /// Issue requests refused by the per-chat limit.
  int refusals() const { return refusals_; }

 private:
  /// A storage error that is not about this execution's state fails the
  /// update (its transaction rolls back, Telegram delivers it again).
  [[noreturn]] static void throw_error(const caf::error& err) {
    throw std::runtime_error(describe(err).message);
  }

  template <class T>
  static T value_or_throw(caf::expected<T> value) {
    if (!value)
      throw_error(value.error());
    return std::move(*value);
  }

  /// Why a cancel or retry did not happen: the execution's state
  /// (conflict) or its absence.
  domain::execution_action refused(const caf::error& err,
                                   const std::string& user_id,
                                   const std::string& id) {
    if (is(err, errc::not_found))
      return {domain::execution_action::outcome::not_found, {}, {}};
    if (!is(err, errc::conflict))
      throw_error(err);
    auto now = value_or_throw(storage::find_execution(tx_, user_id, id));
    return {domain::execution_action::outcome::conflict,
            now ? now->status : std::string{},
            {}};
  }

  pqxx::transaction_base& tx_;
  const storage::lease_policy& lease_;
  std::vector<storage::execution_change> changes_;
  bool queued_ = false;
  int refusals_ = 0;
};

struct webhook_outcome {
  bool duplicate = false;
  domain::bot_action action;
  bool queued = false; ///< outbox rows were added: wake the sender
  std::vector<storage::execution_change> changes;
  int issue_refusals = 0; ///< for miyabi_rate_limited_total, once committed
};

domain::bot_reply reply_of(const domain::bot_action& action) {
  domain::bot_reply reply;
  switch (action.what) {
    case domain::bot_action::kind::send_message:
      reply.method = "sendMessage";
      reply.chat_id = action.chat_id;
      reply.text = action.text;
      break;
    case domain::bot_action::kind::answer_callback:
      reply.method = "answerCallbackQuery";
      reply.callback_query_id = action.callback_id;
      reply.text = action.text;
      break;
    default: break;
  }
  return reply;
}

/// Eight characters from the CSPRNG; internal_error when it fails (never a
/// predictable code).
caf::expected<std::string> link_code() {
  // No 0/O or 1/I: the code is typed by hand into a chat.
  static constexpr char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  auto raw = crypto::random_bytes(8);
  if (!raw)
    return std::move(raw.error());
  std::string code;
  for (unsigned char b : *raw)
    code += alphabet[b % 32];
  return code;
}

using telegram_actor = telegram_handle::stateful_pointer<telegram_state>;

domain::bot_settings settings_of(const config::settings& cfg,
                                 const domain::service_status& status) {
  domain::bot_settings s;
  s.authorized_chat_ids = cfg.authorized_chat_ids;
  s.version = build_version();
  s.mode = cfg.database_enabled() ? "full" : "telegram-only";
  s.database = to_string(status.database.load());
  s.issues_enabled = !cfg.github_token.empty() && !cfg.github_owner.empty() &&
                     !cfg.github_repo.empty();
  s.llm_enabled = !cfg.openai_api_key.empty();
  s.repository = cfg.github_owner + "/" + cfg.github_repo;
  s.issues_per_hour = cfg.telegram_issues_per_hour;
  return s;
}

/// The language a message or button press names ("" when none).
std::string language_of(const domain::telegram_update& u) {
  if (u.message)
    return u.message->language_code;
  if (u.callback)
    return u.callback->language_code;
  return {};
}

int64_t chat_of(const domain::telegram_update& u) {
  if (u.message)
    return u.message->chat_id;
  return u.callback && u.callback->chat_id ? *u.callback->chat_id : 0;
}

void count(telegram_actor self, const char* result) {
  self->state.metrics->telegram_updates[result].Increment();
}

/// setWebhook's body: the URL, the secret Telegram echoes in
/// X-Telegram-Bot-Api-Secret-Token, and the update kinds the bot handles.
std::string set_webhook_json(const config::settings& cfg) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("url");
  w.String(cfg.telegram_webhook_url.c_str(),
           static_cast<rapidjson::SizeType>(cfg.telegram_webhook_url.size()));
  if (!cfg.telegram_webhook_secret.empty()) {
    w.Key("secret_token");
    w.String(
      cfg.telegram_webhook_secret.c_str(),
      static_cast<rapidjson::SizeType>(cfg.telegram_webhook_secret.size()));
  }
  w.Key("allowed_updates");
  w.StartArray();
  w.String("message");
  w.String("callback_query");
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void retry_webhook(telegram_actor self, const std::string& why) {
  auto& st = self->state;
  auto delay =
    backoff_delay(st.webhook_attempts, std::chrono::milliseconds{1000},
                  std::chrono::milliseconds{300000});
  log::warning("setWebhook failed; trying again",
               {{"reason", why},
                {"attempt", static_cast<int64_t>(st.webhook_attempts)},
                {"retry_in_ms", static_cast<int64_t>(delay.count())}});
  self->delayed_send(self, delay, tick_atom::value);
}

/// TELEGRAM_WEBHOOK_URL: registers it with Telegram, retried with backoff
/// until Telegram accepts; a failure is never fatal (an earlier
/// registration may still be in place).
void register_webhook(telegram_actor self) {
  auto& st = self->state;
  const auto& cfg = *st.cfg;
  ++st.webhook_attempts;
  auto call = telegram_call(cfg, "setWebhook", set_webhook_json(cfg));
  request_meta meta;
  meta.request_id = "set_webhook";
  meta.deadline = clock::now() + cfg.outbound_timeout + std::chrono::seconds{1};
  meta.background = true;
  call.deadline = meta.deadline;
  ask(
    self, lookup(self, names::outbound), meta,
    [self](http_outcome& out) {
      rapidjson::Document doc;
      bool accepted = out.status == 200 && !parse_json(out.body, doc) &&
                      doc.IsObject() && doc.HasMember("ok") &&
                      doc["ok"].IsBool() && doc["ok"].GetBool();
      if (!accepted) {
        retry_webhook(self, telegram_description(out, 200));
        return;
      }
      log::info(
        "Telegram webhook registered",
        {{"url", self->state.cfg->telegram_webhook_url},
         {"attempts", static_cast<int64_t>(self->state.webhook_attempts)}});
    },
    [self](caf::error&) { retry_webhook(self, "no answer from Telegram"); },
    std::move(call));
}

telegram_handle::behavior_type
telegram(telegram_actor self, std::shared_ptr<const config::settings> cfg,
         std::shared_ptr<metrics::service_metrics> metrics,
         std::shared_ptr<domain::service_status> status) {
  self->state.cfg = std::move(cfg);
  self->state.metrics = std::move(metrics);
  self->state.status = std::move(status);
  self->state.issue_limits = std::make_unique<domain::rate_limiter>(
    self->state.cfg->telegram_issues_per_hour, std::chrono::hours{1});
  log_exceptions(self, "telegram");
  const auto& settings = *self->state.cfg;
  if (!settings.telegram_webhook_url.empty()) {
    if (settings.telegram_bot_token.empty())
      log::warning("TELEGRAM_WEBHOOK_URL is set but TELEGRAM_BOT_TOKEN is "
                   "not: the webhook is not registered");
    else
      self->send(self, tick_atom::value);
  }
  return {
    [self](tick_atom) { register_webhook(self); },
    [self](api_call& call) {
      auto rp = self->make_response_promise<api_reply>();
      if (auto work = call.request.rules.telegram)
        work(self, call, rp);
      else
        rp.deliver(make_error(errc::not_found, "no such route"));
      return rp;
    },
  };
}

} // namespace

namespace telegram_ops {

/// Telegram-only mode: a window of recent ids, issues created inline.
void process_without_database(telegram_actor self, api_call& call,
                              reply_promise rp) {
  auto& st = self->state;
  const auto& update = std::get<domain::telegram_update>(call.request.input);
  if (!st.seen.insert(update.update_id).second) {
    count(self, "duplicate");
    rp.deliver(api_reply{200, domain::bot_reply{}, {}});
    return;
  }
  st.seen_order.push_back(update.update_id);
  if (st.seen_order.size() > update_window) {
    st.seen.erase(st.seen_order.front());
    st.seen_order.pop_front();
  }
  count(self, "processed");
  domain::telegram_only_backend backend{*st.issue_limits};
  auto action =
    domain::decide(update, backend, settings_of(*st.cfg, *st.status));
  if (!action.issue) {
    rp.deliver(api_reply{200, reply_of(action), {}});
    return;
  }
  action.issue->traceparent = call.request.meta.traceparent;
  create_issue(
    outbound_of(self), *st.cfg, *action.issue, call.request.meta.deadline,
    [rp, action](issue_outcome outcome) mutable {
      auto done = action;
      done.text = outcome.number > 0
                    ? domain::issue_created_text(action.issue->japanese,
                                                 outcome.number, outcome.url)
                    : outcome.failure;
      rp.deliver(api_reply{200, reply_of(done), {}});
    });
}

void create_link(telegram_actor self, api_call& call, reply_promise rp) {
  auto user = call.request.user->user_id;
  auto drawn = link_code();
  if (!drawn) {
    rp.deliver(std::move(drawn.error()));
    return;
  }
  auto code = std::move(*drawn);
  query(
    self, call.request.meta, "create_link_code", storage::access::write_once,
    [user, hash = crypto::sha256_hex(code)](pqxx::transaction_base& tx) {
      return storage::create_link_code(tx, user, hash);
    },
    [rp, code](std::string& expires_at) mutable {
      rp.deliver(api_reply{201, storage::link_code{code, expires_at}, {}});
    },
    fail_through(rp));
}

void delete_links(telegram_actor self, api_call& call, reply_promise rp) {
  auto user = call.request.user->user_id;
  query(
    self, call.request.meta, "unlink_chats", storage::access::write,
    [user](pqxx::transaction_base& tx) {
      return storage::unlink_chats(tx, user);
    },
    [rp](int64_t) mutable {
      rp.deliver(api_reply{204, {}, {}});
    },
    fail_through(rp));
}

} // namespace telegram_ops

telegram_handle
spawn_telegram(caf::local_actor* parent,
               std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics,
               std::shared_ptr<domain::service_status> status) {
  return parent->spawn(telegram, std::move(cfg), std::move(metrics),
                       std::move(status));
}

namespace handle {

namespace {

/// Full mode: the update's id and all its effects in one transaction.
caf::expected<webhook_outcome>
apply_update(pqxx::transaction_base& tx, const domain::telegram_update& update,
             const domain::bot_settings& settings,
             const storage::lease_policy& lease,
             const std::string& traceparent) {
  webhook_outcome outcome;
  auto fresh = storage::record_update(tx, update.update_id);
  if (!fresh)
    return std::move(fresh.error());
  if (!*fresh) {
    outcome.duplicate = true;
    return outcome;
  }
  if (auto chat = chat_of(update))
    if (auto kept = storage::remember_chat(tx, chat, language_of(update));
        !kept)
      return std::move(kept.error());
  transaction_backend backend{tx, lease};
  outcome.action = domain::decide(update, backend, settings);
  if (outcome.action.issue) {
    outcome.action.issue->traceparent = traceparent;
    auto queued =
      storage::enqueue_task(tx, outcome.action.chat_id, "create_issue",
                            encode_task(*outcome.action.issue));
    if (!queued)
      return std::move(queued.error());
    outcome.queued = true;
  }
  outcome.queued = outcome.queued || backend.queued();
  outcome.changes = std::move(backend.changes());
  outcome.issue_refusals = backend.refusals();
  return outcome;
}

} // namespace

void telegram_webhook(front_handle::pointer self, const front_deps& deps,
                      api_call& call) {
  if (!deps.cfg->database_enabled()) {
    // Telegram-only mode: the Telegram actor keeps the window of recent
    // ids and creates issues while the webhook waits.
    call.request.rules.by = owner::telegram;
    call.request.rules.telegram = telegram_ops::process_without_database;
    forward(self, names::telegram, call);
    return;
  }
  auto update = std::get<domain::telegram_update>(call.request.input);
  auto out = call.out;
  auto metrics = deps.metrics;
  // The answer is written from the database session: no message back to
  // an actor (front -> pool -> session, then the responder).
  auto* system = &self->system();
  query_in_session(
    self, call.request.meta, "telegram_update", call.request.rules.access,
    [update, settings = settings_of(*deps.cfg, *deps.status),
     lease = deps.resources.lease,
     traceparent = call.request.meta.traceparent](pqxx::transaction_base& tx) {
      return apply_update(tx, update, settings, lease, traceparent);
    },
    [out, metrics, system](webhook_outcome& outcome) {
      if (outcome.duplicate) {
        metrics->telegram_updates["duplicate"].Increment();
        out->reply(api_reply{200, domain::bot_reply{}, {}});
        return;
      }
      metrics->telegram_updates["processed"].Increment();
      if (outcome.issue_refusals > 0)
        metrics->rate_limited["telegram_issues"].Increment(
          outcome.issue_refusals);
      publish(*system, *metrics, outcome.changes);
      if (outcome.queued)
        if (auto outbox = lookup(*system, names::outbox))
          caf::anon_send(outbox, kick_atom::value);
      out->reply(api_reply{200, reply_of(outcome.action), {}});
    },
    [out, metrics](caf::error& err) {
      // Not recorded: a 5xx makes Telegram deliver the update again.
      metrics->telegram_updates["error"].Increment();
      out->fail(err);
    },
    // Concurrent updates commit together: apply_update is safe to run again
    // after a rollback (its effects are all in the transaction, the
    // update's id keeps it exactly-once) and reads nothing it must see
    // committed first.
    db_sharing{db_grouping::shared_commit, {}});
}

} // namespace handle

} // namespace miyabi::actors
