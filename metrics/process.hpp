// Figures about this process read from /proc (Linux), for the process_*
// gauges and the idle-memory checks in tests. Any thread; no state.
#pragma once

#include <cstdint>

namespace miyabi::metrics {

struct process_snapshot {
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double cpu_seconds = 0;        ///< user + system
  double start_time_seconds = 0; ///< since the Unix epoch
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;
  uint64_t threads = 0;
};

/// Reads the current figures; fields that cannot be read stay 0.
process_snapshot read_process();

} // namespace miyabi::metrics
