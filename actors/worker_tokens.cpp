#include "actors/worker_tokens.hpp"

#include "base/crypto.hpp"

namespace miyabi::actors {

namespace {

constexpr std::string_view prefix = "mwk_";
constexpr size_t random_part = 43; // 32 bytes in unpadded base64url

bool base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_';
}

} // namespace

bool is_worker_token(std::string_view token) {
  return token.substr(0, prefix.size()) == prefix;
}

bool well_formed_worker_token(std::string_view token) {
  if (!is_worker_token(token) || token.size() != prefix.size() + random_part)
    return false;
  for (auto c : token.substr(prefix.size()))
    if (!base64url_char(c))
      return false;
  return true;
}

caf::expected<std::string> new_worker_token() {
  auto random = crypto::random_token(32);
  if (!random)
    return std::move(random.error());
  return std::string{prefix} + *random;
}

worker_token_cache::worker_token_cache(clock::duration lifetime,
                                       size_t capacity)
    : lifetime_(lifetime), capacity_(capacity) {}

std::optional<principal>
worker_token_cache::find(const std::string& token_hash) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(token_hash);
  if (i == entries_.end())
    return std::nullopt;
  if (clock::now() - i->second.verified >= lifetime_) {
    entries_.erase(i);
    return std::nullopt;
  }
  return i->second.who;
}

void worker_token_cache::remember(const std::string& token_hash,
                                  principal who) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = clock::now();
  if (entries_.size() >= capacity_) {
    for (auto i = entries_.begin(); i != entries_.end();)
      i = now - i->second.verified >= lifetime_ ? entries_.erase(i)
                                                : std::next(i);
    // Still full of live entries: a miss costs one lookup, so start over.
    if (entries_.size() >= capacity_)
      entries_.clear();
  }
  entries_[token_hash] = entry{std::move(who), now};
}

void worker_token_cache::forget(const std::string& token_hash) {
  std::lock_guard<std::mutex> guard{mtx_};
  entries_.erase(token_hash);
}

} // namespace miyabi::actors
