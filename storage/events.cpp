#include "storage/events.hpp"

#include <pqxx/pqxx>

namespace miyabi::storage {

const std::vector<statement>& event_statements() {
  static const std::vector<statement> list = {
    {"insert_event_ticket",
     "INSERT INTO event_tickets (ticket_hash, user_id, expires_at)"
     " VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))"
     " RETURNING rfc3339(expires_at)"},
  };
  return list;
}

caf::expected<event_ticket>
create_event_ticket(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& ticket_hash) {
  auto r = tx.exec_prepared1("insert_event_ticket", ticket_hash, user_id,
                             event_ticket_lifetime.count());
  event_ticket t;
  t.expires_at = r[0].as<std::string>();
  return t;
}

} // namespace miyabi::storage
