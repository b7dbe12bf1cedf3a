#include "storage/telegram.hpp"

#include <algorithm>

#include <pqxx/pqxx>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string user_columns = user_row().select_list("u");

/// An outbox message row's payload: {"text", "reply_markup"?}.
std::string text_payload(const std::string& text,
                         const std::string& reply_markup = {}) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("text");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  if (!reply_markup.empty()) {
    w.Key("reply_markup");
    w.RawValue(reply_markup.data(), reply_markup.size(),
               rapidjson::kObjectType);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

const std::string execution_columns = execution_row().select_list("e");

bool continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

} // namespace

const std::vector<statement>& telegram_statements() {
  static const std::vector<statement> list = {
    {"record_update", "INSERT INTO telegram_updates (update_id) VALUES ($1)"
                      " ON CONFLICT (update_id) DO NOTHING"},
    {"linked_user", "SELECT " + user_columns +
                      " FROM telegram_chats c JOIN users u ON u.id = c.user_id"
                      " WHERE c.chat_id = $1"},
    {"create_link_code",
     "INSERT INTO telegram_link_codes (code_hash, user_id, expires_at)"
     " VALUES ($2, $1, now() + interval '10 minutes')"
     " RETURNING rfc3339(expires_at)"},
    {"consume_link_code", "DELETE FROM telegram_link_codes WHERE code_hash = $1"
                          " AND expires_at > now() RETURNING user_id"},
    {"link_chat",
     "INSERT INTO telegram_chats (chat_id, user_id) VALUES ($1, $2)"
     " ON CONFLICT (chat_id) DO UPDATE SET user_id = EXCLUDED.user_id,"
     " linked_at = now()"},
    {"find_user_for_link",
     "SELECT " + user_columns + " FROM users u WHERE u.id = $1"},
    {"unlink_chats", "DELETE FROM telegram_chats WHERE user_id = $1"},
    {"enqueue_outbox", "INSERT INTO telegram_outbox (chat_id, kind, payload)"
                       " VALUES ($1, $2, $3::jsonb) RETURNING id"},
    {"enqueue_for_user",
     "INSERT INTO telegram_outbox (chat_id, kind, payload)"
     " SELECT c.chat_id, 'message', $2::jsonb FROM telegram_chats c"
     " LEFT JOIN telegram_chat_settings s ON s.chat_id = c.chat_id"
     " WHERE c.user_id = $1 AND coalesce(s.language, 'en') = $3"
     " ORDER BY c.chat_id"},
    // Rewritten only when the language changes: most updates write nothing.
    {"remember_chat",
     "INSERT INTO telegram_chat_settings AS s (chat_id, language)"
     " VALUES ($1, $2) ON CONFLICT (chat_id) DO UPDATE"
     " SET language = EXCLUDED.language, updated_at = now()"
     " WHERE s.language <> EXCLUDED.language"},
    {"lock_chat",
     "INSERT INTO telegram_chat_settings AS s (chat_id) VALUES ($1)"
     " ON CONFLICT (chat_id) DO UPDATE SET chat_id = s.chat_id"},
    {"issue_requests_in_hour",
     "SELECT count(*), ceil(extract(epoch FROM min(requested_at)"
     " + interval '1 hour' - now()))::bigint FROM telegram_issue_requests"
     " WHERE chat_id = $1 AND requested_at > now() - interval '1 hour'"},
    {"record_issue_request",
     "INSERT INTO telegram_issue_requests (chat_id) VALUES ($1)"},
    {"executions_by_prefix",
     "SELECT " + execution_columns +
       ", r.owner, r.name FROM agent_executions e JOIN repositories r"
       " ON r.id = e.repository_id WHERE e.user_id = $1"
       " AND e.id::text LIKE $2 || '%' ORDER BY e.created_at DESC LIMIT $3"},
    {"last_logs",
     "SELECT " + log_row().select_list("l") +
       " FROM (SELECT * FROM execution_logs"
       " WHERE execution_id = $2 AND EXISTS (SELECT 1 FROM agent_executions e"
       " WHERE e.id = $2 AND e.user_id = $1)"
       " ORDER BY \"timestamp\" DESC, seq DESC LIMIT $3) l"
       " ORDER BY l.\"timestamp\", l.seq"},
    // Only the oldest pending row of each chat, so a chat's messages go out
    // in order even when one of them waits for a retry.
    {"lease_outbox",
     "UPDATE telegram_outbox o SET attempts = o.attempts + 1,"
     " next_attempt_at = now() + make_interval(secs => $2)"
     " WHERE o.id IN (SELECT t.id FROM telegram_outbox t"
     " WHERE t.state = 'pending' AND t.next_attempt_at <= now()"
     " AND ($3 OR t.kind <> 'message')"
     " AND NOT EXISTS (SELECT 1 FROM telegram_outbox p"
     " WHERE p.chat_id = t.chat_id AND p.state = 'pending' AND p.id < t.id)"
     " ORDER BY t.id FOR UPDATE SKIP LOCKED LIMIT $1)"
     " RETURNING o.id, o.chat_id, o.kind, o.payload::text, o.attempts"},
    {"outbox_sent", "UPDATE telegram_outbox SET state = 'sent', sent_at = now()"
                    " WHERE id = $1"},
    {"outbox_failed",
     "UPDATE telegram_outbox SET state = 'failed', last_error = $2"
     " WHERE id = $1"},
    {"outbox_reschedule",
     "UPDATE telegram_outbox SET next_attempt_at = now()"
     " + make_interval(secs => $2::float8 / 1000), last_error = $3"
     " WHERE id = $1"},
    {"outbox_release",
     "UPDATE telegram_outbox SET attempts = greatest(attempts - 1, 0),"
     " next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)"
     " WHERE id = $1"},
    {"count_outbox",
     "SELECT count(*) FILTER (WHERE state = 'pending'),"
     " count(*) FILTER (WHERE state = 'sent'),"
     " count(*) FILTER (WHERE state = 'failed'),"
     " coalesce(extract(epoch FROM now() - min(created_at)"
     " FILTER (WHERE state = 'pending')), 0)::float8 FROM telegram_outbox"},
    {"count_active_executions",
     "SELECT count(*) FILTER (WHERE status = 'pending'),"
     " count(*) FILTER (WHERE status = 'running') FROM agent_executions"
     " WHERE status IN ('pending', 'running')"
     " AND ($1::uuid IS NULL OR user_id = $1)"},
  };
  return list;
}

std::vector<std::string> split_message(const std::string& text, size_t limit) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start < text.size()) {
    // Walk up to `limit` UTF-16 code units from `start`: Telegram counts
    // its 4096 in those, so a character beyond U+FFFF (a 4-byte sequence,
    // most emoji) takes two.
    size_t end = start;
    size_t units = 0;
    size_t last_newline = std::string::npos;
    while (end < text.size()) {
      size_t width = static_cast<unsigned char>(text[end]) >= 0xF0 ? 2 : 1;
      if (units + width > limit)
        break;
      if (text[end] == '\n')
        last_newline = end;
      ++end;
      while (end < text.size() &&
             continuation(static_cast<unsigned char>(text[end])))
        ++end;
      units += width;
    }
    if (end == start) // a limit below 2 and a wide character: take it whole
      while (++end < text.size() &&
             continuation(static_cast<unsigned char>(text[end])))
        ;
    if (end < text.size() && last_newline != std::string::npos &&
        last_newline > start)
      end = last_newline + 1; // break after the last full line that fits
    parts.push_back(text.substr(start, end - start));
    start = end;
  }
  if (parts.empty())
    parts.emplace_back();
  return parts;
}

caf::expected<bool> record_update(pqxx::transaction_base& tx,
                                  int64_t update_id) {
  return tx.exec_prepared("record_update", update_id).affected_rows() == 1;
}

caf::expected<std::optional<user>> linked_user(pqxx::transaction_base& tx,
                                               int64_t chat_id) {
  auto rows = tx.exec_prepared("linked_user", chat_id);
  if (rows.empty())
    return std::optional<user>{};
  return std::optional<user>{user_row().read(rows[0])};
}

caf::expected<std::string> create_link_code(pqxx::transaction_base& tx,
                                            const std::string& user_id,
                                            const std::string& code_hash) {
  return tx.exec_prepared("create_link_code", user_id, code_hash)
    .at(0)[0]
    .as<std::string>();
}

caf::expected<std::optional<user>>
consume_link_code(pqxx::transaction_base& tx, const std::string& code_hash,
                  int64_t chat_id) {
  auto rows = tx.exec_prepared("consume_link_code", code_hash);
  if (rows.empty())
    return std::optional<user>{};
  auto user_id = rows[0][0].as<std::string>();
  tx.exec_prepared("link_chat", chat_id, user_id);
  auto found = tx.exec_prepared("find_user_for_link", user_id);
  return std::optional<user>{user_row().read(found.at(0))};
}

caf::expected<int64_t> unlink_chats(pqxx::transaction_base& tx,
                                    const std::string& user_id) {
  return static_cast<int64_t>(
    tx.exec_prepared("unlink_chats", user_id).affected_rows());
}

caf::expected<int64_t> enqueue_message(pqxx::transaction_base& tx,
                                       int64_t chat_id, const std::string& text,
                                       const std::string& reply_markup) {
  auto parts = split_message(text);
  for (size_t i = 0; i < parts.size(); ++i)
    tx.exec_prepared(
      "enqueue_outbox", chat_id, "message",
      text_payload(parts[i], i + 1 == parts.size() ? reply_markup : ""));
  return static_cast<int64_t>(parts.size());
}

caf::expected<int64_t> enqueue_task(pqxx::transaction_base& tx, int64_t chat_id,
                                    const std::string& kind,
                                    const std::string& payload_json) {
  return tx.exec_prepared("enqueue_outbox", chat_id, kind, payload_json)
    .at(0)[0]
    .as<int64_t>();
}

caf::expected<int64_t> enqueue_for_user(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const localized_message& message) {
  int64_t n = 0;
  auto queue = [&](const char* language, const std::string& text,
                   const std::string& markup) {
    auto parts = split_message(text);
    for (size_t i = 0; i < parts.size(); ++i)
      n += static_cast<int64_t>(
        tx.exec_prepared(
            "enqueue_for_user", user_id,
            text_payload(parts[i], i + 1 == parts.size() ? markup : ""),
            language)
          .affected_rows());
  };
  queue("en", message.english_text, message.english_markup);
  queue("ja", message.japanese_text, message.japanese_markup);
  return n;
}

caf::expected<bool> remember_chat(pqxx::transaction_base& tx, int64_t chat_id,
                                  const std::string& language_code) {
  if (language_code.empty())
    return false;
  auto language = language_code == "ja" ? "ja" : "en";
  return tx.exec_prepared("remember_chat", chat_id, language).affected_rows() ==
         1;
}

caf::expected<std::optional<int64_t>>
take_issue_quota(pqxx::transaction_base& tx, int64_t chat_id,
                 uint32_t per_hour) {
  // The chat's settings row is the lock: a second update of this chat waits
  // here until the first commits, then counts its request too.
  tx.exec_prepared("lock_chat", chat_id);
  auto r = tx.exec_prepared("issue_requests_in_hour", chat_id).at(0);
  if (r[0].as<int64_t>() >= static_cast<int64_t>(per_hour))
    return std::optional<int64_t>{
      std::max<int64_t>(1, r[1].is_null() ? 3600 : r[1].as<int64_t>())};
  tx.exec_prepared("record_issue_request", chat_id);
  return std::optional<int64_t>{};
}

caf::expected<std::vector<recent_execution>>
executions_by_prefix(pqxx::transaction_base& tx, const std::string& user_id,
                     const std::string& prefix, int64_t limit) {
  std::vector<recent_execution> result;
  for (const auto& r :
       tx.exec_prepared("executions_by_prefix", user_id, prefix, limit))
    result.push_back({execution_row().read(r),
                      r[execution_row().size()].as<std::string>(),
                      r[execution_row().size() + 1].as<std::string>()});
  return result;
}

caf::expected<std::vector<execution_log>>
last_logs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& execution_id, int64_t limit) {
  std::vector<execution_log> result;
  for (const auto& r :
       tx.exec_prepared("last_logs", user_id, execution_id, limit)) {
    result.push_back(log_row().read(r));
  }
  return result;
}

caf::expected<std::vector<outbox_message>>
lease_outbox(pqxx::transaction_base& tx, int64_t limit, int64_t lease_seconds,
             bool messages) {
  std::vector<outbox_message> result;
  for (const auto& r :
       tx.exec_prepared("lease_outbox", limit, lease_seconds, messages))
    result.push_back({r[0].as<int64_t>(), r[1].as<int64_t>(),
                      r[2].as<std::string>(), r[3].as<std::string>(),
                      r[4].as<int64_t>()});
  std::sort(result.begin(), result.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return result;
}

caf::expected<bool> mark_sent(pqxx::transaction_base& tx, int64_t id) {
  return tx.exec_prepared("outbox_sent", id).affected_rows() == 1;
}

caf::expected<bool> mark_failed(pqxx::transaction_base& tx, int64_t id,
                                const std::string& error) {
  return tx.exec_prepared("outbox_failed", id, error).affected_rows() == 1;
}

caf::expected<bool> reschedule(pqxx::transaction_base& tx, int64_t id,
                               int64_t delay_ms, const std::string& error) {
  return tx.exec_prepared("outbox_reschedule", id, delay_ms, error)
           .affected_rows() == 1;
}

caf::expected<bool> release(pqxx::transaction_base& tx, int64_t id,
                            int64_t delay_ms) {
  return tx.exec_prepared("outbox_release", id, delay_ms).affected_rows() == 1;
}

caf::expected<outbox_counts> count_outbox(pqxx::transaction_base& tx) {
  auto r = tx.exec_prepared("count_outbox").at(0);
  return outbox_counts{r[0].as<int64_t>(), r[1].as<int64_t>(),
                       r[2].as<int64_t>(), r[3].as<double>()};
}

caf::expected<execution_counts>
count_active_executions(pqxx::transaction_base& tx,
                        const std::string& user_id) {
  std::optional<std::string> who;
  if (!user_id.empty())
    who = user_id;
  auto r = tx.exec_prepared("count_active_executions", who).at(0);
  return execution_counts{r[0].as<int64_t>(), r[1].as<int64_t>()};
}

} // namespace miyabi::storage
