// Access tokens: JWT HS256 (RFC 7519) written on OpenSSL HMAC and RapidJSON.
//
// Verification is strict: exactly three segments of canonical base64url,
// a header that is a JSON object whose `alg` is exactly "HS256" (`none`,
// HS512, RS256 and every other value are refused) with an optional `typ` of
// "JWT" and no other member; the signature compared in constant time before
// any claim is trusted; `iss` and `aud` equal to the configured values (`aud`
// may be a string or an array containing it); `exp` required and `nbf`
// honoured with a leeway (30 s); `sub` and `jti` required strings. Every
// string and member name of header and payload must be strict UTF-8 (an
// escaped lone surrogate makes the token malformed). Tokens over
// `max_token_size` bytes are refused before any decoding. An empty
// signature segment is refused before any MAC is computed, a MAC that
// cannot be computed refuses the token, and a codec with an empty secret
// neither signs nor accepts anything (it fails closed).
//
// Immutable after construction; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <caf/expected.hpp>

namespace miyabi::domain {

/// The claims of an access token.
struct access_claims {
  std::string sub; ///< user id (UUID)
  int64_t github_id = 0;
  std::string jti; ///< token id (UUID), the key of the revocation list
  int64_t iat = 0; ///< seconds since the epoch
  int64_t nbf = 0;
  int64_t exp = 0;
};

/// Why a token was refused (the `reason` label of
/// miyabi_auth_failures_total).
enum class jwt_failure : uint8_t {
  malformed,     ///< not three canonical base64url segments of JSON objects
                 ///< whose strings are all UTF-8
  too_large,     ///< longer than max_token_size
  bad_header,    ///< alg other than HS256, unknown header members, bad typ
  bad_signature, ///< signature does not match
  bad_issuer,
  bad_audience,
  expired,       ///< exp + leeway <= now
  not_yet_valid, ///< nbf - leeway > now
  missing_claim, ///< sub, jti or exp missing or of the wrong type
  revoked,       ///< (set by the caller after a revocation-list lookup)
};

const char* to_string(jwt_failure failure);

class jwt_codec {
 public:
  static constexpr size_t max_token_size = 8192;

  jwt_codec(std::string secret, std::string issuer, std::string audience,
            std::chrono::seconds leeway = std::chrono::seconds{30});

  /// Signs `claims` with header {"alg":"HS256","typ":"JWT"}; the payload
  /// holds iss, aud, sub, github_id, iat, nbf, exp and jti. Errors:
  /// `internal_error` when the secret is empty or HMAC fails (never a
  /// token without a signature).
  caf::expected<std::string> sign(const access_claims& claims) const;

  /// Verifies `token` at `now` (seconds since the epoch).
  std::variant<access_claims, jwt_failure> verify(std::string_view token,
                                                  int64_t now) const;

 private:
  std::string secret_;
  std::string issuer_;
  std::string audience_;
  int64_t leeway_;
};

} // namespace miyabi::domain
