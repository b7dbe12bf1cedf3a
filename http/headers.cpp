#include "http/headers.hpp"

namespace miyabi::http {

void add_security_headers(bool production, header_list& out) {
  out.emplace_back("X-Content-Type-Options", "nosniff");
  out.emplace_back("X-Frame-Options", "DENY");
  out.emplace_back("Referrer-Policy", "no-referrer");
  out.emplace_back("Content-Security-Policy",
                   "default-src 'none'; frame-ancestors 'none'");
  if (production)
    out.emplace_back("Strict-Transport-Security",
                     "max-age=31536000; includeSubDomains");
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

header_list raw_error_headers(bool production, const std::string& request_id) {
  header_list headers;
  headers.emplace_back("X-Request-Id", request_id);
  headers.emplace_back("Cache-Control", "no-store");
  add_security_headers(production, headers);
  return headers;
}

std::shared_ptr<named_header> make_header_block(const header_list& headers) {
  std::string value = headers.at(0).second;
  for (size_t i = 1; i < headers.size(); ++i)
    value += "\r\n" + headers[i].first + ": " + headers[i].second;
  return std::make_shared<named_header>(headers[0].first, std::move(value));
}

constant_headers::constant_headers(bool production, const cors_policy& cors) {
  header_list list;
  add_security_headers(production, list);
  cors.constant(list);
  common = make_header_block(list);
  no_store = std::make_shared<named_header>("Cache-Control", "no-store");
}

uint64_t named_header::hash() const {
  // Only typed lookups compare hashes; ours must merely not collide with
  // Pistache's own header types, whose hashes come from the same function.
  return Pistache::Http::Header::detail::hash(name_.c_str());
}

} // namespace miyabi::http
