// The operations the front actor answers itself, one `front_handler` each
// (see operation_rules in actors/protocol.hpp), named after the operation. The
// descriptor table of the HTTP layer points at them.
//
// All run on the front actor's thread, never block, and answer through
// `call.out`: the probes and the agent list at once, the resource
// operations from a database session (not_found for missing or other
// users' rows, conflict / unprocessable_entity from the queries, the
// database errors of storage::session), the metrics scrape through the
// metrics actor (401 without the metrics token when one is set).
#pragma once

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"

namespace miyabi::actors::handle {

// front.cpp: probes, the scrape, the static agent list.
void health(caf::event_based_actor* self, const front_deps& deps,
            api_call& call);
void health_live(caf::event_based_actor* self, const front_deps& deps,
                 api_call& call);
void metrics(caf::event_based_actor* self, const front_deps& deps,
             api_call& call);
void list_agents(caf::event_based_actor* self, const front_deps& deps,
                 api_call& call);

// resources.cpp: repositories, executions, logs, workers, workflows, runs,
// dashboard, live event tickets.
void list_repositories(caf::event_based_actor* self, const front_deps& deps,
                       api_call& call);
void create_repository(caf::event_based_actor* self, const front_deps& deps,
                       api_call& call);
void get_repository(caf::event_based_actor* self, const front_deps& deps,
                    api_call& call);
void delete_repository(caf::event_based_actor* self, const front_deps& deps,
                       api_call& call);
void execute_agent(caf::event_based_actor* self, const front_deps& deps,
                   api_call& call);
void list_executions(caf::event_based_actor* self, const front_deps& deps,
                     api_call& call);
void get_execution(caf::event_based_actor* self, const front_deps& deps,
                   api_call& call);
void claim_execution(caf::event_based_actor* self, const front_deps& deps,
                     api_call& call);
void update_execution(caf::event_based_actor* self, const front_deps& deps,
                      api_call& call);
void heartbeat_execution(caf::event_based_actor* self, const front_deps& deps,
                         api_call& call);
void retry_execution(caf::event_based_actor* self, const front_deps& deps,
                     api_call& call);
void append_log(caf::event_based_actor* self, const front_deps& deps,
                api_call& call);
void list_logs(caf::event_based_actor* self, const front_deps& deps,
               api_call& call);
void create_worker_token(caf::event_based_actor* self, const front_deps& deps,
                         api_call& call);
void list_worker_tokens(caf::event_based_actor* self, const front_deps& deps,
                        api_call& call);
void get_worker_token(caf::event_based_actor* self, const front_deps& deps,
                      api_call& call);
void revoke_worker_token(caf::event_based_actor* self, const front_deps& deps,
                         api_call& call);
void list_workflows(caf::event_based_actor* self, const front_deps& deps,
                    api_call& call);
void create_workflow(caf::event_based_actor* self, const front_deps& deps,
                     api_call& call);
void get_workflow(caf::event_based_actor* self, const front_deps& deps,
                  api_call& call);
void update_workflow(caf::event_based_actor* self, const front_deps& deps,
                     api_call& call);
void delete_workflow(caf::event_based_actor* self, const front_deps& deps,
                     api_call& call);
void create_workflow_run(caf::event_based_actor* self, const front_deps& deps,
                         api_call& call);
void list_workflow_runs(caf::event_based_actor* self, const front_deps& deps,
                        api_call& call);
void get_workflow_run(caf::event_based_actor* self, const front_deps& deps,
                      api_call& call);
void cancel_workflow_run(caf::event_based_actor* self, const front_deps& deps,
                         api_call& call);
void dashboard_summary(caf::event_based_actor* self, const front_deps& deps,
                       api_call& call);
void dashboard_recent(caf::event_based_actor* self, const front_deps& deps,
                      api_call& call);

/// GET /api/v1/events: checks the ticket when no token came, then turns
/// the answer into a stream (`responder::stream`).
void follow_events(caf::event_based_actor* self, const front_deps& deps,
                   api_call& call);
void create_event_ticket(caf::event_based_actor* self, const front_deps& deps,
                         api_call& call);

// telegram.cpp: the Telegram webhook. With a database the update is
// recorded and acted on in one transaction and answered from the session;
// in telegram-only mode it goes to the Telegram actor.
void telegram_webhook(caf::event_based_actor* self, const front_deps& deps,
                      api_call& call);

/// POST /api/v1/github/webhook (signature already checked): records the
/// delivery once, then queues executions for `agent:TYPE` labels or links
/// a pull request to the executions of the issues it names.
void github_webhook(caf::event_based_actor* self, const front_deps& deps,
                    api_call& call);

} // namespace miyabi::actors::handle
