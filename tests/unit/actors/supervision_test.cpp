#include <chrono>

#include <boost/test/unit_test.hpp>

#include "actors/supervision.hpp"

using namespace miyabi::actors;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(restart_policy_rules)

BOOST_AUTO_TEST_CASE(backoff_doubles_from_50ms_and_caps_at_5s) {
  restart_policy policy;
  auto t = restart_policy::clock::now();
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 9; ++i) {
    auto d = policy.on_crash(t + i * 100ms);
    BOOST_REQUIRE(d.has_value());
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(*d));
  }
  BOOST_TEST(delays[0].count() == 50);
  BOOST_TEST(delays[1].count() == 100);
  BOOST_TEST(delays[2].count() == 200);
  BOOST_TEST(delays[7].count() == 5000);
  BOOST_TEST(delays[8].count() == 5000);
}

BOOST_AUTO_TEST_CASE(more_than_ten_crashes_in_30s_escalate) {
  restart_policy policy;
  auto t = restart_policy::clock::now();
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(policy.on_crash(t + i * 1s).has_value());
  BOOST_TEST(!policy.on_crash(t + 10s).has_value());
}

BOOST_AUTO_TEST_CASE(crashes_outside_the_window_are_forgotten) {
  restart_policy policy;
  auto t = restart_policy::clock::now();
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(policy.on_crash(t + i * 1s).has_value());
  auto later = policy.on_crash(t + 60s);
  BOOST_REQUIRE(later.has_value());
  BOOST_TEST(
    std::chrono::duration_cast<std::chrono::milliseconds>(*later).count() ==
    50);
}

BOOST_AUTO_TEST_CASE(plain_failures_grow_the_backoff_but_never_escalate) {
  restart_policy policy;
  auto t = restart_policy::clock::now();
  for (int i = 0; i < 50; ++i)
    policy.on_failure(t);
  BOOST_TEST(
    std::chrono::duration_cast<std::chrono::milliseconds>(policy.on_failure(t))
      .count() == 5000);
  policy.on_success();
  BOOST_TEST(
    std::chrono::duration_cast<std::chrono::milliseconds>(policy.on_failure(t))
      .count() == 50);
}

BOOST_AUTO_TEST_SUITE_END()
