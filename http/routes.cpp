#include "http/routes.hpp"

#include <mutex>

#include "config/text.hpp"

namespace miyabi::http {

namespace {

using actors::operation;

struct entry {
  method m;
  operation op;
  bool json_body;
  bool database;
  bool head = true; ///< HEAD answers like GET (a GET without side effects)
};

struct route_spec {
  const char* pattern;
  std::vector<entry> entries;
};

// api.md, route by route. HEAD is implied wherever GET is.
std::vector<route_spec> specs() {
  constexpr bool body = true;
  constexpr bool db = true;
  // The GitHub login routes have side effects (a login state row, the
  // code exchange), so HEAD may not run them (api.md, Common rules).
  constexpr bool no_head = false;
  return {
    {"/api/v1/health", {{method::get, operation::health, false, false}}},
    {"/api/v1/health/live",
     {{method::get, operation::health_live, false, false}}},
    {"/metrics", {{method::get, operation::metrics, false, false}}},
    {"/api/v1/openapi.json", {{method::get, operation::openapi, false, false}}},
    {"/api/v1/auth/github",
     {{method::get, operation::auth_github_start, false, db, no_head}}},
    {"/api/v1/auth/github/callback",
     {{method::get, operation::auth_github_callback, false, db, no_head}}},
    {"/api/v1/auth/refresh",
     {{method::post, operation::auth_refresh, body, db}}},
    {"/api/v1/auth/logout",
     {{method::post, operation::auth_logout, false, db}}},
    {"/api/v1/auth/me", {{method::get, operation::auth_me, false, db}}},
    {"/api/v1/auth/mock", {{method::post, operation::auth_mock, body, db}}},
    {"/api/v1/repositories",
     {{method::get, operation::list_repositories, false, db},
      {method::post, operation::create_repository, body, db}}},
    {"/api/v1/repositories/{id}",
     {{method::get, operation::get_repository, false, db},
      {method::del, operation::delete_repository, false, db}}},
    {"/api/v1/agents", {{method::get, operation::list_agents, false, false}}},
    {"/api/v1/agents/execute",
     {{method::post, operation::execute_agent, body, db}}},
    {"/api/v1/agents/executions",
     {{method::get, operation::list_executions, false, db}}},
    {"/api/v1/agents/executions/claim",
     {{method::post, operation::claim_execution, false, db}}},
    {"/api/v1/agents/executions/{id}",
     {{method::get, operation::get_execution, false, db},
      {method::patch, operation::update_execution, body, db}}},
    {"/api/v1/agents/executions/{id}/logs",
     {{method::get, operation::list_logs, false, db},
      {method::post, operation::append_log, body, db}}},
    {"/api/v1/agents/executions/{id}/heartbeat",
     {{method::post, operation::heartbeat_execution, body, db}}},
    {"/api/v1/agents/executions/{id}/retry",
     {{method::post, operation::retry_execution, false, db}}},
    {"/api/v1/workers/tokens",
     {{method::get, operation::list_worker_tokens, false, db},
      {method::post, operation::create_worker_token, body, db}}},
    {"/api/v1/workers/tokens/{id}",
     {{method::del, operation::revoke_worker_token, false, db}}},
    {"/api/v1/workflows",
     {{method::get, operation::list_workflows, false, db},
      {method::post, operation::create_workflow, body, db}}},
    {"/api/v1/workflows/{id}",
     {{method::get, operation::get_workflow, false, db},
      {method::put, operation::update_workflow, body, db},
      {method::del, operation::delete_workflow, false, db}}},
    {"/api/v1/workflows/{id}/runs",
     {{method::get, operation::list_workflow_runs, false, db},
      {method::post, operation::create_workflow_run, body, db}}},
    {"/api/v1/workflow-runs/{id}",
     {{method::get, operation::get_workflow_run, false, db},
      {method::del, operation::cancel_workflow_run, false, db}}},
    {"/api/v1/dashboard/summary",
     {{method::get, operation::dashboard_summary, false, db}}},
    {"/api/v1/dashboard/recent",
     {{method::get, operation::dashboard_recent, false, db}}},
    {"/api/v1/telegram/webhook",
     {{method::post, operation::telegram_webhook, body, false}}},
    {"/api/v1/telegram/link",
     {{method::post, operation::telegram_link_create, false, db},
      {method::del, operation::telegram_link_delete, false, db}}},
  };
}

/// What `configure` chose, read once when `instance()` builds the table.
struct table_setup {
  std::mutex mtx;
  route_options options;
  bool built = false;
};

table_setup& setup() {
  static table_setup instance;
  return instance;
}

} // namespace

std::string_view to_string(method m) {
  static constexpr std::array<std::string_view, method_count> names = {
    "GET",  "POST",    "PUT",   "PATCH",  "DELETE",
    "HEAD", "OPTIONS", "TRACE", "CONNECT"};
  return names[static_cast<size_t>(m)];
}

route_table::route_table(route_options options) {
  for (auto& spec : specs()) {
    route r;
    r.pattern = spec.pattern;
    if (r.pattern == "/api/v1/auth/mock")
      r.enabled = options.auth_mock;
    r.segments = split(std::string_view{r.pattern}.substr(1), '/');
    for (const auto& e : spec.entries)
      r.methods[static_cast<size_t>(e.m)] =
        operation_traits{e.op, e.json_body, e.database, e.head};
    // Allow lists every method the path supports: HEAD with a GET that
    // allows it, OPTIONS.
    const auto& get = r.methods[static_cast<size_t>(method::get)];
    for (size_t i = 0; i < method_count; ++i) {
      auto m = static_cast<method>(i);
      bool allowed = r.methods[i].has_value() || m == method::options ||
                     (m == method::head && get && get->head);
      if (!allowed)
        continue;
      if (!r.allow.empty())
        r.allow += ", ";
      r.allow += to_string(m);
    }
    routes_.push_back(std::move(r));
  }
}

bool route_table::configure(route_options options) {
  auto& s = setup();
  std::lock_guard<std::mutex> guard{s.mtx};
  if (s.built)
    return false;
  s.options = options;
  return true;
}

const route_table& route_table::instance() {
  static const route_table table{[] {
    auto& s = setup();
    std::lock_guard<std::mutex> guard{s.mtx};
    s.built = true;
    return s.options;
  }()};
  return table;
}

route_match route_table::match(std::string_view path) const {
  route_match result;
  result.route = unmatched();
  if (path.empty() || path.front() != '/')
    return result;
  // Split without allocating: compare segment by segment.
  bool matched_with_param = false;
  for (size_t index = 0; index < routes_.size(); ++index) {
    if (!routes_[index].enabled)
      continue;
    const auto& segs = routes_[index].segments;
    std::string_view rest = path.substr(1);
    std::string_view id;
    bool ok = true;
    bool param = false;
    for (size_t s = 0; s < segs.size(); ++s) {
      auto slash = rest.find('/');
      auto seg = rest.substr(0, slash);
      bool last = s + 1 == segs.size();
      if (last != (slash == std::string_view::npos)) {
        ok = false;
        break;
      }
      if (segs[s] == "{id}") {
        if (seg.empty()) {
          ok = false;
          break;
        }
        id = seg;
        param = true;
      } else if (seg != segs[s]) {
        ok = false;
        break;
      }
      rest = last ? std::string_view{} : rest.substr(slash + 1);
    }
    if (!ok)
      continue;
    if (!param)
      return {index, {}}; // A literal route always wins.
    if (!matched_with_param) {
      result = {index, id};
      matched_with_param = true;
    }
  }
  return result;
}

std::optional<operation_traits> route_table::find(size_t route_index,
                                                  method m) const {
  if (route_index >= routes_.size())
    return std::nullopt;
  const auto& r = routes_[route_index];
  if (m != method::head)
    return r.methods[static_cast<size_t>(m)];
  const auto& get = r.methods[static_cast<size_t>(method::get)];
  if (get && get->head)
    return get;
  return std::nullopt;
}

std::string_view route_table::label(size_t index) const {
  if (index < routes_.size())
    return routes_[index].pattern;
  return "unmatched";
}

std::vector<std::string> route_table::labels() const {
  std::vector<std::string> result;
  for (const auto& r : routes_)
    result.push_back(r.pattern);
  result.emplace_back("unmatched");
  return result;
}

} // namespace miyabi::http
