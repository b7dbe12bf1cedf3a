// Queries of worker tokens: create (stored as the SHA-256 hex of the
// token), list, revoke, and the lookup that verifies a presented token.
// Blocking; run inside a transaction on a database session's thread.
//
// Errors besides the session's: not_found (a repository in the scope that
// is not the user's active repository; a missing, revoked or another
// user's token), conflict (the per-user limit of live tokens).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Live (unrevoked) worker tokens a user may hold at once.
constexpr int64_t max_worker_tokens = 100;

/// Stores a new token whose SHA-256 hex is `token_hash`.
caf::expected<worker_token> create_worker_token(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const new_worker_token& input,
                                                const std::string& token_hash);

/// The user's live tokens, newest first.
caf::expected<std::vector<worker_token>>
list_worker_tokens(pqxx::transaction_base& tx, const std::string& user_id);

/// Revokes a live token; the revoked token's hash (for caches), nothing
/// when there was no such live token of the user.
caf::expected<std::optional<std::string>>
revoke_worker_token(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& id);

/// The owner and scope of the live token with this hash, or nothing.
/// Records its use, at most once a minute.
caf::expected<std::optional<worker_identity>>
find_worker_token(pqxx::transaction_base& tx, const std::string& token_hash);

} // namespace miyabi::storage
