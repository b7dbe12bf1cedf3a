#include "support/checks.hpp"

#include <atomic>
#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>

namespace miyabi::test {

namespace {

using clock_type = std::chrono::steady_clock;

/// The start of a body, for failure messages.
std::string excerpt(const std::string& body) {
  constexpr size_t limit = 500;
  return body.size() <= limit ? body : body.substr(0, limit) + "...";
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject())
    return nullptr;
  auto i = v.FindMember(key);
  return i == v.MemberEnd() ? nullptr : &i->value;
}

} // namespace

// -- text ---------------------------------------------------------------------

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

long long ms_between(clock_type::time_point from, clock_type::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from)
    .count();
}

// -- JSON ---------------------------------------------------------------------

rapidjson::Document parse_json(const std::string& text) {
  auto doc = parse_lenient(text);
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError(), "not JSON: " << excerpt(text));
  return doc;
}

rapidjson::Document parse_object(const std::string& text) {
  auto doc = parse_lenient(text);
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(),
                        "not a JSON object: " << excerpt(text));
  return doc;
}

rapidjson::Document parse_lenient(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  return doc;
}

std::string text_of(const rapidjson::Value& v, const char* key) {
  const auto* m = member(v, key);
  if (m == nullptr)
    return "<missing>";
  if (m->IsNull())
    return "<null>";
  if (!m->IsString())
    return "<not a string>";
  return {m->GetString(), m->GetStringLength()};
}

long long int_of(const rapidjson::Value& v, const char* key) {
  const auto* m = member(v, key);
  return m != nullptr && m->IsInt64() ? m->GetInt64() : -999999;
}

// -- talking to the API -------------------------------------------------------

header_pairs bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

void check_envelope(const http_response& resp, long status,
                    const std::string& code) {
  BOOST_TEST(resp.status == status,
             "status " << resp.status << " body " << excerpt(resp.body));
  BOOST_TEST(resp.header("Content-Type") == "application/json");
  BOOST_TEST(resp.header("Cache-Control") == "no-store");
  BOOST_TEST(resp.repeated_header().empty(),
             "header sent twice: " << resp.repeated_header());
  auto doc = parse_object(resp.body);
  BOOST_TEST(text_of(doc, "error") == code);
  const auto* message = member(doc, "message");
  BOOST_TEST((message != nullptr && message->IsString()),
             "no string message in " << excerpt(resp.body));
  BOOST_TEST(text_of(doc, "request_id") == resp.header("X-Request-Id"));
}

mock_user mock_login(http_client& client, const std::string& base_url,
                     int64_t github_id) {
  auto id = std::to_string(github_id);
  auto resp = client.post_json(base_url + "/api/v1/auth/mock",
                               R"({"github_id":)" + id + R"(,"email":"u)" + id +
                                 R"(@example.com"})");
  BOOST_REQUIRE_MESSAGE(resp.status == 200,
                        "mock login: " << resp.status << " " << resp.body);
  auto doc = parse_object(resp.body);
  const auto* user = member(doc, "user");
  BOOST_REQUIRE_MESSAGE(user != nullptr,
                        "mock login without a user: " << excerpt(resp.body));
  mock_user out{text_of(*user, "id"), text_of(doc, "access_token"),
                text_of(doc, "refresh_token")};
  for (const auto* value : {&out.id, &out.access, &out.refresh})
    BOOST_REQUIRE_MESSAGE(
      value->rfind('<', 0) != 0 && !value->empty(),
      "mock login without an id or a token: " << excerpt(resp.body));
  return out;
}

mock_user mock_login(const service_process& svc, int64_t github_id) {
  http_client client;
  return mock_login(client, svc.base_url(), github_id);
}

// -- waiting ------------------------------------------------------------------

std::optional<std::chrono::milliseconds>
time_until(const std::function<bool()>& probe, std::chrono::milliseconds limit,
           std::chrono::milliseconds every) {
  auto start = clock_type::now();
  while (clock_type::now() - start < limit) {
    if (probe())
      return std::chrono::duration_cast<std::chrono::milliseconds>(
        clock_type::now() - start);
    std::this_thread::sleep_for(every);
  }
  return std::nullopt;
}

bool eventually(const std::function<bool()>& probe,
                std::chrono::milliseconds limit,
                std::chrono::milliseconds every) {
  return time_until(probe, limit, every).has_value();
}

// -- the running service ------------------------------------------------------

bool alive(service_process& svc) {
  return !svc.wait_exit(std::chrono::milliseconds{0}).has_value();
}

long health_status(const service_process& svc,
                   std::chrono::milliseconds timeout) {
  static std::atomic<int> probes{0};
  auto id = "health-probe-" + std::to_string(++probes);
  http_client client{timeout};
  auto resp =
    client.get(svc.base_url() + "/api/v1/health", {{"X-Request-Id", id}});
  bool ours = resp.status != 0 && resp.header("X-Request-Id") == id;
  if (!ours || (resp.status != 200 && resp.status != 503))
    BOOST_TEST_MESSAGE("health probe " << id << ": " << resp.status << " "
                                       << resp.error << " request id "
                                       << resp.header("X-Request-Id") << " "
                                       << resp.body.substr(0, 200));
  return ours ? resp.status : 0;
}

http_response scrape_metrics(const service_process& svc,
                             std::chrono::milliseconds timeout) {
  http_client client{timeout};
  return client.get(svc.base_url() + "/metrics");
}

double metric_value(const std::string& exposition, const std::string& series) {
  std::istringstream in{exposition};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0)
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

double metric_sample(const std::string& exposition, const std::string& name,
                     const std::vector<std::string>& parts) {
  std::istringstream in{exposition};
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size() ||
        (line[name.size()] != ' ' && line[name.size()] != '{'))
      continue;
    bool all = true;
    for (const auto& p : parts)
      all = all && contains(line, p);
    if (all)
      return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

double metric(const service_process& svc, const std::string& series,
              std::chrono::milliseconds timeout) {
  return metric_value(scrape_metrics(svc, timeout).body, series);
}

} // namespace miyabi::test
