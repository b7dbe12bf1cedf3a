#include "http/json_codec.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/utf8.hpp"
#include "domain/rules.hpp"
#include "http/cursor.hpp"

namespace miyabi::http {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view json_type = "application/json";

void put(writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put(writer& w, std::string_view key, int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

void put(writer& w, std::string_view key, bool value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Bool(value);
}

void put(writer& w, std::string_view key, const char* value) {
  put(w, key, std::string_view{value});
}

void put(writer& w, std::string_view key, const std::string& value) {
  put(w, key, std::string_view{value});
}

void put(writer& w, std::string_view key,
         const std::optional<std::string>& value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (value)
    w.String(value->data(), static_cast<rapidjson::SizeType>(value->size()));
  else
    w.Null();
}

void put(writer& w, std::string_view key, const std::optional<int64_t>& value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (value)
    w.Int64(*value);
  else
    w.Null();
}

/// A member whose value is JSON text from PostgreSQL (or null).
void put_json(writer& w, std::string_view key,
              const std::optional<std::string>& json) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (json)
    w.RawValue(json->data(), json->size(), rapidjson::kObjectType);
  else
    w.Null();
}

std::string take(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

void write(writer& w, const storage::user& u) {
  w.StartObject();
  put(w, "id", u.id);
  put(w, "github_id", u.github_id);
  put(w, "login", u.login);
  put(w, "email", u.email);
  put(w, "name", u.name);
  put(w, "avatar_url", u.avatar_url);
  put(w, "created_at", u.created_at);
  put(w, "updated_at", u.updated_at);
  w.EndObject();
}

void write(writer& w, const storage::repository& r) {
  w.StartObject();
  put(w, "id", r.id);
  put(w, "owner", r.owner);
  put(w, "name", r.name);
  put(w, "full_name", r.owner + "/" + r.name);
  put(w, "github_repo_id", r.github_repo_id);
  put(w, "default_branch", r.default_branch);
  put(w, "is_active", r.is_active);
  put(w, "created_at", r.created_at);
  put(w, "updated_at", r.updated_at);
  w.EndObject();
}

void write_execution_members(writer& w, const storage::agent_execution& e) {
  put(w, "id", e.id);
  put(w, "repository_id", e.repository_id);
  put(w, "agent_type", e.agent_type);
  put(w, "issue_number", e.issue_number);
  put(w, "status", e.status);
  put_json(w, "options", e.options);
  put_json(w, "result_summary", e.result_summary);
  put(w, "quality_score", e.quality_score);
  put(w, "pr_number", e.pr_number);
  put(w, "error_message", e.error_message);
  put(w, "started_at", e.started_at);
  put(w, "completed_at", e.completed_at);
  put(w, "created_at", e.created_at);
  put(w, "updated_at", e.updated_at);
  put(w, "attempt", e.attempt);
  put(w, "progress", e.progress);
  put(w, "lease_expires_at", e.lease_expires_at);
  put(w, "claimed_by", e.claimed_by);
  put(w, "retry_of", e.retry_of);
  put(w, "workflow_run_id", e.workflow_run_id);
  put(w, "node_id", e.node_id);
}

void write(writer& w, const storage::agent_execution& e) {
  w.StartObject();
  write_execution_members(w, e);
  w.EndObject();
}

void write(writer& w, const storage::recent_execution& r) {
  w.StartObject();
  write_execution_members(w, r.execution);
  put(w, "repository_owner", r.repository_owner);
  put(w, "repository_name", r.repository_name);
  w.EndObject();
}

void write(writer& w, const storage::execution_log& l) {
  w.StartObject();
  put(w, "id", l.id);
  put(w, "execution_id", l.execution_id);
  put(w, "level", l.level);
  put(w, "message", l.message);
  w.Key("metadata");
  if (l.metadata)
    w.RawValue(l.metadata->data(), l.metadata->size(), rapidjson::kObjectType);
  else
    w.Null();
  put(w, "timestamp", l.timestamp);
  w.EndObject();
}

void write(writer& w, const storage::workflow& f) {
  w.StartObject();
  put(w, "id", f.id);
  put(w, "repository_id", f.repository_id);
  put(w, "name", f.name);
  put(w, "description", f.description);
  put_json(w, "dag_definition", f.dag_definition);
  put(w, "is_active", f.is_active);
  put(w, "created_at", f.created_at);
  put(w, "updated_at", f.updated_at);
  w.EndObject();
}

void put(writer& w, std::string_view key,
         const std::optional<std::vector<std::string>>& items) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  if (!items) {
    w.Null();
    return;
  }
  w.StartArray();
  for (const auto& item : *items)
    w.String(item.data(), static_cast<rapidjson::SizeType>(item.size()));
  w.EndArray();
}

void write(writer& w, const storage::event_ticket& t) {
  w.StartObject();
  put(w, "ticket", t.ticket);
  put(w, "expires_at", t.expires_at);
  w.EndObject();
}

void write(writer& w, const storage::worker_token& t) {
  w.StartObject();
  put(w, "id", t.id);
  put(w, "name", t.name);
  if (t.token)
    put(w, "token", *t.token);
  put(w, "repository_ids", t.repository_ids);
  put(w, "agent_types", t.agent_types);
  put(w, "created_at", t.created_at);
  put(w, "last_used_at", t.last_used_at);
  w.EndObject();
}

void write(writer& w, const storage::heartbeat_answer& h) {
  w.StartObject();
  put(w, "lease_expires_at", h.lease_expires_at);
  put(w, "status", h.status);
  w.EndObject();
}

void write(writer& w, const storage::workflow_run& run) {
  w.StartObject();
  put(w, "id", run.id);
  put(w, "workflow_id", run.workflow_id);
  put(w, "repository_id", run.repository_id);
  put(w, "issue_number", run.issue_number);
  put(w, "status", run.status);
  put(w, "created_at", run.created_at);
  put(w, "updated_at", run.updated_at);
  w.Key("nodes");
  w.StartArray();
  for (const auto& n : run.nodes) {
    w.StartObject();
    put(w, "node_id", n.node_id);
    put(w, "agent_type", n.agent_type);
    put(w, "execution_id", n.execution_id);
    put(w, "status", n.status);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

template <class T>
void write(writer& w, const std::vector<T>& items) {
  w.StartArray();
  for (const auto& item : items)
    write(w, item);
  w.EndArray();
}

/// Encodes one value with the `write` overload of its type.
template <class T>
encoded_body json_of(const T& value) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  write(w, value);
  return {"application/json", take(buf)};
}

struct body_encoder {
  encoded_body operator()(std::monostate) const { return {{}, {}}; }

  encoded_body operator()(const domain::liveness&) const {
    return {json_type, R"({"status":"ok"})"};
  }

  encoded_body operator()(const domain::health_report& report) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "status",
        report.database == domain::db_state::disconnected ? "degraded" : "ok");
    put(w, "version", report.version);
    put(w, "mode", report.telegram_only ? "telegram-only" : "full");
    put(w, "database", domain::to_string(report.database));
    put(w, "uptime_seconds", report.uptime_seconds);
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const domain::text_body& body) const {
    return {body.content_type, body.text};
  }

  encoded_body operator()(const domain::json_text& body) const {
    return {json_type, body.json};
  }

  encoded_body operator()(const domain::token_response& t) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "access_token", t.access_token);
    put(w, "refresh_token", t.refresh_token);
    put(w, "token_type", "Bearer");
    put(w, "expires_in", t.expires_in);
    w.Key("user");
    write(w, t.user);
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const domain::agent_list&) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    w.Key("agents");
    w.StartArray();
    for (const auto& a : domain::agent_catalogue()) {
      w.StartObject();
      put(w, "type", a.type);
      put(w, "name", a.name);
      put(w, "description", a.description);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const storage::execution_page& page) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    w.Key("items");
    write(w, page.items);
    w.Key("next_cursor");
    if (page.next) {
      auto cursor = encode_cursor(*page.next);
      w.String(cursor.data(), static_cast<rapidjson::SizeType>(cursor.size()));
    } else {
      w.Null();
    }
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const storage::dashboard_summary& s) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "total_executions", s.total_executions);
    put(w, "pending_executions", s.pending_executions);
    put(w, "running_executions", s.running_executions);
    put(w, "completed_executions", s.completed_executions);
    put(w, "failed_executions", s.failed_executions);
    put(w, "cancelled_executions", s.cancelled_executions);
    put(w, "blocked_executions", s.blocked_executions);
    put(w, "total_repositories", s.total_repositories);
    put(w, "total_prs_created", s.total_prs_created);
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const storage::link_code& c) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "code", c.code);
    put(w, "expires_at", c.expires_at);
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const domain::bot_reply& r) const {
    if (r.method.empty())
      return {json_type, R"({"ok":true})"};
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "method", r.method);
    if (r.method == "answerCallbackQuery") {
      put(w, "callback_query_id", r.callback_query_id);
      if (!r.text.empty())
        put(w, "text", r.text);
    } else {
      put(w, "chat_id", r.chat_id);
      put(w, "text", r.text);
    }
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const domain::webhook_receipt& r) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "delivery", r.delivery);
    put(w, "result", r.result);
    w.Key("executions");
    w.StartArray();
    for (const auto& id : r.executions)
      w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
    w.EndArray();
    w.EndObject();
    return {json_type, take(buf)};
  }

  // Rows and lists of rows.
  template <class T>
  encoded_body operator()(const T& value) const {
    return json_of(value);
  }
};

} // namespace

encoded_body encode(const domain::reply_body& body) {
  return std::visit(body_encoder{}, body);
}

std::string encode_error(const error_response& err,
                         std::string_view request_id) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "error", err.code);
  put(w, "message", err.message);
  if (!err.details.empty())
    put(w, "details", err.details);
  put(w, "request_id", request_id);
  w.EndObject();
  return take(buf);
}

} // namespace miyabi::http
