#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "config/errors.hpp"
#include "config/settings.hpp"
#include "support/env.hpp"

using namespace miyabi;

namespace {

struct loaded {
  caf::expected<config::settings> result;
  std::vector<std::string> warnings;
};

loaded load(std::map<std::string, std::string> vars) {
  std::vector<std::string> warnings;
  auto result = config::load(
    [&vars](const char* name) -> const char* {
      auto i = vars.find(name);
      return i == vars.end() ? nullptr : i->second.c_str();
    },
    warnings);
  return {std::move(result), std::move(warnings)};
}

std::string failure(std::map<std::string, std::string> vars) {
  auto l = load(std::move(vars));
  BOOST_REQUIRE(!l.result);
  return describe(l.result.error()).message;
}

} // namespace

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(defaults_apply_when_nothing_is_set) {
  auto l = load({});
  BOOST_REQUIRE(l.result);
  const auto& cfg = *l.result;
  BOOST_TEST(cfg.port == 8080);
  BOOST_TEST(cfg.bind_host == "0.0.0.0");
  BOOST_TEST(cfg.max_body_bytes == 1048576u);
  BOOST_TEST(!cfg.database_enabled());
  BOOST_TEST(cfg.cors_any_origin());
  BOOST_TEST(cfg.jwt_issuer == "miyabi-api");
  BOOST_TEST(cfg.jwt_audience == "miyabi-web");
  BOOST_TEST(cfg.jwt_expiration.count() == 3600);
  BOOST_TEST(cfg.http_threads >= 1u);
  // Scheduler threads only dispatch: half the reactor threads, at least 1.
  BOOST_TEST(cfg.actor_threads == std::max<size_t>(1, cfg.http_threads / 2));
}

BOOST_AUTO_TEST_CASE(
  a_missing_jwt_secret_is_generated_in_development_with_a_warning) {
  auto l = load({});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->jwt_secret.size() >= 32u);
  BOOST_TEST(l.result->jwt_secret_generated);
  BOOST_TEST(l.warnings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(production_refuses_a_missing_or_short_jwt_secret) {
  auto missing = failure({{"ENVIRONMENT", "production"}});
  BOOST_TEST(missing.find("JWT_SECRET") != std::string::npos);
  auto shorter = failure(
    {{"ENVIRONMENT", "production"}, {"JWT_SECRET", std::string(31, 'x')}});
  BOOST_TEST(shorter.find("JWT_SECRET") != std::string::npos);
  BOOST_TEST(shorter.find(std::string(31, 'x')) == std::string::npos);
  auto ok =
    load({{"ENVIRONMENT", "production"}, {"JWT_SECRET", std::string(32, 'x')}});
  BOOST_TEST(static_cast<bool>(ok.result));
}

BOOST_AUTO_TEST_CASE(port_wins_over_the_port_of_server_address) {
  auto l = load({{"SERVER_ADDRESS", "127.0.0.1:9000"}, {"PORT", "9100"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->bind_host == "127.0.0.1");
  BOOST_TEST(l.result->port == 9100);
}

BOOST_AUTO_TEST_CASE(log_level_wins_over_rust_log) {
  auto l = load({{"RUST_LOG", "info,tower_http=debug"}, {"LOG_LEVEL", "warn"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(static_cast<int>(l.result->log_level) ==
             static_cast<int>(log::level::warning));
  auto rust_only = load({{"RUST_LOG", "debug"}});
  BOOST_REQUIRE(rust_only.result);
  BOOST_TEST(static_cast<int>(rust_only.result->log_level) ==
             static_cast<int>(log::level::debug));
}

BOOST_AUTO_TEST_CASE(every_bad_value_names_its_variable) {
  const std::map<std::string, std::string> bad = {
    {"PORT", "80x"},
    {"PORT", "70000"},
    {"SERVER_ADDRESS", "nohostport"},
    {"ENVIRONMENT", "moon"},
    {"LOG_LEVEL", "chatty"},
    {"HTTP_THREADS", "0"},
    {"ACTOR_THREADS", "-1"},
    {"MAX_BODY_BYTES", "12"},
    {"REQUEST_TIMEOUT_MS", "abc"},
    {"MAX_INFLIGHT", ""},
    {"SHUTDOWN_GRACE_MS", "999999"},
    {"CORS_ALLOWED_ORIGINS", "https://ok.example, not-an-origin"},
    {"DB_POOL_SIZE", "0"},
    {"GITHUB_API_URL", "ftp://example"},
    {"AUTHORIZED_CHAT_IDS", "12,abc"},
    {"JWT_EXPIRATION", "5"},
  };
  for (const auto& [name, value] : bad) {
    auto message = failure({{name, value}});
    BOOST_TEST_INFO(name << "=" << value << " -> " << message);
    BOOST_TEST(message.find(name) != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(cors_origins_are_parsed_as_an_exact_list) {
  auto l = load({{"CORS_ALLOWED_ORIGINS",
                  "https://app.example.com, http://localhost:3000"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->cors_allowed_origins.size() == 2u);
  BOOST_TEST(l.result->cors_allowed_origins[1] == "http://localhost:3000");
  auto star = load({{"CORS_ALLOWED_ORIGINS", "*"}});
  BOOST_REQUIRE(star.result);
  BOOST_TEST(star.result->cors_any_origin());
}

BOOST_AUTO_TEST_CASE(base_urls_lose_their_trailing_slash) {
  auto l = load({{"GITHUB_API_URL", "http://127.0.0.1:9/api/"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->github_api_url == "http://127.0.0.1:9/api");
}

BOOST_AUTO_TEST_CASE(secrets_of_include_the_database_password) {
  auto l = load({{"DATABASE_URL", "postgresql://app:s3cr3t-pass@db:5432/x"},
                 {"TELEGRAM_BOT_TOKEN", "123456:ABCdefGHI"}});
  BOOST_REQUIRE(l.result);
  auto secrets = config::secrets_of(*l.result);
  auto has = [&](const std::string& s) {
    return std::find(secrets.begin(), secrets.end(), s) != secrets.end();
  };
  BOOST_TEST(has("s3cr3t-pass"));
  BOOST_TEST(has("123456:ABCdefGHI"));
}

BOOST_AUTO_TEST_CASE(the_env_example_documents_every_setting) {
  std::ifstream in{test::source_dir() + "/config/miyabi.env.example"};
  BOOST_REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& doc : config::documented_settings()) {
    BOOST_TEST_INFO(doc.name);
    BOOST_TEST(text.str().find(std::string{doc.name} + "=") !=
               std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(help_lists_every_setting) {
  auto help = config::help_text("miyabi-api", "1.2.3");
  for (const auto& doc : config::documented_settings())
    BOOST_TEST(help.find(std::string{doc.name}) != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
