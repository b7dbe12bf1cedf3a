#include <string>

#include <boost/test/unit_test.hpp>

#include "http/request_guard.hpp"

using namespace miyabi::http;

namespace {

head_check check(const std::string& block, size_t max_body = 1000) {
  guard_limits limits;
  limits.max_body = max_body;
  return check_header_block(block.data(), block.size(), limits);
}

} // namespace

BOOST_AUTO_TEST_SUITE(request_guard)

BOOST_AUTO_TEST_CASE(ordinary_headers_pass) {
  auto r = check("Host: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 12\r\n");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.content_length == 12u);
}

BOOST_AUTO_TEST_CASE(an_announced_body_over_the_limit_is_413_before_reading) {
  BOOST_TEST(check("Content-Length: 1001\r\n").status == 413);
  BOOST_TEST(check("Content-Length: 99999999999999999\r\n").status == 413);
  BOOST_TEST(check("Content-Length: 1000\r\n").status == 0);
}

BOOST_AUTO_TEST_CASE(content_length_must_be_plain_digits) {
  for (auto value :
       {"-1", "+5", "0x10", "1 2", "", "12a", "99999999999999999999"}) {
    BOOST_TEST_INFO(value);
    BOOST_TEST(check(std::string{"Content-Length: "} + value + "\r\n").status ==
               400);
  }
}

BOOST_AUTO_TEST_CASE(conflicting_lengths_are_refused_equal_ones_pass) {
  BOOST_TEST(check("Content-Length: 5\r\nContent-Length: 6\r\n").status == 400);
  BOOST_TEST(check("Content-Length: 5\r\ncontent-length: 5\r\n").status == 0);
}

BOOST_AUTO_TEST_CASE(transfer_encoding_is_refused_with_411) {
  BOOST_TEST(check("Transfer-Encoding: chunked\r\n").status == 411);
  BOOST_TEST(
    check("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n").status == 411);
}

BOOST_AUTO_TEST_CASE(folding_nul_and_bad_names_are_refused) {
  BOOST_TEST(check("X-A: 1\r\n continued\r\n").status == 400);
  BOOST_TEST(check(std::string("X-A: a\0b\r\n", 10)).status == 400);
  BOOST_TEST(check("Bad Name: 1\r\n").status == 400);
  BOOST_TEST(check("NoColon\r\n").status == 400);
  BOOST_TEST(check(": empty\r\n").status == 400);
}

BOOST_AUTO_TEST_SUITE_END()
