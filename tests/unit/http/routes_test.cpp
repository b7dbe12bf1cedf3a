#include <algorithm>

#include <boost/test/unit_test.hpp>

#include "http/routes.hpp"

using namespace miyabi;
using namespace miyabi::http;

namespace {

const route_table& table() {
  return route_table::instance();
}

std::string pattern_of(const std::string& path) {
  auto m = table().match(path);
  return std::string{table().label(m.route)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(routes)

BOOST_AUTO_TEST_CASE(literal_paths_match_their_template) {
  BOOST_TEST(pattern_of("/api/v1/health") == "/api/v1/health");
  BOOST_TEST(pattern_of("/api/v1/health/live") == "/api/v1/health/live");
  BOOST_TEST(pattern_of("/metrics") == "/metrics");
}

BOOST_AUTO_TEST_CASE(an_id_segment_is_captured) {
  auto m = table().match("/api/v1/repositories/abc-123");
  BOOST_TEST(table().label(m.route) == "/api/v1/repositories/{id}");
  BOOST_TEST(m.id == "abc-123");
  auto logs = table().match("/api/v1/agents/executions/e1/logs");
  BOOST_TEST(table().label(logs.route) ==
             "/api/v1/agents/executions/{id}/logs");
  BOOST_TEST(logs.id == "e1");
}

BOOST_AUTO_TEST_CASE(a_literal_segment_wins_over_an_id) {
  BOOST_TEST(pattern_of("/api/v1/agents/executions/claim") ==
             "/api/v1/agents/executions/claim");
}

BOOST_AUTO_TEST_CASE(unknown_paths_share_the_unmatched_label) {
  for (auto path :
       {"/", "/api", "/api/v1/health/", "/api/v1/repositories/",
        "/api/v1/repositories/a/b", "//api/v1/health", "/API/V1/HEALTH", ""}) {
    BOOST_TEST_INFO(path);
    BOOST_TEST(pattern_of(path) == "unmatched");
  }
}

BOOST_AUTO_TEST_CASE(head_uses_the_get_operation) {
  auto m = table().match("/api/v1/health");
  auto head = table().find(m.route, method::head);
  BOOST_REQUIRE(head != nullptr);
  BOOST_TEST(head->operation_id == "getHealth");
}

BOOST_AUTO_TEST_CASE(the_allow_header_lists_every_supported_method) {
  auto m = table().match("/api/v1/workflows/x");
  BOOST_TEST(table().routes()[m.route].allow ==
             "GET, PUT, DELETE, HEAD, OPTIONS");
  auto webhook = table().match("/api/v1/telegram/webhook");
  BOOST_TEST(table().routes()[webhook.route].allow == "POST, OPTIONS");
  BOOST_TEST(table().find(webhook.route, method::get) == nullptr);
}

BOOST_AUTO_TEST_CASE(mock_login_is_an_unknown_path_unless_switched_on) {
  route_table off{route_options{}};
  auto m = off.match("/api/v1/auth/mock");
  BOOST_TEST(m.route == off.unmatched());
  BOOST_TEST(off.label(m.route) == "unmatched");
  // Still documented and labelled, so the metrics keep one label set.
  auto labels = off.labels();
  BOOST_TEST((std::find(labels.begin(), labels.end(), "/api/v1/auth/mock") !=
              labels.end()));
  route_options options;
  options.auth_mock = true;
  route_table on{options};
  auto found = on.match("/api/v1/auth/mock");
  BOOST_REQUIRE(found.route != on.unmatched());
  auto traits = on.find(found.route, method::post);
  BOOST_REQUIRE(traits != nullptr);
  BOOST_TEST(traits->operation_id == "mockLogin");
}

BOOST_AUTO_TEST_CASE(the_service_table_is_configured_once_before_use) {
  // The instance is built (by table() above or here); later choices are
  // refused instead of silently ignored.
  (void)route_table::instance();
  route_options options;
  options.auth_mock = true;
  BOOST_TEST(!route_table::configure(options));
  BOOST_TEST(route_table::instance().match("/api/v1/auth/mock").route ==
             route_table::instance().unmatched());
}

BOOST_AUTO_TEST_CASE(labels_end_with_unmatched) {
  auto labels = table().labels();
  BOOST_TEST(labels.back() == "unmatched");
  BOOST_TEST(labels.size() == table().routes().size() + 1);
}

BOOST_AUTO_TEST_SUITE_END()
