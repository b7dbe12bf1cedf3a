#include "actors/auth.hpp"

#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <rapidjson/document.h>

#include "actors/ask.hpp"
#include "actors/db.hpp"
#include "actors/outbound.hpp"
#include "actors/supervision.hpp"
#include "actors/token_verifier.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "domain/jwt.hpp"
#include "metrics/metrics.hpp"
#include "storage/users.hpp"

namespace miyabi::actors {

/// The auth actor's state; its operations (auth_ops) receive it.
struct auth_state {
  static inline const char* name = "auth";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::shared_ptr<token_verifier> tokens;
  revocation_list revoked; ///< the working copy; `tokens` gets snapshots
  double watermark = 0;
  bool refreshing = false;
  /// False until the revocation list was read once: a token must not pass
  /// before we know whether it was revoked (after a start or a restart).
  bool revocations_loaded = false;
  std::vector<std::pair<std::string, caf::typed_response_promise<principal>>>
    waiting;
};

namespace {

using std::chrono::seconds;

constexpr auto revocation_refresh = std::chrono::seconds{1};
// Re-read revocations this far behind the newest one seen, so a revocation
// whose transaction committed late is not missed.
constexpr double revocation_overlap = 5.0;

int64_t unix_now() {
  return std::chrono::duration_cast<seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

using auth_actor = auth_handle::stateful_pointer<auth_state>;

/// service_unavailable while the GitHub OAuth app is not configured.
caf::error github_login_unavailable(const config::settings& cfg) {
  if (cfg.github_client_id.empty() || cfg.github_client_secret.empty())
    return make_error(errc::service_unavailable,
                      "GitHub login is not configured");
  return {};
}

/// Hands the front actors a snapshot of the revocation list.
void publish_revocations(auth_actor self) {
  auto& st = self->state;
  st.tokens->publish(std::make_shared<const revocation_list>(st.revoked));
}

caf::error login_failed(auth_actor self, const char* reason, errc code,
                        std::string message) {
  self->state.metrics->auth_failures[reason].Increment();
  return make_error(code, std::move(message), reason);
}

/// Signs an access token for `u` and completes the token response; an
/// internal_error when no token id can be drawn or signing fails.
caf::expected<domain::token_response>
tokens_for(auth_actor self, storage::user u, std::string refresh_token) {
  auto& st = self->state;
  auto now = unix_now();
  auto jti = crypto::random_id();
  if (!jti)
    return std::move(jti.error());
  domain::access_claims claims;
  claims.sub = u.id;
  claims.github_id = u.github_id;
  claims.jti = std::move(*jti);
  claims.iat = now;
  claims.nbf = now;
  claims.exp = now + st.cfg->jwt_expiration.count();
  domain::token_response out;
  auto signed_token = st.tokens->sign(claims);
  if (!signed_token) {
    log::error("could not sign an access token");
    return std::move(signed_token.error());
  }
  out.access_token = std::move(*signed_token);
  out.refresh_token = std::move(refresh_token);
  out.expires_in = st.cfg->jwt_expiration.count();
  out.user = std::move(u);
  st.metrics->auth_tokens_issued.Increment();
  return out;
}

/// Upserts the user and stores a new refresh token family in one
/// transaction, then answers with a token response (or a redirect built
/// from it by `finish`).
template <class Finish>
void login(auth_actor self, const request_meta& meta,
           storage::user_profile profile, reply_promise rp, Finish finish) {
  auto drawn = crypto::random_token(32);
  if (!drawn) {
    rp.deliver(std::move(drawn.error()));
    return;
  }
  auto refresh = std::move(*drawn);
  storage::refresh_grant grant;
  grant.token_hash = crypto::sha256_hex(refresh);
  grant.ttl_seconds = self->state.cfg->refresh_token_ttl.count();
  query(
    self, meta, "login", storage::access::write_once,
    [profile = std::move(profile),
     grant](pqxx::transaction_base& tx) -> caf::expected<storage::user> {
      auto u = storage::upsert_user(tx, profile);
      if (!u)
        return u;
      auto mine = grant;
      mine.user_id = u->id;
      if (auto family = storage::store_refresh_token(tx, mine); !family)
        return std::move(family.error());
      return u;
    },
    [self, rp, refresh, finish](storage::user& u) mutable {
      auto tokens = tokens_for(self, std::move(u), refresh);
      if (!tokens)
        rp.deliver(std::move(tokens.error()));
      else
        rp.deliver(finish(std::move(*tokens)));
    },
    fail_through(rp));
}

api_reply token_reply(domain::token_response tokens) {
  return {200, std::move(tokens), {}};
}

// -- refresh, logout, me ------------------------------------------------------

struct refresh_result {
  storage::refresh_outcome outcome = storage::refresh_outcome::unknown;
  std::optional<storage::user> user;
};

// -- GitHub login -------------------------------------------------------------

std::string cookie_header(const config::settings& cfg, const std::string& value,
                          int max_age) {
  std::string cookie =
    std::string{login_cookie} + "=" + value +
    "; Path=/api/v1/auth/github; Max-Age=" + std::to_string(max_age) +
    "; HttpOnly; SameSite=Lax";
  if (cfg.production_rules())
    cookie += "; Secure";
  return cookie;
}

/// A GitHub API call for a login: answered 200 ms before the request's
/// deadline so the login can still answer.
http_call login_call(const config::settings& cfg, const request_meta& meta,
                     std::string path, const std::string& token) {
  auto call =
    github_call("GET", cfg.github_api_url + path, "GET " + path, token,
                call_budget(cfg.outbound_timeout, meta.deadline,
                            std::chrono::milliseconds{200}),
                meta.deadline);
  add_traceparent(call, meta.traceparent);
  return call;
}

std::optional<std::string> string_member(const rapidjson::Value& v,
                                         const char* key) {
  if (v.IsObject() && v.HasMember(key) && v[key].IsString())
    return std::string{v[key].GetString(), v[key].GetStringLength()};
  return std::nullopt;
}

/// The primary verified address of /user/emails, else the first verified.
std::optional<std::string> pick_email(const std::string& body) {
  rapidjson::Document doc;
  auto malformed = parse_json(body, doc);
  if (malformed || !doc.IsArray())
    return std::nullopt;
  std::optional<std::string> first_verified;
  for (const auto& e : doc.GetArray()) {
    auto address = string_member(e, "email");
    bool verified = e.IsObject() && e.HasMember("verified") &&
                    e["verified"].IsBool() && e["verified"].GetBool();
    bool primary = e.IsObject() && e.HasMember("primary") &&
                   e["primary"].IsBool() && e["primary"].GetBool();
    if (!address || !verified)
      continue;
    if (primary)
      return address;
    if (!first_verified)
      first_verified = address;
  }
  return first_verified;
}

/// Redirect to the frontend with the tokens in the fragment (never the
/// query: fragments are not sent to servers or logged by proxies).
std::function<api_reply(domain::token_response)>
redirect_to_frontend(const config::settings& cfg, std::string path) {
  return [&cfg, path = std::move(path)](domain::token_response t) {
    auto location =
      cfg.frontend_url + path + "#access_token=" + t.access_token +
      "&refresh_token=" + t.refresh_token +
      "&token_type=Bearer&expires_in=" + std::to_string(t.expires_in);
    return api_reply{
      302,
      {},
      {{"Location", location}, {"Set-Cookie", cookie_header(cfg, "", 0)}}};
  };
}

void github_profile(auth_actor self, request_meta meta, std::string token,
                    std::string redirect, reply_promise rp) {
  const auto& cfg = *self->state.cfg;
  auto call = login_call(cfg, meta, "/user", token);
  auto on_error = [self, rp](caf::error&) mutable {
    rp.deliver(login_failed(self, "github_unavailable",
                            errc::external_api_error, "GitHub did not answer"));
  };
  ask(
    self, lookup(self, names::outbound), meta,
    [self, meta, token, redirect, rp, on_error](http_outcome& out) mutable {
      rapidjson::Document doc;
      auto malformed = parse_json(out.body, doc);
      if (out.status != 200 || malformed || !doc.IsObject() ||
          !doc.HasMember("id") || !doc["id"].IsInt64() ||
          !string_member(doc, "login")) {
        rp.deliver(login_failed(self, "github_profile",
                                errc::external_api_error,
                                "GitHub answered the profile request with " +
                                  std::to_string(out.status)));
        return;
      }
      storage::user_profile profile;
      profile.github_id = doc["id"].GetInt64();
      profile.login = *string_member(doc, "login");
      profile.email = string_member(doc, "email");
      profile.name = string_member(doc, "name");
      profile.avatar_url = string_member(doc, "avatar_url");
      auto finish = redirect_to_frontend(*self->state.cfg, redirect);
      if (profile.email) {
        login(self, meta, std::move(profile), rp, finish);
        return;
      }
      // No public email: ask /user/emails (user:email scope); a failure
      // there still logs the user in, without an address.
      const auto& c = *self->state.cfg;
      auto emails = login_call(c, meta, "/user/emails", token);
      ask(
        self, lookup(self, names::outbound), meta,
        [self, meta, profile, rp, finish](http_outcome& res) mutable {
          if (res.status == 200)
            profile.email = pick_email(res.body);
          login(self, meta, std::move(profile), rp, finish);
        },
        [self, meta, profile, rp, finish](caf::error&) mutable {
          login(self, meta, std::move(profile), rp, finish);
        },
        std::move(emails));
    },
    on_error, std::move(call));
}

void github_exchange(auth_actor self, request_meta meta, std::string code,
                     storage::oauth_state state, reply_promise rp) {
  const auto& cfg = *self->state.cfg;
  auto call = login_call(cfg, meta, "/login/oauth/access_token", "");
  // The OAuth endpoint lives on another host and takes a form, not the API
  // headers.
  call.method = "POST";
  call.url = cfg.github_oauth_url + "/login/oauth/access_token";
  call.log_target = "POST /login/oauth/access_token";
  call.headers = {{"Accept", "application/json"},
                  {"Content-Type", "application/x-www-form-urlencoded"}};
  call.body = "client_id=" + url_encode(cfg.github_client_id) +
              "&client_secret=" + url_encode(cfg.github_client_secret) +
              "&code=" + url_encode(code) +
              "&redirect_uri=" + url_encode(cfg.github_callback_url) +
              "&code_verifier=" + url_encode(state.code_verifier);
  ask(
    self, lookup(self, names::outbound), meta,
    [self, meta, rp,
     redirect = state.redirect_path](http_outcome& out) mutable {
      // GitHub answers exchange errors with 200 and an `error` member, so
      // the body decides, not the status.
      rapidjson::Document doc;
      auto malformed = parse_json(out.body, doc);
      if (out.status >= 500 || malformed || !doc.IsObject()) {
        rp.deliver(login_failed(self, "github_unavailable",
                                errc::external_api_error,
                                "GitHub's token exchange failed"));
        return;
      }
      if (auto error = string_member(doc, "error")) {
        rp.deliver(
          login_failed(self, "github_exchange", errc::validation_error,
                       "GitHub refused the authorization code: " + *error));
        return;
      }
      auto token = string_member(doc, "access_token");
      if (!token || token->empty()) {
        rp.deliver(login_failed(self, "github_exchange",
                                errc::external_api_error,
                                "GitHub's token exchange returned no token"));
        return;
      }
      github_profile(self, meta, *token, redirect, rp);
    },
    [self, rp](caf::error&) mutable {
      rp.deliver(login_failed(self, "github_unavailable",
                              errc::external_api_error,
                              "GitHub did not answer"));
    },
    std::move(call));
}

// -- the revocation cache -----------------------------------------------------

/// Checks a token for a front actor that found no revocation list yet;
/// called once this actor has published one.
caf::expected<principal> verify(auth_actor self, const std::string& token) {
  if (auto checked = self->state.tokens->check(token))
    return std::move(*checked);
  return make_error(errc::service_unavailable,
                    "token checks are not ready yet");
}

void refresh_revocations(auth_actor self) {
  auto& st = self->state;
  if (st.refreshing)
    return;
  st.refreshing = true;
  request_meta meta;
  meta.request_id = "revocations";
  meta.deadline = clock::now() + std::chrono::seconds{2};
  meta.background = true;
  auto since = st.watermark > 0 ? st.watermark - revocation_overlap : 0.0;
  query(
    self, meta, "revocations_since", storage::access::read,
    [since](pqxx::transaction_base& tx) {
      return storage::revocations_since(tx, since);
    },
    [self](std::vector<storage::revocation>& list) {
      auto& s = self->state;
      s.refreshing = false;
      for (auto& r : list) {
        s.revoked[r.jti] = r.expires_at;
        s.watermark = std::max(s.watermark, r.revoked_at);
      }
      auto now = unix_now();
      auto before = s.revoked.size();
      for (auto i = s.revoked.begin(); i != s.revoked.end();)
        i = i->second + 60 < now ? s.revoked.erase(i) : std::next(i);
      if (!list.empty() || s.revoked.size() != before || !s.revocations_loaded)
        publish_revocations(self);
      if (!s.revocations_loaded) {
        s.revocations_loaded = true;
        auto waiting = std::move(s.waiting);
        for (auto& [token, rp] : waiting) {
          auto who = verify(self, token);
          if (who)
            rp.deliver(std::move(*who));
          else
            rp.deliver(std::move(who.error()));
        }
      }
    },
    [self](caf::error&) {
      auto& s = self->state;
      s.refreshing = false;
      // Still unknown: refuse rather than let a revoked token through.
      auto waiting = std::move(s.waiting);
      for (auto& entry : waiting)
        entry.second.deliver(make_error(errc::service_unavailable,
                                        "token checks are not ready yet"));
    });
}

auth_handle::behavior_type
auth(auth_actor self, std::shared_ptr<const config::settings> cfg,
     std::shared_ptr<metrics::service_metrics> metrics,
     std::shared_ptr<token_verifier> tokens) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.metrics = std::move(metrics);
  st.tokens = std::move(tokens);
  log_exceptions(self, "auth");
  if (st.cfg->database_enabled())
    self->send(self, tick_atom::value);
  else
    st.revocations_loaded = true; // nothing can be revoked without a database
  return {
    [self](verify_atom, std::string& token) -> caf::result<principal> {
      auto& s = self->state;
      if (!s.revocations_loaded) {
        auto rp = self->make_response_promise<principal>();
        s.waiting.emplace_back(std::move(token), rp);
        refresh_revocations(self);
        return rp;
      }
      auto result = verify(self, token);
      if (!result)
        return std::move(result.error());
      return std::move(*result);
    },
    [self](api_call& call) {
      auto rp = self->make_response_promise<api_reply>();
      if (auto work = call.request.rules.auth)
        work(self, call, rp);
      else
        rp.deliver(make_error(errc::not_found, "no such route"));
      return rp;
    },
    [self](tick_atom) {
      refresh_revocations(self);
      self->delayed_send(self, revocation_refresh, tick_atom::value);
    },
  };
}

} // namespace

namespace auth_ops {

void refresh(auth_actor self, api_call& call, reply_promise rp) {
  const auto& in = std::get<domain::refresh_input>(call.request.input);
  auto drawn = crypto::random_token(32);
  if (!drawn) {
    rp.deliver(std::move(drawn.error()));
    return;
  }
  auto next = std::move(*drawn);
  auto ttl = self->state.cfg->refresh_token_ttl.count();
  query(
    self, call.request.meta, "refresh", storage::access::write_once,
    [hash = crypto::sha256_hex(in.refresh_token),
     next_hash = crypto::sha256_hex(next),
     ttl](pqxx::transaction_base& tx) -> caf::expected<refresh_result> {
      refresh_result result;
      auto check = storage::present_refresh_token(tx, hash);
      if (!check)
        return std::move(check.error());
      result.outcome = check->outcome;
      if (check->outcome != storage::refresh_outcome::rotated)
        return result; // committed: a reuse revoked its family
      auto u = storage::find_user(tx, check->user_id);
      if (!u)
        return std::move(u.error());
      if (auto stored = storage::store_refresh_token(
            tx, {check->user_id, next_hash, check->family_id, ttl});
          !stored)
        return std::move(stored.error());
      result.user = std::move(*u);
      return result;
    },
    [self, rp, next](refresh_result& r) mutable {
      if (r.outcome == storage::refresh_outcome::reused) {
        log::warning("refresh token reused; its token family is revoked");
        rp.deliver(login_failed(self, "refresh_reused", errc::jwt_error,
                                "the refresh token was already used"));
      } else if (r.outcome != storage::refresh_outcome::rotated || !r.user) {
        rp.deliver(login_failed(self, "refresh_unknown", errc::jwt_error,
                                "the refresh token is not valid"));
      } else {
        auto tokens = tokens_for(self, std::move(*r.user), next);
        if (!tokens)
          rp.deliver(std::move(tokens.error()));
        else
          rp.deliver(token_reply(std::move(*tokens)));
      }
    },
    fail_through(rp));
}

void logout(auth_actor self, api_call& call, reply_promise rp) {
  const auto& who = *call.request.user;
  std::optional<std::string> refresh_hash;
  if (const auto* in = std::get_if<domain::logout_input>(&call.request.input);
      in != nullptr && in->refresh_token)
    refresh_hash = crypto::sha256_hex(*in->refresh_token);
  query(
    self, call.request.meta, "logout", storage::access::write,
    [who, refresh_hash](pqxx::transaction_base& tx) -> caf::expected<bool> {
      if (auto r = storage::revoke_access_token(tx, who.jti, who.expires_at);
          !r)
        return r;
      if (refresh_hash)
        return storage::revoke_refresh_family(tx, who.user_id, *refresh_hash);
      return true;
    },
    [self, rp, who](bool) mutable {
      self->state.revoked[who.jti] = who.expires_at;
      publish_revocations(self);
      rp.deliver(api_reply{204, {}, {}});
    },
    fail_through(rp));
}

void me(auth_actor self, api_call& call, reply_promise rp) {
  auto user_id = call.request.user->user_id;
  query(
    self, call.request.meta, "find_user", storage::access::read,
    [user_id](pqxx::transaction_base& tx) {
      return storage::find_user(tx, user_id);
    },
    [self, rp](std::optional<storage::user>& u) mutable {
      if (!u) {
        rp.deliver(
          self->state.tokens->refuse(domain::jwt_failure::missing_claim));
        return;
      }
      rp.deliver(api_reply{200, std::move(*u), {}});
    },
    fail_through(rp));
}

void mock(auth_actor self, api_call& call, reply_promise rp) {
  // The route table already answers 404 when the route is off; this keeps
  // the actor safe should the operation arrive some other way.
  if (!self->state.cfg->auth_mock_enabled) {
    rp.deliver(make_error(errc::not_found, "no such route"));
    return;
  }
  auto profile = std::get<domain::mock_login_input>(call.request.input).profile;
  login(self, call.request.meta, std::move(profile), rp, token_reply);
}

void github_start(auth_actor self, api_call& call, reply_promise rp) {
  const auto& cfg = *self->state.cfg;
  if (auto err = github_login_unavailable(cfg)) {
    rp.deliver(err);
    return;
  }
  auto state = crypto::random_token(32);
  auto binding = crypto::random_token(32);
  auto verifier = crypto::random_token(32);
  for (auto* drawn : {&state, &binding, &verifier}) {
    if (!*drawn) {
      rp.deliver(std::move(drawn->error()));
      return;
    }
  }
  storage::oauth_state row;
  row.state_hash = crypto::sha256_hex(*state);
  row.binding_hash = crypto::sha256_hex(*binding);
  row.code_verifier = *verifier;
  row.redirect_path =
    std::get<domain::github_start_input>(call.request.input).redirect;
  auto location =
    cfg.github_oauth_url +
    "/login/oauth/authorize?client_id=" + url_encode(cfg.github_client_id) +
    "&redirect_uri=" + url_encode(cfg.github_callback_url) +
    "&scope=read%3Auser%20user%3Aemail&state=" + *state +
    "&code_challenge=" + crypto::base64url_encode(crypto::sha256(*verifier)) +
    "&code_challenge_method=S256";
  query(
    self, call.request.meta, "store_oauth_state", storage::access::write_once,
    [row](pqxx::transaction_base& tx) {
      return storage::store_oauth_state(tx, row);
    },
    [rp, location, cookie = cookie_header(cfg, *binding, 600)](bool) mutable {
      rp.deliver(
        api_reply{302, {}, {{"Location", location}, {"Set-Cookie", cookie}}});
    },
    fail_through(rp));
}

void github_callback(auth_actor self, api_call& call, reply_promise rp) {
  const auto& cfg = *self->state.cfg;
  if (auto err = github_login_unavailable(cfg)) {
    rp.deliver(err);
    return;
  }
  auto in = std::get<domain::github_callback_input>(call.request.input);
  if (!in.error.empty()) {
    rp.deliver(login_failed(self, "github_denied", errc::validation_error,
                            "GitHub login was not completed: " + in.error));
    return;
  }
  if (in.binding.empty()) {
    rp.deliver(login_failed(self, "state", errc::validation_error,
                            "the login cookie is missing; start the login "
                            "again"));
    return;
  }
  auto meta = call.request.meta;
  query(
    self, meta, "take_oauth_state", storage::access::write_once,
    [hash = crypto::sha256_hex(in.state)](pqxx::transaction_base& tx) {
      return storage::take_oauth_state(tx, hash);
    },
    [self, meta, in, rp](std::optional<storage::taken_state>& taken) mutable {
      if (!taken || taken->expired ||
          !crypto::constant_time_equal(taken->state.binding_hash,
                                       crypto::sha256_hex(in.binding))) {
        rp.deliver(login_failed(self, "state", errc::validation_error,
                                "the login state is unknown, expired, used "
                                "or belongs to another browser"));
        return;
      }
      github_exchange(self, meta, in.code, std::move(taken->state), rp);
    },
    fail_through(rp));
}

} // namespace auth_ops

auth_handle spawn_auth(caf::local_actor* parent,
                       std::shared_ptr<const config::settings> cfg,
                       std::shared_ptr<metrics::service_metrics> metrics,
                       std::shared_ptr<token_verifier> tokens) {
  return parent->spawn(auth, std::move(cfg), std::move(metrics),
                       std::move(tokens));
}

} // namespace miyabi::actors
