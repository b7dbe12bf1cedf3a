// A small blocking HTTP client on libcurl for tests: one connection reused
// across calls (keep-alive), full response headers, timeouts.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace miyabi::test {

struct http_response {
  long status = 0;   ///< 0 when no response arrived
  std::string error; ///< curl's error text when status is 0
  std::multimap<std::string, std::string> headers; ///< names lower-cased
  std::string body;
  double seconds = 0;

  /// The first value of a header (name in any case), or empty.
  std::string header(const std::string& name) const;
  bool has_header(const std::string& name) const;
  /// The first header name that appears more than once (Set-Cookie aside),
  /// or empty: a repeated CORS or security header makes browsers refuse
  /// the answer.
  std::string repeated_header() const;
};

using header_pairs = std::vector<std::pair<std::string, std::string>>;

class http_client {
 public:
  explicit http_client(std::chrono::milliseconds timeout = std::chrono::seconds{
                         15});
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;
  ~http_client();

  http_response request(const std::string& method, const std::string& url,
                        const std::string& body = {},
                        const header_pairs& headers = {});

  http_response get(const std::string& url, const header_pairs& headers = {}) {
    return request("GET", url, {}, headers);
  }

  /// POST with `Content-Type: application/json` unless `headers` set one.
  http_response post_json(const std::string& url, const std::string& body,
                          header_pairs headers = {});

 private:
  void* curl_;
  std::chrono::milliseconds timeout_;
};

} // namespace miyabi::test
