// Queries of the live event channel: stream tickets (single use, bound to
// a user, stored as the SHA-256 hex of the ticket) and the event log that
// triggers fill (storage/migrations/0004_event_log.sql). Blocking; run
// inside a transaction on the thread that owns the connection.
//
// Errors: the session's (pqxx exceptions turned into values by the caller).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"
#include "storage/statements.hpp"

namespace miyabi::storage {

/// How long a stream ticket is valid (api.md: 60 s).
constexpr std::chrono::seconds event_ticket_lifetime{60};

/// The NOTIFY channel `sequence_events` wakes the instances on.
constexpr const char* event_channel = "miyabi_events";

/// Stores a ticket whose SHA-256 hex is `ticket_hash` for `user_id`; the
/// answer carries its expiry (the database clock), not the ticket.
caf::expected<event_ticket> create_event_ticket(pqxx::transaction_base& tx,
                                                const std::string& user_id,
                                                const std::string& ticket_hash);

/// Marks the ticket used and returns its user; nothing when it is
/// unknown, used or expired.
caf::expected<std::optional<std::string>>
use_event_ticket(pqxx::transaction_base& tx, const std::string& ticket_hash);

/// Numbers up to `batch` events of finished transactions; the last id
/// handed out, or nothing when another instance is numbering.
std::optional<int64_t> sequence_events(pqxx::transaction_base& tx, int batch);

/// Where the log stands (see event_position).
event_position current_event_position(pqxx::transaction_base& tx);

/// Every user's events with ids above `after`, oldest first, at most
/// `limit`.
std::vector<event_record> events_after(pqxx::transaction_base& tx,
                                       int64_t after, int limit);

/// One user's events with `after < id <= upto` that pass `filter`, oldest
/// first, at most `limit`.
std::vector<event_record> user_events_between(pqxx::transaction_base& tx,
                                              const std::string& user_id,
                                              const event_filter& filter,
                                              int64_t after, int64_t upto,
                                              int limit);

/// Deletes numbered events older than `retention` (a prefix in id order)
/// and moves the purge horizon; the number of rows deleted.
int64_t purge_events(pqxx::transaction_base& tx, std::chrono::hours retention);

const std::vector<statement>& event_statements();

} // namespace miyabi::storage
