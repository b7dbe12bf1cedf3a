// Repositories, the agent catalogue, user isolation (also of reads that
// share a query), authentication on every route, the common rules and the
// order of checks (api.md, Resources), against the real binary and a real
// PostgreSQL. One service process serves the file
// (support/shared_service.hpp).
#define BOOST_TEST_MODULE repositories_test
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <rapidjson/document.h>

#include "support/checks.hpp"
#include "support/shared_service.hpp"
#include "support/threads.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

BOOST_TEST_GLOBAL_FIXTURE(start_shared_service);

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

BOOST_AUTO_TEST_CASE(
  identical_waiting_reads_share_one_query_and_never_another_users_list) {
  auto owner = new_account();
  auto other = new_account();
  auto blocker = new_account();
  api a{owner.token};
  api b{other.token};
  create_repository(a, "share/a-one");
  create_repository(b, "share/b-one");
  const auto b_list = b.get("/repositories").body;
  auto coalesced = [] {
    return std::max(0.0,
                    metric(*shared().process, "miyabi_db_coalesced_total"));
  };
  const auto before = coalesced();

  // Every session (8) waits on the table lock with a read of the blocker's,
  // so the reads of A and B queue behind them.
  pqxx::connection conn{db()};
  pqxx::work holder{conn};
  holder.exec("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE");
  std::vector<http_response> held(8), of_a(5), of_b(3);
  {
    thread_group threads;
    auto read = [&threads](const std::string& token, http_response& out) {
      threads.spawn([token, &out] { out = api{token}.get("/repositories"); });
    };
    for (auto& r : held)
      read(blocker.token, r);
    BOOST_REQUIRE(eventually(
      [] {
        return metric(*shared().process,
                      "miyabi_db_sessions{state=\"busy\"}") == 8;
      },
      10s));
    for (auto& r : of_a)
      read(owner.token, r);
    for (auto& r : of_b)
      read(other.token, r);
    // One waiting read each for A and B, joined by the others.
    BOOST_REQUIRE(eventually([&] { return coalesced() - before >= 6; }, 10s));
    // Committed before the shared read runs: each of A's answers shows it.
    holder.exec("INSERT INTO repositories (user_id, owner, name) VALUES ('" +
                owner.id + "', 'share', 'a-two')");
    holder.commit();
    threads.wait();
  }
  for (const auto& r : held)
    BOOST_TEST((r.status == 200 && r.body == "[]"));
  for (const auto& r : of_a) {
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == of_a.front().body);
    BOOST_TEST(contains(r.body, "share/a-two"));
    BOOST_TEST(!contains(r.body, "share/b-one"));
  }
  for (const auto& r : of_b) {
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == b_list);
  }
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
