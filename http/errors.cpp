#include "http/errors.hpp"

#include <algorithm>

#include <caf/sec.hpp>

namespace miyabi::http {

namespace {

struct code_info {
  int status;
  std::string_view name;
  std::string_view default_message;
};

code_info info(errc code) {
  switch (code) {
    case errc::validation_error:
      return {400, "validation_error", "the request is invalid"};
    case errc::authentication_error:
      return {401, "authentication_error", "authentication required"};
    case errc::jwt_error: return {401, "jwt_error", "the token is invalid"};
    case errc::authorization_error:
      return {403, "authorization_error", "not allowed"};
    case errc::not_found: return {404, "not_found", "not found"};
    case errc::method_not_allowed:
      return {405, "method_not_allowed", "method not allowed"};
    case errc::conflict: return {409, "conflict", "conflict"};
    case errc::payload_too_large:
      return {413, "payload_too_large", "the request body is too large"};
    case errc::unsupported_media_type:
      return {415, "unsupported_media_type",
              "the request body must be application/json"};
    case errc::unprocessable_entity:
      return {422, "unprocessable_entity", "the request cannot be processed"};
    case errc::rate_limited: return {429, "rate_limited", "too many requests"};
    case errc::internal_error: return {500, "internal_error", "internal error"};
    case errc::database_error: return {500, "database_error", "database error"};
    case errc::external_api_error:
      return {502, "external_api_error", "an upstream service failed"};
    case errc::service_unavailable:
      return {503, "service_unavailable", "service unavailable"};
    case errc::timeout: return {504, "timeout", "the request took too long"};
    case errc::request_timeout:
      return {408, "request_timeout", "the request was not received in time"};
    case errc::length_required:
      return {411, "length_required",
              "send the body with Content-Length (chunked bodies are not "
              "accepted)"};
    case errc::header_too_large:
      return {431, "request_header_fields_too_large",
              "the request headers are too large"};
    case errc::uri_too_long:
      return {414, "uri_too_long", "the request line is too long"};
    case errc::connection_lost:
      return {503, "service_unavailable", "the database is unavailable"};
    case errc::unknown_outcome:
      // Never a success or a failure that may be false: the client checks
      // (GET) or repeats the request later.
      return {503, "service_unavailable",
              "the database connection failed while committing; the change "
              "may or may not have been saved"};
  }
  return {500, "internal_error", "internal error"};
}

} // namespace

error_response to_response(const caf::error& err) {
  error_response result;
  auto described = describe(err);
  if (described.ours) {
    auto i = info(described.code);
    result.status = i.status;
    result.code = i.name;
    result.message = described.message.empty() ? std::string{i.default_message}
                                               : std::move(described.message);
    result.details = std::move(described.details);
  } else if (err == caf::sec::request_timeout) {
    result.status = 504;
    result.code = "timeout";
    result.message = "the request took too long";
  } else if (err == caf::sec::request_receiver_down) {
    result.status = 503;
    result.code = "service_unavailable";
    result.message = "the service is restarting a component";
  } else {
    result.status = 500;
    result.code = "internal_error";
    result.message = "internal error";
  }
  if (result.status == 503 || result.status == 429)
    result.retry_after = std::max<int64_t>(1, described.retry_after_seconds);
  return result;
}

} // namespace miyabi::http
