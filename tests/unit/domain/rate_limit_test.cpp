// The token buckets behind the rate limits (actors/rate_limit.hpp), on a
// clock the test moves by hand.
#include <string>

#include <boost/test/unit_test.hpp>

#include "domain/rate_limit.hpp"

using miyabi::domain::rate_limiter;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(rate_limit)

BOOST_AUTO_TEST_CASE(a_key_may_spend_a_minutes_budget_at_once_then_waits) {
  rate_limiter limits{30};
  auto now = rate_limiter::clock::time_point{} + 1h;
  for (int i = 0; i < 30; ++i)
    BOOST_TEST(!limits.take("203.0.113.1", now).has_value(), "request " << i);
  auto wait = limits.take("203.0.113.1", now);
  BOOST_REQUIRE(wait.has_value());
  BOOST_TEST(*wait == 2); // 30 a minute: one request back every 2 s
  BOOST_TEST(limits.take("203.0.113.1", now + 1s).has_value());
  BOOST_TEST(!limits.take("203.0.113.1", now + 2s).has_value());
  BOOST_TEST(limits.take("203.0.113.1", now + 2s).has_value());
}

BOOST_AUTO_TEST_CASE(keys_have_budgets_of_their_own) {
  rate_limiter limits{1};
  auto now = rate_limiter::clock::time_point{} + 1h;
  BOOST_TEST(!limits.take("alice", now).has_value());
  BOOST_TEST(limits.take("alice", now).value_or(0) == 60);
  BOOST_TEST(!limits.take("bob", now).has_value());
}

BOOST_AUTO_TEST_CASE(a_zero_limit_never_refuses) {
  rate_limiter limits{0};
  auto now = rate_limiter::clock::time_point{} + 1h;
  for (int i = 0; i < 1000; ++i)
    BOOST_TEST(!limits.take("k", now).has_value());
  BOOST_TEST(limits.size() == 0u);
}

BOOST_AUTO_TEST_CASE(refilled_keys_are_swept_and_memory_stays_bounded) {
  rate_limiter limits{10};
  auto now = rate_limiter::clock::time_point{} + 1h;
  for (int i = 0; i < 1000; ++i)
    limits.take("client-" + std::to_string(i), now);
  BOOST_TEST(limits.size() == 1000u);
  // A minute later every bucket is full again: the next take in each shard
  // sweeps it.
  for (int i = 0; i < 1000; ++i)
    limits.take("later-" + std::to_string(i), now + 2min);
  BOOST_TEST(limits.size() == 1000u);
  // A flood of distinct keys within one minute never holds more than the
  // cap per shard.
  for (int i = 0; i < 400000; ++i)
    limits.take("flood-" + std::to_string(i), now + 3min);
  BOOST_TEST(limits.size() <=
             rate_limiter::shard_count * rate_limiter::max_keys_per_shard);
}

BOOST_AUTO_TEST_SUITE_END()
