// Agent executions (api.md, Resources): creation and idempotency, the
// claim queue across two processes, the state machine, logs, cursor
// pagination under concurrent inserts, commits in doubt; against the real
// binary and a real PostgreSQL. One service process serves the file
// (support/shared_service.hpp); the claim race starts a second one.
#define BOOST_TEST_MODULE executions_test
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>
#include <rapidjson/document.h>

#include "base/crypto.hpp"
#include "support/pg_proxy.hpp"
#include "support/shared_service.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

BOOST_TEST_GLOBAL_FIXTURE(start_shared_service);

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

  service_process second{resource_service_env(db())};
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
  auto env = resource_service_env(proxied);
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
