#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <utility>
#include <variant>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "domain/jwt.hpp"
#include "unit/openssl_failure.hpp"

using namespace miyabi::domain;
using namespace miyabi::crypto;

namespace {

constexpr char secret[] = "unit-test-secret-0123456789abcdef";
constexpr char issuer[] = "miyabi-api";
constexpr char audience[] = "miyabi-web";
constexpr int64_t now = 1'700'000'000;

constexpr char python[] = "/usr/bin/python3";

jwt_codec codec() {
  return jwt_codec{secret, issuer, audience};
}

access_claims sample_claims(int64_t at = now) {
  access_claims c;
  c.sub = "6f1c1b1e-5c4e-4b8a-9a57-0c1e8d7f2a10";
  c.github_id = 4242;
  c.jti = "0b7e4a52-2d0c-4f36-8b53-3d5f3a9c2e71";
  c.iat = at;
  c.nbf = at;
  c.exp = at + 3600;
  return c;
}

/// "ok" or the failure name, so that assertions print something readable.
std::string outcome(const std::variant<access_claims, jwt_failure>& result) {
  if (auto failure = std::get_if<jwt_failure>(&result))
    return to_string(*failure);
  return "ok";
}

std::string verify(std::string_view token, int64_t at = now) {
  return outcome(codec().verify(token, at));
}

std::array<std::string, 3> split(const std::string& token) {
  auto first = token.find('.');
  auto second = token.find('.', first + 1);
  return {token.substr(0, first), token.substr(first + 1, second - first - 1),
          token.substr(second + 1)};
}

std::string b64(std::string_view data) {
  return base64url_encode(data);
}

/// A token with an arbitrary header and payload, correctly signed with HS256.
std::string forge(std::string_view header, std::string_view payload,
                  std::string_view key = secret) {
  auto input = b64(header) + "." + b64(payload);
  return input + "." + b64(hmac_sha256(key, input).value());
}

constexpr char hs256_header[] = R"({"alg":"HS256","typ":"JWT"})";

/// Claims as raw JSON texts, in order, so tests can drop or replace one.
using members = std::vector<std::pair<std::string, std::string>>;

members standard_payload() {
  return {
    {"iss", R"("miyabi-api")"},
    {"aud", R"("miyabi-web")"},
    {"sub", R"("user-1")"},
    {"github_id", "7"},
    {"iat", std::to_string(now)},
    {"nbf", std::to_string(now)},
    {"exp", std::to_string(now + 3600)},
    {"jti", R"("token-1")"},
  };
}

members with(members m, const std::string& name, const std::string& raw) {
  for (auto& [key, value] : m) {
    if (key == name) {
      value = raw;
      return m;
    }
  }
  m.emplace_back(name, raw);
  return m;
}

members without(members m, const std::string& name) {
  members out;
  for (auto& member : m)
    if (member.first != name)
      out.push_back(std::move(member));
  return out;
}

std::string object(const members& m) {
  std::string out = "{";
  for (const auto& [key, value] : m) {
    if (out.size() > 1)
      out += ',';
    out += '"' + key + "\":" + value;
  }
  return out + "}";
}

std::string token_with(const members& m) {
  return forge(hs256_header, object(m));
}

std::string hmac_sha512(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha512(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

struct command_result {
  int status = -1;
  std::string out;
};

command_result run(const std::string& command) {
  command_result result;
  auto* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    return result;
  char buf[512];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
    result.out.append(buf, n);
  auto status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!result.out.empty() &&
         (result.out.back() == '\n' || result.out.back() == '\r'))
    result.out.pop_back();
  return result;
}

/// Runs a Python snippet (no single quotes) with Debian's interpreter in
/// isolated mode, so neither pyenv nor PYTHONPATH can substitute the module.
command_result run_python(const std::string& script,
                          const std::string& arg = "", bool quiet = false) {
  std::string command = python;
  command += " -I -c '";
  command += script;
  command += "'";
  if (!arg.empty())
    command += " '" + arg + "'";
  if (quiet)
    command += " 2>/dev/null";
  return run(command);
}

void require_pyjwt() {
  auto probe = run(std::string{python} + " -I -c 'import jwt' 2>&1");
  BOOST_REQUIRE_MESSAGE(probe.status == 0,
                        "PyJWT is not importable by "
                          << python
                          << ": install python3-jwt (apt-get install "
                             "python3-jwt); output: "
                          << probe.out);
}

std::string pyjwt_payload(int64_t at, const std::string& aud_json) {
  auto n = std::to_string(at);
  return R"({"iss":"miyabi-api","aud":)" + aud_json +
         R"(,"sub":"6f1c1b1e-5c4e-4b8a-9a57-0c1e8d7f2a10","github_id":4242,)"
         R"("iat":)" +
         n + R"(,"nbf":)" + n + R"(,"exp":)" + std::to_string(at + 3600) +
         R"(,"jti":"0b7e4a52-2d0c-4f36-8b53-3d5f3a9c2e71"})";
}

std::string pyjwt_encode(const std::string& payload, const std::string& key,
                         const std::string& algorithm) {
  auto minted = run_python("import jwt; print(jwt.encode(" + payload + ", " +
                           key + ", algorithm=\"" + algorithm + "\"))");
  BOOST_REQUIRE_MESSAGE(minted.status == 0, "PyJWT failed to encode");
  return minted.out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(jwt)

BOOST_AUTO_TEST_CASE(a_token_signed_here_verifies_with_all_its_claims) {
  auto claims = sample_claims();
  auto token = codec().sign(claims).value();
  auto result = codec().verify(token, now);
  BOOST_REQUIRE_EQUAL(outcome(result), "ok");
  const auto& got = std::get<access_claims>(result);
  BOOST_TEST(got.sub == claims.sub);
  BOOST_TEST(got.github_id == claims.github_id);
  BOOST_TEST(got.jti == claims.jti);
  BOOST_TEST(got.iat == claims.iat);
  BOOST_TEST(got.nbf == claims.nbf);
  BOOST_TEST(got.exp == claims.exp);
}

BOOST_AUTO_TEST_CASE(a_signed_token_has_the_fixed_header_and_ordered_payload) {
  access_claims c;
  c.sub = "u-1";
  c.github_id = 42;
  c.jti = "j-1";
  c.iat = 1;
  c.nbf = 2;
  c.exp = 3;
  auto parts = split(codec().sign(c).value());
  BOOST_TEST(*base64url_decode(parts[0]) == hs256_header);
  BOOST_TEST(*base64url_decode(parts[1]) ==
             R"({"iss":"miyabi-api","aud":"miyabi-web","sub":"u-1",)"
             R"("github_id":42,"iat":1,"nbf":2,"exp":3,"jti":"j-1"})");
  BOOST_TEST(base64url_decode(parts[2])->size() == 32u);
}

BOOST_AUTO_TEST_CASE(non_ascii_claims_round_trip) {
  auto claims = sample_claims();
  claims.sub = "\xe3\x83\xa6\xe3\x83\xbc\xe3\x82\xb6"; // katakana
  claims.jti = "tab\there \"quoted\" \\ slash";
  auto result = codec().verify(codec().sign(claims).value(), now);
  BOOST_REQUIRE_EQUAL(outcome(result), "ok");
  BOOST_TEST(std::get<access_claims>(result).sub == claims.sub);
  BOOST_TEST(std::get<access_claims>(result).jti == claims.jti);
}

BOOST_AUTO_TEST_CASE(every_failure_has_a_snake_case_name) {
  BOOST_TEST(to_string(jwt_failure::malformed) == std::string{"malformed"});
  BOOST_TEST(to_string(jwt_failure::too_large) == std::string{"too_large"});
  BOOST_TEST(to_string(jwt_failure::bad_header) == std::string{"bad_header"});
  BOOST_TEST(to_string(jwt_failure::bad_signature) ==
             std::string{"bad_signature"});
  BOOST_TEST(to_string(jwt_failure::bad_issuer) == std::string{"bad_issuer"});
  BOOST_TEST(to_string(jwt_failure::bad_audience) ==
             std::string{"bad_audience"});
  BOOST_TEST(to_string(jwt_failure::expired) == std::string{"expired"});
  BOOST_TEST(to_string(jwt_failure::not_yet_valid) ==
             std::string{"not_yet_valid"});
  BOOST_TEST(to_string(jwt_failure::missing_claim) ==
             std::string{"missing_claim"});
  BOOST_TEST(to_string(jwt_failure::revoked) == std::string{"revoked"});
}

BOOST_AUTO_TEST_CASE(a_tampered_payload_is_refused_as_a_bad_signature) {
  auto parts = split(codec().sign(sample_claims()).value());
  auto payload = *base64url_decode(parts[1]);
  auto pos = payload.find("4242");
  BOOST_REQUIRE(pos != std::string::npos);
  payload.replace(pos, 4, "4243");
  BOOST_TEST(verify(parts[0] + "." + b64(payload) + "." + parts[2]) ==
             "bad_signature");
}

BOOST_AUTO_TEST_CASE(a_tampered_signature_is_refused) {
  auto parts = split(codec().sign(sample_claims()).value());
  auto flipped = parts[2];
  flipped[0] = flipped[0] == 'A' ? 'B' : 'A';
  BOOST_TEST(verify(parts[0] + "." + parts[1] + "." + flipped) ==
             "bad_signature");
  // Canonical but of the wrong length: a prefix, an empty signature, and
  // the right MAC with a byte appended.
  auto mac = *base64url_decode(parts[2]);
  for (const auto& sig :
       {b64(mac.substr(0, 16)), std::string{}, b64(mac + "x")}) {
    BOOST_TEST_INFO(sig);
    BOOST_TEST(verify(parts[0] + "." + parts[1] + "." + sig) ==
               "bad_signature");
  }
}

BOOST_AUTO_TEST_CASE(a_token_with_an_empty_signature_is_refused) {
  auto token = codec().sign(sample_claims()).value();
  auto parts = split(token);
  auto unsigned_token = parts[0] + "." + parts[1] + ".";
  BOOST_TEST(verify(unsigned_token) == "bad_signature");
  // A failed HMAC leaves no MAC at all: an empty signature must not match
  // it, and neither may a genuine one.
  miyabi::test::openssl_failure broken;
  BOOST_TEST(verify(unsigned_token) == "bad_signature");
  BOOST_TEST(verify(token) == "bad_signature");
}

BOOST_AUTO_TEST_CASE(signing_fails_instead_of_leaving_the_signature_empty) {
  {
    miyabi::test::openssl_failure broken;
    auto token = codec().sign(sample_claims());
    BOOST_TEST(!token);
    if (!token)
      BOOST_TEST(miyabi::is(token.error(), miyabi::errc::internal_error));
  }
  // A codec without a key signs nothing and accepts nothing, not even a
  // token made with the empty key.
  jwt_codec keyless{"", issuer, audience};
  BOOST_TEST(!keyless.sign(sample_claims()));
  auto forged = forge(hs256_header, object(standard_payload()), "");
  BOOST_TEST(outcome(keyless.verify(forged, now)) == "bad_signature");
  auto parts = split(forged);
  BOOST_TEST(outcome(keyless.verify(parts[0] + "." + parts[1] + ".", now)) ==
             "bad_signature");
}

BOOST_AUTO_TEST_CASE(a_wrong_secret_is_refused_as_a_bad_signature) {
  jwt_codec other{"another-secret", issuer, audience};
  BOOST_TEST(verify(other.sign(sample_claims()).value()) == "bad_signature");
  BOOST_TEST(verify(forge(hs256_header, object(standard_payload()), "")) ==
             "bad_signature");
}

BOOST_AUTO_TEST_CASE(alg_none_is_refused_with_or_without_a_signature) {
  auto payload = b64(object(standard_payload()));
  for (auto header : {R"({"alg":"none","typ":"JWT"})", R"({"alg":"none"})",
                      R"({"alg":"None"})"}) {
    BOOST_TEST_INFO(header);
    auto input = b64(header) + "." + payload;
    BOOST_TEST(verify(input + ".") == "bad_header");
    BOOST_TEST(verify(input + "." + b64(hmac_sha256(secret, input).value())) ==
               "bad_header");
    // Without a third segment at all it is not even a JWS.
    BOOST_TEST(verify(input) == "malformed");
  }
}

BOOST_AUTO_TEST_CASE(an_hs512_header_is_refused_even_with_a_valid_signature) {
  auto input = b64(R"({"alg":"HS512","typ":"JWT"})") + "." +
               b64(object(standard_payload()));
  BOOST_TEST(verify(input + "." + b64(hmac_sha512(secret, input))) ==
             "bad_header");
  // Same bytes, HS256 MAC: still only the alg decides.
  BOOST_TEST(verify(input + "." + b64(hmac_sha256(secret, input).value())) ==
             "bad_header");
  for (auto alg : {"RS256", "ES256", "HS384", "PS256", "EdDSA", ""}) {
    BOOST_TEST_INFO(alg);
    auto header = std::string{R"({"alg":")"} + alg + R"("})";
    BOOST_TEST(verify(forge(header, object(standard_payload()))) ==
               "bad_header");
  }
}

BOOST_AUTO_TEST_CASE(the_alg_comparison_is_exact_and_case_sensitive) {
  for (auto header :
       {R"({"alg":"hs256"})", R"({"alg":"Hs256"})", R"({"alg":"HS256 "})",
        R"({"alg":" HS256"})", R"({"alg":"HS256\u0000"})",
        R"({"alg":["HS256"]})", R"({"alg":null})", R"({"alg":256})"}) {
    BOOST_TEST_INFO(header);
    BOOST_TEST(verify(forge(header, object(standard_payload()))) ==
               "bad_header");
  }
}

BOOST_AUTO_TEST_CASE(a_header_with_any_extra_member_is_refused) {
  for (auto header :
       {R"({"alg":"HS256","typ":"JWT","kid":"k1"})",
        R"({"kid":"k1","alg":"HS256"})", R"({"alg":"HS256","crit":["exp"]})",
        R"({"alg":"HS256","jku":"https://evil.example/keys"})",
        R"({"alg":"HS256","b64":false})", R"({"alg":"HS256","cty":"JWT"})"}) {
    BOOST_TEST_INFO(header);
    BOOST_TEST(verify(forge(header, object(standard_payload()))) ==
               "bad_header");
  }
}

BOOST_AUTO_TEST_CASE(a_typ_other_than_jwt_is_refused) {
  for (auto header :
       {R"({"alg":"HS256","typ":"jwt"})", R"({"alg":"HS256","typ":"at+jwt"})",
        R"({"alg":"HS256","typ":""})", R"({"alg":"HS256","typ":null})",
        R"({"alg":"HS256","typ":1})"}) {
    BOOST_TEST_INFO(header);
    BOOST_TEST(verify(forge(header, object(standard_payload()))) ==
               "bad_header");
  }
}

BOOST_AUTO_TEST_CASE(a_header_without_typ_and_in_any_member_order_is_accepted) {
  BOOST_TEST(verify(forge(R"({"alg":"HS256"})", object(standard_payload()))) ==
             "ok");
  BOOST_TEST(verify(forge(R"( { "typ" : "JWT" , "alg" : "HS256" } )",
                          object(standard_payload()))) == "ok");
}

BOOST_AUTO_TEST_CASE(a_header_without_exactly_one_alg_is_a_bad_header) {
  for (auto header :
       {"{}", R"({"typ":"JWT"})", R"({"alg":"HS256","alg":"HS256"})",
        R"({"alg":"HS256","alg":"none"})", R"({"alg":"none","alg":"HS256"})",
        R"({"alg":"HS256","typ":"JWT","typ":"JWT"})"}) {
    BOOST_TEST_INFO(header);
    BOOST_TEST(verify(forge(header, object(standard_payload()))) ==
               "bad_header");
  }
}

BOOST_AUTO_TEST_CASE(a_header_that_is_not_a_json_object_is_malformed) {
  for (const std::string& header :
       {std::string{R"(["HS256"])"}, std::string{R"("HS256")"},
        std::string{"null"}, std::string{""}, std::string{"{"},
        std::string{R"({"alg":"HS256"} x)"},
        std::string{R"({"alg":"HS256"}{})"},
        std::string{"{\"alg\":\"HS256\",\"typ\":\"J\xffT\"}"},
        std::string("{\"alg\":\"HS256\"}\0", 16)}) {
    BOOST_TEST_INFO(header);
    BOOST_TEST(verify(forge(header, object(standard_payload()))) ==
               "malformed");
  }
}

BOOST_AUTO_TEST_CASE(a_wrong_or_missing_issuer_is_refused) {
  auto base = standard_payload();
  BOOST_TEST(verify(token_with(with(base, "iss", R"("someone-else")"))) ==
             "bad_issuer");
  BOOST_TEST(verify(token_with(with(base, "iss", R"("miyabi-api ")"))) ==
             "bad_issuer");
  BOOST_TEST(verify(token_with(with(base, "iss", R"("MIYABI-API")"))) ==
             "bad_issuer");
  BOOST_TEST(verify(token_with(with(base, "iss", R"("")"))) == "bad_issuer");
  BOOST_TEST(verify(token_with(with(base, "iss", R"(["miyabi-api"])"))) ==
             "bad_issuer");
  BOOST_TEST(verify(token_with(with(base, "iss", "null"))) == "bad_issuer");
  BOOST_TEST(verify(token_with(without(base, "iss"))) == "bad_issuer");
  jwt_codec other_issuer{secret, "other-issuer", audience};
  BOOST_TEST(verify(other_issuer.sign(sample_claims()).value()) ==
             "bad_issuer");
}

BOOST_AUTO_TEST_CASE(a_wrong_or_missing_audience_is_refused) {
  auto base = standard_payload();
  BOOST_TEST(verify(token_with(with(base, "aud", R"("miyabi-admin")"))) ==
             "bad_audience");
  BOOST_TEST(verify(token_with(with(base, "aud", R"("miyabi-web/")"))) ==
             "bad_audience");
  BOOST_TEST(verify(token_with(with(base, "aud", "42"))) == "bad_audience");
  BOOST_TEST(verify(token_with(with(base, "aud", R"({"aud":"miyabi-web"})"))) ==
             "bad_audience");
  BOOST_TEST(verify(token_with(without(base, "aud"))) == "bad_audience");
  jwt_codec other_audience{secret, issuer, "other-audience"};
  BOOST_TEST(verify(other_audience.sign(sample_claims()).value()) ==
             "bad_audience");
}

BOOST_AUTO_TEST_CASE(an_audience_array_must_contain_the_audience) {
  auto base = standard_payload();
  BOOST_TEST(verify(token_with(with(base, "aud", R"(["miyabi-web"])"))) ==
             "ok");
  BOOST_TEST(verify(token_with(
               with(base, "aud", R"(["other","miyabi-web","more"])"))) == "ok");
  BOOST_TEST(verify(token_with(with(base, "aud", R"(["other","more"])"))) ==
             "bad_audience");
  BOOST_TEST(verify(token_with(with(base, "aud", "[]"))) == "bad_audience");
  BOOST_TEST(verify(token_with(with(base, "aud", R"([["miyabi-web"]])"))) ==
             "bad_audience");
  // Not an array of strings, even though it holds the audience.
  BOOST_TEST(verify(token_with(with(base, "aud", R"(["miyabi-web",1])"))) ==
             "bad_audience");
}

BOOST_AUTO_TEST_CASE(exp_is_accepted_iff_exp_plus_30_is_after_now) {
  auto base = standard_payload();
  auto at = [&](int64_t offset) {
    return verify(token_with(with(base, "exp", std::to_string(now + offset))));
  };
  BOOST_TEST(at(3600) == "ok");
  BOOST_TEST(at(0) == "ok");
  BOOST_TEST(at(-29) == "ok");
  BOOST_TEST(at(-30) == "expired");
  BOOST_TEST(at(-31) == "expired");
  BOOST_TEST(at(-100000) == "expired");
  auto claims = sample_claims();
  claims.exp = now - 31;
  BOOST_TEST(verify(codec().sign(claims).value()) == "expired");
  claims.exp = now - 29;
  BOOST_TEST(verify(codec().sign(claims).value()) == "ok");
  jwt_codec strict{secret, issuer, audience, std::chrono::seconds{0}};
  BOOST_TEST(outcome(strict.verify(codec().sign(claims).value(), now)) ==
             "expired");
}

BOOST_AUTO_TEST_CASE(nbf_in_the_future_is_refused_beyond_the_leeway_only) {
  auto base = standard_payload();
  auto at = [&](int64_t offset) {
    return verify(token_with(with(base, "nbf", std::to_string(now + offset))));
  };
  BOOST_TEST(at(-1000) == "ok");
  BOOST_TEST(at(29) == "ok");
  BOOST_TEST(at(30) == "ok");
  BOOST_TEST(at(31) == "not_yet_valid");
  BOOST_TEST(at(3000) == "not_yet_valid");
}

BOOST_AUTO_TEST_CASE(missing_or_mistyped_exp_sub_or_jti_is_a_missing_claim) {
  auto base = standard_payload();
  for (const auto& name : {"exp", "sub", "jti"}) {
    BOOST_TEST_INFO(name);
    BOOST_TEST(verify(token_with(without(base, name))) == "missing_claim");
    BOOST_TEST(verify(token_with(with(base, name, "null"))) == "missing_claim");
    BOOST_TEST(verify(token_with(with(base, name, "true"))) == "missing_claim");
    BOOST_TEST(verify(token_with(with(base, name, "{}"))) == "missing_claim");
  }
  BOOST_TEST(verify(token_with(with(base, "exp", R"("1700003600")"))) ==
             "missing_claim");
  BOOST_TEST(verify(token_with(with(base, "sub", "12"))) == "missing_claim");
  BOOST_TEST(verify(token_with(with(base, "sub", R"("")"))) == "missing_claim");
  BOOST_TEST(verify(token_with(with(base, "jti", R"("")"))) == "missing_claim");
}

BOOST_AUTO_TEST_CASE(optional_claims_default_to_zero_and_are_type_checked) {
  auto base =
    without(without(without(standard_payload(), "github_id"), "iat"), "nbf");
  auto result = codec().verify(token_with(base), now);
  BOOST_REQUIRE_EQUAL(outcome(result), "ok");
  const auto& got = std::get<access_claims>(result);
  BOOST_TEST(got.github_id == 0);
  BOOST_TEST(got.iat == 0);
  BOOST_TEST(got.nbf == 0);
  BOOST_TEST(got.sub == "user-1");
  BOOST_TEST(got.jti == "token-1");
  BOOST_TEST(got.exp == now + 3600);
  for (const auto& [name, raw] : members{{"github_id", R"("7")"},
                                         {"github_id", "7.5"},
                                         {"github_id", "null"},
                                         {"github_id", "18446744073709551615"},
                                         {"iat", R"("now")"},
                                         {"iat", "null"},
                                         {"nbf", R"("0")"},
                                         {"nbf", "[]"}}) {
    BOOST_TEST_INFO(name << " = " << raw);
    BOOST_TEST(verify(token_with(with(standard_payload(), name, raw))) ==
               "missing_claim");
  }
  // Unknown claims are ignored.
  BOOST_TEST(
    verify(token_with(with(standard_payload(), "scope", R"("all")"))) == "ok");
}

BOOST_AUTO_TEST_CASE(float_and_huge_times_saturate_without_overflow) {
  auto base = standard_payload();
  auto claims_of = [&](const members& m, int64_t at = now) {
    return codec().verify(token_with(m), at);
  };
  constexpr auto max = std::numeric_limits<int64_t>::max();
  constexpr auto min = std::numeric_limits<int64_t>::min();
  // A fractional exp is floored and a fractional nbf ceiled, so rounding
  // never extends the validity window.
  auto r = claims_of(with(base, "exp", std::to_string(now + 100) + ".75"));
  BOOST_REQUIRE_EQUAL(outcome(r), "ok");
  BOOST_TEST(std::get<access_claims>(r).exp == now + 100);
  BOOST_TEST(outcome(claims_of(with(
               base, "exp", std::to_string(now - 30) + ".9"))) == "expired");
  BOOST_TEST(
    outcome(claims_of(with(base, "nbf", std::to_string(now + 30) + ".1"))) ==
    "not_yet_valid");
  r = claims_of(with(base, "exp", "1.7e9"));
  BOOST_REQUIRE_EQUAL(outcome(r), "ok");
  BOOST_TEST(std::get<access_claims>(r).exp == 1'700'000'000);
  // exp + leeway would overflow for all of these.
  for (auto raw : {"1e300", "1.8e19", "9223372036854775807",
                   "9223372036854775808", "18446744073709551615"}) {
    BOOST_TEST_INFO(raw);
    r = claims_of(with(base, "exp", raw), max - 1);
    BOOST_REQUIRE_EQUAL(outcome(r), "ok");
    BOOST_TEST(std::get<access_claims>(r).exp == max);
  }
  for (auto raw : {"-1e300", "-9223372036854775808", "-9.3e18", "-0.5"}) {
    BOOST_TEST_INFO(raw);
    BOOST_TEST(outcome(claims_of(with(base, "exp", raw))) == "expired");
  }
  // nbf - leeway would overflow.
  r = claims_of(with(base, "nbf", "-1e300"));
  BOOST_REQUIRE_EQUAL(outcome(r), "ok");
  BOOST_TEST(std::get<access_claims>(r).nbf == min);
  BOOST_TEST(outcome(claims_of(with(base, "nbf", "1e300"))) == "not_yet_valid");
  r = claims_of(with(base, "iat", "-1e300"));
  BOOST_REQUIRE_EQUAL(outcome(r), "ok");
  BOOST_TEST(std::get<access_claims>(r).iat == min);
  // A negative leeway saturates the other way.
  jwt_codec negative{secret, issuer, audience, std::chrono::seconds{-30}};
  auto with_negative = [&](const members& m) {
    return outcome(negative.verify(token_with(m), now));
  };
  BOOST_TEST(with_negative(with(base, "exp", "-9223372036854775808")) ==
             "expired");
  BOOST_TEST(with_negative(with(base, "nbf", "9223372036854775807")) ==
             "not_yet_valid");
  BOOST_TEST(with_negative(with(base, "exp", std::to_string(now + 30))) ==
             "expired");
  // Out of double range is not a number RapidJSON accepts.
  BOOST_TEST(outcome(claims_of(with(base, "exp", "1e400"))) == "malformed");
}

BOOST_AUTO_TEST_CASE(
  checks_run_in_order_size_segments_header_signature_claims) {
  auto base = standard_payload();
  auto big = std::string(9000, '!');
  BOOST_TEST(verify(big) == "too_large");
  // Undecodable segments win over a bad alg.
  BOOST_TEST(verify(b64(R"({"alg":"none"})") + "." + b64(object(base)) +
                    ".+") == "malformed");
  // A bad alg wins over a bad signature.
  BOOST_TEST(verify(forge(R"({"alg":"none"})", object(base), "wrong")) ==
             "bad_header");
  // A bad signature wins over every claim problem.
  BOOST_TEST(verify(forge(hs256_header, "[]", "wrong")) == "bad_signature");
  BOOST_TEST(verify(forge(hs256_header, object(without(base, "iss")),
                          "wrong")) == "bad_signature");
  auto broken = with(with(base, "iss", R"("x")"), "aud", R"("y")");
  broken = with(with(broken, "exp", "1"), "nbf", std::to_string(now + 999));
  broken = without(without(broken, "sub"), "jti");
  BOOST_TEST(verify(token_with(broken)) == "bad_issuer");
  broken = with(broken, "iss", R"("miyabi-api")");
  BOOST_TEST(verify(token_with(broken)) == "bad_audience");
  broken = with(broken, "aud", R"("miyabi-web")");
  BOOST_TEST(verify(token_with(broken)) == "expired");
  broken = with(broken, "exp", std::to_string(now + 60));
  BOOST_TEST(verify(token_with(broken)) == "not_yet_valid");
  broken = with(broken, "nbf", std::to_string(now));
  BOOST_TEST(verify(token_with(broken)) == "missing_claim");
  broken = with(with(broken, "sub", R"("s")"), "jti", R"("j")");
  BOOST_TEST(verify(token_with(broken)) == "ok");
}

BOOST_AUTO_TEST_CASE(a_token_that_is_not_three_segments_is_malformed) {
  auto token = codec().sign(sample_claims()).value();
  auto parts = split(token);
  for (const auto& bad :
       {std::string{}, std::string{"."}, std::string{".."}, std::string{"..."},
        parts[0], parts[0] + "." + parts[1], token + ".",
        token + "." + parts[2], "." + token,
        parts[0] + ".." + parts[1] + "." + parts[2]}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(verify(bad) == "malformed");
  }
}

BOOST_AUTO_TEST_CASE(non_base64url_characters_are_malformed) {
  auto token = codec().sign(sample_claims()).value();
  auto parts = split(token);
  // Overwrites rather than inserts, so the segment length stays canonical
  // and only the character itself can be at fault.
  auto tweak = [&](size_t segment, std::string_view bad) {
    auto copy = parts;
    copy[segment].replace(copy[segment].size() / 2, bad.size(), bad);
    return copy[0] + "." + copy[1] + "." + copy[2];
  };
  for (std::string_view ch :
       {std::string_view{"+"}, std::string_view{"/"}, std::string_view{"="},
        std::string_view{" "}, std::string_view{"\n"}, std::string_view{"\t"},
        std::string_view{"\xc3\xa9"}, std::string_view{"\xff"},
        std::string_view{"%"}, std::string_view{"\0", 1}}) {
    for (size_t segment = 0; segment < 3; ++segment) {
      BOOST_TEST_INFO("segment " << segment << " char " << ch);
      BOOST_TEST(verify(tweak(segment, ch)) == "malformed");
    }
  }
  // Replacing, not inserting, so the length stays canonical.
  for (char c : {'+', '/', '=', ' '}) {
    auto sig = parts[2];
    sig[0] = c;
    BOOST_TEST_INFO("char " << c);
    BOOST_TEST(verify(parts[0] + "." + parts[1] + "." + sig) == "malformed");
  }
  BOOST_TEST(verify(token + " ") == "malformed");
  BOOST_TEST(verify(" " + token) == "malformed");
}

BOOST_AUTO_TEST_CASE(padded_or_non_canonical_segments_are_malformed) {
  auto token = codec().sign(sample_claims()).value();
  auto parts = split(token);
  BOOST_REQUIRE(parts[2].size() % 4 == 3);
  BOOST_TEST(verify(token + "=") == "malformed");
  auto payload = *base64url_decode(parts[1]);
  while (b64(payload).size() % 4 == 0)
    payload += ' ';
  auto padded = b64(payload);
  while (padded.size() % 4 != 0)
    padded += '=';
  auto input = parts[0] + "." + padded;
  BOOST_TEST(verify(input + "." + b64(hmac_sha256(secret, input).value())) ==
             "malformed");
  // Non-zero trailing bits: the last character of a 43-character segment
  // only carries 4 bits.
  auto sig = parts[2];
  sig.back() = sig.back() == 'B' ? 'C' : 'B';
  BOOST_TEST(verify(parts[0] + "." + parts[1] + "." + sig) == "malformed");
}

BOOST_AUTO_TEST_CASE(a_token_over_8192_bytes_is_too_large) {
  auto claims = sample_claims();
  claims.sub = std::string(9000, 'a');
  auto huge = codec().sign(claims).value();
  BOOST_TEST(huge.size() > 9000u);
  BOOST_TEST(verify(huge) == "too_large");
  BOOST_TEST(verify(std::string(9000, 'A')) == "too_large");
  BOOST_TEST(verify(std::string(jwt_codec::max_token_size + 1, 'A')) ==
             "too_large");
  BOOST_TEST(verify(std::string(jwt_codec::max_token_size, 'A')) ==
             "malformed");
  // A valid token of exactly the limit still verifies, one byte more not.
  std::string at_limit;
  for (size_t n = 5000; n < 9000 && at_limit.size() < 8192; ++n) {
    claims.sub.assign(n, 'a');
    at_limit = codec().sign(claims).value();
  }
  BOOST_REQUIRE_EQUAL(at_limit.size(), jwt_codec::max_token_size);
  BOOST_TEST(verify(at_limit) == "ok");
  BOOST_TEST(verify(at_limit + "A") == "too_large");
}

BOOST_AUTO_TEST_CASE(a_payload_that_is_not_a_json_object_is_malformed) {
  for (const std::string& payload :
       {std::string{R"(["miyabi-api","miyabi-web"])"}, std::string{"[]"},
        std::string{R"("sub")"}, std::string{"42"}, std::string{"null"},
        std::string{""}, std::string{"{"}, std::string{R"({"iss":})"},
        std::string{R"({'iss':'miyabi-api'})"},
        object(standard_payload()) + "x", object(standard_payload()) + "{}",
        object(standard_payload()) + std::string(1, '\0')}) {
    BOOST_TEST_INFO(payload);
    BOOST_TEST(verify(forge(hs256_header, payload)) == "malformed");
  }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_the_payload_is_malformed) {
  for (auto bad : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe3\x83", "a\x80"}) {
    BOOST_TEST_INFO(bad);
    auto sub = std::string{"\"u"} + bad + "\"";
    BOOST_TEST(verify(token_with(with(standard_payload(), "sub", sub))) ==
               "malformed");
    // Also in a claim nobody reads: the whole document must be valid.
    BOOST_TEST(verify(token_with(with(standard_payload(), "x", sub))) ==
               "malformed");
  }
}

BOOST_AUTO_TEST_CASE(
  a_lone_low_surrogate_escape_in_a_signed_token_is_malformed) {
  // RapidJSON 1.1.0 decodes these to invalid UTF-8; `sub` and `jti` would
  // reach SQL parameters.
  for (std::string escape : {R"(\udc4d)", R"(\uDC00)", R"(\udfff)"}) {
    auto text = "\"u" + escape + "\"";
    BOOST_TEST_INFO(text);
    BOOST_TEST(verify(token_with(with(standard_payload(), "jti", text))) ==
               "malformed");
    BOOST_TEST(verify(token_with(with(standard_payload(), "sub", text))) ==
               "malformed");
    // Anywhere in the document, member names included.
    BOOST_TEST(verify(token_with(
                 with(standard_payload(), "x", "[{\"y\":" + text + "}]"))) ==
               "malformed");
    BOOST_TEST(verify(token_with(
                 with(standard_payload(), "n" + escape, "1"))) == "malformed");
    BOOST_TEST(verify(forge(R"({"alg":"HS256","typ":"JWT","x":)" + text + "}",
                            object(standard_payload()))) == "malformed");
  }
}

BOOST_AUTO_TEST_CASE(an_escaped_surrogate_pair_in_a_claim_is_one_character) {
  auto result = codec().verify(
    token_with(with(standard_payload(), "jti", R"("\ud83d\ude00")")), now);
  BOOST_REQUIRE_EQUAL(outcome(result), "ok");
  BOOST_TEST(std::get<access_claims>(result).jti == "\xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_CASE(a_duplicated_registered_claim_is_malformed) {
  auto base = standard_payload();
  base.emplace_back("sub", R"("admin")");
  BOOST_TEST(verify(token_with(base)) == "malformed");
  auto twice_exp = standard_payload();
  twice_exp.emplace_back("exp", std::to_string(now + 999999));
  BOOST_TEST(verify(token_with(twice_exp)) == "malformed");
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_within_the_size_limit_is_handled) {
  std::string deep = std::string(2500, '[') + std::string(2500, ']');
  BOOST_TEST(verify(token_with(with(standard_payload(), "x", deep))) == "ok");
  BOOST_TEST(verify(forge(std::string(5000, '['),
                          object(standard_payload()))) == "malformed");
}

BOOST_AUTO_TEST_CASE(tokens_minted_by_pyjwt_verify_here) {
  require_pyjwt();
  for (const std::string& aud :
       {std::string{R"("miyabi-web")"},
        std::string{R"(["someone-else","miyabi-web"])"}}) {
    BOOST_TEST_INFO("aud " << aud);
    auto token = pyjwt_encode(pyjwt_payload(now, aud),
                              "\"" + std::string{secret} + "\"", "HS256");
    auto result = codec().verify(token, now + 10);
    BOOST_REQUIRE_EQUAL(outcome(result), "ok");
    const auto& got = std::get<access_claims>(result);
    BOOST_TEST(got.sub == "6f1c1b1e-5c4e-4b8a-9a57-0c1e8d7f2a10");
    BOOST_TEST(got.jti == "0b7e4a52-2d0c-4f36-8b53-3d5f3a9c2e71");
    BOOST_TEST(got.github_id == 4242);
    BOOST_TEST(got.iat == now);
    BOOST_TEST(got.nbf == now);
    BOOST_TEST(got.exp == now + 3600);
    BOOST_TEST(outcome(codec().verify(token, now + 3600 + 30)) == "expired");
  }
  auto wrong_key = pyjwt_encode(pyjwt_payload(now, R"("miyabi-web")"),
                                R"("not-the-secret")", "HS256");
  BOOST_TEST(verify(wrong_key) == "bad_signature");
}

BOOST_AUTO_TEST_CASE(tokens_signed_here_decode_with_pyjwt) {
  require_pyjwt();
  auto claims = sample_claims(static_cast<int64_t>(std::time(nullptr)));
  auto token = codec().sign(claims).value();
  auto decoded = run_python(
    "import jwt, sys; c = jwt.decode(sys.argv[1], \"" + std::string{secret} +
      "\", algorithms=[\"HS256\"], audience=\"" + audience + "\", issuer=\"" +
      issuer +
      "\"); print(c[\"sub\"], c[\"jti\"], c[\"github_id\"], "
      "c[\"exp\"] - c[\"iat\"])",
    token);
  BOOST_REQUIRE_MESSAGE(decoded.status == 0, "PyJWT refused " << token);
  BOOST_TEST(decoded.out == claims.sub + " " + claims.jti + " 4242 3600");
  // And PyJWT refuses it under another secret, as a sanity check of the
  // harness itself.
  auto refused = run_python(
    "import jwt, sys; jwt.decode(sys.argv[1], \"nope\", "
    "algorithms=[\"HS256\"], audience=\"miyabi-web\", issuer=\"miyabi-api\")",
    token, true);
  BOOST_TEST(refused.status != 0);
}

BOOST_AUTO_TEST_CASE(pyjwt_hs512_and_none_tokens_are_refused_as_bad_header) {
  require_pyjwt();
  auto payload = pyjwt_payload(now, R"("miyabi-web")");
  auto hs512 =
    pyjwt_encode(payload, "\"" + std::string{secret} + "\"", "HS512");
  BOOST_TEST(*base64url_decode(split(hs512)[0]) ==
             R"({"alg":"HS512","typ":"JWT"})");
  BOOST_TEST(verify(hs512) == "bad_header");
  auto none = pyjwt_encode(payload, "None", "none");
  BOOST_TEST(none.back() == '.');
  BOOST_TEST(*base64url_decode(split(none)[0]) ==
             R"({"alg":"none","typ":"JWT"})");
  BOOST_TEST(verify(none) == "bad_header");
}

BOOST_AUTO_TEST_SUITE_END()
