// What the actors need to know about an operation: its name (`operation`),
// who may call it, which actor answers it and, for the operations the
// front actor answers itself, the function that does. The HTTP layer's
// descriptor table (http/operations.cpp) sets these per (route, method) and
// copies them into every `api_request`, so the front actor dispatches by
// reading the request, not by a switch over operations.
//
// Plain values and function pointers; read from any thread.
#pragma once

#include <cstdint>

#include <caf/fwd.hpp>

#include "storage/session.hpp"

namespace miyabi::actors {

struct api_call;
struct front_deps;

/// What a request asks the service to do: one value per (route, method).
/// The auth and Telegram actors tell their operations apart by it.
enum class operation : uint8_t {
  health,
  health_live,
  metrics,
  openapi,
  auth_github_start,
  auth_github_callback,
  auth_refresh,
  auth_logout,
  auth_me,
  auth_mock,
  list_repositories,
  create_repository,
  get_repository,
  delete_repository,
  list_agents,
  execute_agent,
  list_executions,
  get_execution,
  claim_execution,
  update_execution,
  append_log,
  list_logs,
  list_workflows,
  create_workflow,
  get_workflow,
  update_workflow,
  delete_workflow,
  dashboard_summary,
  dashboard_recent,
  telegram_webhook,
  telegram_link_create,
  telegram_link_delete,
  create_worker_token,
  list_worker_tokens,
  revoke_worker_token,
  heartbeat_execution,
  retry_execution,
  create_workflow_run,
  list_workflow_runs,
  get_workflow_run,
  cancel_workflow_run,
  create_event_ticket,
  follow_events,
  github_webhook,
};

/// Who may call an operation.
enum class caller : uint8_t {
  anyone,         ///< credentials are not looked at
  user,           ///< a valid access token (401); a worker token gets 403
  user_or_worker, ///< an access token, or a worker token within its scope
  /// like user_or_worker; without credentials the handler checks a ticket
  ticket_or_token,
};

/// Which actor answers an operation.
enum class owner : uint8_t {
  front,    ///< the front actor, through `operation_rules::handler`
  auth,     ///< the auth actor (it keeps the revocation list)
  telegram, ///< the Telegram actor (it keeps the bot's state)
};

/// Answers one call inside the front actor that received it (after
/// authentication when the operation needs a caller). Runs on that actor's
/// thread and must not block: database work goes to a session with
/// `query` / `query_in_session`. Every outcome reaches `call.out`. `self` is
/// null for an operation that runs on the caller's thread
/// (`operation_rules::on_caller_thread`).
using front_handler = void (*)(caf::event_based_actor* self,
                               const front_deps& deps, api_call& call);

/// The actor side of one operation's descriptor.
struct operation_rules {
  caller who = caller::anyone;
  owner by = owner::front;
  /// Set exactly when `by == owner::front`.
  front_handler handler = nullptr;
  /// How its database work may be retried (storage::access); a handler
  /// may choose a stricter mode per request.
  storage::access access = storage::access::read;
  /// The handler reads only constants and atomic state and never uses
  /// `self`: it runs on the thread that dispatches the call (a Pistache
  /// reactor) with no hop to a front actor. Only for operations of the
  /// front that anyone may call (the health probes).
  bool on_caller_thread = false;
};

} // namespace miyabi::actors
