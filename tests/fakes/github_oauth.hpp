// GitHub's OAuth and REST endpoints for the login tests: a fake server
// that checks what a real GitHub would check (client credentials,
// redirect_uri, PKCE S256, single-use codes, the access token on API calls,
// Accept and User-Agent headers) and can be told to fail in GitHub's ways.
//
// Threads: the fake's server threads run the handlers; the setters and
// readers may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fakes/fake_http.hpp"

namespace miyabi::test {

/// The OAuth app the service under test is configured with.
struct github_app {
  std::string client_id;
  std::string client_secret;
  std::string callback_url;
  /// How long a `slow` token exchange keeps the service waiting.
  std::chrono::milliseconds slow_delay{3500};
};

struct github_profile {
  int64_t id = 0;
  std::string login;
  std::string email_json = "null"; ///< raw JSON: null or "a@b"
  std::string name;
  std::string avatar_url;
};

/// Problems found in a request are recorded (the handler runs on the fake's
/// threads, where Boost.Test macros are not allowed) and answered with an
/// error, so a test also fails on the status it sees.
class fake_github {
 public:
  enum class exchange_mode {
    ok,
    bad_verification_code,
    server_error,
    slow,
    dropped,
    deep ///< 200 with an array nested 100 000 levels deep
  };
  enum class user_mode { ok, unauthorized };
  enum class emails_mode { ok, server_error };

  explicit fake_github(github_app app);

  std::string url() const { return server_.url(); }
  const fake_http_server& server() const { return server_; }

  /// What GitHub does when the user approves: a fresh code bound to the
  /// PKCE challenge of the authorize request.
  std::string authorize(const std::string& code_challenge);

  void reset();
  void set(exchange_mode m);
  void set(user_mode m);
  void set(emails_mode m);
  void set_profile(github_profile p);
  void set_emails(std::string json);

  std::vector<std::string> problems() const;
  std::vector<std::string> issued_tokens() const;
  size_t exchanges() const;

 private:
  void problem(const std::string& text) { problems_.push_back(text); }
  fake_response handle(const fake_request& r);
  fake_response exchange(const fake_request& r);
  /// Checks an API request; an empty result means it is fine.
  std::string api_problem(const fake_request& r);
  /// The 401 for an API request with a problem (recorded), if it has one.
  std::optional<fake_response> refused(const fake_request& r);
  fake_response user(const fake_request& r);
  fake_response emails(const fake_request& r);

  const github_app app_;
  mutable std::mutex mtx_;
  exchange_mode exchange_ = exchange_mode::ok;
  user_mode user_ = user_mode::ok;
  emails_mode emails_ = emails_mode::ok;
  github_profile profile_;
  std::string emails_json_ = "[]";
  std::map<std::string, std::string> codes_; ///< code -> code_challenge
  std::set<std::string> issued_;
  std::vector<std::string> problems_;
  fake_http_server server_; // last: its threads call handle()
};

} // namespace miyabi::test
