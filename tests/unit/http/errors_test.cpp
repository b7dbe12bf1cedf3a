#include <boost/test/unit_test.hpp>
#include <caf/sec.hpp>

#include "base/errors.hpp"
#include "http/errors.hpp"

using namespace miyabi;
using namespace miyabi::http;

BOOST_AUTO_TEST_SUITE(error_mapping)

BOOST_AUTO_TEST_CASE(every_contract_code_maps_to_its_status) {
  struct expectation {
    errc code;
    int status;
    std::string name;
  };
  const expectation table[] = {
    {errc::validation_error, 400, "validation_error"},
    {errc::authentication_error, 401, "authentication_error"},
    {errc::jwt_error, 401, "jwt_error"},
    {errc::authorization_error, 403, "authorization_error"},
    {errc::not_found, 404, "not_found"},
    {errc::method_not_allowed, 405, "method_not_allowed"},
    {errc::conflict, 409, "conflict"},
    {errc::payload_too_large, 413, "payload_too_large"},
    {errc::unsupported_media_type, 415, "unsupported_media_type"},
    {errc::unprocessable_entity, 422, "unprocessable_entity"},
    {errc::rate_limited, 429, "rate_limited"},
    {errc::internal_error, 500, "internal_error"},
    {errc::database_error, 500, "database_error"},
    {errc::external_api_error, 502, "external_api_error"},
    {errc::service_unavailable, 503, "service_unavailable"},
    {errc::timeout, 504, "timeout"},
  };
  for (const auto& e : table) {
    auto resp = to_response(make_error(e.code, "m", "d"));
    BOOST_TEST_INFO(e.name);
    BOOST_TEST(resp.status == e.status);
    BOOST_TEST(resp.code == e.name);
    BOOST_TEST(resp.message == "m");
    BOOST_TEST(resp.details == "d");
  }
}

BOOST_AUTO_TEST_CASE(overload_answers_carry_retry_after) {
  BOOST_TEST(to_response(make_error(errc::service_unavailable)).retry_after);
  BOOST_TEST(to_response(make_error(errc::rate_limited)).retry_after);
  BOOST_TEST(!to_response(make_error(errc::not_found)).retry_after);
}

BOOST_AUTO_TEST_CASE(a_rate_limit_names_its_own_retry_after) {
  auto resp = to_response(make_rate_limited("slow down", 42));
  BOOST_TEST(resp.status == 429);
  BOOST_TEST(resp.code == "rate_limited");
  BOOST_TEST(resp.message == "slow down");
  BOOST_TEST(resp.retry_after == 42);
  BOOST_TEST(to_response(make_error(errc::service_unavailable)).retry_after ==
             1);
}

BOOST_AUTO_TEST_CASE(a_commit_in_doubt_is_503_never_a_success_or_failure) {
  auto resp = to_response(make_error(errc::unknown_outcome));
  BOOST_TEST(resp.status == 503);
  BOOST_TEST(resp.code == "service_unavailable");
  BOOST_TEST(resp.message.find("may or may not") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_error_without_message_gets_a_default_one) {
  auto resp = to_response(make_error(errc::not_found));
  BOOST_TEST(!resp.message.empty());
  BOOST_TEST(resp.details.empty());
}

BOOST_AUTO_TEST_CASE(caf_timeouts_and_dead_actors_map_to_504_and_503) {
  auto timeout = to_response(caf::make_error(caf::sec::request_timeout));
  BOOST_TEST(timeout.status == 504);
  BOOST_TEST(timeout.code == "timeout");
  auto down = to_response(caf::make_error(caf::sec::request_receiver_down));
  BOOST_TEST(down.status == 503);
  BOOST_TEST(down.retry_after);
}

BOOST_AUTO_TEST_CASE(foreign_errors_never_leak_their_text) {
  auto resp = to_response(
    caf::make_error(caf::sec::runtime_error, "SELECT secret FROM users"));
  BOOST_TEST(resp.status == 500);
  BOOST_TEST(resp.code == "internal_error");
  BOOST_TEST(resp.message.find("SELECT") == std::string::npos);
  BOOST_TEST(resp.details.empty());
}

BOOST_AUTO_TEST_SUITE_END()
