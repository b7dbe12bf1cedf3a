#include "storage/workers.hpp"

#include <pqxx/pqxx>

#include "base/errors.hpp"
#include "storage/rows.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

namespace {

const std::string token_columns = token_row().select_list("t");

std::optional<std::string>
literal_of(const std::optional<std::vector<std::string>>& items) {
  if (!items)
    return std::nullopt;
  return array_literal(*items);
}

} // namespace

const std::vector<statement>& worker_statements() {
  static const std::vector<statement> list = {
    // Serializes token creation per user, so the limit holds.
    {"lock_user", "SELECT 1 FROM users WHERE id = $1 FOR UPDATE"},
    {"count_worker_tokens",
     "SELECT count(*) FROM worker_tokens WHERE user_id = $1"
     " AND revoked_at IS NULL"},
    {"scope_repositories_owned",
     "SELECT (SELECT count(DISTINCT x) FROM unnest($2::uuid[]) x) ="
     " (SELECT count(*) FROM repositories WHERE user_id = $1 AND is_active"
     " AND id = ANY ($2::uuid[]))"},
    {"insert_worker_token",
     std::string{"INSERT INTO worker_tokens AS t (user_id, name, token_hash,"
                 " repository_ids, agent_types) VALUES ($1, $2, $3,"
                 " $4::uuid[], $5::text[]) RETURNING "} +
       token_columns},
    {"list_worker_tokens",
     std::string{"SELECT "} + token_columns +
       " FROM worker_tokens t WHERE t.user_id = $1 AND t.revoked_at IS NULL"
       " ORDER BY t.created_at DESC, t.id DESC"},
    {"revoke_worker_token",
     "UPDATE worker_tokens SET revoked_at = clock_timestamp()"
     " WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL"
     " RETURNING token_hash"},
    {"find_worker_token",
     "SELECT t.id, t.user_id, array_to_string(t.repository_ids, ','),"
     " array_to_string(t.agent_types, ','),"
     " t.last_used_at IS NULL"
     " OR t.last_used_at < clock_timestamp() - interval '60 seconds'"
     " FROM worker_tokens t WHERE t.token_hash = $1"
     " AND t.revoked_at IS NULL"},
    {"touch_worker_token",
     "UPDATE worker_tokens SET last_used_at = clock_timestamp()"
     " WHERE id = $1"},
  };
  return list;
}

caf::expected<worker_token> create_worker_token(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const new_worker_token& input,
                                                const std::string& token_hash) {
  auto repositories = literal_of(input.repository_ids);
  if (repositories &&
      !tx.exec_prepared("scope_repositories_owned", user_id, *repositories)
         .at(0)[0]
         .as<bool>())
    return make_error(errc::not_found, "repository not found",
                      "repository_ids");
  tx.exec_prepared("lock_user", user_id);
  if (tx.exec_prepared("count_worker_tokens", user_id).at(0)[0].as<int64_t>() >=
      max_worker_tokens)
    return make_error(errc::conflict, "too many worker tokens",
                      "at most " + std::to_string(max_worker_tokens) +
                        " live tokens per user; revoke unused ones");
  auto rows =
    tx.exec_prepared("insert_worker_token", user_id, input.name, token_hash,
                     repositories, literal_of(input.agent_types));
  return token_row().read(rows.at(0));
}

caf::expected<std::vector<worker_token>>
list_worker_tokens(pqxx::transaction_base& tx, const std::string& user_id) {
  std::vector<worker_token> tokens;
  for (const auto& r : tx.exec_prepared("list_worker_tokens", user_id))
    tokens.push_back(token_row().read(r));
  return tokens;
}

caf::expected<std::optional<std::string>>
revoke_worker_token(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& id) {
  auto rows = tx.exec_prepared("revoke_worker_token", user_id, id);
  if (rows.empty())
    return std::optional<std::string>{};
  return std::optional<std::string>{rows[0][0].as<std::string>()};
}

caf::expected<std::optional<worker_identity>>
find_worker_token(pqxx::transaction_base& tx, const std::string& token_hash) {
  auto rows = tx.exec_prepared("find_worker_token", token_hash);
  if (rows.empty())
    return std::optional<worker_identity>{};
  const auto& r = rows[0];
  worker_identity who;
  who.scope.token_id = r[0].as<std::string>();
  who.user_id = r[1].as<std::string>();
  who.scope.repository_ids =
    split_list(r[2]).value_or(std::vector<std::string>{});
  who.scope.agent_types = split_list(r[3]).value_or(std::vector<std::string>{});
  if (r[4].as<bool>())
    tx.exec_prepared("touch_worker_token", who.scope.token_id);
  return std::optional<worker_identity>{std::move(who)};
}

} // namespace miyabi::storage
