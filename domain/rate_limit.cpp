#include "domain/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace miyabi::domain {

namespace {

constexpr auto sweep_period = std::chrono::minutes{1};

} // namespace

rate_limiter::rate_limiter(uint32_t per_minute)
    : rate_limiter(per_minute, std::chrono::seconds{60}) {}

rate_limiter::rate_limiter(uint32_t budget, std::chrono::seconds window)
    : capacity_(budget),
      per_second_(static_cast<double>(budget) /
                  static_cast<double>(std::max<int64_t>(window.count(), 1))) {}

std::optional<int64_t> rate_limiter::take(std::string_view key,
                                          clock::time_point now) {
  if (capacity_ <= 0)
    return std::nullopt;
  auto& s = shards_[std::hash<std::string_view>{}(key) % shard_count];
  std::lock_guard<std::mutex> guard{s.mtx};
  if (now >= s.next_sweep || s.buckets.size() >= max_keys_per_shard)
    sweep(s, now);
  auto [it, fresh] = s.buckets.try_emplace(std::string{key});
  auto& b = it->second;
  if (fresh) {
    b.tokens = capacity_;
  } else {
    std::chrono::duration<double> elapsed = now - b.updated;
    b.tokens = std::min(capacity_, b.tokens + std::max(0.0, elapsed.count()) *
                                                per_second_);
  }
  b.updated = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  auto wait = std::ceil((1.0 - b.tokens) / per_second_);
  return std::max<int64_t>(1, static_cast<int64_t>(wait));
}

void rate_limiter::sweep(shard& s, clock::time_point now) {
  s.next_sweep = now + sweep_period;
  for (auto i = s.buckets.begin(); i != s.buckets.end();) {
    std::chrono::duration<double> idle = now - i->second.updated;
    if (i->second.tokens + idle.count() * per_second_ >= capacity_)
      i = s.buckets.erase(i);
    else
      ++i;
  }
  if (s.buckets.size() >= max_keys_per_shard)
    s.buckets.clear();
}

size_t rate_limiter::size() const {
  size_t total = 0;
  for (const auto& s : shards_) {
    std::lock_guard<std::mutex> guard{s.mtx};
    total += s.buckets.size();
  }
  return total;
}

} // namespace miyabi::domain
