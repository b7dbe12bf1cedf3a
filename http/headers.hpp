// Response header helpers shared by the normal response path (exchange) and
// the raw answers of the parser guard: the security headers of api.md, a
// Pistache header with a run-time name, and reason phrases. Any thread.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include <pistache/http_header.h>

#include "http/cors.hpp"

namespace miyabi::http {

/// X-Content-Type-Options, X-Frame-Options, Referrer-Policy,
/// Content-Security-Policy, and HSTS in production.
void add_security_headers(bool production, header_list& out);

/// The headers of an error answered outside an exchange (the parser
/// guard, a read timeout): X-Request-Id, no-store, the security headers.
header_list raw_error_headers(bool production, const std::string& request_id);

/// Reason phrase of a status code ("Not Found").
std::string_view reason_phrase(int status);

/// A response header whose name is chosen at run time. Pistache 0.0.5 only
/// writes typed headers into responses, so every custom header uses this.
class named_header final : public Pistache::Http::Header::Header {
 public:
  named_header(std::string name, std::string value)
      : name_(std::move(name)), value_(std::move(value)) {}

  const char* name() const override { return name_.c_str(); }

  uint64_t hash() const override;

  void write(std::ostream& os) const override { os << value_; }

 private:
  std::string name_;
  std::string value_;
};

/// Several headers written as one Pistache header: its name is the first
/// header's, and its value carries the others on further lines. Pistache
/// stores every header of a response in a hash map, so adding one prebuilt
/// block instead of a dozen headers saves most of a response's allocations.
/// `headers` must not be empty (std::out_of_range). The result is immutable
/// and may be shared by all responses on all threads.
std::shared_ptr<named_header> make_header_block(const header_list& headers);

/// The headers of a configuration that every response carries: security
/// headers and the request-independent CORS part, plus the no-store header
/// of errors and auth answers. Built once; any thread.
struct constant_headers {
  constant_headers(bool production, const cors_policy& cors);

  std::shared_ptr<named_header> common;
  std::shared_ptr<named_header> no_store;
};

} // namespace miyabi::http
