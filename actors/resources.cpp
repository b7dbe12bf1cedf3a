#include "actors/resources.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/bot.hpp"
#include "actors/db.hpp"
#include "actors/rules.hpp"
#include "config/errors.hpp"
#include "storage/dashboard.hpp"
#include "storage/executions.hpp"
#include "storage/repositories.hpp"
#include "storage/telegram.hpp"
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

/// Queues the notification of a status change for the linked chats, in
/// the transaction of the change itself, so it is never lost.
caf::error notify(transaction_base& tx, const storage::execution_change& c) {
  if (!notifies(c.execution.status) || c.previous_status == c.execution.status)
    return {};
  auto queued =
    storage::enqueue_for_user(tx, c.user_id, execution_notice_text(c));
  return queued ? caf::error{} : std::move(queued.error());
}

/// Announces a status change inside the process; the outbox sender wakes
/// up to deliver the queued notifications.
void publish(caf::event_based_actor* self, const storage::execution_change& c) {
  if (auto outbox = lookup(self, names::outbox))
    self->send(outbox, c);
}

void claim(caf::event_based_actor* self, api_call& call,
           const std::string& user) {
  auto types = std::get<claim_input>(call.request.input).agent_types;
  auto out = call.out;
  query<std::optional<storage::execution_change>>(
    self, call.request.meta, "claim_execution", storage::access::write_once,
    [user, types](transaction_base& tx)
      -> caf::expected<std::optional<storage::execution_change>> {
      auto change = storage::claim_execution(tx, user, types);
      if (change && *change)
        if (auto err = notify(tx, **change))
          return err;
      return change;
    },
    [self, out](std::optional<storage::execution_change>& change) {
      if (!change) {
        out->reply({204, {}, {}});
        return;
      }
      publish(self, *change);
      out->reply({200, change->execution, {}});
    },
    [out](caf::error& err) { out->fail(err); });
}

void update(caf::event_based_actor* self, api_call& call,
            const std::string& user) {
  auto input = std::get<storage::execution_update>(call.request.input);
  input.finishes = finishing_status(input.status);
  auto id = call.request.path_id;
  auto out = call.out;
  query<storage::execution_change>(
    self, call.request.meta, "update_execution", storage::access::write_once,
    [user, id,
     input](transaction_base& tx) -> caf::expected<storage::execution_change> {
      auto change =
        storage::update_execution(tx, user, id, input, transition_allowed);
      if (change)
        if (auto err = notify(tx, *change))
          return err;
      return change;
    },
    [self, out](storage::execution_change& change) {
      publish(self, change);
      out->reply({200, change.execution, {}});
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
    case operation::dashboard_recent: return true;
    default: return false;
  }
}

void handle_resource(caf::event_based_actor* self, api_call& call) {
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
    case operation::get_execution:
      answer_found<storage::agent_execution>(
        self, call, "find_execution", "execution",
        [user, id](transaction_base& tx) {
          return storage::find_execution(tx, user, id);
        });
      break;
    case operation::claim_execution: claim(self, call, user); break;
    case operation::update_execution: update(self, call, user); break;
    case operation::append_log: {
      auto log = std::get<storage::new_log>(input);
      answer<storage::execution_log>(
        self, call, "append_log", storage::access::write_once, 201,
        [user, id, log](transaction_base& tx) {
          return storage::append_log(tx, user, id, log);
        });
      break;
    }
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
