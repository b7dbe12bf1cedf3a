// The database pool in process, against the test PostgreSQL, with work
// that holds its session until the test lets it go: a full queue refuses at
// once, a queued job fails at its deadline, held work still completes, and
// identical waiting reads share one query.
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/db.hpp"
#include "actors/in_process.hpp"
#include "base/errors.hpp"
#include "metrics/metrics.hpp"
#include "support/postgres.hpp"

using namespace miyabi;
using namespace miyabi::actors;
using namespace std::chrono_literals;

namespace {

/// Where one job's outcome lands.
struct landing {
  std::promise<caf::expected<int>> promise;
  std::future<caf::expected<int>> future = promise.get_future();

  bool settled_within(std::chrono::milliseconds limit) {
    return future.wait_for(limit) == std::future_status::ready;
  }
};

/// A pool of one session with a queue of one, on a fresh database.
struct pool_fixture {
  caf::actor_system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  caf::scoped_actor self{sys};
  std::shared_ptr<metrics::service_metrics> metrics =
    std::make_shared<metrics::service_metrics>(std::vector<std::string>{"/t"},
                                               "test");
  std::shared_ptr<domain::service_status> status =
    std::make_shared<domain::service_status>(true);
  db_pool_handle pool;
  /// Lets held work finish; set on teardown too, so no session stays held.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool released_ = false;

  pool_fixture() {
    pool = spawn_db_pool(
      self.ptr(),
      test::settings_from({{"DATABASE_URL", test::create_database()},
                           {"DB_POOL_SIZE", "1"},
                           {"DB_QUEUE_LIMIT", "1"},
                           {"ENVIRONMENT", "development"}}),
      metrics, status);
    // Ready: migrated, and the only session idle (start-up jobs done).
    auto until = std::chrono::steady_clock::now() + 10s;
    while (status->database.load() != domain::db_state::connected ||
           metrics->db_sessions["idle"].Value() != 1.0) {
      BOOST_REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(5ms);
    }
  }

  ~pool_fixture() {
    let_go();
    self->send_exit(pool, caf::exit_reason::user_shutdown);
  }

  void let_go() {
    if (!released_) {
      released_ = true;
      release.set_value();
    }
  }

  /// Submits work returning `value`; with `started` it first says so and
  /// waits for `let_go`. `key`: its coalesce key.
  void submit(landing& out, int value, std::chrono::milliseconds deadline,
              std::promise<void>* started = nullptr, std::string key = {}) {
    request_meta meta;
    meta.request_id = "pool-test";
    meta.deadline = clock::now() + deadline;
    auto gate = released;
    auto job = make_db_job(
      meta, "pool_test", storage::access::read,
      [value, gate, started](pqxx::transaction_base&) -> caf::expected<int> {
        if (started != nullptr) {
          started->set_value();
          gate.wait();
        }
        return value;
      });
    job.outcome =
      std::make_shared<db_outcome>([&out](caf::expected<std::any>& result) {
        if (result)
          out.promise.set_value(std::any_cast<int>(*result));
        else
          out.promise.set_value(result.error());
      });
    job.coalesce_key = std::move(key);
    self->send(pool, std::move(job));
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(db_pool, pool_fixture)

BOOST_AUTO_TEST_CASE(a_full_queue_refuses_at_once_and_held_work_completes) {
  landing held, queued, refused;
  std::promise<void> started;
  submit(held, 1, 10s, &started);
  BOOST_REQUIRE(started.get_future().wait_for(5s) == std::future_status::ready);
  submit(queued, 2, 10s);
  submit(refused, 3, 10s);
  BOOST_REQUIRE(refused.settled_within(500ms));
  auto no = refused.future.get();
  BOOST_TEST((!no && is(no.error(), errc::service_unavailable)));
  BOOST_TEST(!queued.settled_within(50ms)); // still waiting for the session
  let_go();
  BOOST_REQUIRE(held.settled_within(5s));
  BOOST_REQUIRE(queued.settled_within(5s));
  auto first = held.future.get();
  auto second = queued.future.get();
  BOOST_TEST((first && *first == 1));
  BOOST_TEST((second && *second == 2));
}

BOOST_AUTO_TEST_CASE(a_queued_job_fails_at_its_deadline) {
  landing held, late;
  std::promise<void> started;
  submit(held, 1, 10s, &started);
  BOOST_REQUIRE(started.get_future().wait_for(5s) == std::future_status::ready);
  auto sent = std::chrono::steady_clock::now();
  submit(late, 2, 300ms);
  BOOST_REQUIRE(late.settled_within(3s));
  auto waited = std::chrono::steady_clock::now() - sent;
  auto result = late.future.get();
  BOOST_TEST((!result && is(result.error(), errc::timeout)));
  BOOST_TEST((waited >= 300ms && waited < 1500ms));
  let_go();
  BOOST_REQUIRE(held.settled_within(5s));
}

BOOST_AUTO_TEST_CASE(identical_waiting_reads_share_one_query) {
  landing held, first, second, third, other;
  std::promise<void> started;
  submit(held, 1, 10s, &started);
  BOOST_REQUIRE(started.get_future().wait_for(5s) == std::future_status::ready);
  submit(first, 2, 10s, nullptr, "list u1");
  submit(second, 3, 10s, nullptr, "list u1"); // joins: no queue place used
  submit(third, 4, 10s, nullptr, "list u1");
  submit(other, 5, 10s, nullptr, "list u2"); // the queue (of one) is full
  BOOST_REQUIRE(other.settled_within(500ms));
  auto refused = other.future.get();
  BOOST_TEST((!refused && is(refused.error(), errc::service_unavailable)));
  BOOST_TEST(metrics->db_coalesced.Value() == 2.0);
  let_go();
  for (auto* l : {&first, &second, &third}) {
    BOOST_REQUIRE(l->settled_within(5s));
    auto value = l->future.get();
    BOOST_TEST((value && *value == 2)); // the one query's value, for each
  }
}

BOOST_AUTO_TEST_CASE(
  a_follower_keeps_its_deadline_when_the_read_it_joined_expires) {
  landing held, leader, follower;
  std::promise<void> started;
  submit(held, 1, 10s, &started);
  BOOST_REQUIRE(started.get_future().wait_for(5s) == std::future_status::ready);
  submit(leader, 2, 300ms, nullptr, "list u1");
  submit(follower, 3, 10s, nullptr, "list u1");
  BOOST_REQUIRE(leader.settled_within(3s));
  auto late = leader.future.get();
  BOOST_TEST((!late && is(late.error(), errc::timeout)));
  BOOST_TEST(!follower.settled_within(50ms)); // still waiting, in its place
  let_go();
  BOOST_REQUIRE(follower.settled_within(5s));
  auto value = follower.future.get();
  BOOST_TEST((value && *value == 2));
}

BOOST_AUTO_TEST_SUITE_END()
