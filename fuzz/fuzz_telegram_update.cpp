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
#include <vector>

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

  /// Chats whose id is a multiple of 3 used their issues of the hour.
  std::optional<int64_t> take_issue_quota(int64_t chat_id,
                                          uint32_t per_hour) override {
    CHECK(per_hour > 0);
    if (chat_id % 3 == 0)
      return int64_t{1800};
    return std::nullopt;
  }

  std::vector<storage::recent_execution>
  recent_executions(const std::string& user_id, int64_t limit) override {
    CHECK(database_);
    CHECK(limit > 0);
    return {recent(user_id)};
  }

  /// Prefixes starting with 'a' match one execution, 'b' several.
  domain::execution_lookup find_execution(const std::string& user_id,
                                          const std::string& prefix) override {
    CHECK(database_);
    CHECK(prefix.size() >= 6 && prefix.size() <= 36);
    for (char c : prefix)
      CHECK((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-');
    domain::execution_lookup lookup;
    if (prefix[0] == 'a') {
      lookup.found = domain::execution_lookup::outcome::one;
      lookup.match = recent(user_id);
    } else if (prefix[0] == 'b') {
      lookup.found = domain::execution_lookup::outcome::many;
    }
    return lookup;
  }

  std::vector<storage::execution_log>
  last_logs(const std::string&, const std::string& id, int64_t limit) override {
    CHECK(database_);
    CHECK(limit > 0);
    storage::execution_log log;
    log.execution_id = id;
    log.level = "INFO";
    log.message = "step done";
    return {log};
  }

  domain::execution_action cancel_execution(const std::string&,
                                            const std::string& id) override {
    CHECK(database_);
    return {domain::execution_action::outcome::conflict, "completed", id};
  }

  domain::execution_action retry_execution(const std::string&,
                                           const std::string& id) override {
    CHECK(database_);
    return {domain::execution_action::outcome::done, "pending", id};
  }

  void send_later(int64_t, const domain::chat_message& message) override {
    CHECK(database_);
    CHECK(miyabi::fuzz::valid_utf8(message.text));
  }

  bool has_database() const override { return database_; }

 private:
  static storage::recent_execution recent(const std::string& user_id) {
    storage::recent_execution r;
    r.execution.id = "a1b2c3d4-0000-4000-8000-" + std::string(12, '0');
    r.execution.agent_type = "codegen";
    r.execution.issue_number = 7;
    r.execution.status = "running";
    r.execution.repository_id = user_id;
    r.repository_owner = "miyabi";
    r.repository_name = "agents";
    return r;
  }

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
  auto input = http::decode_input(http::descriptor_of("receiveTelegramUpdate"),
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
      // answerCallbackQuery takes at most 200 characters of UTF-8.
      CHECK(action.text.size() <= 200);
      CHECK(miyabi::fuzz::valid_utf8(action.text));
      break;
  }
  return 0;
}
