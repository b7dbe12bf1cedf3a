#include "support/encoding.hpp"

#include <array>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>

#include <openssl/sha.h>

namespace miyabi::test {

std::string random_text(size_t n) {
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static std::mutex mtx;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> guard{mtx};
  std::uniform_int_distribution<size_t> pick{0, sizeof(alphabet) - 2};
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out += alphabet[pick(rng)];
  return out;
}

std::string s256(const std::string& verifier) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()),
         verifier.size(), md.data());
  static constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (auto byte : md) {
    bits = (bits << 8) | byte;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += alphabet[(bits >> count) & 0x3f];
    }
  }
  if (count > 0)
    out += alphabet[(bits << (6 - count)) & 0x3f];
  return out;
}

std::string url_decode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i] == '+' ? ' ' : text[i];
      continue;
    }
    auto digits = text.substr(i + 1, 2);
    if (digits.size() != 2 ||
        !std::isxdigit(static_cast<unsigned char>(digits[0])) ||
        !std::isxdigit(static_cast<unsigned char>(digits[1])))
      return text;
    out += static_cast<char>(std::strtol(digits.c_str(), nullptr, 16));
    i += 2;
  }
  return out;
}

std::map<std::string, std::string> parse_pairs(const std::string& text) {
  std::map<std::string, std::string> out;
  std::stringstream in{text};
  std::string item;
  while (std::getline(in, item, '&')) {
    if (item.empty())
      continue;
    auto eq = item.find('=');
    if (eq == std::string::npos)
      out[url_decode(item)] = "";
    else
      out[url_decode(item.substr(0, eq))] = url_decode(item.substr(eq + 1));
  }
  return out;
}

std::string value_of(const std::map<std::string, std::string>& m,
                     const std::string& key) {
  auto i = m.find(key);
  return i == m.end() ? "<absent>" : i->second;
}

} // namespace miyabi::test
