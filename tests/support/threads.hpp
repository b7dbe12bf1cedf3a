// Threads for tests that always end: a group whose destructor raises the
// stop flag and joins, so a failing BOOST_REQUIRE never leaves a joinable
// std::thread behind (which would terminate the test process).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace miyabi::test {

class thread_group {
 public:
  thread_group() = default;
  thread_group(const thread_group&) = delete;
  thread_group& operator=(const thread_group&) = delete;

  ~thread_group() { join(); }

  /// Starts `fn`; it should return soon after `stopping()` becomes true.
  void spawn(std::function<void()> fn) { threads_.emplace_back(std::move(fn)); }

  bool stopping() const { return stop_.load(); }

  /// Raises the stop flag and waits for every thread.
  void join() {
    stop_ = true;
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

  /// Waits for every thread without raising the stop flag.
  void wait() {
    for (auto& t : threads_)
      if (t.joinable())
        t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

/// Opens all waiting threads at once.
class start_gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait(lock, [this] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock{mtx_};
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool open_ = false;
};

} // namespace miyabi::test
