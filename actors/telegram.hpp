// The Telegram actor (registered as names::telegram): handles webhook
// updates exactly once and the /api/v1/telegram/link routes.
//
// With a database, an update's id is recorded in the same transaction as
// its effects (a chat link, a queued issue task), so a repeat finds the id
// and does nothing, and a database failure answers 5xx so Telegram retries.
// In telegram-only mode a bounded in-memory window of recent ids stands in.
// The first reply rides in the webhook response as a Bot API call; issue
// creation runs from the outbox (or inline in telegram-only mode).
//
// Messages: api_call (telegram ops) -> api_reply.
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"

namespace miyabi::metrics {
class service_metrics;
} // namespace miyabi::metrics

namespace miyabi::actors {

telegram_handle
spawn_telegram(caf::local_actor* parent,
               std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics,
               std::shared_ptr<domain::service_status> status);

/// How many recent update ids telegram-only mode remembers.
constexpr size_t update_window = 10000;

} // namespace miyabi::actors
