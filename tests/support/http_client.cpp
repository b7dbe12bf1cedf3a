#include "support/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <iterator>
#include <mutex>

#include <curl/curl.h>

namespace miyabi::test {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* resp = static_cast<http_response*>(user);
  std::string line{data, size * count};
  if (line.rfind("HTTP/", 0) == 0) {
    resp->headers.clear(); // a new response (e.g. after 100 Continue)
    return size * count;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    auto value = line.substr(colon + 1);
    auto first = value.find_first_not_of(" \t");
    auto last = value.find_last_not_of(" \t\r\n");
    value =
      first == std::string::npos ? "" : value.substr(first, last - first + 1);
    resp->headers.emplace(lower(line.substr(0, colon)), value);
  }
  return size * count;
}

} // namespace

std::string http_response::header(const std::string& name) const {
  auto i = headers.find(lower(name));
  return i == headers.end() ? std::string{} : i->second;
}

bool http_response::has_header(const std::string& name) const {
  return headers.count(lower(name)) > 0;
}

http_client::http_client(std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

http_client::~http_client() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

std::string http_response::repeated_header() const {
  for (auto i = headers.begin(); i != headers.end(); ++i) {
    auto next = std::next(i);
    if (next != headers.end() && next->first == i->first &&
        i->first != "set-cookie")
      return i->first;
  }
  return {};
}

http_response http_client::request(const std::string& method,
                                   const std::string& url,
                                   const std::string& body,
                                   const header_pairs& headers) {
  auto* curl = static_cast<CURL*>(curl_);
  http_response resp;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(timeout_.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &resp);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!body.empty() || method == "POST" || method == "PUT" ||
      method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(body.size()));
  }
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Expect:");
  for (const auto& [name, value] : headers) {
    auto line = value.empty() ? name + ";" : name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  auto rc = curl_easy_perform(curl);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    resp.error = curl_easy_strerror(rc);
    return resp;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &resp.seconds);
  return resp;
}

http_response http_client::post_json(const std::string& url,
                                     const std::string& body,
                                     header_pairs headers) {
  bool has_type = std::any_of(headers.begin(), headers.end(), [](auto& h) {
    return lower(h.first) == "content-type";
  });
  if (!has_type)
    headers.emplace_back("Content-Type", "application/json");
  return request("POST", url, body, headers);
}

} // namespace miyabi::test
