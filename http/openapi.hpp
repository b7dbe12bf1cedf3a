// The OpenAPI 3 document of the API (http/openapi.json, compiled into the
// binary) served at GET /api/v1/openapi.json. A unit test keeps it and the
// route table in step. Any thread.
#pragma once

#include <string_view>

namespace miyabi::http {

/// The document's JSON text.
std::string_view openapi_document();

} // namespace miyabi::http
