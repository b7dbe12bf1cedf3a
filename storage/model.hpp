// The domain values of the API: database rows as the API shows them, and
// the validated inputs the queries take. Plain copyable structs; timestamps
// are RFC 3339 UTC text (formatted by PostgreSQL), JSON columns are JSON
// text. Shared by storage (which fills them), the actors (which pass them
// around) and the HTTP codec (which writes them).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace miyabi::storage {

// -- users and tokens ---------------------------------------------------------

struct user {
  std::string id;
  int64_t github_id = 0;
  std::string login;
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::string> avatar_url;
  std::string created_at;
  std::string updated_at;
};

/// A user as GitHub (or /auth/mock) describes it; upserted by github_id.
struct user_profile {
  int64_t github_id = 0;
  std::string login;
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::string> avatar_url;
};

/// A refresh token to store: its hash, family and lifetime.
struct refresh_grant {
  std::string user_id;
  std::string token_hash;
  std::string family_id; ///< empty: start a new family
  int64_t ttl_seconds = 0;
};

/// What presenting a refresh token found.
enum class refresh_outcome {
  rotated, ///< valid: marked used, a new token may be issued
  unknown, ///< no such token, or expired, or revoked
  reused,  ///< already rotated: the family is now revoked
};

struct refresh_check {
  refresh_outcome outcome = refresh_outcome::unknown;
  std::string user_id;
  std::string family_id;
};

/// Server-side state of one GitHub login attempt.
struct oauth_state {
  std::string state_hash;
  std::string binding_hash;
  std::string code_verifier;
  std::string redirect_path;
};

// -- repositories -------------------------------------------------------------

struct repository {
  std::string id;
  std::string owner;
  std::string name;
  std::optional<int64_t> github_repo_id;
  std::string default_branch;
  bool is_active = true;
  std::string created_at;
  std::string updated_at;
};

struct new_repository {
  std::string owner;
  std::string name;
  std::optional<int64_t> github_repo_id;
  std::optional<std::string> default_branch;
};

/// A created-or-found repository: `created` tells 201 from 200.
struct repository_upsert {
  repository repo;
  bool created = false;
};

// -- agent executions ---------------------------------------------------------

struct agent_execution {
  std::string id;
  std::string repository_id;
  std::string agent_type;
  int64_t issue_number = 0;
  std::string status;
  std::optional<std::string> options;        ///< JSON object text
  std::optional<std::string> result_summary; ///< JSON object text
  std::optional<int64_t> quality_score;
  std::optional<int64_t> pr_number;
  std::optional<std::string> error_message;
  std::optional<std::string> started_at;
  std::optional<std::string> completed_at;
  std::string created_at;
  std::string updated_at;
  int64_t attempt = 1;
  std::optional<int64_t> progress;
  std::optional<std::string> lease_expires_at;
  std::optional<std::string> claimed_by; ///< worker token id
  std::optional<std::string> retry_of;
  std::optional<std::string> workflow_run_id;
  std::optional<std::string> node_id;
};

struct new_execution {
  std::string repository_id;
  int64_t issue_number = 0;
  std::string agent_type;
  std::optional<std::string> options; ///< JSON object text
  std::string idempotency_key;        ///< empty: none
  std::string request_hash;           ///< SHA-256 of the normalized body
};

/// Keyset position in a newest-first list: (created_at, id) of the last
/// row returned.
struct page_cursor {
  std::string created_at;
  std::string id;
};

struct execution_filter {
  std::optional<std::string> status;
  std::optional<std::string> repository_id;
  int64_t limit = 20;
  std::optional<page_cursor> after;
};

struct execution_page {
  std::vector<agent_execution> items;
  std::optional<page_cursor> next;
};

struct execution_update {
  std::string status;
  std::optional<std::string> result_summary; ///< JSON object text
  std::optional<int64_t> quality_score;
  std::optional<int64_t> pr_number;
  std::optional<std::string> error_message;
  std::optional<int64_t> attempt; ///< required from workers, checked
  bool finishes = false; ///< sets completed_at (completed, failed, cancelled)
};

/// A status change, for notifications: the execution after the change and
/// the repository it belongs to.
struct execution_change {
  agent_execution execution;
  std::string previous_status;
  std::string user_id;
  std::string repository_owner;
  std::string repository_name;
};

// -- workers and leases -------------------------------------------------------

/// What a worker token may touch; an empty list means "any".
struct worker_scope {
  std::string token_id;
  std::vector<std::string> repository_ids;
  std::vector<std::string> agent_types;

  bool allows_repository(const std::string& id) const {
    return listed(repository_ids, id);
  }

  bool allows_type(const std::string& type) const {
    return listed(agent_types, type);
  }

  bool allows(const std::string& repository_id,
              const std::string& agent_type) const {
    return allows_repository(repository_id) && allows_type(agent_type);
  }

 private:
  static bool listed(const std::vector<std::string>& list,
                     const std::string& item) {
    return list.empty() ||
           std::find(list.begin(), list.end(), item) != list.end();
  }
};

/// The owner of a verified worker token and its scope.
struct worker_identity {
  std::string user_id;
  worker_scope scope;
};

/// A live event stream ticket; `ticket` is set once, in the creation
/// answer (only its hash is stored).
struct event_ticket {
  std::string ticket;
  std::string expires_at;
};

/// One numbered row of the event log (api.md, "Live events"): `data` is
/// the JSON text of the row as the REST routes return it.
struct event_record {
  int64_t id = 0;
  std::string kind; ///< execution, log or workflow_run
  std::string user_id;
  std::optional<std::string> repository_id;
  std::optional<std::string> execution_id;
  std::optional<std::string> workflow_run_id;
  std::string data;
  double written_at = 0; ///< seconds since the epoch (database clock)
};

/// Optional stream filters; a set one must match.
struct event_filter {
  std::optional<std::string> execution_id;
  std::optional<std::string> repository_id;
  std::optional<std::string> workflow_run_id;
};

/// Where the event log stands: ids up to `last_id` were handed out, ids
/// up to `purged_through` may be gone.
struct event_position {
  int64_t last_id = 0;
  int64_t purged_through = 0;
};

/// A worker token as listed (never the token itself).
struct worker_token {
  std::string id;
  std::string name;
  std::optional<std::vector<std::string>> repository_ids;
  std::optional<std::vector<std::string>> agent_types;
  std::string created_at;
  std::optional<std::string> last_used_at;
  std::optional<std::string> token; ///< only in the creation answer
};

struct new_worker_token {
  std::string name;
  std::optional<std::vector<std::string>> repository_ids;
  std::optional<std::vector<std::string>> agent_types;
};

/// POST /agents/executions/claim, with the caller's scope.
struct claim_request {
  std::vector<std::string> agent_types; ///< empty: any
  std::optional<std::string> repository_id;
  const worker_scope* worker = nullptr; ///< set for worker tokens
};

struct heartbeat {
  int64_t attempt = 1;
  std::optional<int64_t> progress;
  std::optional<std::string> message;
};

struct heartbeat_answer {
  std::string lease_expires_at;
  std::string status;
};

/// Lease settings (EXECUTION_LEASE_SECONDS, EXECUTION_MAX_ATTEMPTS).
struct lease_policy {
  int64_t lease_seconds = 60;
  int64_t max_attempts = 3;
};

struct execution_log {
  std::string id;
  std::string execution_id;
  std::string level;
  std::string message;
  std::optional<std::string> metadata; ///< JSON text
  std::string timestamp;
};

struct new_log {
  std::string level;
  std::string message;
  std::optional<std::string> metadata; ///< JSON text
};

struct log_filter {
  std::optional<std::string> after; ///< RFC 3339 timestamp
  int64_t limit = 100;
};

// -- workflows ----------------------------------------------------------------

struct workflow {
  std::string id;
  std::string repository_id;
  std::string name;
  std::optional<std::string> description;
  std::string dag_definition; ///< JSON object text
  bool is_active = true;
  std::string created_at;
  std::string updated_at;
};

struct workflow_input {
  std::string repository_id;
  std::string name;
  std::optional<std::string> description;
  std::string dag_definition; ///< validated JSON object text
  std::optional<bool> is_active;
};

struct workflow_run_node {
  std::string node_id;
  std::string agent_type;
  std::string execution_id;
  std::string status;
};

struct workflow_run {
  std::string id;
  std::optional<std::string> workflow_id;
  std::string repository_id;
  int64_t issue_number = 0;
  std::string status;
  std::string created_at;
  std::string updated_at;
  std::vector<workflow_run_node> nodes;
};

struct new_workflow_run {
  int64_t issue_number = 0;
  std::optional<std::string> options; ///< JSON object text
};

// -- dashboard ----------------------------------------------------------------

struct dashboard_summary {
  int64_t total_executions = 0;
  int64_t pending_executions = 0;
  int64_t running_executions = 0;
  int64_t completed_executions = 0;
  int64_t failed_executions = 0;
  int64_t cancelled_executions = 0;
  int64_t blocked_executions = 0;
  int64_t total_repositories = 0;
  int64_t total_prs_created = 0;
};

struct recent_execution {
  agent_execution execution;
  std::string repository_owner;
  std::string repository_name;
};

// -- Telegram -----------------------------------------------------------------

struct link_code {
  std::string code;
  std::string expires_at;
};

/// One outgoing Telegram message waiting in the outbox.
struct outbox_message {
  int64_t id = 0;
  int64_t chat_id = 0;
  std::string kind;    ///< "message" or "create_issue"
  std::string payload; ///< JSON text
  int64_t attempts = 0;
};

} // namespace miyabi::storage
