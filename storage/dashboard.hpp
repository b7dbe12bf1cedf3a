// Dashboard queries: one statement each. Counts cover the user's active
// repositories only. Blocking; run on a database session's thread.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <pqxx/types.hxx>

#include "storage/model.hpp"

namespace miyabi::storage {

caf::expected<dashboard_summary> summarize(pqxx::transaction_base& tx,
                                           const std::string& user_id);

/// The `limit` newest executions in active repositories, with the
/// repository's owner and name (the dashboard shows 20, /runs 5).
caf::expected<std::vector<recent_execution>>
recent_executions(pqxx::transaction_base& tx, const std::string& user_id,
                  int64_t limit);

} // namespace miyabi::storage
