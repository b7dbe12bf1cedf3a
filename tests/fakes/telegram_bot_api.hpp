// The Telegram Bot API as the service calls it, for the bot tests: a fake
// server that answers sendMessage of one bot token like Telegram (200,
// `ok: true`, the sent message) unless the test scripted other answers for
// that chat (a 429 with retry_after, a 500, a dropped connection, ...),
// which go first, in order. Any other path answers Telegram's 404.
//
// Threads: the server's threads run the handler; `script` and the readers
// may be called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fakes/fake_http.hpp"

namespace miyabi::test {

class fake_telegram {
 public:
  explicit fake_telegram(std::string bot_token);

  std::string url() const { return server_.url(); }
  const fake_http_server& server() const { return server_; }

  /// The path of sendMessage for this fake's token.
  const std::string& send_path() const { return send_path_; }

  /// Requests whose path starts with `prefix`, oldest first.
  std::vector<fake_request> requests_to(const std::string& prefix) const {
    return server_.requests_to(prefix);
  }

  /// Answers for the next sendMessage calls to `chat`, before it goes back
  /// to 200.
  void script(int64_t chat, std::vector<fake_response> answers);

 private:
  fake_response handle(const fake_request& req);

  const std::string send_path_;
  std::mutex mtx_;
  std::map<int64_t, std::deque<fake_response>> next_;
  fake_http_server server_; // last: its threads call handle()
};

} // namespace miyabi::test
