// The unit test executable: pure code, no processes, no network.
#define BOOST_TEST_MODULE miyabi_unit_tests
#include <boost/test/unit_test.hpp>
