// Queries of workflows, scoped to one user. The graph is validated by the
// caller (actors/rules.hpp) before it gets here. Blocking; run inside a
// transaction on a database session's thread. Errors besides the session's:
// not_found (missing or another user's workflow or repository).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// The user's workflows, newest first, optionally of one repository.
caf::expected<std::vector<workflow>>
list_workflows(pqxx::transaction_base& tx, const std::string& user_id,
               const std::optional<std::string>& repository_id);

caf::expected<workflow> create_workflow(pqxx::transaction_base& tx,
                                        const std::string& user_id,
                                        const workflow_input& input);

caf::expected<std::optional<workflow>> find_workflow(pqxx::transaction_base& tx,
                                                     const std::string& user_id,
                                                     const std::string& id);

/// Replaces name, description, graph, repository (and is_active if given).
caf::expected<workflow> replace_workflow(pqxx::transaction_base& tx,
                                         const std::string& user_id,
                                         const std::string& id,
                                         const workflow_input& input);

/// Deletes; false when there was no such workflow.
caf::expected<bool> delete_workflow(pqxx::transaction_base& tx,
                                    const std::string& user_id,
                                    const std::string& id);

} // namespace miyabi::storage
