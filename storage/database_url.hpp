// The syntax check of DATABASE_URL, run once at start before anything
// connects: a URL libpq cannot parse would otherwise leave the service
// degraded forever, failing every connection attempt. Pure (no connection,
// no I/O); any thread.
#pragma once

#include <string>

#include <caf/error.hpp>

namespace miyabi::storage {

/// Checks `url` (a `postgresql://` URI or a `key=value` string) with libpq's
/// own parser (PQconninfoParse): unknown parameters, malformed URIs and
/// unbalanced quotes are refused. Returns a `validation_error` naming
/// DATABASE_URL, whose text never holds the URL or libpq's message (either
/// may contain the password); an empty error when libpq accepts it.
caf::error check_database_url(const std::string& url);

} // namespace miyabi::storage
