// The service's error vocabulary, shared by every layer.
//
// Errors travel as `caf::error` values (category `miyabi`) whose code is an
// `errc` and whose context holds a human message and an optional details text
// (which field, which rule). The HTTP layer owns the one mapping from `errc`
// to status codes and JSON envelopes (http/errors.hpp); everything below it
// only creates and inspects these values. Thread-safe: plain values.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace miyabi {

/// The error codes of the API contract (api.md, "Error envelope"), plus the
/// few transport-level ones the HTTP parser guard produces.
enum class errc : uint8_t {
  validation_error = 1,
  authentication_error,
  jwt_error,
  authorization_error,
  not_found,
  method_not_allowed,
  conflict,
  payload_too_large,
  unsupported_media_type,
  unprocessable_entity,
  rate_limited,
  internal_error,
  database_error,
  external_api_error,
  service_unavailable,
  timeout,
  request_timeout,
  length_required,
  header_too_large,
  uri_too_long,
  // Internal refinements that answer like one of the codes above:
  connection_lost, ///< the database connection broke (503); retry if idempotent
  unknown_outcome, ///< a commit may or may not have happened (503)
};

/// The CAF error category of `errc` values.
constexpr caf::atom_value error_category = caf::atom("miyabi");

/// Creates an error without further text; the HTTP layer supplies a default
/// message. Found by ADL, so `caf::error e = errc::not_found;` works.
caf::error make_error(errc code);

/// Creates an error with a message for the client and optional details.
/// Neither may contain internal text (SQL, exception messages, secrets).
caf::error make_error(errc code, std::string message, std::string details = {});

/// A `rate_limited` error that tells the client when to come back.
caf::error make_rate_limited(std::string message, int64_t retry_after_seconds);

/// What an error says, decoded.
struct error_info {
  bool ours = false; ///< false for CAF's own errors (timeouts, dead actors)
  errc code = errc::internal_error;
  std::string message;
  std::string details;
  int64_t retry_after_seconds = 0; ///< from make_rate_limited; else 0
};

/// Decodes an error created by `make_error`; `ours` is false otherwise.
error_info describe(const caf::error& err);

/// True when `err` is one of ours with the given code.
bool is(const caf::error& err, errc code);

} // namespace miyabi
