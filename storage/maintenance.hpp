// Housekeeping queries: the purge of expired rows (revoked tokens past their
// expiry, used or expired refresh tokens, OAuth states, link codes,
// idempotency keys, Telegram update ids past the retention, old outbox rows).
// Blocking; call from a database session's thread.
#pragma once

#include <cstdint>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

namespace miyabi::storage {

struct purge_report {
  int64_t rows = 0;
};

/// Deletes expired rows. Telegram update ids are kept for 7 days (Telegram
/// stops redelivering after 24 hours).
caf::expected<purge_report> purge_expired(pqxx::transaction_base& tx);

} // namespace miyabi::storage
