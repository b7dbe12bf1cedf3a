// What the in-process actor tests share: a responder that records the one
// answer an actor gives, and settings built from a map instead of the
// process environment.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "actors/protocol.hpp"
#include "base/errors.hpp"
#include "config/settings.hpp"

namespace miyabi::test {

class recorded_answer final : public actors::responder {
 public:
  using outcome =
    std::variant<actors::api_reply, caf::error, actors::stream_request>;

  void reply(actors::api_reply answer) override { settle(std::move(answer)); }

  void fail(const caf::error& err) override { settle(err); }

  void stream(actors::stream_request request) override {
    settle(std::move(request));
  }

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

/// Settings from `vars` (unset variables take their defaults).
inline std::shared_ptr<const config::settings>
settings_from(const std::map<std::string, std::string>& vars) {
  std::vector<std::string> warnings;
  auto cfg = config::load(
    [&](const char* name) -> const char* {
      auto i = vars.find(name);
      return i == vars.end() ? nullptr : i->second.c_str();
    },
    warnings);
  BOOST_REQUIRE_MESSAGE(
    cfg, "settings: " << (cfg ? std::string{} : describe(cfg.error()).message));
  return std::make_shared<const config::settings>(std::move(*cfg));
}

} // namespace miyabi::test
