// Start-up and shutdown of the real binary: --help/--version, bad settings,
// SIGTERM and the grace period.
#define BOOST_TEST_MODULE lifecycle_test
#include <algorithm>
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/raw.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

/// Runs the binary with arguments; returns exit code and output.
std::pair<int, std::string> run(const std::string& args) {
  auto command = service_binary() + " " + args + " 2>&1";
  std::string output;
  auto* pipe = ::popen(command.c_str(), "r");
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr)
    output += buf.data();
  auto status = ::pclose(pipe);
  return {WEXITSTATUS(status), output};
}

/// Bytes the server has not read yet on its established connections of
/// `port` (receive queues from /proc/net/tcp); -1 when none is open.
long long unread_bytes(uint16_t port) {
  std::ifstream in{"/proc/net/tcp"};
  std::string line;
  std::getline(in, line); // header
  long long total = -1;
  while (std::getline(in, line)) {
    std::istringstream fields{line};
    std::string slot, local, remote, state, queues;
    fields >> slot >> local >> remote >> state >> queues;
    auto colon = local.find(':');
    if (state != "01" || colon == std::string::npos ||
        std::stoul(local.substr(colon + 1), nullptr, 16) != port)
      continue;
    total = std::max(total, 0LL) +
            std::stoll(queues.substr(queues.find(':') + 1), nullptr, 16);
  }
  return total;
}

/// Starts with `env`, expects exit code 2 and exactly one ERROR line that
/// names `setting`; returns that line.
std::string refused_start(const env_map& env, const std::string& setting) {
  service_process proc{env, false};
  auto rc = proc.wait_exit(10s);
  BOOST_REQUIRE_MESSAGE(rc.has_value(), "still running; " << setting);
  BOOST_TEST(*rc == 2);
  auto lines = proc.lines();
  BOOST_REQUIRE_MESSAGE(lines.size() == 1u, lines.size() << " lines");
  BOOST_TEST(lines[0].find(setting) != std::string::npos, lines[0]);
  BOOST_TEST(lines[0].find("\"severity\":\"ERROR\"") != std::string::npos);
  return lines[0];
}

bool has_line(const service_process& proc, const std::string& a,
              const std::string& b) {
  for (const auto& line : proc.lines())
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos)
      return true;
  return false;
}

const char* mock_body = R"({"github_id":4242,"email":"mock@example.com"})";

} // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(help_lists_the_settings_and_version_prints_the_version) {
  auto [help_rc, help] = run("--help");
  BOOST_TEST(help_rc == 0);
  for (auto name : {"PORT", "DATABASE_URL", "MAX_INFLIGHT", "JWT_SECRET",
                    "TELEGRAM_BOT_TOKEN", "CORS_ALLOWED_ORIGINS"})
    BOOST_TEST(help.find(name) != std::string::npos);
  auto [version_rc, version] = run("--version");
  BOOST_TEST(version_rc == 0);
  BOOST_TEST(version.rfind("miyabi-api ", 0) == 0);
}

BOOST_AUTO_TEST_CASE(an_unknown_argument_is_refused) {
  auto [rc, output] = run("--bogus");
  BOOST_TEST(rc == 2);
  BOOST_TEST(output.find("--bogus") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bad_setting_stops_the_start_with_one_line_naming_it) {
  for (auto [name, value] :
       {std::pair{"PORT", "eighty"}, std::pair{"MAX_BODY_BYTES", "-5"},
        std::pair{"CORS_ALLOWED_ORIGINS", "ftp://x"}}) {
    auto env = base_env();
    env[name] = value;
    service_process proc{env, false};
    auto rc = proc.wait_exit(10s);
    BOOST_REQUIRE(rc.has_value());
    BOOST_TEST(*rc == 2);
    auto lines = proc.lines();
    BOOST_TEST_INFO(name);
    BOOST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(lines[0].find(name) != std::string::npos);
    BOOST_TEST(lines[0].find("\"severity\":\"ERROR\"") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(production_refuses_a_short_jwt_secret) {
  auto env = base_env();
  env["ENVIRONMENT"] = "production";
  env["JWT_SECRET"] = "too-short";
  auto line = refused_start(env, "JWT_SECRET");
  BOOST_TEST(line.find("too-short") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(environments)

BOOST_AUTO_TEST_CASE(an_unknown_environment_stops_the_start_with_one_line) {
  for (auto value : {"moon", "prod", "Production", ""}) {
    BOOST_TEST_INFO("ENVIRONMENT=" << value);
    auto env = base_env();
    env["ENVIRONMENT"] = value;
    refused_start(env, "ENVIRONMENT");
  }
}

BOOST_AUTO_TEST_CASE(production_refuses_a_bot_token_without_a_webhook_secret) {
  for (auto environment : {"production", "staging"}) {
    BOOST_TEST_INFO(environment);
    auto env = base_env();
    env["ENVIRONMENT"] = environment;
    env["TELEGRAM_BOT_TOKEN"] = "424242:bot-token-never-logged";
    auto line = refused_start(env, "TELEGRAM_WEBHOOK_SECRET");
    BOOST_TEST(line.find("bot-token-never-logged") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(production_refuses_a_plain_http_github_url) {
  auto env = base_env();
  env["ENVIRONMENT"] = "production";
  env["GITHUB_API_URL"] = "http://user:url-password@127.0.0.1:9";
  auto line = refused_start(env, "GITHUB_API_URL");
  BOOST_TEST(line.find("url-password") == std::string::npos);
  BOOST_TEST(line.find("127.0.0.1") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unparsable_database_url_stops_the_start_anywhere) {
  for (auto environment : {"development", "test"}) {
    BOOST_TEST_INFO(environment);
    auto env = base_env();
    env["ENVIRONMENT"] = environment;
    env["DATABASE_URL"] =
      "postgresql://app:db-password-never-logged@127.0.0.1:9/x?no_such=1";
    auto line = refused_start(env, "DATABASE_URL");
    BOOST_TEST(line.find("db-password-never-logged") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(staging_answers_mock_login_like_an_unknown_route) {
  auto env = base_env();
  env["ENVIRONMENT"] = "staging";
  env["AUTH_MOCK_ENABLED"] = "true";
  env["DATABASE_URL"] = create_database();
  service_process proc{env};
  BOOST_TEST(has_line(proc, "\"WARNING\"", "AUTH_MOCK_ENABLED"));
  http_client client;
  auto mock =
    client.post_json(proc.base_url() + "/api/v1/auth/mock", mock_body);
  check_envelope(mock, 404, "not_found");
  auto unknown =
    client.post_json(proc.base_url() + "/api/v1/auth/unknown", mock_body);
  BOOST_TEST(mock.body.find("\"message\":\"no such route\"") !=
             std::string::npos);
  BOOST_TEST(unknown.status == 404);
  // Not even the method is checked: an unknown path has no methods.
  check_envelope(client.get(proc.base_url() + "/api/v1/auth/mock"), 404,
                 "not_found");
  auto preflight =
    client.request("OPTIONS", proc.base_url() + "/api/v1/auth/mock");
  BOOST_TEST(preflight.status == 404);
}

BOOST_AUTO_TEST_CASE(development_without_the_flag_has_no_mock_login) {
  auto env = base_env();
  env["ENVIRONMENT"] = "development";
  env.erase("AUTH_MOCK_ENABLED");
  env["DATABASE_URL"] = create_database();
  service_process proc{env};
  http_client client;
  check_envelope(
    client.post_json(proc.base_url() + "/api/v1/auth/mock", mock_body), 404,
    "not_found");
  BOOST_TEST(!has_line(proc, "AUTH_MOCK_ENABLED", ""));
}

BOOST_AUTO_TEST_CASE(test_with_the_flag_serves_mock_login) {
  auto env = base_env();
  BOOST_REQUIRE(env["ENVIRONMENT"] == "test");
  BOOST_REQUIRE(env["AUTH_MOCK_ENABLED"] == "true");
  env["DATABASE_URL"] = create_database();
  service_process proc{env};
  http_client client;
  auto resp =
    client.post_json(proc.base_url() + "/api/v1/auth/mock", mock_body);
  BOOST_TEST(resp.status == 200, resp.body);
  BOOST_TEST(resp.body.find("\"access_token\"") != std::string::npos);
  BOOST_TEST(!has_line(proc, "AUTH_MOCK_ENABLED", ""));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shutdown)

BOOST_AUTO_TEST_CASE(sigterm_when_idle_exits_zero_quickly) {
  service_process proc{base_env()};
  auto started = std::chrono::steady_clock::now();
  proc.signal(SIGTERM);
  BOOST_TEST(proc.wait_exit(5s).value_or(-1) == 0);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 2s));
  BOOST_TEST(proc.wait_for_line(
    [](const std::string& l) {
      return l.find("shutdown complete") != std::string::npos;
    },
    1s));
}

BOOST_AUTO_TEST_CASE(
  requests_half_received_at_sigterm_are_read_to_the_end_and_answered,
  *boost::unit_test::timeout(60)) {
  // A request is in flight from its first byte (api.md, graceful shutdown):
  // 50 clients have sent their headers and half their body when SIGTERM
  // comes; they finish sending afterwards and each gets its real answer.
  raise_fd_limit();
  auto env = base_env();
  env["AUTHORIZED_CHAT_IDS"] = "777";
  service_process proc{env};
  constexpr size_t clients = 50;
  std::vector<std::string> bodies;
  std::vector<std::unique_ptr<raw_connection>> conns;
  for (size_t i = 0; i < clients; ++i) {
    bodies.push_back(R"({"update_id":)" + std::to_string(990000 + i) +
                     R"(,"message":{"message_id":1,"date":1700000000,)"
                     R"("chat":{"id":777,"type":"private"},"text":"/help"}})");
    const auto& body = bodies.back();
    conns.push_back(std::make_unique<raw_connection>(proc.port()));
    conns.back()->send("POST /api/v1/telegram/webhook HTTP/1.1\r\nHost: x\r\n"
                       "Content-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" +
                       body.substr(0, body.size() / 2));
  }
  // Every first half was read by the server before the signal.
  auto until = std::chrono::steady_clock::now() + 5s;
  while (unread_bytes(proc.port()) != 0 &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  BOOST_REQUIRE(unread_bytes(proc.port()) == 0);
  proc.signal(SIGTERM);
  BOOST_REQUIRE(proc.wait_for_line(
    [](const std::string& l) {
      return l.find("shutdown started") != std::string::npos;
    },
    5s));
  size_t answered = 0;
  for (size_t i = 0; i < clients; ++i) {
    conns[i]->send(bodies[i].substr(bodies[i].size() / 2));
    auto response = conns[i]->read_response(5s);
    BOOST_TEST_CONTEXT("client " << i << ": " << response) {
      BOOST_TEST(status_of(response) == 200);
      BOOST_TEST(body_of(response).find("sendMessage") != std::string::npos);
    }
    answered += status_of(response) == 200 ? 1 : 0;
  }
  BOOST_TEST(answered == clients);
  BOOST_TEST(proc.wait_exit(5s).value_or(-1) == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_during_a_burst_answers_every_request) {
  raise_fd_limit();
  service_process proc{base_env()};
  load_plan plan;
  plan.port = proc.port();
  plan.connections = 100;
  plan.requests_per_connection = 200;
  plan.limit = 20s;
  plan.make = [](size_t, size_t) {
    return simple_get("/api/v1/health");
  };
  std::atomic<size_t> answered{0};
  plan.check = [&](size_t, size_t, int, const std::string&) {
    ++answered;
  };
  load_result result;
  std::thread load{[&] {
    result = run_load(plan);
  }};
  // Signal once the burst is well under way.
  auto until = std::chrono::steady_clock::now() + 10s;
  while (answered < 2000 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  BOOST_REQUIRE(answered >= 2000u);
  proc.signal(SIGTERM);
  auto rc = proc.wait_exit(8s);
  load.join();
  BOOST_TEST(rc.value_or(-1) == 0);
  // Every answer was a success or a polite 503 while draining; requests the
  // drained process never received are the only ones left unanswered.
  BOOST_TEST(result.completed == result.count(200) + result.count(503));
  BOOST_TEST(result.count(200) > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
