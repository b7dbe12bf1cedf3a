// The route table: every path template of the descriptor table
// (http/operations.hpp) with the operation each HTTP method maps to, in a
// form the matcher walks quickly. Built once at start and read-only
// afterwards, so the
// Pistache reactor threads match against it without locks. The template
// (e.g. `/api/v1/repositories/{id}`) is the `route` label of the metrics;
// paths that match nothing share the label `unmatched`. Optional routes
// (POST /api/v1/auth/mock) are chosen once at start (`configure`); a route
// switched off stays in `routes()` (documented, labelled) but matches
// nothing, so it is answered exactly like an unknown path (404).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/operations.hpp"

namespace miyabi::http {

struct route {
  std::string pattern;               ///< also the metrics label
  std::vector<std::string> segments; ///< `{id}` marks the parameter
  /// The operation of each method, null where the path has none.
  std::array<const operation_descriptor*, method_count> methods{};
  std::string allow;   ///< the Allow header value
  bool enabled = true; ///< false: an optional route switched off
};

/// The optional routes of a table; all off by default.
struct route_options {
  /// POST /api/v1/auth/mock (config::settings::auth_mock_enabled).
  bool auth_mock = false;
  /// POST /api/v1/github/webhook (GITHUB_WEBHOOK_SECRET set).
  bool github_webhook = false;
  /// GET /metrics on the public port (off with METRICS_ADDRESS).
  bool public_metrics = true;
};

struct route_match {
  size_t route = 0;    ///< index into `routes()`; `unmatched()` if none
  std::string_view id; ///< the `{id}` segment, if the template has one
};

class route_table {
 public:
  /// Chooses the optional routes of `instance()`. Call once at start, before
  /// anything uses `instance()`; returns false and changes nothing when the
  /// table is already built. Thread-safe.
  static bool configure(route_options options);

  /// The table of the service, built on first use with the options given
  /// to `configure` (defaults when none were).
  static const route_table& instance();

  /// A table with `options` (the service uses `instance()`).
  explicit route_table(route_options options);

  /// Matches a request path (no query string). Literal segments win over
  /// `{id}`, so `/agents/executions/claim` is not an execution id. Routes
  /// switched off match nothing.
  route_match match(std::string_view path) const;

  /// The operation of `m` on `route_index`; HEAD uses GET's unless that
  /// GET has side effects (then null: 405).
  const operation_descriptor* find(size_t route_index, method m) const;

  const std::vector<route>& routes() const { return routes_; }

  /// Index of the pseudo route of unknown paths.
  size_t unmatched() const { return routes_.size(); }

  /// Metrics labels: every pattern, then `unmatched`.
  std::vector<std::string> labels() const;

  /// The label of one route index (`unmatched` past the last route).
  std::string_view label(size_t index) const;

 private:
  std::vector<route> routes_;
};

} // namespace miyabi::http
