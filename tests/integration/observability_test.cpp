// What operators see: JSON log lines with Cloud Logging trace correlation,
// a /metrics exposition that promtool accepts after traffic on every route,
// and the periodic purge of expired rows.
#define BOOST_TEST_MODULE observability_test
#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "fakes/fake_http.hpp"
#include "http/routes.hpp"
#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(logs)

/// The log line of the request with this X-Request-Id (debug request log).
rapidjson::Document request_line(const service_process& svc,
                                 const std::string& request_id) {
  rapidjson::Document doc;
  std::string found;
  svc.wait_for_line(
    [&](const std::string& l) {
      if (l.find("\"message\":\"request\"") == std::string::npos ||
          l.find("\"request_id\":\"" + request_id + "\"") == std::string::npos)
        return false;
      found = l;
      return true;
    },
    5s);
  doc.Parse(found.c_str());
  return doc;
}

bool lower_hex(const std::string& s, size_t n) {
  return s.size() == n &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

const char* const trace_key = "logging.googleapis.com/trace";
const char* const span_key = "logging.googleapis.com/spanId";
const char* const sampled_key = "logging.googleapis.com/trace_sampled";

bool sampled(const rapidjson::Value& doc) {
  return doc.IsObject() && doc.HasMember(sampled_key) &&
         doc[sampled_key].IsBool() && doc[sampled_key].GetBool();
}

BOOST_AUTO_TEST_CASE(
  request_logs_carry_the_trace_of_traceparent_the_cloud_header_or_a_new_one) {
  auto env = base_env();
  env["GOOGLE_CLOUD_PROJECT"] = "miyabi-prod";
  env["LOG_LEVEL"] = "debug";
  service_process svc{env};
  http_client client;
  const std::string prefix = "projects/miyabi-prod/traces/";
  auto get = [&](const std::string& id, header_pairs headers) {
    headers.emplace_back("X-Request-Id", id);
    client.get(svc.base_url() + "/api/v1/health", headers);
    return request_line(svc, id);
  };

  // W3C traceparent: its trace, a span of our own, its sampled flag.
  auto w3c =
    get("tp-1",
        {{"traceparent", "00-0af7651916cd43dd8448eb211c80319c-"
                         "b7ad6b7169203331-01"},
         {"X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/1;o=0"}});
  BOOST_TEST(text_of(w3c, trace_key) ==
             prefix + "0af7651916cd43dd8448eb211c80319c");
  BOOST_TEST(lower_hex(text_of(w3c, span_key), 16));
  BOOST_TEST(text_of(w3c, span_key) != "b7ad6b7169203331");
  BOOST_TEST(sampled(w3c));
  // Cloud Run's header alone (and behind a malformed traceparent).
  auto cloud =
    get("ct-2",
        {{"traceparent", "00-nothex-01"},
         {"X-Cloud-Trace-Context", "4BF92F3577B34DA6A3CE929D0E0E4736/1;o=1"}});
  BOOST_TEST(text_of(cloud, trace_key) ==
             prefix + "4bf92f3577b34da6a3ce929d0e0e4736");
  BOOST_TEST(sampled(cloud));
  // An all-zero trace id is invalid: a new trace instead.
  auto zero = get("zero-3", {{"traceparent", "00-" + std::string(32, '0') +
                                               "-b7ad6b7169203331-01"}});
  // No context: a new trace, not sampled; two requests, two traces.
  auto fresh = get("new-4", {});
  auto other = get("new-5", {});
  for (const auto* doc : {&zero, &fresh, &other}) {
    auto trace = text_of(*doc, trace_key);
    BOOST_TEST(trace.rfind(prefix, 0) == 0u, trace);
    BOOST_TEST(lower_hex(trace.substr(prefix.size()), 32), trace);
    BOOST_TEST(!sampled(*doc));
  }
  BOOST_TEST(text_of(fresh, trace_key) != text_of(other, trace_key));
  BOOST_TEST(text_of(zero, trace_key) != prefix + std::string(32, '0'));

  // Without GOOGLE_CLOUD_PROJECT there is nothing to correlate with.
  auto plain_env = base_env();
  plain_env["LOG_LEVEL"] = "debug";
  service_process plain{plain_env};
  client.get(plain.base_url() + "/api/v1/health",
             {{"X-Request-Id", "untraced-6"},
              {"traceparent",
               "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  auto line = request_line(plain, "untraced-6");
  BOOST_REQUIRE(line.IsObject());
  BOOST_TEST(!line.HasMember(trace_key));
  BOOST_TEST(!line.HasMember(span_key));
}

BOOST_AUTO_TEST_CASE(
  the_access_log_writes_one_http_request_object_per_request) {
  auto env = base_env();
  env["ACCESS_LOG"] = "true";
  env["LOG_LEVEL"] = "info";
  service_process svc{env};
  http_client client;
  client.get(svc.base_url() + "/api/v1/health?code=do-not-log-me",
             {{"X-Request-Id", "access-1"}, {"User-Agent", "smoke/1.0"}});
  auto line = request_line(svc, "access-1");
  BOOST_REQUIRE(line.IsObject());
  BOOST_TEST(text_of(line, "severity") == "INFO");
  BOOST_REQUIRE(line.HasMember("httpRequest"));
  const auto& r = line["httpRequest"];
  BOOST_TEST(text_of(r, "requestMethod") == "GET");
  BOOST_TEST(text_of(r, "requestUrl") == "/api/v1/health");
  BOOST_TEST((r.HasMember("status") && r["status"].GetInt() == 200));
  BOOST_TEST(std::stoll(text_of(r, "responseSize")) > 0);
  BOOST_TEST(text_of(r, "userAgent") == "smoke/1.0");
  BOOST_TEST(text_of(r, "remoteIp") == "127.0.0.1");
  auto latency = text_of(r, "latency");
  BOOST_TEST((!latency.empty() && latency.back() == 's'), latency);
  for (const auto& l : svc.lines())
    BOOST_TEST(l.find("do-not-log-me") == std::string::npos);

  // Off by default: no request lines at info.
  auto quiet_env = base_env();
  quiet_env["LOG_LEVEL"] = "info";
  service_process quiet{quiet_env};
  client.get(quiet.base_url() + "/api/v1/health", {{"X-Request-Id", "q-2"}});
  client.get(quiet.base_url() + "/api/v1/health/live");
  quiet.signal(SIGTERM);
  BOOST_REQUIRE(quiet.wait_exit(5s).value_or(-1) == 0);
  for (const auto& l : quiet.lines())
    BOOST_TEST(l.find("\"httpRequest\"") == std::string::npos, l);
}

BOOST_AUTO_TEST_CASE(the_version_is_the_build_stamp_everywhere) {
  auto env = base_env();
  env["K_REVISION"] = "miyabi-api-00042-xyz";
  service_process svc{env};
  http_client client;
  auto health =
    parse_object(client.get(svc.base_url() + "/api/v1/health").body);
  auto version = text_of(health, "version");
  BOOST_TEST_MESSAGE("version: " << version);
  // x.y.z, then what git describe adds (+g<commit>, -N-g<commit>, -dirty).
  BOOST_TEST(
    std::regex_match(version,
                     std::regex{R"([0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.+_-]*)"}),
    version);
  auto exposition = client.get(svc.base_url() + "/metrics").body;
  BOOST_TEST(exposition.find("miyabi_build_info{version=\"" + version +
                             "\"} 1") != std::string::npos);
  BOOST_TEST(svc.wait_for_line(
    [&](const std::string& l) {
      return l.find("\"message\":\"listening\"") != std::string::npos &&
             l.find("\"version\":\"" + version + "\"") != std::string::npos &&
             l.find("\"revision\":\"miyabi-api-00042-xyz\"") !=
               std::string::npos;
    },
    5s));
  std::string printed;
  if (auto* pipe = ::popen((service_binary() + " --version").c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, pipe) != nullptr)
      printed += buf;
    BOOST_TEST(::pclose(pipe) == 0);
  }
  BOOST_TEST(printed == "miyabi-api " + version + "\n");
}

BOOST_AUTO_TEST_CASE(the_trace_is_passed_on_to_github_and_the_llm) {
  fake_http_server github{[](const fake_request&) {
    return fake_response::json(
      201, R"({"number":7,"html_url":"https://github.com/o/r/issues/7"})");
  }};
  fake_http_server llm{[](const fake_request&) {
    return fake_response::json(
      200, R"({"choices":[{"message":{"content":"{\"title\":\"T\",)"
           R"(\"body\":\"B\",\"labels\":[],\"agent\":\"codegen\"}"}}]})");
  }};
  auto env = base_env();
  env["AUTHORIZED_CHAT_IDS"] = "77";
  env["GITHUB_API_URL"] = github.url();
  env["GITHUB_TOKEN"] = "ghp_trace_test_token";
  env["GITHUB_OWNER"] = "o";
  env["GITHUB_REPO"] = "r";
  env["OPENAI_API_KEY"] = "sk-trace-test";
  env["OPENAI_BASE_URL"] = llm.url() + "/v1";
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  auto update = [](int id, const std::string& text) {
    return R"({"update_id":)" + std::to_string(id) +
           R"(,"message":{"message_id":1,"date":1,"chat":{"id":77},)"
           R"("text":")" +
           text + R"("}})";
  };
  auto passed_on = [&](const fake_request& r) {
    auto tp = r.header("traceparent");
    BOOST_TEST_INFO(r.path() << " traceparent " << tp);
    BOOST_TEST(tp.size() == 55u);
    BOOST_TEST(tp.substr(0, 36) == "00-" + trace + "-");
    BOOST_TEST(tp.substr(36, 16) != "b7ad6b7169203331"); // our span, not theirs
    BOOST_TEST(tp.substr(52) == "-01");
  };
  header_pairs headers = {
    {"Content-Type", "application/json"},
    {"traceparent", "00-" + trace + "-b7ad6b7169203331-01"}};
  http_client client;
  {
    // Telegram-only mode: the issue is created while the webhook waits.
    service_process solo{env};
    auto url = solo.base_url() + "/api/v1/telegram/webhook";
    BOOST_TEST(
      client.request("POST", url, update(1, "/issue Traced"), headers).status ==
      200);
    BOOST_TEST(
      client.request("POST", url, update(2, "draft one"), headers).status ==
      200);
    BOOST_REQUIRE(github.wait_for_requests("/repos/o/r/issues", 2, 10s));
    BOOST_REQUIRE(llm.wait_for_requests("/v1/chat/completions", 1, 10s));
    for (const auto& r : github.requests())
      passed_on(r);
    passed_on(llm.requests().at(0));
  }
  // Full mode: the issue task waits in the outbox and keeps the trace.
  github.clear();
  env["DATABASE_URL"] = create_database();
  service_process full{env};
  BOOST_TEST(client
               .request("POST", full.base_url() + "/api/v1/telegram/webhook",
                        update(3, "/issue Traced later"), headers)
               .status == 200);
  BOOST_REQUIRE(github.wait_for_requests("/repos/o/r/issues", 1, 10s));
  passed_on(github.requests().at(0));
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

BOOST_AUTO_TEST_CASE(metrics_address_moves_the_scrape_to_its_own_listener) {
  auto env = base_env();
  env["METRICS_ADDRESS"] = "127.0.0.1:0";
  service_process svc{env};
  long port = 0;
  BOOST_REQUIRE(svc.wait_for_line(
    [&](const std::string& l) {
      if (l.find("\"message\":\"metrics listening\"") == std::string::npos)
        return false;
      auto doc = parse_object(l);
      port = int_of(doc, "port");
      return true;
    },
    5s));
  BOOST_REQUIRE(port > 0);
  BOOST_TEST(port != svc.port());
  auto scrape_url = "http://127.0.0.1:" + std::to_string(port);
  http_client client;
  auto r = client.get(scrape_url + "/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.find("miyabi_build_info") != std::string::npos);
  BOOST_TEST(r.header("Content-Type").find("text/plain") != std::string::npos);
  BOOST_TEST(client.request("HEAD", scrape_url + "/metrics").status == 200);
  BOOST_TEST(client.get(scrape_url + "/api/v1/health").status == 404);
  BOOST_TEST(client.request("POST", scrape_url + "/metrics", "x").status ==
             405);
  // Gone from the public port, like an unknown path; the rest stays.
  auto public_scrape = client.get(svc.base_url() + "/metrics");
  BOOST_TEST(public_scrape.status == 404);
  BOOST_TEST(public_scrape.body.find("not_found") != std::string::npos);
  BOOST_TEST(client.get(svc.base_url() + "/api/v1/health").status == 200);

  // METRICS_TOKEN still guards the scrape there.
  env["METRICS_TOKEN"] = "scrape-token-123456";
  service_process guarded{env};
  BOOST_REQUIRE(guarded.wait_for_line(
    [&](const std::string& l) {
      if (l.find("\"message\":\"metrics listening\"") == std::string::npos)
        return false;
      port = int_of(parse_object(l), "port");
      return true;
    },
    5s));
  auto guarded_url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  BOOST_TEST(client.get(guarded_url).status == 401);
  BOOST_TEST(
    client.get(guarded_url, {{"Authorization", "Bearer wrong"}}).status == 401);
  BOOST_TEST(
    client.get(guarded_url, {{"Authorization", "Bearer scrape-token-123456"}})
      .status == 200);
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
