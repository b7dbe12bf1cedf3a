#include "storage/executions.hpp"

#include <pqxx/pqxx>

#include "base/errors.hpp"
#include "base/text.hpp"
#include "storage/rows.hpp"
#include "storage/statements.hpp"
#include "storage/workflow_runs.hpp"

namespace miyabi::storage {

namespace {

const std::string columns = execution_row().select_list("e");
const std::string log_columns = log_row().select_list("l");

caf::expected<agent_execution> insert_execution(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const new_execution& in) {
  auto rows = tx.exec_prepared("insert_execution", user_id, in.repository_id,
                               in.agent_type, in.issue_number, in.options);
  if (rows.empty())
    return make_error(errc::not_found, "repository not found", "repository_id");
  return execution_row().read(rows[0]);
}

} // namespace

execution_change change_of(const pqxx::row& r, std::string previous_status) {
  execution_change change;
  const auto& row = execution_row();
  change.execution = row.read(r);
  change.previous_status = std::move(previous_status);
  auto tail = row.size();
  change.user_id = r[tail].as<std::string>();
  change.repository_owner = r[tail + 1].as<std::string>();
  change.repository_name = r[tail + 2].as<std::string>();
  return change;
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
     " started_at = clock_timestamp(), updated_at = clock_timestamp(),"
     " lease_expires_at = clock_timestamp() + $5::integer * interval '1 "
     "second',"
     " claimed_by = $4::uuid, progress = NULL"
     " FROM repositories r WHERE r.id = e.repository_id AND e.id = ("
     " SELECT p.id FROM agent_executions p WHERE p.user_id = $1"
     " AND p.status = 'pending'"
     " AND ($2::text[] IS NULL OR p.agent_type = ANY ($2::text[]))"
     " AND ($3::uuid[] IS NULL OR p.repository_id = ANY ($3::uuid[]))"
     " ORDER BY p.created_at, p.id FOR UPDATE SKIP LOCKED LIMIT 1)"
     " RETURNING " +
       columns + change_tail},
    {"active_repository",
     "SELECT 1 FROM repositories WHERE id = $2 AND user_id = $1"
     " AND is_active"},
    {"run_of_execution", "SELECT workflow_run_id FROM agent_executions"
                         " WHERE id = $2 AND user_id = $1"},
    {"lock_run", "SELECT status FROM workflow_runs WHERE id = $1 FOR UPDATE"},
    {"lock_execution",
     "SELECT e.status, e.attempt, e.claimed_by, e.repository_id::text,"
     " e.agent_type, e.lease_expires_at < clock_timestamp()"
     " FROM agent_executions e WHERE e.id = $2 AND e.user_id = $1"
     " FOR UPDATE"},
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
     " lease_expires_at = CASE WHEN $3 = 'running'"
     " THEN clock_timestamp() + $9::integer * interval '1 second' END,"
     " updated_at = clock_timestamp()"
     " FROM repositories r WHERE r.id = e.repository_id AND e.id = $2"
     " AND e.user_id = $1 RETURNING " +
       columns + change_tail},
    {"extend_lease",
     "UPDATE agent_executions SET"
     " lease_expires_at = clock_timestamp() + $2::integer * interval '1 "
     "second',"
     " progress = COALESCE($3, progress), updated_at = clock_timestamp()"
     " WHERE id = $1 RETURNING rfc3339(lease_expires_at)"},
    // Candidates in the order every sweeper locks them (run, then
    // execution), so concurrent sweepers cannot deadlock.
    {"expired_leases",
     "SELECT id, workflow_run_id FROM agent_executions"
     " WHERE status = 'running' AND lease_expires_at < clock_timestamp()"
     " ORDER BY workflow_run_id NULLS FIRST, id LIMIT $1"},
    // Re-checked under the row lock: an expiry another sweeper handled no
    // longer matches, so each happens once.
    {"expire_lease",
     "UPDATE agent_executions AS e SET"
     " status = CASE WHEN e.attempt >= $2 THEN 'failed' ELSE 'pending' END,"
     " error_message = CASE WHEN e.attempt >= $2 THEN 'lease expired'"
     " ELSE e.error_message END,"
     " completed_at = CASE WHEN e.attempt >= $2 THEN clock_timestamp() END,"
     " started_at = CASE WHEN e.attempt >= $2 THEN e.started_at END,"
     " claimed_by = CASE WHEN e.attempt >= $2 THEN e.claimed_by END,"
     " progress = CASE WHEN e.attempt >= $2 THEN e.progress END,"
     " attempt = CASE WHEN e.attempt >= $2 THEN e.attempt"
     " ELSE e.attempt + 1 END,"
     " lease_expires_at = NULL, updated_at = clock_timestamp()"
     " FROM repositories r WHERE r.id = e.repository_id AND e.id = $1"
     " AND e.status = 'running' AND e.lease_expires_at < clock_timestamp()"
     " RETURNING " +
       columns + change_tail},
    {"retry_source", "SELECT e.status, r.is_active FROM agent_executions e"
                     " JOIN repositories r ON r.id = e.repository_id"
                     " WHERE e.id = $2 AND e.user_id = $1"},
    {"retry_execution",
     "INSERT INTO agent_executions AS e (user_id, repository_id, agent_type,"
     " issue_number, options, retry_of) SELECT o.user_id, o.repository_id,"
     " o.agent_type, o.issue_number, o.options, o.id FROM agent_executions o"
     " WHERE o.id = $2 AND o.user_id = $1 RETURNING " +
       columns},
    {"execution_scope",
     "SELECT repository_id::text, agent_type FROM agent_executions"
     " WHERE id = $2 AND user_id = $1"},
    {"append_log",
     "INSERT INTO execution_logs AS l (execution_id, level, message, metadata)"
     " SELECT e.id, $3, $4, $5::jsonb FROM agent_executions e"
     " WHERE e.id = $2 AND e.user_id = $1 RETURNING " +
       log_columns},
    {"list_logs",
     "SELECT " + log_columns +
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
    return execution_row().read(found[0]);
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
    page.items.push_back(execution_row().read(r));
  }
  return page;
}

caf::expected<std::optional<agent_execution>>
find_execution(pqxx::transaction_base& tx, const std::string& user_id,
               const std::string& id) {
  auto rows = tx.exec_prepared("find_execution", user_id, id);
  if (rows.empty())
    return std::optional<agent_execution>{};
  return std::optional<agent_execution>{execution_row().read(rows[0])};
}

caf::expected<std::optional<execution_change>>
claim_execution(pqxx::transaction_base& tx, const std::string& user_id,
                const claim_request& req, const lease_policy& lease) {
  std::vector<std::string> types = req.agent_types;
  std::vector<std::string> repositories;
  std::optional<std::string> worker_id;
  if (req.worker) {
    const auto& scope = *req.worker;
    worker_id = scope.token_id;
    if (!scope.agent_types.empty()) {
      if (types.empty()) {
        types = scope.agent_types;
      } else {
        std::vector<std::string> within;
        for (const auto& t : types)
          if (scope.allows_type(t))
            within.push_back(t);
        if (within.empty())
          return make_error(errc::authorization_error,
                            "none of these agent types is in the worker "
                            "token's scope",
                            "agent_types");
        types = std::move(within);
      }
    }
    if (req.repository_id && !scope.allows_repository(*req.repository_id))
      return make_error(errc::authorization_error,
                        "the repository is outside the worker token's scope",
                        "repository_id");
    if (!req.repository_id)
      repositories = scope.repository_ids;
  }
  if (req.repository_id) {
    if (tx.exec_prepared("active_repository", user_id, *req.repository_id)
          .empty())
      return make_error(errc::not_found, "repository not found",
                        "repository_id");
    repositories = {*req.repository_id};
  }
  std::optional<std::string> type_list;
  if (!types.empty())
    type_list = array_literal(types);
  std::optional<std::string> repository_list;
  if (!repositories.empty())
    repository_list = array_literal(repositories);
  auto rows = tx.exec_prepared("claim_execution", user_id, type_list,
                               repository_list, worker_id, lease.lease_seconds);
  if (rows.empty())
    return std::optional<execution_change>{};
  return std::optional<execution_change>{change_of(rows[0], "pending")};
}

namespace {

/// The locked state of an execution that a worker or user acts on.
struct held_execution {
  std::string status;
  int64_t attempt = 1;
  std::optional<std::string> claimed_by;
  std::string repository_id;
  std::string agent_type;
  bool lease_passed = false;
};

/// Locks the execution (its run first, see workflow_runs.hpp); nothing for
/// another user's or a missing one.
std::optional<held_execution> lock_execution(pqxx::transaction_base& tx,
                                             const std::string& user_id,
                                             const std::string& id,
                                             bool with_run) {
  if (with_run) {
    auto run = tx.exec_prepared("run_of_execution", user_id, id);
    if (run.empty())
      return std::nullopt;
    if (!run[0][0].is_null())
      lock_run(tx, run[0][0].as<std::string>());
  }
  auto rows = tx.exec_prepared("lock_execution", user_id, id);
  if (rows.empty())
    return std::nullopt;
  const auto& r = rows[0];
  held_execution held;
  held.status = r[0].as<std::string>();
  held.attempt = r[1].as<int64_t>();
  held.claimed_by = optional_text(r[2]);
  held.repository_id = r[3].as<std::string>();
  held.agent_type = r[4].as<std::string>();
  held.lease_passed = !r[5].is_null() && r[5].as<bool>();
  return held;
}

caf::error outside_scope() {
  return make_error(errc::authorization_error,
                    "the execution is outside the worker token's scope");
}

caf::error not_held(const held_execution& held, std::string_view why = {}) {
  std::string details =
    "status: " + held.status + ", attempt: " + std::to_string(held.attempt);
  if (!why.empty())
    details += ", " + std::string{why};
  return make_error(errc::conflict,
                    "the execution is no longer held under this attempt; "
                    "stop working on it",
                    std::move(details));
}

/// Whether the caller holds `held` under `attempt`: running, the same
/// attempt, and for a worker its own claim.
caf::error check_holder(const held_execution& held, int64_t attempt,
                        const worker_scope* worker) {
  if (held.status != "running" || held.attempt != attempt)
    return not_held(held);
  if (worker && held.claimed_by != worker->token_id)
    return not_held(held, "claimed by another worker");
  return {};
}

} // namespace

caf::expected<std::vector<execution_change>>
update_execution(pqxx::transaction_base& tx, const std::string& user_id,
                 const std::string& id, const execution_update& u,
                 transition_rule allowed, const worker_scope* worker,
                 const lease_policy& lease) {
  auto held = lock_execution(tx, user_id, id, true);
  if (!held)
    return make_error(errc::not_found, "execution not found");
  if (worker && !worker->allows(held->repository_id, held->agent_type))
    return outside_scope();
  if (worker || u.attempt) {
    if (!u.attempt)
      return make_error(errc::validation_error,
                        "a worker token must send the attempt it holds",
                        "attempt: required");
    if (worker) {
      if (auto err = check_holder(*held, *u.attempt, worker))
        return err;
    } else if (held->attempt != *u.attempt) {
      return not_held(*held);
    }
  }
  if (!allowed(held->status, u.status))
    return make_error(errc::conflict,
                      "an execution cannot go from " + held->status + " to " +
                        u.status,
                      "status");
  auto rows =
    tx.exec_prepared("update_execution", user_id, id, u.status,
                     u.result_summary, u.quality_score, u.pr_number,
                     u.error_message, u.finishes, lease.lease_seconds);
  std::vector<execution_change> changes;
  changes.push_back(change_of(rows.at(0), held->status));
  auto follow_ups = settle_run(tx, changes.front());
  changes.insert(changes.end(), follow_ups.begin(), follow_ups.end());
  return changes;
}

caf::expected<heartbeat_answer>
heartbeat_execution(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& id, const heartbeat& hb,
                    const worker_scope* worker, const lease_policy& lease) {
  // No status changes here, so the run need not be locked.
  auto held = lock_execution(tx, user_id, id, false);
  if (!held)
    return make_error(errc::not_found, "execution not found");
  if (worker && !worker->allows(held->repository_id, held->agent_type))
    return outside_scope();
  if (auto err = check_holder(*held, hb.attempt, worker))
    return err;
  if (held->lease_passed)
    return not_held(*held, "lease expired");
  auto rows =
    tx.exec_prepared("extend_lease", id, lease.lease_seconds, hb.progress);
  if (hb.message)
    tx.exec_prepared("append_log", user_id, id, "INFO", *hb.message,
                     std::optional<std::string>{});
  return heartbeat_answer{rows.at(0)[0].as<std::string>(), "running"};
}

caf::expected<agent_execution> retry_execution(pqxx::transaction_base& tx,
                                               const std::string& user_id,
                                               const std::string& id) {
  auto source = tx.exec_prepared("retry_source", user_id, id);
  if (source.empty())
    return make_error(errc::not_found, "execution not found");
  auto status = source[0][0].as<std::string>();
  if (!source[0][1].as<bool>())
    return make_error(errc::not_found, "repository not found");
  if (status != "failed" && status != "cancelled")
    return make_error(errc::conflict,
                      "only a failed or cancelled execution can be retried",
                      "status: " + status);
  auto rows = tx.exec_prepared("retry_execution", user_id, id);
  return execution_row().read(rows.at(0));
}

caf::expected<lease_sweep> expire_leases(pqxx::transaction_base& tx,
                                         const lease_policy& lease,
                                         int64_t limit) {
  lease_sweep sweep;
  auto candidates = tx.exec_prepared("expired_leases", limit);
  std::optional<std::string> locked_run;
  for (const auto& c : candidates) {
    if (!c[1].is_null()) {
      auto run = c[1].as<std::string>();
      if (run != locked_run) {
        lock_run(tx, run);
        locked_run = std::move(run);
      }
    }
    auto rows = tx.exec_prepared("expire_lease", c[0].as<std::string>(),
                                 lease.max_attempts);
    if (rows.empty())
      continue; // another instance got there first
    auto change = change_of(rows[0], "running");
    ++sweep.expired;
    if (change.execution.status == "pending")
      ++sweep.requeued;
    auto follow_ups = settle_run(tx, change);
    sweep.changes.push_back(std::move(change));
    sweep.changes.insert(sweep.changes.end(), follow_ups.begin(),
                         follow_ups.end());
  }
  return sweep;
}

caf::expected<execution_log> append_log(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const std::string& execution_id,
                                        const new_log& log,
                                        const worker_scope* worker) {
  if (worker) {
    auto scope = tx.exec_prepared("execution_scope", user_id, execution_id);
    if (scope.empty())
      return make_error(errc::not_found, "execution not found");
    if (!worker->allows(scope[0][0].as<std::string>(),
                        scope[0][1].as<std::string>()))
      return outside_scope();
  }
  auto rows = tx.exec_prepared("append_log", user_id, execution_id, log.level,
                               log.message, log.metadata);
  if (rows.empty())
    return make_error(errc::not_found, "execution not found");
  return log_row().read(rows[0]);
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
    result.push_back(log_row().read(r));
  return result;
}

} // namespace miyabi::storage
