#include "http/operations.hpp"

#include <array>
#include <stdexcept>
#include <string>

#include "actors/handlers.hpp"
#include "http/openapi.hpp"

namespace miyabi::http {

namespace {

using actors::caller;
using actors::front_handler;
using actors::operation;
using actors::owner;
using storage::access;

/// Builds one descriptor; each modifier states one rule.
struct entry {
  operation_descriptor d;

  entry(operation op, std::string_view id, method verb,
        std::string_view route) {
    d.op = op;
    d.operation_id = id;
    d.verb = verb;
    d.route = route;
  }

  /// Answered by `h` in the front actor; its database work runs in `mode`.
  entry& run(front_handler h, access mode = access::read) {
    d.rules.by = owner::front;
    d.rules.handler = h;
    d.rules.access = mode;
    return *this;
  }
  entry& owned_by(owner o) {
    d.rules.by = o;
    return *this;
  }
  entry& user() {
    d.rules.who = caller::user;
    return *this;
  }
  entry& user_or_worker() {
    d.rules.who = caller::user_or_worker;
    return *this;
  }
  entry& ticket_or_token() {
    d.rules.who = caller::ticket_or_token;
    return *this;
  }
  /// Needs the database (503 in telegram-only mode).
  entry& db() {
    d.database = true;
    return *this;
  }
  /// Takes input from its query (or an optional body).
  entry& input(input_decoder decoder) {
    d.decode = decoder;
    return *this;
  }
  /// Takes a JSON body (415 without one).
  entry& body(input_decoder decoder) {
    d.decode = decoder;
    d.json_body = true;
    return *this;
  }
  /// A GET with side effects: HEAD may not run it.
  entry& no_head() {
    d.head = false;
    return *this;
  }
  entry& probe() {
    d.probe = true;
    return *this;
  }
  /// Answered on the reactor thread (operation_rules::on_caller_thread).
  entry& on_caller_thread() {
    d.rules.on_caller_thread = true;
    return *this;
  }
  entry& limit(admission_limit l) {
    d.limit = l;
    return *this;
  }
  operator operation_descriptor() const { return d; }
};

actors::api_reply openapi_answer() {
  return {200, domain::json_text{std::string{openapi_document()}}, {}};
}

// api.md, route by route.
std::vector<operation_descriptor> build() {
  namespace h = actors::handle;
  namespace in = decoders;
  constexpr auto get = method::get;
  constexpr auto post = method::post;
  constexpr auto put = method::put;
  constexpr auto patch = method::patch;
  constexpr auto del = method::del;
  constexpr auto write = access::write;
  constexpr auto write_once = access::write_once;
  constexpr auto login = admission_limit::login;
  const auto* executions = "/api/v1/agents/executions/{id}";
  const auto* logs = "/api/v1/agents/executions/{id}/logs";

  entry openapi{operation::openapi, "getOpenApiDocument", get,
                "/api/v1/openapi.json"};
  openapi.d.local_answer = openapi_answer;
  entry webhook{operation::telegram_webhook, "receiveTelegramUpdate", post,
                "/api/v1/telegram/webhook"};
  webhook.run(h::telegram_webhook, write_once).body(in::telegram_update);
  webhook.d.telegram_update = true;
  entry scrape{operation::metrics, "getMetrics", get, "/metrics"};
  scrape.run(h::metrics).probe();
  scrape.d.scrape = true;
  entry github{operation::github_webhook, "receiveGithubWebhook", post,
               "/api/v1/github/webhook"};
  github.run(h::github_webhook, write_once).db().body(in::github_delivery);
  github.d.github_signature = true;
  entry mock{operation::auth_mock, "mockLogin", post, "/api/v1/auth/mock"};
  mock.owned_by(owner::auth).db().body(in::mock_login).limit(login);
  mock.d.mock_only = true;
  entry callback{operation::auth_github_callback, "completeGithubLogin", get,
                 "/api/v1/auth/github/callback"};
  callback.owned_by(owner::auth)
    .db()
    .input(in::github_callback)
    .no_head()
    .limit(login);
  callback.d.login_cookie = true;

  return {
    // -- health, metrics, documentation --------------------------------------
    entry{operation::health, "getHealth", get, "/api/v1/health"}
      .run(h::health)
      .probe()
      .on_caller_thread(),
    entry{operation::health_live, "getLiveness", get, "/api/v1/health/live"}
      .run(h::health_live)
      .probe()
      .on_caller_thread(),
    scrape,
    openapi,
    // -- authentication ------------------------------------------------------
    entry{operation::auth_github_start, "startGithubLogin", get,
          "/api/v1/auth/github"}
      .owned_by(owner::auth)
      .db()
      .input(in::github_start)
      .no_head()
      .limit(login),
    callback,
    entry{operation::auth_refresh, "refreshTokens", post,
          "/api/v1/auth/refresh"}
      .owned_by(owner::auth)
      .db()
      .body(in::refresh)
      .limit(login),
    entry{operation::auth_logout, "logout", post, "/api/v1/auth/logout"}
      .owned_by(owner::auth)
      .user()
      .db()
      .input(in::logout),
    entry{operation::auth_me, "getCurrentUser", get, "/api/v1/auth/me"}
      .owned_by(owner::auth)
      .user()
      .db(),
    mock,
    // -- repositories --------------------------------------------------------
    entry{operation::list_repositories, "listRepositories", get,
          "/api/v1/repositories"}
      .run(h::list_repositories)
      .user()
      .db(),
    entry{operation::create_repository, "createRepository", post,
          "/api/v1/repositories"}
      .run(h::create_repository, write)
      .user()
      .db()
      .body(in::create_repository),
    entry{operation::get_repository, "getRepository", get,
          "/api/v1/repositories/{id}"}
      .run(h::get_repository)
      .user()
      .db(),
    entry{operation::delete_repository, "deleteRepository", del,
          "/api/v1/repositories/{id}"}
      .run(h::delete_repository, write)
      .user()
      .db(),
    // -- agents and executions -----------------------------------------------
    entry{operation::list_agents, "listAgents", get, "/api/v1/agents"}.run(
      h::list_agents),
    entry{operation::execute_agent, "executeAgent", post,
          "/api/v1/agents/execute"}
      .run(h::execute_agent, write)
      .user()
      .db()
      .body(in::execute_agent),
    entry{operation::list_executions, "listExecutions", get,
          "/api/v1/agents/executions"}
      .run(h::list_executions)
      .user()
      .db()
      .input(in::list_executions),
    entry{operation::claim_execution, "claimExecution", post,
          "/api/v1/agents/executions/claim"}
      .run(h::claim_execution, write_once)
      .user_or_worker()
      .db()
      .input(in::claim),
    entry{operation::get_execution, "getExecution", get, executions}
      .run(h::get_execution)
      .user_or_worker()
      .db(),
    entry{operation::update_execution, "updateExecution", patch, executions}
      .run(h::update_execution, write_once)
      .user_or_worker()
      .db()
      .body(in::update_execution),
    entry{operation::list_logs, "listExecutionLogs", get, logs}
      .run(h::list_logs)
      .user()
      .db()
      .input(in::list_logs),
    entry{operation::append_log, "appendExecutionLog", post, logs}
      .run(h::append_log, write_once)
      .user_or_worker()
      .db()
      .body(in::append_log),
    entry{operation::heartbeat_execution, "heartbeatExecution", post,
          "/api/v1/agents/executions/{id}/heartbeat"}
      .run(h::heartbeat_execution, write_once)
      .user_or_worker()
      .db()
      .body(in::heartbeat),
    entry{operation::retry_execution, "retryExecution", post,
          "/api/v1/agents/executions/{id}/retry"}
      .run(h::retry_execution, write_once)
      .user()
      .db(),
    // -- worker tokens -------------------------------------------------------
    entry{operation::list_worker_tokens, "listWorkerTokens", get,
          "/api/v1/workers/tokens"}
      .run(h::list_worker_tokens)
      .user()
      .db(),
    entry{operation::create_worker_token, "createWorkerToken", post,
          "/api/v1/workers/tokens"}
      .run(h::create_worker_token, write_once)
      .user()
      .db()
      .body(in::worker_token),
    entry{operation::revoke_worker_token, "revokeWorkerToken", del,
          "/api/v1/workers/tokens/{id}"}
      .run(h::revoke_worker_token, write)
      .user()
      .db(),
    // -- workflows and their runs --------------------------------------------
    entry{operation::list_workflows, "listWorkflows", get, "/api/v1/workflows"}
      .run(h::list_workflows)
      .user()
      .db()
      .input(in::list_workflows),
    entry{operation::create_workflow, "createWorkflow", post,
          "/api/v1/workflows"}
      .run(h::create_workflow, write_once)
      .user()
      .db()
      .body(in::workflow),
    entry{operation::get_workflow, "getWorkflow", get, "/api/v1/workflows/{id}"}
      .run(h::get_workflow)
      .user()
      .db(),
    entry{operation::update_workflow, "replaceWorkflow", put,
          "/api/v1/workflows/{id}"}
      .run(h::update_workflow, write)
      .user()
      .db()
      .body(in::workflow),
    entry{operation::delete_workflow, "deleteWorkflow", del,
          "/api/v1/workflows/{id}"}
      .run(h::delete_workflow, write)
      .user()
      .db(),
    entry{operation::list_workflow_runs, "listWorkflowRuns", get,
          "/api/v1/workflows/{id}/runs"}
      .run(h::list_workflow_runs)
      .user()
      .db(),
    entry{operation::create_workflow_run, "createWorkflowRun", post,
          "/api/v1/workflows/{id}/runs"}
      .run(h::create_workflow_run, write_once)
      .user()
      .db()
      .body(in::workflow_run),
    entry{operation::get_workflow_run, "getWorkflowRun", get,
          "/api/v1/workflow-runs/{id}"}
      .run(h::get_workflow_run)
      .user()
      .db(),
    entry{operation::cancel_workflow_run, "cancelWorkflowRun", del,
          "/api/v1/workflow-runs/{id}"}
      .run(h::cancel_workflow_run, write_once)
      .user()
      .db(),
    // -- dashboard -----------------------------------------------------------
    entry{operation::dashboard_summary, "getDashboardSummary", get,
          "/api/v1/dashboard/summary"}
      .run(h::dashboard_summary)
      .user()
      .db(),
    entry{operation::dashboard_recent, "getRecentExecutions", get,
          "/api/v1/dashboard/recent"}
      .run(h::dashboard_recent)
      .user()
      .db(),
    // -- live events ---------------------------------------------------------
    entry{operation::create_event_ticket, "createEventTicket", post,
          "/api/v1/events/ticket"}
      .run(h::create_event_ticket, write_once)
      .user()
      .db(),
    entry{operation::follow_events, "followEvents", get, "/api/v1/events"}
      .run(h::follow_events, write_once)
      .ticket_or_token()
      .db()
      .no_head()
      .input(in::event_stream),
    // -- Telegram ------------------------------------------------------------
    webhook,
    entry{operation::telegram_link_create, "createTelegramLinkCode", post,
          "/api/v1/telegram/link"}
      .owned_by(owner::telegram)
      .user()
      .db(),
    entry{operation::telegram_link_delete, "deleteTelegramLinks", del,
          "/api/v1/telegram/link"}
      .owned_by(owner::telegram)
      .user()
      .db(),
    // -- GitHub --------------------------------------------------------------
    github,
  };
}

/// Every operation has exactly one entry, indexed by its value, and every
/// entry a way to be answered; throws std::logic_error otherwise (a
/// programming error, found at start and by the unit tests).
std::vector<const operation_descriptor*>
index_of(const std::vector<operation_descriptor>& all) {
  std::vector<const operation_descriptor*> result(all.size(), nullptr);
  for (const auto& d : all) {
    auto i = static_cast<size_t>(d.op);
    if (i >= result.size() || result[i] != nullptr)
      throw std::logic_error{"operation of " + std::string{d.operation_id} +
                             " out of range or described twice"};
    if ((d.rules.by == owner::front) !=
        (d.rules.handler != nullptr || d.local_answer != nullptr))
      throw std::logic_error{"descriptor " + std::string{d.operation_id} +
                             " has no handler or an unused one"};
    if (d.rules.on_caller_thread &&
        (d.rules.handler == nullptr || d.rules.who != caller::anyone))
      throw std::logic_error{"descriptor " + std::string{d.operation_id} +
                             " runs on the caller's thread but needs an "
                             "actor or a caller"};
    result[i] = &d;
  }
  return result;
}

struct descriptor_table {
  std::vector<operation_descriptor> all = build();
  std::vector<const operation_descriptor*> by_operation = index_of(all);
};

const descriptor_table& table() {
  static const descriptor_table instance;
  return instance;
}

} // namespace

std::string_view to_string(method m) {
  static constexpr std::array<std::string_view, method_count> names = {
    "GET",  "POST",    "PUT",   "PATCH",  "DELETE",
    "HEAD", "OPTIONS", "TRACE", "CONNECT"};
  return names[static_cast<size_t>(m)];
}

const std::vector<operation_descriptor>& operations() {
  return table().all;
}

const operation_descriptor& descriptor_of(operation op) {
  return *table().by_operation[static_cast<size_t>(op)];
}

} // namespace miyabi::http
