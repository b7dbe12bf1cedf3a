#include "actors/token_verifier.hpp"

#include <chrono>

#include "base/errors.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::actors {

namespace {

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

token_verifier::token_verifier(
  const config::settings& cfg,
  std::shared_ptr<metrics::service_metrics> metrics)
    : jwt_(cfg.jwt_secret, cfg.jwt_issuer, cfg.jwt_audience),
      metrics_(std::move(metrics)) {
  // Without a database nothing can be revoked: the empty list is complete.
  if (!cfg.database_enabled())
    revoked_ = std::make_shared<revocation_list>();
}

caf::expected<std::string>
token_verifier::sign(const domain::access_claims& claims) const {
  return jwt_.sign(claims);
}

std::optional<caf::expected<principal>>
token_verifier::check(const std::string& token) const {
  std::shared_ptr<const revocation_list> revoked;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    revoked = revoked_;
  }
  if (!revoked)
    return std::nullopt;
  auto verified = jwt_.verify(token, unix_now());
  if (auto* why = std::get_if<domain::jwt_failure>(&verified))
    return caf::expected<principal>{refuse(*why)};
  auto& claims = std::get<domain::access_claims>(verified);
  if (revoked->count(claims.jti) > 0)
    return caf::expected<principal>{refuse(domain::jwt_failure::revoked)};
  principal who;
  who.user_id = std::move(claims.sub);
  who.github_id = claims.github_id;
  who.jti = std::move(claims.jti);
  who.expires_at = claims.exp;
  return caf::expected<principal>{std::move(who)};
}

void token_verifier::publish(std::shared_ptr<const revocation_list> list) {
  std::lock_guard<std::mutex> guard{mtx_};
  revoked_ = std::move(list);
}

caf::error token_verifier::refuse(domain::jwt_failure why) const {
  metrics_->auth_failures[to_string(why)].Increment();
  return make_error(errc::jwt_error, "the access token is not valid",
                    to_string(why));
}

} // namespace miyabi::actors
