// Queries of users and authentication: users (upserted by github_id),
// rotating refresh tokens, the access-token revocation list and the
// server-side state of GitHub logins. Blocking; run inside a transaction on
// a database session's thread. Errors: as storage::session documents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

/// Creates or updates the user with `profile.github_id`. A null email keeps
/// the stored one.
caf::expected<user> upsert_user(pqxx::transaction_base& tx,
                                const user_profile& profile);

/// The user with `id`, or nothing.
caf::expected<std::optional<user>> find_user(pqxx::transaction_base& tx,
                                             const std::string& id);

/// Stores a refresh token; returns its family id.
caf::expected<std::string> store_refresh_token(pqxx::transaction_base& tx,
                                               const refresh_grant& grant);

/// Presents a refresh token: marks it used when valid; revokes its family
/// when it was used before.
caf::expected<refresh_check> present_refresh_token(pqxx::transaction_base& tx,
                                                   const std::string& hash);

/// Revokes the family of a refresh token of `user_id` (logout).
caf::expected<bool> revoke_refresh_family(pqxx::transaction_base& tx,
                                          const std::string& user_id,
                                          const std::string& hash);

/// Adds an access token id to the revocation list until `expires_at`
/// (seconds since the epoch).
caf::expected<bool> revoke_access_token(pqxx::transaction_base& tx,
                                        const std::string& jti,
                                        int64_t expires_at);

struct revocation {
  std::string jti;
  int64_t expires_at = 0;
  double revoked_at = 0; ///< seconds since the epoch (server clock)
};

/// Revocations made after `since` (seconds since the epoch, server clock)
/// that have not expired; `since` 0 returns all of them.
caf::expected<std::vector<revocation>>
revocations_since(pqxx::transaction_base& tx, double since);

/// Stores the state of a new GitHub login (lives 10 minutes).
caf::expected<bool> store_oauth_state(pqxx::transaction_base& tx,
                                      const oauth_state& state);

struct taken_state {
  oauth_state state;
  bool expired = false;
};

/// Takes (deletes) the login state with `state_hash`: each state works once.
caf::expected<std::optional<taken_state>>
take_oauth_state(pqxx::transaction_base& tx, const std::string& state_hash);

} // namespace miyabi::storage
