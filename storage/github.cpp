#include "storage/github.hpp"

#include <pqxx/pqxx>

#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string columns = execution_row().select_list("e");

std::string issue_array(const std::vector<int64_t>& issues) {
  std::string out = "{";
  for (size_t i = 0; i < issues.size(); ++i)
    out += (i > 0 ? "," : "") + std::to_string(issues[i]);
  return out + "}";
}

} // namespace

const std::vector<statement>& github_statements() {
  static const std::vector<statement> list = {
    {"record_delivery",
     "INSERT INTO github_deliveries (delivery_id, event) VALUES ($1, $2)"
     " ON CONFLICT (delivery_id) DO NOTHING"},
    // One issue at a time across instances: without it, a label and the
    // chat that caused it could both find nothing queued and both insert.
    {"lock_issue",
     "SELECT pg_advisory_xact_lock(hashtextextended(lower($1) || '/'"
     " || lower($2) || '#' || $3::text, 0))"},
    {"queue_issue_executions",
     "INSERT INTO agent_executions AS e (user_id, repository_id, agent_type,"
     " issue_number) SELECT r.user_id, r.id, $4, $3 FROM repositories r"
     " WHERE lower(r.owner) = lower($1) AND lower(r.name) = lower($2)"
     " AND r.is_active AND ($5::uuid IS NULL OR r.user_id = $5)"
     " AND NOT EXISTS (SELECT 1 FROM agent_executions x"
     " WHERE x.repository_id = r.id AND x.issue_number = $3"
     " AND x.agent_type = $4 AND x.status IN ('pending', 'blocked',"
     " 'running')) ORDER BY r.user_id RETURNING " +
       columns},
    {"has_repository",
     "SELECT 1 FROM repositories WHERE user_id = $1"
     " AND lower(owner) = lower($2) AND lower(name) = lower($3)"
     " AND is_active"},
    {"link_pull_request",
     "UPDATE agent_executions e SET pr_number = $4, updated_at = now()"
     " WHERE e.id IN (SELECT DISTINCT ON (x.repository_id, x.issue_number)"
     " x.id FROM agent_executions x JOIN repositories r"
     " ON r.id = x.repository_id WHERE lower(r.owner) = lower($1)"
     " AND lower(r.name) = lower($2) AND r.is_active"
     " AND x.issue_number = ANY ($3::bigint[])"
     " AND x.status IN ('running', 'completed')"
     " ORDER BY x.repository_id, x.issue_number, x.created_at DESC, x.id DESC)"
     " AND e.pr_number IS DISTINCT FROM $4 RETURNING e.id"},
  };
  return list;
}

caf::expected<bool> record_delivery(pqxx::transaction_base& tx,
                                    const std::string& delivery_id,
                                    const std::string& event) {
  return tx.exec_prepared("record_delivery", delivery_id, event)
           .affected_rows() == 1;
}

caf::expected<std::vector<agent_execution>>
queue_issue_executions(pqxx::transaction_base& tx, const std::string& owner,
                       const std::string& name, int64_t issue_number,
                       const std::string& agent_type,
                       const std::optional<std::string>& user_id) {
  tx.exec_prepared("lock_issue", owner, name, issue_number);
  std::vector<agent_execution> result;
  for (const auto& r : tx.exec_prepared("queue_issue_executions", owner, name,
                                        issue_number, agent_type, user_id))
    result.push_back(execution_row().read(r));
  return result;
}

caf::expected<bool> has_repository(pqxx::transaction_base& tx,
                                   const std::string& user_id,
                                   const std::string& owner,
                                   const std::string& name) {
  return !tx.exec_prepared("has_repository", user_id, owner, name).empty();
}

caf::expected<std::vector<std::string>>
link_pull_request(pqxx::transaction_base& tx, const std::string& owner,
                  const std::string& name, const std::vector<int64_t>& issues,
                  int64_t pr_number) {
  std::vector<std::string> ids;
  if (issues.empty())
    return ids;
  for (const auto& r : tx.exec_prepared("link_pull_request", owner, name,
                                        issue_array(issues), pr_number))
    ids.push_back(r[0].as<std::string>());
  return ids;
}

} // namespace miyabi::storage
