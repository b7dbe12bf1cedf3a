#include <string>

#include <boost/test/unit_test.hpp>

#include "actors/outbox.hpp"

using miyabi::actors::retry_after_seconds;

BOOST_AUTO_TEST_SUITE(outbox)

BOOST_AUTO_TEST_CASE(
  retry_after_follows_telegram_within_one_second_to_an_hour) {
  auto body = [](const std::string& value) {
    return R"({"ok":false,"error_code":429,"parameters":{"retry_after":)" +
           value + "}}";
  };
  BOOST_TEST(retry_after_seconds(body("2"), "") == 2);
  BOOST_TEST(retry_after_seconds(body("2"), "30") == 2); // the body wins
  BOOST_TEST(retry_after_seconds("", "30") == 30);
  BOOST_TEST(retry_after_seconds("", " 7 ") == 7);
  BOOST_TEST(retry_after_seconds("", "") == 5);
  BOOST_TEST(retry_after_seconds("<html>", "Wed, 21 Oct 2026 07:28:00 GMT") ==
             5);
  // Out of range or odd, never an exception or an overflow.
  BOOST_TEST(retry_after_seconds(body("0"), "") == 1);
  BOOST_TEST(retry_after_seconds(body("-5"), "") == 1);
  BOOST_TEST(retry_after_seconds(body("2.5"), "") == 3);
  BOOST_TEST(retry_after_seconds(body("86400"), "") == 3600);
  BOOST_TEST(retry_after_seconds(body("9223372036854775807"), "") == 3600);
  BOOST_TEST(retry_after_seconds(body("18446744073709551615"), "") == 3600);
  BOOST_TEST(retry_after_seconds(body("99999999999999999999"), "") == 3600);
  BOOST_TEST(retry_after_seconds(body("1e308"), "") == 3600);
  BOOST_TEST(retry_after_seconds(body("\"soon\""), "12") == 12);
  BOOST_TEST(retry_after_seconds("", std::string(40, '9')) == 3600);
  BOOST_TEST(retry_after_seconds("", "-3") == 5);
  BOOST_TEST(retry_after_seconds("", "0") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
