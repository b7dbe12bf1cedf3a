#include "actors/front.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>

#include "actors/ask.hpp"
#include "actors/db.hpp"
#include "actors/handlers.hpp"
#include "actors/protocol.hpp"
#include "actors/resources.hpp"
#include "actors/supervision.hpp"
#include "actors/token_verifier.hpp"
#include "actors/worker_tokens.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/version.hpp"
#include "domain/rate_limit.hpp"
#include "metrics/metrics.hpp"
#include "storage/workers.hpp"

namespace miyabi::actors {

namespace {

/// Hands a call to its owner: its handler here, or the owning actor.
void run(front_handle::pointer self, const front_deps& deps, api_call& call) {
  switch (call.request.rules.by) {
    case owner::front: call.request.rules.handler(self, deps, call); break;
    case owner::auth: forward(self, names::auth, call); break;
    case owner::telegram: forward(self, names::telegram, call); break;
  }
}

void dispatch_authenticated(front_handle::pointer self, const front_deps& deps,
                            api_call& call) {
  const auto& who = *call.request.user;
  if (who.worker && call.request.rules.who != caller::user_or_worker &&
      call.request.rules.who != caller::ticket_or_token) {
    call.out->fail(make_error(errc::authorization_error,
                              "a worker token may not call this route",
                              "worker tokens may claim, heartbeat, PATCH, "
                              "log and read executions"));
    return;
  }
  if (call.request.write) {
    // A worker token has its own budget, apart from its user's.
    const auto& caller = who.worker ? who.worker->token_id : who.user_id;
    if (auto wait = deps.writes->take(caller)) {
      deps.metrics->rate_limited["write"].Increment();
      call.out->fail(make_rate_limited("too many writes; slow down", *wait));
      return;
    }
  }
  if (call.complete) {
    if (auto err = call.complete(call.request)) {
      call.out->fail(err);
      return;
    }
    call.complete = nullptr;
  }
  run(self, deps, call);
}

caf::error invalid_worker_token(const front_deps& deps) {
  deps.metrics->auth_failures["worker_token"].Increment();
  return make_error(errc::authentication_error, "invalid worker token",
                    "unknown or revoked");
}

/// Verifies a worker token (cached for a second, else one lookup), then
/// dispatches.
void authenticate_worker(front_handle::pointer self, const front_deps& deps,
                         api_call& call) {
  if (!well_formed_worker_token(call.request.token)) {
    call.out->fail(invalid_worker_token(deps));
    return;
  }
  auto hash = crypto::sha256_hex(call.request.token);
  if (auto who = deps.workers->find(hash)) {
    call.request.user = std::move(*who);
    dispatch_authenticated(self, deps, call);
    return;
  }
  auto meta = call.request.meta;
  query(
    self, meta, "find_worker_token", storage::access::write,
    [hash](pqxx::transaction_base& tx) {
      return storage::find_worker_token(tx, hash);
    },
    [self, deps, call,
     hash](std::optional<storage::worker_identity>& found) mutable {
      if (!found) {
        call.out->fail(invalid_worker_token(deps));
        return;
      }
      principal who;
      who.user_id = std::move(found->user_id);
      who.worker = std::move(found->scope);
      deps.workers->remember(hash, who);
      call.request.user = std::move(who);
      dispatch_authenticated(self, deps, call);
    },
    [out = call.out](caf::error& err) { out->fail(err); });
}

/// Verifies the Bearer token, then dispatches. Only until the auth actor
/// has read the revocation list once does verification take a message.
void authenticate(front_handle::pointer self, const front_deps& deps,
                  api_call& call) {
  if (call.request.credentials != credential_kind::bearer) {
    call.out->fail(credentials_error(call.request.credentials));
    return;
  }
  if (is_worker_token(call.request.token)) {
    authenticate_worker(self, deps, call);
    return;
  }
  if (auto checked = deps.tokens->check(call.request.token)) {
    if (!*checked) {
      call.out->fail(checked->error());
      return;
    }
    call.request.user = std::move(**checked);
    dispatch_authenticated(self, deps, call);
    return;
  }
  auto token = std::move(call.request.token);
  auto meta = call.request.meta;
  ask(
    self, lookup(self, names::auth), meta,
    [self, deps, call](principal& who) mutable {
      call.request.user = std::move(who);
      dispatch_authenticated(self, deps, call);
    },
    [out = call.out](caf::error& err) { out->fail(err); }, verify_atom::value,
    std::move(token));
}

front_handle::behavior_type front(front_handle::pointer self, front_deps deps) {
  log_exceptions(self, "front");
  return {
    [self, deps](api_call& call) {
      if (call.request.rules.who == caller::anyone ||
          (call.request.rules.who == caller::ticket_or_token &&
           call.request.credentials == credential_kind::none))
        run(self, deps, call);
      else
        authenticate(self, deps, call);
    },
  };
}

metrics_handle::behavior_type
metrics_actor(metrics_handle::pointer self,
              std::shared_ptr<metrics::service_metrics> m) {
  log_exceptions(self, "metrics");
  return {
    [m](render_atom) { return m->render(); },
  };
}

} // namespace

caf::error credentials_error(credential_kind kind) {
  return make_error(errc::authentication_error,
                    kind == credential_kind::none
                      ? "missing Authorization header"
                      : "malformed Authorization header",
                    "expected: Authorization: Bearer <token>");
}

namespace handle {

void health(front_handle::pointer, const front_deps& deps, api_call& call) {
  domain::health_report report;
  report.version = build_version();
  report.database = deps.status->database.load(std::memory_order_relaxed);
  report.telegram_only = report.database == domain::db_state::disabled;
  report.uptime_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                            clock::now() - deps.status->started)
                            .count();
  auto status = report.database == domain::db_state::disconnected ? 503 : 200;
  call.out->reply({static_cast<uint16_t>(status), std::move(report), {}});
}

void health_live(front_handle::pointer, const front_deps&, api_call& call) {
  call.out->reply({200, domain::liveness{}, {}});
}

void metrics(front_handle::pointer self, const front_deps& deps,
             api_call& call) {
  const auto& token = deps.cfg->metrics_token;
  if (!token.empty() &&
      (call.request.credentials != credential_kind::bearer ||
       !crypto::constant_time_equal(call.request.token, token))) {
    call.out->fail(make_error(errc::authentication_error,
                              "metrics need the metrics bearer token"));
    return;
  }
  auto out = call.out;
  ask(
    self, lookup(self, names::metrics), call.request.meta,
    [out](std::string& text) {
      out->reply(
        {200,
         domain::text_body{"text/plain; version=0.0.4", std::move(text)},
         {}});
    },
    [out](caf::error& err) { out->fail(err); }, render_atom::value);
}

void list_agents(front_handle::pointer, const front_deps&, api_call& call) {
  call.out->reply({200, domain::agent_list{}, {}});
}

} // namespace handle

front_handle spawn_front(caf::local_actor* parent, front_deps deps) {
  return parent->spawn(front, std::move(deps));
}

metrics_handle
spawn_metrics_actor(caf::local_actor* parent,
                    std::shared_ptr<metrics::service_metrics> m) {
  return parent->spawn(metrics_actor, std::move(m));
}

} // namespace miyabi::actors
