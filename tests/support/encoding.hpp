// Text helpers of the tests and fakes, written independently of the
// service's own code (a bug there must not hide in both): random tokens,
// PKCE S256, percent-decoding and `a=1&b=2` pairs.
//
// Threads: any; random_text is safe to call from several at once.
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace miyabi::test {

/// `n` characters from [A-Za-z0-9].
std::string random_text(size_t n);

/// The PKCE S256 challenge of a verifier (RFC 7636): BASE64URL(SHA256(v)),
/// without padding.
std::string s256(const std::string& verifier);

/// A percent-decoded component (`+` is a space, as in forms); the raw text
/// when it is not valid percent-encoding.
std::string url_decode(const std::string& text);

/// `a=1&b=2` (query, fragment or form body), decoded; a name without `=`
/// maps to "".
std::map<std::string, std::string> parse_pairs(const std::string& text);

/// The value of `key`, or "<absent>".
std::string value_of(const std::map<std::string, std::string>& m,
                     const std::string& key);

} // namespace miyabi::test
