// The Resources part of api.md (repositories, agent executions and their
// logs, workflows, dashboard): each operation becomes one database job run
// on behalf of the authenticated user, answered through the call's
// responder. Runs inside the front actor that received the call.
//
// Errors reach the responder: not_found for missing or other users' rows,
// conflict / unprocessable_entity from the queries, and the database
// errors of storage::session.
#pragma once

#include <caf/fwd.hpp>

#include "actors/messages.hpp"

namespace miyabi::actors {

/// True for the operations `handle_resource` serves.
bool is_resource_operation(operation op);

/// Serves one resource operation of an authenticated call.
void handle_resource(caf::event_based_actor* self, api_call& call);

} // namespace miyabi::actors
