// The auth actor (registered as names::auth): verifies access tokens for the
// front actor, and owns the operations under /api/v1/auth: GitHub login
// (state bound to an HttpOnly cookie and stored in PostgreSQL, PKCE S256),
// token refresh with rotation and reuse detection, logout, /me and /mock.
//
// Messages:
//   (verify_atom, token) -> principal   errors: jwt_error (details: reason)
//   api_call (auth ops)  -> api_reply   errors: see api.md, Authentication
// The revocation list is cached in the actor and refreshed from the
// database every second, so a logout on any instance is seen everywhere
// within seconds (at once on the instance that handled it).
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "config/settings.hpp"

namespace miyabi::metrics {
class service_metrics;
} // namespace miyabi::metrics

namespace miyabi::actors {

caf::actor spawn_auth(caf::local_actor* parent,
                      std::shared_ptr<const config::settings> cfg,
                      std::shared_ptr<metrics::service_metrics> metrics);

/// Name of the cookie that binds a GitHub login to the browser.
constexpr const char* login_cookie = "miyabi_oauth";

} // namespace miyabi::actors
