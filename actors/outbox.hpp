// The outbox sender (registered as names::outbox): drains telegram_outbox
// while the instance has CPU. Messages go to TELEGRAM_API_URL/bot<TOKEN>/
// sendMessage at most about one per second per chat; 429 waits the
// `retry_after` Telegram asks for (clamped to 1 s .. 1 h); 5xx and timeouts
// back off exponentially up to 8 attempts; 400 and 403 fail at once. Issue
// tasks are taken once and run through the issue flow; their result is queued
// as a message. Rows are leased in PostgreSQL, so several instances never send
// one twice, and rows of a crashed instance become due again when their lease
// ends. Without TELEGRAM_BOT_TOKEN messages stay pending and a warning says
// why.
//
// Messages: tick_atom (own timer), kick_atom (new rows), execution_change.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

/// How long to wait after Telegram answered 429, in seconds: the JSON
/// answer's `parameters.retry_after`, else the `Retry-After` header in
/// delta-seconds, else 5; always within 1 .. 3600, whatever the values
/// (huge numbers, floats, 40-digit headers, HTTP dates, garbage). Pure;
/// never throws but std::bad_alloc.
int64_t retry_after_seconds(std::string_view body, std::string_view header);

outbox_handle spawn_outbox(caf::local_actor* parent,
                           std::shared_ptr<const config::settings> cfg,
                           std::shared_ptr<metrics::service_metrics> metrics);

} // namespace miyabi::actors
