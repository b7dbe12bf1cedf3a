// libFuzzer harness: Telegram webhook update validation and the bot's
// decision (http/decode.hpp, actors/bot.hpp). The input is the webhook body:
// parse_json, decode_input(telegram_webhook), and when that decodes,
// domain::decide over an in-memory bot_backend (no database) and fixed
// settings. Bit 0 of update_id switches the backend between "has a
// database" and telegram-only, bit 1 between the two fixed settings, so
// every branch of decide is reachable from the corpus.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <rapidjson/document.h>

#include "actors/protocol.hpp"
#include "domain/bot.hpp"
#include "fuzz/fuzz_support.hpp"
#include "http/decode.hpp"
#include "http/json_codec.hpp"
#include "http/operations.hpp"

namespace {

namespace domain = miyabi::domain;

namespace http = miyabi::http;
namespace storage = miyabi::storage;

storage::user fake_user(int64_t chat_id) {
  storage::user u;
  u.id = "00000000-0000-4000-8000-000000000001";
  u.github_id = 1000 + (chat_id & 0xff);
  u.login = "fuzz-user";
  return u;
}

/// Storage facts without storage: chats whose id is a multiple of 7 are
/// linked, the code "FUZZLINK" links any chat, counts are fixed. Stateless,
/// so nothing grows between inputs.
class fake_backend final : public domain::bot_backend {
 public:
  explicit fake_backend(bool database) : database_(database) {}

  std::optional<storage::user> linked_user(int64_t chat_id) override {
    CHECK(database_);
    if (chat_id % 7 == 0)
      return fake_user(chat_id);
    return std::nullopt;
  }

  std::optional<storage::user> consume_link(const std::string& code,
                                            int64_t chat_id) override {
    CHECK(database_);
    if (code == "FUZZLINK")
      return fake_user(chat_id);
    return std::nullopt;
  }

  std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string& user_id) override {
    if (!database_)
      return std::nullopt;
    return std::make_pair(int64_t{3}, static_cast<int64_t>(user_id.size()));
  }

  bool has_database() const override { return database_; }

 private:
  bool database_;
};

const domain::bot_settings& settings(bool full) {
  static const domain::bot_settings full_settings = [] {
    domain::bot_settings s;
    s.authorized_chat_ids = {42, -1001234567890, 123456789};
    s.version = "0.1.0";
    s.mode = "full";
    s.database = "connected";
    s.issues_enabled = true;
    s.llm_enabled = true;
    s.repository = "miyabi/agents";
    return s;
  }();
  static const domain::bot_settings telegram_only = [] {
    domain::bot_settings s;
    s.authorized_chat_ids = {42, 123456789};
    s.version = "0.1.0";
    s.mode = "telegram-only";
    s.database = "disabled";
    s.issues_enabled = false;
    s.llm_enabled = false;
    return s;
  }();
  return full ? full_settings : telegram_only;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(data), size};
  rapidjson::Document doc;
  if (http::parse_json(text, doc))
    return 0;
  if (!miyabi::fuzz::check_parsed_utf8(doc))
    return 0;
  http::query_map query;
  http::request_headers headers;
  auto input = http::decode_input(
    http::descriptor_of(miyabi::actors::operation::telegram_webhook),
    http::request_parts{&doc, query, headers});
  if (!input)
    return 0;
  const auto* update = std::get_if<domain::telegram_update>(&*input);
  CHECK(update != nullptr);
  fake_backend backend{(update->update_id & 1) == 0};
  auto action =
    domain::decide(*update, backend, settings((update->update_id & 2) == 0));
  switch (action.what) {
    case domain::bot_action::kind::none: CHECK(!action.issue); break;
    case domain::bot_action::kind::send_message:
      CHECK(update->message.has_value());
      CHECK(action.chat_id == update->message->chat_id);
      CHECK(!action.text.empty());
      CHECK(miyabi::fuzz::valid_utf8(action.text));
      if (action.issue) {
        CHECK(action.issue->chat_id == action.chat_id);
        // The task is stored as jsonb and sent to GitHub: UTF-8 only.
        if (!miyabi::fuzz::skip_title_cut())
          CHECK(miyabi::fuzz::valid_utf8(action.issue->title));
        CHECK(miyabi::fuzz::valid_utf8(action.issue->body));
        CHECK(miyabi::fuzz::valid_utf8(action.issue->message));
      }
      break;
    case domain::bot_action::kind::answer_callback:
      CHECK(update->callback.has_value());
      CHECK(action.callback_id == update->callback->id);
      break;
  }
  return 0;
}
