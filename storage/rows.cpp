#include "storage/rows.hpp"

#include "base/text.hpp"

namespace miyabi::storage {

const row_map<user>& user_row() {
  static const row_map<user> map{
    {"@id", &user::id},
    {"@github_id", &user::github_id},
    {"@login", &user::login},
    {"@email", &user::email},
    {"@name", &user::name},
    {"@avatar_url", &user::avatar_url},
    {"rfc3339(@created_at)", &user::created_at},
    {"rfc3339(@updated_at)", &user::updated_at},
  };
  return map;
}

const row_map<execution_log>& log_row() {
  static const row_map<execution_log> map{
    {"@id", &execution_log::id},
    {"@execution_id", &execution_log::execution_id},
    {"@level", &execution_log::level},
    {"@message", &execution_log::message},
    {"@metadata::text", &execution_log::metadata},
    {"rfc3339(@\"timestamp\")", &execution_log::timestamp},
  };
  return map;
}

const row_map<agent_execution>& execution_row() {
  using e = agent_execution;
  static const row_map<agent_execution> map{
    {"@id", &e::id},
    {"@repository_id", &e::repository_id},
    {"@agent_type", &e::agent_type},
    {"@issue_number", &e::issue_number},
    {"@status", &e::status},
    {"@options::text", &e::options},
    {"@result_summary::text", &e::result_summary},
    {"@quality_score", &e::quality_score},
    {"@pr_number", &e::pr_number},
    {"@error_message", &e::error_message},
    {"rfc3339(@started_at)", &e::started_at},
    {"rfc3339(@completed_at)", &e::completed_at},
    {"rfc3339(@created_at)", &e::created_at},
    {"rfc3339(@updated_at)", &e::updated_at},
    {"@attempt", &e::attempt},
    {"@progress", &e::progress},
    {"rfc3339(@lease_expires_at)", &e::lease_expires_at},
    {"@claimed_by", &e::claimed_by},
    {"@retry_of", &e::retry_of},
    {"@workflow_run_id", &e::workflow_run_id},
    {"@node_id", &e::node_id},
  };
  return map;
}

const row_map<repository>& repository_row() {
  static const row_map<repository> map{
    {"id", &repository::id},
    {"owner", &repository::owner},
    {"name", &repository::name},
    {"github_repo_id", &repository::github_repo_id},
    {"default_branch", &repository::default_branch},
    {"is_active", &repository::is_active},
    {"rfc3339(created_at)", &repository::created_at},
    {"rfc3339(updated_at)", &repository::updated_at},
  };
  return map;
}

const row_map<workflow>& workflow_row() {
  static const row_map<workflow> map{
    {"@id", &workflow::id},
    {"@repository_id", &workflow::repository_id},
    {"@name", &workflow::name},
    {"@description", &workflow::description},
    {"@dag_definition::text", &workflow::dag_definition},
    {"@is_active", &workflow::is_active},
    {"rfc3339(@created_at)", &workflow::created_at},
    {"rfc3339(@updated_at)", &workflow::updated_at},
  };
  return map;
}

const row_map<worker_token>& token_row() {
  static const row_map<worker_token> map{
    {"@id", &worker_token::id},
    {"@name", &worker_token::name},
    {"array_to_string(@repository_ids, ',')", &worker_token::repository_ids},
    {"array_to_string(@agent_types, ',')", &worker_token::agent_types},
    {"rfc3339(@created_at)", &worker_token::created_at},
    {"rfc3339(@last_used_at)", &worker_token::last_used_at},
  };
  return map;
}

const row_map<event_record>& event_row() {
  static const row_map<event_record> map{
    {"id", &event_record::id},
    {"kind", &event_record::kind},
    {"user_id", &event_record::user_id},
    {"repository_id", &event_record::repository_id},
    {"execution_id", &event_record::execution_id},
    {"workflow_run_id", &event_record::workflow_run_id},
    {"data::text", &event_record::data},
    {"extract(epoch FROM created_at)::float8", &event_record::written_at},
  };
  return map;
}

const row_map<workflow_run>& run_row() {
  static const row_map<workflow_run> map{
    {"@id", &workflow_run::id},
    {"@workflow_id", &workflow_run::workflow_id},
    {"@repository_id", &workflow_run::repository_id},
    {"@issue_number", &workflow_run::issue_number},
    {"@status", &workflow_run::status},
    {"rfc3339(@created_at)", &workflow_run::created_at},
    {"rfc3339(@updated_at)", &workflow_run::updated_at},
  };
  return map;
}

std::string array_literal(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ',';
    out += items[i];
  }
  return out + "}";
}

std::optional<std::vector<std::string>> split_list(const pqxx::field& f) {
  if (f.is_null())
    return std::nullopt;
  return split(f.as<std::string>(), ',');
}

} // namespace miyabi::storage
