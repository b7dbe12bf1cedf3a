// libFuzzer harness: access-token verification (actors/jwt.hpp).
//
// Byte 0 picks the mode (low two bits), the rest is the material:
//   0  raw: the rest is the token, verbatim.
//   1  structured: the rest is "<header JSON>\n<payload JSON>"; both are
//      base64url-encoded and joined, and the token is signed with the fuzz
//      key when bit 2 of byte 0 is set (else with another key). Bit 3 puts
//      the canonical {"alg":"HS256","typ":"JWT"} header in front instead of
//      the fuzzed one (the whole rest is then the payload), so hostile claims
//      behind a valid signature are reached quickly.
//   2  structured, with the raw third segment taken from after a second
//      '\n' (an arbitrary signature text, base64url or not).
//   3  round trip: claims built from the bytes are signed by jwt_codec::sign
//      and must verify back to exactly those claims whenever they are valid
//      at the fixed "now", and must be refused otherwise.
//
// Every accepted token must also satisfy what the callers rely on: non-empty
// sub and jti, and exp + leeway after now.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <variant>

#include "base/crypto.hpp"
#include "domain/jwt.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

namespace domain = miyabi::domain;
namespace crypto = miyabi::crypto;

// The fuzz key; the seed tokens in fuzz/corpus/fuzz_jwt_verify were signed
// with it (see fuzz/README.md).
constexpr const char* kSecret = "miyabi-fuzz-secret-0123456789abcdef";
constexpr const char* kIssuer = "miyabi-api";
constexpr const char* kAudience = "miyabi-web";
constexpr int64_t kNow = 1800000000; // 2027-01-15T08:00:00Z
constexpr int64_t kLeeway = 30;
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

const domain::jwt_codec& codec() {
  static const domain::jwt_codec instance{kSecret, kIssuer, kAudience,
                                          std::chrono::seconds{kLeeway}};
  return instance;
}

std::string sign_with(std::string_view key, std::string_view header,
                      std::string_view payload) {
  std::string token = crypto::base64url_encode(header);
  token += '.';
  token += crypto::base64url_encode(payload);
  auto mac = crypto::hmac_sha256(key, token);
  token += '.';
  token += crypto::base64url_encode(mac ? *mac : std::string{});
  return token;
}

void check_accepted(
  const std::variant<domain::access_claims, domain::jwt_failure>& result) {
  if (const auto* claims = std::get_if<domain::access_claims>(&result)) {
    CHECK(!claims->sub.empty());
    CHECK(!claims->jti.empty());
    CHECK(claims->exp > kNow - kLeeway);
    CHECK(claims->nbf <= kNow + kLeeway);
    // Claims go on to logs and SQL parameters: valid UTF-8 only (the
    // signature makes this a defect rather than an attack).
    if (!miyabi::fuzz::skip_lone_surrogates()) {
      CHECK(miyabi::fuzz::valid_utf8(claims->sub));
      CHECK(miyabi::fuzz::valid_utf8(claims->jti));
    }
  }
}

/// Reads an int64 from up to 8 bytes of `in` (consumed).
int64_t take_int(std::string_view& in) {
  uint64_t v = 0;
  size_t n = in.size() < 8 ? in.size() : 8;
  std::memcpy(&v, in.data(), n);
  in.remove_prefix(n);
  return static_cast<int64_t>(v);
}

/// A string of 7-bit characters (valid UTF-8 whatever the bytes): the
/// length from one byte, then that many bytes.
std::string take_text(std::string_view& in) {
  if (in.empty())
    return {};
  size_t n = static_cast<uint8_t>(in.front()) % 48;
  in.remove_prefix(1);
  n = n < in.size() ? n : in.size();
  std::string out{in.substr(0, n)};
  in.remove_prefix(n);
  for (auto& c : out)
    c = static_cast<char>(c & 0x7f);
  return out;
}

void round_trip(std::string_view in) {
  domain::access_claims claims;
  uint8_t which = in.empty() ? 0 : static_cast<uint8_t>(in.front());
  if (!in.empty())
    in.remove_prefix(1);
  claims.sub = take_text(in);
  claims.jti = take_text(in);
  claims.github_id = take_int(in);
  claims.iat = take_int(in);
  // Mostly near now, sometimes anywhere (overflow of exp + leeway).
  auto exp = take_int(in);
  auto nbf = take_int(in);
  claims.exp = (which & 1) ? exp : kNow + (exp % 200);
  claims.nbf = (which & 2) ? nbf : kNow + (nbf % 200);
  auto token = codec().sign(claims).value();
  auto result = codec().verify(token, kNow);
  bool valid = !claims.sub.empty() && !claims.jti.empty() &&
               claims.exp > kNow - kLeeway && claims.nbf <= kNow + kLeeway &&
               token.size() <= domain::jwt_codec::max_token_size;
  if (!valid) {
    CHECK(std::holds_alternative<domain::jwt_failure>(result));
    return;
  }
  const auto* got = std::get_if<domain::access_claims>(&result);
  CHECK(got != nullptr);
  CHECK(got->sub == claims.sub);
  CHECK(got->jti == claims.jti);
  CHECK(got->github_id == claims.github_id);
  CHECK(got->iat == claims.iat);
  CHECK(got->nbf == claims.nbf);
  CHECK(got->exp == claims.exp);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  uint8_t mode = data[0];
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (mode & 3) {
    case 0: check_accepted(codec().verify(rest, kNow)); break;
    case 1:
    case 2: {
      std::string_view header = kHeader;
      std::string_view payload = rest;
      std::string_view signature;
      bool raw_signature = (mode & 3) == 2;
      if (!(mode & 8)) {
        auto nl = rest.find('\n');
        if (nl != std::string_view::npos) {
          header = rest.substr(0, nl);
          payload = rest.substr(nl + 1);
        }
      }
      if (raw_signature) {
        auto nl = payload.find('\n');
        if (nl != std::string_view::npos) {
          signature = payload.substr(nl + 1);
          payload = payload.substr(0, nl);
        }
      }
      std::string token = sign_with((mode & 4) ? std::string_view{kSecret}
                                               : std::string_view{"wrong-key"},
                                    header, payload);
      if (raw_signature) {
        token.erase(token.rfind('.') + 1);
        token += signature;
      }
      auto result = codec().verify(token, kNow);
      check_accepted(result);
      // Only the fuzz key can produce an accepted token.
      if (!(mode & 4) && !raw_signature)
        CHECK(std::holds_alternative<domain::jwt_failure>(result));
      break;
    }
    case 3: round_trip(rest); break;
  }
  return 0;
}
