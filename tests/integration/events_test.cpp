// Live events (api.md, "Live events") against the real binary and a real
// PostgreSQL: stream tickets. One service process serves the file
// (support/shared_service.hpp).
#define BOOST_TEST_MODULE events_test
#include <regex>
#include <set>
#include <string>

#include <boost/test/unit_test.hpp>

#include "base/crypto.hpp"
#include "support/api.hpp"
#include "support/shared_service.hpp"

using namespace miyabi::test;

BOOST_TEST_GLOBAL_FIXTURE(start_shared_service);

BOOST_AUTO_TEST_SUITE(tickets)

BOOST_AUTO_TEST_CASE(a_ticket_is_shown_once_stored_hashed_and_lives_60s) {
  auto user = new_account();
  api a{user.token};
  auto resp = a.post("/events/ticket");
  BOOST_TEST_REQUIRE(resp.status == 201, resp.body);
  auto doc = parse_json(resp.body);
  BOOST_TEST((keys(doc) == std::set<std::string>{"ticket", "expires_at"}));
  auto ticket = text_of(doc, "ticket");
  BOOST_TEST(std::regex_match(ticket, std::regex{"[A-Za-z0-9_-]{43}"}));
  BOOST_TEST(is_timestamp(text_of(doc, "expires_at")));
  // Only the hash is stored, for this user, expiring about 60 s from now.
  BOOST_TEST(sql_count("SELECT count(*) FROM event_tickets WHERE "
                       "ticket_hash = '" +
                       ticket + "'") == 0);
  BOOST_TEST(sql_count("SELECT count(*) FROM event_tickets WHERE ticket_hash "
                       "= '" +
                       miyabi::crypto::sha256_hex(ticket) +
                       "' AND user_id = '" + user.id +
                       "' AND used_at IS NULL AND expires_at BETWEEN now() + "
                       "interval '55 seconds' AND now() + interval '65 "
                       "seconds'") == 1);
  // Each request gets a new ticket.
  auto again = a.post("/events/ticket");
  BOOST_TEST_REQUIRE(again.status == 201);
  BOOST_TEST(text_of(parse_json(again.body), "ticket") != ticket);
}

BOOST_AUTO_TEST_CASE(a_ticket_needs_a_user_not_a_worker_token) {
  expect_error(api{}.post("/events/ticket"), 401, "authentication_error");
  auto user = new_account();
  api a{user.token};
  auto created = a.post("/workers/tokens", R"({"name":"w"})");
  BOOST_TEST_REQUIRE(created.status == 201, created.body);
  api worker{text_of(parse_json(created.body), "token")};
  expect_error(worker.post("/events/ticket"), 403, "authorization_error");
}

BOOST_AUTO_TEST_SUITE_END()
