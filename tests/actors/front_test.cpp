// The front actor in process: it dispatches by the rules the descriptor
// table put into the request (caller, owner, handler), not by operation.
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/front.hpp"
#include "actors/in_process.hpp"
#include "actors/protocol.hpp"
#include "actors/token_verifier.hpp"
#include "actors/worker_tokens.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "domain/rate_limit.hpp"
#include "metrics/metrics.hpp"

using namespace miyabi;
using namespace miyabi::actors;
using namespace std::chrono_literals;

namespace {

using test::recorded_answer;

/// An owning actor that answers every call with `status`. (It takes an
/// argument: CAF 0.17 binds a null reference when spawning a function
/// without one, which UBSan reports.)
caf::behavior fake_owner(caf::event_based_actor*, uint16_t status) {
  return {[status](api_call&) {
    return api_reply{status, {}, {}};
  }};
}

/// A front handler that answers 200 with a marker body.
void marker_handler(front_handle::pointer, const front_deps&, api_call& call) {
  call.out->reply({200, domain::json_text{"{\"handled\":true}"}, {}});
}

/// One front actor with everything it needs, in its own actor system.
struct front_fixture {
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  caf::scoped_actor self{sys};
  front_deps deps;
  front_handle front;

  front_fixture() {
    deps.cfg = test::settings_from({{"JWT_SECRET", std::string(48, 'k')}});
    deps.status = std::make_shared<domain::service_status>(true);
    deps.metrics = std::make_shared<metrics::service_metrics>(
      std::vector<std::string>{"/t"}, "test");
    auto tokens = std::make_shared<token_verifier>(*deps.cfg, deps.metrics);
    // As the auth actor does once it read the (here empty) revocations.
    tokens->publish(std::make_shared<const revocation_list>());
    deps.tokens = tokens;
    deps.writes = std::make_shared<domain::rate_limiter>(0);
    deps.workers = std::make_shared<worker_token_cache>();
    deps.resources.workers = deps.workers;
    deps.resources.metrics = deps.metrics;
    front = spawn_front(self.ptr(), deps);
  }

  ~front_fixture() {
    self->send_exit(front, caf::exit_reason::user_shutdown);
    if (auto auth = sys.registry().get(names::auth.key)) {
      sys.registry().erase(names::auth.key);
      self->send_exit(caf::actor_cast<caf::actor>(auth),
                      caf::exit_reason::user_shutdown);
    }
  }

  /// Sends one call with `rules` and waits for its answer.
  recorded_answer::outcome
  call(operation_rules rules,
       credential_kind credentials = credential_kind::none,
       std::string token = {}) {
    auto answer = std::make_shared<test::recorded_answer>();
    api_call c;
    c.request.rules = rules;
    c.request.credentials = credentials;
    c.request.token = std::move(token);
    c.request.meta.request_id = "front-test";
    c.request.meta.received = clock::now();
    c.request.meta.deadline = clock::now() + 5s;
    c.out = answer;
    self->send(front, std::move(c));
    auto got = answer->wait(5s);
    BOOST_REQUIRE(got.has_value());
    return *got;
  }
};

uint16_t status_of(const recorded_answer::outcome& o) {
  BOOST_REQUIRE(std::holds_alternative<api_reply>(o));
  return std::get<api_reply>(o).status;
}

bool failed_with(const recorded_answer::outcome& o, errc code) {
  return std::holds_alternative<caf::error>(o) &&
         is(std::get<caf::error>(o), code);
}

operation_rules front_rules(caller who) {
  operation_rules rules;
  rules.who = who;
  rules.by = owner::front;
  rules.handler = marker_handler;
  return rules;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(front_dispatch, front_fixture)

BOOST_AUTO_TEST_CASE(an_operation_for_anyone_runs_its_handler_at_once) {
  BOOST_TEST(status_of(call(front_rules(caller::anyone))) == 200);
}

BOOST_AUTO_TEST_CASE(an_operation_for_users_without_credentials_is_401) {
  auto got = call(front_rules(caller::user));
  BOOST_TEST(failed_with(got, errc::authentication_error));
}

BOOST_AUTO_TEST_CASE(a_forged_access_token_never_reaches_the_handler) {
  auto got = call(front_rules(caller::user), credential_kind::bearer,
                  "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl");
  BOOST_TEST(failed_with(got, errc::jwt_error));
}

BOOST_AUTO_TEST_CASE(a_worker_token_reaches_worker_operations_only) {
  // A verified worker token, as the one-second cache holds it.
  auto token = new_worker_token();
  BOOST_REQUIRE(token);
  principal worker;
  worker.user_id = "00000000-0000-4000-8000-000000000001";
  worker.worker = storage::worker_scope{"t1", {}, {}};
  deps.workers->remember(crypto::sha256_hex(*token), worker);
  auto allowed =
    call(front_rules(caller::user_or_worker), credential_kind::bearer, *token);
  BOOST_TEST(status_of(allowed) == 200);
  auto refused =
    call(front_rules(caller::user), credential_kind::bearer, *token);
  BOOST_TEST(failed_with(refused, errc::authorization_error));
}

BOOST_AUTO_TEST_CASE(an_operation_owned_by_an_actor_is_forwarded_to_it) {
  auto fake_auth = sys.spawn(fake_owner, uint16_t{201});
  sys.registry().put(names::auth.key,
                     caf::actor_cast<caf::strong_actor_ptr>(fake_auth));
  operation_rules rules;
  rules.by = owner::auth;
  BOOST_TEST(status_of(call(rules)) == 201);
}

BOOST_AUTO_TEST_CASE(an_owner_that_is_restarting_answers_503_at_once) {
  operation_rules rules;
  rules.by = owner::telegram; // nothing registered under names::telegram
  BOOST_TEST(failed_with(call(rules), errc::service_unavailable));
}

BOOST_AUTO_TEST_SUITE_END()
