// The auth actor (registered as names::auth): owns the revocation list of
// access tokens and the operations under /api/v1/auth: GitHub login (state
// bound to an HttpOnly cookie and stored in PostgreSQL, PKCE S256), token
// refresh with rotation and reuse detection, logout, /me and /mock.
//
// Messages:
//   (verify_atom, token) -> principal   errors: jwt_error (details: reason),
//                                        service_unavailable
//   api_call (auth_ops)  -> api_reply   errors: see api.md, Authentication
// The revocation list is read from the database every second and published
// to the shared token_verifier, with which the front actors check tokens
// themselves; a logout on any instance is seen everywhere within seconds
// (at once on the instance that handled it). Until the list was read once
// the verifier has none, and front actors send (verify_atom, token) here,
// answered as soon as it was read.
#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "metrics/fwd.hpp"

namespace miyabi::actors {

class token_verifier;

auth_handle spawn_auth(caf::local_actor* parent,
                       std::shared_ptr<const config::settings> cfg,
                       std::shared_ptr<metrics::service_metrics> metrics,
                       std::shared_ptr<token_verifier> tokens);

/// The operations under /api/v1/auth, run inside the auth actor (the
/// descriptor table names them in `operation_rules::auth`). Each answers
/// through `rp`: an api_reply, or an error of api.md's Authentication
/// section.
namespace auth_ops {

using self_type = auth_handle::stateful_pointer<auth_state>;

void github_start(self_type self, api_call& call, reply_promise rp);
void github_callback(self_type self, api_call& call, reply_promise rp);
void refresh(self_type self, api_call& call, reply_promise rp);
void logout(self_type self, api_call& call, reply_promise rp);
void me(self_type self, api_call& call, reply_promise rp);
void mock(self_type self, api_call& call, reply_promise rp);

} // namespace auth_ops

/// Name of the cookie that binds a GitHub login to the browser.
constexpr const char* login_cookie = "miyabi_oauth";

} // namespace miyabi::actors
