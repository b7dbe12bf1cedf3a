// miyabi-api: wiring only. Settings -> metrics -> actors -> HTTP front ->
// wait for SIGTERM/SIGINT -> drain -> stop in reverse order.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <pthread.h>
#include <string_view>
#include <thread>
#include <unistd.h>

#include <curl/curl.h>

#include "actors/service.hpp"
#include "actors/supervision.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "base/version.hpp"
#include "config/settings.hpp"
#include "domain/status.hpp"
#include "http/metrics_listener.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"
#include "storage/database_url.hpp"
#include "storage/migrations.hpp"
#include "storage/session.hpp"

namespace {

using namespace miyabi;

constexpr int exit_bad_usage = 2;
constexpr int exit_escalated = 70;

sigset_t termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

/// Ends the process if an orderly shutdown hangs past the grace period.
void start_watchdog(std::chrono::milliseconds grace) {
  std::thread{[grace] {
    std::this_thread::sleep_for(grace + std::chrono::seconds{1});
    log::error("shutdown exceeded the grace period; forced exit");
    _exit(1);
  }}.detach();
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN); // libpq and libcurl write to sockets too
  curl_global_init(CURL_GLOBAL_DEFAULT); // once, before any thread starts
  // Block termination signals in every thread; main waits for them.
  auto signals = termination_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--version") {
      std::printf("miyabi-api %s\n", build_version());
      return 0;
    }
    if (arg == "--help" || arg == "-h") {
      std::fputs(config::help_text(argv[0], build_version()).c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "unknown argument: %s (try --help)\n", argv[i]);
    return exit_bad_usage;
  }
  std::vector<std::string> warnings;
  auto loaded = config::load(config::process_environment(), warnings);
  if (!loaded) {
    log::error(describe(loaded.error()).message);
    return exit_bad_usage;
  }
  if (loaded->database_enabled()) {
    // Unparsable, it would leave the service degraded forever.
    if (auto err = storage::check_database_url(loaded->database_url)) {
      log::error(describe(err).message);
      return exit_bad_usage;
    }
  }
  auto cfg = std::make_shared<const config::settings>(std::move(*loaded));
  log::set_min_level(cfg->log_level);
  for (auto& secret : config::secrets_of(*cfg))
    log::add_secret(secret);
  for (const auto& warning : warnings)
    log::warning(warning);

  auto status =
    std::make_shared<domain::service_status>(cfg->database_enabled());
  if (cfg->database_enabled()) {
    // Migrate before serving when the database is there; a changed
    // migration stops the start. Unreachable: start degraded, the database
    // monitor migrates once it can connect.
    storage::session_config db_cfg;
    db_cfg.url = cfg->database_url;
    db_cfg.connect_timeout = cfg->db_connect_timeout;
    auto report = storage::migrate(db_cfg);
    if (report) {
      for (const auto& name : report->applied)
        log::info("migration applied", {{"migration", name}});
      status->database = domain::db_state::connected;
    } else if (is(report.error(), errc::connection_lost)) {
      log::warning("database unreachable at start; serving degraded until it "
                   "answers");
    } else {
      log::error(describe(report.error()).message);
      return 1;
    }
  }

  // Decided once: a route switched off here is unknown to the service (404).
  http::route_options routes;
  routes.auth_mock = cfg->auth_mock_enabled;
  routes.github_webhook = !cfg->github_webhook_secret.empty();
  routes.public_metrics = !cfg->metrics_listener();
  if (!http::route_table::configure(routes)) {
    log::error("the route table was built before it was configured");
    return 1;
  }
  auto metrics = std::make_shared<metrics::service_metrics>(
    http::server::route_labels(), build_version());
  actors::service actors{cfg, metrics, status};
  http::server front{cfg, metrics, status, actors};
  http::metrics_listener scrape{cfg, metrics};
  try {
    if (cfg->metrics_listener()) {
      scrape.start();
      log::info("metrics listening",
                {{"address", cfg->metrics_host},
                 {"port", static_cast<int>(scrape.port())}});
    }
    front.start();
  } catch (const std::exception& e) {
    log::error("cannot listen", {{"address", cfg->bind_host},
                                 {"port", static_cast<int>(cfg->port)},
                                 {"error", e.what()}});
    actors.stop();
    return 1;
  }
  log::field_list started{
    {"address", cfg->bind_host},
    {"port", static_cast<int>(front.port())},
    {"version", build_version()},
    {"mode", cfg->database_enabled() ? "full" : "telegram-only"}};
  if (!cfg->revision.empty()) // Cloud Run's revision name
    started.emplace_back("revision", cfg->revision);
  log::write(log::level::info, "listening", started);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  front.begin_drain();
  log::info("shutdown started", {{"signal", strsignal(signal_number)}});
  start_watchdog(cfg->shutdown_grace);
  auto deadline = std::chrono::steady_clock::now() + cfg->shutdown_grace;
  if (!front.wait_idle(deadline))
    log::warning("grace period over with requests still in flight");
  front.stop();
  scrape.stop();
  log::info("http endpoint stopped; later answers are dropped");
  actors.stop();
  log::info("shutdown complete");
  return actors::escalated() ? exit_escalated : 0;
}
