// jwt_verify: the cost of checking one access token, as the front actors
// do for every authenticated request (signature, claims, revocation list).
// Signs distinct tokens, then times rounds of checks on one thread and
// prints the median cost per token in microseconds.
//
//   jwt_verify [TOKENS] [ROUNDS]      defaults: 1000 tokens, 7 rounds
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "actors/token_verifier.hpp"
#include "config/settings.hpp"
#include "domain/jwt.hpp"
#include "metrics/metrics.hpp"

using namespace miyabi;
using clock_type = std::chrono::steady_clock;

namespace {

unsigned long number(const char* text, const char* what) {
  char* end = nullptr;
  auto value = std::strtoul(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value == 0) {
    std::fprintf(stderr, "jwt_verify: bad %s: %s\n", what, text);
    std::exit(2);
  }
  return value;
}

} // namespace

int main(int argc, char** argv) {
  size_t tokens = argc > 1 ? number(argv[1], "token count") : 1000;
  size_t rounds = argc > 2 ? number(argv[2], "round count") : 7;
  config::settings cfg;
  cfg.jwt_secret = std::string(48, 'k');
  auto metrics = std::make_shared<metrics::service_metrics>(
    std::vector<std::string>{"/api/v1/health"}, "bench");
  actors::token_verifier verifier{cfg, metrics};
  // A revocation list of realistic size: lookups are part of the cost.
  auto revoked = std::make_shared<actors::revocation_list>();
  for (int i = 0; i < 1000; ++i)
    (*revoked)["revoked-" + std::to_string(i)] = 4102444800;
  verifier.publish(revoked);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  std::vector<std::string> signed_tokens;
  for (size_t i = 0; i < tokens; ++i) {
    domain::access_claims claims;
    claims.sub = "7d0c1f7e-3b0a-4a57-9f55-" + std::to_string(100000000000 + i);
    claims.github_id = static_cast<int64_t>(i);
    claims.jti = "c1a6c7b4-8f0e-4c7e-9d1c-" + std::to_string(200000000000 + i);
    claims.iat = now;
    claims.nbf = now;
    claims.exp = now + 3600;
    signed_tokens.push_back(verifier.sign(claims).value());
  }
  std::vector<double> per_token_us;
  size_t accepted = 0;
  for (size_t r = 0; r < rounds; ++r) {
    auto start = clock_type::now();
    for (const auto& token : signed_tokens) {
      auto checked = verifier.check(token);
      if (checked && *checked)
        ++accepted;
    }
    std::chrono::duration<double, std::micro> took = clock_type::now() - start;
    per_token_us.push_back(took.count() / static_cast<double>(tokens));
  }
  if (accepted != tokens * rounds) {
    std::fprintf(stderr, "jwt_verify: %zu of %zu checks failed\n",
                 tokens * rounds - accepted, tokens * rounds);
    return 1;
  }
  std::sort(per_token_us.begin(), per_token_us.end());
  std::printf("%.2f\n", per_token_us[per_token_us.size() / 2]);
  return 0;
}
