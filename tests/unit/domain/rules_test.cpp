#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "base/errors.hpp"
#include "domain/rules.hpp"

using namespace miyabi::domain;

namespace {

rapidjson::Document parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError(), "test JSON: " << json);
  return doc;
}

/// Validates `json` and checks the error's shape; returns its details.
std::string refusal(const std::string& json) {
  auto doc = parse(json);
  auto err = validate_dag(doc);
  BOOST_REQUIRE_MESSAGE(err, "accepted: " << json);
  BOOST_TEST(miyabi::is(err, miyabi::errc::unprocessable_entity));
  auto info = miyabi::describe(err);
  BOOST_TEST(info.ours);
  BOOST_TEST(info.message == "invalid workflow graph");
  BOOST_TEST(info.details.rfind("dag_definition", 0) == 0u, info.details);
  return info.details;
}

bool accepted(const std::string& json) {
  auto doc = parse(json);
  auto err = validate_dag(doc);
  BOOST_TEST_INFO(miyabi::describe(err).details);
  return !err;
}

std::string node(const std::string& id, const std::string& type = "codegen") {
  return R"({"id":")" + id + R"(","agent_type":")" + type + R"("})";
}

std::string edge(const std::string& from, const std::string& to) {
  return R"({"from":")" + from + R"(","to":")" + to + R"("})";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty())
      out += ',';
    out += item;
  }
  return out;
}

std::string graph(const std::vector<std::string>& nodes,
                  const std::vector<std::string>& edges) {
  return R"({"nodes":[)" + join(nodes) + R"(],"edges":[)" + join(edges) + "]}";
}

/// A chain n0 -> n1 -> ... of `count` nodes.
std::string chain(size_t count) {
  std::vector<std::string> nodes;
  std::vector<std::string> edges;
  for (size_t i = 0; i < count; ++i) {
    nodes.push_back(node("n" + std::to_string(i)));
    if (i > 0)
      edges.push_back(
        edge("n" + std::to_string(i - 1), "n" + std::to_string(i)));
  }
  return graph(nodes, edges);
}

const std::vector<std::string> statuses{"blocked",   "pending", "running",
                                        "completed", "failed",  "cancelled"};

} // namespace

BOOST_AUTO_TEST_SUITE(identifiers)

BOOST_AUTO_TEST_CASE(canonical_uuids_are_valid_in_either_case) {
  BOOST_TEST(valid_uuid("123e4567-e89b-12d3-a456-426614174000"));
  BOOST_TEST(valid_uuid("123E4567-E89B-12D3-A456-426614174000"));
  BOOST_TEST(valid_uuid("00000000-0000-0000-0000-000000000000"));
  BOOST_TEST(valid_uuid("ffffffff-FFFF-ffff-FFFF-ffffffffffff"));
}

BOOST_AUTO_TEST_CASE(uuids_of_another_shape_are_invalid) {
  for (const std::string& text : {
         std::string{""},
         std::string{"123e4567-e89b-12d3-a456-42661417400"},   // 35 chars
         std::string{"123e4567-e89b-12d3-a456-4266141740000"}, // 37 chars
         std::string{"123e4567e89b12d3a456426614174000"},      // no hyphens
         std::string{"123e4567-e89b-12d3-a4564-26614174000"},  // hyphen moved
         std::string{"123e456-7e89b-12d3-a456-426614174000"},  // hyphen moved
         std::string{"123e4567-e89b-12d3-a456_426614174000"},  // not a hyphen
         std::string{"123e4567-e89b-12d3-a456-42661417400g"},  // not hex
         std::string{"z23e4567-e89b-12d3-a456-426614174000"},  // not hex
         std::string{"{23e4567-e89b-12d3-a456-426614174000}"}, // braces
         std::string{" 123e4567-e89b-12d3-a456-42661417400"},  // space
         std::string{"123e4567-e89b-12d3-a456-42661417400\0", 36},
       }) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!valid_uuid(text));
  }
}

BOOST_AUTO_TEST_CASE(rfc3339_timestamps_with_zone_and_fraction_are_valid) {
  for (const std::string& text : {
         std::string{"2026-01-02T03:04:05Z"},
         std::string{"2026-01-02T03:04:05z"},
         std::string{"2026-01-02T03:04:05.1Z"},
         std::string{"2026-01-02T03:04:05.123456789Z"},
         std::string{"2026-01-02T03:04:05.123456+09:00"},
         std::string{"2026-01-02T03:04:05-05:30"},
         std::string{"2026-12-31T23:59:59+23:59"},
         std::string{"2016-12-31T23:59:60Z"}, // leap second
         std::string{"2024-02-29T00:00:00Z"}, // leap year
         std::string{"2000-02-29T00:00:00Z"}, // divisible by 400
         std::string{"0001-01-01T00:00:00Z"},
         std::string{"9999-12-31T23:59:59Z"},
         // RFC 3339 section 5.6 allows a lower-case separator; accepted.
         std::string{"2026-01-02t03:04:05Z"},
       }) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(valid_rfc3339(text));
  }
}

BOOST_AUTO_TEST_CASE(rfc3339_timestamps_out_of_range_or_malformed_are_invalid) {
  for (const std::string& text : {
         std::string{""},
         std::string{"2023-02-29T00:00:00Z"}, // not a leap year
         std::string{"1900-02-29T00:00:00Z"}, // divisible by 100 only
         std::string{"2024-02-30T00:00:00Z"},
         std::string{"2026-04-31T00:00:00Z"},
         std::string{"2026-01-32T00:00:00Z"},
         std::string{"2026-01-00T00:00:00Z"},
         std::string{"2026-13-01T00:00:00Z"},
         std::string{"2026-00-01T00:00:00Z"},
         std::string{"2026-01-02T24:00:00Z"},
         std::string{"2026-01-02T23:60:00Z"},
         std::string{"2026-01-02T23:59:61Z"},
         // PostgreSQL has no year 0, so it is refused here already.
         std::string{"0000-01-01T00:00:00Z"},
         std::string{"2026-01-02T03:04:05"},             // no zone
         std::string{"2026-01-02T03:04:05.123"},         // no zone
         std::string{"2026-01-02"},                      // date only
         std::string{"2026-01-02 03:04:05Z"},            // space separator
         std::string{"2026-01-02T03:04:05.Z"},           // empty fraction
         std::string{"2026-01-02T03:04:05.1234567890Z"}, // 10 digits
         std::string{"2026-01-02T03:04:05,123Z"},        // comma
         std::string{"2026-01-02T03:04:05+0900"},        // offset without colon
         std::string{"2026-01-02T03:04:05+09"},
         std::string{"2026-01-02T03:04:05+24:00"},
         std::string{"2026-01-02T03:04:05+09:60"},
         std::string{"2026-01-02T03:04:05ZZ"},
         std::string{"2026-01-02T03:04:05Z "},
         std::string{" 2026-01-02T03:04:05Z"},
         std::string{"2026-1-02T03:04:05Z"},
         std::string{"26-01-02T03:04:05Z"},
         std::string{"+2026-01-02T03:04:05Z"},
         std::string{"2026-01-02T3:04:05Z"},
         std::string{"2026-0a-02T03:04:05Z"},
         std::string{"2026-01-02T03:04:05UTC"},
       }) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!valid_rfc3339(text));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(github_names)

BOOST_AUTO_TEST_CASE(owners_allow_single_inner_hyphens_up_to_39_characters) {
  BOOST_TEST(valid_github_owner("a"));
  BOOST_TEST(valid_github_owner("ShunsukeHayashi"));
  BOOST_TEST(valid_github_owner("my-org-2"));
  BOOST_TEST(valid_github_owner("0"));
  BOOST_TEST(valid_github_owner(std::string(39, 'a')));
  BOOST_TEST(!valid_github_owner(std::string(40, 'a')));
  BOOST_TEST(!valid_github_owner(""));
  BOOST_TEST(!valid_github_owner("-org"));
  BOOST_TEST(!valid_github_owner("org-"));
  BOOST_TEST(!valid_github_owner("-"));
  BOOST_TEST(!valid_github_owner("my--org"));
  BOOST_TEST(!valid_github_owner("my_org"));
  BOOST_TEST(!valid_github_owner("my.org"));
  BOOST_TEST(!valid_github_owner("my org"));
  BOOST_TEST(!valid_github_owner("みやび"));
  BOOST_TEST(!valid_github_owner("caf\xc3\xa9"));
}

BOOST_AUTO_TEST_CASE(repositories_allow_dots_underscores_hyphens_up_to_100) {
  BOOST_TEST(valid_github_repository("miyabi"));
  BOOST_TEST(valid_github_repository("Miyabi_API-v2.0"));
  BOOST_TEST(valid_github_repository(".github"));
  BOOST_TEST(valid_github_repository("..."));
  BOOST_TEST(valid_github_repository("-leading-hyphen"));
  BOOST_TEST(valid_github_repository("a..b"));
  BOOST_TEST(valid_github_repository(std::string(100, 'r')));
  BOOST_TEST(!valid_github_repository(std::string(101, 'r')));
  BOOST_TEST(!valid_github_repository(""));
  BOOST_TEST(!valid_github_repository("."));
  BOOST_TEST(!valid_github_repository(".."));
  BOOST_TEST(!valid_github_repository("a b"));
  BOOST_TEST(!valid_github_repository("a/b"));
  BOOST_TEST(!valid_github_repository("repo!"));
  BOOST_TEST(!valid_github_repository("みやび"));
  BOOST_TEST(!valid_github_repository(std::string("a\0b", 3)));
}

BOOST_AUTO_TEST_CASE(full_names_split_into_owner_and_repository) {
  auto parsed = parse_full_name("ShunsukeHayashi/Miyabi");
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->first == "ShunsukeHayashi");
  BOOST_TEST(parsed->second == "Miyabi");
  auto short_name = parse_full_name("a/b");
  BOOST_REQUIRE(short_name.has_value());
  BOOST_TEST(short_name->first == "a");
  BOOST_TEST(short_name->second == "b");
}

BOOST_AUTO_TEST_CASE(full_names_need_exactly_one_slash_and_valid_parts) {
  for (const std::string& text : {
         std::string{""},
         std::string{"/"},
         std::string{"ab"},
         std::string{"a/b/c"},
         std::string{"a//b"},
         std::string{"/b"},
         std::string{"a/"},
         std::string{" a/b"},
         std::string{"a/b "},
         std::string{"a /b"},
         std::string{"a/ b"},
         std::string{"-a/b"},
         std::string{"a/.."},
         std::string{"a/."},
         std::string{"a\\b"},
         std::string(40, 'o') + "/b",
         "a/" + std::string(101, 'r'),
       }) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!parse_full_name(text).has_value());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executions)

BOOST_AUTO_TEST_CASE(the_catalogue_lists_six_agents_in_contract_order) {
  const auto& catalogue = agent_catalogue();
  const std::vector<std::string> types{"coordinator", "codegen",    "review",
                                       "pr",          "deployment", "issue"};
  const std::vector<std::string> names{"CoordinatorAgent", "CodeGenAgent",
                                       "ReviewAgent",      "PRAgent",
                                       "DeploymentAgent",  "IssueAgent"};
  BOOST_REQUIRE(catalogue.size() == types.size());
  for (size_t i = 0; i < catalogue.size(); ++i) {
    BOOST_TEST_INFO(types[i]);
    BOOST_TEST(catalogue[i].type == types[i]);
    BOOST_TEST(catalogue[i].name == names[i]);
    std::string description = catalogue[i].description;
    BOOST_TEST(description.size() > 20u);
    BOOST_TEST(description.back() == '.');
  }
  BOOST_TEST(&agent_catalogue() == &catalogue);
}

BOOST_AUTO_TEST_CASE(every_catalogue_type_is_known_and_nothing_else) {
  for (const auto& agent : agent_catalogue())
    BOOST_TEST(known_agent_type(agent.type), agent.type);
  for (const char* type : {"", "Coordinator", "CODEGEN", "robot", "pr ",
                           "CoordinatorAgent", "reviewer"}) {
    BOOST_TEST_INFO(type);
    BOOST_TEST(!known_agent_type(type));
  }
}

BOOST_AUTO_TEST_CASE(statuses_and_log_levels_are_case_sensitive_enums) {
  for (const auto& status : statuses)
    BOOST_TEST(known_status(status), status);
  BOOST_TEST(!known_status("Pending"));
  BOOST_TEST(!known_status("canceled"));
  BOOST_TEST(!known_status(""));
  for (const char* level : {"DEBUG", "INFO", "WARN", "ERROR"})
    BOOST_TEST(known_log_level(level), level);
  for (const char* level : {"debug", "Info", "WARNING", "TRACE", "FATAL", ""})
    BOOST_TEST(!known_log_level(level), level);
}

BOOST_AUTO_TEST_CASE(every_allowed_transition_is_allowed) {
  BOOST_TEST(transition_allowed("pending", "running"));
  BOOST_TEST(transition_allowed("pending", "cancelled"));
  BOOST_TEST(transition_allowed("running", "completed"));
  BOOST_TEST(transition_allowed("running", "failed"));
  BOOST_TEST(transition_allowed("running", "cancelled"));
  BOOST_TEST(transition_allowed("blocked", "cancelled"));
}

BOOST_AUTO_TEST_CASE(every_other_transition_is_forbidden) {
  const std::set<std::pair<std::string, std::string>> allowed{
    {"pending", "running"}, {"pending", "cancelled"}, {"running", "completed"},
    {"running", "failed"},  {"running", "cancelled"}, {"blocked", "cancelled"},
  };
  size_t forbidden = 0;
  for (const auto& from : statuses) {
    for (const auto& to : statuses) {
      if (allowed.count({from, to}) != 0)
        continue;
      BOOST_TEST_INFO(from << " -> " << to);
      BOOST_TEST(!transition_allowed(from, to));
      ++forbidden;
    }
  }
  BOOST_TEST(forbidden == 30u);
  BOOST_TEST(!transition_allowed("blocked", "pending"));
  BOOST_TEST(!transition_allowed("blocked", "running"));
  BOOST_TEST(!transition_allowed("pending", "pending"));
  BOOST_TEST(!transition_allowed("running", "running"));
  BOOST_TEST(!transition_allowed("completed", "running"));
  BOOST_TEST(!transition_allowed("failed", "pending"));
  BOOST_TEST(!transition_allowed("cancelled", "running"));
  BOOST_TEST(!transition_allowed("pending", "completed"));
  BOOST_TEST(!transition_allowed("Pending", "Running"));
  BOOST_TEST(!transition_allowed("pending", "bogus"));
  BOOST_TEST(!transition_allowed("", ""));
}

BOOST_AUTO_TEST_CASE(only_terminal_statuses_finish_an_execution) {
  BOOST_TEST(finishing_status("completed"));
  BOOST_TEST(finishing_status("failed"));
  BOOST_TEST(finishing_status("cancelled"));
  BOOST_TEST(!finishing_status("pending"));
  BOOST_TEST(!finishing_status("running"));
  BOOST_TEST(!finishing_status("done"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(workflow_graphs)

BOOST_AUTO_TEST_CASE(a_diamond_graph_is_valid) {
  BOOST_TEST(accepted(graph({node("plan", "coordinator"), node("code"),
                             node("review", "review"), node("pr", "pr")},
                            {edge("plan", "code"), edge("plan", "review"),
                             edge("code", "pr"), edge("review", "pr")})));
}

BOOST_AUTO_TEST_CASE(nodes_and_edges_may_carry_extra_members) {
  BOOST_TEST(
    accepted(R"({"nodes":[{"id":"a","agent_type":"issue","label":"Triage",)"
             R"("position":{"x":1,"y":2},"options":null},)"
             R"({"id":"b","agent_type":"deployment","retries":3}],)"
             R"("edges":[{"from":"a","to":"b","condition":"success"}],)"
             R"("version":2})"));
}

BOOST_AUTO_TEST_CASE(edges_are_optional_but_nodes_are_required) {
  BOOST_TEST(accepted(R"({"nodes":[{"id":"a","agent_type":"codegen"}]})"));
  BOOST_TEST(accepted(graph({node("a"), node("b")}, {})));
  BOOST_TEST(refusal(R"({"edges":[]})") == "dag_definition.nodes: is required");
  BOOST_TEST(refusal(R"({})") == "dag_definition.nodes: is required");
}

BOOST_AUTO_TEST_CASE(an_empty_node_list_is_refused) {
  BOOST_TEST(refusal(R"({"nodes":[],"edges":[]})") ==
             "dag_definition.nodes: at least one node is required");
}

BOOST_AUTO_TEST_CASE(a_dag_that_is_not_an_object_is_refused) {
  for (const std::string& json : {std::string{"[]"}, std::string{"null"},
                                  std::string{"\"dag\""}, std::string{"1"}}) {
    BOOST_TEST(refusal(json) == "dag_definition: must be an object");
  }
}

BOOST_AUTO_TEST_CASE(nodes_and_edges_of_the_wrong_type_are_refused) {
  BOOST_TEST(refusal(R"({"nodes":{}})") ==
             "dag_definition.nodes: must be an array");
  BOOST_TEST(
    refusal(R"({"nodes":[{"id":"a","agent_type":"pr"}],"edges":{}})") ==
    "dag_definition.edges: must be an array");
  // null is not an absent member: a client sending it meant something else.
  BOOST_TEST(
    refusal(R"({"nodes":[{"id":"a","agent_type":"pr"}],"edges":null})") ==
    "dag_definition.edges: must be an array");
  BOOST_TEST(refusal(R"({"nodes":[{"id":"a","agent_type":"pr"},"b"]})") ==
             "dag_definition.nodes[1]: must be an object");
  BOOST_TEST(refusal(graph({node("a")}, {R"(["a","b"])"})) ==
             "dag_definition.edges[0]: must be an object");
  BOOST_TEST(refusal(graph({node("a"), node("b")}, {R"({"from":"a"})"})) ==
             "dag_definition.edges[0].to: is required");
  BOOST_TEST(
    refusal(graph({node("a"), node("b")}, {R"({"from":1,"to":"b"})"})) ==
    "dag_definition.edges[0].from: must be a string");
}

BOOST_AUTO_TEST_CASE(a_cycle_is_refused_with_its_path) {
  auto details =
    refusal(graph({node("a"), node("b"), node("c")},
                  {edge("a", "b"), edge("b", "c"), edge("c", "a")}));
  BOOST_TEST(details == "dag_definition: cycle a -> b -> c -> a");
  // The cycle is found behind an acyclic prefix and reported from its first
  // declared node.
  details = refusal(
    graph({node("s"), node("x"), node("z"), node("y")},
          {edge("s", "x"), edge("y", "z"), edge("x", "y"), edge("z", "x")}));
  BOOST_TEST(details == "dag_definition: cycle x -> y -> z -> x");
  details =
    refusal(graph({node("a"), node("b")}, {edge("a", "b"), edge("b", "a")}));
  BOOST_TEST(details == "dag_definition: cycle a -> b -> a");
}

BOOST_AUTO_TEST_CASE(a_long_cycle_is_reported_with_its_middle_elided) {
  auto json = chain(200);
  json.insert(json.size() - 2, "," + edge("n199", "n0"));
  auto details = refusal(json);
  BOOST_TEST(details.rfind("dag_definition: cycle n0 -> n1 -> ", 0) == 0u);
  BOOST_TEST(details.find("... (189 more) -> n199 -> n0") != std::string::npos,
             details);
  BOOST_TEST(details.size() < 200u);
}

BOOST_AUTO_TEST_CASE(a_self_loop_is_refused) {
  BOOST_TEST(
    refusal(graph({node("a"), node("b")}, {edge("a", "b"), edge("b", "b")})) ==
    R"(dag_definition.edges[1]: self-loop on "b")");
}

BOOST_AUTO_TEST_CASE(an_edge_to_or_from_an_unknown_node_is_refused) {
  BOOST_TEST(refusal(graph({node("a")}, {edge("a", "x")})) ==
             R"(dag_definition.edges[0].to: unknown node "x")");
  BOOST_TEST(refusal(graph({node("a"), node("b")},
                           {edge("a", "b"), edge("ghost", "a")})) ==
             R"(dag_definition.edges[1].from: unknown node "ghost")");
}

BOOST_AUTO_TEST_CASE(a_duplicate_node_id_is_refused) {
  BOOST_TEST(refusal(graph({node("a"), node("b"), node("c"), node("b")}, {})) ==
             R"(dag_definition.nodes[3].id: duplicate node id "b")");
}

BOOST_AUTO_TEST_CASE(a_duplicate_edge_is_refused) {
  auto details =
    refusal(graph({node("a"), node("b"), node("c")},
                  {edge("a", "b"), edge("b", "c"), edge("a", "b")}));
  BOOST_TEST(details.rfind("dag_definition.edges[2]: duplicate edge", 0) == 0u,
             details);
  BOOST_TEST(details.find("edges[0]") != std::string::npos, details);
  // The opposite direction is another edge (and here a cycle).
  BOOST_TEST(
    refusal(graph({node("a"), node("b")}, {edge("a", "b"), edge("b", "a")}))
      .find("cycle") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unknown_agent_type_is_refused_naming_the_known_ones) {
  BOOST_TEST(refusal(graph({node("a"), node("b", "robot")}, {})) ==
             R"(dag_definition.nodes[1].agent_type: unknown agent type )"
             R"("robot" (expected one of coordinator, codegen, review, pr, )"
             R"(deployment, issue))");
  BOOST_TEST(refusal(R"({"nodes":[{"id":"a"}]})") ==
             "dag_definition.nodes[0].agent_type: is required");
  BOOST_TEST(refusal(R"({"nodes":[{"id":"a","agent_type":7}]})") ==
             "dag_definition.nodes[0].agent_type: must be a string");
}

BOOST_AUTO_TEST_CASE(node_ids_must_be_strings_of_1_to_64_characters) {
  BOOST_TEST(refusal(R"({"nodes":[{"id":1,"agent_type":"pr"}]})") ==
             "dag_definition.nodes[0].id: must be a string");
  BOOST_TEST(refusal(R"({"nodes":[{"agent_type":"pr"}]})") ==
             "dag_definition.nodes[0].id: is required");
  BOOST_TEST(refusal(graph({node("")}, {})) ==
             "dag_definition.nodes[0].id: must be 1-64 characters");
  BOOST_TEST(refusal(graph({node("a"), node(std::string(65, 'x'))}, {})) ==
             "dag_definition.nodes[1].id: must be 1-64 characters");
  BOOST_TEST(accepted(graph({node(std::string(64, 'x'))}, {})));
  // Characters, not bytes: 64 three-byte characters fit.
  std::string kanji;
  for (int i = 0; i < 64; ++i)
    kanji += "\xe9\x9b\x85"; // 雅
  BOOST_TEST(accepted(graph({node(kanji)}, {})));
  BOOST_TEST(!accepted(graph({node(kanji + "\xe9\x9b\x85")}, {})));
}

BOOST_AUTO_TEST_CASE(echoed_client_text_is_escaped_and_shortened) {
  auto details =
    refusal(graph({node("a")}, {edge("a", std::string(5000, 'q'))}));
  BOOST_TEST(details.size() < 150u, details);
  BOOST_TEST(details.find(std::string(64, 'q') + "...") != std::string::npos);
  details = refusal(graph({node("a")}, {edge("a", R"(x\"\n)")}));
  BOOST_TEST(details ==
             R"(dag_definition.edges[0].to: unknown node "x\"\u000a")");
}

BOOST_AUTO_TEST_CASE(more_than_200_nodes_are_refused) {
  std::vector<std::string> nodes;
  for (int i = 0; i < 201; ++i)
    nodes.push_back(node("n" + std::to_string(i)));
  BOOST_TEST(refusal(graph(nodes, {})) ==
             "dag_definition.nodes: at most 200 nodes");
}

BOOST_AUTO_TEST_CASE(more_than_1000_edges_are_refused) {
  std::vector<std::string> nodes;
  for (int i = 0; i < 50; ++i)
    nodes.push_back(node("n" + std::to_string(i)));
  std::vector<std::string> edges;
  for (int from = 0; from < 50 && edges.size() <= 1000; ++from)
    for (int to = from + 1; to < 50 && edges.size() <= 1000; ++to)
      edges.push_back(
        edge("n" + std::to_string(from), "n" + std::to_string(to)));
  BOOST_REQUIRE(edges.size() == 1001u);
  BOOST_TEST(refusal(graph(nodes, edges)) ==
             "dag_definition.edges: at most 1000 edges");
  edges.pop_back();
  BOOST_TEST(accepted(graph(nodes, edges)));
}

BOOST_AUTO_TEST_CASE(a_chain_of_200_nodes_is_valid) {
  BOOST_TEST(accepted(chain(200)));
}

BOOST_AUTO_TEST_CASE(a_dense_acyclic_graph_at_the_limits_is_valid) {
  // Edges from every node to many later ones: deep and wide at once.
  std::vector<std::string> nodes;
  for (int i = 0; i < 200; ++i)
    nodes.push_back(node("n" + std::to_string(i)));
  std::vector<std::string> edges;
  for (int from = 0; from < 200 && edges.size() < 1000; ++from)
    for (int step = 1; step <= 5 && from + step < 200; ++step)
      edges.push_back(
        edge("n" + std::to_string(from), "n" + std::to_string(from + step)));
  BOOST_TEST(accepted(graph(nodes, edges)));
}

BOOST_AUTO_TEST_SUITE_END()
