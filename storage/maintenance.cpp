#include "storage/maintenance.hpp"

#include <pqxx/pqxx>

#include "storage/events.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

const std::vector<statement>& maintenance_statements() {
  static const std::vector<statement> list = {
    {"purge_revoked_tokens",
     "DELETE FROM revoked_tokens WHERE expires_at < now()"},
    {"purge_refresh_tokens",
     "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"},
    {"purge_oauth_states", "DELETE FROM oauth_states WHERE expires_at < now()"},
    {"purge_link_codes",
     "DELETE FROM telegram_link_codes WHERE expires_at < now()"},
    {"purge_idempotency_keys",
     "DELETE FROM idempotency_keys WHERE expires_at < now()"},
    {"purge_telegram_updates",
     "DELETE FROM telegram_updates"
     " WHERE received_at < now() - interval '7 days'"},
    {"purge_event_tickets",
     "DELETE FROM event_tickets WHERE expires_at < now()"},
    {"purge_github_deliveries",
     "DELETE FROM github_deliveries"
     " WHERE received_at < now() - interval '7 days'"},
    {"purge_issue_requests", "DELETE FROM telegram_issue_requests"
                             " WHERE requested_at < now() - interval '1 hour'"},
    {"purge_outbox", "DELETE FROM telegram_outbox WHERE state <> 'pending'"
                     " AND created_at < now() - interval '7 days'"},
  };
  return list;
}

caf::expected<purge_report> purge_expired(pqxx::transaction_base& tx) {
  purge_report report;
  for (const auto& s : maintenance_statements())
    report.rows +=
      static_cast<int64_t>(tx.exec_prepared(s.name).affected_rows());
  return report;
}

void prepare_all(pqxx::connection_base& conn) {
  for (const auto* list :
       {&maintenance_statements(), &user_statements(), &repository_statements(),
        &execution_statements(), &workflow_statements(),
        &dashboard_statements(), &telegram_statements(), &worker_statements(),
        &workflow_run_statements(), &event_statements(), &github_statements()})
    for (const auto& s : *list)
      conn.prepare(s.name, s.sql);
}

} // namespace miyabi::storage
