// Small cryptographic helpers on OpenSSL: constant-time comparison, SHA-256,
// HMAC-SHA256, strict base64url and secure random tokens. Pure functions;
// any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace miyabi::actors {

/// Compares without an early exit, so timing reveals nothing but the length.
bool constant_time_equal(std::string_view a, std::string_view b);

/// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);

/// Lower-case hex of SHA-256.
std::string sha256_hex(std::string_view data);

/// Raw 32-byte HMAC-SHA256.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Base64url without padding (RFC 4648 §5, as JWS uses it).
std::string base64url_encode(std::string_view data);

/// Strict decoding: only `A-Z a-z 0-9 - _`, no padding, no whitespace, and
/// no non-zero trailing bits. Nothing when the text is not canonical.
std::optional<std::string> base64url_decode(std::string_view text);

/// `bytes` random bytes from the OpenSSL CSPRNG, base64url encoded.
std::string random_token(size_t bytes = 32);

/// A random (version 4) UUID in canonical text form.
std::string random_uuid();

} // namespace miyabi::actors
