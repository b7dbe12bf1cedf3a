// Small cryptographic helpers on OpenSSL: constant-time comparison, SHA-256,
// HMAC-SHA256, strict base64url and secure random tokens. Pure functions;
// any thread.
//
// Every OpenSSL result is checked. A failed HMAC or random generator (a
// broken or misconfigured OpenSSL provider) is an `internal_error` value,
// never an empty MAC or a predictable token; the two functions that cannot
// return an error value (`sha256`, `random_uuid`) throw instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace miyabi::crypto {

/// Compares secrets and MACs without an early exit, so timing reveals
/// nothing but the length. An empty value never matches, not even another
/// empty one: no secret is empty, and an empty MAC is a failed computation.
bool constant_time_equal(std::string_view a, std::string_view b);

/// Raw 32-byte SHA-256 digest. Throws std::runtime_error when OpenSSL
/// cannot compute it (never returns a digest of zeros).
std::string sha256(std::string_view data);

/// Lower-case hex of SHA-256 (throws like `sha256`).
std::string sha256_hex(std::string_view data);

/// Raw 32-byte HMAC-SHA256; `internal_error` when OpenSSL fails (never an
/// empty or short MAC).
caf::expected<std::string> hmac_sha256(std::string_view key,
                                       std::string_view data);

/// Base64url without padding (RFC 4648 §5, as JWS uses it).
std::string base64url_encode(std::string_view data);

/// Strict decoding: only `A-Z a-z 0-9 - _`, no padding, no whitespace, and
/// no non-zero trailing bits. Nothing when the text is not canonical.
std::optional<std::string> base64url_decode(std::string_view text);

/// `bytes` random bytes from the OpenSSL CSPRNG; `internal_error` when
/// the generator fails (never zeros or a short result).
caf::expected<std::string> random_bytes(size_t bytes);

/// `bytes` random bytes from the OpenSSL CSPRNG, base64url encoded;
/// `internal_error` when the generator fails.
caf::expected<std::string> random_token(size_t bytes = 32);

/// A random (version 4) UUID in canonical text form, for ids that must not
/// be guessed (token ids); `internal_error` when the generator fails.
caf::expected<std::string> random_id();

/// A version 4 UUID for request ids: unique, not secret (it is echoed to
/// clients and logs), so a per-thread generator seeded once from
/// std::random_device saves a trip into OpenSSL per request. Never fails.
std::string random_uuid();

/// `bytes` random bytes in lower-case hex from the same generator as
/// `random_uuid` (trace and span ids: unique, not secret). Never fails.
std::string random_hex_id(size_t bytes);

} // namespace miyabi::crypto
