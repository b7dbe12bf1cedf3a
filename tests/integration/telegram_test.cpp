// Placeholder: replaced by the Telegram suite.
#define BOOST_TEST_MODULE telegram_test
#include <boost/test/unit_test.hpp>
BOOST_AUTO_TEST_CASE(the_service_binary_exists) {
  BOOST_TEST(true);
}
