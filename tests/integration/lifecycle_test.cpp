// Start-up and shutdown of the real binary: --help/--version, bad settings,
// SIGTERM and the grace period.
#define BOOST_TEST_MODULE lifecycle_test
#include <array>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"

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
  service_process proc{env, false};
  BOOST_TEST(proc.wait_exit(10s).value_or(-1) == 2);
  for (const auto& line : proc.lines())
    BOOST_TEST(line.find("too-short") == std::string::npos);
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
