// The Resources part of api.md (issue 5) against the real binary and a real
// PostgreSQL: repositories, the agent catalogue, executions (idempotency,
// the claim queue across two processes, the state machine, logs, cursor
// pagination under concurrent inserts), workflows with graph validation,
// the dashboard, user isolation and authentication on every route.
//
// One service process and one database serve the whole file; every test
// case signs in users of its own (fresh github_id), so cases never see each
// other's rows. The claim race starts a second process on the same database.
#define BOOST_TEST_MODULE resources_test
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/crypto.hpp"
#include "support/api.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/pg_proxy.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

// -- the service under test ---------------------------------------------------

env_map service_env(const std::string& database) {
  auto env = base_env();
  env["DATABASE_URL"] = database;
  env["DB_POOL_SIZE"] = "8";
  return env;
}

struct shared_service {
  std::string database;
  std::unique_ptr<service_process> process;
};

/// The database and the service process shared by the tests of this file.
shared_service& shared() {
  static shared_service instance = [] {
    raise_fd_limit();
    shared_service s;
    s.database = create_database();
    s.process = std::make_unique<service_process>(service_env(s.database));
    default_base() = s.process->base_url();
    return s;
  }();
  return instance;
}

std::string base_url() {
  return shared().process->base_url();
}

const std::string& db() {
  return shared().database;
}

long long sql_count(const std::string& sql) {
  return query_int(db(), sql);
}

/// Starts the shared service before any test, so `default_base()` is set.
struct start_service {
  start_service() { shared(); }
};

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(start_service);

// -- repositories -------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(repositories)

BOOST_AUTO_TEST_CASE(
  listing_repositories_starts_empty_then_shows_active_ones_newest_updated_first) {
  auto user = new_account();
  api a{user.token};
  auto empty = a.get("/repositories");
  BOOST_TEST(empty.status == 200);
  BOOST_TEST(empty.header("Content-Type") == "application/json");
  BOOST_TEST(empty.body == "[]");

  auto first = create_repository(a, "octo/alpha");
  auto second = create_repository(a, "octo/beta");
  auto third = create_repository(a, "octo/gamma");
  auto list = a.get("/repositories");
  BOOST_TEST(list.status == 200);
  auto doc = parse_json(list.body);
  BOOST_REQUIRE(doc.IsArray());
  std::vector<std::string> expected{third, second, first};
  BOOST_TEST(ids_of(doc) == expected, boost::test_tools::per_element());
  for (const auto& repo : doc.GetArray())
    BOOST_TEST(repo["is_active"].GetBool());
}

BOOST_AUTO_TEST_CASE(
  creating_a_repository_answers_201_with_the_repository_shape) {
  auto user = new_account();
  api a{user.token};
  auto resp = a.post(
    "/repositories",
    R"({"full_name":"octo/hello","github_repo_id":1296269,"default_branch":"develop"})");
  BOOST_TEST(resp.status == 201);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  auto doc = parse_json(resp.body);
  std::set<std::string> shape{"id",        "owner",          "name",
                              "full_name", "github_repo_id", "default_branch",
                              "is_active", "created_at",     "updated_at"};
  BOOST_TEST(keys(doc) == shape, boost::test_tools::per_element());
  BOOST_TEST(is_uuid(text_of(doc, "id")));
  BOOST_TEST(text_of(doc, "owner") == "octo");
  BOOST_TEST(text_of(doc, "name") == "hello");
  BOOST_TEST(text_of(doc, "full_name") == "octo/hello");
  BOOST_TEST(int_of(doc, "github_repo_id") == 1296269);
  BOOST_TEST(text_of(doc, "default_branch") == "develop");
  BOOST_TEST(doc["is_active"].IsBool());
  BOOST_TEST(doc["is_active"].GetBool());
  BOOST_TEST(is_timestamp(text_of(doc, "created_at")),
             text_of(doc, "created_at"));
  BOOST_TEST(is_timestamp(text_of(doc, "updated_at")),
             text_of(doc, "updated_at"));

  auto plain = a.post("/repositories", repository_body("octo/plain"));
  BOOST_TEST(plain.status == 201);
  auto plain_doc = parse_json(plain.body);
  BOOST_TEST(is_null(plain_doc, "github_repo_id"));
  BOOST_TEST(text_of(plain_doc, "default_branch") == "main");
  BOOST_TEST(sql_count("SELECT count(*) FROM repositories WHERE user_id = '" +
                       user.id + "'") == 2);
}

BOOST_AUTO_TEST_CASE(
  posting_an_existing_full_name_again_answers_200_with_the_same_row_in_any_case) {
  auto user = new_account();
  api a{user.token};
  auto created = a.post("/repositories", repository_body("octo/hello"));
  BOOST_REQUIRE(created.status == 201);
  auto id = text_of(parse_json(created.body), "id");
  for (auto again : {"octo/hello", "Octo/Hello", "OCTO/HELLO"}) {
    BOOST_TEST_CONTEXT(again) {
      auto resp = a.post("/repositories", repository_body(again));
      BOOST_TEST(resp.status == 200);
      auto doc = parse_json(resp.body);
      BOOST_TEST(text_of(doc, "id") == id);
      BOOST_TEST(doc["is_active"].GetBool());
    }
  }
  BOOST_TEST(parse_json(a.get("/repositories").body).Size() == 1u);
  BOOST_TEST(sql_count("SELECT count(*) FROM repositories WHERE user_id = '" +
                       user.id + "'") == 1);
}

BOOST_AUTO_TEST_CASE(
  invalid_full_names_are_400_and_missing_or_mistyped_fields_are_422) {
  auto user = new_account();
  api a{user.token};
  const std::vector<std::string> invalid{"a",
                                         "a/b/c",
                                         "-a/b",
                                         "a-/b",
                                         "a/..",
                                         "a/.",
                                         "a b/c",
                                         "a/b c",
                                         "a/",
                                         "/b",
                                         "",
                                         "a/b!",
                                         std::string(40, 'o') + "/b"};
  for (const auto& name : invalid)
    expect_error(a.post("/repositories", repository_body(name)), 400,
                 "validation_error", "full_name", "full_name '" + name + "'");
  // The longest owner GitHub allows is fine.
  auto longest =
    a.post("/repositories", repository_body(std::string(39, 'o') + "/b"));
  BOOST_TEST(longest.status == 201);

  expect_error(a.post("/repositories", "{}"), 422, "unprocessable_entity",
               "full_name", "missing full_name");
  expect_error(a.post("/repositories", R"({"full_name":null})"), 422,
               "unprocessable_entity", "full_name", "null full_name");
  expect_error(a.post("/repositories", R"({"full_name":42})"), 422,
               "unprocessable_entity", "full_name", "numeric full_name");
  expect_error(a.post("/repositories", R"({"full_name":["octo/x"]})"), 422,
               "unprocessable_entity", "full_name", "array full_name");
  expect_error(
    a.post("/repositories", R"({"full_name":"octo/x","github_repo_id":"12"})"),
    422, "unprocessable_entity", "github_repo_id", "string github_repo_id");
  expect_error(a.post("/repositories", "[]"), 422, "unprocessable_entity", {},
               "array body");
  expect_error(a.post("/repositories", R"({"full_name":)"), 400,
               "validation_error", {}, "malformed JSON");
  BOOST_TEST(sql_count("SELECT count(*) FROM repositories WHERE user_id = '" +
                       user.id + "'") == 1);
}

BOOST_AUTO_TEST_CASE(
  getting_a_repository_answers_200_then_404_for_unknown_and_400_for_malformed_ids) {
  auto user = new_account();
  api a{user.token};
  auto id = create_repository(a, "octo/lookup");
  auto found = a.get("/repositories/" + id);
  BOOST_TEST(found.status == 200);
  auto doc = parse_json(found.body);
  BOOST_TEST(text_of(doc, "id") == id);
  BOOST_TEST(text_of(doc, "full_name") == "octo/lookup");

  expect_error(a.get("/repositories/" + unknown_id), 404, "not_found", {},
               "unknown id");
  for (auto bad :
       {"not-a-uuid", "1234", "00000000-0000-4000-8000-00000000000g"})
    expect_error(a.get(std::string{"/repositories/"} + bad), 400,
                 "validation_error", {}, bad);
  expect_error(a.del("/repositories/not-a-uuid"), 400, "validation_error", {},
               "DELETE malformed");
  expect_error(a.del("/repositories/" + unknown_id), 404, "not_found", {},
               "DELETE unknown");
}

BOOST_AUTO_TEST_CASE(
  deleting_a_repository_deactivates_it_and_posting_it_again_reactivates_it) {
  auto user = new_account();
  api a{user.token};
  auto keep = create_repository(a, "octo/keep");
  auto drop = create_repository(a, "octo/drop");

  auto deleted = a.del("/repositories/" + drop);
  BOOST_TEST(deleted.status == 204);
  BOOST_TEST(deleted.body.empty());
  expect_error(a.get("/repositories/" + drop), 404, "not_found", {},
               "GET after DELETE");
  std::vector<std::string> only_keep{keep};
  BOOST_TEST(ids_of(parse_json(a.get("/repositories").body)) == only_keep,
             boost::test_tools::per_element());
  expect_error(a.del("/repositories/" + drop), 404, "not_found", {},
               "DELETE twice");
  // Deactivated, not deleted: the data is kept.
  BOOST_TEST(query_text(db(), "SELECT is_active::text FROM repositories"
                              " WHERE id = '" +
                                drop + "'") == "false");

  auto again = a.post("/repositories", repository_body("octo/drop"));
  BOOST_TEST(again.status == 200);
  auto doc = parse_json(again.body);
  BOOST_TEST(text_of(doc, "id") == drop);
  BOOST_TEST(doc["is_active"].GetBool());
  BOOST_TEST(a.get("/repositories/" + drop).status == 200);
  // Reactivation touches updated_at: it is the newest again.
  std::vector<std::string> both{drop, keep};
  BOOST_TEST(ids_of(parse_json(a.get("/repositories").body)) == both,
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// -- agents -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(agents)

BOOST_AUTO_TEST_CASE(
  the_agent_catalogue_lists_six_agents_in_order_without_auth) {
  api anonymous;
  auto resp = anonymous.get("/agents");
  BOOST_TEST(resp.status == 200);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  auto doc = parse_json(resp.body);
  const auto* agents = find(doc, "agents");
  BOOST_REQUIRE(agents != nullptr);
  BOOST_REQUIRE(agents->IsArray());
  std::vector<std::string> types;
  for (const auto& agent : agents->GetArray()) {
    types.push_back(text_of(agent, "type"));
    std::set<std::string> shape{"type", "name", "description"};
    BOOST_TEST(keys(agent) == shape, boost::test_tools::per_element());
    BOOST_TEST(!std::string{agent["name"].GetString()}.empty());
    BOOST_TEST(!std::string{agent["description"].GetString()}.empty());
  }
  std::vector<std::string> expected{"coordinator", "codegen",    "review",
                                    "pr",          "deployment", "issue"};
  BOOST_TEST(types == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// -- executions ---------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(executions)

BOOST_AUTO_TEST_CASE(executing_an_agent_answers_202_with_a_pending_execution) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/exec");
  const std::string options =
    R"({"priority":"high","nested":{"n":[1,2,3]},"flag":true})";
  auto resp =
    a.post("/agents/execute", execution_body(repo, 7, "review", options));
  BOOST_TEST(resp.status == 202);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  auto doc = parse_json(resp.body);
  std::set<std::string> shape{"id",
                              "repository_id",
                              "agent_type",
                              "issue_number",
                              "status",
                              "options",
                              "result_summary",
                              "quality_score",
                              "pr_number",
                              "error_message",
                              "started_at",
                              "completed_at",
                              "created_at",
                              "updated_at",
                              "attempt",
                              "progress",
                              "lease_expires_at",
                              "claimed_by",
                              "retry_of",
                              "workflow_run_id",
                              "node_id"};
  BOOST_TEST(keys(doc) == shape, boost::test_tools::per_element());
  BOOST_TEST(is_uuid(text_of(doc, "id")));
  BOOST_TEST(text_of(doc, "repository_id") == repo);
  BOOST_TEST(text_of(doc, "agent_type") == "review");
  BOOST_TEST(int_of(doc, "issue_number") == 7);
  BOOST_TEST(text_of(doc, "status") == "pending");
  BOOST_TEST(doc["options"].IsObject());
  BOOST_TEST((doc["options"] == parse_json(options)), compact(doc["options"]));
  for (auto empty :
       {"result_summary", "quality_score", "pr_number", "error_message",
        "started_at", "completed_at", "progress", "lease_expires_at",
        "claimed_by", "retry_of", "workflow_run_id", "node_id"})
    BOOST_TEST(is_null(doc, empty), empty);
  BOOST_TEST(int_of(doc, "attempt") == 1);
  BOOST_TEST(is_timestamp(text_of(doc, "created_at")));
  BOOST_TEST(is_timestamp(text_of(doc, "updated_at")));
  BOOST_TEST(
    query_text(db(), "SELECT status FROM agent_executions WHERE id = '" +
                       text_of(doc, "id") + "'") == "pending");

  auto bare = a.post("/agents/execute", execution_body(repo, 8));
  BOOST_TEST(bare.status == 202);
  BOOST_TEST(is_null(parse_json(bare.body), "options"));
}

BOOST_AUTO_TEST_CASE(
  executing_against_a_foreign_deleted_unknown_or_malformed_repository_is_404_or_400) {
  auto owner = new_account();
  auto other = new_account();
  api a{owner.token};
  api b{other.token};
  auto foreign = create_repository(b, "other/repo");
  auto gone = create_repository(a, "octo/gone");
  BOOST_REQUIRE(a.del("/repositories/" + gone).status == 204);

  expect_error(a.post("/agents/execute", execution_body(foreign, 1)), 404,
               "not_found", {}, "another user's repository");
  expect_error(a.post("/agents/execute", execution_body(gone, 1)), 404,
               "not_found", {}, "deleted repository");
  expect_error(a.post("/agents/execute", execution_body(unknown_id, 1)), 404,
               "not_found", {}, "unknown repository");
  expect_error(a.post("/agents/execute", execution_body("not-a-uuid", 1)), 400,
               "validation_error", "repository_id", "malformed repository_id");
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE user_id = '" +
              owner.id + "'") == 0);
}

BOOST_AUTO_TEST_CASE(
  execute_bodies_of_the_wrong_shape_are_422_naming_the_field) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/shape");
  const std::string r = R"("repository_id":")" + repo + "\"";
  const std::vector<std::pair<std::string, std::string>> cases{
    {"{" + r + R"(,"issue_number":1,"agent_type":"wizard"})", "agent_type"},
    {"{" + r + R"(,"issue_number":1,"agent_type":"Review"})", "agent_type"},
    {"{" + r + R"(,"issue_number":1})", "agent_type"},
    {"{" + r + R"(,"agent_type":"review"})", "issue_number"},
    {"{" + r + R"(,"issue_number":0,"agent_type":"review"})", "issue_number"},
    {"{" + r + R"(,"issue_number":-3,"agent_type":"review"})", "issue_number"},
    {"{" + r + R"(,"issue_number":"7","agent_type":"review"})", "issue_number"},
    {"{" + r + R"(,"issue_number":1.5,"agent_type":"review"})", "issue_number"},
    {"{" + r + R"(,"issue_number":1,"agent_type":"review","options":[1]})",
     "options"},
    {"{" + r + R"(,"issue_number":1,"agent_type":"review","options":"x"})",
     "options"},
    {"{" + r + R"(,"issue_number":1,"agent_type":"review","options":3})",
     "options"},
    {R"({"issue_number":1,"agent_type":"review"})", "repository_id"},
  };
  for (const auto& [body, field] : cases)
    expect_error(a.post("/agents/execute", body), 422, "unprocessable_entity",
                 field, body);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE user_id = '" +
              user.id + "'") == 0);
}

BOOST_AUTO_TEST_CASE(getting_an_execution_answers_200_404_or_400) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/get");
  auto id = start_execution(a, repo, 3, "pr");
  auto resp = a.get("/agents/executions/" + id);
  BOOST_TEST(resp.status == 200);
  auto doc = parse_json(resp.body);
  BOOST_TEST(text_of(doc, "id") == id);
  BOOST_TEST(text_of(doc, "agent_type") == "pr");
  BOOST_TEST(int_of(doc, "issue_number") == 3);
  expect_error(a.get("/agents/executions/" + unknown_id), 404, "not_found", {},
               "unknown");
  expect_error(a.get("/agents/executions/nope"), 400, "validation_error", {},
               "malformed");
}

BOOST_AUTO_TEST_CASE(
  listing_executions_is_newest_first_with_status_and_repository_filters) {
  auto user = new_account();
  api a{user.token};
  auto r1 = create_repository(a, "octo/one");
  auto r2 = create_repository(a, "octo/two");
  auto e1 = start_execution(a, r1, 1);
  auto e2 = start_execution(a, r1, 2);
  auto e3 = start_execution(a, r1, 3);
  auto e4 = start_execution(a, r2, 4);
  move_to(a, e1, "running");

  auto list = [&a](const std::string& query) {
    auto resp = a.get("/agents/executions" + query);
    BOOST_TEST(resp.status == 200, query << ": " << resp.body);
    auto doc = parse_json(resp.body);
    BOOST_TEST(keys(doc) == (std::set<std::string>{"items", "next_cursor"}));
    BOOST_TEST(is_null(doc, "next_cursor"), query);
    const auto* items = find(doc, "items");
    return items == nullptr ? std::vector<std::string>{} : ids_of(*items);
  };
  using ids = std::vector<std::string>;
  BOOST_TEST(list("") == (ids{e4, e3, e2, e1}),
             boost::test_tools::per_element());
  BOOST_TEST(list("?status=running") == (ids{e1}),
             boost::test_tools::per_element());
  BOOST_TEST(list("?status=pending") == (ids{e4, e3, e2}),
             boost::test_tools::per_element());
  BOOST_TEST(list("?status=completed").empty());
  BOOST_TEST(list("?repository_id=" + r2) == (ids{e4}),
             boost::test_tools::per_element());
  BOOST_TEST(list("?repository_id=" + r1 + "&status=pending") == (ids{e3, e2}),
             boost::test_tools::per_element());
  BOOST_TEST(list("?repository_id=" + unknown_id).empty());
  expect_error(a.get("/agents/executions?status=bogus"), 400,
               "validation_error", "status", "unknown status filter");
  expect_error(a.get("/agents/executions?repository_id=xyz"), 400,
               "validation_error", "repository_id", "malformed repository_id");
}

BOOST_AUTO_TEST_CASE(
  listing_executions_pages_with_an_opaque_cursor_and_validates_limit_and_cursor) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/pages");
  std::vector<std::string> created;
  for (int i = 1; i <= 5; ++i)
    created.push_back(start_execution(a, repo, i));
  std::vector<std::string> newest_first(created.rbegin(), created.rend());

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto resp = a.get("/agents/executions?limit=2" +
                      (cursor.empty() ? "" : "&cursor=" + cursor));
    BOOST_REQUIRE_MESSAGE(resp.status == 200, resp.body);
    auto doc = parse_json(resp.body);
    auto page = ids_of(doc["items"]);
    BOOST_TEST(page.size() == (pages < 2 ? 2u : 1u));
    seen.insert(seen.end(), page.begin(), page.end());
    cursor =
      doc["next_cursor"].IsString() ? doc["next_cursor"].GetString() : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen == newest_first, boost::test_tools::per_element());

  auto one = a.get("/agents/executions?limit=1");
  BOOST_TEST(one.status == 200);
  BOOST_TEST(parse_json(one.body)["items"].Size() == 1u);
  BOOST_TEST(parse_json(one.body)["next_cursor"].IsString());
  auto hundred = a.get("/agents/executions?limit=100");
  BOOST_TEST(hundred.status == 200);
  BOOST_TEST(parse_json(hundred.body)["items"].Size() == 5u);

  for (auto limit : {"0", "101", "abc", "-1", "", "1.5", "20x"})
    expect_error(a.get(std::string{"/agents/executions?limit="} + limit), 400,
                 "validation_error", "limit", std::string{"limit="} + limit);
  const std::vector<std::string> cursors{
    "garbage!!", "abc",
    miyabi::crypto::base64url_encode("2026-01-01T00:00:00Z|not-a-uuid"),
    miyabi::crypto::base64url_encode("yesterday|" + unknown_id),
    std::string(300, 'A')};
  for (const auto& bad : cursors)
    expect_error(a.get("/agents/executions?cursor=" + bad), 400,
                 "validation_error", "cursor", "cursor=" + bad);
}

BOOST_AUTO_TEST_SUITE_END()

// -- idempotency --------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(idempotency)

BOOST_AUTO_TEST_CASE(
  the_same_idempotency_key_and_body_give_the_same_execution_and_one_row) {
  auto user = new_account();
  auto other = new_account();
  api a{user.token};
  api b{other.token};
  auto repo = create_repository(a, "octo/idem");
  const header_pairs key{{"Idempotency-Key", "key-123"}};
  auto body = execution_body(repo, 11, "codegen", R"({"x":1,"y":"z"})");

  auto first = a.post("/agents/execute", body, key);
  BOOST_REQUIRE_MESSAGE(first.status == 202, first.body);
  auto id = text_of(parse_json(first.body), "id");
  auto second = a.post("/agents/execute", body, key);
  BOOST_TEST(second.status == 202);
  BOOST_TEST(text_of(parse_json(second.body), "id") == id);
  // Same request, other spacing and member order: still the same request.
  auto respaced = a.post(
    "/agents/execute",
    R"({ "options" : {"x":1, "y":"z"}, "agent_type":"codegen", "issue_number": 11, "repository_id":")" +
      repo + "\" }",
    key);
  BOOST_TEST(respaced.status == 202, respaced.body);
  BOOST_TEST(text_of(parse_json(respaced.body), "id") == id);
  // JSON objects are unordered: {"y":"z","x":1} is the same options object.
  auto reordered =
    a.post("/agents/execute",
           execution_body(repo, 11, "codegen", R"({"y":"z","x":1})"), key);
  BOOST_TEST(reordered.status == 202, reordered.body);
  BOOST_TEST(text_of(parse_json(reordered.body), "id") == id);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "'") == 1);

  expect_error(a.post("/agents/execute", execution_body(repo, 12), key), 422,
               "unprocessable_entity", "Idempotency-Key",
               "same key, other body");
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "'") == 1);

  // Keys are per user: B's same key is an independent execution.
  auto other_repo = create_repository(b, "other/idem");
  auto theirs = b.post("/agents/execute", execution_body(other_repo, 11), key);
  BOOST_TEST(theirs.status == 202);
  auto their_id = text_of(parse_json(theirs.body), "id");
  BOOST_TEST(their_id != id);
  BOOST_TEST(
    text_of(
      parse_json(
        b.post("/agents/execute", execution_body(other_repo, 11), key).body),
      "id") == their_id);
  BOOST_TEST(
    text_of(parse_json(a.post("/agents/execute", body, key).body), "id") == id);

  // Without a key every POST is a new execution.
  auto plain = create_repository(a, "octo/plain");
  auto p1 = start_execution(a, plain, 5);
  auto p2 = start_execution(a, plain, 5);
  BOOST_TEST(p1 != p2);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              plain + "'") == 2);
}

BOOST_AUTO_TEST_CASE(a_key_still_held_by_an_unfinished_request_answers_409) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/inflight");
  const header_pairs key{{"Idempotency-Key", "held-key"}};
  auto body = execution_body(repo, 1);
  // Another request's transaction holds the key (uncommitted) longer than
  // the service's lock timeout of 1 s.
  pqxx::connection conn{db()};
  pqxx::work holder{conn};
  holder.exec("INSERT INTO idempotency_keys (user_id, key, request_hash,"
              " state, expires_at) VALUES ('" +
              user.id +
              "', 'held-key', 'x', 'in_flight', now() + interval '1 hour')");
  auto start = steady::now();
  auto busy = a.post("/agents/execute", body, key);
  auto waited = std::chrono::duration<double>(steady::now() - start).count();
  expect_error(busy, 409, "conflict", {}, "key in flight");
  BOOST_TEST_MESSAGE("409 for a held key after " << waited << " s");
  holder.abort();
  auto free = a.post("/agents/execute", body, key);
  BOOST_TEST(free.status == 202, free.body);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "'") == 1);
}

BOOST_AUTO_TEST_CASE(
  twenty_concurrent_posts_with_one_key_create_one_execution) {
  // Five rounds, each with a fresh key and repository: 20 threads with a
  // connection each POST the same body with the same key at once.
  constexpr int rounds = 5;
  constexpr int posters = 20;
  auto user = new_account();
  api a{user.token};
  struct answer {
    long status = 0;
    std::string id;
    std::string error;
    std::string body;
  };
  int accepted = 0;
  int conflicts = 0;
  for (int round = 1; round <= rounds; ++round) {
    auto repo = create_repository(a, "octo/burst-" + std::to_string(round));
    auto body = execution_body(repo, 99, "deployment", R"({"env":"prod"})");
    const header_pairs key{
      {"Idempotency-Key", "burst-key-" + std::to_string(round)}};
    std::vector<answer> answers(posters);
    start_gate gate;
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < posters; ++i)
      threads.emplace_back([&, i] {
        api client{user.token};
        client.get("/agents"); // connect before the start
        ++ready;
        gate.wait();
        auto resp = client.post("/agents/execute", body, key);
        auto& out = answers[static_cast<size_t>(i)];
        out.status = resp.status;
        out.body = resp.body + resp.error;
        auto doc = parse_lenient(resp.body);
        if (!doc.HasParseError()) {
          out.id = text_of(doc, "id");
          out.error = text_of(doc, "error");
        }
      });
    auto deadline = steady::now() + 10s;
    while (ready.load() < posters && steady::now() < deadline)
      std::this_thread::yield();
    gate.open();
    for (auto& t : threads)
      t.join();

    int round_accepted = 0;
    std::set<std::string> ids;
    for (const auto& ans : answers) {
      BOOST_TEST_CONTEXT("round " << round << ": " << ans.status << " "
                                  << ans.body) {
        BOOST_TEST((ans.status == 202 || ans.status == 409));
        if (ans.status == 202) {
          ++round_accepted;
          ids.insert(ans.id);
        } else if (ans.status == 409) {
          ++conflicts;
          BOOST_TEST(ans.error == "conflict");
        }
      }
    }
    accepted += round_accepted;
    BOOST_TEST_CONTEXT("round " << round) {
      BOOST_TEST(round_accepted >= 1);
      BOOST_TEST(ids.size() == 1u);
      BOOST_TEST(sql_count("SELECT count(*) FROM agent_executions WHERE"
                           " repository_id = '" +
                           repo + "'") == 1);
      // Once the first one finished, a retry gets the same execution.
      auto retry = a.post("/agents/execute", body, key);
      BOOST_TEST(retry.status == 202);
      if (!ids.empty())
        BOOST_TEST(text_of(parse_json(retry.body), "id") == *ids.begin());
    }
  }
  BOOST_TEST_MESSAGE(rounds << " rounds of " << posters
                            << " concurrent POSTs with one Idempotency-Key: "
                            << accepted << " x 202, " << conflicts
                            << " x 409, one execution per round");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the claim queue ----------------------------------------------------------

BOOST_AUTO_TEST_SUITE(claims)

BOOST_AUTO_TEST_CASE(
  claim_takes_the_oldest_pending_execution_first_and_honours_agent_types) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/queue");
  auto first = start_execution(a, repo, 1, "codegen");
  auto second = start_execution(a, repo, 2, "review");
  auto third = start_execution(a, repo, 3, "codegen");
  auto fourth = start_execution(a, repo, 4, "review");

  auto claimed = a.post("/agents/executions/claim");
  BOOST_TEST(claimed.status == 200, claimed.body);
  auto doc = parse_json(claimed.body);
  BOOST_TEST(text_of(doc, "id") == first);
  BOOST_TEST(text_of(doc, "status") == "running");
  BOOST_TEST(is_timestamp(text_of(doc, "started_at")));
  BOOST_TEST(status_of(a, first) == "running");

  auto review =
    a.post("/agents/executions/claim", R"({"agent_types":["review"]})");
  BOOST_TEST(review.status == 200);
  BOOST_TEST(text_of(parse_json(review.body), "id") == second);
  auto review2 =
    a.post("/agents/executions/claim", R"({"agent_types":["review"]})");
  BOOST_TEST(text_of(parse_json(review2.body), "id") == fourth);
  auto none =
    a.post("/agents/executions/claim", R"({"agent_types":["review","pr"]})");
  BOOST_TEST(none.status == 204, none.body);
  BOOST_TEST(none.body.empty());
  BOOST_TEST(status_of(a, third) == "pending");
  auto rest = a.post("/agents/executions/claim", "{}");
  BOOST_TEST(rest.status == 200);
  BOOST_TEST(text_of(parse_json(rest.body), "id") == third);
  BOOST_TEST(a.post("/agents/executions/claim").status == 204);

  expect_error(
    a.post("/agents/executions/claim", R"({"agent_types":["wizard"]})"), 422,
    "unprocessable_entity", "agent_types", "unknown type");
  expect_error(
    a.post("/agents/executions/claim", R"({"agent_types":"review"})"), 422,
    "unprocessable_entity", "agent_types", "not an array");
  expect_error(a.post("/agents/executions/claim", R"({"agent_types":[1]})"),
               422, "unprocessable_entity", "agent_types", "not strings");
}

BOOST_AUTO_TEST_CASE(
  two_processes_with_sixteen_claimers_each_claim_every_execution_exactly_once) {
  constexpr int executions = 200;
  constexpr int creators = 4;
  constexpr int claimers_per_process = 16;
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/race");

  // The queue, filled through the API by a few threads.
  auto start = steady::now();
  std::vector<std::vector<std::string>> made(creators);
  std::vector<std::thread> threads;
  for (int t = 0; t < creators; ++t)
    threads.emplace_back([&, t] {
      api client{user.token};
      for (int i = t; i < executions; i += creators) {
        auto resp = client.post("/agents/execute",
                                execution_body(repo, i + 1, "codegen"));
        auto doc = parse_lenient(resp.body);
        made[static_cast<size_t>(t)].push_back(
          resp.status == 202 && !doc.HasParseError() ? text_of(doc, "id")
                                                     : "<failed>");
      }
    });
  for (auto& t : threads)
    t.join();
  threads.clear();
  std::set<std::string> created;
  for (const auto& list : made)
    created.insert(list.begin(), list.end());
  BOOST_REQUIRE_EQUAL(created.count("<failed>"), 0u);
  BOOST_REQUIRE_EQUAL(created.size(), static_cast<size_t>(executions));
  auto fill_seconds =
    std::chrono::duration<double>(steady::now() - start).count();

  service_process second{service_env(db())};
  const std::vector<std::string> bases{base_url(), second.base_url()};

  struct claimer {
    std::vector<std::string> ids;
    std::vector<std::string> odd; ///< unexpected answers
    int no_content = 0;
  };
  constexpr int claimers = 2 * claimers_per_process;
  std::vector<claimer> results(claimers);
  start_gate gate;
  std::atomic<int> ready{0};
  for (int c = 0; c < claimers; ++c)
    threads.emplace_back([&, c] {
      auto& out = results[static_cast<size_t>(c)];
      api client{user.token, bases[static_cast<size_t>(c % 2)]};
      client.get("/agents"); // connect before the start
      ++ready;
      gate.wait();
      auto deadline = steady::now() + 30s;
      while (steady::now() < deadline) {
        auto resp = client.post("/agents/executions/claim");
        if (resp.status == 204) {
          ++out.no_content;
          break;
        }
        auto doc = parse_lenient(resp.body);
        if (resp.status != 200 || doc.HasParseError()) {
          out.odd.push_back(std::to_string(resp.status) + " " + resp.body +
                            resp.error);
          break;
        }
        if (text_of(doc, "status") != "running" ||
            !is_timestamp(text_of(doc, "started_at")))
          out.odd.push_back("claimed but not running: " + resp.body);
        out.ids.push_back(text_of(doc, "id"));
      }
    });
  auto deadline = steady::now() + 20s;
  while (ready < claimers && steady::now() < deadline)
    std::this_thread::yield();
  auto race_start = steady::now();
  gate.open();
  for (auto& t : threads)
    t.join();
  auto race_seconds =
    std::chrono::duration<double>(steady::now() - race_start).count();

  std::vector<std::string> all;
  size_t per_process[2] = {0, 0};
  size_t fewest = executions;
  size_t most = 0;
  int stopped_on_204 = 0;
  for (int c = 0; c < claimers; ++c) {
    const auto& r = results[static_cast<size_t>(c)];
    all.insert(all.end(), r.ids.begin(), r.ids.end());
    per_process[c % 2] += r.ids.size();
    fewest = std::min(fewest, r.ids.size());
    most = std::max(most, r.ids.size());
    stopped_on_204 += r.no_content;
    for (const auto& odd : r.odd)
      BOOST_ERROR("claimer " << c << ": " << odd);
  }
  std::set<std::string> distinct(all.begin(), all.end());
  BOOST_TEST_MESSAGE("claim race: "
                     << executions << " pending (made through the API in "
                     << fill_seconds << " s), " << claimers << " claimers on 2 "
                     << "processes: " << all.size() << " claims ("
                     << distinct.size() << " distinct) in " << race_seconds
                     << " s; process 1 took " << per_process[0]
                     << ", process 2 took " << per_process[1]
                     << "; per claimer " << fewest << ".." << most << "; "
                     << stopped_on_204 << " claimers ended on 204");
  BOOST_TEST(all.size() == static_cast<size_t>(executions));
  BOOST_TEST(distinct.size() == static_cast<size_t>(executions));
  BOOST_TEST((distinct == created));
  BOOST_TEST(stopped_on_204 == claimers);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "' AND status = 'running' AND started_at IS NOT NULL") ==
    executions);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "' AND status = 'pending'") == 0);
  // Nothing is left for anyone, on either process.
  for (const auto& base : bases) {
    api late{user.token, base};
    BOOST_TEST(late.post("/agents/executions/claim").status == 204);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// -- the state machine --------------------------------------------------------

BOOST_AUTO_TEST_SUITE(state_machine)

BOOST_AUTO_TEST_CASE(
  allowed_transitions_succeed_and_stamp_started_and_completed_at) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/states");

  auto done = start_execution(a, repo, 1);
  auto running = set_status(a, done, "running");
  BOOST_TEST(running.status == 200, running.body);
  auto run_doc = parse_json(running.body);
  BOOST_TEST(text_of(run_doc, "status") == "running");
  BOOST_TEST(is_timestamp(text_of(run_doc, "started_at")));
  BOOST_TEST(is_null(run_doc, "completed_at"));
  auto completed = set_status(
    a, done, "completed",
    R"(,"result_summary":{"files":3,"tests":"passed"},"quality_score":88,"pr_number":42)");
  BOOST_TEST(completed.status == 200, completed.body);
  auto doc = parse_json(completed.body);
  BOOST_TEST(text_of(doc, "status") == "completed");
  BOOST_TEST(is_timestamp(text_of(doc, "completed_at")));
  BOOST_TEST(text_of(doc, "started_at") == text_of(run_doc, "started_at"));
  BOOST_TEST(
    (doc["result_summary"] == parse_json(R"({"files":3,"tests":"passed"})")),
    compact(doc["result_summary"]));
  BOOST_TEST(int_of(doc, "quality_score") == 88);
  BOOST_TEST(int_of(doc, "pr_number") == 42);
  // Stored, not just echoed.
  auto stored = parse_json(a.get("/agents/executions/" + done).body);
  BOOST_TEST(text_of(stored, "status") == "completed");
  BOOST_TEST(int_of(stored, "quality_score") == 88);
  BOOST_TEST(int_of(stored, "pr_number") == 42);
  BOOST_TEST(text_of(stored, "completed_at") == text_of(doc, "completed_at"));
  BOOST_TEST(sql_count("SELECT count(*) FROM agent_executions WHERE id = '" +
                       done +
                       "' AND completed_at >= started_at"
                       " AND result_summary->>'files' = '3'") == 1);

  auto cancelled = start_execution(a, repo, 2);
  auto cancel = set_status(a, cancelled, "cancelled");
  BOOST_TEST(cancel.status == 200, cancel.body);
  BOOST_TEST(text_of(parse_json(cancel.body), "status") == "cancelled");
  BOOST_TEST(is_timestamp(text_of(parse_json(cancel.body), "completed_at")));
  BOOST_TEST(is_null(parse_json(cancel.body), "started_at"));

  auto failed = start_execution(a, repo, 3);
  move_to(a, failed, "running");
  auto fail =
    set_status(a, failed, "failed", R"(,"error_message":"boom: tests red")");
  BOOST_TEST(fail.status == 200, fail.body);
  auto fail_doc = parse_json(fail.body);
  BOOST_TEST(text_of(fail_doc, "status") == "failed");
  BOOST_TEST(text_of(fail_doc, "error_message") == "boom: tests red");
  BOOST_TEST(is_timestamp(text_of(fail_doc, "completed_at")));
  BOOST_TEST(query_text(db(), "SELECT error_message FROM agent_executions"
                              " WHERE id = '" +
                                failed + "'") == "boom: tests red");

  auto stopped = start_execution(a, repo, 4);
  move_to(a, stopped, "running");
  auto stop = set_status(a, stopped, "cancelled");
  BOOST_TEST(stop.status == 200, stop.body);
  BOOST_TEST(is_timestamp(text_of(parse_json(stop.body), "completed_at")));
}

BOOST_AUTO_TEST_CASE(
  illegal_transitions_are_409_and_leave_the_execution_unchanged) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/illegal");
  auto completed = start_execution(a, repo, 1);
  move_to(a, completed, "running");
  move_to(a, completed, "completed");
  auto pending = start_execution(a, repo, 2);
  auto cancelled = start_execution(a, repo, 3);
  move_to(a, cancelled, "cancelled");
  auto running = start_execution(a, repo, 4);
  move_to(a, running, "running");
  auto failed = start_execution(a, repo, 5);
  move_to(a, failed, "running");
  move_to(a, failed, "failed");

  struct step {
    std::string id;
    std::string from;
    std::string to;
  };
  const std::vector<step> illegal{
    {completed, "completed", "running"}, {completed, "completed", "cancelled"},
    {completed, "completed", "pending"}, {completed, "completed", "failed"},
    {pending, "pending", "completed"},   {pending, "pending", "failed"},
    {pending, "pending", "pending"},     {cancelled, "cancelled", "pending"},
    {cancelled, "cancelled", "running"}, {running, "running", "pending"},
    {running, "running", "running"},     {failed, "failed", "running"},
    {failed, "failed", "completed"},
  };
  for (const auto& s : illegal) {
    auto before = a.get("/agents/executions/" + s.id).body;
    expect_error(set_status(a, s.id, s.to), 409, "conflict", "status",
                 s.from + " -> " + s.to);
    BOOST_TEST(a.get("/agents/executions/" + s.id).body == before,
               s.from + " -> " + s.to + " changed the execution");
  }
}

BOOST_AUTO_TEST_CASE(
  execution_updates_of_the_wrong_shape_are_422_and_foreign_ids_404) {
  auto user = new_account();
  auto other = new_account();
  api a{user.token};
  api b{other.token};
  auto repo = create_repository(a, "octo/patch");
  auto id = start_execution(a, repo, 1);
  move_to(a, id, "running");
  const std::vector<std::pair<std::string, std::string>> cases{
    {R"({"status":"completed","quality_score":101})", "quality_score"},
    {R"({"status":"completed","quality_score":-1})", "quality_score"},
    {R"({"status":"completed","quality_score":"high"})", "quality_score"},
    {R"({"status":"done"})", "status"},
    {R"({"status":"RUNNING"})", "status"},
    {R"({"status":5})", "status"},
    {R"({})", "status"},
    {R"({"status":"completed","result_summary":"ok"})", "result_summary"},
    {R"({"status":"completed","pr_number":0})", "pr_number"},
    {R"({"status":"failed","error_message":7})", "error_message"},
  };
  for (const auto& [body, field] : cases)
    expect_error(a.patch("/agents/executions/" + id, body), 422,
                 "unprocessable_entity", field, body);
  BOOST_TEST(status_of(a, id) == "running");

  expect_error(set_status(b, id, "completed"), 404, "not_found", {},
               "another user's execution");
  expect_error(set_status(a, unknown_id, "running"), 404, "not_found", {},
               "unknown execution");
  expect_error(set_status(a, "xyz", "running"), 400, "validation_error", {},
               "malformed id");
  expect_error(a.patch("/agents/executions/" + id, R"({"status":)"), 400,
               "validation_error", {}, "malformed JSON");
  BOOST_TEST(status_of(a, id) == "running");
}

BOOST_AUTO_TEST_SUITE_END()

// -- logs ---------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(logs)

BOOST_AUTO_TEST_CASE(appending_a_log_answers_201_with_the_execution_log_shape) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/logs");
  auto id = start_execution(a, repo, 1);
  auto resp = a.post(
    "/agents/executions/" + id + "/logs",
    R"({"level":"INFO","message":"cloned the repository","metadata":{"files":12,"ref":"main"}})");
  BOOST_TEST(resp.status == 201, resp.body);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  auto doc = parse_json(resp.body);
  std::set<std::string> shape{"id",      "execution_id", "level",
                              "message", "metadata",     "timestamp"};
  BOOST_TEST(keys(doc) == shape, boost::test_tools::per_element());
  BOOST_TEST(is_uuid(text_of(doc, "id")));
  BOOST_TEST(text_of(doc, "execution_id") == id);
  BOOST_TEST(text_of(doc, "level") == "INFO");
  BOOST_TEST(text_of(doc, "message") == "cloned the repository");
  BOOST_TEST((doc["metadata"] == parse_json(R"({"files":12,"ref":"main"})")),
             compact(doc["metadata"]));
  BOOST_TEST(is_timestamp(text_of(doc, "timestamp")));

  for (auto level : {"DEBUG", "WARN", "ERROR"}) {
    auto other =
      a.post("/agents/executions/" + id + "/logs",
             std::string{R"({"level":")"} + level + R"(","message":"m"})");
    BOOST_TEST(other.status == 201, level);
    BOOST_TEST(is_null(parse_json(other.body), "metadata"));
  }
  BOOST_TEST(
    sql_count("SELECT count(*) FROM execution_logs WHERE execution_id = '" +
              id + "'") == 4);
}

BOOST_AUTO_TEST_CASE(logs_are_listed_oldest_first_with_after_and_limit) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/readlogs");
  auto id = start_execution(a, repo, 1);
  const std::string path = "/agents/executions/" + id + "/logs";
  auto empty = a.get(path);
  BOOST_TEST(empty.status == 200);
  BOOST_TEST(empty.body == "[]");

  std::vector<std::string> stamps;
  const std::vector<std::string> messages{"one", "two", "three", "four"};
  for (const auto& message : messages) {
    auto resp =
      a.post(path, R"({"level":"INFO","message":")" + message + "\"}");
    BOOST_REQUIRE(resp.status == 201);
    stamps.push_back(text_of(parse_json(resp.body), "timestamp"));
  }
  auto messages_of = [&a, &path](const std::string& query) {
    auto resp = a.get(path + query);
    BOOST_TEST(resp.status == 200, query << ": " << resp.body);
    std::vector<std::string> out;
    auto doc = parse_json(resp.body);
    if (doc.IsArray())
      for (const auto& log : doc.GetArray())
        out.push_back(text_of(log, "message"));
    return out;
  };
  using texts = std::vector<std::string>;
  BOOST_TEST(messages_of("") == messages, boost::test_tools::per_element());
  BOOST_TEST(messages_of("?after=" + stamps[1]) == (texts{"three", "four"}),
             boost::test_tools::per_element());
  BOOST_TEST(messages_of("?limit=2") == (texts{"one", "two"}),
             boost::test_tools::per_element());
  BOOST_TEST(messages_of("?after=" + stamps[1] + "&limit=1") ==
               (texts{"three"}),
             boost::test_tools::per_element());
  BOOST_TEST(messages_of("?after=" + stamps[3]).empty());
  BOOST_TEST(messages_of("?after=2000-01-01T00:00:00Z") == messages,
             boost::test_tools::per_element());

  for (auto after : {"yesterday", "2026-13-01T00:00:00Z", "2026-01-01",
                     "2026-01-01T00:00:00"})
    expect_error(a.get(path + "?after=" + after), 400, "validation_error",
                 "after", std::string{"after="} + after);
  for (auto limit : {"0", "abc", "-5"})
    expect_error(a.get(path + "?limit=" + limit), 400, "validation_error",
                 "limit", std::string{"limit="} + limit);
}

BOOST_AUTO_TEST_CASE(
  bad_log_bodies_are_422_and_foreign_or_unknown_executions_404) {
  auto user = new_account();
  auto other = new_account();
  api a{user.token};
  api b{other.token};
  auto repo = create_repository(a, "octo/badlogs");
  auto id = start_execution(a, repo, 1);
  const std::string path = "/agents/executions/" + id + "/logs";
  const std::vector<std::pair<std::string, std::string>> cases{
    {R"({"level":"info","message":"m"})", "level"},
    {R"({"level":"TRACE","message":"m"})", "level"},
    {R"({"level":"WARNING","message":"m"})", "level"},
    {R"({"message":"m"})", "level"},
    {R"({"level":"INFO"})", "message"},
    {R"({"level":"INFO","message":""})", "message"},
    {R"({"level":"INFO","message":5})", "message"},
  };
  for (const auto& [body, field] : cases)
    expect_error(a.post(path, body), 422, "unprocessable_entity", field, body);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM execution_logs WHERE execution_id = '" +
              id + "'") == 0);

  expect_error(b.post(path, R"({"level":"INFO","message":"m"})"), 404,
               "not_found", {}, "POST on another user's execution");
  expect_error(b.get(path), 404, "not_found", {},
               "GET on another user's execution");
  expect_error(a.post("/agents/executions/" + unknown_id + "/logs",
                      R"({"level":"INFO","message":"m"})"),
               404, "not_found", {}, "POST on unknown execution");
  expect_error(a.get("/agents/executions/" + unknown_id + "/logs"), 404,
               "not_found", {}, "GET on unknown execution");
  expect_error(a.get("/agents/executions/bad/logs"), 400, "validation_error",
               {}, "malformed id");
  BOOST_TEST(
    sql_count("SELECT count(*) FROM execution_logs WHERE execution_id = '" +
              id + "'") == 0);
}

BOOST_AUTO_TEST_CASE(
  text_that_is_not_utf8_is_a_400_before_it_reaches_the_database) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/utf8logs");
  auto id = start_execution(a, repo, 1);
  const std::string path = "/agents/executions/" + id + "/logs";
  // RapidJSON 1.1.0 decodes an escaped lone low surrogate to bytes that
  // PostgreSQL refuses (SQLSTATE 22021): these were 500s.
  for (const std::string body :
       {R"({"level":"INFO","message":"a\udc4db"})",
        R"({"level":"INFO","message":"m","metadata":{"k":["\udfff"]}})",
        R"({"level":"INFO","message":"m","metadata":{"\udc00":1}})"})
    expect_error(a.post(path, body), 400, "validation_error", "UTF-8", body);
  // \u0000: jsonb refused it (a 500), a text column got the text cut at it.
  for (const std::string body :
       {R"({"level":"INFO","message":"a\u0000b"})",
        R"({"level":"INFO","message":"m","metadata":{"k":"\u0000"}})"})
    expect_error(a.post(path, body), 400, "validation_error", "u0000", body);
  expect_error(a.post("/agents/execute",
                      execution_body(repo, 2, "codegen", R"({"x":"\u0000"})")),
               400, "validation_error", "u0000", "\\u0000 in options");
  const std::string lone_node =
    R"({"nodes":[{"id":"pl\udc4dan","agent_type":"coordinator"}]})";
  expect_error(a.post("/workflows", workflow_body(repo, "w", lone_node)), 400,
               "validation_error", "UTF-8", "lone surrogate in a node id");
  expect_error(
    a.post("/workflows", workflow_body(repo, "w\\udc4d", small_graph)), 400,
    "validation_error", "UTF-8", "lone surrogate in a workflow name");
  // Percent-encoded query values are checked after decoding.
  expect_error(a.get(path + "?after=%FF"), 400, "validation_error",
               "after: must be valid UTF-8", "after=%FF");
  expect_error(a.get("/agents/executions?status=%ED%B0%80"), 400,
               "validation_error", "status: must be valid UTF-8",
               "status=%ED%B0%80");
  BOOST_TEST(
    sql_count("SELECT count(*) FROM execution_logs WHERE execution_id = '" +
              id + "'") == 0);
  // An escaped surrogate pair is one character, stored and read back.
  auto ok = a.post(path, R"({"level":"INFO","message":"\ud83d\ude00 ok"})");
  BOOST_TEST(ok.status == 201, ok.body);
  BOOST_TEST(text_of(parse_json(ok.body), "message") == "\xf0\x9f\x98\x80 ok");
  auto listed = a.get(path);
  BOOST_TEST(listed.status == 200, listed.body);
  BOOST_TEST(contains(listed.body, "\xf0\x9f\x98\x80 ok"), listed.body);
}

BOOST_AUTO_TEST_SUITE_END()

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

// -- user isolation -----------------------------------------------------------

BOOST_AUTO_TEST_SUITE(isolation)

BOOST_AUTO_TEST_CASE(
  another_user_gets_404_for_everything_of_mine_and_changes_nothing) {
  auto owner = new_account();
  auto intruder = new_account();
  api a{owner.token};
  api b{intruder.token};
  auto repo = create_repository(a, "mine/private");
  auto execution = start_execution(a, repo, 1);
  BOOST_REQUIRE(a.post("/agents/executions/" + execution + "/logs",
                       R"({"level":"INFO","message":"mine"})")
                  .status == 201);
  auto created = a.post("/workflows", workflow_body(repo, "mine", small_graph));
  BOOST_REQUIRE(created.status == 201);
  auto workflow = text_of(parse_json(created.body), "id");
  auto own_repo = create_repository(b, "theirs/repo");
  auto repo_before = a.get("/repositories/" + repo).body;
  auto execution_before = a.get("/agents/executions/" + execution).body;
  auto logs_before = a.get("/agents/executions/" + execution + "/logs").body;
  auto workflow_before = a.get("/workflows/" + workflow).body;

  const std::string e = "/agents/executions/" + execution;
  expect_error(b.get("/repositories/" + repo), 404, "not_found", {},
               "GET repository");
  expect_error(b.del("/repositories/" + repo), 404, "not_found", {},
               "DELETE repository");
  expect_error(b.post("/agents/execute", execution_body(repo, 2)), 404,
               "not_found", {}, "execute on repository");
  expect_error(b.get(e), 404, "not_found", {}, "GET execution");
  expect_error(set_status(b, execution, "running"), 404, "not_found", {},
               "PATCH execution");
  expect_error(set_status(b, execution, "cancelled"), 404, "not_found", {},
               "PATCH execution to cancelled");
  expect_error(b.get(e + "/logs"), 404, "not_found", {}, "GET logs");
  expect_error(b.post(e + "/logs", R"({"level":"ERROR","message":"theirs"})"),
               404, "not_found", {}, "POST logs");
  expect_error(b.get("/workflows/" + workflow), 404, "not_found", {},
               "GET workflow");
  expect_error(b.put("/workflows/" + workflow,
                     workflow_body(own_repo, "stolen", small_graph)),
               404, "not_found", {}, "PUT workflow");
  expect_error(b.del("/workflows/" + workflow), 404, "not_found", {},
               "DELETE workflow");
  expect_error(b.post("/workflows", workflow_body(repo, "x", small_graph)), 404,
               "not_found", {}, "POST workflow on repository");

  // Nothing of A's shows up in B's lists, and B's claims never take A's work.
  BOOST_TEST(b.get("/repositories").body ==
             "[" + b.get("/repositories/" + own_repo).body + "]");
  auto their_list = parse_json(b.get("/agents/executions").body);
  BOOST_TEST(their_list["items"].Size() == 0u);
  auto filtered =
    parse_json(b.get("/agents/executions?repository_id=" + repo).body);
  BOOST_TEST(filtered["items"].Size() == 0u);
  BOOST_TEST(b.get("/workflows").body == "[]");
  BOOST_TEST(b.get("/workflows?repository_id=" + repo).body == "[]");
  BOOST_TEST(b.post("/agents/executions/claim").status == 204);
  BOOST_TEST(b.get("/dashboard/recent").body == "[]");
  BOOST_TEST(int_of(parse_json(b.get("/dashboard/summary").body),
                    "total_executions") == 0);

  // A's data is unchanged.
  BOOST_TEST(a.get("/repositories/" + repo).body == repo_before);
  BOOST_TEST(a.get("/agents/executions/" + execution).body == execution_before);
  BOOST_TEST(a.get("/agents/executions/" + execution + "/logs").body ==
             logs_before);
  BOOST_TEST(a.get("/workflows/" + workflow).body == workflow_before);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "'") == 1);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM execution_logs WHERE execution_id = '" +
              execution + "'") == 1);
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE user_id = '" +
              intruder.id + "'") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// -- pagination under concurrent inserts --------------------------------------

BOOST_AUTO_TEST_SUITE(pagination)

BOOST_AUTO_TEST_CASE(
  paging_while_executions_are_inserted_returns_every_original_exactly_once) {
  constexpr int originals = 120;
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "octo/paging");
  std::set<std::string> original;
  for (int i = 1; i <= originals; ++i)
    original.insert(
      start_execution(a, repo, i, i % 3 == 0 ? "review" : "codegen"));
  BOOST_REQUIRE_EQUAL(original.size(), static_cast<size_t>(originals));

  auto first_default = a.get("/agents/executions");
  BOOST_TEST(parse_json(first_default.body)["items"].Size() ==
             20u); // default limit

  // An inserter keeps adding executions through the API while we page.
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::atomic<int> insert_failures{0};
  std::mutex new_mtx;
  std::set<std::string> added;
  std::thread inserter{[&] {
    api client{user.token};
    int issue = 1000;
    while (!stop) {
      auto resp =
        client.post("/agents/execute", execution_body(repo, ++issue, "issue"));
      if (resp.status != 202) {
        ++insert_failures;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock{new_mtx};
        // Not parse_json: Boost.Test assertions belong to the main thread.
        added.insert(text_of(parse_lenient(resp.body), "id"));
      }
      ++inserted;
    }
  }};

  std::vector<std::string> seen;
  std::vector<std::string> stamps; // created_at, page order
  std::string cursor;
  int pages = 0;
  bool failed = false;
  do {
    // Each page is fetched only after at least one more insert landed.
    auto target = inserted.load() + 1;
    auto deadline = steady::now() + 5s;
    while (inserted.load() < target && steady::now() < deadline)
      std::this_thread::yield();
    auto resp = a.get("/agents/executions?limit=25" +
                      (cursor.empty() ? "" : "&cursor=" + cursor));
    if (resp.status != 200) {
      BOOST_ERROR("page " << pages << ": " << resp.status << " " << resp.body);
      failed = true;
      break;
    }
    auto doc = parse_json(resp.body);
    for (const auto& item : doc["items"].GetArray()) {
      seen.push_back(text_of(item, "id"));
      stamps.push_back(text_of(item, "created_at"));
    }
    BOOST_TEST(doc["items"].Size() <= 25u);
    cursor =
      doc["next_cursor"].IsString() ? doc["next_cursor"].GetString() : "";
    ++pages;
  } while (!cursor.empty() && pages < 50);
  stop = true;
  inserter.join();

  BOOST_TEST(!failed);
  BOOST_TEST(insert_failures.load() == 0);
  BOOST_TEST(inserted.load() >= pages,
             "inserts did not interleave with the pages");
  std::map<std::string, int> times;
  for (const auto& id : seen)
    ++times[id];
  int duplicates = 0;
  for (const auto& [id, n] : times)
    if (n > 1)
      ++duplicates;
  int missing = 0;
  for (const auto& id : original)
    if (times.count(id) == 0 || times[id] != 1)
      ++missing;
  int newcomers = 0;
  for (const auto& id : seen)
    if (original.count(id) == 0) {
      ++newcomers;
      std::lock_guard<std::mutex> lock{new_mtx};
      BOOST_TEST(added.count(id) == 1u, "unknown id " << id);
    }
  BOOST_TEST_MESSAGE("paging: " << pages << " pages of 25, " << seen.size()
                                << " items (" << newcomers
                                << " inserted meanwhile), " << inserted.load()
                                << " inserts during the paging");
  BOOST_TEST(duplicates == 0);
  BOOST_TEST(missing == 0);
  BOOST_TEST(std::is_sorted(stamps.rbegin(), stamps.rend()),
             "pages are not newest first");
  BOOST_TEST(
    sql_count("SELECT count(*) FROM agent_executions WHERE repository_id"
              " = '" +
              repo + "'") == originals + inserted.load());
}

BOOST_AUTO_TEST_SUITE_END()

// -- authentication -----------------------------------------------------------

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_AUTO_TEST_CASE(
  every_resource_route_without_a_token_is_401_authentication_error) {
  // Valid ids and bodies, so only the missing token is wrong.
  const std::string id = "11111111-2222-4333-8444-555555555555";
  const std::string execute = execution_body(id, 1);
  const std::string workflow = workflow_body(id, "w", small_graph);
  struct route {
    std::string method;
    std::string path;
    std::string body;
  };
  const std::vector<route> routes{
    {"GET", "/repositories", {}},
    {"POST", "/repositories", repository_body("octo/hello")},
    {"GET", "/repositories/" + id, {}},
    {"DELETE", "/repositories/" + id, {}},
    {"POST", "/agents/execute", execute},
    {"GET", "/agents/executions", {}},
    {"GET", "/agents/executions/" + id, {}},
    {"PATCH", "/agents/executions/" + id, R"({"status":"running"})"},
    {"POST", "/agents/executions/claim", {}},
    {"GET", "/agents/executions/" + id + "/logs", {}},
    {"POST", "/agents/executions/" + id + "/logs",
     R"({"level":"INFO","message":"m"})"},
    {"GET", "/workflows", {}},
    {"POST", "/workflows", workflow},
    {"GET", "/workflows/" + id, {}},
    {"PUT", "/workflows/" + id, workflow},
    {"DELETE", "/workflows/" + id, {}},
    {"GET", "/dashboard/summary", {}},
    {"GET", "/dashboard/recent", {}},
  };
  api anonymous;
  for (const auto& r : routes) {
    auto resp = anonymous.call(r.method, r.path, r.body);
    expect_error(resp, 401, "authentication_error", {},
                 r.method + " " + r.path);
    BOOST_TEST(resp.header("Cache-Control") == "no-store",
               r.method + " " + r.path);
  }
  // A bad token is jwt_error; another scheme is authentication_error.
  api forged{"eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"};
  expect_error(forged.get("/repositories"), 401, "jwt_error", {},
               "forged token");
  http_client client;
  expect_error(client.get(base_url() + "/api/v1/repositories",
                          {{"Authorization", "Basic dXNlcjpwYXNz"}}),
               401, "authentication_error", {}, "Basic scheme");
}

BOOST_AUTO_TEST_SUITE_END()

// -- common rules on the resource routes --------------------------------------

BOOST_AUTO_TEST_SUITE(common_rules)

BOOST_AUTO_TEST_CASE(
  unsupported_methods_get_405_with_allow_before_auth_and_other_bodies_415) {
  const std::string id = "11111111-2222-4333-8444-555555555555";
  struct wrong {
    std::string method;
    std::string path;
    std::set<std::string> allow;
  };
  const std::vector<wrong> cases{
    {"PUT", "/repositories", {"GET", "HEAD", "POST", "OPTIONS"}},
    {"PATCH", "/repositories/" + id, {"GET", "HEAD", "DELETE", "OPTIONS"}},
    {"DELETE", "/agents/execute", {"POST", "OPTIONS"}},
    {"DELETE", "/agents/executions", {"GET", "HEAD", "OPTIONS"}},
    {"GET", "/agents/executions/claim", {"POST", "OPTIONS"}},
    {"PUT",
     "/agents/executions/" + id + "/logs",
     {"GET", "HEAD", "POST", "OPTIONS"}},
    {"POST", "/workflows/" + id, {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}},
    {"POST", "/dashboard/summary", {"GET", "HEAD", "OPTIONS"}},
  };
  api anonymous; // no token: the method is checked first
  for (const auto& c : cases) {
    auto resp = anonymous.call(c.method, c.path);
    expect_error(resp, 405, "method_not_allowed", {}, c.method + " " + c.path);
    std::set<std::string> allow;
    auto header = resp.header("Allow");
    for (size_t pos = 0; pos <= header.size();) {
      auto comma = header.find(',', pos);
      auto item = header.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
      item.erase(0, item.find_first_not_of(' '));
      if (!item.empty())
        allow.insert(item);
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    BOOST_TEST_CONTEXT(c.method << " " << c.path << ": Allow: " << header) {
      BOOST_TEST(allow == c.allow, boost::test_tools::per_element());
    }
  }

  auto user = new_account();
  api a{user.token};
  auto head = a.call("HEAD", "/repositories");
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
  BOOST_TEST(head.header("Content-Type") == "application/json");
  expect_error(a.call("POST", "/repositories", repository_body("octo/typed"),
                      {{"Content-Type", "text/plain"}}),
               415, "unsupported_media_type", {}, "text/plain body");
  BOOST_TEST(sql_count("SELECT count(*) FROM repositories WHERE user_id = '" +
                       user.id + "'") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// -- order of checks ----------------------------------------------------------

BOOST_AUTO_TEST_SUITE(order_of_checks)

BOOST_AUTO_TEST_CASE(
  credentials_are_checked_before_the_content_type_and_the_body) {
  // api.md, Common rules: method, then credentials, then content type, then
  // body. An unauthenticated client never learns the body rules.
  api anonymous;
  expect_error(anonymous.post("/agents/execute", "{}"), 401,
               "authentication_error", {}, "empty body, no token");
  expect_error(anonymous.post("/agents/execute", "{not json"), 401,
               "authentication_error", {}, "bad JSON, no token");
  expect_error(anonymous.call("POST", "/repositories", "x=1",
                              {{"Content-Type", "text/plain"}}),
               401, "authentication_error", {}, "text/plain, no token");
  expect_error(anonymous.get("/repositories/not-a-uuid"), 401,
               "authentication_error", {}, "malformed id, no token");
  expect_error(anonymous.get("/agents/executions?status=%zz"), 401,
               "authentication_error", {}, "bad query, no token");
  api forged{"eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"};
  expect_error(forged.post("/agents/execute", "{}"), 401, "jwt_error", {},
               "empty body, forged token");
  expect_error(forged.call("PATCH",
                           "/agents/executions/"
                           "11111111-2222-4333-8444-555555555555",
                           "[", {{"Content-Type", "text/plain"}}),
               401, "jwt_error", {}, "text/plain, forged token");
  // With a valid token the body rules apply, in their order.
  auto user = new_account();
  api a{user.token};
  expect_error(
    a.call("POST", "/agents/execute", "{}", {{"Content-Type", "text/plain"}}),
    415, "unsupported_media_type", {}, "text/plain, valid token");
  expect_error(a.post("/agents/execute", "{not json"), 400, "validation_error",
               {}, "bad JSON, valid token");
  expect_error(a.post("/agents/execute", "{}"), 422, "unprocessable_entity",
               "repository_id", "empty object, valid token");
  expect_error(a.get("/repositories/not-a-uuid"), 400, "validation_error", {},
               "malformed id, valid token");
  expect_error(a.get("/agents/executions?status=%zz"), 400, "validation_error",
               {}, "bad query, valid token");
}

BOOST_AUTO_TEST_SUITE_END()

// -- commits in doubt ---------------------------------------------------------

BOOST_AUTO_TEST_SUITE(commits_in_doubt)

BOOST_AUTO_TEST_CASE(
  a_write_whose_commit_answer_is_lost_reports_503_never_a_wrong_outcome,
  *boost::unit_test::timeout(120)) {
  // A proxy loses the answer to a COMMIT that the server carried out. A
  // retry on a new connection would answer from the state the first run
  // made: 404 for a delete that happened, 200 for a create that happened.
  auto url = create_database();
  auto colon = url.rfind(':');
  auto slash = url.find('/', colon);
  pg_commit_cutter proxy{
    static_cast<uint16_t>(std::stoi(url.substr(colon + 1, slash - colon - 1)))};
  auto proxied =
    url.substr(0, colon + 1) + std::to_string(proxy.port()) + url.substr(slash);
  auto env = service_env(proxied);
  env["DB_POOL_SIZE"] = "2";
  service_process svc{env};
  http_client client;
  auto user = mock_login(client, svc.base_url(), 790001);
  api a{user.access, svc.base_url()};

  auto created = a.post("/repositories", repository_body("octo/doubt"));
  BOOST_REQUIRE(created.status == 201);
  auto id = text_of(parse_json(created.body), "id");

  proxy.arm(id); // the id travels as the delete's parameter
  auto deleted = a.del("/repositories/" + id);
  BOOST_TEST(proxy.cut() == 1u);
  expect_error(deleted, 503, "service_unavailable", {}, "delete in doubt");
  BOOST_TEST(deleted.header("Retry-After") == "1");
  // The delete did happen: the truth is visible afterwards.
  expect_error(a.get("/repositories/" + id), 404, "not_found", {},
               "after the delete in doubt");

  proxy.arm("doubt-two");
  auto again = a.post("/repositories", repository_body("octo/doubt-two"));
  BOOST_TEST(proxy.cut() == 2u);
  expect_error(again, 503, "service_unavailable", {}, "create in doubt");
  auto existing = a.post("/repositories", repository_body("octo/doubt-two"));
  BOOST_TEST(existing.status == 200, "the create in doubt did happen");
}

BOOST_AUTO_TEST_SUITE_END()
