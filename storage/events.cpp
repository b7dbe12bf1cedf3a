#include "storage/events.hpp"

#include <pqxx/pqxx>

#include "storage/rows.hpp"

namespace miyabi::storage {

namespace {

const std::string event_columns = event_row().select_list();

std::vector<event_record> events_of(const pqxx::result& rows) {
  std::vector<event_record> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back(event_row().read(r));
  return out;
}

} // namespace

const std::vector<statement>& event_statements() {
  static const std::vector<statement> list = {
    {"insert_event_ticket",
     "INSERT INTO event_tickets (ticket_hash, user_id, expires_at)"
     " VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))"
     " RETURNING rfc3339(expires_at)"},
    {"use_event_ticket",
     "UPDATE event_tickets SET used_at = clock_timestamp()"
     " WHERE ticket_hash = $1 AND used_at IS NULL"
     " AND expires_at > clock_timestamp() RETURNING user_id"},
    {"sequence_events", "SELECT sequence_events($1)"},
    {"event_position", "SELECT (SELECT last_id FROM event_cursor),"
                       " (SELECT purged_through FROM event_horizon)"},
    {"events_after", std::string{"SELECT "} + event_columns +
                       " FROM events WHERE id > $1 ORDER BY id LIMIT $2"},
    {"user_events_between",
     std::string{"SELECT "} + event_columns +
       " FROM events WHERE user_id = $1 AND id > $2 AND id <= $3"
       " AND ($4::uuid IS NULL OR execution_id = $4::uuid)"
       " AND ($5::uuid IS NULL OR repository_id = $5::uuid)"
       " AND ($6::uuid IS NULL OR workflow_run_id = $6::uuid)"
       " ORDER BY id LIMIT $7"},
    // A prefix in id order, so the horizon says exactly what is gone.
    {"purge_events",
     "WITH gone AS (DELETE FROM events WHERE id <= (SELECT max(id) FROM events"
     " WHERE id IS NOT NULL"
     " AND created_at < clock_timestamp() - make_interval(hours => $1))"
     " RETURNING id), moved AS (UPDATE event_horizon"
     " SET purged_through = GREATEST(purged_through,"
     " (SELECT max(id) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone))"
     " SELECT count(*) FROM gone"},
  };
  return list;
}

caf::expected<event_ticket>
create_event_ticket(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& ticket_hash) {
  auto r = tx.exec_prepared1("insert_event_ticket", ticket_hash, user_id,
                             event_ticket_lifetime.count());
  event_ticket t;
  t.expires_at = r[0].as<std::string>();
  return t;
}

caf::expected<std::optional<std::string>>
use_event_ticket(pqxx::transaction_base& tx, const std::string& ticket_hash) {
  auto rows = tx.exec_prepared("use_event_ticket", ticket_hash);
  if (rows.empty())
    return std::optional<std::string>{};
  return std::optional<std::string>{rows[0][0].as<std::string>()};
}

std::optional<int64_t> sequence_events(pqxx::transaction_base& tx, int batch) {
  auto r = tx.exec_prepared1("sequence_events", batch);
  if (r[0].is_null())
    return std::nullopt;
  return r[0].as<int64_t>();
}

event_position current_event_position(pqxx::transaction_base& tx) {
  auto r = tx.exec_prepared1("event_position");
  return {r[0].as<int64_t>(), r[1].as<int64_t>()};
}

std::vector<event_record> events_after(pqxx::transaction_base& tx,
                                       int64_t after, int limit) {
  return events_of(tx.exec_prepared("events_after", after, limit));
}

std::vector<event_record> user_events_between(pqxx::transaction_base& tx,
                                              const std::string& user_id,
                                              const event_filter& filter,
                                              int64_t after, int64_t upto,
                                              int limit) {
  return events_of(tx.exec_prepared("user_events_between", user_id, after, upto,
                                    filter.execution_id, filter.repository_id,
                                    filter.workflow_run_id, limit));
}

int64_t purge_events(pqxx::transaction_base& tx, std::chrono::hours retention) {
  auto r =
    tx.exec_prepared1("purge_events", static_cast<int>(retention.count()));
  return r[0].as<int64_t>();
}

} // namespace miyabi::storage
