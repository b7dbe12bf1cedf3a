// Tokens end to end: /auth/mock, the Bearer rules and JWT checks
// (cross-checked with PyJWT), refresh rotation and reuse, logout (also as
// seen by a second process), the auth metrics and the isolation of
// outbound calls (helpers and fakes: auth_world.hpp).
#define BOOST_TEST_MODULE auth_tokens_test
#include <boost/test/unit_test.hpp>

#include "integration/auth_world.hpp"

using namespace miyabi::test::auth_world;

// ===================================================================================

BOOST_AUTO_TEST_SUITE(mock_login_route)

BOOST_AUTO_TEST_CASE(mock_login_upserts_the_user_and_returns_a_token_response) {
  auto& svc = service();
  http_client client;
  auto gid = fresh_github_id();
  auto resp = client.post_json(svc.url("/api/v1/auth/mock"),
                               R"({"github_id":)" + std::to_string(gid) +
                                 R"(,"email":"m@example.com","name":"Mock"})");
  BOOST_TEST(resp.status == 200, resp.body);
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  BOOST_TEST(resp.header("Cache-Control") == "no-store");
  auto doc = parse_object(resp.body);
  BOOST_TEST(split(text_of(doc, "access_token"), '.').size() == 3u);
  BOOST_TEST(text_of(doc, "refresh_token").size() >= 32u);
  BOOST_TEST(text_of(doc, "token_type") == "Bearer");
  BOOST_TEST(int_of(doc, "expires_in") == 3600);
  BOOST_REQUIRE(doc.HasMember("user") && doc["user"].IsObject());
  const auto& user = doc["user"];
  std::regex uuid{
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"};
  std::regex rfc3339{R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)"};
  BOOST_TEST(std::regex_match(text_of(user, "id"), uuid));
  BOOST_TEST(int_of(user, "github_id") == gid);
  BOOST_TEST(text_of(user, "login") == "user" + std::to_string(gid));
  BOOST_TEST(text_of(user, "email") == "m@example.com");
  BOOST_TEST(text_of(user, "name") == "Mock");
  BOOST_TEST(user.HasMember("avatar_url"));
  BOOST_TEST(std::regex_match(text_of(user, "created_at"), rfc3339));
  BOOST_TEST(std::regex_match(text_of(user, "updated_at"), rfc3339));
  BOOST_TEST(user.MemberCount() == 8u);
  // Again with the same github_id and a login: the same row, updated.
  auto again =
    client.post_json(svc.url("/api/v1/auth/mock"),
                     R"({"github_id":)" + std::to_string(gid) +
                       R"(,"email":"m2@example.com","login":"mocky"})");
  BOOST_TEST(again.status == 200, again.body);
  auto doc2 = parse_object(again.body);
  BOOST_TEST(text_of(doc2["user"], "id") == text_of(user, "id"));
  BOOST_TEST(text_of(doc2["user"], "login") == "mocky");
  BOOST_TEST(text_of(doc2, "refresh_token") != text_of(doc, "refresh_token"));
  BOOST_TEST(query_int(svc.db, "SELECT count(*) FROM users WHERE github_id = " +
                                 std::to_string(gid)) == 1);
  // The token works.
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(text_of(doc2, "access_token")));
  BOOST_TEST(me.status == 200);
  BOOST_TEST(text_of(parse_object(me.body), "email") == "m2@example.com");
}

BOOST_AUTO_TEST_CASE(mock_login_validates_its_body) {
  auto& svc = service();
  http_client client;
  auto url = svc.url("/api/v1/auth/mock");
  auto no_id = client.post_json(url, R"({"email":"a@example.com"})");
  check_envelope(no_id, 422, "unprocessable_entity");
  BOOST_TEST(
    contains(text_of(parse_object(no_id.body), "details"), "github_id"));
  auto no_email = client.post_json(url, R"({"github_id":5})");
  check_envelope(no_email, 422, "unprocessable_entity");
  BOOST_TEST(
    contains(text_of(parse_object(no_email.body), "details"), "email"));
  auto wrong_type =
    client.post_json(url, R"({"github_id":"5","email":"a@b.c"})");
  check_envelope(wrong_type, 422, "unprocessable_entity");
  check_envelope(client.post_json(url, R"({"github_id":5,"email":)"), 400,
                 "validation_error");
  check_envelope(client.post_json(url, R"({"github_id":5,"email":"a@b.c"})",
                                  {{"Content-Type", "text/plain"}}),
                 415, "unsupported_media_type");
}

BOOST_AUTO_TEST_CASE(
  under_production_rules_mock_login_is_not_found_and_the_cookie_is_secure) {
  for (auto environment : {"production", "staging"}) {
    BOOST_TEST_INFO(environment);
    fake_github github{oauth_app()};
    auto env = github_env(github, create_database());
    env["ENVIRONMENT"] = environment;
    env["LOG_LEVEL"] = "info";
    // Production refuses plain http:// for GitHub; the login start only
    // redirects there, nothing connects to it.
    env["GITHUB_OAUTH_URL"] = "https://github.example";
    env["GITHUB_API_URL"] = "https://api.github.example";
    BOOST_REQUIRE(env["AUTH_MOCK_ENABLED"] == "true"); // ignored here
    BOOST_REQUIRE(env["JWT_SECRET"].size() >= 32u);
    service_process proc{env};
    http_client client;
    auto resp = client.post_json(proc.base_url() + "/api/v1/auth/mock",
                                 R"({"github_id":77,"email":"p@example.com"})");
    check_envelope(resp, 404, "not_found");
    auto start =
      client.get(proc.base_url() + "/api/v1/auth/github?redirect=%2Fdashboard");
    BOOST_TEST(start.status == 302);
    BOOST_TEST(start.header("Location")
                 .rfind("https://github.example/login/oauth/", 0) == 0);
    BOOST_TEST(contains(start.header("Set-Cookie"), "Secure"));
    BOOST_TEST(contains(start.header("Set-Cookie"), "HttpOnly"));
  }
}

BOOST_AUTO_TEST_CASE(in_test_the_login_cookie_is_not_secure) {
  auto& svc = service();
  http_client client;
  auto start = client.get(svc.url("/api/v1/auth/github?redirect=%2Fdashboard"));
  BOOST_TEST(start.status == 302);
  BOOST_TEST(contains(start.header("Set-Cookie"), "HttpOnly"));
  BOOST_TEST(!contains(start.header("Set-Cookie"), "Secure"));
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(bearer_rules)

BOOST_AUTO_TEST_CASE(
  a_missing_or_malformed_authorization_is_an_authentication_error) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto me = svc.url("/api/v1/auth/me");
  check_envelope(client.get(me), 401, "authentication_error");
  for (const auto& value : std::vector<std::string>{
         "Basic xyz", "Basic " + user.access, "Bearer", "Bearer ",
         "Bearer " + user.access + " " + user.access, "Token " + user.access,
         user.access}) {
    BOOST_TEST_INFO("Authorization: " << value.substr(0, 30));
    check_envelope(client.get(me, {{"Authorization", value}}), 401,
                   "authentication_error");
  }
}

BOOST_AUTO_TEST_CASE(the_bearer_scheme_is_case_insensitive) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  for (auto scheme : {"bearer ", "BEARER ", "Bearer "}) {
    BOOST_TEST_INFO(scheme);
    auto resp = client.get(svc.url("/api/v1/auth/me"),
                           {{"Authorization", scheme + user.access}});
    BOOST_TEST(resp.status == 200, resp.body);
  }
}

BOOST_AUTO_TEST_CASE(tokens_failing_any_check_are_a_jwt_error) {
  auto& svc = service();
  http_client client;
  auto gid = fresh_github_id();
  auto user = mock_login(client, svc.proc.base_url(), gid);
  auto now = unix_now();
  auto good_claims = claims_json(user.id, gid);
  auto good = pyjwt_encode(good_claims);
  auto parts = split(good, '.');
  BOOST_REQUIRE(parts.size() == 3u);
  auto sig = parts[2];
  auto flipped = sig;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  std::string none_header = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  auto other_sub = claims_json(user.id, gid + 1);
  std::vector<std::pair<std::string, std::string>> cases{
    {"garbage", "not-a-jwt"},
    {"two segments", parts[0] + "." + parts[1]},
    {"tampered signature", parts[0] + "." + parts[1] + "." + flipped},
    {"tampered payload",
     parts[0] + "." + base64url_encode(other_sub) + "." + sig},
    {"alg none, no signature", none_header + "." + parts[1] + "."},
    {"alg none, old signature", none_header + "." + parts[1] + "." + sig},
    {"HS512", pyjwt_encode(good_claims, jwt_secret(), "HS512")},
    {"other secret",
     pyjwt_encode(good_claims, "another-secret-0123456789abcdefghij")},
    {"expired",
     pyjwt_encode(claims_json(user.id, gid,
                              {{"exp", std::to_string(now - 120)},
                               {"iat", std::to_string(now - 3720)},
                               {"nbf", std::to_string(now - 3720)}}))},
    {"not yet valid",
     pyjwt_encode(claims_json(user.id, gid,
                              {{"nbf", std::to_string(now + 600)},
                               {"exp", std::to_string(now + 1200)}}))},
    {"wrong aud",
     pyjwt_encode(claims_json(user.id, gid, {{"aud", "\"other-web\""}}))},
    {"wrong iss",
     pyjwt_encode(claims_json(user.id, gid, {{"iss", "\"someone-else\""}}))},
    {"no exp", pyjwt_encode(claims_json(user.id, gid, {{"exp", ""}}))},
    {"no jti", pyjwt_encode(claims_json(user.id, gid, {{"jti", ""}}))},
    {"lone low surrogate in jti",
     pyjwt_encode(claims_json(user.id, gid, {{"jti", R"("\udc4d")"}}))},
    {"padding", good + "="},
    {"non-base64url character", parts[0] + "." + parts[1] + "." + sig + "*"},
    {"huge", good + std::string(10000 - good.size(), 'A')},
  };
  for (const auto& [what, token] : cases) {
    BOOST_TEST_INFO(what);
    auto resp = client.get(svc.url("/api/v1/auth/me"), bearer(token));
    check_envelope(resp, 401, "jwt_error");
  }
  // The control: the same claims, untampered, pass.
  auto ok = client.get(svc.url("/api/v1/auth/me"), bearer(good));
  BOOST_TEST(ok.status == 200, ok.body);
}

BOOST_AUTO_TEST_CASE(
  tokens_made_by_pyjwt_verify_and_the_services_decode_in_pyjwt) {
  auto& svc = service();
  http_client client;
  auto gid = fresh_github_id();
  auto user = mock_login(client, svc.proc.base_url(), gid);
  // PyJWT -> service.
  auto token = pyjwt_encode(claims_json(user.id, gid));
  auto me = client.get(svc.url("/api/v1/auth/me"), bearer(token));
  BOOST_TEST(me.status == 200, me.body);
  BOOST_TEST(text_of(parse_object(me.body), "id") == user.id);
  // Within the 30 s leeway: expired 10 s ago, valid only in 10 s.
  auto now = unix_now();
  for (const auto& [what, over] :
       std::vector<std::pair<std::string, std::map<std::string, std::string>>>{
         {"exp 10 s ago",
          {{"exp", std::to_string(now - 10)},
           {"iat", std::to_string(now - 3610)},
           {"nbf", std::to_string(now - 3610)}}},
         {"nbf in 10 s", {{"nbf", std::to_string(now + 10)}}},
       }) {
    BOOST_TEST_INFO(what);
    auto resp =
      client.get(svc.url("/api/v1/auth/me"),
                 bearer(pyjwt_encode(claims_json(user.id, gid, over))));
    BOOST_TEST(resp.status == 200, resp.body);
  }
  // Service -> PyJWT: signature, iss, aud and exp checked by PyJWT.
  auto decoded =
    python("import jwt,json,sys; h=jwt.get_unverified_header(sys.argv[1]);"
           " c=jwt.decode(sys.argv[1], sys.argv[2], algorithms=[\"HS256\"],"
           " audience=\"miyabi-web\", issuer=\"miyabi-api\","
           " options={\"require\":[\"exp\",\"iat\",\"nbf\",\"sub\",\"jti\"]});"
           " print(json.dumps({\"header\":h,\"claims\":c}))",
           {user.access, jwt_secret()});
  auto doc = parse_object(decoded);
  BOOST_TEST(text_of(doc["header"], "alg") == "HS256");
  BOOST_TEST(text_of(doc["header"], "typ") == "JWT");
  const auto& c = doc["claims"];
  BOOST_TEST(text_of(c, "sub") == user.id);
  BOOST_TEST(int_of(c, "github_id") == gid);
  BOOST_TEST(int_of(c, "exp") - int_of(c, "iat") == 3600);
  BOOST_TEST(std::regex_match(text_of(c, "jti"), std::regex{"[0-9a-f-]{36}"}));
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(refresh_and_logout)

BOOST_AUTO_TEST_CASE(refresh_rotates_and_a_reused_token_revokes_its_family) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto url = svc.url("/api/v1/auth/refresh");
  auto body = [](const std::string& t) {
    return R"({"refresh_token":")" + t + "\"}";
  };
  auto first = client.post_json(url, body(user.refresh));
  BOOST_TEST(first.status == 200, first.body);
  BOOST_TEST(first.header("Cache-Control") == "no-store");
  auto pair = parse_object(first.body);
  auto next = text_of(pair, "refresh_token");
  BOOST_TEST(next != user.refresh);
  BOOST_TEST(text_of(pair, "token_type") == "Bearer");
  BOOST_TEST(text_of(pair["user"], "id") == user.id);
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(text_of(pair, "access_token")));
  BOOST_TEST(me.status == 200);
  // The old token again: a reuse. Refused, and the family goes with it.
  check_envelope(client.post_json(url, body(user.refresh)), 401, "jwt_error");
  check_envelope(client.post_json(url, body(next)), 401, "jwt_error");
  // Unknown token, missing field, malformed JSON.
  check_envelope(client.post_json(url, body("unknown-" + random_text(40))), 401,
                 "jwt_error");
  auto missing = client.post_json(url, "{}");
  check_envelope(missing, 422, "unprocessable_entity");
  BOOST_TEST(
    contains(text_of(parse_object(missing.body), "details"), "refresh_token"));
  check_envelope(client.post_json(url, "{\"refresh_token\":"), 400,
                 "validation_error");
}

BOOST_AUTO_TEST_CASE(an_expired_refresh_token_is_refused) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  exec_sql(svc.db, "UPDATE refresh_tokens SET expires_at = now() - interval "
                   "'1 second' WHERE user_id = '" +
                     user.id + "'");
  check_envelope(
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + user.refresh + "\"}"),
    401, "jwt_error");
}

BOOST_AUTO_TEST_CASE(logout_revokes_the_access_token_and_the_refresh_token) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto me = svc.url("/api/v1/auth/me");
  BOOST_TEST(client.get(me, bearer(user.access)).status == 200);
  auto out = client.post_json(svc.url("/api/v1/auth/logout"),
                              R"({"refresh_token":")" + user.refresh + "\"}",
                              bearer(user.access));
  BOOST_TEST(out.status == 204, out.body);
  BOOST_TEST(out.body.empty());
  check_envelope(client.get(me, bearer(user.access)), 401, "jwt_error");
  check_envelope(
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + user.refresh + "\"}"),
    401, "jwt_error");
  // A second logout with the revoked token is refused too.
  check_envelope(
    client.post_json(svc.url("/api/v1/auth/logout"), "{}", bearer(user.access)),
    401, "jwt_error");
}

BOOST_AUTO_TEST_CASE(logout_cannot_revoke_another_users_refresh_token) {
  auto& svc = service();
  http_client client;
  auto mallory = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto alice = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto out = client.post_json(svc.url("/api/v1/auth/logout"),
                              R"({"refresh_token":")" + alice.refresh + "\"}",
                              bearer(mallory.access));
  BOOST_TEST(out.status == 204, out.body);
  auto refreshed =
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + alice.refresh + "\"}");
  BOOST_TEST(refreshed.status == 200, refreshed.body);
  BOOST_TEST(
    client.get(svc.url("/api/v1/auth/me"), bearer(alice.access)).status == 200);
}

BOOST_AUTO_TEST_CASE(logout_without_a_body_also_succeeds_and_needs_a_bearer) {
  auto& svc = service();
  http_client client;
  auto user = mock_login(client, svc.proc.base_url(), fresh_github_id());
  auto logout = svc.url("/api/v1/auth/logout");
  check_envelope(client.request("POST", logout), 401, "authentication_error");
  auto out = client.request("POST", logout, "", bearer(user.access));
  BOOST_TEST(out.status == 204, out.body);
  check_envelope(client.get(svc.url("/api/v1/auth/me"), bearer(user.access)),
                 401, "jwt_error");
  // The refresh token was not named, so it still rotates.
  auto refreshed =
    client.post_json(svc.url("/api/v1/auth/refresh"),
                     R"({"refresh_token":")" + user.refresh + "\"}");
  BOOST_TEST(refreshed.status == 200, refreshed.body);
}

BOOST_AUTO_TEST_CASE(a_logout_is_seen_by_a_second_process_within_seconds) {
  auto db = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "2";
  service_process a{env};
  service_process b{env};
  http_client client;
  auto user = mock_login(client, a.base_url(), fresh_github_id());
  BOOST_TEST(
    client.get(a.base_url() + "/api/v1/auth/me", bearer(user.access)).status ==
    200);
  BOOST_TEST(
    client.get(b.base_url() + "/api/v1/auth/me", bearer(user.access)).status ==
    200);
  auto out = client.request("POST", a.base_url() + "/api/v1/auth/logout", "",
                            bearer(user.access));
  BOOST_REQUIRE(out.status == 204);
  auto began = steady_clock::now();
  http_response last;
  bool refused = eventually(
    [&] {
      last = client.get(b.base_url() + "/api/v1/auth/me", bearer(user.access));
      return last.status == 401;
    },
    5s, 25ms);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    steady_clock::now() - began);
  BOOST_TEST_MESSAGE("process B refused the logged-out token after "
                     << took.count() << " ms");
  BOOST_TEST(refused, "B still accepts the token after 5 s");
  if (refused)
    check_envelope(last, 401, "jwt_error");
  check_envelope(
    client.get(a.base_url() + "/api/v1/auth/me", bearer(user.access)), 401,
    "jwt_error");
}

BOOST_AUTO_TEST_CASE(
  a_process_started_after_a_logout_refuses_the_token_at_once) {
  auto db = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "2";
  http_client client;
  mock_user user;
  {
    service_process a{env};
    user = mock_login(client, a.base_url(), fresh_github_id());
    auto out = client.request("POST", a.base_url() + "/api/v1/auth/logout", "",
                              bearer(user.access));
    BOOST_REQUIRE(out.status == 204);
  }
  // A new instance (a restart, a scale-out) must know the revocation from
  // its very first request, not after its first cache refresh.
  service_process fresh{env};
  auto began = steady_clock::now();
  auto first =
    client.get(fresh.base_url() + "/api/v1/auth/me", bearer(user.access));
  BOOST_TEST(first.status == 401,
             "a revoked token was accepted by a new process: " << first.status);
  if (first.status == 401)
    check_envelope(first, 401, "jwt_error");
  else {
    // How long the new process accepted the revoked token.
    bool refused = eventually(
      [&] {
        return client
                 .get(fresh.base_url() + "/api/v1/auth/me", bearer(user.access))
                 .status == 401;
      },
      5s, 10ms);
    BOOST_TEST_MESSAGE("the new process accepted the revoked token for "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(
                            steady_clock::now() - began)
                            .count()
                       << " ms after listening");
    BOOST_TEST(refused);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(auth_metrics)

BOOST_AUTO_TEST_CASE(auth_failures_issued_tokens_and_github_calls_are_counted) {
  auto& svc = service();
  http_client client;
  auto metrics = [&] {
    return client.get(svc.url("/metrics")).body;
  };
  auto issued_before =
    metric_sample(metrics(), "miyabi_auth_tokens_issued_total");
  BOOST_TEST(issued_before >= 0);

  // A failed verification: a tampered signature.
  auto gid = fresh_github_id();
  auto user = mock_login(client, svc.proc.base_url(), gid);
  auto bad = user.access.substr(0, user.access.size() - 8) + "AAAAAAAA";
  BOOST_TEST(client.get(svc.url("/api/v1/auth/me"), bearer(bad)).status == 401);

  // A GitHub login.
  svc.github.set_profile({fresh_github_id(), "metric-user",
                          "\"metric@example.com\"", "M",
                          "https://a.example/m"});
  auto login = log_in_with_github(client, svc);
  BOOST_TEST(login.resp.status == 302, login.resp.body);

  auto text = metrics();
  auto failures = metric_sample(text, "miyabi_auth_failures_total");
  BOOST_TEST(failures >= 1, "no miyabi_auth_failures_total sample");
  BOOST_TEST(metric_sample(text, "miyabi_auth_failures_total",
                           {"reason=\"bad_signature\""}) >= 1);
  auto issued_after = metric_sample(text, "miyabi_auth_tokens_issued_total");
  BOOST_TEST(issued_after >= issued_before + 2); // mock + GitHub login
  BOOST_TEST(metric_sample(text, "miyabi_outbound_requests_total",
                           {"code=\"200\"", "service=\"github\""}) >=
             2); // the exchange and /user
  BOOST_TEST(metric_sample(text,
                           "miyabi_outbound_request_duration_seconds_count",
                           {"service=\"github\""}) >= 2);
  BOOST_TEST_MESSAGE("issued " << issued_before << " -> " << issued_after);
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(outbound_isolation)

BOOST_AUTO_TEST_CASE(twenty_held_llm_calls_do_not_delay_a_github_login) {
  // Declared before the service, so they outlive it.
  held_fake llm{fake_response::json(500, R"({"error":{"message":"busy"}})")};
  fake_http_server telegram{telegram_ok};
  instance svc{chat_env(telegram, llm.url())};
  http_client client;
  // Twenty chat messages, each becoming an LLM call (one per chat: the
  // per-chat hourly limit is not what this is about). The outbox runs one
  // batch of tasks at a time: while the first message's call is held, the
  // other nineteen queue up, and are then taken together.
  const std::string llm_path = "/v1/chat/completions";
  auto message = [&](int i) {
    return say(client, svc, first_chat + i,
               "please add a dark mode, variant " + std::to_string(i));
  };
  BOOST_REQUIRE(message(0) == 200);
  BOOST_REQUIRE(llm.server().wait_for_requests(llm_path, 1, 15000ms));
  for (int i = 1; i < chat_count; ++i)
    BOOST_REQUIRE(message(i) == 200);
  llm.release_one();
  // The LLM holds every other call: as many as its concurrency limit (4)
  // allows are in flight, the rest wait in the LLM's queue.
  if (!llm.server().wait_for_requests(llm_path, 1 + 4, 15000ms)) {
    auto lines = svc.proc.lines();
    for (size_t i = lines.size() > 40 ? lines.size() - 40 : 0; i < lines.size();
         ++i)
      BOOST_TEST_MESSAGE("service: " << lines[i]);
    BOOST_FAIL("the LLM got " << llm.server().requests().size()
                              << " calls, not 5");
  }

  svc.github.set_profile({fresh_github_id(), "patient-octo",
                          "\"patient@example.com\"", "Patient",
                          "https://a.example/p"});
  auto began = steady_clock::now();
  auto login = log_in_with_github(client, svc);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    steady_clock::now() - began);
  BOOST_TEST_MESSAGE("GitHub login behind 20 held LLM calls: "
                     << login.resp.status << " after " << took.count()
                     << " ms");
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  BOOST_TEST(!value_of(login.fragment, "access_token").empty());
  BOOST_TEST(took.count() < 2000);
  // Still held: nothing the LLM got since the first call was answered,
  // and it got no more than its limit.
  BOOST_TEST(llm.held() == 4u);
  BOOST_TEST(llm.server().requests().size() == 1u + 4u);
  llm.release();
}

BOOST_AUTO_TEST_CASE(
  a_github_call_whose_deadline_passes_while_queued_is_never_sent) {
  // GitHub's API holds the issue creation; its OAuth side is the usual fake.
  held_fake issues{fake_response::json(
    201,
    R"({"number":7,"html_url":"https://github.com/octo-org/octo-app/issues/7"})")};
  fake_http_server telegram{telegram_ok};
  auto env = chat_env(telegram, {});
  env["GITHUB_API_URL"] = issues.url();
  env["OUTBOUND_GITHUB_CONCURRENCY"] = "1";
  env["OUTBOUND_TIMEOUT_MS"] = "10000";
  env["REQUEST_TIMEOUT_MS"] = "1000";
  instance svc{env};
  http_client client;
  BOOST_REQUIRE(say(client, svc, first_chat, "/issue Held in the queue") ==
                200);
  BOOST_REQUIRE(issues.server().wait_for_requests("/repos/", 1, 15000ms));

  // GitHub's one slot is taken: the login's token exchange waits behind
  // the issue, past the request's deadline.
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto resp =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  BOOST_TEST((resp.status == 504 || resp.status == 502), resp.body);

  // The issue call ends and frees the slot: the expired exchange is
  // dropped, never sent.
  issues.release();
  BOOST_TEST(eventually(
    [&] {
      return metric(svc.proc,
                    "miyabi_outbound_dropped_total{service=\"github\"}") >= 1;
    },
    10000ms));
  BOOST_TEST(svc.github.exchanges() == 0u);
  BOOST_TEST(issues.server().requests().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
