#include "actors/resources.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/db.hpp"
#include "actors/front.hpp"
#include "actors/handlers.hpp"
#include "actors/worker_tokens.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "domain/bot.hpp"
#include "domain/rules.hpp"
#include "metrics/metrics.hpp"
#include "storage/dashboard.hpp"
#include "storage/events.hpp"
#include "storage/executions.hpp"
#include "storage/repositories.hpp"
#include "storage/telegram.hpp"
#include "storage/workers.hpp"
#include "storage/workflow_runs.hpp"
#include "storage/workflows.hpp"

namespace miyabi::actors {

namespace {

using pqxx::transaction_base;

/// Runs `work` for the call's user in the operation's access mode (or
/// `mode` when given) and answers `status` with its value, straight from
/// the database session; `sharing` as query_in_session says.
template <class Work>
void answer(front_handle::pointer self, api_call& call, const char* label,
            uint16_t status, Work work,
            std::optional<storage::access> mode = std::nullopt,
            db_sharing sharing = {}) {
  using T = work_value_t<Work>;
  auto out = call.out;
  query_in_session(
    self, call.request.meta, label, mode.value_or(call.request.rules.access),
    std::move(work),
    [out, status](T& value) {
      out->reply({status, std::move(value), {}});
    },
    [out](caf::error& err) { out->fail(err); }, std::move(sharing));
}

/// Like `answer` for lookups: nothing found is 404 `what not found`.
template <class Work>
void answer_found(front_handle::pointer self, api_call& call, const char* label,
                  const char* what, Work work) {
  using T = typename work_value_t<Work>::value_type; // the std::optional's
  auto out = call.out;
  query_in_session(
    self, call.request.meta, label, call.request.rules.access, std::move(work),
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
void answer_deleted(front_handle::pointer self, api_call& call,
                    const char* label, const char* what, Work work) {
  auto out = call.out;
  query_in_session(
    self, call.request.meta, label, call.request.rules.access, std::move(work),
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

/// The scope of the worker token that made the call, if one did.
std::optional<storage::worker_scope> worker_scope_of(const api_call& call) {
  const auto& who = call.request.user;
  if (who && who->worker)
    return *who->worker;
  return std::nullopt;
}

const std::string& user_of(const api_call& call) {
  return call.request.user->user_id;
}

/// Runs `work`, which returns the status changes it made (queuing their
/// notices in its transaction), and answers with `reply(changes)` after
/// publishing them.
template <class Work, class Reply>
void change(front_handle::pointer self, const resource_deps& deps,
            api_call& call, const char* label, Work work, Reply reply) {
  auto out = call.out;
  auto metrics = deps.metrics;
  query(
    self, call.request.meta, label, call.request.rules.access,
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
      publish(self->system(), *metrics, changes);
      out->reply(reply(changes));
    },
    [out](caf::error& err) { out->fail(err); });
}

} // namespace

caf::error notify(transaction_base& tx,
                  const std::vector<storage::execution_change>& changes) {
  for (const auto& c : changes) {
    if (!domain::notifies(c.execution.status) ||
        c.previous_status == c.execution.status)
      continue;
    auto en = domain::execution_notice(c, false);
    auto ja = domain::execution_notice(c, true);
    auto queued =
      storage::enqueue_for_user(tx, c.user_id,
                                {en.text, domain::keyboard_json(en.keyboard),
                                 ja.text, domain::keyboard_json(ja.keyboard)});
    if (!queued)
      return std::move(queued.error());
  }
  return {};
}

void publish(caf::actor_system& system, metrics::service_metrics& metrics,
             const std::vector<storage::execution_change>& changes) {
  if (changes.empty())
    return;
  for (const auto& c : changes)
    metrics.execution_transitions[c.execution.status].Increment();
  if (auto outbox = lookup(system, names::outbox))
    for (const auto& c : changes)
      caf::anon_send(outbox, c);
}

namespace handle {

// -- repositories -------------------------------------------------------------

void list_repositories(front_handle::pointer self, const front_deps&,
                       api_call& call) {
  // The list depends on the user only: identical waiting reads share one
  // query (a dashboard's tabs, a user's polling clients).
  const auto& user = user_of(call);
  answer(
    self, call, "list_repositories", 200,
    [user](transaction_base& tx) {
      return storage::list_repositories(tx, user);
    },
    std::nullopt, db_sharing{db_grouping::alone, "list_repositories " + user});
}

void create_repository(front_handle::pointer self, const front_deps&,
                       api_call& call) {
  auto input = std::get<storage::new_repository>(call.request.input);
  auto out = call.out;
  query(
    self, call.request.meta, "upsert_repository", call.request.rules.access,
    [user = user_of(call), input](transaction_base& tx) {
      return storage::upsert_repository(tx, user, input);
    },
    [out](storage::repository_upsert& r) {
      out->reply(
        {static_cast<uint16_t>(r.created ? 201 : 200), std::move(r.repo), {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

void get_repository(front_handle::pointer self, const front_deps&,
                    api_call& call) {
  answer_found(
    self, call, "find_repository", "repository",
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::find_repository(tx, user, id);
    });
}

void delete_repository(front_handle::pointer self, const front_deps&,
                       api_call& call) {
  answer_deleted(
    self, call, "deactivate_repository", "repository",
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::deactivate_repository(tx, user, id);
    });
}

// -- executions ---------------------------------------------------------------

void execute_agent(front_handle::pointer self, const front_deps&,
                   api_call& call) {
  auto in = std::get<storage::new_execution>(call.request.input);
  // With a key a retry cannot create twice; without one it might.
  std::optional<storage::access> mode;
  if (in.idempotency_key.empty())
    mode = storage::access::write_once;
  answer(
    self, call, "create_execution", 202,
    [user = user_of(call), in](transaction_base& tx) {
      return storage::create_execution(tx, user, in);
    },
    mode);
}

void list_executions(front_handle::pointer self, const front_deps&,
                     api_call& call) {
  answer(self, call, "list_executions", 200,
         [user = user_of(call), filter = std::get<storage::execution_filter>(
                                  call.request.input)](transaction_base& tx) {
           return storage::list_executions(tx, user, filter);
         });
}

/// A worker sees only its scope (403 beyond).
void get_execution(front_handle::pointer self, const front_deps&,
                   api_call& call) {
  answer(self, call, "find_execution", 200,
         [user = user_of(call), id = call.request.path_id,
          scope = worker_scope_of(call)](
           transaction_base& tx) -> caf::expected<storage::agent_execution> {
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

void claim_execution(front_handle::pointer self, const front_deps& deps,
                     api_call& call) {
  const auto& input = std::get<domain::claim_input>(call.request.input);
  storage::claim_request req;
  req.agent_types = input.agent_types;
  req.repository_id = input.repository_id;
  change(
    self, deps.resources, call, "claim_execution",
    [user = user_of(call), req, scope = worker_scope_of(call),
     lease = deps.resources.lease](transaction_base& tx)
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

void update_execution(front_handle::pointer self, const front_deps& deps,
                      api_call& call) {
  auto input = std::get<storage::execution_update>(call.request.input);
  input.finishes = domain::finishing_status(input.status);
  auto scope = worker_scope_of(call);
  if (scope && !input.attempt) {
    call.out->fail(make_error(errc::validation_error,
                              "a worker token must send the attempt it holds",
                              "attempt: required"));
    return;
  }
  change(
    self, deps.resources, call, "update_execution",
    [user = user_of(call), id = call.request.path_id, input, scope,
     lease = deps.resources.lease](transaction_base& tx) {
      return storage::update_execution(tx, user, id, input,
                                       domain::transition_allowed,
                                       scope ? &*scope : nullptr, lease);
    },
    [](std::vector<storage::execution_change>& changes) -> api_reply {
      return {200, std::move(changes.front().execution), {}};
    });
}

void heartbeat_execution(front_handle::pointer self, const front_deps& deps,
                         api_call& call) {
  answer(self, call, "heartbeat_execution", 200,
         [user = user_of(call), id = call.request.path_id,
          input = std::get<storage::heartbeat>(call.request.input),
          scope = worker_scope_of(call),
          lease = deps.resources.lease](transaction_base& tx) {
           return storage::heartbeat_execution(
             tx, user, id, input, scope ? &*scope : nullptr, lease);
         });
}

void retry_execution(front_handle::pointer self, const front_deps&,
                     api_call& call) {
  answer(
    self, call, "retry_execution", 201,
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::retry_execution(tx, user, id);
    });
}

void append_log(front_handle::pointer self, const front_deps&, api_call& call) {
  answer(self, call, "append_log", 201,
         [user = user_of(call), id = call.request.path_id,
          log = std::get<storage::new_log>(call.request.input),
          scope = worker_scope_of(call)](transaction_base& tx) {
           return storage::append_log(tx, user, id, log,
                                      scope ? &*scope : nullptr);
         });
}

void list_logs(front_handle::pointer self, const front_deps&, api_call& call) {
  answer(self, call, "list_logs", 200,
         [user = user_of(call), id = call.request.path_id,
          filter = std::get<storage::log_filter>(call.request.input)](
           transaction_base& tx) {
           return storage::list_logs(tx, user, id, filter);
         });
}

// -- worker tokens ------------------------------------------------------------

void create_worker_token(front_handle::pointer self, const front_deps&,
                         api_call& call) {
  auto token = new_worker_token();
  if (!token) {
    call.out->fail(token.error());
    return;
  }
  answer(self, call, "create_worker_token", 201,
         [user = user_of(call),
          input = std::get<storage::new_worker_token>(call.request.input),
          hash = crypto::sha256_hex(*token), token = *token](
           transaction_base& tx) -> caf::expected<storage::worker_token> {
           auto created = storage::create_worker_token(tx, user, input, hash);
           if (created)
             created->token = token;
           return created;
         });
}

void list_worker_tokens(front_handle::pointer self, const front_deps&,
                        api_call& call) {
  answer(self, call, "list_worker_tokens", 200,
         [user = user_of(call)](transaction_base& tx) {
           return storage::list_worker_tokens(tx, user);
         });
}

void get_worker_token(front_handle::pointer self, const front_deps&,
                      api_call& call) {
  // A user holds a handful of live tokens: one list query, no second
  // statement to keep in step with it.
  auto out = call.out;
  query_in_session(
    self, call.request.meta, "get_worker_token", call.request.rules.access,
    [user = user_of(call)](transaction_base& tx) {
      return storage::list_worker_tokens(tx, user);
    },
    [out, id = call.request.path_id](std::vector<storage::worker_token>& all) {
      for (auto& token : all)
        if (token.id == id) {
          out->reply({200, std::move(token), {}});
          return;
        }
      out->fail(make_error(errc::not_found, "worker token not found"));
    },
    [out](caf::error& err) { out->fail(err); });
}

void revoke_worker_token(front_handle::pointer self, const front_deps& deps,
                         api_call& call) {
  auto out = call.out;
  query_in_session(
    self, call.request.meta, "revoke_worker_token", call.request.rules.access,
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::revoke_worker_token(tx, user, id);
    },
    [out, workers = deps.resources.workers](std::optional<std::string>& hash) {
      if (!hash) {
        out->fail(make_error(errc::not_found, "worker token not found"));
        return;
      }
      workers->forget(*hash);
      out->reply({204, {}, {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

// -- workflows and their runs -------------------------------------------------

void list_workflows(front_handle::pointer self, const front_deps&,
                    api_call& call) {
  answer(self, call, "list_workflows", 200,
         [user = user_of(call),
          repo = std::get<domain::list_workflows_input>(call.request.input)
                   .repository_id](transaction_base& tx) {
           return storage::list_workflows(tx, user, repo);
         });
}

void create_workflow(front_handle::pointer self, const front_deps&,
                     api_call& call) {
  answer(self, call, "create_workflow", 201,
         [user = user_of(call), in = std::get<storage::workflow_input>(
                                  call.request.input)](transaction_base& tx) {
           return storage::create_workflow(tx, user, in);
         });
}

void get_workflow(front_handle::pointer self, const front_deps&,
                  api_call& call) {
  answer_found(
    self, call, "find_workflow", "workflow",
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::find_workflow(tx, user, id);
    });
}

void update_workflow(front_handle::pointer self, const front_deps&,
                     api_call& call) {
  answer(self, call, "replace_workflow", 200,
         [user = user_of(call), id = call.request.path_id,
          in = std::get<storage::workflow_input>(call.request.input)](
           transaction_base& tx) {
           return storage::replace_workflow(tx, user, id, in);
         });
}

void delete_workflow(front_handle::pointer self, const front_deps&,
                     api_call& call) {
  answer_deleted(
    self, call, "delete_workflow", "workflow",
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::delete_workflow(tx, user, id);
    });
}

void create_workflow_run(front_handle::pointer self, const front_deps&,
                         api_call& call) {
  answer(
    self, call, "create_workflow_run", 201,
    [user = user_of(call), id = call.request.path_id,
     in = std::get<storage::new_workflow_run>(call.request.input)](
      transaction_base& tx) { return storage::create_run(tx, user, id, in); });
}

void list_workflow_runs(front_handle::pointer self, const front_deps&,
                        api_call& call) {
  answer(self, call, "list_workflow_runs", 200,
         [user = user_of(call), id = call.request.path_id](
           transaction_base& tx) { return storage::list_runs(tx, user, id); });
}

void get_workflow_run(front_handle::pointer self, const front_deps&,
                      api_call& call) {
  answer_found(
    self, call, "find_workflow_run", "workflow run",
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::find_run(tx, user, id);
    });
}

void cancel_workflow_run(front_handle::pointer self, const front_deps& deps,
                         api_call& call) {
  change(
    self, deps.resources, call, "cancel_workflow_run",
    [user = user_of(call), id = call.request.path_id](transaction_base& tx) {
      return storage::cancel_run(tx, user, id);
    },
    [](std::vector<storage::execution_change>&) -> api_reply {
      return {204, {}, {}};
    });
}

// -- dashboard ----------------------------------------------------------------

void dashboard_summary(front_handle::pointer self, const front_deps&,
                       api_call& call) {
  answer(self, call, "dashboard_summary", 200,
         [user = user_of(call)](transaction_base& tx) {
           return storage::summarize(tx, user);
         });
}

void dashboard_recent(front_handle::pointer self, const front_deps&,
                      api_call& call) {
  answer(self, call, "dashboard_recent", 200,
         [user = user_of(call)](transaction_base& tx) {
           return storage::recent_executions(tx, user, 20);
         });
}

// -- live events --------------------------------------------------------------

void create_event_ticket(front_handle::pointer self, const front_deps&,
                         api_call& call) {
  auto ticket = crypto::random_token(32);
  if (!ticket) {
    call.out->fail(ticket.error());
    return;
  }
  answer(self, call, "create_event_ticket", 201,
         [user = user_of(call), hash = crypto::sha256_hex(*ticket),
          ticket = *ticket](
           transaction_base& tx) -> caf::expected<storage::event_ticket> {
           auto created = storage::create_event_ticket(tx, user, hash);
           if (created)
             created->ticket = ticket;
           return created;
         });
}

void follow_events(front_handle::pointer self, const front_deps&,
                   api_call& call) {
  auto& in = std::get<domain::event_stream_input>(call.request.input);
  stream_request req;
  req.filter = std::move(in.filter);
  req.last_event_id = in.last_event_id;
  if (call.request.user) {
    req.user_id = user_of(call);
    if (auto scope = worker_scope_of(call);
        scope && !scope->repository_ids.empty())
      req.repositories = std::move(scope->repository_ids);
    call.out->stream(std::move(req));
    return;
  }
  if (!in.ticket) {
    call.out->fail(make_error(errc::authentication_error,
                              "missing Authorization header or ticket",
                              "expected: Authorization: Bearer <token>, or "
                              "?ticket= from POST /api/v1/events/ticket"));
    return;
  }
  auto out = call.out;
  query(
    self, call.request.meta, "use_event_ticket", storage::access::write_once,
    [hash = crypto::sha256_hex(*in.ticket)](transaction_base& tx) {
      return storage::use_event_ticket(tx, hash);
    },
    [out, req](std::optional<std::string>& user) mutable {
      if (!user) {
        out->fail(make_error(errc::authentication_error, "invalid ticket",
                             "unknown, used or expired"));
        return;
      }
      req.user_id = std::move(*user);
      out->stream(std::move(req));
    },
    [out](caf::error& err) { out->fail(err); });
}

} // namespace handle

} // namespace miyabi::actors
