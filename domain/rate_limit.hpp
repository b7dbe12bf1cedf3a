// Per-key request budgets for the rate limits of api.md ("Rate limits"):
// a token bucket per key (a client address, a user) that holds `per_minute`
// requests and refills continuously at `per_minute` per minute, so a client
// may spend a minute's budget at once and then one request per
// 60/`per_minute` seconds. Budgets are per instance (kept in memory).
//
// Memory stays bounded: buckets that refilled completely carry no
// information and are swept once a minute, and a shard that still holds
// more than `max_keys_per_shard` keys after a sweep is emptied (its keys
// start over with full budgets: more lenient for a moment, never stricter).
//
// Thread safety: `take` may run on any thread (sharded mutexes).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace miyabi::domain {

class rate_limiter {
 public:
  using clock = std::chrono::steady_clock;

  static constexpr size_t shard_count = 16;
  static constexpr size_t max_keys_per_shard = 16384;

  /// `per_minute` 0 disables the limit (every `take` succeeds).
  explicit rate_limiter(uint32_t per_minute);

  /// `budget` requests per `window` (e.g. 10 per hour), refilled
  /// continuously; 0 disables the limit.
  rate_limiter(uint32_t budget, std::chrono::seconds window);

  /// Spends one request of `key`'s budget. Nothing when allowed; else the
  /// whole seconds until one request is available again (at least 1).
  std::optional<int64_t> take(std::string_view key,
                              clock::time_point now = clock::now());

  /// Keys currently tracked (for tests and metrics).
  size_t size() const;

 private:
  struct bucket {
    double tokens = 0;
    clock::time_point updated;
  };

  struct shard {
    mutable std::mutex mtx;
    std::unordered_map<std::string, bucket> buckets;
    clock::time_point next_sweep;
  };

  void sweep(shard& s, clock::time_point now);

  double capacity_;
  double per_second_;
  std::array<shard, shard_count> shards_;
};

} // namespace miyabi::domain
