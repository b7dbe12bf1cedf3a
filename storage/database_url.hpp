// libpq helpers below the sessions: the syntax check of DATABASE_URL, run
// once at start before anything connects (a URL libpq cannot parse would
// otherwise leave the service degraded forever, failing every connection
// attempt), and a quiet reachability probe for the database monitor.
// Any thread; neither logs.
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

/// Whether the server behind `conninfo` accepts connections (libpq's
/// PQping: no login, no statement, nothing logged). Blocks up to the
/// conninfo's connect_timeout. False while the server is down or starting.
bool accepts_connections(const std::string& conninfo);

} // namespace miyabi::storage
