#include "actors/outbound.hpp"

#include <deque>

#include <caf/event_based_actor.hpp>
#include <caf/local_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>
#include <curl/curl.h>

#include "actors/supervision.hpp"
#include "config/errors.hpp"
#include "config/log.hpp"
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
  curl_easy_setopt(h, CURLOPT_USERAGENT, "miyabi-api/" MIYABI_VERSION);
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

caf::behavior outbound_worker(caf::event_based_actor* self,
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
  caf::response_promise rp;
};

struct outbound_state {
  static inline const char* name = "outbound";
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  size_t running = 0;
  std::deque<waiting_call> waiting;
};

using outbound_actor = caf::stateful_actor<outbound_state>*;

void run(outbound_actor self, http_call call, caf::response_promise rp) {
  auto& st = self->state;
  auto worker = self->spawn<caf::detached + caf::monitored>(
    outbound_worker, st.cfg->outbound_connect_timeout, st.metrics);
  ++st.running;
  rp.delegate(worker, std::move(call));
}

caf::behavior outbound(outbound_actor self,
                       std::shared_ptr<const config::settings> cfg,
                       std::shared_ptr<metrics::service_metrics> metrics) {
  self->state.cfg = std::move(cfg);
  self->state.metrics = std::move(metrics);
  log_exceptions(self, "outbound");
  self->set_down_handler([self](caf::down_msg&) {
    auto& st = self->state;
    --st.running;
    if (!st.waiting.empty()) {
      auto next = std::move(st.waiting.front());
      st.waiting.pop_front();
      run(self, std::move(next.call), std::move(next.rp));
    }
  });
  return {
    [self](http_call& call) -> caf::result<http_outcome> {
      auto& st = self->state;
      auto rp = self->make_response_promise<http_outcome>();
      if (st.running < st.cfg->outbound_workers) {
        run(self, std::move(call), rp);
      } else if (st.waiting.size() < max_waiting_calls) {
        st.waiting.push_back({std::move(call), rp});
      } else {
        rp.deliver(make_error(errc::service_unavailable,
                              "too many outbound calls waiting"));
      }
      return rp;
    },
  };
}

} // namespace

caf::actor spawn_outbound(caf::local_actor* parent,
                          std::shared_ptr<const config::settings> cfg,
                          std::shared_ptr<metrics::service_metrics> metrics) {
  return parent->spawn(outbound, std::move(cfg), std::move(metrics));
}

} // namespace miyabi::actors
