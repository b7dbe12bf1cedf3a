#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/test/unit_test.hpp>

#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "unit/openssl_failure.hpp"

using namespace miyabi::crypto;

BOOST_AUTO_TEST_SUITE(crypto)

BOOST_AUTO_TEST_CASE(base64url_round_trips_every_length) {
  std::string data;
  for (int i = 0; i < 70; ++i) {
    auto encoded = base64url_encode(data);
    BOOST_TEST(encoded.find_first_of("+/=") == std::string::npos);
    auto decoded = base64url_decode(encoded);
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(*decoded == data);
    data += static_cast<char>(i * 37);
  }
}

BOOST_AUTO_TEST_CASE(base64url_matches_rfc4648_vectors) {
  BOOST_TEST(base64url_encode("f") == "Zg");
  BOOST_TEST(base64url_encode("fo") == "Zm8");
  BOOST_TEST(base64url_encode("foo") == "Zm9v");
  BOOST_TEST(base64url_encode("\xfb\xff") == "-_8");
}

BOOST_AUTO_TEST_CASE(base64url_decoding_is_strict) {
  for (const std::string& text :
       {std::string{"Zg=="}, std::string{"Zm9v="}, std::string{"Zm+v"},
        std::string{"Zm/v"}, std::string{"Zm9 v"}, std::string{"Z"},
        std::string{"Zh"}, std::string{"Zm9\n"}, std::string("Zm9v\0", 5)}) {
    BOOST_TEST_INFO(text);
    BOOST_TEST(!base64url_decode(text).has_value());
  }
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_content_and_length) {
  BOOST_TEST(constant_time_equal("secret", "secret"));
  BOOST_TEST(!constant_time_equal("secret", "secreT"));
  BOOST_TEST(!constant_time_equal("secret", "secre"));
  BOOST_TEST(!constant_time_equal("", "x"));
}

BOOST_AUTO_TEST_CASE(constant_time_equal_never_accepts_two_empty_macs) {
  // An empty MAC is what a failed HMAC leaves; an empty signature must not
  // match it.
  BOOST_TEST(!constant_time_equal("", ""));
  BOOST_TEST(!constant_time_equal(std::string{}, std::string_view{}));
}

BOOST_AUTO_TEST_CASE(hmac_sha256_matches_rfc4231_case_2) {
  auto mac = hmac_sha256("Jefe", "what do ya want for nothing?");
  BOOST_REQUIRE(mac);
  static constexpr char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned char c : *mac) {
    text += hex[c >> 4];
    text += hex[c & 15];
  }
  BOOST_TEST(
    text == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(random_uuids_are_version_4_and_distinct) {
  std::regex shape{"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                   "[0-9a-f]{12}"};
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = random_uuid();
    BOOST_TEST(std::regex_match(id, shape));
    seen.insert(id);
  }
  BOOST_TEST(seen.size() == 1000u);
}

BOOST_AUTO_TEST_CASE(random_tokens_have_the_requested_entropy) {
  auto token = random_token(32);
  BOOST_REQUIRE(token);
  BOOST_TEST(token->size() == 43u);
  BOOST_TEST(base64url_decode(*token)->size() == 32u);
  BOOST_TEST(*random_token(32) != *token);
  auto id = random_id();
  BOOST_REQUIRE(id);
  BOOST_TEST(id->size() == 36u);
}

BOOST_AUTO_TEST_CASE(failing_openssl_gives_errors_never_empty_or_fixed_values) {
  miyabi::test::openssl_failure broken;
  auto mac = hmac_sha256("key", "data");
  BOOST_TEST(!mac);
  if (!mac)
    BOOST_TEST(miyabi::is(mac.error(), miyabi::errc::internal_error));
  BOOST_TEST(!random_bytes(16));
  BOOST_TEST(!random_token(32));
  BOOST_TEST(!random_id());
  BOOST_CHECK_THROW(sha256("data"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(openssl_works_again_after_a_failure) {
  { miyabi::test::openssl_failure broken; }
  BOOST_TEST(static_cast<bool>(hmac_sha256("key", "data")));
  BOOST_TEST(static_cast<bool>(random_token(16)));
}

BOOST_AUTO_TEST_SUITE_END()
