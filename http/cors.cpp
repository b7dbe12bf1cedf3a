#include "http/cors.hpp"

#include <algorithm>

namespace miyabi::http {

cors_policy::cors_policy(std::vector<std::string> allowed)
    : allowed_(std::move(allowed)) {}

bool cors_policy::allowed(std::string_view origin) const {
  // Exact, case-sensitive match: "null" and look-alike hosts never pass.
  return std::find(allowed_.begin(), allowed_.end(), origin) != allowed_.end();
}

void cors_policy::apply(std::string_view origin, header_list& out) const {
  constant(out);
  echo(origin, out);
}

void cors_policy::constant(header_list& out) const {
  if (allowed_.empty()) {
    out.emplace_back("Access-Control-Allow-Origin", "*");
    out.emplace_back("Access-Control-Expose-Headers",
                     "X-Request-Id, Retry-After");
  } else {
    out.emplace_back("Vary", "Origin");
  }
}

void cors_policy::echo(std::string_view origin, header_list& out) const {
  if (allowed_.empty() || origin.empty() || !allowed(origin))
    return;
  out.emplace_back("Access-Control-Allow-Origin", std::string{origin});
  out.emplace_back("Access-Control-Expose-Headers",
                   "X-Request-Id, Retry-After");
}

void cors_policy::apply_preflight(std::string_view origin,
                                  std::string_view allow,
                                  header_list& out) const {
  // Only the preflight's own headers: the origin headers (`*`, or the
  // echoed origin with `Vary`) come from `constant` and `echo`, which every
  // answer carries; adding them here too sent them twice, and browsers
  // refuse an answer with two Access-Control-Allow-Origin values.
  if (!allowed_.empty() && (origin.empty() || !allowed(origin)))
    return;
  out.emplace_back("Access-Control-Allow-Methods", std::string{allow});
  out.emplace_back("Access-Control-Allow-Headers",
                   std::string{allowed_headers});
  out.emplace_back("Access-Control-Max-Age", std::string{max_age});
}

} // namespace miyabi::http
