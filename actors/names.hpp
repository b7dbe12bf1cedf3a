// Registry names of the long-lived actors. Supervisors publish their current
// child under these names; clients look them up per request.
#pragma once

#include <caf/atom.hpp>

namespace miyabi::actors::names {

constexpr caf::atom_value metrics = caf::atom("metrics");
constexpr caf::atom_value auth = caf::atom("auth");
constexpr caf::atom_value db = caf::atom("db");
constexpr caf::atom_value outbound = caf::atom("outbound");
constexpr caf::atom_value telegram = caf::atom("telegram");
constexpr caf::atom_value outbox = caf::atom("outbox");
constexpr caf::atom_value leases = caf::atom("leases");

} // namespace miyabi::actors::names
