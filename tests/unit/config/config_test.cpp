#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <boost/test/unit_test.hpp>

#include "base/errors.hpp"
#include "config/settings.hpp"
#include "storage/database_url.hpp"
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

const std::string strong_secret(32, 'k');

/// What the production rules need to be met, for `env`.
std::map<std::string, std::string> strict(const std::string& env) {
  return {{"ENVIRONMENT", env}, {"JWT_SECRET", strong_secret}};
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.find(text) != std::string::npos;
  });
}

} // namespace

BOOST_AUTO_TEST_SUITE(settings)

BOOST_AUTO_TEST_CASE(defaults_apply_when_nothing_else_is_set) {
  // Only what production, the default environment, requires.
  auto l = load({{"JWT_SECRET", strong_secret}});
  BOOST_REQUIRE(l.result);
  const auto& cfg = *l.result;
  BOOST_TEST(config::to_string(cfg.env) == "production");
  BOOST_TEST(cfg.production_rules());
  BOOST_TEST(!cfg.auth_mock_enabled);
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
  BOOST_TEST(l.warnings.empty());
}

BOOST_AUTO_TEST_CASE(nothing_set_at_all_is_production_without_a_jwt_secret) {
  auto message = failure({});
  BOOST_TEST(message.find("JWT_SECRET") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(
  a_missing_jwt_secret_is_generated_in_development_and_test_with_a_warning) {
  for (auto env : {"development", "test"}) {
    BOOST_TEST_INFO(env);
    auto l = load({{"ENVIRONMENT", env}});
    BOOST_REQUIRE(l.result);
    BOOST_TEST(l.result->jwt_secret.size() >= 32u);
    BOOST_TEST(l.result->jwt_secret_generated);
    BOOST_TEST(l.warnings.size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(production_and_staging_refuse_a_missing_or_short_secret) {
  for (std::string env : {"production", "staging"}) {
    BOOST_TEST_INFO(env);
    auto missing = failure({{"ENVIRONMENT", env}});
    BOOST_TEST(missing.find("JWT_SECRET") != std::string::npos);
    auto shorter =
      failure({{"ENVIRONMENT", env}, {"JWT_SECRET", std::string(31, 'x')}});
    BOOST_TEST(shorter.find("JWT_SECRET") != std::string::npos);
    BOOST_TEST(shorter.find(std::string(31, 'x')) == std::string::npos);
    auto ok =
      load({{"ENVIRONMENT", env}, {"JWT_SECRET", std::string(32, 'x')}});
    BOOST_TEST(static_cast<bool>(ok.result));
  }
}

BOOST_AUTO_TEST_CASE(environment_takes_exactly_four_values) {
  for (std::string env : {"production", "staging", "development", "test"}) {
    auto l = load(strict(env));
    BOOST_REQUIRE(l.result);
    BOOST_TEST(config::to_string(l.result->env) == env);
  }
  for (auto env : {"prod", "dev", "Production", "qa", "", "production,dev"}) {
    BOOST_TEST_INFO("ENVIRONMENT=" << env);
    auto message =
      failure({{"ENVIRONMENT", env}, {"JWT_SECRET", strong_secret}});
    BOOST_TEST(message.find("ENVIRONMENT") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(staging_follows_the_production_rules) {
  BOOST_TEST(load(strict("production")).result->production_rules());
  BOOST_TEST(load(strict("staging")).result->production_rules());
  BOOST_TEST(!load(strict("development")).result->production_rules());
  BOOST_TEST(!load(strict("test")).result->production_rules());
}

BOOST_AUTO_TEST_CASE(mock_login_needs_development_or_test_and_the_flag) {
  for (std::string env : {"development", "test"}) {
    BOOST_TEST_INFO(env);
    auto vars = strict(env);
    BOOST_TEST(!load(vars).result->auth_mock_enabled);
    vars["AUTH_MOCK_ENABLED"] = "false";
    BOOST_TEST(!load(vars).result->auth_mock_enabled);
    vars["AUTH_MOCK_ENABLED"] = "true";
    auto on = load(vars);
    BOOST_REQUIRE(on.result);
    BOOST_TEST(on.result->auth_mock_enabled);
    BOOST_TEST(on.warnings.empty());
  }
}

BOOST_AUTO_TEST_CASE(production_rules_ignore_mock_login_with_a_warning) {
  for (std::string env : {"production", "staging"}) {
    BOOST_TEST_INFO(env);
    auto vars = strict(env);
    vars["AUTH_MOCK_ENABLED"] = "true";
    auto l = load(vars);
    BOOST_REQUIRE(l.result);
    BOOST_TEST(!l.result->auth_mock_enabled);
    BOOST_TEST(mentions(l.warnings, "AUTH_MOCK_ENABLED"));
  }
}

BOOST_AUTO_TEST_CASE(production_rules_need_a_webhook_secret_with_a_bot_token) {
  const std::string token = "123456:bot-token-value";
  for (std::string env : {"production", "staging"}) {
    BOOST_TEST_INFO(env);
    auto vars = strict(env);
    vars["TELEGRAM_BOT_TOKEN"] = token;
    auto message = failure(vars);
    BOOST_TEST(message.find("TELEGRAM_WEBHOOK_SECRET") != std::string::npos);
    BOOST_TEST(message.find(token) == std::string::npos);
    vars["TELEGRAM_WEBHOOK_SECRET"] = "webhook-secret";
    BOOST_TEST(static_cast<bool>(load(vars).result));
  }
  auto dev = strict("development");
  dev["TELEGRAM_BOT_TOKEN"] = token;
  BOOST_TEST(static_cast<bool>(load(dev).result));
}

BOOST_AUTO_TEST_CASE(production_rules_refuse_plain_http_third_parties) {
  for (auto name : {"GITHUB_OAUTH_URL", "GITHUB_API_URL", "TELEGRAM_API_URL",
                    "OPENAI_BASE_URL"}) {
    for (std::string env : {"production", "staging"}) {
      BOOST_TEST_INFO(name << " in " << env);
      auto vars = strict(env);
      vars[name] = "http://user:hunter2@fake.example:8443/v1";
      auto message = failure(vars);
      BOOST_TEST(message.find(name) != std::string::npos);
      BOOST_TEST(message.find("hunter2") == std::string::npos);
      BOOST_TEST(message.find("fake.example") == std::string::npos);
      vars[name] = "https://fake.example:8443/v1";
      BOOST_TEST(static_cast<bool>(load(vars).result));
    }
    auto test = strict("test");
    test[name] = "http://127.0.0.1:9/v1";
    BOOST_TEST(static_cast<bool>(load(test).result));
  }
}

BOOST_AUTO_TEST_CASE(port_wins_over_the_port_of_server_address) {
  auto l = load({{"ENVIRONMENT", "development"},
                 {"SERVER_ADDRESS", "127.0.0.1:9000"},
                 {"PORT", "9100"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->bind_host == "127.0.0.1");
  BOOST_TEST(l.result->port == 9100);
}

BOOST_AUTO_TEST_CASE(log_level_wins_over_rust_log) {
  auto l = load({{"ENVIRONMENT", "development"},
                 {"RUST_LOG", "info,tower_http=debug"},
                 {"LOG_LEVEL", "warn"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(static_cast<int>(l.result->log_level) ==
             static_cast<int>(log::level::warning));
  auto rust_only =
    load({{"ENVIRONMENT", "development"}, {"RUST_LOG", "debug"}});
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
    {"AUTH_MOCK_ENABLED", "yes please"},
  };
  for (const auto& [name, value] : bad) {
    auto message = failure({{name, value}});
    BOOST_TEST_INFO(name << "=" << value << " -> " << message);
    BOOST_TEST(message.find(name) != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(cors_origins_are_parsed_as_an_exact_list) {
  auto l = load({{"ENVIRONMENT", "development"},
                 {"CORS_ALLOWED_ORIGINS",
                  "https://app.example.com, http://localhost:3000"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->cors_allowed_origins.size() == 2u);
  BOOST_TEST(l.result->cors_allowed_origins[1] == "http://localhost:3000");
  auto star =
    load({{"ENVIRONMENT", "development"}, {"CORS_ALLOWED_ORIGINS", "*"}});
  BOOST_REQUIRE(star.result);
  BOOST_TEST(star.result->cors_any_origin());
}

BOOST_AUTO_TEST_CASE(base_urls_lose_their_trailing_slash) {
  auto l = load({{"ENVIRONMENT", "development"},
                 {"GITHUB_API_URL", "http://127.0.0.1:9/api/"}});
  BOOST_REQUIRE(l.result);
  BOOST_TEST(l.result->github_api_url == "http://127.0.0.1:9/api");
}

BOOST_AUTO_TEST_CASE(secrets_of_include_the_database_password) {
  auto l = load({{"ENVIRONMENT", "development"},
                 {"DATABASE_URL", "postgresql://app:s3cr3t-pass@db:5432/x"},
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

BOOST_AUTO_TEST_SUITE(database_url)

BOOST_AUTO_TEST_CASE(urls_libpq_parses_are_accepted) {
  for (auto url : {"postgresql://app:pw@db.example:5432/miyabi",
                   "postgres://127.0.0.1/miyabi?sslmode=require",
                   "postgresql:///miyabi?host=/var/run/postgresql",
                   "host=db port=5432 dbname=miyabi user=app password='a b'"}) {
    BOOST_TEST_INFO(url);
    BOOST_TEST(!storage::check_database_url(url));
  }
}

BOOST_AUTO_TEST_CASE(urls_libpq_cannot_parse_are_refused_without_their_text) {
  for (std::string url :
       {"not a url with s3cret-pw", "postgresql://app:s3cret-pw@db/x?bogus=1",
        "postgresql://app:s3cret-pw@[::1/x", "host=db password='s3cret-pw",
        "postgresql://app:s3cret-pw@db/x?sslmode"}) {
    BOOST_TEST_INFO(url);
    auto err = storage::check_database_url(url);
    BOOST_REQUIRE(err);
    auto message = describe(err).message;
    BOOST_TEST(message.find("DATABASE_URL") != std::string::npos);
    BOOST_TEST(message.find("s3cret-pw") == std::string::npos);
    BOOST_TEST(describe(err).details == "DATABASE_URL");
  }
}

BOOST_AUTO_TEST_SUITE_END()
