#include "fakes/telegram_bot_api.hpp"

#include "support/checks.hpp"

namespace miyabi::test {

fake_telegram::fake_telegram(std::string bot_token)
    : send_path_("/bot" + bot_token + "/sendMessage"),
      server_([this](const fake_request& r) { return handle(r); }) {}

void fake_telegram::script(int64_t chat, std::vector<fake_response> answers) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& queue = next_[chat];
  for (auto& a : answers)
    queue.push_back(std::move(a));
}

fake_response fake_telegram::handle(const fake_request& req) {
  if (req.method == "POST" && req.path() == send_path_) {
    auto chat = int_of(parse_lenient(req.body), "chat_id");
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto& queue = next_[chat];
      if (!queue.empty()) {
        auto answer = queue.front();
        queue.pop_front();
        return answer;
      }
    }
    return fake_response::json(
      200, R"({"ok":true,"result":{"message_id":1,"date":1767312000}})");
  }
  return fake_response::json(
    404, R"({"ok":false,"error_code":404,"description":"Not Found"})");
}

} // namespace miyabi::test
