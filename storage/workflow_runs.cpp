#include "storage/workflow_runs.hpp"

#include <map>

#include <pqxx/pqxx>

#include "base/errors.hpp"
#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string run_columns = run_row().select_list("w");

const std::string change_columns =
  execution_row().select_list("e") + ", r.user_id, r.owner, r.name";

workflow_run_node node_of(const pqxx::row& r, pqxx::row::size_type f) {
  return {r[f].as<std::string>(), r[f + 1].as<std::string>(),
          r[f + 2].as<std::string>(), r[f + 3].as<std::string>()};
}

std::vector<execution_change> changes_of(const pqxx::result& rows,
                                         const char* previous_status) {
  std::vector<execution_change> changes;
  for (const auto& r : rows)
    changes.push_back(change_of(r, previous_status));
  return changes;
}

} // namespace

const std::vector<statement>& workflow_run_statements() {
  static const std::vector<statement> list = {
    {"run_source",
     "SELECT w.repository_id, w.is_active, r.is_active FROM workflows w"
     " JOIN repositories r ON r.id = w.repository_id"
     " WHERE w.id = $2 AND w.user_id = $1"},
    {"insert_run",
     "INSERT INTO workflow_runs AS w (user_id, workflow_id, repository_id,"
     " issue_number) VALUES ($1, $2, $3, $4) RETURNING " +
       run_columns},
    // One execution per node, in the graph's order (created_at grows with
    // each row, so claims take roots in that order too).
    {"insert_run_nodes",
     "INSERT INTO agent_executions (user_id, repository_id, agent_type,"
     " issue_number, options, status, workflow_run_id, node_id)"
     " SELECT $1, w.repository_id, n.node->>'agent_type', $3, $4::jsonb,"
     " CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements("
     " COALESCE(w.dag_definition->'edges', '[]')) x"
     " WHERE x->>'to' = n.node->>'id') THEN 'blocked' ELSE 'pending' END,"
     " $5, n.node->>'id' FROM workflows w,"
     " jsonb_array_elements(w.dag_definition->'nodes') WITH ORDINALITY"
     " AS n(node, ord) WHERE w.id = $2 ORDER BY n.ord"},
    {"insert_run_edges",
     "INSERT INTO execution_dependencies (execution_id, depends_on)"
     " SELECT DISTINCT c.id, p.id FROM workflows w,"
     " jsonb_array_elements(COALESCE(w.dag_definition->'edges', '[]')) x"
     " JOIN agent_executions c ON c.workflow_run_id = $2"
     " AND c.node_id = x->>'to'"
     " JOIN agent_executions p ON p.workflow_run_id = $2"
     " AND p.node_id = x->>'from' WHERE w.id = $1"},
    {"find_run", "SELECT " + run_columns +
                   " FROM workflow_runs w WHERE w.id = $2 AND w.user_id = $1"},
    {"run_nodes",
     "SELECT workflow_run_id, node_id, agent_type, id, status"
     " FROM agent_executions WHERE workflow_run_id = ANY ($1::uuid[])"
     " ORDER BY created_at, id"},
    {"workflow_exists",
     "SELECT 1 FROM workflows WHERE id = $2 AND user_id = $1"},
    {"list_runs", "SELECT " + run_columns +
                    " FROM workflow_runs w WHERE w.workflow_id = $2"
                    " AND w.user_id = $1"
                    " ORDER BY w.created_at DESC, w.id DESC LIMIT 100"},
    {"lock_user_run",
     "SELECT status FROM workflow_runs WHERE id = $2 AND user_id = $1"
     " FOR UPDATE"},
    {"cancel_run_nodes",
     "WITH old AS (SELECT id, status FROM agent_executions"
     " WHERE workflow_run_id = $1 AND status IN ('blocked', 'pending',"
     " 'running') FOR UPDATE)"
     " UPDATE agent_executions AS e SET status = 'cancelled',"
     " completed_at = clock_timestamp(), lease_expires_at = NULL,"
     " updated_at = clock_timestamp() FROM old, repositories r"
     " WHERE e.id = old.id AND r.id = e.repository_id RETURNING " +
       change_columns + ", old.status"},
    {"set_run_status",
     "UPDATE workflow_runs SET status = $2, updated_at = clock_timestamp()"
     " WHERE id = $1 AND status = 'running'"},
    // Blocked dependents of $1 whose predecessors have all completed.
    {"release_dependents",
     "UPDATE agent_executions AS e SET status = 'pending',"
     " updated_at = clock_timestamp() FROM repositories r"
     " WHERE r.id = e.repository_id AND e.status = 'blocked'"
     " AND e.id IN (SELECT d.execution_id FROM execution_dependencies d"
     " WHERE d.depends_on = $1)"
     " AND NOT EXISTS (SELECT 1 FROM execution_dependencies d"
     " JOIN agent_executions p ON p.id = d.depends_on"
     " WHERE d.execution_id = e.id AND p.status <> 'completed')"
     " RETURNING " +
       change_columns},
    {"complete_run",
     "UPDATE workflow_runs SET status = 'completed',"
     " updated_at = clock_timestamp() WHERE id = $1 AND status = 'running'"
     " AND NOT EXISTS (SELECT 1 FROM agent_executions"
     " WHERE workflow_run_id = $1 AND status <> 'completed')"},
    // Everything downstream of $1 is still blocked: a dependent becomes
    // pending only once all its predecessors completed.
    {"cancel_downstream",
     "WITH RECURSIVE downstream (id) AS ("
     " SELECT execution_id FROM execution_dependencies WHERE depends_on = $1"
     " UNION SELECT d.execution_id FROM execution_dependencies d"
     " JOIN downstream s ON d.depends_on = s.id)"
     " UPDATE agent_executions AS e SET status = 'cancelled',"
     " error_message = 'a predecessor did not complete',"
     " completed_at = clock_timestamp(), updated_at = clock_timestamp()"
     " FROM downstream, repositories r WHERE e.id = downstream.id"
     " AND r.id = e.repository_id AND e.status = 'blocked' RETURNING " +
       change_columns},
  };
  return list;
}

void lock_run(pqxx::transaction_base& tx, const std::string& run_id) {
  tx.exec_prepared("lock_run", run_id);
}

namespace {

/// Fills the nodes of `runs` (one query for all).
void add_nodes(pqxx::transaction_base& tx, std::vector<workflow_run>& runs) {
  if (runs.empty())
    return;
  std::vector<std::string> ids;
  std::map<std::string, workflow_run*> by_id;
  for (auto& run : runs) {
    ids.push_back(run.id);
    by_id[run.id] = &run;
  }
  for (const auto& r : tx.exec_prepared("run_nodes", array_literal(ids)))
    if (auto i = by_id.find(r[0].as<std::string>()); i != by_id.end())
      i->second->nodes.push_back(node_of(r, 1));
}

} // namespace

caf::expected<workflow_run> create_run(pqxx::transaction_base& tx,
                                       const std::string& user_id,
                                       const std::string& workflow_id,
                                       const new_workflow_run& input) {
  auto source = tx.exec_prepared("run_source", user_id, workflow_id);
  if (source.empty())
    return make_error(errc::not_found, "workflow not found");
  if (!source[0][2].as<bool>())
    return make_error(errc::not_found, "repository not found");
  if (!source[0][1].as<bool>())
    return make_error(errc::conflict, "the workflow is not active",
                      "is_active: false");
  auto repository = source[0][0].as<std::string>();
  std::vector<workflow_run> runs;
  runs.push_back(
    run_row().read(tx.exec_prepared("insert_run", user_id, workflow_id,
                                    repository, input.issue_number)
                     .at(0)));
  const auto& run_id = runs.front().id;
  tx.exec_prepared("insert_run_nodes", user_id, workflow_id, input.issue_number,
                   input.options, run_id);
  tx.exec_prepared("insert_run_edges", workflow_id, run_id);
  add_nodes(tx, runs);
  return std::move(runs.front());
}

caf::expected<std::vector<workflow_run>>
list_runs(pqxx::transaction_base& tx, const std::string& user_id,
          const std::string& workflow_id) {
  if (tx.exec_prepared("workflow_exists", user_id, workflow_id).empty())
    return make_error(errc::not_found, "workflow not found");
  std::vector<workflow_run> runs;
  for (const auto& r : tx.exec_prepared("list_runs", user_id, workflow_id))
    runs.push_back(run_row().read(r));
  add_nodes(tx, runs);
  return runs;
}

caf::expected<std::optional<workflow_run>> find_run(pqxx::transaction_base& tx,
                                                    const std::string& user_id,
                                                    const std::string& run_id) {
  auto rows = tx.exec_prepared("find_run", user_id, run_id);
  if (rows.empty())
    return std::optional<workflow_run>{};
  std::vector<workflow_run> runs{run_row().read(rows[0])};
  add_nodes(tx, runs);
  return std::optional<workflow_run>{std::move(runs.front())};
}

caf::expected<std::vector<execution_change>>
cancel_run(pqxx::transaction_base& tx, const std::string& user_id,
           const std::string& run_id) {
  if (tx.exec_prepared("lock_user_run", user_id, run_id).empty())
    return make_error(errc::not_found, "workflow run not found");
  std::vector<execution_change> changes;
  for (const auto& r : tx.exec_prepared("cancel_run_nodes", run_id))
    changes.push_back(
      change_of(r, r[execution_row().size() + 3].as<std::string>()));
  tx.exec_prepared("set_run_status", run_id, "cancelled");
  return changes;
}

std::vector<execution_change> settle_run(pqxx::transaction_base& tx,
                                         const execution_change& change) {
  const auto& e = change.execution;
  if (!e.workflow_run_id || e.status == change.previous_status)
    return {};
  const auto& run = *e.workflow_run_id;
  if (e.status == "completed") {
    auto released =
      changes_of(tx.exec_prepared("release_dependents", e.id), "blocked");
    tx.exec_prepared("complete_run", run);
    return released;
  }
  if (e.status == "failed" || e.status == "cancelled") {
    auto cancelled =
      changes_of(tx.exec_prepared("cancel_downstream", e.id), "blocked");
    tx.exec_prepared("set_run_status", run, "failed");
    return cancelled;
  }
  return {};
}

} // namespace miyabi::storage
