#include "http/exchange.hpp"

#include <sstream>
#include <sys/socket.h>

#include "base/errors.hpp"
#include "base/log.hpp"
#include "config/settings.hpp"
#include "http/errors.hpp"
#include "http/event_hub.hpp"
#include "http/headers.hpp"
#include "http/json_codec.hpp"
#include "http/request_guard.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::http {

namespace {

namespace Http = Pistache::Http;

const Http::Mime::MediaType& media_type(std::string_view content_type) {
  static const auto json =
    Http::Mime::MediaType::fromString("application/json");
  static const auto prometheus =
    Http::Mime::MediaType::fromString("text/plain; version=0.0.4");
  if (content_type == "application/json")
    return json;
  return prometheus;
}

} // namespace

exchange::exchange(std::shared_ptr<server_context> ctx,
                   Http::ResponseWriter writer, request_facts facts)
    : ctx_(std::move(ctx)), writer_(std::move(writer)),
      peer_(writer_.getPeer()), facts_(std::move(facts)) {
  ctx_->in_flight.fetch_add(1, std::memory_order_relaxed);
}

exchange::~exchange() {
  if (!answered_.load()) {
    log::error("request dropped without an answer; answering 500",
               {{"request_id", facts_.request_id}});
    fail(make_error(errc::internal_error, "internal error"));
  }
}

std::string exchange::peer_address() const {
  return peer_ ? peer_->address().host() : std::string{};
}

void exchange::reply(actors::api_reply answer) {
  auto body = encode(answer.body);
  send(answer.status, body.content_type, std::move(body.text),
       std::move(answer.headers), false);
}

void exchange::fail(const caf::error& err) {
  fail(err, {});
}

void exchange::fail(const caf::error& err, header_list extra) {
  auto resp = to_response(err);
  if (resp.retry_after > 0)
    extra.emplace_back("Retry-After", std::to_string(resp.retry_after));
  if (resp.status >= 500) {
    log::field_list fields{
      {"request_id", facts_.request_id},
      {"route", route_table::instance().label(facts_.route)},
      {"status", resp.status},
      {"error", resp.code},
      {"error_message", resp.message},
      {"details", resp.details}};
    add_trace_fields(fields);
    log::write(log::level::error, "request failed", fields);
  }
  auto body = encode_error(resp, facts_.request_id);
  send(resp.status, "application/json", std::move(body), std::move(extra),
       true);
}

void exchange::empty(int status, header_list extra) {
  send(status, {}, {}, std::move(extra), false);
}

void exchange::send(int status, std::string_view content_type, std::string body,
                    header_list extra, bool error) {
  if (answered_.exchange(true))
    return; // Exactly once: a late second answer is dropped.
  // Counted before the write: a client that has read its answer finds it in
  // the next scrape (Pistache writes on its reactor thread anyway, so the
  // latency loses nothing measurable).
  settle(status, body.size());
  // Request-dependent CORS headers (allow-list mode) join the extras.
  ctx_->cors.echo(facts_.origin, extra);
  try {
    auto& out = writer_.headers();
    out.add(ctx_->headers.common);
    out.add(std::make_shared<named_header>("X-Request-Id", facts_.request_id));
    if (error || facts_.no_store)
      out.add(ctx_->headers.no_store);
    for (auto& [name, value] : extra)
      out.add(
        std::make_shared<named_header>(std::move(name), std::move(value)));
    auto code = static_cast<Http::Code>(status);
    bool no_body = facts_.verb == method::head || body.empty();
    // The returned promise is deliberately ignored (see the header).
    bool sent = ctx_->while_open([&] {
      return send_if_connected(peer_, [&] {
        if (no_body)
          writer_.send(code, "",
                       content_type.empty() ? Http::Mime::MediaType{}
                                            : media_type(content_type));
        else
          writer_.send(code, body, media_type(content_type));
      });
    });
    if (!sent)
      log::debug("client or endpoint gone before the answer; answer dropped",
                 {{"request_id", facts_.request_id}});
  } catch (const std::exception& e) {
    // The client went away or the response did not fit; nothing to answer.
    log::warning("could not write a response",
                 {{"request_id", facts_.request_id}, {"error", e.what()}});
  }
  leave();
  peer_.reset();
}

void exchange::add_trace_fields(log::field_list& fields) const {
  if (facts_.trace_resource.empty())
    return;
  fields.emplace_back(log_trace_key, facts_.trace_resource);
  fields.emplace_back(log_span_key, facts_.trace.span_id);
  fields.emplace_back(log_sampled_key, facts_.trace.sampled);
}

void exchange::settle(int status, size_t response_bytes) {
  auto seconds =
    std::chrono::duration<double>(actors::clock::now() - facts_.received)
      .count();
  ctx_->metrics->http.observe(facts_.route, static_cast<size_t>(facts_.verb),
                              status, seconds);
  bool access = ctx_->cfg->access_log;
  if (access || log::enabled(log::level::debug)) {
    // Cloud Logging's httpRequest: its console shows these lines as
    // requests, with their latency and status.
    char latency[32];
    std::snprintf(latency, sizeof latency, "%.6fs", seconds);
    auto method = to_string(facts_.verb);
    auto address = peer_ ? peer_address() : std::string{};
    auto size = std::to_string(response_bytes);
    const log::field http_request[] = {{"requestMethod", method},
                                       {"requestUrl", facts_.path},
                                       {"status", status},
                                       {"responseSize", size},
                                       {"userAgent", facts_.user_agent},
                                       {"remoteIp", address},
                                       {"latency", latency},
                                       {"protocol", "HTTP/1.1"}};
    log::field_list fields{
      {"request_id", facts_.request_id},
      {"route", route_table::instance().label(facts_.route)},
      {"httpRequest",
       log::object_value{http_request, std::size(http_request)}}};
    add_trace_fields(fields);
    log::write(access ? log::level::info : log::level::debug, "request",
               fields);
  }
}

void exchange::leave() {
  ctx_->in_flight.fetch_sub(1, std::memory_order_relaxed);
}

void exchange::stream(actors::stream_request request) {
  if (answered_.load())
    return;
  auto hub = ctx_->events;
  if (!hub) {
    fail(make_error(errc::service_unavailable, "live events are unavailable"));
    return;
  }
  if (hub->closed()) {
    fail(make_error(errc::service_unavailable, "the service is shutting down"));
    return;
  }
  if (!hub->admit(request.user_id)) {
    ctx_->metrics->rate_limited["event_streams"].Increment();
    fail(make_rate_limited("too many open event streams; close one first", 5));
    return;
  }
  if (answered_.exchange(true)) {
    hub->release(request.user_id);
    return;
  }
  header_list extra;
  ctx_->cors.echo(facts_.origin, extra);
  std::ostringstream head;
  head << "HTTP/1.1 200 OK\r\n";
  for (const auto& h : {ctx_->headers.common, ctx_->headers.no_store}) {
    head << h->name() << ": ";
    h->write(head);
    head << "\r\n";
  }
  head << "X-Request-Id: " << facts_.request_id << "\r\n";
  for (const auto& [name, value] : extra)
    head << name << ": " << value << "\r\n";
  // Proxies that buffer responses (nginx) would hold events back.
  head << "Content-Type: text/event-stream\r\nX-Accel-Buffering: no\r\n"
          "Transfer-Encoding: chunked\r\n\r\n";
  // The hub writes the head and the events itself (see event_hub.cpp).
  bool open = ctx_->while_open([&] {
    return send_if_connected(peer_, [&] {
      int bytes = event_stream_send_buffer;
      ::setsockopt(peer_->fd(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
    });
  });
  settle(200, 0);
  leave();
  if (open)
    hub->adopt(std::move(peer_), head.str(), std::move(request));
  else
    hub->release(request.user_id);
  peer_.reset();
}

server_context::server_context(
  std::shared_ptr<const config::settings> cfg_ptr,
  std::shared_ptr<metrics::service_metrics> metrics_ptr,
  std::shared_ptr<domain::service_status> status_ptr, cors_policy cors_rules)
    : cfg(std::move(cfg_ptr)), metrics(std::move(metrics_ptr)),
      status(std::move(status_ptr)), cors(std::move(cors_rules)),
      headers(cfg->production_rules(), cors),
      in_flight(metrics->http.in_flight()),
      login_limits(cfg->auth_rate_per_minute) {}

void server_context::close_writes() {
  std::unique_lock<std::shared_mutex> guard{writes_mtx_};
  writes_open_ = false;
}

bool server_context::while_open(const std::function<bool()>& write) {
  std::shared_lock<std::shared_mutex> guard{writes_mtx_};
  return writes_open_ && write();
}

} // namespace miyabi::http
