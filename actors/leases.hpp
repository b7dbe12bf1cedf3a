// The lease sweeper (registered as names::leases, only with a database):
// once a second it puts executions whose lease passed (database clock) back
// to pending, or fails them on their last attempt (storage::expire_leases).
// Every instance runs one; row locks make each expiry happen once however
// many sweep at the same moment, so an expiry is handled within about a
// second of the lease's end as long as one instance is up.
//
// Counts miyabi_lease_expiries_total, miyabi_executions_requeued_total and
// the transitions; queues and announces the Telegram notices of the changes
// like the routes do. A failed sweep is logged and tried again on the next
// tick.
//
// Messages: tick_atom (own timer).
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

leases_handle spawn_lease_sweeper(caf::local_actor* parent,
                                  std::shared_ptr<const config::settings> cfg,
                                  std::shared_ptr<metrics::service_metrics> m);

} // namespace miyabi::actors
