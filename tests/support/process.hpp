// Runs the real miyabi-api binary as a child process for integration tests:
// environment in, stdout/stderr lines captured, the port read from its
// "listening" log line (tests start it with PORT=0), signals and exit code.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace miyabi::test {

using env_map = std::map<std::string, std::string>;

/// Environment for a test instance: PORT=0, loopback only, small thread
/// counts, ENVIRONMENT=test with mock login on, and no inherited settings
/// from the caller's environment.
env_map base_env();

/// Why `line` is not one JSON object with unique member names; empty when
/// it is.
std::string json_line_problem(const std::string& line);

class service_process {
 public:
  /// Starts the binary with exactly `env` (plus PATH) and waits until it
  /// listens. Throws when it exits or stays silent for `startup`.
  explicit service_process(
    env_map env, std::chrono::milliseconds startup = std::chrono::seconds{30});

  /// Starts without waiting for "listening" (for start-up failure tests).
  service_process(env_map env, bool wait_listening);

  service_process(const service_process&) = delete;
  service_process& operator=(const service_process&) = delete;

  /// Kills the process if it still runs, then `check_log_lines()`.
  ~service_process();

  /// Reports (BOOST_ERROR) every stdout line not checked before that is not
  /// one JSON object with unique member names. Called by the destructor and,
  /// for instances that outlive the test run, after the last test case.
  /// Test thread only.
  void check_log_lines();

  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }

  /// `http://127.0.0.1:PORT`
  std::string base_url() const;

  void signal(int sig);

  /// Waits for the exit; the exit code, or 128+signal, or nothing on
  /// timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// All captured output lines so far (stdout and stderr).
  std::vector<std::string> lines() const;

  /// Waits until a captured line satisfies `pred`; false on timeout.
  bool wait_for_line(const std::function<bool(const std::string&)>& pred,
                     std::chrono::milliseconds timeout) const;

  /// Resident memory of the process in bytes (from /proc).
  size_t resident_bytes() const;

  /// Open file descriptors of the process.
  size_t open_fds() const;

 private:
  void spawn(const env_map& env);
  void read_output(int out_fd, int err_fd);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::optional<int> exit_code_;
  std::thread reader_;
  mutable std::mutex mtx_;
  mutable std::condition_variable cv_;
  std::vector<std::string> lines_;
  std::vector<std::string> stdout_lines_; ///< complete lines only
  size_t checked_ = 0;                    ///< stdout_lines_ already checked
  bool eof_ = false;
};

} // namespace miyabi::test
