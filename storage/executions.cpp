#include "storage/executions.hpp"

#include <pqxx/pqxx>

#include "config/errors.hpp"
#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string columns = execution_columns_of("e");

constexpr const char* log_columns =
  "l.id, l.execution_id, l.level, l.message, l.metadata::text,"
  " rfc3339(l.\"timestamp\")";

execution_log log_of(const pqxx::row& r) {
  execution_log log;
  log.id = r[0].as<std::string>();
  log.execution_id = r[1].as<std::string>();
  log.level = r[2].as<std::string>();
  log.message = r[3].as<std::string>();
  log.metadata = optional_text(r[4]);
  log.timestamp = r[5].as<std::string>();
  return log;
}

execution_change change_of(const pqxx::row& r, std::string previous) {
  execution_change change;
  change.execution = execution_of(r);
  change.previous_status = std::move(previous);
  change.user_id = r[execution_column_count].as<std::string>();
  change.repository_owner = r[execution_column_count + 1].as<std::string>();
  change.repository_name = r[execution_column_count + 2].as<std::string>();
  return change;
}

std::string array_literal(const std::vector<std::string>& items) {
  // Items are validated agent types (letters only), so no quoting needed.
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ',';
    out += items[i];
  }
  return out + "}";
}

caf::expected<agent_execution> insert_execution(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const new_execution& in) {
  auto rows = tx.exec_prepared("insert_execution", user_id, in.repository_id,
                               in.agent_type, in.issue_number, in.options);
  if (rows.empty())
    return make_error(errc::not_found, "repository not found", "repository_id");
  return execution_of(rows[0]);
}

} // namespace

std::string execution_columns_of(const std::string& a) {
  return a + ".id, " + a + ".repository_id, " + a + ".agent_type, " + a +
         ".issue_number, " + a + ".status, " + a + ".options::text, " + a +
         ".result_summary::text, " + a + ".quality_score, " + a +
         ".pr_number, " + a + ".error_message, rfc3339(" + a +
         ".started_at), rfc3339(" + a + ".completed_at), rfc3339(" + a +
         ".created_at), rfc3339(" + a + ".updated_at)";
}

agent_execution execution_of(const pqxx::row& r, pqxx::row::size_type f) {
  agent_execution e;
  e.id = r[f].as<std::string>();
  e.repository_id = r[f + 1].as<std::string>();
  e.agent_type = r[f + 2].as<std::string>();
  e.issue_number = r[f + 3].as<int64_t>();
  e.status = r[f + 4].as<std::string>();
  e.options = optional_text(r[f + 5]);
  e.result_summary = optional_text(r[f + 6]);
  e.quality_score = optional_int(r[f + 7]);
  e.pr_number = optional_int(r[f + 8]);
  e.error_message = optional_text(r[f + 9]);
  e.started_at = optional_text(r[f + 10]);
  e.completed_at = optional_text(r[f + 11]);
  e.created_at = r[f + 12].as<std::string>();
  e.updated_at = r[f + 13].as<std::string>();
  return e;
}

const std::vector<statement>& execution_statements() {
  // Joined with the repository for notifications: (user, owner, name).
  static const std::string change_tail = ", r.user_id, r.owner, r.name";
  static const std::vector<statement> list = {
    {"insert_execution",
     "INSERT INTO agent_executions AS e"
     " (user_id, repository_id, agent_type, issue_number, options)"
     " SELECT $1, r.id, $3, $4, $5::jsonb FROM repositories r"
     " WHERE r.id = $2 AND r.user_id = $1 AND r.is_active RETURNING " +
       columns},
    {"idempotency_wait", "SELECT set_config('lock_timeout', '1000', true)"},
    {"claim_idempotency_key",
     "INSERT INTO idempotency_keys (user_id, key, request_hash, state,"
     " expires_at) VALUES ($1, $2, $3, 'in_flight',"
     " now() + interval '24 hours') ON CONFLICT (user_id, key) DO NOTHING"},
    {"read_idempotency_key",
     "SELECT request_hash, state, execution_id, expires_at <= now()"
     " FROM idempotency_keys WHERE user_id = $1 AND key = $2"},
    {"drop_idempotency_key",
     "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2"},
    {"complete_idempotency_key",
     "UPDATE idempotency_keys SET state = 'completed', execution_id = $3,"
     " response_status = 202 WHERE user_id = $1 AND key = $2"},
    {"list_executions",
     "SELECT " + columns +
       " FROM agent_executions e WHERE e.user_id = $1"
       " AND ($2::text IS NULL OR e.status = $2)"
       " AND ($3::uuid IS NULL OR e.repository_id = $3)"
       " AND ($4::timestamptz IS NULL"
       " OR (e.created_at, e.id) < ($4::timestamptz, $5::uuid))"
       " ORDER BY e.created_at DESC, e.id DESC LIMIT $6"},
    {"find_execution",
     "SELECT " + columns +
       " FROM agent_executions e WHERE e.id = $2 AND e.user_id = $1"},
    {"claim_execution",
     "UPDATE agent_executions AS e SET status = 'running',"
     " started_at = clock_timestamp(), updated_at = clock_timestamp()"
     " FROM repositories r WHERE r.id = e.repository_id AND e.id = ("
     " SELECT p.id FROM agent_executions p WHERE p.user_id = $1"
     " AND p.status = 'pending'"
     " AND ($2::text[] IS NULL OR p.agent_type = ANY ($2::text[]))"
     " ORDER BY p.created_at, p.id FOR UPDATE SKIP LOCKED LIMIT 1)"
     " RETURNING " +
       columns + change_tail},
    {"lock_execution", "SELECT e.status FROM agent_executions e WHERE e.id = $2"
                       " AND e.user_id = $1 FOR UPDATE"},
    {"update_execution",
     "UPDATE agent_executions AS e SET status = $3,"
     " result_summary = COALESCE($4::jsonb, e.result_summary),"
     " quality_score = COALESCE($5, e.quality_score),"
     " pr_number = COALESCE($6, e.pr_number),"
     " error_message = COALESCE($7, e.error_message),"
     " started_at = CASE WHEN $3 = 'running' THEN clock_timestamp()"
     " ELSE e.started_at END,"
     " completed_at = CASE WHEN $8 THEN clock_timestamp()"
     " ELSE e.completed_at END,"
     " updated_at = clock_timestamp()"
     " FROM repositories r WHERE r.id = e.repository_id AND e.id = $2"
     " AND e.user_id = $1 RETURNING " +
       columns + change_tail},
    {"append_log",
     "INSERT INTO execution_logs AS l (execution_id, level, message, metadata)"
     " SELECT e.id, $3, $4, $5::jsonb FROM agent_executions e"
     " WHERE e.id = $2 AND e.user_id = $1 RETURNING " +
       std::string{log_columns}},
    {"list_logs",
     "SELECT " + std::string{log_columns} +
       " FROM execution_logs l JOIN agent_executions e"
       " ON e.id = l.execution_id WHERE l.execution_id = $2"
       " AND e.user_id = $1"
       " AND ($3::timestamptz IS NULL OR l.\"timestamp\" > $3::timestamptz)"
       " ORDER BY l.\"timestamp\", l.seq LIMIT $4"},
    {"execution_exists",
     "SELECT 1 FROM agent_executions WHERE id = $2 AND user_id = $1"},
  };
  return list;
}

caf::expected<agent_execution> create_execution(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const new_execution& in) {
  if (in.idempotency_key.empty())
    return insert_execution(tx, user_id, in);
  // A concurrent request with the same key waits for this transaction's
  // uncommitted key row; past the lock timeout it answers 409 (conflict).
  tx.exec_prepared("idempotency_wait");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto claimed = tx.exec_prepared("claim_idempotency_key", user_id,
                                    in.idempotency_key, in.request_hash);
    if (claimed.affected_rows() == 1) {
      auto created = insert_execution(tx, user_id, in);
      if (!created)
        return created; // the transaction rolls back, freeing the key
      tx.exec_prepared("complete_idempotency_key", user_id, in.idempotency_key,
                       created->id);
      return created;
    }
    auto rows =
      tx.exec_prepared("read_idempotency_key", user_id, in.idempotency_key);
    if (rows.empty())
      continue; // purged in between: claim again
    if (rows[0][3].as<bool>()) {
      tx.exec_prepared("drop_idempotency_key", user_id, in.idempotency_key);
      continue; // expired: the key may be used afresh
    }
    if (rows[0][0].as<std::string>() != in.request_hash)
      return make_error(errc::unprocessable_entity,
                        "the Idempotency-Key was used with another request "
                        "body",
                        "Idempotency-Key");
    if (rows[0][1].as<std::string>() != "completed" || rows[0][2].is_null())
      return make_error(errc::conflict,
                        "a request with this Idempotency-Key is still being "
                        "processed",
                        "Idempotency-Key");
    auto found =
      tx.exec_prepared("find_execution", user_id, rows[0][2].as<std::string>());
    if (found.empty())
      return make_error(errc::not_found, "execution not found");
    return execution_of(found[0]);
  }
  return make_error(errc::conflict, "the Idempotency-Key is contended",
                    "Idempotency-Key");
}

caf::expected<execution_page> list_executions(pqxx::transaction_base& tx,
                                              const std::string& user_id,
                                              const execution_filter& f) {
  std::optional<std::string> after_time;
  std::optional<std::string> after_id;
  if (f.after) {
    after_time = f.after->created_at;
    after_id = f.after->id;
  }
  auto rows =
    tx.exec_prepared("list_executions", user_id, f.status, f.repository_id,
                     after_time, after_id, f.limit + 1);
  execution_page page;
  for (const auto& r : rows) {
    if (static_cast<int64_t>(page.items.size()) == f.limit) {
      const auto& last = page.items.back();
      page.next = page_cursor{last.created_at, last.id};
      break;
    }
    page.items.push_back(execution_of(r));
  }
  return page;
}

caf::expected<std::optional<agent_execution>>
find_execution(pqxx::transaction_base& tx, const std::string& user_id,
               const std::string& id) {
  auto rows = tx.exec_prepared("find_execution", user_id, id);
  if (rows.empty())
    return std::optional<agent_execution>{};
  return std::optional<agent_execution>{execution_of(rows[0])};
}

caf::expected<std::optional<execution_change>>
claim_execution(pqxx::transaction_base& tx, const std::string& user_id,
                const std::vector<std::string>& agent_types) {
  std::optional<std::string> types;
  if (!agent_types.empty())
    types = array_literal(agent_types);
  auto rows = tx.exec_prepared("claim_execution", user_id, types);
  if (rows.empty())
    return std::optional<execution_change>{};
  return std::optional<execution_change>{change_of(rows[0], "pending")};
}

caf::expected<execution_change> update_execution(pqxx::transaction_base& tx,
                                                 const std::string& user_id,
                                                 const std::string& id,
                                                 const execution_update& u,
                                                 transition_rule allowed) {
  auto locked = tx.exec_prepared("lock_execution", user_id, id);
  if (locked.empty())
    return make_error(errc::not_found, "execution not found");
  auto previous = locked[0][0].as<std::string>();
  if (!allowed(previous, u.status))
    return make_error(
      errc::conflict,
      "an execution cannot go from " + previous + " to " + u.status, "status");
  auto rows = tx.exec_prepared("update_execution", user_id, id, u.status,
                               u.result_summary, u.quality_score, u.pr_number,
                               u.error_message, u.finishes);
  return change_of(rows.at(0), std::move(previous));
}

caf::expected<execution_log> append_log(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const std::string& execution_id,
                                        const new_log& log) {
  auto rows = tx.exec_prepared("append_log", user_id, execution_id, log.level,
                               log.message, log.metadata);
  if (rows.empty())
    return make_error(errc::not_found, "execution not found");
  return log_of(rows[0]);
}

caf::expected<std::vector<execution_log>>
list_logs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& execution_id, const log_filter& filter) {
  auto rows = tx.exec_prepared("list_logs", user_id, execution_id, filter.after,
                               filter.limit);
  if (rows.empty() &&
      tx.exec_prepared("execution_exists", user_id, execution_id).empty())
    return make_error(errc::not_found, "execution not found");
  std::vector<execution_log> result;
  for (const auto& r : rows)
    result.push_back(log_of(r));
  return result;
}

} // namespace miyabi::storage
