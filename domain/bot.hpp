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
#include "domain/rate_limit.hpp"
#include "storage/model.hpp"

namespace miyabi::domain {

/// One inline keyboard button: a callback (`callback_data`) or a link
/// (`url`).
struct keyboard_button {
  std::string text;
  std::string callback_data;
  std::string url;
};

/// Rows of buttons under a message.
using inline_keyboard = std::vector<std::vector<keyboard_button>>;

/// A message for a chat with its keyboard (none when empty).
struct chat_message {
  std::string text;
  inline_keyboard keyboard;
};

/// The Bot API `reply_markup` object of `keyboard`
/// (`{"inline_keyboard":[[...]]}`); empty text for an empty keyboard.
std::string keyboard_json(const inline_keyboard& keyboard);

/// How an id typed in the chat resolved among one user's executions.
struct execution_lookup {
  enum class outcome { none, one, many } found = outcome::none;
  storage::recent_execution match; ///< set when `one`
};

/// What a cancel or retry did.
struct execution_action {
  enum class outcome { done, conflict, not_found } result = outcome::not_found;
  std::string status; ///< the execution's status (conflict: why not)
  std::string new_id; ///< retry: the new execution
};

/// Facts and effects the decisions need from storage. Effects of one
/// update happen in its transaction, so a repeated update does nothing.
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

  /// Spends one of the chat's `per_hour` issue requests. Nothing when
  /// allowed; else the seconds until one is free again.
  virtual std::optional<int64_t> take_issue_quota(int64_t chat_id,
                                                  uint32_t per_hour) = 0;

  /// The user's `limit` newest executions, newest first.
  virtual std::vector<storage::recent_execution>
  recent_executions(const std::string& user_id, int64_t limit) = 0;

  /// The user's executions whose id starts with `prefix` (lower-case).
  virtual execution_lookup find_execution(const std::string& user_id,
                                          const std::string& prefix) = 0;

  /// The last `limit` log lines of the user's execution, oldest first.
  virtual std::vector<storage::execution_log>
  last_logs(const std::string& user_id, const std::string& id,
            int64_t limit) = 0;

  /// Cancels the user's pending or running execution.
  virtual execution_action cancel_execution(const std::string& user_id,
                                            const std::string& id) = 0;

  /// Queues a new execution like the user's failed or cancelled one.
  virtual execution_action retry_execution(const std::string& user_id,
                                           const std::string& id) = 0;

  /// Queues a message for the chat (beyond the webhook reply).
  virtual void send_later(int64_t chat_id, const chat_message& message) = 0;

  /// False in telegram-only mode (no links, no executions).
  virtual bool has_database() const = 0;
};

/// The backend of telegram-only mode: no links, no executions; the issue
/// limit is kept in memory (per instance).
class telegram_only_backend final : public bot_backend {
 public:
  explicit telegram_only_backend(rate_limiter& issue_limits)
      : issue_limits_(issue_limits) {}

  std::optional<storage::user> linked_user(int64_t) override { return {}; }
  std::optional<storage::user> consume_link(const std::string&,
                                            int64_t) override {
    return {};
  }
  std::optional<std::pair<int64_t, int64_t>>
  active_executions(const std::string&) override {
    return {};
  }
  std::optional<int64_t> take_issue_quota(int64_t chat_id,
                                          uint32_t per_hour) override;
  std::vector<storage::recent_execution> recent_executions(const std::string&,
                                                           int64_t) override {
    return {};
  }
  execution_lookup find_execution(const std::string&,
                                  const std::string&) override {
    return {};
  }
  std::vector<storage::execution_log>
  last_logs(const std::string&, const std::string&, int64_t) override {
    return {};
  }
  execution_action cancel_execution(const std::string&,
                                    const std::string&) override {
    return {};
  }
  execution_action retry_execution(const std::string&,
                                   const std::string&) override {
    return {};
  }
  void send_later(int64_t, const chat_message&) override {}
  bool has_database() const override { return false; }

 private:
  rate_limiter& issue_limits_;
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
  uint32_t issues_per_hour = 10; ///< per chat (TELEGRAM_ISSUES_PER_HOUR)
};

/// Work that outlives the reply: create a GitHub issue.
struct issue_request {
  int64_t chat_id = 0;
  bool japanese = false;
  std::string title;       ///< set for /issue
  std::string body;        ///< set for /issue
  std::string message;     ///< set for plain text: the LLM writes the issue
  std::string agent;       ///< /issue: the agent to queue (the LLM drafts one)
  std::string user_id;     ///< the linked user who asked; empty when none
  std::string traceparent; ///< the webhook request's trace, passed on
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

/// The chat's answer once the issue exists: where it is and, for a linked
/// user (`registered` set), the execution queued for it, or that one of
/// that agent was already queued, or that the repository is not registered
/// (then nothing can work on it).
std::string issue_done_text(bool japanese, int64_t number,
                            const std::string& url, const std::string& agent,
                            const std::string& execution_id,
                            std::optional<bool> registered,
                            const std::string& repository);

/// The notification of an execution's status change, with its buttons:
/// running: Cancel; failed or cancelled: Retry and Logs; completed with a
/// pull request: a link to it.
chat_message execution_notice(const storage::execution_change& change,
                              bool japanese);

/// The first characters of an execution id, as chats show it.
std::string short_id(const std::string& id);

/// True for statuses that notify linked chats (running and the finishing
/// ones).
bool notifies(const std::string& status);

} // namespace miyabi::domain
