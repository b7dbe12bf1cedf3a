// Exponential backoff, the one formula for every retry in the service
// (restarts of supervised actors, Telegram sends from the outbox).
// Pure; any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace miyabi {

/// The delay before retry number `attempt` (1 for the first retry):
/// `initial` doubled per earlier attempt, never more than `cap`.
template <class Rep, class Period>
std::chrono::duration<Rep, Period>
backoff_delay(uint32_t attempt, std::chrono::duration<Rep, Period> initial,
              std::chrono::duration<Rep, Period> cap) {
  auto delay = initial;
  for (uint32_t i = 1; i < attempt && delay < cap; ++i)
    delay *= 2;
  return std::min(delay, cap);
}

} // namespace miyabi
