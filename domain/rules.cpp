#include "domain/rules.hpp"

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "base/errors.hpp"

namespace miyabi::domain {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// Reads `count` decimal digits at `pos`; -1 if any of them is not a digit.
int read_number(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size())
    return -1;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(text[i]))
      return -1;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
  return month == 2 && leap_year(year) ? 29 : days[month - 1];
}

// -- workflow graph helpers ---------------------------------------------------

/// Longest client-supplied text echoed in an error detail, in bytes.
constexpr size_t max_echo_bytes = 64;

/// Cycles longer than this are shown with their middle elided.
constexpr size_t max_cycle_shown = 12;

/// Appends client text safely: escaped quotes, backslashes and control
/// characters, and cut short (on a UTF-8 boundary) when it is long, so a
/// hostile graph cannot blow up or garble the error envelope.
void append_escaped(std::string& out, std::string_view text) {
  auto size = text.size();
  bool cut = size > max_echo_bytes;
  if (cut) {
    size = max_echo_bytes;
    while (size > 0 && (static_cast<unsigned char>(text[size]) & 0xc0) == 0x80)
      --size;
  }
  static constexpr char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut)
    out += "...";
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  append_escaped(out, text);
  out += '"';
  return out;
}

std::string_view view_of(const rapidjson::Value& str) {
  return {str.GetString(), str.GetStringLength()};
}

/// Length in code points; the parser has validated the encoding.
size_t utf8_length(std::string_view text) {
  return static_cast<size_t>(
    std::count_if(text.begin(), text.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    }));
}

std::string index_path(const char* array, size_t index) {
  std::string out = "dag_definition.";
  out += array;
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

caf::error graph_error(std::string details) {
  return make_error(errc::unprocessable_entity, "invalid workflow graph",
                    std::move(details));
}

/// A string member `key` of `obj`, or an error naming `path.key`.
caf::error string_member(const rapidjson::Value& obj, const char* key,
                         const std::string& path, std::string_view& result) {
  auto i = obj.FindMember(key);
  if (i == obj.MemberEnd())
    return graph_error(path + "." + key + ": is required");
  if (!i->value.IsString())
    return graph_error(path + "." + key + ": must be a string");
  result = view_of(i->value);
  return {};
}

std::string cycle_text(const std::vector<std::string_view>& ids,
                       const std::vector<size_t>& cycle) {
  std::string out = "dag_definition: cycle ";
  auto append_node = [&](size_t k) {
    append_escaped(out, ids[cycle[k]]);
    out += " -> ";
  };
  if (cycle.size() <= max_cycle_shown) {
    for (size_t k = 0; k < cycle.size(); ++k)
      append_node(k);
  } else {
    auto head = max_cycle_shown - 2;
    for (size_t k = 0; k < head; ++k)
      append_node(k);
    out += "... (";
    out += std::to_string(cycle.size() - head - 1);
    out += " more) -> ";
    append_node(cycle.size() - 1);
  }
  append_escaped(out, ids[cycle.front()]);
  return out;
}

/// Finds one cycle with Kahn's algorithm; empty when the graph is acyclic.
/// Iterative throughout: graphs come from clients and may be deep.
std::vector<size_t>
find_cycle(size_t node_count,
           const std::vector<std::pair<size_t, size_t>>& edges) {
  std::vector<size_t> in_degree(node_count, 0);
  std::vector<std::vector<size_t>> successors(node_count);
  std::vector<std::vector<size_t>> predecessors(node_count);
  for (const auto& [from, to] : edges) {
    ++in_degree[to];
    successors[from].push_back(to);
    predecessors[to].push_back(from);
  }
  std::vector<size_t> ready;
  for (size_t n = 0; n < node_count; ++n)
    if (in_degree[n] == 0)
      ready.push_back(n);
  std::vector<bool> removed(node_count, false);
  size_t removed_count = 0;
  while (!ready.empty()) {
    auto n = ready.back();
    ready.pop_back();
    removed[n] = true;
    ++removed_count;
    for (auto next : successors[n])
      if (--in_degree[next] == 0)
        ready.push_back(next);
  }
  if (removed_count == node_count)
    return {};
  // Every node Kahn left behind has a predecessor that was left behind too,
  // so walking predecessors from any of them must revisit a node: the walk
  // from that node's first visit is a cycle, in reverse.
  auto start = static_cast<size_t>(
    std::find(removed.begin(), removed.end(), false) - removed.begin());
  std::vector<size_t> position(node_count, node_count);
  std::vector<size_t> walk;
  auto n = start;
  while (position[n] == node_count) {
    position[n] = walk.size();
    walk.push_back(n);
    for (auto prev : predecessors[n]) {
      if (!removed[prev]) {
        n = prev;
        break;
      }
    }
  }
  std::vector<size_t> cycle(walk.begin() + static_cast<ptrdiff_t>(position[n]),
                            walk.end());
  std::reverse(cycle.begin(), cycle.end());
  // Start at the node declared first, so the answer is stable.
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()),
              cycle.end());
  return cycle;
}

} // namespace

// -- identifiers --------------------------------------------------------------

bool valid_uuid(std::string_view text) {
  if (text.size() != 36)
    return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return false;
    } else if (!is_hex(text[i])) {
      return false;
    }
  }
  return true;
}

bool valid_rfc3339(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS is 19 characters; the shortest zone is one more.
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[13] != ':' ||
      text[16] != ':' || (text[10] != 'T' && text[10] != 't'))
    return false;
  auto year = read_number(text, 0, 4);
  auto month = read_number(text, 5, 2);
  auto day = read_number(text, 8, 2);
  auto hour = read_number(text, 11, 2);
  auto minute = read_number(text, 14, 2);
  auto second = read_number(text, 17, 2);
  // PostgreSQL has no year 0, so 0000 would only fail later, in the store.
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > days_in_month(year, month) || hour < 0 || hour > 23 || minute < 0 ||
      minute > 59 || second < 0 || second > 60)
    return false;
  size_t pos = 19;
  if (text[pos] == '.') {
    auto first = ++pos;
    while (pos < text.size() && is_digit(text[pos]))
      ++pos;
    if (pos == first || pos - first > 9)
      return false;
  }
  if (pos >= text.size())
    return false;
  if (text[pos] == 'Z' || text[pos] == 'z')
    return pos + 1 == text.size();
  if (text[pos] != '+' && text[pos] != '-')
    return false;
  if (text.size() - pos != 6 || text[pos + 3] != ':')
    return false;
  auto offset_hour = read_number(text, pos + 1, 2);
  auto offset_minute = read_number(text, pos + 4, 2);
  return offset_hour >= 0 && offset_hour <= 23 && offset_minute >= 0 &&
         offset_minute <= 59;
}

// -- GitHub names -------------------------------------------------------------

bool valid_github_owner(std::string_view owner) {
  if (owner.empty() || owner.size() > 39 || owner.front() == '-' ||
      owner.back() == '-')
    return false;
  char previous = 0;
  for (auto c : owner) {
    if (!is_alnum(c) && c != '-')
      return false;
    if (c == '-' && previous == '-')
      return false;
    previous = c;
  }
  return true;
}

bool valid_github_repository(std::string_view name) {
  if (name.empty() || name.size() > 100 || name == "." || name == "..")
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '-';
  });
}

std::optional<std::pair<std::string, std::string>>
parse_full_name(std::string_view full_name) {
  auto slash = full_name.find('/');
  if (slash == std::string_view::npos)
    return std::nullopt;
  auto owner = full_name.substr(0, slash);
  auto name = full_name.substr(slash + 1);
  // A second slash fails the repository check: '/' is not a name character.
  if (!valid_github_owner(owner) || !valid_github_repository(name))
    return std::nullopt;
  return std::make_pair(std::string{owner}, std::string{name});
}

// -- agents and executions ----------------------------------------------------

const std::vector<agent_info>& agent_catalogue() {
  static const std::vector<agent_info> catalogue{
    {"coordinator", "CoordinatorAgent",
     "Breaks an issue down into a graph of tasks and assigns each task to "
     "the agent best suited to it."},
    {"codegen", "CodeGenAgent",
     "Writes the code, tests and documentation that a task calls for."},
    {"review", "ReviewAgent",
     "Reviews generated code for correctness, security and style and scores "
     "its quality from 0 to 100."},
    {"pr", "PRAgent",
     "Opens a pull request for the reviewed changes with a title, "
     "description and links to the issue."},
    {"deployment", "DeploymentAgent",
     "Deploys merged changes and verifies that the deployment is healthy, "
     "rolling back when it is not."},
    {"issue", "IssueAgent",
     "Analyses new issues and labels them by type, priority and "
     "complexity."},
  };
  return catalogue;
}

const std::string& agent_type_names() {
  static const std::string names = [] {
    std::string out;
    for (const auto& agent : agent_catalogue()) {
      if (!out.empty())
        out += ", ";
      out += agent.type;
    }
    return out;
  }();
  return names;
}

bool known_agent_type(std::string_view type) {
  const auto& catalogue = agent_catalogue();
  return std::any_of(
    catalogue.begin(), catalogue.end(),
    [&](const agent_info& agent) { return type == agent.type; });
}

bool known_status(std::string_view status) {
  return status == "blocked" || status == "pending" || status == "running" ||
         status == "completed" || status == "failed" || status == "cancelled";
}

bool known_log_level(std::string_view level) {
  return level == "DEBUG" || level == "INFO" || level == "WARN" ||
         level == "ERROR";
}

bool transition_allowed(std::string_view from, std::string_view to) {
  if (from == "pending")
    return to == "running" || to == "cancelled";
  if (from == "running")
    return to == "completed" || to == "failed" || to == "cancelled";
  if (from == "blocked")
    return to == "cancelled";
  return false;
}

bool finishing_status(std::string_view status) {
  return status == "completed" || status == "failed" || status == "cancelled";
}

// -- workflows ----------------------------------------------------------------

caf::error validate_dag(const rapidjson::Value& dag) {
  if (!dag.IsObject())
    return graph_error("dag_definition: must be an object");
  auto nodes_member = dag.FindMember("nodes");
  if (nodes_member == dag.MemberEnd())
    return graph_error("dag_definition.nodes: is required");
  const auto& nodes = nodes_member->value;
  if (!nodes.IsArray())
    return graph_error("dag_definition.nodes: must be an array");
  if (nodes.Empty())
    return graph_error("dag_definition.nodes: at least one node is required");
  if (nodes.Size() > max_workflow_nodes)
    return graph_error("dag_definition.nodes: at most " +
                       std::to_string(max_workflow_nodes) + " nodes");
  std::vector<std::string_view> ids;
  ids.reserve(nodes.Size());
  std::unordered_map<std::string_view, size_t> index_of;
  for (rapidjson::SizeType i = 0; i < nodes.Size(); ++i) {
    const auto& node = nodes[i];
    auto path = index_path("nodes", i);
    if (!node.IsObject())
      return graph_error(path + ": must be an object");
    std::string_view id;
    if (auto err = string_member(node, "id", path, id))
      return err;
    auto length = utf8_length(id);
    if (length == 0 || length > max_node_id_length)
      return graph_error(path + ".id: must be 1-" +
                         std::to_string(max_node_id_length) + " characters");
    if (!index_of.emplace(id, i).second)
      return graph_error(path + ".id: duplicate node id " + quoted(id));
    ids.push_back(id);
    std::string_view agent_type;
    if (auto err = string_member(node, "agent_type", path, agent_type))
      return err;
    if (!known_agent_type(agent_type))
      return graph_error(path + ".agent_type: unknown agent type " +
                         quoted(agent_type) + " (expected one of " +
                         agent_type_names() + ")");
  }
  std::vector<std::pair<size_t, size_t>> edges;
  auto edges_member = dag.FindMember("edges");
  if (edges_member != dag.MemberEnd()) {
    const auto& list = edges_member->value;
    if (!list.IsArray())
      return graph_error("dag_definition.edges: must be an array");
    if (list.Size() > max_workflow_edges)
      return graph_error("dag_definition.edges: at most " +
                         std::to_string(max_workflow_edges) + " edges");
    edges.reserve(list.Size());
    std::unordered_map<uint64_t, size_t> seen;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      const auto& edge = list[i];
      auto path = index_path("edges", i);
      if (!edge.IsObject())
        return graph_error(path + ": must be an object");
      std::string_view from;
      std::string_view to;
      if (auto err = string_member(edge, "from", path, from))
        return err;
      if (auto err = string_member(edge, "to", path, to))
        return err;
      auto from_index = index_of.find(from);
      if (from_index == index_of.end())
        return graph_error(path + ".from: unknown node " + quoted(from));
      auto to_index = index_of.find(to);
      if (to_index == index_of.end())
        return graph_error(path + ".to: unknown node " + quoted(to));
      if (from_index->second == to_index->second)
        return graph_error(path + ": self-loop on " + quoted(from));
      auto key =
        static_cast<uint64_t>(from_index->second) * max_workflow_nodes +
        to_index->second;
      if (auto [previous, added] = seen.emplace(key, i); !added)
        return graph_error(path + ": duplicate edge " + quoted(from) + " -> " +
                           quoted(to) + " (same as edges[" +
                           std::to_string(previous->second) + "])");
      edges.emplace_back(from_index->second, to_index->second);
    }
  }
  if (auto cycle = find_cycle(ids.size(), edges); !cycle.empty())
    return graph_error(cycle_text(ids, cycle));
  return {};
}

} // namespace miyabi::domain
