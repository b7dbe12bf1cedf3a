// Access-token checks that any thread may run: the JWT (see jwt.hpp) and
// the revocation list that the auth actor publishes here.
//
// The front actors verify Bearer tokens with it in place, so an
// authenticated request costs no message to the auth actor; the auth actor
// remains the only writer of the list (it reads revocations from the
// database every second and adds its own logouts at once).
//
// Thread safety: every member function may run on any thread. `check`
// takes a short mutex to copy the list's pointer; the list itself is
// immutable once published.
//
// Errors of `check` (caf::error, category miyabi): jwt_error with the
// reason (a jwt_failure name) as details; each is counted in
// miyabi_auth_failures_total{reason}.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/expected.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "domain/jwt.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

/// Revoked token ids (jti) and the expiry of each token (seconds since the
/// epoch), after which the entry is dropped.
using revocation_list = std::unordered_map<std::string, int64_t>;

class token_verifier {
 public:
  token_verifier(const config::settings& cfg,
                 std::shared_ptr<metrics::service_metrics> metrics);

  /// Signs an access token (auth actor).
  caf::expected<std::string> sign(const domain::access_claims& claims) const;

  /// The principal of a valid, unrevoked token; nothing while no
  /// revocation list was published yet (the caller then waits for the
  /// auth actor, which answers once it has read the list).
  std::optional<caf::expected<principal>> check(const std::string& token) const;

  /// Replaces the revocation list (auth actor only).
  void publish(std::shared_ptr<const revocation_list> list);

  /// Counts a refused token and turns the reason into the error value.
  caf::error refuse(domain::jwt_failure why) const;

 private:
  domain::jwt_codec jwt_;
  std::shared_ptr<metrics::service_metrics> metrics_;
  mutable std::mutex mtx_;
  std::shared_ptr<const revocation_list> revoked_; ///< null until published
};

} // namespace miyabi::actors
