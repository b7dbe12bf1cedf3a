// A supervisor in process: it publishes its child, replaces a child that
// died with a new one under the same name after the backoff, counts the
// restart, and removes the name when it is stopped.
#include <chrono>
#include <memory>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/protocol.hpp"
#include "actors/supervision.hpp"
#include "base/errors.hpp"
#include "metrics/metrics.hpp"

using namespace miyabi;
using namespace miyabi::actors;
using namespace std::chrono_literals;

namespace {

const caf::atom_value child_name = caf::atom("t_child");

/// A child that dies (with `why`) when told to. (It takes an argument:
/// CAF 0.17 binds a null reference when spawning a function without one,
/// which UBSan reports.)
caf::behavior fragile(caf::event_based_actor* self, errc why) {
  return {
    [self, why](kick_atom) { self->quit(make_error(why)); },
    [](probe_atom) { return true; },
  };
}

/// Waits up to `limit` for `condition`, checking every few milliseconds.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

} // namespace

BOOST_AUTO_TEST_SUITE(supervisor_restarts)

BOOST_AUTO_TEST_CASE(a_child_that_dies_is_replaced_under_its_name) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto metrics = std::make_shared<metrics::service_metrics>(
    std::vector<std::string>{"/t"}, "test");
  child_spec spec{child_name, "fragile", [](caf::local_actor* parent) {
                    return parent->spawn(fragile, errc::internal_error);
                  }};
  auto sup = spawn_supervisor(sys, spec, metrics);
  auto current = [&] {
    return sys.registry().get<caf::actor>(child_name);
  };
  BOOST_REQUIRE(eventually([&] { return current() != nullptr; }, 2s));
  auto first = current();
  caf::scoped_actor self{sys};
  self->send(first, kick_atom::value);
  BOOST_REQUIRE(
    eventually([&] { return current() != nullptr && current() != first; }, 2s));
  // The replacement answers like the first child did.
  bool answered = false;
  self->request(current(), 2s, probe_atom::value)
    .receive([&](bool ok) { answered = ok; }, [](caf::error&) {});
  BOOST_TEST(answered);
  BOOST_TEST(metrics->actor_restarts["fragile"].Value() == 1.0);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  BOOST_TEST(eventually([&] { return current() == nullptr; }, 2s));
}

BOOST_AUTO_TEST_SUITE_END()
