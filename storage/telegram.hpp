// Queries of the Telegram bot: processed update ids (exactly-once), chat
// links and their codes, and the durable outbox of messages and issue tasks.
// Blocking; run inside a transaction on a database session's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Records an update id; false when it was recorded before (a repeat).
caf::expected<bool> record_update(pqxx::transaction_base& tx,
                                  int64_t update_id);

/// The user a chat is linked to, if any.
caf::expected<std::optional<user>> linked_user(pqxx::transaction_base& tx,
                                               int64_t chat_id);

/// Stores a new link code (hash) for the user, valid 10 minutes; returns
/// its expiry (RFC 3339).
caf::expected<std::string> create_link_code(pqxx::transaction_base& tx,
                                            const std::string& user_id,
                                            const std::string& code_hash);

/// Consumes a link code and links the chat to its user; nothing when the
/// code is unknown, used or expired.
caf::expected<std::optional<user>>
consume_link_code(pqxx::transaction_base& tx, const std::string& code_hash,
                  int64_t chat_id);

/// Unlinks every chat of the user; returns how many.
caf::expected<int64_t> unlink_chats(pqxx::transaction_base& tx,
                                    const std::string& user_id);

/// Queues a text message (split into parts of at most 4096 characters);
/// `reply_markup` (JSON object text, may be empty) goes with the last part.
caf::expected<int64_t> enqueue_message(pqxx::transaction_base& tx,
                                       int64_t chat_id, const std::string& text,
                                       const std::string& reply_markup = {});

/// Queues a task of `kind` with a JSON payload.
caf::expected<int64_t> enqueue_task(pqxx::transaction_base& tx, int64_t chat_id,
                                    const std::string& kind,
                                    const std::string& payload_json);

/// A message in each language the bot speaks; each chat gets the one of
/// its remembered language.
struct localized_message {
  std::string english_text;
  std::string english_markup; ///< reply_markup JSON, or empty
  std::string japanese_text;
  std::string japanese_markup;
};

/// Queues the message for every chat linked to `user_id`, in the chat's
/// language; returns how many rows.
caf::expected<int64_t> enqueue_for_user(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const localized_message& message);

/// Remembers the chat's language ("ja" or "en"; anything else but empty
/// counts as "en", empty changes nothing).
caf::expected<bool> remember_chat(pqxx::transaction_base& tx, int64_t chat_id,
                                  const std::string& language_code);

/// Spends one of the chat's `per_hour` issue requests of the last hour.
/// Concurrent calls for one chat (on any instance) wait for each other.
/// Nothing when allowed; else the seconds until one is free again.
caf::expected<std::optional<int64_t>>
take_issue_quota(pqxx::transaction_base& tx, int64_t chat_id,
                 uint32_t per_hour);

/// The user's executions whose id starts with `prefix` (lower-case hex and
/// dashes only), at most `limit`, with their repository's owner and name.
caf::expected<std::vector<recent_execution>>
executions_by_prefix(pqxx::transaction_base& tx, const std::string& user_id,
                     const std::string& prefix, int64_t limit);

/// The last `limit` log lines of the user's execution, oldest first.
caf::expected<std::vector<execution_log>>
last_logs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& execution_id, int64_t limit);

/// Leases due outbox rows for `lease_seconds`, so no other instance takes
/// them meanwhile, and counts an attempt on each. Only the oldest pending
/// row of a chat is due (a chat's rows go out in order); message rows only
/// when `messages` is true (false: no bot token to send them with).
caf::expected<std::vector<outbox_message>>
lease_outbox(pqxx::transaction_base& tx, int64_t limit, int64_t lease_seconds,
             bool messages);

/// Marks a row sent (or, for tasks, taken: tasks run at most once).
caf::expected<bool> mark_sent(pqxx::transaction_base& tx, int64_t id);

/// Marks a row failed for good.
caf::expected<bool> mark_failed(pqxx::transaction_base& tx, int64_t id,
                                const std::string& error);

/// Returns a row to the queue, due after `delay_ms`.
caf::expected<bool> reschedule(pqxx::transaction_base& tx, int64_t id,
                               int64_t delay_ms, const std::string& error);

/// Returns a leased row untouched (not an attempt), due after `delay_ms`.
caf::expected<bool> release(pqxx::transaction_base& tx, int64_t id,
                            int64_t delay_ms);

struct outbox_counts {
  int64_t pending = 0;
  int64_t sent = 0;
  int64_t failed = 0;
  double oldest_pending_seconds = 0; ///< age of the oldest pending row
};

caf::expected<outbox_counts> count_outbox(pqxx::transaction_base& tx);

struct execution_counts {
  int64_t pending = 0;
  int64_t running = 0;
};

/// Pending and running executions (of one user, or of all when empty).
caf::expected<execution_counts>
count_active_executions(pqxx::transaction_base& tx, const std::string& user_id);

/// Splits text into parts of at most `limit` UTF-16 code units (how
/// Telegram counts message length: a character beyond U+FFFF counts two),
/// preferring line breaks, never splitting a UTF-8 sequence.
std::vector<std::string> split_message(const std::string& text,
                                       size_t limit = 4096);

} // namespace miyabi::storage
