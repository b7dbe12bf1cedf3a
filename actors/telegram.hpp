// The Telegram actor (registered as names::telegram): the link routes,
// setWebhook at start (TELEGRAM_WEBHOOK_URL, retried on its timer), and the
// webhook in telegram-only mode, where a bounded in-memory window of recent
// update ids stands in for the database and issues are created while the
// webhook waits.
//
// With a database the webhook does not come here: the front actor runs
// handle::telegram_webhook (actors/handlers.hpp), which records the
// update's id in the same transaction as its effects (a chat link, a queued
// issue task, a cancel and its notices), so a repeat finds the id and does
// nothing and a database failure answers 5xx so Telegram retries; the
// answer is written from the database session.
//
// Messages: api_call (telegram_ops) -> api_reply; tick_atom (setWebhook).
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

telegram_handle
spawn_telegram(caf::local_actor* parent,
               std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics,
               std::shared_ptr<domain::service_status> status);

/// The operations the Telegram actor runs (`operation_rules::telegram`).
/// Each answers through `rp`: an api_reply, or an error of api.md's
/// Telegram section.
namespace telegram_ops {

using self_type = telegram_handle::stateful_pointer<telegram_state>;

void create_link(self_type self, api_call& call, reply_promise rp);
void delete_links(self_type self, api_call& call, reply_promise rp);
/// The webhook in telegram-only mode; handle::telegram_webhook hands the
/// call here when there is no database.
void process_without_database(self_type self, api_call& call, reply_promise rp);

} // namespace telegram_ops

/// How many recent update ids telegram-only mode remembers.
constexpr size_t update_window = 10000;

} // namespace miyabi::actors
