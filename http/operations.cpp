#include "http/operations.hpp"

#include <array>
#include <map>
#include <stdexcept>
#include <string>

#include "actors/auth.hpp"
#include "actors/handlers.hpp"
#include "actors/telegram.hpp"
#include "http/openapi.hpp"

namespace miyabi::http {

namespace {

using actors::caller;
using actors::front_handler;
using actors::owner;
using storage::access;

/// Builds one descriptor; each modifier states one rule.
struct entry {
  operation_descriptor d;

  entry(std::string_view id, method verb, std::string_view route) {
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
  /// Answered by `h` in the auth actor.
  entry& run(actors::auth_handler h) {
    d.rules.by = owner::auth;
    d.rules.auth = h;
    return *this;
  }
  /// Answered by `h` in the Telegram actor.
  entry& run(actors::telegram_handler h) {
    d.rules.by = owner::telegram;
    d.rules.telegram = h;
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
  namespace auth = actors::auth_ops;
  namespace bot = actors::telegram_ops;
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

  entry openapi{"getOpenApiDocument", get, "/api/v1/openapi.json"};
  openapi.d.local_answer = openapi_answer;
  entry webhook{"receiveTelegramUpdate", post, "/api/v1/telegram/webhook"};
  webhook.run(h::telegram_webhook, write_once).body(in::telegram_update);
  webhook.d.telegram_update = true;
  entry scrape{"getMetrics", get, "/metrics"};
  scrape.run(h::metrics).probe();
  scrape.d.scrape = true;
  entry github{"receiveGithubWebhook", post, "/api/v1/github/webhook"};
  github.run(h::github_webhook, write_once).db().body(in::github_delivery);
  github.d.github_signature = true;
  entry mock{"mockLogin", post, "/api/v1/auth/mock"};
  mock.run(auth::mock).db().body(in::mock_login).limit(login);
  mock.d.mock_only = true;
  entry callback{"completeGithubLogin", get, "/api/v1/auth/github/callback"};
  callback.run(auth::github_callback)
    .db()
    .input(in::github_callback)
    .no_head()
    .limit(login);
  callback.d.login_cookie = true;

  return {
    // -- health, metrics, documentation --------------------------------------
    entry{"getHealth", get, "/api/v1/health"}
      .run(h::health)
      .probe()
      .on_caller_thread(),
    entry{"getLiveness", get, "/api/v1/health/live"}
      .run(h::health_live)
      .probe()
      .on_caller_thread(),
    scrape,
    openapi,
    // -- authentication ------------------------------------------------------
    entry{"startGithubLogin", get, "/api/v1/auth/github"}
      .run(auth::github_start)
      .db()
      .input(in::github_start)
      .no_head()
      .limit(login),
    callback,
    entry{"refreshTokens", post, "/api/v1/auth/refresh"}
      .run(auth::refresh)
      .db()
      .body(in::refresh)
      .limit(login),
    entry{"logout", post, "/api/v1/auth/logout"}
      .run(auth::logout)
      .user()
      .db()
      .input(in::logout),
    entry{"getCurrentUser", get, "/api/v1/auth/me"}.run(auth::me).user().db(),
    mock,
    // -- repositories --------------------------------------------------------
    entry{"listRepositories", get, "/api/v1/repositories"}
      .run(h::list_repositories)
      .user()
      .db(),
    entry{"createRepository", post, "/api/v1/repositories"}
      .run(h::create_repository, write)
      .user()
      .db()
      .body(in::create_repository),
    entry{"getRepository", get, "/api/v1/repositories/{id}"}
      .run(h::get_repository)
      .user()
      .db(),
    entry{"deleteRepository", del, "/api/v1/repositories/{id}"}
      .run(h::delete_repository, write)
      .user()
      .db(),
    // -- agents and executions -----------------------------------------------
    entry{"listAgents", get, "/api/v1/agents"}.run(h::list_agents),
    entry{"executeAgent", post, "/api/v1/agents/execute"}
      .run(h::execute_agent, write)
      .user()
      .db()
      .body(in::execute_agent),
    entry{"listExecutions", get, "/api/v1/agents/executions"}
      .run(h::list_executions)
      .user()
      .db()
      .input(in::list_executions),
    entry{"claimExecution", post, "/api/v1/agents/executions/claim"}
      .run(h::claim_execution, write_once)
      .user_or_worker()
      .db()
      .input(in::claim),
    entry{"getExecution", get, executions}
      .run(h::get_execution)
      .user_or_worker()
      .db(),
    entry{"updateExecution", patch, executions}
      .run(h::update_execution, write_once)
      .user_or_worker()
      .db()
      .body(in::update_execution),
    entry{"listExecutionLogs", get, logs}
      .run(h::list_logs)
      .user()
      .db()
      .input(in::list_logs),
    entry{"appendExecutionLog", post, logs}
      .run(h::append_log, write_once)
      .user_or_worker()
      .db()
      .body(in::append_log),
    entry{"heartbeatExecution", post,
          "/api/v1/agents/executions/{id}/heartbeat"}
      .run(h::heartbeat_execution, write_once)
      .user_or_worker()
      .db()
      .body(in::heartbeat),
    entry{"retryExecution", post, "/api/v1/agents/executions/{id}/retry"}
      .run(h::retry_execution, write_once)
      .user()
      .db(),
    // -- worker tokens -------------------------------------------------------
    entry{"listWorkerTokens", get, "/api/v1/workers/tokens"}
      .run(h::list_worker_tokens)
      .user()
      .db(),
    entry{"createWorkerToken", post, "/api/v1/workers/tokens"}
      .run(h::create_worker_token, write_once)
      .user()
      .db()
      .body(in::worker_token),
    entry{"getWorkerToken", get, "/api/v1/workers/tokens/{id}"}
      .run(h::get_worker_token)
      .user()
      .db(),
    entry{"revokeWorkerToken", del, "/api/v1/workers/tokens/{id}"}
      .run(h::revoke_worker_token, write)
      .user()
      .db(),
    // -- workflows and their runs --------------------------------------------
    entry{"listWorkflows", get, "/api/v1/workflows"}
      .run(h::list_workflows)
      .user()
      .db()
      .input(in::list_workflows),
    entry{"createWorkflow", post, "/api/v1/workflows"}
      .run(h::create_workflow, write_once)
      .user()
      .db()
      .body(in::workflow),
    entry{"getWorkflow", get, "/api/v1/workflows/{id}"}
      .run(h::get_workflow)
      .user()
      .db(),
    entry{"replaceWorkflow", put, "/api/v1/workflows/{id}"}
      .run(h::update_workflow, write)
      .user()
      .db()
      .body(in::workflow),
    entry{"deleteWorkflow", del, "/api/v1/workflows/{id}"}
      .run(h::delete_workflow, write)
      .user()
      .db(),
    entry{"listWorkflowRuns", get, "/api/v1/workflows/{id}/runs"}
      .run(h::list_workflow_runs)
      .user()
      .db(),
    entry{"createWorkflowRun", post, "/api/v1/workflows/{id}/runs"}
      .run(h::create_workflow_run, write_once)
      .user()
      .db()
      .body(in::workflow_run),
    entry{"getWorkflowRun", get, "/api/v1/workflow-runs/{id}"}
      .run(h::get_workflow_run)
      .user()
      .db(),
    entry{"cancelWorkflowRun", del, "/api/v1/workflow-runs/{id}"}
      .run(h::cancel_workflow_run, write_once)
      .user()
      .db(),
    // -- dashboard -----------------------------------------------------------
    entry{"getDashboardSummary", get, "/api/v1/dashboard/summary"}
      .run(h::dashboard_summary)
      .user()
      .db(),
    entry{"getRecentExecutions", get, "/api/v1/dashboard/recent"}
      .run(h::dashboard_recent)
      .user()
      .db(),
    // -- live events ---------------------------------------------------------
    entry{"createEventTicket", post, "/api/v1/events/ticket"}
      .run(h::create_event_ticket, write_once)
      .user()
      .db(),
    entry{"followEvents", get, "/api/v1/events"}
      .run(h::follow_events, write_once)
      .ticket_or_token()
      .db()
      .no_head()
      .input(in::event_stream),
    // -- Telegram ------------------------------------------------------------
    webhook,
    entry{"createTelegramLinkCode", post, "/api/v1/telegram/link"}
      .run(bot::create_link)
      .user()
      .db(),
    entry{"deleteTelegramLinks", del, "/api/v1/telegram/link"}
      .run(bot::delete_links)
      .user()
      .db(),
    // -- GitHub --------------------------------------------------------------
    github,
  };
}

/// Every operation id is described once and every entry has exactly the
/// work its owner runs; throws std::logic_error otherwise (a programming
/// error, found at start and by the unit tests).
std::map<std::string_view, const operation_descriptor*>
index_of(const std::vector<operation_descriptor>& all) {
  std::map<std::string_view, const operation_descriptor*> result;
  for (const auto& d : all) {
    auto fail = [&](const char* why) {
      throw std::logic_error{"descriptor " + std::string{d.operation_id} + " " +
                             why};
    };
    if (!result.emplace(d.operation_id, &d).second)
      fail("is described twice");
    const auto& r = d.rules;
    bool front = r.handler != nullptr || d.local_answer != nullptr;
    bool owned = (r.by == owner::front && front && !r.auth && !r.telegram) ||
                 (r.by == owner::auth && r.auth && !front && !r.telegram) ||
                 (r.by == owner::telegram && r.telegram && !front && !r.auth);
    if (!owned)
      fail("has no work for its owner, or work for another actor");
    if (r.on_caller_thread && (r.handler == nullptr || r.who != caller::anyone))
      fail("runs on the caller's thread but needs an actor or a caller");
  }
  return result;
}

struct descriptor_table {
  std::vector<operation_descriptor> all = build();
  std::map<std::string_view, const operation_descriptor*> by_id = index_of(all);
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

const operation_descriptor& descriptor_of(std::string_view operation_id) {
  const auto& by_id = table().by_id;
  auto i = by_id.find(operation_id);
  if (i == by_id.end())
    throw std::out_of_range{"no operation " + std::string{operation_id}};
  return *i->second;
}

} // namespace miyabi::http
