// The outbox sender (registered as names::outbox): drains telegram_outbox
// while the instance has CPU. Messages go to TELEGRAM_API_URL/bot<TOKEN>/
// sendMessage at most about one per second per chat; 429 waits the
// `retry_after` Telegram asks for; 5xx and timeouts back off exponentially
// up to 8 attempts; 400 and 403 fail at once. Issue tasks are taken once
// and run through the issue flow; their result is queued as a message.
// Rows are leased in PostgreSQL, so several instances never send one twice,
// and rows of a crashed instance become due again when their lease ends.
// Without TELEGRAM_BOT_TOKEN messages stay pending and a warning says why.
//
// Messages: tick_atom (own timer), kick_atom (new rows), execution_change.
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "config/settings.hpp"

namespace miyabi::metrics {
class service_metrics;
} // namespace miyabi::metrics

namespace miyabi::actors {

caf::actor spawn_outbox(caf::local_actor* parent,
                        std::shared_ptr<const config::settings> cfg,
                        std::shared_ptr<metrics::service_metrics> metrics);

} // namespace miyabi::actors
