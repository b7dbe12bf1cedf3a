// "Workflow runs" of api.md (issue 12) against the real binary and a real
// PostgreSQL: a run creates one execution per node (roots pending, the rest
// blocked), completions release dependents in order, claims never hand out
// a blocked node, a failure cancels everything downstream and fails the
// run, DELETE cancels what is unfinished, and concurrent completions of
// many predecessors release their dependent exactly once.
#define BOOST_TEST_MODULE workflow_runs_test
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/api.hpp"
#include "support/checks.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

struct shared_service {
  std::string database;
  std::unique_ptr<service_process> process;
};

shared_service& shared() {
  static shared_service instance = [] {
    shared_service s;
    s.database = create_database();
    auto env = base_env();
    env["DATABASE_URL"] = s.database;
    env["DB_POOL_SIZE"] = "8";
    s.process = std::make_unique<service_process>(env);
    default_base() = s.process->base_url();
    return s;
  }();
  return instance;
}

struct start_service {
  start_service() { shared(); }
};

const std::string diamond =
  R"({"nodes":[{"id":"a","agent_type":"coordinator"},)"
  R"({"id":"b","agent_type":"codegen"},{"id":"c","agent_type":"review"},)"
  R"({"id":"d","agent_type":"pr"}],)"
  R"("edges":[{"from":"a","to":"b"},{"from":"a","to":"c"},)"
  R"({"from":"b","to":"d"},{"from":"c","to":"d"}]})";

std::string create_workflow(api& a, const std::string& repo,
                            const std::string& graph) {
  auto resp = a.post("/workflows", workflow_body(repo, "flow", graph));
  BOOST_REQUIRE_MESSAGE(resp.status == 201, resp.status << " " << resp.body);
  return text_of(parse_json(resp.body), "id");
}

/// A run of `workflow` (201 required).
rapidjson::Document
start_run(api& a, const std::string& workflow,
          const std::string& body = R"({"issue_number":3})") {
  auto resp = a.post("/workflows/" + workflow + "/runs", body);
  BOOST_REQUIRE_MESSAGE(resp.status == 201, resp.status << " " << resp.body);
  return parse_json(resp.body);
}

rapidjson::Document get_run(api& a, const std::string& run) {
  auto resp = a.get("/workflow-runs/" + run);
  BOOST_REQUIRE_MESSAGE(resp.status == 200, resp.status << " " << resp.body);
  return parse_json(resp.body);
}

/// node id -> execution id, and node id -> status, of a run.
std::map<std::string, std::string> node_field(const rapidjson::Value& run,
                                              const char* field) {
  std::map<std::string, std::string> out;
  for (const auto& n : run["nodes"].GetArray())
    out[text_of(n, "node_id")] = text_of(n, field);
  return out;
}

/// Runs an execution to `status` through running.
void finish(api& a, const std::string& id, const std::string& status) {
  move_to(a, id, "running");
  move_to(a, id, status);
}

double pending_transitions() {
  return metric(*shared().process,
                R"(miyabi_execution_transitions_total{status="pending"})");
}

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(start_service);

BOOST_AUTO_TEST_CASE(a_run_creates_one_execution_per_node_roots_pending) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wf/create");
  auto workflow = create_workflow(a, repo, diamond);
  auto run = start_run(a, workflow, R"({"issue_number":12,"options":{"x":1}})");
  std::set<std::string> shape{"id",           "workflow_id", "repository_id",
                              "issue_number", "status",      "created_at",
                              "updated_at",   "nodes"};
  BOOST_TEST(keys(run) == shape, boost::test_tools::per_element());
  BOOST_TEST(text_of(run, "status") == "running");
  BOOST_TEST(text_of(run, "workflow_id") == workflow);
  BOOST_TEST(int_of(run, "issue_number") == 12);
  auto statuses = node_field(run, "status");
  BOOST_TEST(
    statuses ==
    (std::map<std::string, std::string>{
      {"a", "pending"}, {"b", "blocked"}, {"c", "blocked"}, {"d", "blocked"}}));
  std::vector<std::string> order;
  for (const auto& n : run["nodes"].GetArray())
    order.push_back(text_of(n, "node_id"));
  BOOST_TEST(order == (std::vector<std::string>{"a", "b", "c", "d"}));
  auto ids = node_field(run, "execution_id");
  auto d = parse_json(a.get("/agents/executions/" + ids["d"]).body);
  BOOST_TEST(text_of(d, "workflow_run_id") == text_of(run, "id"));
  BOOST_TEST(text_of(d, "node_id") == "d");
  BOOST_TEST(text_of(d, "agent_type") == "pr");
  BOOST_TEST(int_of(d, "issue_number") == 12);
  BOOST_TEST(compact(d["options"]) == R"({"x":1})");
  auto summary = parse_json(a.get("/dashboard/summary").body);
  BOOST_TEST(int_of(summary, "blocked_executions") == 3);
  BOOST_TEST(int_of(summary, "pending_executions") == 1);
  auto blocked = parse_json(a.get("/agents/executions?status=blocked").body);
  BOOST_TEST(blocked["items"].Size() == 3u);
  // Wrong inputs.
  expect_error(
    a.post("/workflows/" + unknown_id + "/runs", R"({"issue_number":1})"), 404,
    "not_found");
  expect_error(a.post("/workflows/" + workflow + "/runs", "{}"), 422,
               "unprocessable_entity", "issue_number");
  auto inactive =
    a.put("/workflows/" + workflow,
          workflow_body(repo, "flow", diamond, R"(,"is_active":false)"));
  BOOST_TEST_REQUIRE(inactive.status == 200);
  expect_error(
    a.post("/workflows/" + workflow + "/runs", R"({"issue_number":1})"), 409,
    "conflict");
}

BOOST_AUTO_TEST_CASE(a_diamond_runs_in_order_and_claims_skip_blocked_nodes) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wf/diamond");
  auto run = start_run(a, create_workflow(a, repo, diamond));
  auto run_id = text_of(run, "id");
  auto ids = node_field(run, "execution_id");
  std::map<std::string, std::string> node_of;
  for (const auto& [node, id] : ids)
    node_of[id] = node;
  // Claim until the run is done: every claimed node's predecessors have
  // completed at that moment.
  std::vector<std::string> claimed;
  for (int step = 0; step < 8; ++step) {
    auto resp = a.post("/agents/executions/claim", "{}");
    if (resp.status == 204)
      break;
    BOOST_TEST_REQUIRE(resp.status == 200, resp.body);
    auto id = text_of(parse_json(resp.body), "id");
    auto node = node_of.at(id);
    claimed.push_back(node);
    auto now = node_field(get_run(a, run_id), "status");
    if (node == "b" || node == "c")
      BOOST_TEST(now["a"] == "completed");
    if (node == "d") {
      BOOST_TEST(now["b"] == "completed");
      BOOST_TEST(now["c"] == "completed");
    }
    move_to(a, id, "completed");
  }
  BOOST_TEST_REQUIRE(claimed.size() == 4u);
  BOOST_TEST(claimed.front() == "a");
  BOOST_TEST(claimed.back() == "d");
  auto done = get_run(a, run_id);
  BOOST_TEST(text_of(done, "status") == "completed");
  for (const auto& [node, status] : node_field(done, "status"))
    BOOST_TEST(status == "completed", node);
}

BOOST_AUTO_TEST_CASE(a_failure_cancels_downstream_and_fails_the_run) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wf/fail");
  const std::string chat = "9120002";
  exec_sql(shared().database,
           "INSERT INTO telegram_chats (chat_id, user_id) VALUES (" + chat +
             ", '" + user.id + "')");
  auto run = start_run(a, create_workflow(a, repo, diamond));
  auto run_id = text_of(run, "id");
  auto ids = node_field(run, "execution_id");
  finish(a, ids["a"], "completed");
  move_to(a, ids["c"], "running");
  finish(a, ids["b"], "failed");
  auto after = get_run(a, run_id);
  BOOST_TEST(text_of(after, "status") == "failed");
  auto statuses = node_field(after, "status");
  BOOST_TEST(statuses["d"] == "cancelled");
  BOOST_TEST(statuses["c"] == "running");
  auto d = parse_json(a.get("/agents/executions/" + ids["d"]).body);
  BOOST_TEST(text_of(d, "error_message") == "a predecessor did not complete");
  // The cascade notifies like any change: d's cancellation is queued.
  BOOST_TEST(
    query_int(shared().database,
              "SELECT count(*) FROM telegram_outbox WHERE chat_id = " + chat +
                " AND payload->>'text' LIKE '%pr agent%is now "
                "cancelled%predecessor%'") == 1);
  // c is not downstream of b: it may still finish; the run stays failed.
  move_to(a, ids["c"], "completed");
  BOOST_TEST(text_of(get_run(a, run_id), "status") == "failed");
  BOOST_TEST(node_field(get_run(a, run_id), "status")["d"] == "cancelled");
}

BOOST_AUTO_TEST_CASE(cancelling_a_blocked_node_cancels_its_dependents_too) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wf/blocked");
  auto run = start_run(a, create_workflow(a, repo, diamond));
  auto ids = node_field(run, "execution_id");
  move_to(a, ids["b"], "cancelled");
  auto after = get_run(a, text_of(run, "id"));
  BOOST_TEST(text_of(after, "status") == "failed");
  auto statuses = node_field(after, "status");
  BOOST_TEST(statuses["d"] == "cancelled");
  BOOST_TEST(statuses["c"] == "blocked");
  BOOST_TEST(statuses["a"] == "pending");
}

BOOST_AUTO_TEST_CASE(deleting_a_run_cancels_its_unfinished_nodes) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wf/delete");
  auto workflow = create_workflow(a, repo, diamond);
  auto run = start_run(a, workflow);
  auto run_id = text_of(run, "id");
  auto ids = node_field(run, "execution_id");
  move_to(a, ids["a"], "running");
  auto other = new_account();
  expect_error(api{other.token}.del("/workflow-runs/" + run_id), 404,
               "not_found");
  BOOST_TEST(a.del("/workflow-runs/" + run_id).status == 204);
  auto after = get_run(a, run_id);
  BOOST_TEST(text_of(after, "status") == "cancelled");
  for (const auto& [node, status] : node_field(after, "status"))
    BOOST_TEST(status == "cancelled", node);
  expect_error(a.del("/workflow-runs/" + unknown_id), 404, "not_found");
  // Listed newest first; another user sees nothing of it.
  auto second = start_run(a, workflow);
  auto list = a.get("/workflows/" + workflow + "/runs");
  BOOST_TEST_REQUIRE(list.status == 200);
  BOOST_TEST(ids_of(parse_json(list.body)) ==
             (std::vector<std::string>{text_of(second, "id"), run_id}));
  expect_error(api{other.token}.get("/workflow-runs/" + run_id), 404,
               "not_found");
  expect_error(api{other.token}.get("/workflows/" + workflow + "/runs"), 404,
               "not_found");
}

BOOST_AUTO_TEST_CASE(twenty_concurrent_completions_release_a_dependent_once) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wf/fan-in");
  // p1..p20 -> d -> e
  std::string nodes, edges;
  for (int i = 1; i <= 20; ++i) {
    auto p = "p" + std::to_string(i);
    nodes += R"({"id":")" + p + R"(","agent_type":"codegen"},)";
    edges +=
      std::string{i > 1 ? "," : ""} + R"({"from":")" + p + R"(","to":"d"})";
  }
  auto graph =
    R"({"nodes":[)" + nodes +
    R"({"id":"d","agent_type":"review"},{"id":"e","agent_type":"pr"}],)"
    R"("edges":[)" +
    edges + R"(,{"from":"d","to":"e"}]})";
  auto workflow = create_workflow(a, repo, graph);
  constexpr int runs = 5;
  for (int r = 0; r < runs; ++r) {
    auto run = start_run(a, workflow);
    auto run_id = text_of(run, "id");
    auto ids = node_field(run, "execution_id");
    for (int i = 1; i <= 20; ++i)
      move_to(a, ids["p" + std::to_string(i)], "running");
    auto before = pending_transitions();
    start_gate gate;
    std::vector<std::thread> threads;
    std::vector<long> codes(20, 0);
    for (int i = 1; i <= 20; ++i)
      threads.emplace_back([&, i] {
        api mine{user.token};
        gate.wait();
        codes[i - 1] =
          set_status(mine, ids["p" + std::to_string(i)], "completed").status;
      });
    gate.open();
    for (auto& t : threads)
      t.join();
    for (auto code : codes)
      BOOST_TEST(code == 200);
    auto statuses = node_field(get_run(a, run_id), "status");
    BOOST_TEST(statuses["d"] == "pending", "run " << r);
    BOOST_TEST(statuses["e"] == "blocked", "run " << r);
    // Exactly one blocked -> pending change: d's.
    double after = 0;
    BOOST_TEST(eventually(
      [&] {
        after = pending_transitions();
        return after - before >= 1;
      },
      5s));
    BOOST_TEST(after - before == 1.0, "run " << r);
    finish(a, ids["d"], "completed");
    BOOST_TEST(node_field(get_run(a, run_id), "status")["e"] == "pending");
    finish(a, ids["e"], "completed");
    BOOST_TEST(text_of(get_run(a, run_id), "status") == "completed");
  }
}
