// CORS decisions (api.md, "Headers on every response"): `*` for any origin,
// or an allow-list whose matches are echoed with `Vary: Origin`. Credentials
// are never allowed. Immutable after construction; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace miyabi::http {

using header_list = std::vector<std::pair<std::string, std::string>>;

class cors_policy {
 public:
  /// `allowed` empty: any origin.
  explicit cors_policy(std::vector<std::string> allowed);

  /// Headers for an ordinary response to a request with `origin` (empty
  /// when the request had no Origin header): `constant` plus `echo`.
  void apply(std::string_view origin, header_list& out) const;

  /// The part of `apply` that is the same for every request.
  void constant(header_list& out) const;

  /// The part of `apply` that depends on the request's origin.
  void echo(std::string_view origin, header_list& out) const;

  /// The preflight-only headers (methods, headers, max age) for a path whose
  /// methods are `allow`; the answer carries `apply`'s headers besides. A
  /// preflight from an origin that is not allowed gets none of them.
  void apply_preflight(std::string_view origin, std::string_view allow,
                       header_list& out) const;

  /// The headers a browser may send (Access-Control-Allow-Headers).
  static constexpr std::string_view allowed_headers =
    "Authorization, Content-Type, Idempotency-Key, X-Request-Id, "
    "traceparent, Last-Event-ID";

  /// Preflight cache lifetime in seconds (Access-Control-Max-Age).
  static constexpr std::string_view max_age = "600";

 private:
  bool allowed(std::string_view origin) const;

  std::vector<std::string> allowed_;
};

} // namespace miyabi::http
