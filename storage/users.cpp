#include "storage/users.hpp"

#include <pqxx/pqxx>

#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string user_columns = user_row().select_list("users");

} // namespace

const std::vector<statement>& user_statements() {
  static const std::vector<statement> list = {
    {"upsert_user",
     std::string{
       "INSERT INTO users (github_id, login, email, name, avatar_url)"
       " VALUES ($1, $2, $3, $4, $5)"
       " ON CONFLICT (github_id) DO UPDATE SET login = EXCLUDED.login,"
       " email = COALESCE(EXCLUDED.email, users.email),"
       " name = EXCLUDED.name, avatar_url = EXCLUDED.avatar_url,"
       " updated_at = now() RETURNING "} +
       user_columns},
    {"find_user", "SELECT " + user_columns + " FROM users WHERE id = $1"},
    {"store_refresh_token",
     "INSERT INTO refresh_tokens (user_id, token_hash, family_id, expires_at)"
     " VALUES ($1, $2, COALESCE($3::uuid, gen_random_uuid()),"
     " now() + make_interval(secs => $4)) RETURNING family_id"},
    {"rotate_refresh_token",
     "UPDATE refresh_tokens SET rotated_at = now() WHERE token_hash = $1"
     " AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > now()"
     " RETURNING user_id, family_id"},
    {"inspect_refresh_token",
     "SELECT user_id, family_id, rotated_at IS NOT NULL FROM refresh_tokens"
     " WHERE token_hash = $1"},
    {"revoke_refresh_family", "UPDATE refresh_tokens SET revoked_at = now()"
                              " WHERE family_id = $1 AND revoked_at IS NULL"},
    {"revoke_refresh_family_of_user",
     "UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL"
     " AND family_id = (SELECT family_id FROM refresh_tokens"
     " WHERE token_hash = $2 AND user_id = $1)"},
    {"revoke_access_token",
     "INSERT INTO revoked_tokens (jti, expires_at)"
     " VALUES ($1, to_timestamp($2)) ON CONFLICT (jti) DO NOTHING"},
    {"revocations_since",
     "SELECT jti, extract(epoch FROM expires_at)::bigint,"
     " extract(epoch FROM revoked_at)::float8 FROM revoked_tokens"
     " WHERE revoked_at > to_timestamp($1) AND expires_at > now()"
     " ORDER BY revoked_at"},
    {"store_oauth_state",
     "INSERT INTO oauth_states (state_hash, binding_hash, code_verifier,"
     " redirect_path, expires_at)"
     " VALUES ($1, $2, $3, $4, now() + interval '10 minutes')"},
    {"take_oauth_state",
     "DELETE FROM oauth_states WHERE state_hash = $1"
     " RETURNING binding_hash, code_verifier, redirect_path,"
     " expires_at <= now()"},
  };
  return list;
}

caf::expected<user> upsert_user(pqxx::transaction_base& tx,
                                const user_profile& p) {
  auto rows = tx.exec_prepared("upsert_user", p.github_id, p.login, p.email,
                               p.name, p.avatar_url);
  return user_row().read(rows.at(0));
}

caf::expected<std::optional<user>> find_user(pqxx::transaction_base& tx,
                                             const std::string& id) {
  auto rows = tx.exec_prepared("find_user", id);
  if (rows.empty())
    return std::optional<user>{};
  return std::optional<user>{user_row().read(rows[0])};
}

caf::expected<std::string> store_refresh_token(pqxx::transaction_base& tx,
                                               const refresh_grant& g) {
  std::optional<std::string> family;
  if (!g.family_id.empty())
    family = g.family_id;
  auto rows = tx.exec_prepared("store_refresh_token", g.user_id, g.token_hash,
                               family, g.ttl_seconds);
  return rows.at(0)[0].as<std::string>();
}

caf::expected<refresh_check> present_refresh_token(pqxx::transaction_base& tx,
                                                   const std::string& hash) {
  refresh_check check;
  auto rotated = tx.exec_prepared("rotate_refresh_token", hash);
  if (!rotated.empty()) {
    check.outcome = refresh_outcome::rotated;
    check.user_id = rotated[0][0].as<std::string>();
    check.family_id = rotated[0][1].as<std::string>();
    return check;
  }
  auto found = tx.exec_prepared("inspect_refresh_token", hash);
  if (found.empty() || !found[0][2].as<bool>())
    return check; // unknown, expired or revoked
  check.outcome = refresh_outcome::reused;
  check.user_id = found[0][0].as<std::string>();
  check.family_id = found[0][1].as<std::string>();
  tx.exec_prepared("revoke_refresh_family", check.family_id);
  return check;
}

caf::expected<bool> revoke_refresh_family(pqxx::transaction_base& tx,
                                          const std::string& user_id,
                                          const std::string& hash) {
  auto result =
    tx.exec_prepared("revoke_refresh_family_of_user", user_id, hash);
  return result.affected_rows() > 0;
}

caf::expected<bool> revoke_access_token(pqxx::transaction_base& tx,
                                        const std::string& jti,
                                        int64_t expires_at) {
  tx.exec_prepared("revoke_access_token", jti, expires_at);
  return true;
}

caf::expected<std::vector<revocation>>
revocations_since(pqxx::transaction_base& tx, double since) {
  std::vector<revocation> result;
  for (const auto& r : tx.exec_prepared("revocations_since", since))
    result.push_back(
      {r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<double>()});
  return result;
}

caf::expected<bool> store_oauth_state(pqxx::transaction_base& tx,
                                      const oauth_state& s) {
  tx.exec_prepared("store_oauth_state", s.state_hash, s.binding_hash,
                   s.code_verifier, s.redirect_path);
  return true;
}

caf::expected<std::optional<taken_state>>
take_oauth_state(pqxx::transaction_base& tx, const std::string& state_hash) {
  auto rows = tx.exec_prepared("take_oauth_state", state_hash);
  if (rows.empty())
    return std::optional<taken_state>{};
  taken_state taken;
  taken.state.state_hash = state_hash;
  taken.state.binding_hash = rows[0][0].as<std::string>();
  taken.state.code_verifier = rows[0][1].as<std::string>();
  taken.state.redirect_path = rows[0][2].as<std::string>();
  taken.expired = rows[0][3].as<bool>();
  return std::optional<taken_state>{std::move(taken)};
}

} // namespace miyabi::storage
