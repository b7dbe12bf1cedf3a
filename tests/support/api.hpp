// What the integration tests share to talk to the service's resource
// routes: a per-thread client with a token (`api`), fresh mock users, the
// error-envelope check, request bodies and small JSON helpers. The base URL
// comes from `default_base()` (each test file sets it once it started its
// service). Any thread; one `api` object per thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "support/checks.hpp"
#include "support/http_client.hpp"
#include "support/threads.hpp"

namespace miyabi::test {

/// The base URL `api` objects and `new_account` use by default.
inline std::string& default_base() {
  static std::string base;
  return base;
}

// -- JSON ---------------------------------------------------------------------

inline const rapidjson::Value* find(const rapidjson::Value& obj,
                                    const char* key) {
  if (!obj.IsObject())
    return nullptr;
  auto i = obj.FindMember(key);
  return i == obj.MemberEnd() ? nullptr : &i->value;
}

inline bool is_null(const rapidjson::Value& obj, const char* key) {
  const auto* v = find(obj, key);
  return v != nullptr && v->IsNull();
}

inline std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

/// The member names of an object, sorted.
inline std::set<std::string> keys(const rapidjson::Value& obj) {
  std::set<std::string> out;
  if (obj.IsObject())
    for (const auto& m : obj.GetObject())
      out.emplace(m.name.GetString(), m.name.GetStringLength());
  return out;
}

/// The `id` of every element of an array.
inline std::vector<std::string> ids_of(const rapidjson::Value& array) {
  std::vector<std::string> out;
  if (array.IsArray())
    for (const auto& item : array.GetArray())
      out.push_back(text_of(item, "id"));
  return out;
}

inline bool is_uuid(const std::string& s) {
  static const std::regex re{
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"};
  return std::regex_match(s, re);
}

inline bool is_timestamp(const std::string& s) {
  static const std::regex re{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z)"};
  return std::regex_match(s, re);
}

// -- HTTP ---------------------------------------------------------------------

/// One user's view of the API: a token and a connection of its own (one
/// object per thread).
class api {
 public:
  explicit api(std::string token = {}, std::string base = {})
      : token_(std::move(token)),
        base_(base.empty() ? default_base() : std::move(base)) {}

  http_response call(const std::string& method, const std::string& path,
                     const std::string& body = {}, header_pairs headers = {}) {
    if (!token_.empty())
      headers.emplace_back("Authorization", "Bearer " + token_);
    bool typed = std::any_of(headers.begin(), headers.end(),
                             [](auto& h) { return h.first == "Content-Type"; });
    if (!body.empty() && !typed)
      headers.emplace_back("Content-Type", "application/json");
    return client_.request(method, base_ + "/api/v1" + path, body, headers);
  }

  http_response get(const std::string& path) { return call("GET", path); }
  http_response post(const std::string& path, const std::string& body = {},
                     header_pairs headers = {}) {
    return call("POST", path, body, std::move(headers));
  }
  http_response patch(const std::string& path, const std::string& body) {
    return call("PATCH", path, body);
  }
  http_response put(const std::string& path, const std::string& body) {
    return call("PUT", path, body);
  }
  http_response del(const std::string& path) { return call("DELETE", path); }

 private:
  std::string token_;
  std::string base_;
  http_client client_;
};

struct account {
  std::string id;
  std::string token;
};

/// A user nobody else in this file uses.
inline account new_account() {
  static std::atomic<long long> next{700000};
  http_client client;
  auto user = mock_login(client, default_base(), next++);
  return {user.id, user.access};
}

/// Checks the error envelope of api.md (see check_envelope), and that
/// `details` mentions `detail` when given.
inline void expect_error(const http_response& resp, long status,
                         const std::string& code,
                         const std::string& detail = {},
                         const std::string& what = {}) {
  BOOST_TEST_CONTEXT(what << " -> " << resp.status << " " << resp.body) {
    check_envelope(resp, status, code);
    if (!detail.empty())
      BOOST_TEST(contains(text_of(parse_object(resp.body), "details"), detail));
  }
}

inline std::string repository_body(const std::string& full_name) {
  return R"({"full_name":")" + full_name + R"("})";
}

inline std::string create_repository(api& a, const std::string& full_name) {
  auto resp = a.post("/repositories", repository_body(full_name));
  BOOST_REQUIRE_MESSAGE(resp.status == 201 || resp.status == 200,
                        "create " << full_name << ": " << resp.status << " "
                                  << resp.body);
  return text_of(parse_json(resp.body), "id");
}

inline std::string execution_body(const std::string& repository,
                                  long long issue,
                                  const std::string& type = "codegen",
                                  const std::string& options = {}) {
  std::string body = R"({"repository_id":")" + repository +
                     R"(","issue_number":)" + std::to_string(issue) +
                     R"(,"agent_type":")" + type + "\"";
  if (!options.empty())
    body += R"(,"options":)" + options;
  return body + "}";
}

inline std::string start_execution(api& a, const std::string& repository,
                                   long long issue,
                                   const std::string& type = "codegen") {
  auto resp =
    a.post("/agents/execute", execution_body(repository, issue, type));
  BOOST_REQUIRE_MESSAGE(resp.status == 202,
                        "execute: " << resp.status << " " << resp.body);
  return text_of(parse_json(resp.body), "id");
}

inline http_response set_status(api& a, const std::string& id,
                                const std::string& status,
                                const std::string& extra = {}) {
  return a.patch("/agents/executions/" + id,
                 R"({"status":")" + status + "\"" + extra + "}");
}

/// PATCHes `id` and requires a 200.
inline void move_to(api& a, const std::string& id, const std::string& status,
                    const std::string& extra = {}) {
  auto resp = set_status(a, id, status, extra);
  BOOST_REQUIRE_MESSAGE(resp.status == 200, "PATCH " << status << ": "
                                                     << resp.status << " "
                                                     << resp.body);
}

inline std::string status_of(api& a, const std::string& id) {
  auto resp = a.get("/agents/executions/" + id);
  if (resp.status != 200)
    return "<" + std::to_string(resp.status) + ">";
  return text_of(parse_json(resp.body), "status");
}

inline const std::string unknown_id = "00000000-0000-4000-8000-000000000000";

inline const std::string small_graph =
  R"({"nodes":[{"id":"plan","agent_type":"coordinator","label":"Plan"},)"
  R"({"id":"code","agent_type":"codegen"},)"
  R"({"id":"check","agent_type":"review"}],)"
  R"("edges":[{"from":"plan","to":"code"},{"from":"code","to":"check"}]})";

inline std::string workflow_body(const std::string& repository,
                                 const std::string& name,
                                 const std::string& graph,
                                 const std::string& extra = {}) {
  return R"({"repository_id":")" + repository + R"(","name":")" + name +
         R"(","dag_definition":)" + graph + extra + "}";
}

} // namespace miyabi::test
