// The one mapping from errors to HTTP answers. Every error the service
// answers with passes through `to_response`; nothing else picks status codes
// for errors. Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "base/errors.hpp"

namespace miyabi::http {

struct error_response {
  int status = 500;
  std::string_view code;   ///< the envelope's `error` field
  std::string message;     ///< safe for clients: never internal text
  std::string details;     ///< empty when there is nothing to add
  int64_t retry_after = 0; ///< 429/503: the `Retry-After` seconds (else 0)
};

/// Status and envelope fields of a service error or of a CAF error
/// (request timeout: 504; dead or restarting actor: 503; anything else: 500
/// with a generic message).
error_response to_response(const caf::error& err);

} // namespace miyabi::http
