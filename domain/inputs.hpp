// Decoded request inputs (bodies and query strings), one type per operation
// that takes input. The HTTP layer produces them after validation, so actors
// can rely on every field being present, well-formed and in range.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/model.hpp"

namespace miyabi::domain {

/// POST /auth/mock.
struct mock_login_input {
  storage::user_profile profile;
};

/// POST /auth/refresh.
struct refresh_input {
  std::string refresh_token;
};

/// POST /auth/logout (body optional).
struct logout_input {
  std::optional<std::string> refresh_token;
};

/// GET /auth/github?redirect=/path
struct github_start_input {
  std::string redirect = "/";
};

/// GET /auth/github/callback?code=..&state=.. plus the login cookie.
struct github_callback_input {
  std::string code;
  std::string state;
  std::string binding; ///< the login cookie's value (empty when absent)
  std::string error;   ///< GitHub's `error` parameter (user denied, ...)
};

/// POST /agents/executions/claim.
struct claim_input {
  std::vector<std::string> agent_types;
  std::optional<std::string> repository_id;
};

/// GET /workflows?repository_id=
struct list_workflows_input {
  std::optional<std::string> repository_id;
};

/// A Telegram message, reduced to what the bot uses.
struct telegram_message {
  int64_t message_id = 0;
  int64_t date = 0;
  int64_t chat_id = 0;
  std::string text; ///< empty for non-text messages
  int64_t from_id = 0;
  std::string first_name;
  std::string last_name;
  std::string username;
  std::string language_code; ///< "ja" selects Japanese replies
};

/// A Telegram callback query (inline keyboard button press).
struct telegram_callback {
  std::string id;
  int64_t from_id = 0;
  std::optional<int64_t> chat_id;
  std::string data;
  std::string language_code;
};

/// POST /telegram/webhook: an Update with the parts the bot understands;
/// other update kinds carry neither.
struct telegram_update {
  int64_t update_id = 0;
  std::optional<telegram_message> message;
  std::optional<telegram_callback> callback;
};

/// POST /api/v1/github/webhook: the delivery, reduced to what the service
/// acts on (the signature was checked over the raw body before).
struct github_delivery {
  std::string delivery_id; ///< X-GitHub-Delivery
  std::string event;       ///< X-GitHub-Event
  std::string action;      ///< the payload's `action`, when it has one
  std::string owner;       ///< repository owner login
  std::string name;        ///< repository name
  /// `issues`: the issue and the label just added (`labeled`).
  int64_t issue_number = 0;
  std::string label;
  /// `pull_request`: its number, body and head branch.
  int64_t pr_number = 0;
  std::string pr_body;
  std::string pr_branch;
};

/// GET /api/v1/events: a ticket (when no Bearer token came), the filters
/// and the resume point (Last-Event-ID header, else `last_event_id`).
struct event_stream_input {
  std::optional<std::string> ticket;
  storage::event_filter filter;
  std::optional<int64_t> last_event_id;
};

using request_input =
  std::variant<std::monostate, mock_login_input, refresh_input, logout_input,
               github_start_input, github_callback_input,
               storage::new_repository, storage::new_execution,
               storage::execution_filter, claim_input,
               storage::execution_update, storage::new_log, storage::log_filter,
               list_workflows_input, storage::workflow_input, telegram_update,
               storage::heartbeat, storage::new_worker_token,
               storage::new_workflow_run, event_stream_input, github_delivery>;

} // namespace miyabi::domain
