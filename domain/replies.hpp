// The bodies actors answer with. Each alternative is a domain value; the
// HTTP layer's JSON codec (http/json_codec.hpp) decides how it is written.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "domain/status.hpp"
#include "storage/model.hpp"

namespace miyabi::domain {

/// GET /api/v1/health.
struct health_report {
  std::string version;
  bool telegram_only = false;
  db_state database = db_state::disabled;
  int64_t uptime_seconds = 0;
};

/// GET /api/v1/health/live: `{"status":"ok"}`.
struct liveness {};

/// A body that is not JSON (e.g. the Prometheus exposition).
struct text_body {
  std::string content_type;
  std::string text;
};

/// A body that is already JSON text (e.g. a Bot API method call).
struct json_text {
  std::string json;
};

/// TokenResponse of api.md.
struct token_response {
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;
  storage::user user;
};

/// GET /api/v1/agents: the static catalogue.
struct agent_list {};

/// The webhook's answer: a Bot API call Telegram performs for us
/// (sendMessage or answerCallbackQuery), or `{"ok":true}` when empty.
struct bot_reply {
  std::string method; ///< empty: nothing to do
  int64_t chat_id = 0;
  std::string text;
  std::string callback_query_id;
};

/// The GitHub webhook's answer: what the delivery did (`queued`,
/// `linked`, `ignored`, `duplicate`, `pong`) and the executions it queued
/// or linked.
struct webhook_receipt {
  std::string delivery;
  std::string result;
  std::vector<std::string> executions;
};

using reply_body =
  std::variant<std::monostate, liveness, health_report, text_body, json_text,
               token_response, storage::user, agent_list, storage::repository,
               std::vector<storage::repository>, storage::agent_execution,
               storage::execution_page, storage::execution_log,
               std::vector<storage::execution_log>, storage::workflow,
               std::vector<storage::workflow>, storage::dashboard_summary,
               std::vector<storage::recent_execution>, storage::link_code,
               bot_reply, storage::worker_token, storage::event_ticket,
               std::vector<storage::worker_token>, storage::heartbeat_answer,
               storage::workflow_run, std::vector<storage::workflow_run>,
               webhook_receipt>;

} // namespace miyabi::domain
