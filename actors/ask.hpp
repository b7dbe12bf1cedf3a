// Asking another actor (found with `lookup`, actors/protocol.hpp) with the
// deadline of the HTTP request that caused the question. The handle's type
// checks the question and the answer at compile time.
//
// Call only from inside an event-based actor (the caller's thread).
#pragma once

#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/protocol.hpp"
#include "base/errors.hpp"

namespace miyabi::actors {

/// Why a question to `dest` cannot start: `service_unavailable` when
/// `dest` is not running, a timeout when the deadline passed; no error when
/// it can.
template <class Handle>
caf::error can_ask(const Handle& dest, const request_meta& meta) {
  if (!dest)
    return make_error(errc::service_unavailable,
                      "the service is restarting a component");
  if (meta.remaining() <= clock::duration::zero())
    return make_error(errc::timeout, "request deadline passed");
  return {};
}

/// Asks `dest` with the time left until `meta.deadline`; `on_value` gets
/// the answer, `on_error` gets the error of `can_ask` at once, or the
/// answer's error.
template <class Self, class Handle, class OnValue, class OnError, class... Ts>
void ask(Self* self, const Handle& dest, const request_meta& meta,
         OnValue on_value, OnError on_error, Ts&&... xs) {
  if (auto err = can_ask(dest, meta)) {
    on_error(err);
    return;
  }
  self->request(dest, meta.remaining(), std::forward<Ts>(xs)...)
    .then(std::move(on_value), std::move(on_error));
}

/// An `on_error` that answers the error through `rp` (a response promise).
template <class Promise>
auto fail_through(Promise rp) {
  return [rp](caf::error& err) mutable {
    rp.deliver(err);
  };
}

/// Hands a call to the actor that owns it and relays its answer through
/// the call's responder.
template <class Self, class Handle>
void forward(Self* self, registry_name<Handle> owner, api_call& call) {
  auto out = call.out;
  auto meta = call.request.meta;
  ask(
    self, lookup(self, owner), meta,
    [out](api_reply& reply) { out->reply(std::move(reply)); },
    [out](caf::error& err) { out->fail(err); }, std::move(call));
}

} // namespace miyabi::actors
