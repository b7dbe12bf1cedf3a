#include "storage/dashboard.hpp"

#include <pqxx/pqxx>

#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

const std::vector<statement>& dashboard_statements() {
  static const std::vector<statement> list = {
    {"dashboard_summary",
     "SELECT count(e.id),"
     " count(e.id) FILTER (WHERE e.status = 'pending'),"
     " count(e.id) FILTER (WHERE e.status = 'running'),"
     " count(e.id) FILTER (WHERE e.status = 'completed'),"
     " count(e.id) FILTER (WHERE e.status = 'failed'),"
     " count(e.id) FILTER (WHERE e.status = 'cancelled'),"
     " count(e.id) FILTER (WHERE e.status = 'blocked'),"
     " (SELECT count(*) FROM repositories"
     " WHERE user_id = $1 AND is_active),"
     " count(e.pr_number)"
     " FROM agent_executions e JOIN repositories r"
     " ON r.id = e.repository_id AND r.is_active WHERE e.user_id = $1"},
    {"dashboard_recent",
     "SELECT " + execution_row().select_list("e") +
       ", r.owner, r.name FROM agent_executions e JOIN repositories r"
       " ON r.id = e.repository_id AND r.is_active WHERE e.user_id = $1"
       " ORDER BY e.created_at DESC, e.id DESC LIMIT $2"},
  };
  return list;
}

caf::expected<dashboard_summary> summarize(pqxx::transaction_base& tx,
                                           const std::string& user_id) {
  auto r = tx.exec_prepared("dashboard_summary", user_id).at(0);
  dashboard_summary s;
  s.total_executions = r[0].as<int64_t>();
  s.pending_executions = r[1].as<int64_t>();
  s.running_executions = r[2].as<int64_t>();
  s.completed_executions = r[3].as<int64_t>();
  s.failed_executions = r[4].as<int64_t>();
  s.cancelled_executions = r[5].as<int64_t>();
  s.blocked_executions = r[6].as<int64_t>();
  s.total_repositories = r[7].as<int64_t>();
  s.total_prs_created = r[8].as<int64_t>();
  return s;
}

caf::expected<std::vector<recent_execution>>
recent_executions(pqxx::transaction_base& tx, const std::string& user_id,
                  int64_t limit) {
  std::vector<recent_execution> result;
  for (const auto& r : tx.exec_prepared("dashboard_recent", user_id, limit))
    result.push_back({execution_row().read(r),
                      r[execution_row().size()].as<std::string>(),
                      r[execution_row().size() + 1].as<std::string>()});
  return result;
}

} // namespace miyabi::storage
