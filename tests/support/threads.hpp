// Threads for tests that always end: a group whose destructor raises the
// stop flag and joins, so a failing BOOST_REQUIRE never leaves a joinable
// std::thread behind (which would terminate the test process).
#pragma once

#include <atomic>
#include <functional>
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

} // namespace miyabi::test
