#include "actors/outbound.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <string_view>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <curl/curl.h>
#include <rapidjson/document.h>

#include "actors/supervision.hpp"
#include "base/errors.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "base/utf8.hpp"
#include "base/version.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::actors {

namespace {

constexpr size_t max_response_bytes = 1 << 20;
constexpr size_t max_waiting_calls = 256;

struct transfer {
  std::string body;
  std::string retry_after;
  bool too_large = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  auto n = size * count;
  if (t->body.size() + n > max_response_bytes) {
    t->too_large = true;
    return 0; // aborts the transfer
  }
  t->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<transfer*>(user);
  std::string_view line{data, size * count};
  constexpr std::string_view key = "retry-after:";
  if (line.size() > key.size() &&
      strncasecmp(line.data(), key.data(), key.size()) == 0) {
    auto value = line.substr(key.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n'))
      value.remove_suffix(1);
    t->retry_after.assign(value);
  }
  return size * count;
}

} // namespace

std::string url_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    }
  }
  return out;
}

std::chrono::milliseconds
call_budget(std::chrono::milliseconds limit,
            std::chrono::steady_clock::time_point deadline,
            std::chrono::milliseconds reserve) {
  using std::chrono::milliseconds;
  auto left = std::chrono::duration_cast<milliseconds>(
    deadline - std::chrono::steady_clock::now() - reserve);
  return std::max(milliseconds{100}, std::min(limit, left));
}

http_call github_call(std::string method, std::string url,
                      std::string log_target, const std::string& token,
                      std::chrono::milliseconds timeout,
                      std::chrono::steady_clock::time_point deadline) {
  http_call call;
  call.service = "github";
  call.method = std::move(method);
  call.url = std::move(url);
  call.log_target = std::move(log_target);
  call.headers = {{"Accept", "application/vnd.github+json"},
                  {"Authorization", "Bearer " + token},
                  {"X-GitHub-Api-Version", "2022-11-28"}};
  call.timeout = timeout;
  call.deadline = deadline;
  return call;
}

void add_traceparent(http_call& call, const std::string& traceparent) {
  if (!traceparent.empty())
    call.headers.emplace_back("traceparent", traceparent);
}

http_call telegram_call(const config::settings& cfg,
                        const std::string& bot_method, std::string body) {
  http_call call;
  call.service = "telegram";
  call.method = "POST";
  call.url =
    cfg.telegram_api_url + "/bot" + cfg.telegram_bot_token + "/" + bot_method;
  call.log_target = "POST /bot<token>/" + bot_method;
  call.headers = {{"Content-Type", "application/json"}};
  call.body = std::move(body);
  call.timeout = cfg.outbound_timeout;
  return call;
}

std::string telegram_description(const http_outcome& out, size_t max) {
  rapidjson::Document doc;
  if (!parse_json(out.body, doc) && doc.IsObject() &&
      doc.HasMember("description") && doc["description"].IsString()) {
    std::string_view why{doc["description"].GetString(),
                         doc["description"].GetStringLength()};
    if (valid_utf8(why))
      return std::string{cut_utf8(why, max)};
  }
  return "HTTP " + std::to_string(out.status);
}

transfer_result perform(const http_call& call,
                        std::chrono::milliseconds connect_timeout) {
  transfer_result result;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(),
                                                           curl_easy_cleanup};
  if (!curl) {
    result.error = "curl_easy_init failed";
    return result;
  }
  transfer t;
  auto* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(call.timeout.count()));
  static const std::string user_agent =
    std::string{"miyabi-api/"} + build_version();
  curl_easy_setopt(h, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  if (call.method != "GET")
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call.method.c_str());
  if (call.method == "POST" || call.method == "PUT" || call.method == "PATCH" ||
      !call.body.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, call.body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
                     static_cast<long>(call.body.size()));
  }
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  for (const auto& [name, value] : call.headers)
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  auto started = std::chrono::steady_clock::now();
  auto rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  result.outcome.seconds =
    std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
      .count();
  if (rc != CURLE_OK) {
    result.error =
      t.too_large ? "response larger than 1 MiB" : curl_easy_strerror(rc);
    return result;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &result.outcome.status);
  result.outcome.body = std::move(t.body);
  result.outcome.retry_after = std::move(t.retry_after);
  result.ok = true;
  return result;
}

namespace {

outbound_handle::behavior_type
outbound_worker(outbound_handle::pointer self,
                std::chrono::milliseconds connect_timeout,
                std::shared_ptr<metrics::service_metrics> m) {
  log_exceptions(self, "outbound_worker");
  return {
    [=](const http_call& call) -> caf::result<http_outcome> {
      self->quit(); // one call per worker
      auto result = perform(call, connect_timeout);
      auto code = result.ok ? std::to_string(result.outcome.status) : "0";
      m->outbound_requests.at({call.service, code}).Increment();
      m->outbound_duration[call.service].Observe(result.outcome.seconds);
      if (!result.ok) {
        log::warning("outbound call failed", {{"service", call.service},
                                              {"target", call.log_target},
                                              {"error", result.error}});
        return make_error(errc::external_api_error,
                          call.service + " did not answer in time");
      }
      return result.outcome;
    },
  };
}

struct waiting_call {
  http_call call;
  caf::typed_response_promise<http_outcome> rp;
};

/// One destination: its limit, the calls running and those waiting.
struct lane {
  size_t limit = 1;
  size_t running = 0;
  std::deque<waiting_call> waiting;
};

struct outbound_state {
  static inline const char* name = "outbound";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::map<std::string, lane, std::less<>> lanes;
  /// The lane of each running worker, to free its slot when it ends.
  std::map<caf::actor_addr, std::string> workers;
};

using outbound_actor = outbound_handle::stateful_pointer<outbound_state>;

size_t limit_of(const config::settings& cfg, std::string_view service) {
  if (service == "github")
    return cfg.outbound_github_concurrency;
  if (service == "telegram")
    return cfg.outbound_telegram_concurrency;
  if (service == "llm")
    return cfg.outbound_llm_concurrency;
  return 1; // no other destination exists; a new one starts narrow
}

lane& lane_of(outbound_actor self, const std::string& service) {
  auto& st = self->state;
  auto i = st.lanes.find(service);
  if (i == st.lanes.end()) {
    i = st.lanes.emplace(service, lane{}).first;
    i->second.limit = limit_of(*st.cfg, service);
  }
  return i->second;
}

/// Answers a call whose deadline passed before it could start.
void drop(outbound_actor self, const http_call& call,
          caf::typed_response_promise<http_outcome>& rp) {
  self->state.metrics->outbound_dropped[call.service].Increment();
  log::warning("outbound call dropped: its deadline passed while it waited",
               {{"service", call.service}, {"target", call.log_target}});
  rp.deliver(make_error(errc::timeout, call.service +
                                         " call not sent: its deadline "
                                         "passed while it waited"));
}

/// Starts `call` in a new worker when its deadline has not passed yet; the
/// worker gets at most the time left.
void run(outbound_actor self, http_call call,
         caf::typed_response_promise<http_outcome> rp) {
  auto& st = self->state;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    call.deadline - std::chrono::steady_clock::now());
  if (left <= std::chrono::milliseconds::zero()) {
    drop(self, call, rp);
    return;
  }
  call.timeout = std::min(call.timeout, left);
  auto worker = self->spawn<caf::detached + caf::monitored>(
    outbound_worker, st.cfg->outbound_connect_timeout, st.metrics);
  ++lane_of(self, call.service).running;
  st.workers.emplace(worker.address(), call.service);
  rp.delegate(worker, std::move(call));
}

/// Starts waiting calls of `service` while it has free slots, answering
/// the ones whose deadline passed on the way.
void start_waiting(outbound_actor self, const std::string& service) {
  auto& l = lane_of(self, service);
  while (l.running < l.limit && !l.waiting.empty()) {
    auto next = std::move(l.waiting.front());
    l.waiting.pop_front();
    run(self, std::move(next.call), std::move(next.rp));
  }
}

/// Answers the waiting calls of `l` whose deadline passed (making room).
void drop_expired(outbound_actor self, lane& l) {
  auto now = std::chrono::steady_clock::now();
  auto expired = [now](const waiting_call& w) {
    return w.call.deadline <= now;
  };
  for (auto& w : l.waiting)
    if (expired(w))
      drop(self, w.call, w.rp);
  l.waiting.erase(std::remove_if(l.waiting.begin(), l.waiting.end(), expired),
                  l.waiting.end());
}

outbound_handle::behavior_type
outbound(outbound_actor self, std::shared_ptr<const config::settings> cfg,
         std::shared_ptr<metrics::service_metrics> metrics) {
  self->state.cfg = std::move(cfg);
  self->state.metrics = std::move(metrics);
  log_exceptions(self, "outbound");
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.workers.find(msg.source);
    if (i == st.workers.end())
      return;
    auto service = std::move(i->second);
    st.workers.erase(i);
    --lane_of(self, service).running;
    start_waiting(self, service);
  });
  return {
    [self](http_call& call) -> caf::result<http_outcome> {
      auto rp = self->make_response_promise<http_outcome>();
      auto& l = lane_of(self, call.service);
      if (l.running < l.limit) {
        run(self, std::move(call), rp);
        return rp;
      }
      if (l.waiting.size() >= max_waiting_calls)
        drop_expired(self, l);
      if (l.waiting.size() < max_waiting_calls)
        l.waiting.push_back({std::move(call), rp});
      else
        rp.deliver(make_error(errc::service_unavailable,
                              "too many outbound calls waiting"));
      return rp;
    },
  };
}

} // namespace

outbound_handle
spawn_outbound(caf::local_actor* parent,
               std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics) {
  return parent->spawn(outbound, std::move(cfg), std::move(metrics));
}

} // namespace miyabi::actors
