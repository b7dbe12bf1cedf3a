// The database layer of the real binary: migrations (fresh, repeated,
// concurrent, tampered), sessions replaced after pg_terminate_backend,
// PostgreSQL stopped and restarted under load, the bounded queue, the
// statement timeout, and SIGTERM while requests wait on the database.
#define BOOST_TEST_MODULE storage_test
#include <atomic>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "base/errors.hpp"
#include "storage/session.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/threads.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// The migrations of the source tree (storage/migrations/*.sql).
long long migration_files() {
  long long n = 0;
  for (const auto& entry : std::filesystem::directory_iterator{
         source_dir() + "/storage/migrations"})
    n += entry.path().extension() == ".sql" ? 1 : 0;
  return n;
}

env_map db_env(const std::string& url) {
  auto env = base_env();
  env["DATABASE_URL"] = url;
  return env;
}

bool saw_line(const service_process& svc, const std::string& needle) {
  for (const auto& line : svc.lines())
    if (line.find(needle) != std::string::npos)
      return true;
  return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(migrations)

BOOST_AUTO_TEST_CASE(migrations_apply_on_an_empty_database_then_are_a_no_op) {
  auto url = create_database();
  {
    service_process first{db_env(url)};
    BOOST_TEST(saw_line(first, "\"migration applied\""));
    BOOST_TEST(health_status(first) == 200);
  }
  BOOST_TEST(query_int(url, "SELECT count(*) FROM schema_migrations") ==
             migration_files());
  BOOST_TEST(query_int(url, "SELECT count(*) FROM pg_tables WHERE tablename IN "
                            "('users','repositories','agent_executions',"
                            "'execution_logs','workflows','telegram_updates',"
                            "'telegram_chats','telegram_outbox',"
                            "'idempotency_keys','refresh_tokens',"
                            "'revoked_tokens')") == 11);
  service_process second{db_env(url)};
  BOOST_TEST(!saw_line(second, "\"migration applied\""));
  BOOST_TEST(query_int(url, "SELECT count(*) FROM schema_migrations") ==
             migration_files());
}

BOOST_AUTO_TEST_CASE(two_processes_starting_at_once_share_one_schema) {
  auto url = create_database();
  service_process a{db_env(url), false};
  service_process b{db_env(url), false};
  auto listening = [](const std::string& l) {
    return l.find("\"listening\"") != std::string::npos;
  };
  BOOST_REQUIRE(a.wait_for_line(listening, 30s));
  BOOST_REQUIRE(b.wait_for_line(listening, 30s));
  BOOST_TEST(query_int(url, "SELECT count(*) FROM schema_migrations") ==
             migration_files());
  int applied = (saw_line(a, "\"migration applied\"") ? 1 : 0) +
                (saw_line(b, "\"migration applied\"") ? 1 : 0);
  BOOST_TEST(applied == 1);
}

BOOST_AUTO_TEST_CASE(a_changed_migration_checksum_stops_the_start) {
  auto url = create_database();
  { service_process first{db_env(url)}; }
  exec_sql(url, "UPDATE schema_migrations SET checksum = 'tampered'");
  service_process second{db_env(url), false};
  auto rc = second.wait_exit(15s);
  BOOST_REQUIRE(rc.has_value());
  BOOST_TEST(*rc != 0);
  BOOST_TEST(saw_line(second, "0001_schema"));
  BOOST_TEST(saw_line(second, "changed after it was applied"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sessions)

BOOST_AUTO_TEST_CASE(a_killed_session_is_replaced_and_the_next_request_works) {
  auto url = create_database();
  auto env = db_env(url);
  env["DB_POOL_SIZE"] = "2";
  service_process svc{env};
  auto token = mock_login(svc, 7).access;
  http_client client;
  BOOST_REQUIRE(
    client.get(svc.base_url() + "/api/v1/repositories", bearer(token)).status ==
    200);
  auto db = url.substr(url.rfind('/') + 1);
  auto killed = query_int(
    url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
         " WHERE application_name = 'miyabi-api' AND datname = '" +
           db + "'");
  BOOST_TEST(killed >= 1);
  for (int i = 0; i < 4; ++i) {
    auto resp =
      client.get(svc.base_url() + "/api/v1/repositories", bearer(token));
    BOOST_TEST_INFO("request " << i << ": " << resp.body);
    BOOST_TEST(resp.status == 200);
  }
  BOOST_TEST(metric(svc, "miyabi_db_errors_total{kind=\"connection_lost\"}") >=
             1);
  BOOST_TEST(health_status(svc) == 200);
}

BOOST_AUTO_TEST_CASE(a_full_queue_answers_503_at_once) {
  auto url = create_database();
  auto env = db_env(url);
  env["DB_POOL_SIZE"] = "1";
  env["DB_QUEUE_LIMIT"] = "1";
  service_process svc{env};
  // The start-up burst of the service's own jobs (revocations, outbox) may
  // still hold the only session.
  BOOST_REQUIRE(eventually(
    [&] { return metric(svc, "miyabi_db_sessions{state=\"idle\"}") == 1; },
    5s));
  auto token = mock_login(svc, 8).access;
  // The third request reads another user's list: the same user's would
  // join the waiting read instead of queueing (identical reads share one
  // query).
  auto other = mock_login(svc, 7).access;
  auto base = svc.base_url();
  // Hold a lock that the list query waits for, so the only session stays
  // busy and the next request fills the queue.
  pqxx::connection blocker{url};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE");
  std::atomic<long> first{0};
  std::atomic<long> second{0};
  thread_group clients;
  clients.spawn([&] {
    http_client c;
    first = c.get(base + "/api/v1/repositories", bearer(token)).status;
  });
  BOOST_REQUIRE(time_until(
    [&] { return metric(svc, "miyabi_db_sessions{state=\"busy\"}") >= 1; },
    5s));
  clients.spawn([&] {
    http_client c;
    second = c.get(base + "/api/v1/repositories", bearer(token)).status;
  });
  // Queued: the second request is in flight (with this scrape and the
  // first) and the queue holds a job (a background job may be there too; it
  // does not count against the limit).
  BOOST_REQUIRE(time_until(
    [&] {
      return metric(svc, "http_requests_in_flight") >= 3 &&
             metric(svc, "miyabi_db_queue_depth") >= 1;
    },
    5s));
  http_client client;
  auto started = clock_type::now();
  auto third = client.get(base + "/api/v1/repositories", bearer(other));
  auto took = clock_type::now() - started;
  BOOST_TEST(third.status == 503);
  BOOST_TEST(!third.header("Retry-After").empty());
  BOOST_TEST((took < 500ms));
  lock.abort();
  clients.wait();
  BOOST_TEST(first == 200);
  BOOST_TEST(second == 200);
}

BOOST_AUTO_TEST_CASE(a_statement_past_the_deadline_is_cancelled_with_504) {
  auto url = create_database();
  auto env = db_env(url);
  env["REQUEST_TIMEOUT_MS"] = "1500";
  service_process svc{env};
  auto token = mock_login(svc, 9).access;
  pqxx::connection blocker{url};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE");
  http_client client;
  auto started = clock_type::now();
  auto resp =
    client.get(svc.base_url() + "/api/v1/repositories", bearer(token));
  auto took = clock_type::now() - started;
  BOOST_TEST(resp.status == 504);
  BOOST_TEST((took < 2500ms));
  // The statement was cancelled: nothing of ours still waits for the lock
  // (pg_stat_activity catches up within moments).
  BOOST_TEST(time_until(
               [&] {
                 return query_int(url, "SELECT count(*) FROM pg_stat_activity"
                                       " WHERE application_name = 'miyabi-api'"
                                       " AND wait_event_type = 'Lock'") == 0;
               },
               2s)
               .has_value());
  lock.abort();
  BOOST_TEST(
    client.get(svc.base_url() + "/api/v1/repositories", bearer(token)).status ==
    200);
}

BOOST_AUTO_TEST_CASE(text_the_database_cannot_store_is_a_validation_error) {
  miyabi::storage::session_config cfg;
  cfg.url = create_database();
  miyabi::storage::session db{cfg};
  // 22021: bytes that are not UTF-8; 22P05: U+0000 taken out of jsonb.
  for (const char* sql : {"SELECT convert_from('\\xedb080'::bytea, 'UTF8')",
                          "SELECT '{\"a\":\"\\u0000\"}'::jsonb ->> 'a'"}) {
    auto result = db.run(
      [sql](pqxx::transaction_base& tx) -> caf::expected<std::any> {
        tx.exec(sql);
        return std::any{};
      },
      miyabi::storage::access::read);
    BOOST_TEST_INFO(sql);
    BOOST_REQUIRE(!result);
    BOOST_TEST((miyabi::describe(result.error()).code ==
                miyabi::errc::validation_error));
  }
  // The session stays usable.
  auto after = db.run(
    [](pqxx::transaction_base& tx) -> caf::expected<std::any> {
      return std::any{tx.exec1("SELECT 1")[0].as<int>()};
    },
    miyabi::storage::access::read);
  BOOST_REQUIRE(static_cast<bool>(after));
  BOOST_TEST(std::any_cast<int>(*after) == 1);
}

BOOST_AUTO_TEST_CASE(a_request_queued_past_its_deadline_gets_504_in_time) {
  auto url = create_database();
  auto env = db_env(url);
  env["DB_POOL_SIZE"] = "1";
  env["REQUEST_TIMEOUT_MS"] = "1500";
  service_process svc{env};
  auto token = mock_login(svc, 10).access;
  auto base = svc.base_url();
  // The only session waits for the lock, so the second request waits in the
  // queue: its deadline has to end it there.
  pqxx::connection blocker{url};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE");
  thread_group clients;
  std::atomic<long> first{0};
  clients.spawn([&] {
    http_client c;
    first = c.get(base + "/api/v1/repositories", bearer(token)).status;
  });
  BOOST_REQUIRE(eventually(
    [&] { return metric(svc, "miyabi_db_sessions{state=\"busy\"}") >= 1; },
    5s));
  http_client client;
  auto started = clock_type::now();
  auto queued = client.get(base + "/api/v1/repositories", bearer(token));
  auto took = clock_type::now() - started;
  BOOST_TEST(queued.status == 504);
  BOOST_TEST((took >= 1000ms), "answered before the deadline");
  BOOST_TEST((took < 2000ms), "answered long after the deadline");
  BOOST_TEST(
    eventually([&] { return metric(svc, "miyabi_db_queue_depth") == 0; }, 2s));
  lock.abort();
  clients.wait();
  BOOST_TEST(first == 504);
  BOOST_TEST(client.get(base + "/api/v1/repositories", bearer(token)).status ==
             200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(outages)

BOOST_AUTO_TEST_CASE(postgres_stopped_under_load_gives_503_then_recovers) {
  raise_fd_limit();
  private_postgres pg;
  auto url = pg.url();
  service_process svc{db_env(url)};
  auto token = mock_login(svc, 11).access;
  auto base = svc.base_url();
  // Background load: authenticated reads on keep-alive connections.
  std::atomic<size_t> transport_errors{0};
  std::atomic<size_t> answered{0};
  std::atomic<size_t> server_errors{0};
  thread_group load;
  for (int i = 0; i < 8; ++i)
    load.spawn([&] {
      http_client c{3s};
      while (!load.stopping()) {
        auto r = c.get(base + "/api/v1/repositories", bearer(token));
        if (r.status == 0)
          ++transport_errors;
        else if (r.status != 200 && r.status != 503) {
          ++server_errors;
          BOOST_TEST_MESSAGE("unexpected " << r.status << " " << r.body);
        }
        ++answered;
      }
    });
  BOOST_REQUIRE(time_until([&] { return answered > 50; }, 10s));
  pg.stop("fast");
  auto to_degraded = time_until([&] { return health_status(svc) == 503; }, 5s);
  auto to_route_503 = time_until(
    [&] {
      http_client c{2s};
      return c.get(base + "/api/v1/repositories", bearer(token)).status == 503;
    },
    5s);
  BOOST_REQUIRE(to_degraded.has_value());
  BOOST_REQUIRE(to_route_503.has_value());
  BOOST_TEST_MESSAGE("health 503 after " << to_degraded->count()
                                         << " ms, database routes 503 after "
                                         << to_route_503->count() << " ms");
  BOOST_TEST(to_degraded->count() <= 1000);
  BOOST_TEST(to_route_503->count() <= 1000);
  {
    // While down: answers come fast, never hang.
    http_client c{3s};
    auto started = clock_type::now();
    auto r = c.get(base + "/api/v1/repositories", bearer(token));
    BOOST_TEST(r.status == 503);
    BOOST_TEST((clock_type::now() - started < 1s));
    BOOST_TEST(c.get(base + "/api/v1/health/live").status == 200);
  }
  pg.start();
  auto to_healthy = time_until([&] { return health_status(svc) == 200; }, 10s);
  BOOST_REQUIRE(to_healthy.has_value());
  BOOST_TEST_MESSAGE("healthy again " << to_healthy->count()
                                      << " ms after PostgreSQL accepted "
                                         "connections");
  BOOST_TEST(to_healthy->count() <= 2000);
  long last_status = 0;
  std::string last_body;
  auto to_route_ok = time_until(
    [&] {
      http_client c{2s};
      auto r = c.get(base + "/api/v1/repositories", bearer(token));
      last_status = r.status;
      last_body = r.body;
      return r.status == 200;
    },
    5s);
  BOOST_REQUIRE_MESSAGE(to_route_ok.has_value(),
                        "last answer " << last_status << " " << last_body);
  load.join();
  BOOST_TEST(transport_errors == 0u);
  BOOST_TEST(server_errors == 0u);
  // The process survived, and sessions that lost the server were restarted.
  BOOST_TEST(alive(svc));
  BOOST_TEST(metric(svc, "miyabi_actor_restarts_total{actor=\"db_session\"}") >=
             1);
}

BOOST_AUTO_TEST_CASE(an_outage_is_logged_once_not_on_every_health_tick) {
  private_postgres pg;
  auto env = db_env(pg.url());
  env["DB_HEALTH_INTERVAL_MS"] = "100"; // the fastest tick: 10 a second
  env["DB_POOL_SIZE"] = "1";
  service_process svc{env};
  BOOST_REQUIRE(health_status(svc) == 200);
  auto count = [&svc](size_t from, const std::string& a, const std::string& b) {
    auto lines = svc.lines();
    size_t n = 0;
    for (size_t i = from; i < lines.size(); ++i)
      if (lines[i].find(a) != std::string::npos &&
          lines[i].find(b) != std::string::npos)
        ++n;
    return n;
  };
  auto before = svc.lines().size();
  pg.stop("fast");
  BOOST_REQUIRE(
    time_until([&] { return health_status(svc) == 503; }, 5s).has_value());
  // Nothing to await here: the test watches what the service logs over 20
  // health ticks of a lasting outage (it used to log a warning per tick).
  std::this_thread::sleep_for(2s);
  BOOST_TEST(health_status(svc) == 503);
  auto warnings = count(before, "\"severity\":\"WARNING\"", "");
  auto errors = count(before, "\"severity\":\"ERROR\"", "");
  BOOST_TEST_MESSAGE(warnings << " warnings, " << errors
                              << " errors during the outage");
  // Each component says it once (the monitor's and the one session's
  // connection, the state change, the event hub, the lease sweeper): a
  // bound that does not grow with the outage (20 ticks used to give 20
  // warnings of one kind).
  std::map<std::string, size_t> by_message;
  auto lines = svc.lines();
  for (size_t i = before; i < lines.size(); ++i)
    if (lines[i].find("\"severity\":\"WARNING\"") != std::string::npos)
      ++by_message[text_of(parse_object(lines[i]), "message")];
  bool repeated = false;
  for (const auto& [message, n] : by_message) {
    // Two connections (the monitor's, the session's) may each see the
    // server go and each fail to reconnect once.
    bool per_connection = message == "database connection lost" ||
                          message == "database connection failed";
    BOOST_TEST(n <= (per_connection ? 2u : 1u),
               message << " logged " << n << " times");
    repeated = repeated || n > 2;
  }
  BOOST_TEST(warnings <= 8u);
  BOOST_TEST(errors == 0u);
  if (repeated || warnings > 8u || errors > 0u)
    for (const auto& line : svc.lines())
      BOOST_TEST_MESSAGE(line);
  BOOST_TEST(count(before, "WARNING", "database unreachable") == 1u);
  auto outage_end = svc.lines().size();
  pg.start();
  BOOST_REQUIRE(
    time_until([&] { return health_status(svc) == 200; }, 10s).has_value());
  BOOST_TEST(count(outage_end, "\"INFO\"", "\"database connected\"") == 1u);
  BOOST_TEST(count(before, "", "database unreachable") == 1u);
}

BOOST_AUTO_TEST_CASE(a_start_without_a_reachable_database_serves_degraded) {
  private_postgres pg;
  auto url = pg.url();
  pg.stop("fast");
  service_process svc{db_env(url)};
  BOOST_TEST(health_status(svc) == 503);
  http_client client;
  BOOST_TEST(client.get(svc.base_url() + "/api/v1/health/live").status == 200);
  BOOST_TEST(client
               .post_json(svc.base_url() + "/api/v1/auth/mock",
                          R"({"github_id":1,"email":"a@b.c"})")
               .status == 503);
  pg.start();
  BOOST_REQUIRE(
    time_until([&] { return health_status(svc) == 200; }, 10s).has_value());
  BOOST_TEST(query_int(url, "SELECT count(*) FROM schema_migrations") ==
             migration_files());
  BOOST_TEST(mock_login(svc, 3).access.size() > 20u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shutdown)

BOOST_AUTO_TEST_CASE(sigterm_answers_requests_waiting_on_the_database) {
  auto url = create_database();
  service_process svc{db_env(url)};
  auto token = mock_login(svc, 12).access;
  auto base = svc.base_url();
  pqxx::connection blocker{url};
  pqxx::work lock{blocker};
  lock.exec("LOCK TABLE repositories IN ACCESS EXCLUSIVE MODE");
  std::mutex mtx;
  std::vector<std::string> answers;
  thread_group clients;
  for (int i = 0; i < 6; ++i)
    clients.spawn([&] {
      http_client c{10s};
      auto resp = c.get(base + "/api/v1/repositories", bearer(token));
      std::lock_guard<std::mutex> guard{mtx};
      answers.push_back(std::to_string(resp.status) + " " + resp.body);
    });
  // The scrape counts itself: 6 clients in flight read as 7. Waiting for 6
  // let one client arrive after SIGTERM and be refused (a CI failure).
  BOOST_REQUIRE(time_until(
    [&] { return metric(svc, "http_requests_in_flight") >= 7; }, 5s));
  svc.signal(SIGTERM);
  BOOST_REQUIRE(svc.wait_for_line(
    [](const std::string& l) {
      return l.find("shutdown started") != std::string::npos;
    },
    5s));
  // New requests are refused politely while the slow ones finish.
  http_client late;
  BOOST_TEST(late.get(base + "/api/v1/health").status == 503);
  lock.abort();
  clients.wait();
  BOOST_TEST(answers.size() == 6u);
  for (const auto& answer : answers)
    BOOST_TEST(answer.rfind("200 ", 0) == 0, answer);
  BOOST_TEST(svc.wait_exit(6s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
