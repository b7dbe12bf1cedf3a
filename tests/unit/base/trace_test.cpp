// W3C Trace Context (base/trace.hpp): which incoming header wins, what is
// refused as malformed, and the traceparent passed on.
#include <string>

#include <boost/test/unit_test.hpp>

#include "base/trace.hpp"

using namespace miyabi;

namespace {

const std::string trace = "0af7651916cd43dd8448eb211c80319c";
const std::string parent = "b7ad6b7169203331";

bool lower_hex(const std::string& s, size_t n) {
  return s.size() == n &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(trace_context_of_requests)

BOOST_AUTO_TEST_CASE(a_valid_traceparent_gives_its_trace_and_sampled_flag) {
  auto t = trace_of("00-" + trace + "-" + parent + "-01", "");
  BOOST_TEST(t.trace_id == trace);
  BOOST_TEST(t.parent_id == parent);
  BOOST_TEST(t.sampled);
  BOOST_TEST(lower_hex(t.span_id, 16));
  BOOST_TEST(t.span_id != parent);
  BOOST_TEST(!trace_of("00-" + trace + "-" + parent + "-00", "").sampled);
  // Only bit 0 is "sampled".
  BOOST_TEST(!trace_of("00-" + trace + "-" + parent + "-02", "").sampled);
  BOOST_TEST(trace_of("00-" + trace + "-" + parent + "-03", "").sampled);
}

BOOST_AUTO_TEST_CASE(a_later_version_is_read_as_00_and_ff_is_refused) {
  BOOST_TEST(trace_of("01-" + trace + "-" + parent + "-01-more", "").trace_id ==
             trace);
  BOOST_TEST(trace_of("ff-" + trace + "-" + parent + "-01", "").trace_id !=
             trace);
  // Version 00 has exactly four fields.
  BOOST_TEST(trace_of("00-" + trace + "-" + parent + "-01-more", "").trace_id !=
             trace);
}

BOOST_AUTO_TEST_CASE(malformed_traceparents_are_ignored) {
  const std::string cloud = "4bf92f3577b34da6a3ce929d0e0e4736/12;o=1";
  for (const auto& bad :
       {std::string{"00-" + trace + "-" + parent},           // no flags
        "00-" + std::string(32, '0') + "-" + parent + "-01", // zero trace
        "00-" + trace + "-" + std::string(16, '0') + "-01",  // zero parent
        "00-" + std::string{"0AF7651916CD43DD8448EB211C80319C"} + "-" + parent +
          "-01", // upper case
        "00_" + trace + "-" + parent + "-01", std::string{"garbage"},
        std::string{}}) {
    BOOST_TEST_INFO(bad);
    auto t = trace_of(bad, cloud);
    BOOST_TEST(t.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
    BOOST_TEST(t.sampled);
  }
}

BOOST_AUTO_TEST_CASE(without_any_context_a_new_trace_is_started) {
  auto a = trace_of("", "");
  auto b = trace_of("", "not/a;trace");
  BOOST_TEST(lower_hex(a.trace_id, 32));
  BOOST_TEST(lower_hex(b.trace_id, 32));
  BOOST_TEST(a.trace_id != b.trace_id);
  BOOST_TEST(!a.sampled);
  BOOST_TEST(a.parent_id.empty());
}

BOOST_AUTO_TEST_CASE(the_traceparent_passed_on_names_this_services_span) {
  auto t = trace_of("00-" + trace + "-" + parent + "-01", "");
  BOOST_TEST(traceparent_of(t) == "00-" + trace + "-" + t.span_id + "-01");
  auto fresh = trace_of("", "");
  BOOST_TEST(traceparent_of(fresh) ==
             "00-" + fresh.trace_id + "-" + fresh.span_id + "-00");
  BOOST_TEST(trace_resource("p1", t) == "projects/p1/traces/" + trace);
  BOOST_TEST(trace_resource("", t).empty());
}

BOOST_AUTO_TEST_SUITE_END()
