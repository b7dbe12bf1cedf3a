#include "storage/repositories.hpp"

#include <pqxx/pqxx>

#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string columns = repository_row().select_list();

} // namespace

const std::vector<statement>& repository_statements() {
  static const std::vector<statement> list = {
    {"list_repositories",
     "SELECT " + columns +
       " FROM repositories WHERE user_id = $1 AND is_active"
       " ORDER BY updated_at DESC, id DESC LIMIT 1000"},
    // xmax = 0 only for a freshly inserted row: 201 versus 200.
    {"upsert_repository",
     std::string{"INSERT INTO repositories"
                 " (user_id, owner, name, github_repo_id, default_branch)"
                 " VALUES ($1, $2, $3, $4, COALESCE($5, 'main'))"
                 " ON CONFLICT (user_id, lower(owner), lower(name)) DO UPDATE"
                 " SET is_active = true, updated_at = CASE"
                 " WHEN repositories.is_active THEN repositories.updated_at"
                 " ELSE now() END RETURNING "} +
       columns + ", xmax = 0"},
    {"find_repository",
     "SELECT " + columns +
       " FROM repositories WHERE id = $2 AND user_id = $1 AND is_active"},
    {"deactivate_repository",
     "UPDATE repositories SET is_active = false, updated_at = now()"
     " WHERE id = $2 AND user_id = $1 AND is_active"},
  };
  return list;
}

caf::expected<std::vector<repository>>
list_repositories(pqxx::transaction_base& tx, const std::string& user_id) {
  std::vector<repository> result;
  for (const auto& r : tx.exec_prepared("list_repositories", user_id))
    result.push_back(repository_row().read(r));
  return result;
}

caf::expected<repository_upsert>
upsert_repository(pqxx::transaction_base& tx, const std::string& user_id,
                  const new_repository& input) {
  auto rows =
    tx.exec_prepared("upsert_repository", user_id, input.owner, input.name,
                     input.github_repo_id, input.default_branch);
  return repository_upsert{repository_row().read(rows.at(0)),
                           rows.at(0)[8].as<bool>()};
}

caf::expected<std::optional<repository>>
find_repository(pqxx::transaction_base& tx, const std::string& user_id,
                const std::string& id) {
  auto rows = tx.exec_prepared("find_repository", user_id, id);
  if (rows.empty())
    return std::optional<repository>{};
  return std::optional<repository>{repository_row().read(rows[0])};
}

caf::expected<bool> deactivate_repository(pqxx::transaction_base& tx,
                                          const std::string& user_id,
                                          const std::string& id) {
  return tx.exec_prepared("deactivate_repository", user_id, id)
           .affected_rows() > 0;
}

} // namespace miyabi::storage
