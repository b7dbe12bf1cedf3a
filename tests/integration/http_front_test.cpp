// The HTTP front of the real binary (telegram-only mode: no database):
// health, envelopes, CORS, security headers, request ids, the parser guard,
// metrics, and many concurrent keep-alive clients.
#define BOOST_TEST_MODULE http_front_test
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <regex>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>

#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"
#include "support/raw.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

/// One service process shared by the tests of this file.
service_process& service() {
  static std::unique_ptr<service_process> instance = [] {
    raise_fd_limit();
    auto env = base_env();
    env["MAX_BODY_BYTES"] = "65536";
    return std::make_unique<service_process>(env);
  }();
  return *instance;
}

std::string url(const std::string& path) {
  return service().base_url() + path;
}

void check_security_headers(const http_response& resp) {
  BOOST_TEST(resp.header("X-Content-Type-Options") == "nosniff");
  BOOST_TEST(resp.header("X-Frame-Options") == "DENY");
  BOOST_TEST(resp.header("Referrer-Policy") == "no-referrer");
  BOOST_TEST(resp.header("Content-Security-Policy") ==
             "default-src 'none'; frame-ancestors 'none'");
  BOOST_TEST(!resp.header("X-Request-Id").empty());
}

std::string raw_exchange(const std::string& request,
                         std::chrono::milliseconds timeout = 3s) {
  raw_connection conn{service().port()};
  conn.send(request);
  return conn.read_response(timeout);
}

} // namespace

BOOST_AUTO_TEST_SUITE(health)

BOOST_AUTO_TEST_CASE(health_answers_ok_with_version_mode_database_and_uptime) {
  http_client client;
  auto resp = client.get(url("/api/v1/health"));
  BOOST_TEST(resp.status == 200);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  auto doc = parse_object(resp.body);
  BOOST_TEST(doc["status"].GetString() == std::string{"ok"});
  BOOST_TEST(std::regex_match(doc["version"].GetString(),
                              std::regex{R"(\d+\.\d+\.\d+[A-Za-z0-9.+_-]*)"}));
  BOOST_TEST(doc["mode"].GetString() == std::string{"telegram-only"});
  BOOST_TEST(doc["database"].GetString() == std::string{"disabled"});
  BOOST_TEST(doc["uptime_seconds"].IsInt64());
  check_security_headers(resp);
}

BOOST_AUTO_TEST_CASE(head_health_answers_like_get_without_a_body) {
  http_client client;
  auto resp = client.request("HEAD", url("/api/v1/health"));
  BOOST_TEST(resp.status == 200);
  BOOST_TEST(resp.body.empty());
  BOOST_TEST(resp.header("Content-Type") == "application/json");
}

BOOST_AUTO_TEST_CASE(liveness_answers_ok_without_looking_at_dependencies) {
  http_client client;
  auto resp = client.get(url("/api/v1/health/live"));
  BOOST_TEST(resp.status == 200);
  BOOST_TEST(resp.body == R"({"status":"ok"})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(envelopes)

BOOST_AUTO_TEST_CASE(unknown_paths_get_a_404_envelope) {
  http_client client;
  for (auto path : {"/", "/api/v1/nope", "/api/v1/health/", "/api/v2/health"}) {
    BOOST_TEST_INFO(path);
    check_envelope(client.get(url(path)), 404, "not_found");
  }
}

BOOST_AUTO_TEST_CASE(an_unsupported_method_gets_405_with_allow) {
  http_client client;
  auto resp = client.request("DELETE", url("/api/v1/health"));
  check_envelope(resp, 405, "method_not_allowed");
  BOOST_TEST(resp.header("Allow") == "GET, HEAD, OPTIONS");
  check_security_headers(resp);
}

BOOST_AUTO_TEST_CASE(the_method_is_checked_before_the_body) {
  http_client client;
  auto resp = client.request("PUT", url("/api/v1/telegram/webhook"), "not json",
                             {{"Content-Type", "text/plain"}});
  check_envelope(resp, 405, "method_not_allowed");
  BOOST_TEST(resp.header("Allow") == "POST, OPTIONS");
  auto get = client.get(url("/api/v1/telegram/webhook"));
  BOOST_TEST(get.status == 405);
}

BOOST_AUTO_TEST_CASE(
  head_on_the_github_login_routes_is_405_as_they_have_effects) {
  // GET /auth/github stores a login state and its callback completes a
  // login: HEAD may not run them (api.md, Common rules).
  http_client client;
  for (auto path :
       {"/api/v1/auth/github", "/api/v1/auth/github/callback?code=c&state=s"}) {
    auto resp = client.request("HEAD", url(path));
    BOOST_TEST_CONTEXT(path) {
      BOOST_TEST(resp.status == 405);
      BOOST_TEST(resp.header("Allow") == "GET, OPTIONS");
      BOOST_TEST(resp.body.empty());
    }
  }
  BOOST_TEST(client.request("HEAD", url("/api/v1/agents")).status == 200);
}

BOOST_AUTO_TEST_CASE(every_method_on_every_kind_of_path_gets_an_envelope) {
  http_client client;
  for (auto method : {"GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"}) {
    for (auto path : {"/api/v1/health", "/nowhere", "/api/v1/workflows/x"}) {
      auto resp = client.request(method, url(path));
      BOOST_TEST_INFO(method << " " << path << " -> " << resp.status);
      BOOST_TEST(resp.status >= 200);
      BOOST_TEST(resp.status < 600);
      if (resp.status >= 400)
        BOOST_TEST(parse_object(resp.body)["error"].IsString());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_json_gets_415_and_bad_json_400) {
  http_client client;
  auto wrong_type =
    client.request("POST", url("/api/v1/telegram/webhook"),
                   R"({"update_id":1})", {{"Content-Type", "text/plain"}});
  check_envelope(wrong_type, 415, "unsupported_media_type");
  auto bad =
    client.post_json(url("/api/v1/telegram/webhook"), "{\"update_id\":");
  check_envelope(bad, 400, "validation_error");
  BOOST_TEST(parse_object(bad.body).HasMember("details"));
}

BOOST_AUTO_TEST_CASE(database_routes_answer_503_in_telegram_only_mode) {
  http_client client;
  for (auto path :
       {"/api/v1/repositories", "/api/v1/auth/me", "/api/v1/dashboard/summary",
        "/api/v1/events", "/api/v1/events?ticket=t"}) {
    BOOST_TEST_INFO(path);
    // No token at all: the 503 comes before any token check.
    auto resp = client.get(url(path));
    check_envelope(resp, 503, "service_unavailable");
    BOOST_TEST(!resp.header("Retry-After").empty());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(headers)

BOOST_AUTO_TEST_CASE(a_valid_request_id_is_echoed_and_others_are_replaced) {
  http_client client;
  auto echoed =
    client.get(url("/api/v1/health"), {{"X-Request-Id", "abc.DEF_123-x"}});
  BOOST_TEST(echoed.header("X-Request-Id") == "abc.DEF_123-x");
  for (auto bad : {std::string(129, 'a'), std::string{"has space"},
                   std::string{"semi;colon"}}) {
    auto resp = client.get(url("/api/v1/health"), {{"X-Request-Id", bad}});
    BOOST_TEST(resp.header("X-Request-Id") != bad);
    BOOST_TEST(resp.header("X-Request-Id").size() == 36u);
  }
  auto fresh = client.get(url("/api/v1/health"));
  BOOST_TEST(fresh.header("X-Request-Id").size() == 36u);
}

BOOST_AUTO_TEST_CASE(any_origin_mode_allows_every_origin) {
  http_client client;
  auto with = client.get(url("/api/v1/health"),
                         {{"Origin", "https://somewhere.example"}});
  BOOST_TEST(with.header("Access-Control-Allow-Origin") == "*");
  BOOST_TEST(!with.has_header("Access-Control-Allow-Credentials"));
  auto without = client.get(url("/nope"));
  BOOST_TEST(without.header("Access-Control-Allow-Origin") == "*");
}

BOOST_AUTO_TEST_CASE(a_preflight_gets_204_with_methods_headers_and_max_age) {
  http_client client;
  auto resp = client.request(
    "OPTIONS", url("/api/v1/repositories"), {},
    {{"Origin", "https://app.example"},
     {"Access-Control-Request-Method", "POST"},
     {"Access-Control-Request-Headers", "authorization,content-type"}});
  BOOST_TEST(resp.status == 204);
  BOOST_TEST(resp.header("Access-Control-Allow-Origin") == "*");
  BOOST_TEST(resp.header("Access-Control-Allow-Methods") ==
             "GET, POST, HEAD, OPTIONS");
  auto allowed = resp.header("Access-Control-Allow-Headers");
  for (auto h : {"Authorization", "Content-Type", "Idempotency-Key",
                 "X-Request-Id", "traceparent"})
    BOOST_TEST(allowed.find(h) != std::string::npos);
  BOOST_TEST(resp.header("Access-Control-Max-Age") == "600");
  // Browsers refuse a preflight answer with two Allow-Origin values.
  BOOST_TEST(resp.headers.count("access-control-allow-origin") == 1u);
  BOOST_TEST(resp.repeated_header().empty(),
             "header sent twice: " << resp.repeated_header());
  check_security_headers(resp);
}

BOOST_AUTO_TEST_CASE(allow_list_mode_echoes_listed_origins_only) {
  auto env = base_env();
  env["CORS_ALLOWED_ORIGINS"] = "https://app.example.com,http://localhost:3000";
  service_process listed{env};
  http_client client;
  auto base = listed.base_url();
  auto ok = client.get(base + "/api/v1/health",
                       {{"Origin", "https://app.example.com"}});
  BOOST_TEST(ok.header("Access-Control-Allow-Origin") ==
             "https://app.example.com");
  BOOST_TEST(ok.header("Vary") == "Origin");
  for (auto origin : {"https://evil.example", "null"}) {
    auto other = client.get(base + "/api/v1/health", {{"Origin", origin}});
    BOOST_TEST(!other.has_header("Access-Control-Allow-Origin"));
    BOOST_TEST(other.header("Vary") == "Origin");
  }
  auto no_origin = client.get(base + "/nope");
  BOOST_TEST(no_origin.header("Vary") == "Origin");
  BOOST_TEST(!no_origin.has_header("Access-Control-Allow-Origin"));
  auto preflight = client.request("OPTIONS", base + "/api/v1/repositories", {},
                                  {{"Origin", "https://evil.example"},
                                   {"Access-Control-Request-Method", "GET"}});
  BOOST_TEST(preflight.status == 204);
  BOOST_TEST(!preflight.has_header("Access-Control-Allow-Origin"));
  BOOST_TEST(!preflight.has_header("Access-Control-Allow-Methods"));
  auto good_preflight =
    client.request("OPTIONS", base + "/api/v1/repositories", {},
                   {{"Origin", "http://localhost:3000"},
                    {"Access-Control-Request-Method", "GET"}});
  BOOST_TEST(good_preflight.header("Access-Control-Allow-Origin") ==
             "http://localhost:3000");
  BOOST_TEST(good_preflight.header("Access-Control-Allow-Methods") ==
             "GET, POST, HEAD, OPTIONS");
  BOOST_TEST(good_preflight.repeated_header().empty(),
             "header sent twice: " << good_preflight.repeated_header());
  BOOST_TEST(preflight.repeated_header().empty(),
             "header sent twice: " << preflight.repeated_header());
}

BOOST_AUTO_TEST_CASE(production_and_staging_add_hsts_and_test_does_not) {
  http_client client;
  for (auto environment : {"production", "staging"}) {
    BOOST_TEST_INFO(environment);
    auto env = base_env();
    env["ENVIRONMENT"] = environment;
    service_process strict{env};
    auto resp = client.get(strict.base_url() + "/api/v1/health");
    BOOST_TEST(resp.header("Strict-Transport-Security") ==
               "max-age=31536000; includeSubDomains");
  }
  auto test = client.get(url("/api/v1/health")); // ENVIRONMENT=test
  BOOST_TEST(!test.has_header("Strict-Transport-Security"));
}

BOOST_AUTO_TEST_CASE(http11_without_connection_header_keeps_the_connection) {
  raw_connection conn{service().port()};
  for (int i = 0; i < 3; ++i) {
    conn.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto resp = conn.read_response(3s);
    BOOST_TEST(status_of(resp) == 200);
    BOOST_TEST(resp.find("Connection: Keep-Alive") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(parser_guard)

BOOST_AUTO_TEST_CASE(a_huge_announced_body_gets_413_and_the_process_lives) {
  auto before = service().resident_bytes();
  raw_connection conn{service().port()};
  conn.send("POST /api/v1/telegram/webhook HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 4000000000\r\n\r\n{}");
  auto resp = conn.read_response(3s);
  BOOST_TEST(status_of(resp) == 413);
  BOOST_TEST(resp.find("Connection: close") != std::string::npos);
  BOOST_TEST(body_of(resp).find("payload_too_large") != std::string::npos);
  BOOST_TEST(conn.closed_within(3s));
  auto after = service().resident_bytes();
  BOOST_TEST(after < before + 10 * 1024 * 1024);
  http_client client;
  BOOST_TEST(client.get(url("/api/v1/health")).status == 200);
}

BOOST_AUTO_TEST_CASE(an_announced_body_just_over_the_limit_gets_413) {
  auto resp = raw_exchange("POST /api/v1/telegram/webhook HTTP/1.1\r\n"
                           "Host: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 65537\r\n\r\n");
  BOOST_TEST(status_of(resp) == 413);
}

BOOST_AUTO_TEST_CASE(malformed_framing_is_refused_with_json) {
  struct hostile {
    const char* what;
    std::string request;
    int status;
  };
  const hostile cases[] = {
    {"chunked body",
     "POST /api/v1/telegram/webhook HTTP/1.1\r\nHost: x\r\n"
     "Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\n",
     411},
    {"length and chunked",
     "POST /x HTTP/1.1\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     411},
    {"conflicting lengths",
     "POST /x HTTP/1.1\r\nContent-Length: 3\r\n"
     "Content-Length: 4\r\n\r\nabcd",
     400},
    {"negative length", "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
    {"signed length", "POST /x HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400},
    {"folded header", "GET /api/v1/health HTTP/1.1\r\nX-A: 1\r\n b\r\n\r\n",
     400},
    {"bad method", "FETCH /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    {"bad version", "GET /api/v1/health HTTP/9.9\r\nHost: x\r\n\r\n", 400},
    {"huge header",
     "GET /api/v1/health HTTP/1.1\r\nX-Big: " + std::string(40000, 'a') +
       "\r\n\r\n",
     431},
    {"huge request line",
     "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414},
  };
  for (const auto& c : cases) {
    auto resp = raw_exchange(c.request);
    BOOST_TEST_INFO(c.what << ": " << resp.substr(0, 200));
    BOOST_TEST(status_of(resp) == c.status);
    BOOST_TEST(body_of(resp).find("\"error\"") != std::string::npos);
  }
  http_client client;
  BOOST_TEST(client.get(url("/api/v1/health")).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(counters_move_after_requests_and_promtool_accepts_them) {
  http_client client;
  // A request is counted just after its answer is written, so the count is
  // read once nothing but the scrape itself is in flight.
  auto settled_health_count = [&] {
    double count = -1;
    BOOST_REQUIRE(eventually(
      [&] {
        auto text = client.get(url("/metrics")).body;
        // -1 (no series yet) means none counted.
        count = std::max(
          0.0, metric_value(text, "http_requests_total{code=\"200\",method="
                                  "\"GET\",route=\"/api/v1/health\"}"));
        return metric_value(text, "http_requests_in_flight") == 1;
      },
      5s));
    return count;
  };
  auto before = settled_health_count();
  for (int i = 0; i < 5; ++i)
    client.get(url("/api/v1/health"));
  BOOST_TEST(settled_health_count() == before + 5);
  auto scrape = client.get(url("/metrics"));
  BOOST_TEST(scrape.status == 200);
  BOOST_TEST(scrape.header("Content-Type") == "text/plain; version=0.0.4");
  for (auto name :
       {"process_resident_memory_bytes", "process_cpu_seconds_total",
        "process_open_fds", "process_start_time_seconds",
        "http_requests_in_flight", "miyabi_build_info", "le=\"1\"}"}) {
    BOOST_TEST_INFO(name);
    BOOST_TEST(scrape.body.find(name) != std::string::npos);
  }
  BOOST_TEST(scrape.body.find("route=\"/nope") == std::string::npos);
  // The exposition passes Prometheus's own linter.
  auto path = "/tmp/miyabi-scrape-" + std::to_string(::getpid()) + ".txt";
  std::ofstream{path} << scrape.body;
  auto rc = std::system(("promtool check metrics < " + path).c_str());
  std::remove(path.c_str());
  BOOST_TEST(rc == 0);
}

BOOST_AUTO_TEST_CASE(unknown_paths_share_one_label) {
  http_client client;
  client.get(url("/random/aaa"));
  client.get(url("/random/bbb"));
  auto text = client.get(url("/metrics")).body;
  BOOST_TEST(text.find("route=\"unmatched\"") != std::string::npos);
  BOOST_TEST(text.find("/random/") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_metrics_token_is_required_when_configured) {
  auto env = base_env();
  env["METRICS_TOKEN"] = "scrape-token-123";
  service_process guarded{env};
  http_client client;
  auto denied = client.get(guarded.base_url() + "/metrics");
  BOOST_TEST(denied.status == 401);
  auto wrong = client.get(guarded.base_url() + "/metrics",
                          {{"Authorization", "Bearer nope"}});
  BOOST_TEST(wrong.status == 401);
  auto ok = client.get(guarded.base_url() + "/metrics",
                       {{"Authorization", "Bearer scrape-token-123"}});
  BOOST_TEST(ok.status == 200);
  for (const auto& line : guarded.lines())
    BOOST_TEST(line.find("scrape-token-123") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(a_thousand_keepalive_connections_get_every_answer) {
  load_plan plan;
  plan.port = service().port();
  plan.connections = 1000;
  plan.requests_per_connection = 20;
  plan.limit = 60s;
  plan.make = [](size_t, size_t) {
    return simple_get("/api/v1/health");
  };
  auto result = run_load(plan);
  BOOST_TEST(result.transport_errors == 0u);
  BOOST_TEST(result.unfinished == 0u);
  BOOST_TEST(result.completed == 20000u);
  BOOST_TEST(result.count(200) == 20000u);
  BOOST_TEST_MESSAGE("1000 connections x 20 requests: p50 "
                     << result.quantile(0.5) * 1000 << " ms, p99 "
                     << result.quantile(0.99) * 1000 << " ms");
  http_client client;
  BOOST_TEST(client.get(url("/api/v1/health")).status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
