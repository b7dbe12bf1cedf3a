// Process-wide service status shared by the HTTP layer and the actors:
// the database state written by the health prober, the draining flag set
// on SIGTERM, and the start time. All fields are atomics or immutable after
// construction, so any thread may read them without messaging.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace miyabi::domain {

enum class db_state : uint8_t { disabled, connected, disconnected };

const char* to_string(db_state state);

struct service_status {
  explicit service_status(bool database_configured)
      : database(database_configured ? db_state::disconnected
                                     : db_state::disabled),
        started(std::chrono::steady_clock::now()) {}

  std::atomic<db_state> database;
  std::atomic<bool> draining{false};
  const std::chrono::steady_clock::time_point started;

  bool telegram_only() const {
    return database.load(std::memory_order_relaxed) == db_state::disabled;
  }
};

} // namespace miyabi::domain
