#include "actors/telegram.hpp"

#include <deque>
#include <unordered_set>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/db.hpp"
#include "actors/issue_flow.hpp"
#include "actors/supervision.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "domain/bot.hpp"
#include "metrics/metrics.hpp"
#include "storage/telegram.hpp"

namespace miyabi::actors {

namespace {

/// Storage behind the bot's decisions, inside the update's transaction.
class transaction_backend final : public domain::bot_backend {
 public:
  explicit transaction_backend(pqxx::transaction_base& tx) : tx_(tx) {}

  std::optional<storage::user> linked_user(int64_t chat_id) override {
    auto u = storage::linked_user(tx_, chat_id);
    return u ? *u : std::nullopt;
  }

  std::optional<storage::user> consume_link(const std::string& code,
                                            int64_t chat_id) override {
    auto u = storage::consume_link_code(tx_, crypto::sha256_hex(code), chat_id);
    return u ? *u : std::nullopt;
  }

  std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string& user_id) override {
    auto n = storage::count_active_executions(tx_, user_id);
    if (!n)
      return std::nullopt;
    return std::pair<int64_t, int64_t>{n->pending, n->running};
  }

  bool has_database() const override { return true; }

 private:
  pqxx::transaction_base& tx_;
};

struct webhook_outcome {
  bool duplicate = false;
  domain::bot_action action;
  bool task_queued = false;
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

struct telegram_state {
  static inline const char* name = "telegram";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<domain::service_status> status;
  std::unordered_set<int64_t> seen;
  std::deque<int64_t> seen_order;
};

using telegram_actor = caf::stateful_actor<telegram_state>*;

domain::bot_settings settings_of(const telegram_state& st) {
  const auto& cfg = *st.cfg;
  domain::bot_settings s;
  s.authorized_chat_ids = cfg.authorized_chat_ids;
  s.version = MIYABI_VERSION;
  s.mode = cfg.database_enabled() ? "full" : "telegram-only";
  s.database = to_string(st.status->database.load());
  s.issues_enabled = !cfg.github_token.empty() && !cfg.github_owner.empty() &&
                     !cfg.github_repo.empty();
  s.llm_enabled = !cfg.openai_api_key.empty();
  s.repository = cfg.github_owner + "/" + cfg.github_repo;
  return s;
}

void count(telegram_actor self, const char* result) {
  self->state.metrics->telegram_updates[result].Increment();
}

/// Full mode: record the id and apply the effects in one transaction.
void process_with_database(telegram_actor self, api_call& call,
                           caf::response_promise rp) {
  auto update = std::get<domain::telegram_update>(call.request.input);
  auto settings = settings_of(self->state);
  query(
    self, call.request.meta, "telegram_update", storage::access::write_once,
    [update,
     settings](pqxx::transaction_base& tx) -> caf::expected<webhook_outcome> {
      webhook_outcome outcome;
      auto fresh = storage::record_update(tx, update.update_id);
      if (!fresh)
        return std::move(fresh.error());
      if (!*fresh) {
        outcome.duplicate = true;
        return outcome;
      }
      transaction_backend backend{tx};
      outcome.action = domain::decide(update, backend, settings);
      if (outcome.action.issue) {
        auto queued =
          storage::enqueue_task(tx, outcome.action.chat_id, "create_issue",
                                encode_task(*outcome.action.issue));
        if (!queued)
          return std::move(queued.error());
        outcome.task_queued = true;
      }
      return outcome;
    },
    [self, rp](webhook_outcome& outcome) mutable {
      if (outcome.duplicate) {
        count(self, "duplicate");
        rp.deliver(api_reply{200, domain::bot_reply{}, {}});
        return;
      }
      count(self, "processed");
      if (outcome.task_queued)
        if (auto outbox = lookup(self, names::outbox))
          self->send(outbox, kick_atom::value);
      rp.deliver(api_reply{200, reply_of(outcome.action), {}});
    },
    [self, rp](caf::error& err) mutable {
      // Not recorded: a 5xx makes Telegram deliver the update again.
      count(self, "error");
      rp.deliver(err);
    });
}

/// Telegram-only mode: a window of recent ids, issues created inline.
void process_without_database(telegram_actor self, api_call& call,
                              caf::response_promise rp) {
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
  domain::telegram_only_backend backend;
  auto action = domain::decide(update, backend, settings_of(st));
  if (!action.issue) {
    rp.deliver(api_reply{200, reply_of(action), {}});
    return;
  }
  create_issue(self, *st.cfg, *action.issue, call.request.meta.deadline,
               [rp, action](std::string text) mutable {
                 auto done = action;
                 done.text = std::move(text);
                 rp.deliver(api_reply{200, reply_of(done), {}});
               });
}

void create_link(telegram_actor self, api_call& call,
                 caf::response_promise rp) {
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
    [rp](caf::error& err) mutable { rp.deliver(err); });
}

void delete_links(telegram_actor self, api_call& call,
                  caf::response_promise rp) {
  auto user = call.request.user->user_id;
  query(
    self, call.request.meta, "unlink_chats", storage::access::write,
    [user](pqxx::transaction_base& tx) {
      return storage::unlink_chats(tx, user);
    },
    [rp](int64_t) mutable {
      rp.deliver(api_reply{204, {}, {}});
    },
    [rp](caf::error& err) mutable { rp.deliver(err); });
}

caf::behavior telegram(telegram_actor self,
                       std::shared_ptr<const config::settings> cfg,
                       std::shared_ptr<metrics::service_metrics> metrics,
                       std::shared_ptr<domain::service_status> status) {
  self->state.cfg = std::move(cfg);
  self->state.metrics = std::move(metrics);
  self->state.status = std::move(status);
  log_exceptions(self, "telegram");
  return {
    [self](api_call& call) {
      auto rp = self->make_response_promise();
      switch (call.request.op) {
        case operation::telegram_webhook:
          if (self->state.cfg->database_enabled())
            process_with_database(self, call, rp);
          else
            process_without_database(self, call, rp);
          break;
        case operation::telegram_link_create:
          create_link(self, call, rp);
          break;
        case operation::telegram_link_delete:
          delete_links(self, call, rp);
          break;
        default: rp.deliver(make_error(errc::not_found, "no such route"));
      }
      return rp;
    },
  };
}

} // namespace

telegram_handle
spawn_telegram(caf::local_actor* parent,
               std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics,
               std::shared_ptr<domain::service_status> status) {
  // Untyped behaviour; see actors/protocol.hpp.
  return caf::actor_cast<telegram_handle>(parent->spawn(
    telegram, std::move(cfg), std::move(metrics), std::move(status)));
}

} // namespace miyabi::actors
