// Queries of the live event channel: stream tickets (single use, bound to
// a user, stored as the SHA-256 hex of the ticket). Blocking; run inside a
// transaction on a database session's thread.
//
// Errors: the session's.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

/// How long a stream ticket is valid (api.md: 60 s).
constexpr std::chrono::seconds event_ticket_lifetime{60};

/// Stores a ticket whose SHA-256 hex is `ticket_hash` for `user_id`; the
/// answer carries its expiry (the database clock), not the ticket.
caf::expected<event_ticket> create_event_ticket(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const std::string& ticket_hash);

const std::vector<statement>& event_statements();

} // namespace miyabi::storage
