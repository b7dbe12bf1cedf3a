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
void health(front_handle::pointer self, const front_deps& deps, api_call& call);
void health_live(front_handle::pointer self, const front_deps& deps,
                 api_call& call);
void metrics(front_handle::pointer self, const front_deps& deps,
             api_call& call);
void list_agents(front_handle::pointer self, const front_deps& deps,
                 api_call& call);

// resources.cpp: repositories, executions, logs, workers, workflows, runs,
// dashboard, live event tickets.
void list_repositories(front_handle::pointer self, const front_deps& deps,
                       api_call& call);
void create_repository(front_handle::pointer self, const front_deps& deps,
                       api_call& call);
void get_repository(front_handle::pointer self, const front_deps& deps,
                    api_call& call);
void delete_repository(front_handle::pointer self, const front_deps& deps,
                       api_call& call);
void execute_agent(front_handle::pointer self, const front_deps& deps,
                   api_call& call);
void list_executions(front_handle::pointer self, const front_deps& deps,
                     api_call& call);
void get_execution(front_handle::pointer self, const front_deps& deps,
                   api_call& call);
void claim_execution(front_handle::pointer self, const front_deps& deps,
                     api_call& call);
void update_execution(front_handle::pointer self, const front_deps& deps,
                      api_call& call);
void heartbeat_execution(front_handle::pointer self, const front_deps& deps,
                         api_call& call);
void retry_execution(front_handle::pointer self, const front_deps& deps,
                     api_call& call);
void append_log(front_handle::pointer self, const front_deps& deps,
                api_call& call);
void list_logs(front_handle::pointer self, const front_deps& deps,
               api_call& call);
void create_worker_token(front_handle::pointer self, const front_deps& deps,
                         api_call& call);
void list_worker_tokens(front_handle::pointer self, const front_deps& deps,
                        api_call& call);
void get_worker_token(front_handle::pointer self, const front_deps& deps,
                      api_call& call);
void revoke_worker_token(front_handle::pointer self, const front_deps& deps,
                         api_call& call);
void list_workflows(front_handle::pointer self, const front_deps& deps,
                    api_call& call);
void create_workflow(front_handle::pointer self, const front_deps& deps,
                     api_call& call);
void get_workflow(front_handle::pointer self, const front_deps& deps,
                  api_call& call);
void update_workflow(front_handle::pointer self, const front_deps& deps,
                     api_call& call);
void delete_workflow(front_handle::pointer self, const front_deps& deps,
                     api_call& call);
void create_workflow_run(front_handle::pointer self, const front_deps& deps,
                         api_call& call);
void list_workflow_runs(front_handle::pointer self, const front_deps& deps,
                        api_call& call);
void get_workflow_run(front_handle::pointer self, const front_deps& deps,
                      api_call& call);
void cancel_workflow_run(front_handle::pointer self, const front_deps& deps,
                         api_call& call);
void dashboard_summary(front_handle::pointer self, const front_deps& deps,
                       api_call& call);
void dashboard_recent(front_handle::pointer self, const front_deps& deps,
                      api_call& call);

/// GET /api/v1/events: checks the ticket when no token came, then turns
/// the answer into a stream (`responder::stream`).
void follow_events(front_handle::pointer self, const front_deps& deps,
                   api_call& call);
void create_event_ticket(front_handle::pointer self, const front_deps& deps,
                         api_call& call);

// telegram.cpp: the Telegram webhook. With a database the update is
// recorded and acted on in one transaction and answered from the session;
// in telegram-only mode it goes to the Telegram actor.
void telegram_webhook(front_handle::pointer self, const front_deps& deps,
                      api_call& call);

/// POST /api/v1/github/webhook (signature already checked): records the
/// delivery once, then queues executions for `agent:TYPE` labels or links
/// a pull request to the executions of the issues it names.
void github_webhook(front_handle::pointer self, const front_deps& deps,
                    api_call& call);

} // namespace miyabi::actors::handle
