// The API's domain rules as pure functions: identifier formats, GitHub
// repository names, the agent catalogue, execution status transitions and
// workflow graphs. The HTTP layer validates inputs with them on the reactor
// thread; the actors rely on them. Any thread; no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <rapidjson/document.h>

namespace miyabi::domain {

// -- identifiers --------------------------------------------------------------

/// A UUID in canonical 8-4-4-4-12 hex form (either case).
bool valid_uuid(std::string_view text);

/// An RFC 3339 timestamp with a `Z` or numeric offset, optional fraction
/// (e.g. 2026-01-02T03:04:05Z, 2026-01-02T03:04:05.123456+09:00), with
/// valid ranges for every field.
bool valid_rfc3339(std::string_view text);

// -- GitHub names -------------------------------------------------------------

/// A GitHub owner (user or organization) name: 1-39 characters of
/// alphanumerics and single hyphens, not starting or ending with a hyphen.
bool valid_github_owner(std::string_view owner);

/// A GitHub repository name: 1-100 characters of alphanumerics, `-`, `_`
/// and `.`, and not `.` or `..`.
bool valid_github_repository(std::string_view name);

/// Splits `owner/name` when both parts are valid (exactly one slash).
std::optional<std::pair<std::string, std::string>>
parse_full_name(std::string_view full_name);

// -- agents and executions ----------------------------------------------------

struct agent_info {
  const char* type;
  const char* name;
  const char* description;
};

/// The six agent types (coordinator, codegen, review, pr, deployment,
/// issue) with display names and descriptions, in that order.
const std::vector<agent_info>& agent_catalogue();

/// The agent types of the catalogue as a list for messages and prompts:
/// "coordinator, codegen, review, pr, deployment, issue".
const std::string& agent_type_names();

bool known_agent_type(std::string_view type);

/// pending, running, completed, failed, cancelled.
bool known_status(std::string_view status);

/// DEBUG, INFO, WARN, ERROR.
bool known_log_level(std::string_view level);

/// pending->running, running->completed|failed, pending|running->cancelled.
bool transition_allowed(std::string_view from, std::string_view to);

/// completed, failed and cancelled set completed_at.
bool finishing_status(std::string_view status);

// -- workflows ----------------------------------------------------------------

/// Limits of a workflow graph and its name.
constexpr size_t max_workflow_nodes = 200;
constexpr size_t max_workflow_edges = 1000;
constexpr size_t max_node_id_length = 64;
constexpr size_t max_workflow_name_length = 200;
constexpr size_t max_workflow_description_length = 4000;

/// Validates `dag_definition`: an object with a non-empty array `nodes` of
/// objects each having a string `id` (1..max_node_id_length, unique) and a
/// known `agent_type` (other members allowed), and an optional array
/// `edges` of objects with string `from` and `to` naming existing nodes;
/// no self-loops, no duplicate edges, no cycles; at most max_workflow_nodes
/// nodes and max_workflow_edges edges. An empty graph (no nodes) is refused.
/// Error: unprocessable_entity whose details name the problem (e.g.
/// "dag_definition: cycle through a -> b -> a").
caf::error validate_dag(const rapidjson::Value& dag);

} // namespace miyabi::domain
