// The in-process actor tests: the service's actors in one actor system,
// driven through CAF's scoped_actor, with fakes in place of the actors they
// talk to. The database pool tests use the test PostgreSQL (scripts/test).
#define BOOST_TEST_MODULE miyabi_actor_tests
#include <boost/test/unit_test.hpp>
