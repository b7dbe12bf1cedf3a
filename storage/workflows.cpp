#include "storage/workflows.hpp"

#include <pqxx/pqxx>

#include "base/errors.hpp"
#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string columns = workflow_row().select_list("w");

} // namespace

const std::vector<statement>& workflow_statements() {
  static const std::vector<statement> list = {
    {"list_workflows", "SELECT " + columns +
                         " FROM workflows w WHERE w.user_id = $1"
                         " AND ($2::uuid IS NULL OR w.repository_id = $2)"
                         " ORDER BY w.created_at DESC, w.id DESC LIMIT 1000"},
    {"create_workflow",
     std::string{"INSERT INTO workflows AS w (user_id, repository_id, name,"
                 " description, dag_definition, is_active)"
                 " SELECT $1, r.id, $3, $4, $5::jsonb, COALESCE($6, true)"
                 " FROM repositories r"
                 " WHERE r.id = $2 AND r.user_id = $1 AND r.is_active"
                 " RETURNING "} +
       columns},
    {"find_workflow", "SELECT " + columns +
                        " FROM workflows w WHERE w.id = $2 AND w.user_id = $1"},
    {"replace_workflow",
     std::string{"UPDATE workflows AS w SET repository_id = $3, name = $4,"
                 " description = $5, dag_definition = $6::jsonb,"
                 " is_active = COALESCE($7, w.is_active),"
                 " updated_at = clock_timestamp()"
                 " WHERE w.id = $2 AND w.user_id = $1 AND EXISTS ("
                 " SELECT 1 FROM repositories r WHERE r.id = $3"
                 " AND r.user_id = $1 AND r.is_active) RETURNING "} +
       columns},
    {"delete_workflow", "DELETE FROM workflows WHERE id = $2 AND user_id = $1"},
  };
  return list;
}

caf::expected<std::vector<workflow>>
list_workflows(pqxx::transaction_base& tx, const std::string& user_id,
               const std::optional<std::string>& repository_id) {
  std::vector<workflow> result;
  for (const auto& r :
       tx.exec_prepared("list_workflows", user_id, repository_id))
    result.push_back(workflow_row().read(r));
  return result;
}

caf::expected<workflow> create_workflow(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const workflow_input& in) {
  auto rows =
    tx.exec_prepared("create_workflow", user_id, in.repository_id, in.name,
                     in.description, in.dag_definition, in.is_active);
  if (rows.empty())
    return make_error(errc::not_found, "repository not found", "repository_id");
  return workflow_row().read(rows[0]);
}

caf::expected<std::optional<workflow>> find_workflow(pqxx::transaction_base& tx,
                                                     const std::string& user_id,
                                                     const std::string& id) {
  auto rows = tx.exec_prepared("find_workflow", user_id, id);
  if (rows.empty())
    return std::optional<workflow>{};
  return std::optional<workflow>{workflow_row().read(rows[0])};
}

caf::expected<workflow> replace_workflow(pqxx::transaction_base& tx,
                                         const std::string& user_id,
                                         const std::string& id,
                                         const workflow_input& in) {
  auto rows =
    tx.exec_prepared("replace_workflow", user_id, id, in.repository_id, in.name,
                     in.description, in.dag_definition, in.is_active);
  if (rows.empty()) {
    if (tx.exec_prepared("find_workflow", user_id, id).empty())
      return make_error(errc::not_found, "workflow not found");
    return make_error(errc::not_found, "repository not found", "repository_id");
  }
  return workflow_row().read(rows[0]);
}

caf::expected<bool> delete_workflow(pqxx::transaction_base& tx,
                                    const std::string& user_id,
                                    const std::string& id) {
  return tx.exec_prepared("delete_workflow", user_id, id).affected_rows() > 0;
}

} // namespace miyabi::storage
