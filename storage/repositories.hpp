// Queries of repositories, always scoped to one user: another user's id
// behaves as if it did not exist. Blocking; run inside a transaction on a
// database session's thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Active repositories of the user, most recently updated first.
caf::expected<std::vector<repository>>
list_repositories(pqxx::transaction_base& tx, const std::string& user_id);

/// Creates the repository, or returns the user's existing one (reactivated
/// when it was deleted); `created` tells which.
caf::expected<repository_upsert> upsert_repository(pqxx::transaction_base& tx,
                                                   const std::string& user_id,
                                                   const new_repository& input);

caf::expected<std::optional<repository>>
find_repository(pqxx::transaction_base& tx, const std::string& user_id,
                const std::string& id);

/// Deactivates; false when there was no such active repository.
caf::expected<bool> deactivate_repository(pqxx::transaction_base& tx,
                                          const std::string& user_id,
                                          const std::string& id);

} // namespace miyabi::storage
