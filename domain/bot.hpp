// What the Telegram bot answers: command parsing, authorization and the
// texts in English and Japanese. Pure decisions over a `bot_backend` (the
// database inside the update's transaction, or nothing in telegram-only
// mode), so they are unit-testable. Any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/inputs.hpp"
#include "storage/model.hpp"

namespace miyabi::domain {

/// Facts the decisions may need from storage.
class bot_backend {
 public:
  virtual ~bot_backend();

  /// The web user the chat is linked to.
  virtual std::optional<storage::user> linked_user(int64_t chat_id) = 0;

  /// Consumes a link code and links the chat; nothing when the code is
  /// unknown, used or expired.
  virtual std::optional<storage::user> consume_link(const std::string& code,
                                                    int64_t chat_id) = 0;

  /// Pending and running executions (of `user_id`, or all when empty);
  /// nothing without a database.
  virtual std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string& user_id) = 0;

  /// False in telegram-only mode (no links, no counts).
  virtual bool has_database() const = 0;
};

/// The backend of telegram-only mode: no links, no counts.
class telegram_only_backend final : public bot_backend {
 public:
  std::optional<storage::user> linked_user(int64_t) override { return {}; }
  std::optional<storage::user> consume_link(const std::string&,
                                            int64_t) override {
    return {};
  }
  std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string&) override {
    return {};
  }
  bool has_database() const override { return false; }
};

/// Settings the decisions depend on.
struct bot_settings {
  std::vector<int64_t> authorized_chat_ids;
  std::string version;
  std::string mode;            ///< "full" or "telegram-only"
  std::string database;        ///< "connected", "disconnected", "disabled"
  bool issues_enabled = false; ///< GITHUB_TOKEN, GITHUB_OWNER, GITHUB_REPO set
  bool llm_enabled = false;    ///< OPENAI_API_KEY set
  std::string repository;      ///< "owner/repo" issues go to
};

/// Work that outlives the reply: create a GitHub issue.
struct issue_request {
  int64_t chat_id = 0;
  bool japanese = false;
  std::string title;   ///< set for /issue
  std::string body;    ///< set for /issue
  std::string message; ///< set for plain text: the LLM writes the issue
};

/// The bot's answer to one update.
struct bot_action {
  enum class kind { none, send_message, answer_callback } what = kind::none;
  int64_t chat_id = 0;
  std::string text;
  std::string callback_id;
  std::optional<issue_request> issue;
};

/// A command and its argument text: "/issue@MiyabiBot Fix it" gives
/// {"/issue", "Fix it"}; plain text gives an empty command.
struct bot_command {
  std::string name;
  std::string argument;
};

bot_command parse_command(const std::string& text);

/// Decides the answer to an update.
bot_action decide(const telegram_update& update, bot_backend& backend,
                  const bot_settings& settings);

// -- texts shared with the issue flow and notifications -----------------------

std::string issue_created_text(bool japanese, int64_t number,
                               const std::string& url);

std::string issue_failed_text(bool japanese, const std::string& why);

/// The notification for an execution's status change.
std::string execution_notice_text(const storage::execution_change& change);

/// True for statuses that notify linked chats (running and the finishing
/// ones).
bool notifies(const std::string& status);

} // namespace miyabi::domain
