// What the actors need to know about an operation: who may call it, which
// actor answers it and the function that does, run inside that actor. The
// HTTP layer's descriptor table (http/operations.cpp) sets these per
// (route, method) and copies them into every `api_request`, so no actor
// switches over operations: each runs the function the request carries.
//
// Plain values and function pointers; read from any thread.
#pragma once

#include <cstdint>

#include <caf/fwd.hpp>

#include "storage/session.hpp"

namespace miyabi::actors {

struct api_call;
struct front_deps;
struct auth_state;
struct telegram_state;

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
  auth,     ///< the auth actor (it keeps the revocation list), through
            ///< `operation_rules::auth`
  telegram, ///< the Telegram actor (the bot's state), through
            ///< `operation_rules::telegram`
};

/// Answers one call inside the front actor that received it (after
/// authentication when the operation needs a caller). Runs on that actor's
/// thread and must not block: database work goes to a session with
/// `query` / `query_in_session`. Every outcome reaches `call.out`. `self` is
/// null for an operation that runs on the caller's thread
/// (`operation_rules::on_caller_thread`).
using front_handler = void (*)(caf::event_based_actor* self,
                               const front_deps& deps, api_call& call);

/// Answers one call inside the auth actor, which it may read and change
/// (the revocation list); the answer goes to `rp`. Runs on that actor's
/// thread and must not block.
using auth_handler = void (*)(caf::stateful_actor<auth_state>* self,
                              api_call& call, caf::response_promise rp);

/// Answers one call inside the Telegram actor (the bot's state); as
/// `auth_handler` otherwise.
using telegram_handler = void (*)(caf::stateful_actor<telegram_state>* self,
                                  api_call& call, caf::response_promise rp);

/// The actor side of one operation's descriptor.
struct operation_rules {
  caller who = caller::anyone;
  owner by = owner::front;
  /// The work, for the actor `by` names: exactly that one of the three is
  /// set (the front's may instead be an HTTP-level `local_answer`).
  front_handler handler = nullptr;
  auth_handler auth = nullptr;
  telegram_handler telegram = nullptr;
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
