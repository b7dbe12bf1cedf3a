#include "storage/database_url.hpp"

#include <libpq-fe.h>

#include "base/errors.hpp"

namespace miyabi::storage {

caf::error check_database_url(const std::string& url) {
  char* message = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &message);
  // libpq's message quotes the offending part of the string, which may be
  // the password: it is dropped unread.
  if (message != nullptr)
    PQfreemem(message);
  if (options == nullptr)
    return make_error(errc::validation_error,
                      "invalid setting DATABASE_URL: libpq cannot parse it "
                      "(expected postgresql://user:password@host:port/db or "
                      "key=value pairs)",
                      "DATABASE_URL");
  PQconninfoFree(options);
  return {};
}

bool accepts_connections(const std::string& conninfo) {
  return PQping(conninfo.c_str()) == PQPING_OK;
}

} // namespace miyabi::storage
