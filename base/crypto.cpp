#include "base/crypto.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "base/errors.hpp"

namespace miyabi::crypto {

namespace {

constexpr char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int8_t decode_char(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return static_cast<int8_t>(c - 'A');
  if (c >= 'a' && c <= 'z')
    return static_cast<int8_t>(c - 'a' + 26);
  if (c >= '0' && c <= '9')
    return static_cast<int8_t>(c - '0' + 52);
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

caf::error random_failed() {
  return make_error(errc::internal_error, "the random number generator failed");
}

std::string uuid_text(std::string_view raw) {
  std::array<unsigned char, 16> b{};
  std::copy(raw.begin(), raw.begin() + 16, b.begin());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out += '-';
    out += digits[b[i] >> 4];
    out += digits[b[i] & 0x0f];
  }
  return out;
}

} // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty())
    return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  if (SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
             reinterpret_cast<unsigned char*>(out.data())) == nullptr)
    throw std::runtime_error("SHA-256 failed");
  return out;
}

std::string sha256_hex(std::string_view data) {
  static constexpr char digits[] = "0123456789abcdef";
  auto raw = sha256(data);
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 0x0f];
  }
  return out;
}

caf::expected<std::string> hmac_sha256(std::string_view key,
                                       std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (key.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr ||
      len != SHA256_DIGEST_LENGTH)
    return make_error(errc::internal_error, "HMAC-SHA256 failed");
  out.resize(len);
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) {
    return static_cast<unsigned char>(data[k]);
  };
  for (; i + 2 < data.size(); i += 3) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  if (auto rest = data.size() - i; rest == 1) {
    uint32_t n = byte(i) << 16;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1)
    return std::nullopt; // No encoder produces this length.
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    auto v = decode_char(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, or two texts would decode to one value.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

caf::expected<std::string> random_bytes(size_t bytes) {
  std::string raw(bytes, '\0');
  if (bytes == 0 ||
      bytes > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(raw.size())) != 1)
    return random_failed();
  return raw;
}

caf::expected<std::string> random_token(size_t bytes) {
  auto raw = random_bytes(bytes);
  if (!raw)
    return std::move(raw.error());
  return base64url_encode(*raw);
}

caf::expected<std::string> random_id() {
  auto raw = random_bytes(16);
  if (!raw)
    return std::move(raw.error());
  return uuid_text(*raw);
}

namespace {

/// The per-thread generator of ids that are unique but not secret.
std::mt19937_64& id_generator() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  return gen;
}

} // namespace

std::string random_hex_id(size_t bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  auto& gen = id_generator();
  std::string out;
  out.reserve(bytes * 2);
  uint64_t bits = 0;
  for (size_t i = 0; i < bytes; ++i) {
    if (i % 8 == 0)
      bits = gen();
    auto b = static_cast<unsigned>((bits >> ((i % 8) * 8)) & 0xff);
    out += hex[b >> 4];
    out += hex[b & 0xF];
  }
  return out;
}

std::string random_uuid() {
  auto& gen = id_generator();
  std::array<uint64_t, 2> halves{gen(), gen()};
  std::string raw(16, '\0');
  for (size_t i = 0; i < raw.size(); ++i)
    raw[i] = static_cast<char>((halves[i / 8] >> ((i % 8) * 8)) & 0xff);
  return uuid_text(raw);
}

} // namespace miyabi::crypto
