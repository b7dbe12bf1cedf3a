#include <boost/test/unit_test.hpp>

#include "http/cors.hpp"

using namespace miyabi::http;

namespace {

std::string find(const header_list& headers, const std::string& name) {
  for (const auto& [key, value] : headers)
    if (key == name)
      return value;
  return "<absent>";
}

} // namespace

BOOST_AUTO_TEST_SUITE(cors)

BOOST_AUTO_TEST_CASE(any_origin_mode_sends_a_star_with_or_without_origin) {
  cors_policy any{{}};
  header_list with_origin;
  any.apply("https://evil.example", with_origin);
  BOOST_TEST(find(with_origin, "Access-Control-Allow-Origin") == "*");
  BOOST_TEST(find(with_origin, "Vary") == "<absent>");
  header_list without;
  any.apply("", without);
  BOOST_TEST(find(without, "Access-Control-Allow-Origin") == "*");
  BOOST_TEST(find(without, "Access-Control-Allow-Credentials") == "<absent>");
}

BOOST_AUTO_TEST_CASE(list_mode_echoes_only_listed_origins_and_always_varies) {
  cors_policy list{{"https://app.example.com"}};
  header_list ok;
  list.apply("https://app.example.com", ok);
  BOOST_TEST(find(ok, "Access-Control-Allow-Origin") ==
             "https://app.example.com");
  BOOST_TEST(find(ok, "Vary") == "Origin");
  for (auto origin :
       {"https://evil.example", "null", "https://app.example.com.evil",
        "HTTPS://APP.EXAMPLE.COM", ""}) {
    header_list other;
    list.apply(origin, other);
    BOOST_TEST_INFO(origin);
    BOOST_TEST(find(other, "Access-Control-Allow-Origin") == "<absent>");
    BOOST_TEST(find(other, "Vary") == "Origin");
  }
}

BOOST_AUTO_TEST_CASE(a_preflight_lists_methods_headers_and_max_age) {
  cors_policy any{{}};
  header_list out;
  any.apply_preflight("https://x.example", "GET, POST, HEAD, OPTIONS", out);
  BOOST_TEST(find(out, "Access-Control-Allow-Methods") ==
             "GET, POST, HEAD, OPTIONS");
  auto allowed = find(out, "Access-Control-Allow-Headers");
  for (auto h :
       {"Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"})
    BOOST_TEST(allowed.find(h) != std::string::npos);
  BOOST_TEST(find(out, "Access-Control-Max-Age") == "600");
}

BOOST_AUTO_TEST_CASE(a_preflight_from_an_unlisted_origin_gets_no_cors_headers) {
  cors_policy list{{"https://app.example.com"}};
  header_list out;
  list.apply_preflight("https://evil.example", "GET, OPTIONS", out);
  BOOST_TEST(find(out, "Access-Control-Allow-Origin") == "<absent>");
  BOOST_TEST(find(out, "Access-Control-Allow-Methods") == "<absent>");
}

BOOST_AUTO_TEST_SUITE_END()
