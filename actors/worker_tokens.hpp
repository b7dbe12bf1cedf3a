// Worker tokens on the request path: their format and the cache of
// verified tokens that the front actors share, so a worker's requests cost
// a database lookup at most once a second per token and instance.
//
// Revocation reaches every instance through the cache's lifetime: an entry
// lives one second, so a token revoked on any instance is refused
// everywhere within about one second (api.md asks for two). The instance
// that revokes forgets the token at once.
//
// Thread safety: every member function may run on any thread (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/expected.hpp>

#include "actors/protocol.hpp"

namespace miyabi::actors {

/// Whether a Bearer token is meant as a worker token (`mwk_` prefix).
bool is_worker_token(std::string_view token);

/// Whether it has a worker token's exact form: `mwk_` and 43 base64url
/// characters.
bool well_formed_worker_token(std::string_view token);

/// A fresh worker token (256 random bits). Errors: internal_error when the
/// system's random source fails.
caf::expected<std::string> new_worker_token();

class worker_token_cache {
 public:
  using clock = std::chrono::steady_clock;

  explicit worker_token_cache(
    clock::duration lifetime = std::chrono::seconds{1},
    size_t capacity = 10000);

  /// The principal verified for `token_hash` within the lifetime.
  std::optional<principal> find(const std::string& token_hash);

  void remember(const std::string& token_hash, principal who);

  void forget(const std::string& token_hash);

 private:
  struct entry {
    principal who;
    clock::time_point verified;
  };

  clock::duration lifetime_;
  size_t capacity_;
  std::mutex mtx_;
  std::unordered_map<std::string, entry> entries_;
};

} // namespace miyabi::actors
