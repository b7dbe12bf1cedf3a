// "Workers and leases" of api.md (issue 12) against two real service
// processes on one real PostgreSQL: worker tokens (shape, scope, revocation
// on every instance, last_used_at), leases (claim, heartbeat, expiry by the
// database clock, requeue and failure after the last attempt, stale
// attempts, cancellation seen by the next heartbeat), exactly-once expiry
// with both processes and 16 concurrent sweeps, and retry.
//
// Both processes run with EXECUTION_LEASE_SECONDS=2 and
// EXECUTION_MAX_ATTEMPTS=2, so expiries happen within the test's time.
#define BOOST_TEST_MODULE workers_test
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "storage/executions.hpp"
#include "storage/statements.hpp"
#include "support/api.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

constexpr int lease_seconds = 2;

env_map service_env(const std::string& database) {
  auto env = base_env();
  env["DATABASE_URL"] = database;
  env["DB_POOL_SIZE"] = "8";
  env["EXECUTION_LEASE_SECONDS"] = std::to_string(lease_seconds);
  env["EXECUTION_MAX_ATTEMPTS"] = "2";
  return env;
}

struct shared_services {
  std::string database;
  std::unique_ptr<service_process> a;
  std::unique_ptr<service_process> b;
};

/// One database and two processes for the whole file; `default_base()` is
/// process A.
shared_services& shared() {
  static shared_services instance = [] {
    shared_services s;
    s.database = create_database();
    s.a = std::make_unique<service_process>(service_env(s.database));
    s.b = std::make_unique<service_process>(service_env(s.database));
    default_base() = s.a->base_url();
    return s;
  }();
  return instance;
}

struct start_services {
  start_services() { shared(); }
};

const std::string& db() {
  return shared().database;
}

struct worker {
  std::string id;
  std::string token;
};

worker make_worker(api& user, const std::string& scope = {}) {
  auto resp = user.post("/workers/tokens", R"({"name":"w")" + scope + "}");
  BOOST_REQUIRE_MESSAGE(resp.status == 201,
                        "create token: " << resp.status << " " << resp.body);
  auto doc = parse_json(resp.body);
  return {text_of(doc, "id"), text_of(doc, "token")};
}

/// Claims as `w` and requires a 200; the execution.
rapidjson::Document claim(api& w, const std::string& body = "{}") {
  auto resp = w.post("/agents/executions/claim", body);
  BOOST_REQUIRE_MESSAGE(resp.status == 200,
                        "claim: " << resp.status << " " << resp.body);
  return parse_json(resp.body);
}

std::string heartbeat_body(long long attempt, const std::string& extra = {}) {
  return R"({"attempt":)" + std::to_string(attempt) + extra + "}";
}

/// The execution as its user sees it.
rapidjson::Document execution(api& user, const std::string& id) {
  auto resp = user.get("/agents/executions/" + id);
  BOOST_REQUIRE_MESSAGE(resp.status == 200, resp.status << " " << resp.body);
  return parse_json(resp.body);
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp with fraction.
double epoch_of(const std::string& ts) {
  std::tm tm{};
  double fraction = 0;
  std::sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
  auto dot = ts.find('.');
  if (dot != std::string::npos)
    fraction = std::stod("0" + ts.substr(dot, ts.size() - dot - 1));
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + fraction;
}

double now_epoch() {
  return std::chrono::duration<double>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

double expiries(const service_process& svc) {
  return metric(svc, "miyabi_lease_expiries_total");
}

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(start_services);

// -- worker tokens ------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(worker_tokens)

BOOST_AUTO_TEST_CASE(a_token_is_shown_once_then_listed_without_its_secret) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wk/shape");
  auto resp = a.post("/workers/tokens",
                     R"({"name":"ci runner","agent_types":["codegen"],)"
                     R"("repository_ids":[")" +
                       repo + R"("]})");
  BOOST_TEST_REQUIRE(resp.status == 201, resp.body);
  auto doc = parse_json(resp.body);
  std::set<std::string> shape{
    "id",          "name",       "token",       "repository_ids",
    "agent_types", "created_at", "last_used_at"};
  BOOST_TEST(keys(doc) == shape, boost::test_tools::per_element());
  BOOST_TEST(std::regex_match(text_of(doc, "token"),
                              std::regex{"mwk_[A-Za-z0-9_-]{43}"}));
  BOOST_TEST(is_null(doc, "last_used_at"));
  BOOST_TEST(compact(doc["repository_ids"]) == "[\"" + repo + "\"]");
  BOOST_TEST(compact(doc["agent_types"]) == R"(["codegen"])");
  // Stored hashed: the token itself is nowhere in the table.
  BOOST_TEST(query_int(db(), "SELECT count(*) FROM worker_tokens WHERE "
                             "token_hash = '" +
                               text_of(doc, "token") + "'") == 0);
  auto list = a.get("/workers/tokens");
  BOOST_TEST_REQUIRE(list.status == 200);
  auto items = parse_json(list.body);
  BOOST_TEST_REQUIRE(items.Size() == 1u);
  BOOST_TEST(!find(items[0], "token"));
  BOOST_TEST(text_of(items[0], "id") == text_of(doc, "id"));
  auto open = make_worker(a);
  auto listed = parse_json(a.get("/workers/tokens").body);
  BOOST_TEST(ids_of(listed) ==
             (std::vector<std::string>{open.id, text_of(doc, "id")}));
  BOOST_TEST(is_null(listed[0], "repository_ids"));
  BOOST_TEST(is_null(listed[0], "agent_types"));
}

BOOST_AUTO_TEST_CASE(one_token_is_read_by_its_user_alone_and_never_its_secret) {
  auto user = new_account();
  api a{user.token};
  auto w = make_worker(a);
  auto resp = a.get("/workers/tokens/" + w.id);
  BOOST_TEST_REQUIRE(resp.status == 200, resp.body);
  auto doc = parse_json(resp.body);
  BOOST_TEST(text_of(doc, "id") == w.id);
  BOOST_TEST(!find(doc, "token"));
  BOOST_TEST(compact(doc) ==
             compact(parse_json(a.get("/workers/tokens").body)[0]));
  auto other = new_account();
  api b{other.token};
  expect_error(b.get("/workers/tokens/" + w.id), 404, "not_found");
  expect_error(a.get("/workers/tokens/" + unknown_id), 404, "not_found");
  expect_error(a.get("/workers/tokens/not-a-uuid"), 400, "validation_error");
  // Only user tokens may look at tokens.
  expect_error(api{w.token}.get("/workers/tokens/" + w.id), 403,
               "authorization_error");
  BOOST_TEST(a.del("/workers/tokens/" + w.id).status == 204);
  expect_error(a.get("/workers/tokens/" + w.id), 404, "not_found");
}

BOOST_AUTO_TEST_CASE(bad_token_requests_are_refused_with_the_field_named) {
  auto user = new_account();
  api a{user.token};
  expect_error(a.post("/workers/tokens", R"({"name":""})"), 422,
               "unprocessable_entity", "name");
  expect_error(a.post("/workers/tokens", R"({"name":"x","agent_types":[]})"),
               400, "validation_error", "agent_types");
  expect_error(
    a.post("/workers/tokens", R"({"name":"x","agent_types":["chef"]})"), 400,
    "validation_error", "agent_types");
  auto other = new_account();
  api b{other.token};
  auto foreign = create_repository(b, "wk/foreign");
  expect_error(a.post("/workers/tokens", R"({"name":"x","repository_ids":[")" +
                                           foreign + R"("]})"),
               404, "not_found", "repository_ids");
  expect_error(a.del("/workers/tokens/" + unknown_id), 404, "not_found");
  auto w = make_worker(b);
  expect_error(a.del("/workers/tokens/" + w.id), 404, "not_found");
}

BOOST_AUTO_TEST_CASE(a_worker_token_reaches_only_the_worker_routes_in_scope) {
  auto user = new_account();
  api a{user.token};
  auto in_repo = create_repository(a, "wk/in");
  auto out_repo = create_repository(a, "wk/out");
  auto w = make_worker(a, R"(,"agent_types":["codegen"],"repository_ids":[")" +
                            in_repo + "\"]");
  api wa{w.token};
  auto outside_type = start_execution(a, in_repo, 1, "review");
  auto outside_repo = start_execution(a, out_repo, 2, "codegen");
  auto inside = start_execution(a, in_repo, 3, "codegen");
  auto got = claim(wa);
  BOOST_TEST(text_of(got, "id") == inside);
  BOOST_TEST(text_of(got, "claimed_by") == w.id);
  BOOST_TEST(wa.post("/agents/executions/claim", "{}").status == 204);
  expect_error(
    wa.post("/agents/executions/claim", R"({"agent_types":["review"]})"), 403,
    "authorization_error");
  expect_error(wa.post("/agents/executions/claim",
                       R"({"repository_id":")" + out_repo + "\"}"),
               403, "authorization_error");
  for (const auto& id : {outside_type, outside_repo}) {
    expect_error(wa.get("/agents/executions/" + id), 403, "authorization_error",
                 "", "GET " + id);
    expect_error(wa.patch("/agents/executions/" + id,
                          R"({"status":"cancelled","attempt":1})"),
                 403, "authorization_error");
    expect_error(wa.post("/agents/executions/" + id + "/logs",
                         R"({"level":"INFO","message":"x"})"),
                 403, "authorization_error");
  }
  BOOST_TEST(wa.get("/agents/executions/" + inside).status == 200);
  BOOST_TEST(wa.post("/agents/executions/" + inside + "/logs",
                     R"({"level":"INFO","message":"working"})")
               .status == 201);
  // Routes a worker token may not call at all.
  for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
         {"GET", "/repositories"},
         {"GET", "/agents/executions"},
         {"GET", "/workers/tokens"},
         {"POST", "/agents/executions/" + inside + "/retry"},
         {"GET", "/agents/executions/" + inside + "/logs"},
         {"GET", "/dashboard/summary"}})
    expect_error(wa.call(method, path), 403, "authorization_error", "",
                 method + " " + path);
  expect_error(
    api{"mwk_" + std::string(43, 'A')}.get("/agents/executions/" + inside), 401,
    "authentication_error");
  expect_error(api{"mwk_short"}.get("/agents/executions/" + inside), 401,
               "authentication_error");
}

BOOST_AUTO_TEST_CASE(a_revoked_token_is_refused_on_every_instance_within_2_s) {
  auto user = new_account();
  api a{user.token};
  auto w = make_worker(a);
  auto repo = create_repository(a, "wk/revoke");
  auto id = start_execution(a, repo, 1);
  api on_a{w.token, shared().a->base_url()};
  api on_b{w.token, shared().b->base_url()};
  // Both instances know (and cache) the token.
  BOOST_TEST_REQUIRE(on_a.get("/agents/executions/" + id).status == 200);
  BOOST_TEST_REQUIRE(on_b.get("/agents/executions/" + id).status == 200);
  BOOST_TEST_REQUIRE(a.del("/workers/tokens/" + w.id).status == 204);
  auto revoked = steady::now();
  BOOST_TEST(on_a.get("/agents/executions/" + id).status == 401);
  auto took = time_until(
    [&] { return on_b.get("/agents/executions/" + id).status == 401; }, 3s);
  BOOST_TEST_REQUIRE(took.has_value());
  auto since_revoke = ms_between(revoked, steady::now());
  BOOST_TEST_MESSAGE("revoked token refused by the other instance after "
                     << since_revoke << " ms");
  BOOST_TEST(since_revoke <= 2000);
  BOOST_TEST(a.get("/workers/tokens").body == "[]");
}

BOOST_AUTO_TEST_CASE(last_used_at_is_written_at_most_once_a_minute) {
  auto user = new_account();
  api a{user.token};
  auto w = make_worker(a);
  auto id = start_execution(a, create_repository(a, "wk/used"), 1);
  api wa{w.token};
  BOOST_TEST_REQUIRE(wa.get("/agents/executions/" + id).status == 200);
  const auto sql = "SELECT coalesce(rfc3339(last_used_at), '') FROM "
                   "worker_tokens WHERE id = '" +
                   w.id + "'";
  auto first = query_text(db(), sql);
  BOOST_TEST(!first.empty());
  // Past the one-second cache the next uses look the token up again, but
  // within the minute they do not write.
  std::this_thread::sleep_for(1200ms); // time itself is what must pass
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(wa.get("/agents/executions/" + id).status == 200);
  BOOST_TEST(query_text(db(), sql) == first);
  auto listed = parse_json(a.get("/workers/tokens").body);
  BOOST_TEST(text_of(listed[0], "last_used_at") == first);
}

BOOST_AUTO_TEST_SUITE_END()

// -- leases -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(leases)

BOOST_AUTO_TEST_CASE(
  a_killed_worker_s_execution_is_requeued_after_its_lease_then_fails) {
  auto user = new_account();
  api a{user.token};
  // A linked chat: every status change queues a notice for it.
  const std::string chat = "9120001";
  exec_sql(db(), "INSERT INTO telegram_chats (chat_id, user_id) VALUES (" +
                   chat + ", '" + user.id + "')");
  auto w = make_worker(a);
  api wa{w.token};
  auto id = start_execution(a, create_repository(a, "wk/killed"), 4);
  auto first = claim(wa);
  BOOST_TEST(int_of(first, "attempt") == 1);
  BOOST_TEST(text_of(first, "claimed_by") == w.id);
  auto expires = epoch_of(text_of(first, "lease_expires_at"));
  BOOST_TEST(expires - epoch_of(text_of(first, "started_at")) ==
               double(lease_seconds),
             boost::test_tools::tolerance(0.01));
  // The worker dies: no heartbeat. Wait for the requeue.
  BOOST_TEST_REQUIRE(
    eventually([&] { return text_of(execution(a, id), "status") == "pending"; },
               10s, 20ms));
  auto seen = now_epoch();
  auto requeued = execution(a, id);
  BOOST_TEST(int_of(requeued, "attempt") == 2);
  BOOST_TEST(is_null(requeued, "lease_expires_at"));
  BOOST_TEST(is_null(requeued, "claimed_by"));
  auto lag = seen - expires;
  BOOST_TEST_MESSAGE("lease expiry to requeue observed: "
                     << static_cast<long long>(lag * 1000) << " ms");
  BOOST_TEST(lag < 5.0);
  auto second = claim(wa);
  BOOST_TEST(text_of(second, "id") == id);
  BOOST_TEST(int_of(second, "attempt") == 2);
  // The last attempt expires too: failed.
  BOOST_TEST_REQUIRE(eventually(
    [&] { return text_of(execution(a, id), "status") == "failed"; }, 10s));
  auto failed = execution(a, id);
  BOOST_TEST(text_of(failed, "error_message") == "lease expired");
  BOOST_TEST(query_int(db(), "SELECT count(*) FROM telegram_outbox WHERE "
                             "chat_id = " +
                               chat +
                               " AND payload->>'text' LIKE '%is now "
                               "failed%lease expired%'") == 1);
  BOOST_TEST(int_of(failed, "attempt") == 2);
  BOOST_TEST(!is_null(failed, "completed_at"));
}

BOOST_AUTO_TEST_CASE(heartbeats_extend_the_lease_and_stale_attempts_get_409) {
  auto user = new_account();
  api a{user.token};
  auto w = make_worker(a);
  api wa{w.token};
  auto id = start_execution(a, create_repository(a, "wk/beat"), 5);
  auto got = claim(wa);
  auto lease = epoch_of(text_of(got, "lease_expires_at"));
  // Beating for longer than one lease keeps it running.
  auto until = steady::now() + std::chrono::seconds{lease_seconds + 1};
  while (steady::now() < until) {
    auto beat =
      wa.post("/agents/executions/" + id + "/heartbeat",
              heartbeat_body(1, R"(,"progress":40,"message":"half")"));
    BOOST_TEST_REQUIRE(beat.status == 200, beat.body);
    auto doc = parse_json(beat.body);
    BOOST_TEST(keys(doc) ==
               (std::set<std::string>{"lease_expires_at", "status"}));
    BOOST_TEST(text_of(doc, "status") == "running");
    auto next = epoch_of(text_of(doc, "lease_expires_at"));
    BOOST_TEST(next >= lease);
    lease = next;
    std::this_thread::sleep_for(500ms); // a worker's beat interval
  }
  auto now = execution(a, id);
  BOOST_TEST(text_of(now, "status") == "running");
  BOOST_TEST(int_of(now, "progress") == 40);
  BOOST_TEST(query_int(db(), "SELECT count(*) FROM execution_logs WHERE "
                             "execution_id = '" +
                               id + "' AND message = 'half'") >= 2);
  // A wrong attempt, a missing one on PATCH, another worker: refused.
  expect_error(
    wa.post("/agents/executions/" + id + "/heartbeat", heartbeat_body(2)), 409,
    "conflict", "status: running, attempt: 1");
  expect_error(
    wa.patch("/agents/executions/" + id, R"({"status":"completed"})"), 400,
    "validation_error", "attempt");
  auto other = make_worker(a);
  expect_error(api{other.token}.post("/agents/executions/" + id + "/heartbeat",
                                     heartbeat_body(1)),
               409, "conflict", "another worker");
  // Stop beating: requeued with attempt 2; the old attempt is stale.
  BOOST_TEST_REQUIRE(eventually(
    [&] { return text_of(execution(a, id), "status") == "pending"; }, 10s));
  expect_error(
    wa.post("/agents/executions/" + id + "/heartbeat", heartbeat_body(1)), 409,
    "conflict", "status: pending, attempt: 2");
  auto again = claim(wa);
  BOOST_TEST(int_of(again, "attempt") == 2);
  expect_error(wa.patch("/agents/executions/" + id,
                        R"({"status":"completed","attempt":1})"),
               409, "conflict");
  auto done = wa.patch("/agents/executions/" + id,
                       R"({"status":"completed","attempt":2})");
  BOOST_TEST_REQUIRE(done.status == 200, done.body);
  BOOST_TEST(is_null(parse_json(done.body), "lease_expires_at"));
}

BOOST_AUTO_TEST_CASE(a_cancel_reaches_the_worker_through_its_next_heartbeat) {
  auto user = new_account();
  api a{user.token};
  auto w = make_worker(a);
  api wa{w.token};
  auto id = start_execution(a, create_repository(a, "wk/cancel"), 6);
  claim(wa);
  BOOST_TEST(
    wa.post("/agents/executions/" + id + "/heartbeat", heartbeat_body(1))
      .status == 200);
  move_to(a, id, "cancelled");
  expect_error(
    wa.post("/agents/executions/" + id + "/heartbeat", heartbeat_body(1)), 409,
    "conflict", "status: cancelled");
}

BOOST_AUTO_TEST_CASE(two_processes_sweeping_at_once_expire_each_lease_once) {
  // Leases of earlier cases end first, so the counters see only these.
  BOOST_TEST_REQUIRE(eventually(
    [] {
      return query_int(db(), "SELECT count(*) FROM agent_executions "
                             "WHERE status = 'running'") == 0;
    },
    15s));
  auto before = expiries(*shared().a) + expiries(*shared().b);
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wk/sweep");
  constexpr int count = 50;
  for (int i = 1; i <= count; ++i)
    start_execution(a, repo, i);
  api on_b{user.token, shared().b->base_url()};
  for (int i = 0; i < count; ++i) {
    auto resp = (i % 2 ? on_b : a).post("/agents/executions/claim", "{}");
    BOOST_TEST_REQUIRE(resp.status == 200);
  }
  BOOST_TEST_REQUIRE(eventually(
    [&] {
      return query_int(db(), "SELECT count(*) FROM agent_executions e JOIN "
                             "repositories r ON r.id = e.repository_id "
                             "WHERE r.id = '" +
                               repo + "' AND e.status = 'pending'") == count;
    },
    15s));
  BOOST_TEST(query_int(db(), "SELECT count(*) FROM agent_executions WHERE "
                             "repository_id = '" +
                               repo + "' AND attempt = 2") == count);
  double after = 0;
  BOOST_TEST(eventually(
    [&] {
      after = expiries(*shared().a) + expiries(*shared().b);
      return after - before >= double(count);
    },
    5s));
  BOOST_TEST(after - before == double(count));
  BOOST_TEST_MESSAGE("expiries by process A: "
                     << expiries(*shared().a)
                     << ", B: " << expiries(*shared().b) << " (cumulative)");
}

BOOST_AUTO_TEST_CASE(sixteen_concurrent_sweeps_expire_each_lease_once) {
  // The sweep itself, as 2 processes x 8 sweepers would run it: sixteen
  // connections call expire_leases at the same moment on 200 expired leases.
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wk/sixteen");
  constexpr int count = 200;
  exec_sql(db(), "INSERT INTO agent_executions (user_id, repository_id, "
                 "agent_type, issue_number, status, started_at, "
                 "lease_expires_at) SELECT r.user_id, r.id, 'codegen', g, "
                 "'running', now(), now() + interval '1 hour' FROM "
                 "repositories r, generate_series(1, " +
                   std::to_string(count) + ") g WHERE r.id = '" + repo + "'");
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int i = 0; i < 16; ++i) {
    conns.push_back(std::make_unique<pqxx::connection>(db()));
    miyabi::storage::prepare_all(*conns.back());
  }
  exec_sql(db(), "UPDATE agent_executions SET lease_expires_at = now() - "
                 "interval '1 second' WHERE repository_id = '" +
                   repo + "'");
  auto by_services = expiries(*shared().a) + expiries(*shared().b);
  std::atomic<long long> expired{0};
  std::atomic<long long> requeued{0};
  start_gate gate;
  std::vector<std::thread> threads;
  miyabi::storage::lease_policy policy;
  policy.lease_seconds = 60;
  policy.max_attempts = 3;
  for (auto& conn : conns)
    threads.emplace_back([&, c = conn.get()] {
      gate.wait();
      // Repeat until nothing is left, as the ticks of the sweepers would.
      for (;;) {
        pqxx::work tx{*c};
        auto swept = miyabi::storage::expire_leases(tx, policy, 100);
        tx.commit();
        if (!swept || swept->expired == 0)
          return;
        expired += swept->expired;
        requeued += swept->requeued;
      }
    });
  gate.open();
  for (auto& t : threads)
    t.join();
  // The services sweep too (their counters move right after their
  // commits); together every lease expired exactly once.
  double services = 0;
  BOOST_TEST(eventually(
    [&] {
      services = expiries(*shared().a) + expiries(*shared().b) - by_services;
      return double(expired.load()) + services >= double(count);
    },
    5s));
  BOOST_TEST_MESSAGE("sixteen sweepers expired "
                     << expired.load() << ", the two services " << services);
  BOOST_TEST(double(expired.load()) + services == double(count));
  BOOST_TEST(query_int(db(), "SELECT count(*) FROM agent_executions WHERE "
                             "repository_id = '" +
                               repo +
                               "' AND status = 'pending' AND attempt = 2") ==
             count);
  BOOST_TEST(query_int(db(), "SELECT count(*) FROM agent_executions WHERE "
                             "repository_id = '" +
                               repo + "' AND attempt <> 2") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// -- retry --------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(retry)

BOOST_AUTO_TEST_CASE(a_failed_or_cancelled_execution_is_retried_as_a_new_one) {
  auto user = new_account();
  api a{user.token};
  auto repo = create_repository(a, "wk/retry");
  auto resp =
    a.post("/agents/execute", execution_body(repo, 12, "review", R"({"k":1})"));
  BOOST_TEST_REQUIRE(resp.status == 202);
  auto id = text_of(parse_json(resp.body), "id");
  expect_error(a.post("/agents/executions/" + id + "/retry"), 409, "conflict",
               "pending");
  move_to(a, id, "running");
  expect_error(a.post("/agents/executions/" + id + "/retry"), 409, "conflict",
               "running");
  move_to(a, id, "failed", R"(,"error_message":"boom")");
  auto retried = a.post("/agents/executions/" + id + "/retry");
  BOOST_TEST_REQUIRE(retried.status == 201, retried.body);
  auto doc = parse_json(retried.body);
  BOOST_TEST(text_of(doc, "retry_of") == id);
  BOOST_TEST(text_of(doc, "id") != id);
  BOOST_TEST(text_of(doc, "status") == "pending");
  BOOST_TEST(text_of(doc, "repository_id") == repo);
  BOOST_TEST(int_of(doc, "issue_number") == 12);
  BOOST_TEST(text_of(doc, "agent_type") == "review");
  BOOST_TEST(compact(doc["options"]) == R"({"k":1})");
  BOOST_TEST(int_of(doc, "attempt") == 1);
  BOOST_TEST(is_null(doc, "error_message"));
  auto cancelled = start_execution(a, repo, 13);
  move_to(a, cancelled, "cancelled");
  BOOST_TEST(a.post("/agents/executions/" + cancelled + "/retry").status ==
             201);
  expect_error(a.post("/agents/executions/" + unknown_id + "/retry"), 404,
               "not_found");
  auto other = new_account();
  expect_error(api{other.token}.post("/agents/executions/" + id + "/retry"),
               404, "not_found");
}

BOOST_AUTO_TEST_SUITE_END()
