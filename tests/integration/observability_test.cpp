// What operators see: JSON log lines with Cloud Logging trace correlation,
// a /metrics exposition that promtool accepts after traffic on every route,
// and the periodic purge of expired rows.
#define BOOST_TEST_MODULE observability_test
#include <csignal>
#include <cstdio>
#include <fstream>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "http/routes.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(logs)

BOOST_AUTO_TEST_CASE(request_logs_carry_the_cloud_trace_and_request_id) {
  auto env = base_env();
  env["GOOGLE_CLOUD_PROJECT"] = "miyabi-prod";
  env["LOG_LEVEL"] = "debug";
  service_process svc{env};
  http_client client;
  client.get(
    svc.base_url() + "/api/v1/health",
    {{"X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1"},
     {"X-Request-Id", "trace-check-1"}});
  client.get(svc.base_url() + "/api/v1/health",
             {{"X-Request-Id", "untraced-2"}});
  BOOST_TEST(svc.wait_for_line(
    [](const std::string& l) {
      return l.find("\"request_id\":\"trace-check-1\"") != std::string::npos &&
             l.find("\"logging.googleapis.com/trace\":\"projects/"
                    "miyabi-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736\"") !=
               std::string::npos;
    },
    5s));
  BOOST_TEST(svc.wait_for_line(
    [](const std::string& l) {
      return l.find("\"request_id\":\"untraced-2\"") != std::string::npos &&
             l.find("logging.googleapis.com/trace") == std::string::npos;
    },
    5s));
}

BOOST_AUTO_TEST_CASE(
  every_output_line_is_one_json_object_with_the_core_fields) {
  auto env = base_env();
  env["LOG_LEVEL"] = "debug";
  {
    service_process svc{env};
    http_client client;
    client.get(svc.base_url() + "/api/v1/health");
    client.get(svc.base_url() + "/nowhere");
    client.request("DELETE", svc.base_url() + "/api/v1/health");
    svc.signal(SIGTERM);
    BOOST_REQUIRE(svc.wait_exit(5s).value_or(-1) == 0);
    auto lines = svc.lines();
    BOOST_REQUIRE(lines.size() >= 5u);
    for (const auto& line : lines) {
      rapidjson::Document doc;
      doc.Parse(line.c_str());
      BOOST_TEST_INFO(line);
      BOOST_TEST(!doc.HasParseError());
      BOOST_TEST(doc.IsObject());
      if (!doc.IsObject())
        continue;
      BOOST_TEST(doc.HasMember("time"));
      BOOST_TEST(doc.HasMember("message"));
      BOOST_TEST(doc.HasMember("severity"));
      std::string severity = doc["severity"].GetString();
      BOOST_TEST((severity == "DEBUG" || severity == "INFO" ||
                  severity == "WARNING" || severity == "ERROR"));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(
  the_exposition_after_traffic_on_every_route_passes_promtool) {
  auto env = base_env();
  env["DATABASE_URL"] = create_database();
  env["AUTHORIZED_CHAT_IDS"] = "77";
  // Configured, so the login routes answer (no call reaches GitHub: the
  // callback below lacks code and state).
  env["GITHUB_CLIENT_ID"] = "client";
  env["GITHUB_CLIENT_SECRET"] = "secret";
  env["GITHUB_WEBHOOK_SECRET"] = "hook-secret"; // the optional route exists
  service_process svc{env};
  auto token = mock_login(svc, 501).access;
  http_client client;
  const auto& table = miyabi::http::route_table::instance();
  const char* fake_id = "6b0f7c5e-0d8e-4c71-9d2a-3d3f1c9b2a10";
  size_t requests = 0;
  for (const auto& route : table.routes()) {
    auto path = route.pattern;
    if (auto at = path.find("{id}"); at != std::string::npos)
      path.replace(at, 4, fake_id);
    for (size_t m = 0; m < miyabi::http::method_count; ++m) {
      if (!route.methods[m])
        continue;
      auto method = std::string{
        miyabi::http::to_string(static_cast<miyabi::http::method>(m))};
      std::string body = method == "GET" || method == "DELETE" ? "" : "{}";
      if (route.pattern == "/api/v1/telegram/webhook")
        body = R"({"update_id":1,"message":{"message_id":1,"date":1,)"
               R"("chat":{"id":77},"text":"/help"}})";
      header_pairs headers = bearer(token);
      if (!body.empty())
        headers.emplace_back("Content-Type", "application/json");
      auto resp = client.request(method, svc.base_url() + path, body, headers);
      BOOST_TEST_INFO(method << " " << path << " -> " << resp.status);
      BOOST_TEST(resp.status > 0);
      BOOST_TEST(resp.status < 500);
      ++requests;
    }
  }
  BOOST_TEST(requests >= 30u);
  auto scrape = client.get(svc.base_url() + "/metrics").body;
  for (const auto& route : table.routes()) {
    BOOST_TEST_INFO(route.pattern);
    BOOST_TEST(scrape.find("route=\"" + route.pattern + "\"") !=
               std::string::npos);
  }
  auto path = "/tmp/miyabi-all-routes-" + std::to_string(::getpid()) + ".txt";
  std::ofstream{path} << scrape;
  auto rc = std::system(("promtool check metrics < " + path).c_str());
  std::remove(path.c_str());
  BOOST_TEST(rc == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(housekeeping)

BOOST_AUTO_TEST_CASE(expired_rows_are_purged_periodically) {
  auto url = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = url;
  env["DB_PURGE_INTERVAL_MS"] = "1000";
  service_process svc{env};
  exec_sql(url, "INSERT INTO revoked_tokens (jti, expires_at) VALUES"
                " ('gone', now() - interval '1 hour'),"
                " ('kept', now() + interval '1 hour')");
  exec_sql(url, "INSERT INTO oauth_states (state_hash, binding_hash,"
                " code_verifier, redirect_path, expires_at) VALUES"
                " ('s', 'b', 'v', '/', now() - interval '1 minute')");
  exec_sql(url, "INSERT INTO telegram_updates (update_id, received_at) VALUES"
                " (1, now() - interval '8 days'), (2, now())");
  BOOST_TEST(eventually(
    [&] {
      return query_int(url, "SELECT count(*) FROM revoked_tokens") == 1 &&
             query_int(url, "SELECT count(*) FROM oauth_states") == 0 &&
             query_int(url, "SELECT count(*) FROM telegram_updates") == 1;
    },
    15s));
  BOOST_TEST(query_text(url, "SELECT jti FROM revoked_tokens") == "kept");
  BOOST_TEST(query_int(url, "SELECT update_id FROM telegram_updates") == 2);
}

BOOST_AUTO_TEST_SUITE_END()
