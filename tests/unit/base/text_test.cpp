#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "base/text.hpp"

using miyabi::split;
using list = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(text)

BOOST_AUTO_TEST_CASE(split_keeps_empty_pieces_between_separators) {
  BOOST_TEST(split("a,b,c", ',') == (list{"a", "b", "c"}));
  BOOST_TEST(split("a,,c", ',') == (list{"a", "", "c"}));
  BOOST_TEST(split(",a,", ',') == (list{"", "a", ""}));
  BOOST_TEST(split("api/v1/{id}", '/') == (list{"api", "v1", "{id}"}));
}

BOOST_AUTO_TEST_CASE(split_of_an_empty_text_is_nothing) {
  BOOST_TEST(split("", ',').empty());
  BOOST_TEST(split("one", ',') == (list{"one"}));
}

BOOST_AUTO_TEST_SUITE_END()
