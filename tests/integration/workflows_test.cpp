// Workflows with graph validation and the dashboard (api.md, Resources),
// against the real binary and a real PostgreSQL. One service process
// serves the file (support/shared_service.hpp).
#define BOOST_TEST_MODULE workflows_test
#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "support/shared_service.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

BOOST_TEST_GLOBAL_FIXTURE(start_shared_service);

// -- workflows ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(workflows)

BOOST_AUTO_TEST_CASE(
  workflows_can_be_created_listed_read_replaced_and_deleted) {
  auto user = new_account();
  api a{user.token};
  auto r1 = create_repository(a, "octo/flow-one");
  auto r2 = create_repository(a, "octo/flow-two");

  auto created = a.post(
    "/workflows", workflow_body(r1, "build", small_graph,
                                R"(,"description":"plan, code, review")"));
  BOOST_TEST(created.status == 201, created.body);
  auto doc = parse_json(created.body);
  std::set<std::string> shape{"id",          "repository_id",  "name",
                              "description", "dag_definition", "is_active",
                              "created_at",  "updated_at"};
  BOOST_TEST(keys(doc) == shape, boost::test_tools::per_element());
  auto w1 = text_of(doc, "id");
  BOOST_TEST(is_uuid(w1));
  BOOST_TEST(text_of(doc, "repository_id") == r1);
  BOOST_TEST(text_of(doc, "name") == "build");
  BOOST_TEST(text_of(doc, "description") == "plan, code, review");
  BOOST_TEST(doc["is_active"].GetBool());
  // The graph comes back as stored, extra node members included.
  BOOST_TEST((doc["dag_definition"] == parse_json(small_graph)),
             compact(doc["dag_definition"]));

  auto second =
    a.post("/workflows",
           workflow_body(r2, "ship",
                         R"({"nodes":[{"id":"d","agent_type":"deployment"}]})",
                         R"(,"is_active":false)"));
  BOOST_TEST(second.status == 201, second.body);
  auto w2 = text_of(parse_json(second.body), "id");
  BOOST_TEST(!parse_json(second.body)["is_active"].GetBool());
  BOOST_TEST(is_null(parse_json(second.body), "description"));

  using ids = std::vector<std::string>;
  auto list = [&a](const std::string& query) {
    auto resp = a.get("/workflows" + query);
    BOOST_TEST(resp.status == 200, query << ": " << resp.body);
    return ids_of(parse_json(resp.body));
  };
  auto all = list("");
  std::sort(all.begin(), all.end());
  auto both = ids{w1, w2};
  std::sort(both.begin(), both.end());
  BOOST_TEST(all == both, boost::test_tools::per_element());
  BOOST_TEST(list("?repository_id=" + r1) == ids{w1},
             boost::test_tools::per_element());
  BOOST_TEST(list("?repository_id=" + r2) == ids{w2},
             boost::test_tools::per_element());
  BOOST_TEST(list("?repository_id=" + unknown_id).empty());
  expect_error(a.get("/workflows?repository_id=nope"), 400, "validation_error",
               "repository_id", "malformed filter");

  auto read = a.get("/workflows/" + w1);
  BOOST_TEST(read.status == 200);
  BOOST_TEST((parse_json(read.body) == doc), read.body);

  const std::string bigger =
    R"({"nodes":[{"id":"plan","agent_type":"coordinator"},{"id":"code","agent_type":"codegen"},)"
    R"({"id":"check","agent_type":"review"},{"id":"ship","agent_type":"deployment"}],)"
    R"("edges":[{"from":"plan","to":"code"},{"from":"code","to":"check"},{"from":"check","to":"ship"}]})";
  auto replaced =
    a.put("/workflows/" + w1, workflow_body(r1, "build and ship", bigger));
  BOOST_TEST(replaced.status == 200, replaced.body);
  auto new_doc = parse_json(replaced.body);
  BOOST_TEST(text_of(new_doc, "id") == w1);
  BOOST_TEST(text_of(new_doc, "name") == "build and ship");
  BOOST_TEST((new_doc["dag_definition"] == parse_json(bigger)),
             compact(new_doc["dag_definition"]));
  BOOST_TEST(text_of(new_doc, "created_at") == text_of(doc, "created_at"));
  BOOST_TEST((text_of(new_doc, "updated_at") >= text_of(doc, "updated_at")),
             text_of(new_doc, "updated_at"));
  BOOST_TEST((parse_json(a.get("/workflows/" + w1).body) == new_doc));

  auto deleted = a.del("/workflows/" + w1);
  BOOST_TEST(deleted.status == 204);
  BOOST_TEST(deleted.body.empty());
  expect_error(a.get("/workflows/" + w1), 404, "not_found", {},
               "GET after DELETE");
  expect_error(a.del("/workflows/" + w1), 404, "not_found", {}, "DELETE twice");
  expect_error(a.put("/workflows/" + w1, workflow_body(r1, "x", small_graph)),
               404, "not_found", {}, "PUT after DELETE");
  BOOST_TEST(list("") == ids{w2}, boost::test_tools::per_element());
  expect_error(a.get("/workflows/" + unknown_id), 404, "not_found", {},
               "unknown id");
  expect_error(a.get("/workflows/nope"), 400, "validation_error", {},
               "malformed id");
}

BOOST_AUTO_TEST_CASE(invalid_graphs_are_422_with_details_naming_the_problem) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/dags");
  struct bad_graph {
    const char* what;
    std::string graph;
    std::vector<std::string> details; ///< each must appear in `details`
  };
  const std::vector<bad_graph> cases{
    {"cycle",
     R"({"nodes":[{"id":"a","agent_type":"codegen"},{"id":"b","agent_type":"review"},{"id":"c","agent_type":"pr"}],)"
     R"("edges":[{"from":"a","to":"b"},{"from":"b","to":"c"},{"from":"c","to":"a"}]})",
     {"cycle", "a", "b", "c"}},
    {"two-node cycle",
     R"({"nodes":[{"id":"x","agent_type":"codegen"},{"id":"y","agent_type":"review"}],)"
     R"("edges":[{"from":"x","to":"y"},{"from":"y","to":"x"}]})",
     {"cycle"}},
    {"self-loop",
     R"({"nodes":[{"id":"a","agent_type":"codegen"}],"edges":[{"from":"a","to":"a"}]})",
     {"self-loop", "a"}},
    {"dangling edge",
     R"({"nodes":[{"id":"a","agent_type":"codegen"}],"edges":[{"from":"a","to":"ghost"}]})",
     {"unknown node", "ghost"}},
    {"dangling edge source",
     R"({"nodes":[{"id":"a","agent_type":"codegen"}],"edges":[{"from":"ghost","to":"a"}]})",
     {"unknown node", "ghost"}},
    {"duplicate node id",
     R"({"nodes":[{"id":"a","agent_type":"codegen"},{"id":"a","agent_type":"review"}]})",
     {"duplicate node id", "a"}},
    {"unknown agent type",
     R"({"nodes":[{"id":"a","agent_type":"wizard"}]})",
     {"unknown agent type", "wizard"}},
    {"empty graph", R"({"nodes":[],"edges":[]})", {"nodes"}},
    {"no nodes member", R"({"edges":[]})", {"nodes"}},
    {"node without id", R"({"nodes":[{"agent_type":"codegen"}]})", {"id"}},
    {"nodes not an array", R"({"nodes":{"a":"codegen"}})", {"nodes"}},
    {"graph not an object", R"([1,2])", {"dag_definition"}},
    {"duplicate edge",
     R"({"nodes":[{"id":"a","agent_type":"codegen"},{"id":"b","agent_type":"review"}],)"
     R"("edges":[{"from":"a","to":"b"},{"from":"a","to":"b"}]})",
     {"duplicate edge"}},
  };
  for (const auto& c : cases) {
    auto resp = a.post("/workflows", workflow_body(repo, "bad", c.graph));
    expect_error(resp, 422, "unprocessable_entity", "dag_definition", c.what);
    auto doc = parse_lenient(resp.body);
    auto details = doc.HasParseError() ? "" : text_of(doc, "details");
    for (const auto& word : c.details)
      BOOST_TEST(details.find(word) != std::string::npos,
                 c.what << ": '" << word << "' not in details: " << details);
  }
  expect_error(a.post("/workflows", R"({"repository_id":")" + repo +
                                      R"(","name":"no graph"})"),
               422, "unprocessable_entity", "dag_definition", "no graph");
  BOOST_TEST(sql_count("SELECT count(*) FROM workflows WHERE user_id = '" +
                       user.id + "'") == 0);
}

BOOST_AUTO_TEST_CASE(
  workflow_names_over_200_characters_and_foreign_repositories_are_refused) {
  auto user = new_account();
  auto other = new_account();
  api a{user.token};
  api b{other.token};
  auto repo = create_repository(a, "octo/names");
  auto foreign = create_repository(b, "other/names");

  expect_error(a.post("/workflows",
                      workflow_body(repo, std::string(201, 'n'), small_graph)),
               422, "unprocessable_entity", "name", "201-character name");
  expect_error(a.post("/workflows", workflow_body(repo, "", small_graph)), 422,
               "unprocessable_entity", "name", "empty name");
  expect_error(a.post("/workflows", R"({"repository_id":")" + repo +
                                      R"(","dag_definition":)" + small_graph +
                                      "}"),
               422, "unprocessable_entity", "name", "missing name");
  auto longest = a.post(
    "/workflows", workflow_body(repo, std::string(200, 'n'), small_graph));
  BOOST_TEST(longest.status == 201, longest.body);

  expect_error(a.post("/workflows", workflow_body(foreign, "x", small_graph)),
               404, "not_found", {}, "another user's repository");
  expect_error(
    a.post("/workflows", workflow_body(unknown_id, "x", small_graph)), 404,
    "not_found", {}, "unknown repository");
  expect_error(a.post("/workflows", workflow_body("nope", "x", small_graph)),
               400, "validation_error", "repository_id",
               "malformed repository");
  BOOST_TEST(sql_count("SELECT count(*) FROM workflows WHERE user_id = '" +
                       user.id + "'") == 1);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM workflows WHERE repository_id = '" +
              foreign + "'") == 0);
}

BOOST_AUTO_TEST_CASE(
  replacing_a_workflow_with_an_invalid_graph_leaves_it_unchanged) {
  auto user = new_account();
  auto other = new_account();
  api a{user.token};
  api b{other.token};
  auto repo = create_repository(a, "octo/stable");
  auto foreign = create_repository(b, "other/stable");
  auto created =
    a.post("/workflows", workflow_body(repo, "steady", small_graph));
  BOOST_REQUIRE(created.status == 201);
  auto id = text_of(parse_json(created.body), "id");
  auto before = a.get("/workflows/" + id).body;

  const std::string cycle =
    R"({"nodes":[{"id":"a","agent_type":"codegen"},{"id":"b","agent_type":"review"}],)"
    R"("edges":[{"from":"a","to":"b"},{"from":"b","to":"a"}]})";
  expect_error(a.put("/workflows/" + id, workflow_body(repo, "changed", cycle)),
               422, "unprocessable_entity", "cycle", "PUT with a cycle");
  expect_error(a.put("/workflows/" + id,
                     workflow_body(repo, "changed", R"({"nodes":[]})")),
               422, "unprocessable_entity", "nodes", "PUT with no nodes");
  expect_error(a.put("/workflows/" + id,
                     workflow_body(repo, std::string(201, 'n'), small_graph)),
               422, "unprocessable_entity", "name", "PUT with a long name");
  expect_error(
    a.put("/workflows/" + id, workflow_body(foreign, "changed", small_graph)),
    404, "not_found", {}, "PUT onto another user's repository");
  auto after = a.get("/workflows/" + id);
  BOOST_TEST(after.status == 200);
  BOOST_TEST(after.body == before);
  BOOST_TEST(query_text(db(), "SELECT name FROM workflows WHERE id = '" + id +
                                "'") == "steady");
}

BOOST_AUTO_TEST_SUITE_END()

// -- dashboard ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(dashboard)

BOOST_AUTO_TEST_CASE(
  the_summary_counts_executions_by_status_over_active_repositories_only) {
  auto user = new_account();
  api a{user.token};
  // Both sides as "name=value ..." text, so a failure shows every count.
  auto summary = [&a] {
    auto resp = a.get("/dashboard/summary");
    BOOST_TEST(resp.status == 200, resp.body);
    auto doc = parse_json(resp.body);
    std::string out;
    if (doc.IsObject())
      for (const auto& m : doc.GetObject())
        out += std::string{m.name.GetString()} + "=" +
               (m.value.IsInt64() ? std::to_string(m.value.GetInt64())
                                  : compact(m.value)) +
               " ";
    return out;
  };
  auto expect = [](long long total, long long pending, long long running,
                   long long completed, long long failed, long long cancelled,
                   long long repositories, long long prs) {
    return "total_executions=" + std::to_string(total) +
           " pending_executions=" + std::to_string(pending) +
           " running_executions=" + std::to_string(running) +
           " completed_executions=" + std::to_string(completed) +
           " failed_executions=" + std::to_string(failed) +
           " cancelled_executions=" + std::to_string(cancelled) +
           " blocked_executions=0 total_repositories=" +
           std::to_string(repositories) +
           " total_prs_created=" + std::to_string(prs) + " ";
  };
  BOOST_TEST(summary() == expect(0, 0, 0, 0, 0, 0, 0, 0));

  auto r1 = create_repository(a, "dash/one");
  auto r2 = create_repository(a, "dash/two");
  create_repository(a, "dash/empty");
  // dash/one: pending, running, completed (PR 7), failed, cancelled.
  start_execution(a, r1, 1);
  move_to(a, start_execution(a, r1, 2), "running");
  auto c1 = start_execution(a, r1, 3);
  move_to(a, c1, "running");
  move_to(a, c1, "completed", R"(,"pr_number":7)");
  auto f1 = start_execution(a, r1, 4);
  move_to(a, f1, "running");
  move_to(a, f1, "failed", R"(,"error_message":"no")");
  move_to(a, start_execution(a, r1, 5), "cancelled");
  // dash/two: pending, completed (PR 8), running.
  start_execution(a, r2, 6);
  auto c2 = start_execution(a, r2, 7);
  move_to(a, c2, "running");
  move_to(a, c2, "completed", R"(,"pr_number":8,"quality_score":90)");
  move_to(a, start_execution(a, r2, 8), "running");

  BOOST_TEST(summary() == expect(8, 2, 2, 2, 1, 1, 3, 2));
  BOOST_REQUIRE(a.del("/repositories/" + r2).status == 204);
  BOOST_TEST(summary() == expect(5, 1, 1, 1, 1, 1, 2, 1));
  auto recent = parse_json(a.get("/dashboard/recent").body);
  BOOST_TEST(recent.Size() == 5u);
  for (const auto& e : recent.GetArray())
    BOOST_TEST(text_of(e, "repository_id") == r1);
  // Another user's activity does not count.
  auto other = new_account();
  api b{other.token};
  start_execution(b, create_repository(b, "dash/other"), 1);
  BOOST_TEST(summary() == expect(5, 1, 1, 1, 1, 1, 2, 1));
}

BOOST_AUTO_TEST_CASE(
  recent_lists_at_most_twenty_newest_executions_with_repository_names) {
  auto user = new_account();
  api a{user.token};
  auto empty = a.get("/dashboard/recent");
  BOOST_TEST(empty.status == 200);
  BOOST_TEST(empty.body == "[]");
  auto r1 = create_repository(a, "recent-owner/recent-repo");
  auto r2 = create_repository(a, "second/Repo.two");
  std::vector<std::string> created;
  for (int i = 1; i <= 23; ++i)
    created.push_back(start_execution(a, i % 2 == 0 ? r2 : r1, i));
  auto resp = a.get("/dashboard/recent");
  BOOST_TEST(resp.status == 200);
  auto doc = parse_json(resp.body);
  BOOST_REQUIRE(doc.IsArray());
  BOOST_TEST(doc.Size() == 20u);
  std::vector<std::string> expected(created.rbegin(), created.rbegin() + 20);
  BOOST_TEST(ids_of(doc) == expected, boost::test_tools::per_element());
  std::string previous = "9999";
  for (const auto& e : doc.GetArray()) {
    auto issue = int_of(e, "issue_number");
    bool even = issue % 2 == 0;
    BOOST_TEST(text_of(e, "repository_id") == (even ? r2 : r1));
    BOOST_TEST(text_of(e, "repository_owner") ==
               (even ? "second" : "recent-owner"));
    BOOST_TEST(text_of(e, "repository_name") ==
               (even ? "Repo.two" : "recent-repo"));
    BOOST_TEST(text_of(e, "status") == "pending");
    BOOST_TEST((text_of(e, "created_at") <= previous),
               text_of(e, "created_at"));
    previous = text_of(e, "created_at");
  }
}

BOOST_AUTO_TEST_SUITE_END()
