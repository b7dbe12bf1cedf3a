// A responder that records the one answer an actor gives, for tests that
// drive the actors in process.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>

#include "actors/protocol.hpp"

namespace miyabi::test {

class recorded_answer final : public actors::responder {
 public:
  using outcome = std::variant<actors::api_reply, caf::error>;

  void reply(actors::api_reply answer) override { settle(std::move(answer)); }

  void fail(const caf::error& err) override { settle(err); }

  /// The answer, once given within `timeout`.
  std::optional<outcome> wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mtx_};
    cv_.wait_for(lock, timeout, [this] { return answer_.has_value(); });
    return answer_;
  }

 private:
  void settle(outcome value) {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!answer_)
      answer_ = std::move(value);
    cv_.notify_all();
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::optional<outcome> answer_;
};

} // namespace miyabi::test
