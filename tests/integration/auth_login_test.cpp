// The GitHub login end to end: the flow, its state and redirect rules, and
// GitHub failures (helpers and fakes: auth_world.hpp).
#define BOOST_TEST_MODULE auth_login_test
#include <boost/test/unit_test.hpp>

#include "integration/auth_world.hpp"

using namespace miyabi::test::auth_world;

// ===================================================================================

BOOST_AUTO_TEST_SUITE(github_login)

BOOST_AUTO_TEST_CASE(
  the_whole_flow_logs_in_with_pkce_and_returns_tokens_in_the_fragment) {
  // The fake's PKCE check itself, on RFC 7636 appendix B's example.
  BOOST_REQUIRE(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  auto& svc = service();
  http_client client;
  github_profile profile{fresh_github_id(), "octo-cat", "\"octo@example.com\"",
                         "Octo Cat", "https://avatars.example/u/1"};
  svc.github.set_profile(profile);

  // 1. The start: a redirect to GitHub's authorize page.
  auto start = start_login(client, svc);
  BOOST_TEST(start.resp.status == 302);
  BOOST_TEST(start.resp.header("Cache-Control") == "no-store");
  BOOST_TEST(start.location_base ==
             svc.github.url() + "/login/oauth/authorize");
  BOOST_TEST(value_of(start.query, "client_id") == client_id);
  BOOST_TEST(value_of(start.query, "redirect_uri") == callback_url);
  BOOST_TEST(value_of(start.query, "scope") == "read:user user:email");
  BOOST_TEST(start.state.size() >= 32u);
  BOOST_TEST(value_of(start.query, "code_challenge_method") == "S256");
  // S256 challenges are 43 base64url characters (32 bytes, no padding).
  BOOST_TEST(std::regex_match(value_of(start.query, "code_challenge"),
                              std::regex{"[A-Za-z0-9_-]{43}"}));
  auto set_cookie = start.resp.header("Set-Cookie");
  BOOST_TEST_MESSAGE("start Set-Cookie: " << set_cookie);
  BOOST_TEST(set_cookie.rfind("miyabi_oauth=", 0) == 0u);
  BOOST_TEST(start.cookie.size() > std::string{"miyabi_oauth="}.size());
  BOOST_TEST(contains(set_cookie, "HttpOnly"));
  BOOST_TEST(contains(set_cookie, "SameSite=Lax"));
  BOOST_TEST(!contains(set_cookie, "Secure")); // development
  BOOST_TEST(contains(set_cookie, "Max-Age=600"));
  // The state lives server-side only as a hash.
  BOOST_TEST(rows_containing(svc.db, start.state) == 0);

  // 2. GitHub sends the browser back with a code.
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto back =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  BOOST_TEST(back.status == 302, back.status << " " << back.body);
  BOOST_TEST(back.header("Cache-Control") == "no-store");
  for (const auto& p : svc.github.problems())
    BOOST_ERROR("fake GitHub: " << p);
  auto location = back.header("Location");
  BOOST_TEST_MESSAGE("callback Location: " << location.substr(0, 60) << "...");
  BOOST_TEST(location.rfind(std::string{frontend} + "/dashboard#", 0) == 0u);
  BOOST_TEST(!contains(location, "?")); // tokens never in the query
  auto hash = location.find('#');
  BOOST_REQUIRE(hash != std::string::npos);
  auto fragment = parse_pairs(location.substr(hash + 1));
  BOOST_TEST(value_of(fragment, "token_type") == "Bearer");
  BOOST_TEST(value_of(fragment, "expires_in") == "3600");
  auto access = value_of(fragment, "access_token");
  auto refresh = value_of(fragment, "refresh_token");
  BOOST_TEST(split(access, '.').size() == 3u);
  BOOST_TEST(refresh.size() >= 32u);
  BOOST_TEST(refresh != "<absent>");
  // The cookie is cleared.
  auto cleared = back.header("Set-Cookie");
  BOOST_TEST_MESSAGE("callback Set-Cookie: " << cleared);
  BOOST_TEST(cleared.rfind("miyabi_oauth=;", 0) == 0u);
  BOOST_TEST((contains(cleared, "Max-Age=0") || contains(cleared, "1970")));

  // What GitHub saw: one exchange, form-encoded, and the profile call.
  auto exchanges = svc.github.server().requests_to("/login/oauth/access_token");
  BOOST_REQUIRE(exchanges.size() == 1u);
  BOOST_TEST(exchanges[0].method == "POST");
  BOOST_TEST(contains(exchanges[0].header("Accept"), "application/json"));
  auto form = parse_pairs(exchanges[0].body);
  BOOST_TEST(value_of(form, "code") == code);
  BOOST_TEST(s256(value_of(form, "code_verifier")) ==
             value_of(start.query, "code_challenge"));
  auto users = svc.github.server().requests_to("/user");
  BOOST_REQUIRE(!users.empty());
  BOOST_TEST(!users[0].header("User-Agent").empty());
  BOOST_TEST(users[0].header("Accept") == "application/vnd.github+json");
  // The profile had a public email: /user/emails is not needed.
  BOOST_TEST(svc.github.server().requests_to("/user/emails").empty());

  // 3. The access token works and shows the GitHub profile.
  auto me = client.get(svc.url("/api/v1/auth/me"), bearer(access));
  BOOST_TEST(me.status == 200, me.body);
  BOOST_TEST(me.header("Cache-Control") == "no-store");
  auto user = parse_object(me.body);
  BOOST_TEST(int_of(user, "github_id") == profile.id);
  BOOST_TEST(text_of(user, "login") == "octo-cat");
  BOOST_TEST(text_of(user, "email") == "octo@example.com");
  BOOST_TEST(text_of(user, "name") == "Octo Cat");
  BOOST_TEST(text_of(user, "avatar_url") == "https://avatars.example/u/1");
  BOOST_TEST(!contains(me.body, "gho_")); // GitHub tokens never returned
  auto user_id = text_of(user, "id");

  // 4. A second login of the same GitHub account, renamed meanwhile,
  // updates the same row.
  profile.login = "octo-renamed";
  svc.github.set_profile(profile);
  auto again = log_in_with_github(client, svc);
  BOOST_TEST(again.resp.status == 302, again.resp.body);
  auto me2 = client.get(svc.url("/api/v1/auth/me"),
                        bearer(value_of(again.fragment, "access_token")));
  BOOST_TEST(me2.status == 200);
  BOOST_TEST(text_of(parse_object(me2.body), "id") == user_id);
  BOOST_TEST(text_of(parse_object(me2.body), "login") == "octo-renamed");
  auto gid = std::to_string(profile.id);
  BOOST_TEST(query_int(svc.db, "SELECT count(*) FROM users WHERE github_id = " +
                                 gid) == 1);
  BOOST_TEST(query_text(svc.db, "SELECT login FROM users WHERE github_id = " +
                                  gid) == "octo-renamed");

  // 5. GitHub's access tokens are stored nowhere and logged nowhere; refresh
  // tokens are stored only hashed; the client secret is never logged.
  auto tokens = svc.github.issued_tokens();
  BOOST_TEST(tokens.size() >= 2u);
  for (const auto& t : tokens) {
    BOOST_TEST(rows_containing(svc.db, t) == 0, "GitHub token in the database");
    for (const auto& line : svc.proc.lines())
      BOOST_TEST(!contains(line, t), "GitHub token in a log line: " << line);
  }
  BOOST_TEST(rows_containing(svc.db, refresh) == 0);
  BOOST_TEST(rows_containing(svc.db, access) == 0);
  for (const auto& line : svc.proc.lines()) {
    BOOST_TEST(!contains(line, client_secret), "secret in a log: " << line);
    BOOST_TEST(!contains(line, refresh), "refresh token in a log: " << line);
  }
}

BOOST_AUTO_TEST_CASE(
  a_user_without_public_email_gets_the_primary_verified_one) {
  auto& svc = service();
  http_client client;
  github_profile profile{fresh_github_id(), "private-mail", "null", "P M",
                         "https://avatars.example/u/2"};
  svc.github.set_profile(profile);
  svc.github.set_emails(
    R"([{"email":"old@example.com","primary":false,"verified":true,"visibility":null},)"
    R"({"email":"unverified@example.com","primary":false,"verified":false,"visibility":null},)"
    R"({"email":"main@example.com","primary":true,"verified":true,"visibility":"private"}])");
  auto login = log_in_with_github(client, svc);
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  for (const auto& p : svc.github.problems())
    BOOST_ERROR("fake GitHub: " << p);
  BOOST_TEST(svc.github.server().requests_to("/user/emails").size() == 1u);
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(value_of(login.fragment, "access_token")));
  BOOST_TEST(me.status == 200);
  BOOST_TEST(text_of(parse_object(me.body), "email") == "main@example.com");
  BOOST_TEST(query_text(svc.db, "SELECT email FROM users WHERE github_id = " +
                                  std::to_string(profile.id)) ==
             "main@example.com");
}

BOOST_AUTO_TEST_CASE(a_failing_emails_call_still_logs_in_with_a_null_email) {
  auto& svc = service();
  http_client client;
  github_profile profile{fresh_github_id(), "no-mail", "null", "N M",
                         "https://avatars.example/u/3"};
  svc.github.set_profile(profile);
  svc.github.set(fake_github::emails_mode::server_error);
  auto login = log_in_with_github(client, svc);
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  BOOST_TEST(svc.github.server().requests_to("/user/emails").size() == 1u);
  auto me = client.get(svc.url("/api/v1/auth/me"),
                       bearer(value_of(login.fragment, "access_token")));
  BOOST_TEST(me.status == 200);
  BOOST_TEST(text_of(parse_object(me.body), "email") == "<null>");
  BOOST_TEST(text_of(parse_object(me.body), "login") == "no-mail");
}

BOOST_AUTO_TEST_CASE(the_login_cookie_is_found_among_other_cookies) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "cookie-jar", "\"c@example.com\"",
                          "C", "https://avatars.example/u/5"});
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto back =
    callback(client, svc, callback_query(code, start.state),
             "_ga=GA1.1.123.456; theme=dark; " + start.cookie + "; lang=en");
  BOOST_TEST(back.status == 302, back.body);
  BOOST_TEST(back.header("Location")
               .rfind(std::string{frontend} + "/dashboard#access_token=", 0) ==
             0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(login_state)

BOOST_AUTO_TEST_CASE(a_wrong_state_is_refused_without_calling_github) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto wrong_state = start.state;
  wrong_state[0] = wrong_state[0] == 'A' ? 'B' : 'A';
  auto resp =
    callback(client, svc, callback_query(code, wrong_state), start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_state_is_single_use) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "reuser", "\"r@example.com\"", "R",
                          "https://avatars.example/u/4"});
  http_client client;
  auto first = log_in_with_github(client, svc);
  BOOST_REQUIRE(first.resp.status == 302);
  BOOST_TEST(svc.github.exchanges() == 1u);
  auto code =
    svc.github.authorize(value_of(first.start.query, "code_challenge"));
  auto resp = callback(client, svc, callback_query(code, first.start.state),
                       first.start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
}

BOOST_AUTO_TEST_CASE(a_state_raced_by_two_callbacks_is_used_once) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "double-click",
                          "\"d@example.com\"", "D", "https://a.example/d"});
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto query = callback_query(code, start.state);
  std::array<http_response, 2> answers;
  std::vector<std::thread> tabs;
  for (size_t i = 0; i < answers.size(); ++i)
    tabs.emplace_back([&, i] {
      http_client tab;
      answers[i] = callback(tab, svc, query, start.cookie);
    });
  for (auto& t : tabs)
    t.join();
  auto ok =
    std::count_if(answers.begin(), answers.end(),
                  [](const http_response& r) { return r.status == 302; });
  BOOST_TEST(ok == 1, answers[0].status << " and " << answers[1].status);
  for (const auto& r : answers)
    if (r.status != 302)
      check_envelope(r, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
}

BOOST_AUTO_TEST_CASE(a_denied_authorization_is_a_400_without_calling_github) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  // What GitHub sends back when the user clicks "Cancel".
  auto resp = callback(client, svc,
                       "?error=access_denied&error_description=The+user+has+"
                       "denied+your+application+access.&state=" +
                         url_encode(start.state),
                       start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_long_or_non_utf8_github_error_keeps_the_envelope_utf8) {
  auto& svc = service();
  http_client client;
  std::string refused;
  for (int i = 0; i < 60; ++i)
    refused += "\xe6\x8b\x92"; // 拒, 180 bytes in all
  auto resp = client.get(svc.url("/api/v1/auth/github/callback?error=") +
                         url_encode(refused));
  check_envelope(resp, 400, "validation_error");
  // The echoed text is cut to 100 bytes on a character boundary (99 here):
  // the envelope is strict UTF-8.
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(resp.body.c_str(),
                                                   resp.body.size());
  BOOST_REQUIRE(!doc.HasParseError());
  auto message = text_of(doc, "message");
  BOOST_TEST(contains(message, refused.substr(0, 99)), message);
  BOOST_TEST(!contains(message, refused.substr(0, 102)), message);
  // Bytes that are not UTF-8 are refused, naming the parameter.
  auto bad = client.get(svc.url("/api/v1/auth/github/callback?error=no%FF"));
  check_envelope(bad, 400, "validation_error");
  BOOST_TEST(contains(text_of(parse_object(bad.body), "details"), "error"),
             bad.body);
}

BOOST_AUTO_TEST_CASE(an_expired_state_is_refused_without_calling_github) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  // Age every open state: the service stores states hashed, so the test
  // cannot pick its own row; the other open ones are leftovers of earlier
  // failure tests that nobody uses again.
  exec_sql(svc.db, "UPDATE oauth_states SET expires_at = now() - interval "
                   "'1 minute' WHERE expires_at > now()");
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto resp =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_state_used_with_another_browsers_cookie_is_refused) {
  auto& svc = service();
  http_client browser_a;
  http_client browser_b;
  auto a = start_login(browser_a, svc);
  auto b = start_login(browser_b, svc);
  BOOST_REQUIRE(a.resp.status == 302);
  BOOST_REQUIRE(b.resp.status == 302);
  BOOST_TEST(a.cookie != b.cookie);
  BOOST_TEST(a.state != b.state);
  auto code = svc.github.authorize(value_of(a.query, "code_challenge"));
  auto resp = callback(browser_b, svc, callback_query(code, a.state), b.cookie);
  check_envelope(resp, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_callback_without_the_cookie_is_refused) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto resp = callback(client, svc, callback_query(code, start.state), "");
  check_envelope(resp, 400, "validation_error");
  // A cookie of another name does not count either.
  auto other = callback(client, svc, callback_query(code, start.state),
                        "session=" + start.cookie.substr(13));
  check_envelope(other, 400, "validation_error");
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_CASE(a_callback_without_code_or_state_is_refused) {
  auto& svc = service();
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  for (auto query : {"?state=" + url_encode(start.state), "?code=" + code,
                     "?code=&state=" + url_encode(start.state),
                     "?code=" + code + "&state=", std::string{}}) {
    BOOST_TEST_INFO("query " << query);
    check_envelope(callback(client, svc, query, start.cookie), 400,
                   "validation_error");
  }
  BOOST_TEST(svc.github.exchanges() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(redirect_target)

BOOST_AUTO_TEST_CASE(only_a_relative_path_is_accepted_as_redirect) {
  auto& svc = service();
  http_client client;
  for (auto bad : {"//evil.example", "https://evil.example", "/\\evil", "evil",
                   "/\\/evil.example", "///evil.example"}) {
    BOOST_TEST_INFO("redirect " << bad);
    auto resp =
      client.get(svc.url("/api/v1/auth/github?redirect=") + url_encode(bad));
    check_envelope(resp, 400, "validation_error");
    BOOST_TEST(!resp.has_header("Location"));
  }
  for (auto good : {"/", "/x?y=1"}) {
    BOOST_TEST_INFO("redirect " << good);
    auto resp =
      client.get(svc.url("/api/v1/auth/github?redirect=") + url_encode(good));
    BOOST_TEST(resp.status == 302);
  }
}

BOOST_AUTO_TEST_CASE(a_redirect_that_is_not_utf8_is_a_400_naming_it) {
  auto& svc = service();
  http_client client;
  // The redirect is stored (a SQL text parameter) until the callback; these
  // were 500s (SQLSTATE 22021).
  for (auto bad : {"/\xff", "/\xed\xb1\x8d", "/\xc0\xaf", "/caf\xc3"}) {
    BOOST_TEST_INFO("redirect " << url_encode(bad));
    auto resp =
      client.get(svc.url("/api/v1/auth/github?redirect=") + url_encode(bad));
    check_envelope(resp, 400, "validation_error");
    BOOST_TEST(
      contains(text_of(parse_object(resp.body), "details"), "redirect"),
      resp.body);
    BOOST_TEST(!resp.has_header("Location"));
  }
  auto resp = client.get(svc.url("/api/v1/auth/github?redirect=") +
                         url_encode("/\xe3\x83\x80\xc3\xa9"));
  BOOST_TEST(resp.status == 302, resp.body);
}

BOOST_AUTO_TEST_CASE(the_frontend_redirect_keeps_the_path_and_its_query) {
  auto& svc = service();
  svc.github.set_profile({fresh_github_id(), "query-keeper",
                          "\"q@example.com\"", "Q", "https://a.example/q"});
  http_client client;
  auto login =
    log_in_with_github(client, svc, "?redirect=" + url_encode("/x?y=1"));
  BOOST_TEST(login.resp.status == 302, login.resp.body);
  BOOST_TEST(login.location.rfind(
               std::string{frontend} + "/x?y=1#access_token=", 0) == 0u);
  // Without a redirect the user lands on the frontend's root.
  auto plain = log_in_with_github(client, svc, "");
  BOOST_TEST(plain.resp.status == 302, plain.resp.body);
  BOOST_TEST(
    plain.location.rfind(std::string{frontend} + "/#access_token=", 0) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// ===================================================================================

BOOST_AUTO_TEST_SUITE(github_failures)

BOOST_AUTO_TEST_CASE(an_exchange_answered_200_with_an_error_is_a_400) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::bad_verification_code);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 400, "validation_error");
  auto doc = parse_object(login.resp.body);
  BOOST_TEST((contains(text_of(doc, "message"), "bad_verification_code") ||
              contains(text_of(doc, "details"), "bad_verification_code")),
             login.resp.body);
  BOOST_TEST(svc.github.exchanges() == 1u);
  BOOST_TEST(svc.github.server().requests_to("/user").empty());
  for (const auto& p : svc.github.problems())
    BOOST_ERROR("fake GitHub: " << p);
}

BOOST_AUTO_TEST_CASE(an_exchange_answered_500_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::server_error);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(!contains(login.resp.body, "Server Error")); // no upstream text
}

BOOST_AUTO_TEST_CASE(an_exchange_whose_connection_drops_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::dropped);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
}

BOOST_AUTO_TEST_CASE(
  an_exchange_answered_with_json_nested_100000_deep_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::deep);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(svc.github.exchanges() == 1u);
  BOOST_TEST(health_status(svc.proc) == 200); // still up
}

BOOST_AUTO_TEST_CASE(an_exchange_that_times_out_is_a_502_within_the_deadline) {
  auto& svc = service();
  svc.github.set(fake_github::exchange_mode::slow);
  http_client client;
  auto start = start_login(client, svc);
  BOOST_REQUIRE(start.resp.status == 302);
  auto code = svc.github.authorize(value_of(start.query, "code_challenge"));
  auto began = steady_clock::now();
  auto resp =
    callback(client, svc, callback_query(code, start.state), start.cookie);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    steady_clock::now() - began);
  BOOST_TEST_MESSAGE("slow GitHub: answered " << resp.status << " after "
                                              << took.count() << " ms");
  check_envelope(resp, 502, "external_api_error");
  BOOST_TEST(took.count() < outbound_timeout_ms + 1000);
}

BOOST_AUTO_TEST_CASE(a_profile_call_answered_401_is_a_502) {
  auto& svc = service();
  svc.github.set(fake_github::user_mode::unauthorized);
  http_client client;
  auto login = log_in_with_github(client, svc);
  check_envelope(login.resp, 502, "external_api_error");
  BOOST_TEST(svc.github.server().requests_to("/user").size() == 1u);
}

BOOST_AUTO_TEST_CASE(without_client_id_and_secret_github_login_is_unavailable) {
  auto db = create_database();
  auto env = base_env();
  env["DATABASE_URL"] = db;
  env["DB_POOL_SIZE"] = "1";
  service_process proc{env};
  http_client client;
  check_envelope(client.get(proc.base_url() + "/api/v1/auth/github"), 503,
                 "service_unavailable");
  check_envelope(
    client.get(proc.base_url() + "/api/v1/auth/github?redirect=%2Fdashboard"),
    503, "service_unavailable");
}

BOOST_AUTO_TEST_SUITE_END()
