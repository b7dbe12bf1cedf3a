#include "fakes/github_oauth.hpp"

#include "support/checks.hpp"
#include "support/encoding.hpp"

namespace miyabi::test {

fake_github::fake_github(github_app app)
    : app_(std::move(app)),
      server_([this](const fake_request& r) { return handle(r); }) {}

std::string fake_github::authorize(const std::string& code_challenge) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto code = "code" + random_text(16);
  codes_[code] = code_challenge;
  return code;
}

void fake_github::reset() {
  std::lock_guard<std::mutex> guard{mtx_};
  exchange_ = exchange_mode::ok;
  user_ = user_mode::ok;
  emails_ = emails_mode::ok;
  problems_.clear();
  server_.clear();
}

void fake_github::set(exchange_mode m) {
  std::lock_guard<std::mutex> guard{mtx_};
  exchange_ = m;
}

void fake_github::set(user_mode m) {
  std::lock_guard<std::mutex> guard{mtx_};
  user_ = m;
}

void fake_github::set(emails_mode m) {
  std::lock_guard<std::mutex> guard{mtx_};
  emails_ = m;
}

void fake_github::set_profile(github_profile p) {
  std::lock_guard<std::mutex> guard{mtx_};
  profile_ = std::move(p);
}

void fake_github::set_emails(std::string json) {
  std::lock_guard<std::mutex> guard{mtx_};
  emails_json_ = std::move(json);
}

std::vector<std::string> fake_github::problems() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return problems_;
}

std::vector<std::string> fake_github::issued_tokens() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return {issued_.begin(), issued_.end()};
}

size_t fake_github::exchanges() const {
  return server_.requests_to("/login/oauth/access_token").size();
}

fake_response fake_github::handle(const fake_request& r) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (r.path() == "/login/oauth/access_token")
    return exchange(r);
  if (r.path() == "/user")
    return user(r);
  if (r.path() == "/user/emails")
    return emails(r);
  problem("unexpected request " + r.method + " " + r.target);
  return fake_response::json(404, R"({"message":"Not Found"})");
}

fake_response fake_github::exchange(const fake_request& r) {
  auto fail = [this](const std::string& why) {
    problem("token exchange: " + why);
    return fake_response::json(
      200,
      R"({"error":"fake_check_failed","error_description":")" + why + "\"}");
  };
  if (r.method != "POST")
    return fail("method " + r.method);
  if (!contains(r.header("Accept"), "application/json"))
    return fail("Accept is '" + r.header("Accept") + "'");
  if (!contains(r.header("Content-Type"), "application/x-www-form-urlencoded"))
    return fail("Content-Type is '" + r.header("Content-Type") + "'");
  if (r.target.find('?') != std::string::npos)
    return fail("parameters in the URL: " + r.target);
  auto form = parse_pairs(r.body);
  if (value_of(form, "client_id") != app_.client_id)
    return fail("client_id " + value_of(form, "client_id"));
  if (value_of(form, "client_secret") != app_.client_secret)
    return fail("client_secret is wrong");
  if (value_of(form, "redirect_uri") != app_.callback_url)
    return fail("redirect_uri " + value_of(form, "redirect_uri"));
  auto code = codes_.find(value_of(form, "code"));
  if (code == codes_.end())
    return fail("unknown or used code " + value_of(form, "code"));
  auto challenge = code->second;
  codes_.erase(code); // single use, like GitHub
  auto verifier = value_of(form, "code_verifier");
  if (verifier.size() < 43 || verifier.size() > 128)
    return fail("code_verifier length " + std::to_string(verifier.size()));
  if (s256(verifier) != challenge)
    return fail("code_verifier does not hash to the code_challenge");
  switch (exchange_) {
    case exchange_mode::bad_verification_code:
      return fake_response::json(
        200, R"({"error":"bad_verification_code","error_description":)"
             R"("The code passed is incorrect or expired.","error_uri":)"
             R"("https://docs.github.com/apps/troubleshooting"})");
    case exchange_mode::server_error:
      return fake_response::json(500, R"({"message":"Server Error"})");
    case exchange_mode::dropped: {
      fake_response dropped;
      dropped.drop = true;
      return dropped;
    }
    case exchange_mode::deep:
      return fake_response::json(200, std::string(100000, '[') +
                                        std::string(100000, ']'));
    default: break;
  }
  auto token = "gho_" + random_text(36);
  issued_.insert(token);
  auto resp = fake_response::json(
    200, R"({"access_token":")" + token +
           R"(","token_type":"bearer","scope":"read:user,user:email"})");
  if (exchange_ == exchange_mode::slow)
    resp.delay = app_.slow_delay;
  return resp;
}

std::string fake_github::api_problem(const fake_request& r) {
  if (r.method != "GET")
    return "method " + r.method;
  auto auth = r.header("Authorization");
  if (auth.rfind("Bearer ", 0) != 0 && auth.rfind("token ", 0) != 0)
    return "Authorization is '" + auth + "'";
  if (issued_.count(auth.substr(auth.find(' ') + 1)) == 0)
    return "Authorization carries a token this fake never issued";
  if (r.header("User-Agent").empty())
    return "no User-Agent";
  if (r.header("Accept") != "application/vnd.github+json")
    return "Accept is '" + r.header("Accept") + "'";
  return {};
}

std::optional<fake_response> fake_github::refused(const fake_request& r) {
  auto why = api_problem(r);
  if (why.empty())
    return std::nullopt;
  problem("GET " + r.path() + ": " + why);
  return fake_response::json(401, R"({"message":"Bad credentials"})");
}

fake_response fake_github::user(const fake_request& r) {
  if (auto no = refused(r))
    return *no;
  if (user_ == user_mode::unauthorized)
    return fake_response::json(401, R"({"message":"Bad credentials"})");
  const auto& p = profile_;
  return fake_response::json(
    200, "{\"login\":\"" + p.login + "\",\"id\":" + std::to_string(p.id) +
           ",\"node_id\":\"MDQ6VXNlcjE=\",\"avatar_url\":\"" + p.avatar_url +
           "\",\"type\":\"User\",\"site_admin\":false,\"name\":\"" + p.name +
           "\",\"company\":null,\"email\":" + p.email_json +
           ",\"public_repos\":3}");
}

fake_response fake_github::emails(const fake_request& r) {
  if (auto no = refused(r))
    return *no;
  if (emails_ == emails_mode::server_error)
    return fake_response::json(500, R"({"message":"Server Error"})");
  return fake_response::json(200, emails_json_);
}

} // namespace miyabi::test
