// Rate limits of api.md ("Rate limits") against the real binary: the login
// routes per client address (AUTH_RATE_PER_MINUTE, X-Forwarded-For only
// with TRUST_PROXY=true) and writes per user (WRITE_RATE_PER_MINUTE), each
// answered with 429 rate_limited and a Retry-After in seconds.
//
// The limits are set low (5 a minute: one request back every 12 s), so the
// few requests of a case all fall within one budget.
#define BOOST_TEST_MODULE rate_limit_test
#include <string>

#include <boost/test/unit_test.hpp>

#include "support/checks.hpp"
#include "support/env.hpp"
#include "support/http_client.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

constexpr int budget = 5;

env_map limited_env(const std::string& database) {
  auto env = base_env();
  env["DATABASE_URL"] = database;
  env["AUTH_RATE_PER_MINUTE"] = std::to_string(budget);
  env["WRITE_RATE_PER_MINUTE"] = std::to_string(budget);
  return env;
}

/// Checks a 429 envelope whose Retry-After is within one refill (12 s).
void expect_limited(const http_response& resp, const std::string& what) {
  BOOST_TEST_CONTEXT(what << " -> " << resp.status << " " << resp.body) {
    check_envelope(resp, 429, "rate_limited");
    auto retry = resp.header("Retry-After");
    BOOST_TEST(!retry.empty());
    auto seconds = retry.empty() ? 0 : std::stoi(retry);
    BOOST_TEST(seconds >= 1);
    BOOST_TEST(seconds <= 60 / budget);
  }
}

std::string mock_body(int github_id) {
  auto id = std::to_string(github_id);
  return R"({"github_id":)" + id + R"(,"email":"r)" + id + R"(@example.com"})";
}

} // namespace

BOOST_AUTO_TEST_SUITE(login_routes)

BOOST_AUTO_TEST_CASE(
  the_login_routes_share_a_budget_per_address_then_answer_429_with_retry_after) {
  service_process svc{limited_env(create_database())};
  auto base = svc.base_url() + "/api/v1";
  http_client client;
  // Every login route spends from the same budget of this address.
  auto first = client.post_json(base + "/auth/mock", mock_body(880001));
  BOOST_REQUIRE(first.status == 200);
  auto access = text_of(parse_object(first.body), "access_token");
  BOOST_TEST(
    client
      .post_json(base + "/auth/refresh", R"({"refresh_token":"not-a-token"})")
      .status == 401);
  BOOST_TEST(client.get(base + "/auth/github").status != 429);
  BOOST_TEST(client.get(base + "/auth/github/callback?code=c&state=s").status !=
             429);
  BOOST_TEST(client.post_json(base + "/auth/mock", mock_body(880002)).status ==
             200);
  expect_limited(client.post_json(base + "/auth/mock", mock_body(880003)),
                 "sixth login request");
  expect_limited(client.get(base + "/auth/github"), "seventh login request");
  // Other routes are not limited per address; the token still works.
  BOOST_TEST(client.get(base + "/auth/me", bearer(access)).status == 200);
  // Without TRUST_PROXY, X-Forwarded-For is the client's word: ignored.
  expect_limited(client.post_json(base + "/auth/mock", mock_body(880004),
                                  {{"X-Forwarded-For", "198.51.100.7"}}),
                 "a forged X-Forwarded-For");
  BOOST_TEST(metric(svc, "miyabi_rate_limited_total{limit=\"auth\"}") >= 3);
}

BOOST_AUTO_TEST_CASE(
  behind_a_trusted_proxy_the_first_forwarded_address_has_its_own_budget) {
  auto env = limited_env(create_database());
  env["TRUST_PROXY"] = "true";
  service_process svc{env};
  auto url = svc.base_url() + "/api/v1/auth/mock";
  http_client client;
  const header_pairs first{{"X-Forwarded-For", "203.0.113.1, 10.0.0.1"}};
  for (int i = 0; i < budget; ++i)
    BOOST_TEST(client.post_json(url, mock_body(881000 + i), first).status ==
               200);
  expect_limited(client.post_json(url, mock_body(881100), first),
                 "over the budget of 203.0.113.1");
  // Another client behind the same proxy (the same socket peer).
  BOOST_TEST(client
               .post_json(url, mock_body(881200),
                          {{"X-Forwarded-For", "203.0.113.2, 10.0.0.1"}})
               .status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(writes)

BOOST_AUTO_TEST_CASE(
  writes_are_limited_per_user_while_reads_and_other_users_go_on) {
  auto env = limited_env(create_database());
  env["AUTH_RATE_PER_MINUTE"] = "0"; // two logins, then only writes count
  service_process svc{env};
  auto base = svc.base_url() + "/api/v1";
  auto alice = mock_login(svc, 882001);
  auto bob = mock_login(svc, 882002);
  http_client client;
  for (int i = 0; i < budget; ++i) {
    auto created = client.post_json(base + "/repositories",
                                    R"({"full_name":"alice/repo)" +
                                      std::to_string(i) + R"("})",
                                    bearer(alice.access));
    BOOST_TEST(created.status == 201, created.body);
  }
  expect_limited(client.post_json(base + "/repositories",
                                  R"({"full_name":"alice/one-more"})",
                                  bearer(alice.access)),
                 "alice's sixth write");
  expect_limited(client.request("DELETE",
                                base + "/repositories/"
                                       "11111111-2222-4333-8444-555555555555",
                                {}, bearer(alice.access)),
                 "alice's DELETE");
  auto list = client.get(base + "/repositories", bearer(alice.access));
  BOOST_TEST(list.status == 200);
  BOOST_TEST(parse_json(list.body).Size() == static_cast<unsigned>(budget));
  BOOST_TEST(client
               .post_json(base + "/repositories", R"({"full_name":"bob/repo"})",
                          bearer(bob.access))
               .status == 201);
  // A write without a token is refused for that, not counted or limited.
  auto anonymous =
    client.post_json(base + "/repositories", R"({"full_name":"x/y"})");
  check_envelope(anonymous, 401, "authentication_error");
  BOOST_TEST(metric(svc, "miyabi_rate_limited_total{limit=\"write\"}") == 2);
}

BOOST_AUTO_TEST_SUITE_END()
