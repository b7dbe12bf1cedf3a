#include "actors/resources.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/bot.hpp"
#include "actors/crypto.hpp"
#include "actors/db.hpp"
#include "actors/rules.hpp"
#include "actors/worker_tokens.hpp"
#include "config/errors.hpp"
#include "metrics/metrics.hpp"
#include "storage/dashboard.hpp"
#include "storage/executions.hpp"
#include "storage/repositories.hpp"
#include "storage/telegram.hpp"
#include "storage/workers.hpp"
#include "storage/workflow_runs.hpp"
#include "storage/workflows.hpp"

namespace miyabi::actors {

namespace {

using pqxx::transaction_base;

/// Runs `work` for the call's user and answers `status` with its value,
/// straight from the database session.
template <class T, class Work>
void answer(caf::event_based_actor* self, api_call& call, const char* label,
            storage::access mode, uint16_t status, Work work) {
  auto out = call.out;
  query_in_session<T>(
    self, call.request.meta, label, mode, std::move(work),
    [out, status](T& value) {
      out->reply({status, std::move(value), {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

/// Like `answer` for lookups: nothing found is 404 `what not found`.
template <class T, class Work>
void answer_found(caf::event_based_actor* self, api_call& call,
                  const char* label, const char* what, Work work) {
  auto out = call.out;
  query_in_session<std::optional<T>>(
    self, call.request.meta, label, storage::access::read, std::move(work),
    [out, what](std::optional<T>& value) {
      if (!value) {
        out->fail(
          make_error(errc::not_found, std::string{what} + " not found"));
        return;
      }
      out->reply({200, std::move(*value), {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

/// Answers 204 when `work` found something to delete, 404 otherwise.
template <class Work>
void answer_deleted(caf::event_based_actor* self, api_call& call,
                    const char* label, const char* what, Work work) {
  auto out = call.out;
  query_in_session<bool>(
    self, call.request.meta, label, storage::access::write, std::move(work),
    [out, what](bool found) {
      if (!found) {
        out->fail(
          make_error(errc::not_found, std::string{what} + " not found"));
        return;
      }
      out->reply({204, {}, {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

const storage::worker_scope* worker_of(const api_call& call) {
  const auto& who = call.request.user;
  return who && who->worker ? &*who->worker : nullptr;
}

/// Runs `work`, which returns the status changes it made (queuing their
/// notices in its transaction), and answers with `reply(changes)` after
/// publishing them.
template <class Work, class Reply>
void change(caf::event_based_actor* self, const resource_deps& deps,
            api_call& call, const char* label, Work work, Reply reply) {
  auto out = call.out;
  auto metrics = deps.metrics;
  query<std::vector<storage::execution_change>>(
    self, call.request.meta, label, storage::access::write_once,
    [work = std::move(work)](transaction_base& tx)
      -> caf::expected<std::vector<storage::execution_change>> {
      auto changes = work(tx);
      if (changes)
        if (auto err = notify(tx, *changes))
          return err;
      return changes;
    },
    [self, out, metrics, reply = std::move(reply)](
      std::vector<storage::execution_change>& changes) {
      publish(self, *metrics, changes);
      out->reply(reply(changes));
    },
    [out](caf::error& err) { out->fail(err); });
}

void claim(caf::event_based_actor* self, const resource_deps& deps,
           api_call& call, const std::string& user) {
  const auto& input = std::get<claim_input>(call.request.input);
  storage::claim_request req;
  req.agent_types = input.agent_types;
  req.repository_id = input.repository_id;
  std::optional<storage::worker_scope> scope;
  if (const auto* worker = worker_of(call))
    scope = *worker;
  auto lease = deps.lease;
  change(
    self, deps, call, "claim_execution",
    [user, req, scope, lease](transaction_base& tx)
      -> caf::expected<std::vector<storage::execution_change>> {
      auto r = req;
      r.worker = scope ? &*scope : nullptr;
      auto claimed = storage::claim_execution(tx, user, r, lease);
      if (!claimed)
        return std::move(claimed.error());
      std::vector<storage::execution_change> changes;
      if (*claimed)
        changes.push_back(std::move(**claimed));
      return changes;
    },
    [](std::vector<storage::execution_change>& changes) -> api_reply {
      if (changes.empty())
        return {204, {}, {}};
      return {200, std::move(changes.front().execution), {}};
    });
}

void update(caf::event_based_actor* self, const resource_deps& deps,
            api_call& call, const std::string& user) {
  auto input = std::get<storage::execution_update>(call.request.input);
  input.finishes = finishing_status(input.status);
  auto id = call.request.path_id;
  std::optional<storage::worker_scope> scope;
  if (const auto* worker = worker_of(call))
    scope = *worker;
  if (scope && !input.attempt) {
    call.out->fail(make_error(errc::validation_error,
                              "a worker token must send the attempt it holds",
                              "attempt: required"));
    return;
  }
  auto lease = deps.lease;
  change(
    self, deps, call, "update_execution",
    [user, id, input, scope, lease](transaction_base& tx) {
      return storage::update_execution(tx, user, id, input, transition_allowed,
                                       scope ? &*scope : nullptr, lease);
    },
    [](std::vector<storage::execution_change>& changes) -> api_reply {
      return {200, std::move(changes.front().execution), {}};
    });
}

void cancel_run(caf::event_based_actor* self, const resource_deps& deps,
                api_call& call, const std::string& user) {
  auto id = call.request.path_id;
  change(
    self, deps, call, "cancel_workflow_run",
    [user, id](transaction_base& tx) {
      return storage::cancel_run(tx, user, id);
    },
    [](std::vector<storage::execution_change>&) -> api_reply {
      return {204, {}, {}};
    });
}

void heartbeat(caf::event_based_actor* self, const resource_deps& deps,
               api_call& call, const std::string& user) {
  auto input = std::get<storage::heartbeat>(call.request.input);
  auto id = call.request.path_id;
  std::optional<storage::worker_scope> scope;
  if (const auto* worker = worker_of(call))
    scope = *worker;
  auto lease = deps.lease;
  answer<storage::heartbeat_answer>(
    self, call, "heartbeat_execution", storage::access::write_once, 200,
    [user, id, input, scope, lease](transaction_base& tx) {
      return storage::heartbeat_execution(tx, user, id, input,
                                          scope ? &*scope : nullptr, lease);
    });
}

/// GET of one execution; a worker sees only its scope (403 beyond).
void get_execution(caf::event_based_actor* self, api_call& call,
                   const std::string& user) {
  auto id = call.request.path_id;
  std::optional<storage::worker_scope> scope;
  if (const auto* worker = worker_of(call))
    scope = *worker;
  answer<storage::agent_execution>(
    self, call, "find_execution", storage::access::read, 200,
    [user, id,
     scope](transaction_base& tx) -> caf::expected<storage::agent_execution> {
      auto found = storage::find_execution(tx, user, id);
      if (!found)
        return std::move(found.error());
      if (!*found)
        return make_error(errc::not_found, "execution not found");
      if (scope &&
          !scope->allows((*found)->repository_id, (*found)->agent_type))
        return make_error(errc::authorization_error,
                          "the execution is outside the worker token's "
                          "scope");
      return std::move(**found);
    });
}

void create_worker_token(caf::event_based_actor* self, api_call& call,
                         const std::string& user) {
  auto input = std::get<storage::new_worker_token>(call.request.input);
  auto token = new_worker_token();
  if (!token) {
    call.out->fail(token.error());
    return;
  }
  auto hash = sha256_hex(*token);
  answer<storage::worker_token>(
    self, call, "create_worker_token", storage::access::write_once, 201,
    [user, input, hash, token = *token](
      transaction_base& tx) -> caf::expected<storage::worker_token> {
      auto created = storage::create_worker_token(tx, user, input, hash);
      if (created)
        created->token = token;
      return created;
    });
}

void revoke_worker_token(caf::event_based_actor* self,
                         const resource_deps& deps, api_call& call,
                         const std::string& user) {
  auto id = call.request.path_id;
  auto out = call.out;
  auto workers = deps.workers;
  query_in_session<std::optional<std::string>>(
    self, call.request.meta, "revoke_worker_token", storage::access::write,
    [user, id](transaction_base& tx) {
      return storage::revoke_worker_token(tx, user, id);
    },
    [out, workers](std::optional<std::string>& hash) {
      if (!hash) {
        out->fail(make_error(errc::not_found, "worker token not found"));
        return;
      }
      workers->forget(*hash);
      out->reply({204, {}, {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

void create_repository(caf::event_based_actor* self, api_call& call,
                       const std::string& user) {
  auto input = std::get<storage::new_repository>(call.request.input);
  auto out = call.out;
  query<storage::repository_upsert>(
    self, call.request.meta, "upsert_repository", storage::access::write,
    [user, input](transaction_base& tx) {
      return storage::upsert_repository(tx, user, input);
    },
    [out](storage::repository_upsert& r) {
      out->reply(
        {static_cast<uint16_t>(r.created ? 201 : 200), std::move(r.repo), {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

} // namespace

bool is_resource_operation(operation op) {
  switch (op) {
    case operation::list_repositories:
    case operation::create_repository:
    case operation::get_repository:
    case operation::delete_repository:
    case operation::execute_agent:
    case operation::list_executions:
    case operation::get_execution:
    case operation::claim_execution:
    case operation::update_execution:
    case operation::append_log:
    case operation::list_logs:
    case operation::list_workflows:
    case operation::create_workflow:
    case operation::get_workflow:
    case operation::update_workflow:
    case operation::delete_workflow:
    case operation::dashboard_summary:
    case operation::dashboard_recent:
    case operation::create_worker_token:
    case operation::list_worker_tokens:
    case operation::revoke_worker_token:
    case operation::heartbeat_execution:
    case operation::retry_execution:
    case operation::create_workflow_run:
    case operation::list_workflow_runs:
    case operation::get_workflow_run:
    case operation::cancel_workflow_run: return true;
    default: return false;
  }
}

bool worker_operation(operation op) {
  return op == operation::claim_execution ||
         op == operation::heartbeat_execution ||
         op == operation::update_execution || op == operation::append_log ||
         op == operation::get_execution;
}

caf::error notify(transaction_base& tx,
                  const std::vector<storage::execution_change>& changes) {
  for (const auto& c : changes) {
    if (!notifies(c.execution.status) ||
        c.previous_status == c.execution.status)
      continue;
    auto queued =
      storage::enqueue_for_user(tx, c.user_id, execution_notice_text(c));
    if (!queued)
      return std::move(queued.error());
  }
  return {};
}

void publish(caf::event_based_actor* self, metrics::service_metrics& metrics,
             const std::vector<storage::execution_change>& changes) {
  if (changes.empty())
    return;
  for (const auto& c : changes)
    metrics.execution_transitions[c.execution.status].Increment();
  if (auto outbox = lookup(self, names::outbox))
    for (const auto& c : changes)
      self->send(outbox, c);
}

void handle_resource(caf::event_based_actor* self, const resource_deps& deps,
                     api_call& call) {
  const auto user = call.request.user->user_id;
  const auto id = call.request.path_id;
  const auto& input = call.request.input;
  switch (call.request.op) {
    case operation::list_repositories:
      answer<std::vector<storage::repository>>(
        self, call, "list_repositories", storage::access::read, 200,
        [user](transaction_base& tx) {
          return storage::list_repositories(tx, user);
        });
      break;
    case operation::create_repository:
      create_repository(self, call, user);
      break;
    case operation::get_repository:
      answer_found<storage::repository>(
        self, call, "find_repository", "repository",
        [user, id](transaction_base& tx) {
          return storage::find_repository(tx, user, id);
        });
      break;
    case operation::delete_repository:
      answer_deleted(self, call, "deactivate_repository", "repository",
                     [user, id](transaction_base& tx) {
                       return storage::deactivate_repository(tx, user, id);
                     });
      break;
    case operation::execute_agent: {
      auto in = std::get<storage::new_execution>(input);
      // With a key a retry cannot create twice; without one it might.
      auto mode = in.idempotency_key.empty() ? storage::access::write_once
                                             : storage::access::write;
      answer<storage::agent_execution>(self, call, "create_execution", mode,
                                       202, [user, in](transaction_base& tx) {
                                         return storage::create_execution(
                                           tx, user, in);
                                       });
      break;
    }
    case operation::list_executions: {
      auto filter = std::get<storage::execution_filter>(input);
      answer<storage::execution_page>(
        self, call, "list_executions", storage::access::read, 200,
        [user, filter](transaction_base& tx) {
          return storage::list_executions(tx, user, filter);
        });
      break;
    }
    case operation::get_execution: get_execution(self, call, user); break;
    case operation::claim_execution: claim(self, deps, call, user); break;
    case operation::update_execution: update(self, deps, call, user); break;
    case operation::heartbeat_execution:
      heartbeat(self, deps, call, user);
      break;
    case operation::retry_execution:
      answer<storage::agent_execution>(
        self, call, "retry_execution", storage::access::write_once, 201,
        [user, id](transaction_base& tx) {
          return storage::retry_execution(tx, user, id);
        });
      break;
    case operation::append_log: {
      auto log = std::get<storage::new_log>(input);
      std::optional<storage::worker_scope> scope;
      if (const auto* worker = worker_of(call))
        scope = *worker;
      answer<storage::execution_log>(
        self, call, "append_log", storage::access::write_once, 201,
        [user, id, log, scope](transaction_base& tx) {
          return storage::append_log(tx, user, id, log,
                                     scope ? &*scope : nullptr);
        });
      break;
    }
    case operation::create_worker_token:
      create_worker_token(self, call, user);
      break;
    case operation::list_worker_tokens:
      answer<std::vector<storage::worker_token>>(
        self, call, "list_worker_tokens", storage::access::read, 200,
        [user](transaction_base& tx) {
          return storage::list_worker_tokens(tx, user);
        });
      break;
    case operation::revoke_worker_token:
      revoke_worker_token(self, deps, call, user);
      break;
    case operation::create_workflow_run: {
      auto in = std::get<storage::new_workflow_run>(input);
      answer<storage::workflow_run>(
        self, call, "create_workflow_run", storage::access::write_once, 201,
        [user, id, in](transaction_base& tx) {
          return storage::create_run(tx, user, id, in);
        });
      break;
    }
    case operation::list_workflow_runs:
      answer<std::vector<storage::workflow_run>>(
        self, call, "list_workflow_runs", storage::access::read, 200,
        [user, id](transaction_base& tx) {
          return storage::list_runs(tx, user, id);
        });
      break;
    case operation::get_workflow_run:
      answer_found<storage::workflow_run>(
        self, call, "find_workflow_run", "workflow run",
        [user, id](transaction_base& tx) {
          return storage::find_run(tx, user, id);
        });
      break;
    case operation::cancel_workflow_run:
      cancel_run(self, deps, call, user);
      break;
    case operation::list_logs: {
      auto filter = std::get<storage::log_filter>(input);
      answer<std::vector<storage::execution_log>>(
        self, call, "list_logs", storage::access::read, 200,
        [user, id, filter](transaction_base& tx) {
          return storage::list_logs(tx, user, id, filter);
        });
      break;
    }
    case operation::list_workflows: {
      auto repo = std::get<list_workflows_input>(input).repository_id;
      answer<std::vector<storage::workflow>>(
        self, call, "list_workflows", storage::access::read, 200,
        [user, repo](transaction_base& tx) {
          return storage::list_workflows(tx, user, repo);
        });
      break;
    }
    case operation::create_workflow: {
      auto in = std::get<storage::workflow_input>(input);
      answer<storage::workflow>(self, call, "create_workflow",
                                storage::access::write_once, 201,
                                [user, in](transaction_base& tx) {
                                  return storage::create_workflow(tx, user, in);
                                });
      break;
    }
    case operation::get_workflow:
      answer_found<storage::workflow>(self, call, "find_workflow", "workflow",
                                      [user, id](transaction_base& tx) {
                                        return storage::find_workflow(tx, user,
                                                                      id);
                                      });
      break;
    case operation::update_workflow: {
      auto in = std::get<storage::workflow_input>(input);
      answer<storage::workflow>(
        self, call, "replace_workflow", storage::access::write, 200,
        [user, id, in](transaction_base& tx) {
          return storage::replace_workflow(tx, user, id, in);
        });
      break;
    }
    case operation::delete_workflow:
      answer_deleted(self, call, "delete_workflow", "workflow",
                     [user, id](transaction_base& tx) {
                       return storage::delete_workflow(tx, user, id);
                     });
      break;
    case operation::dashboard_summary:
      answer<storage::dashboard_summary>(
        self, call, "dashboard_summary", storage::access::read, 200,
        [user](transaction_base& tx) { return storage::summarize(tx, user); });
      break;
    case operation::dashboard_recent:
      answer<std::vector<storage::recent_execution>>(
        self, call, "dashboard_recent", storage::access::read, 200,
        [user](transaction_base& tx) {
          return storage::recent_executions(tx, user);
        });
      break;
    default: call.out->fail(make_error(errc::not_found, "no such route"));
  }
}

} // namespace miyabi::actors
