#include "http/server.hpp"

#include <algorithm>
#include <cctype>
#include <thread>

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include "actors/auth.hpp"
#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/log.hpp"
#include "base/text.hpp"
#include "domain/github.hpp"
#include "domain/rules.hpp"
#include "http/decode.hpp"
#include "http/errors.hpp"
#include "http/event_hub.hpp"
#include "http/exchange.hpp"
#include "http/headers.hpp"
#include "http/json_codec.hpp"
#include "http/request_guard.hpp"
#include "http/routes.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::http {

namespace {

namespace Http = Pistache::Http;
using actors::credential_kind;

/// Bytes a request may take beyond its body (request line and headers).
constexpr size_t head_allowance = 64 * 1024;

method to_method(Http::Method m) {
  switch (m) {
    case Http::Method::Get: return method::get;
    case Http::Method::Post: return method::post;
    case Http::Method::Put: return method::put;
    case Http::Method::Patch: return method::patch;
    case Http::Method::Delete: return method::del;
    case Http::Method::Head: return method::head;
    case Http::Method::Options: return method::options;
    case Http::Method::Trace: return method::trace;
    default: return method::connect;
  }
}

/// The request headers the service reads, collected in one pass over
/// Pistache's raw copy of every header (typed or not).
struct request_header_values {
  std::string request_id;
  std::string origin;
  std::string cloud_trace;
  std::string traceparent; ///< W3C Trace Context
  std::string user_agent;
  std::string authorization;
  std::string content_type;
  std::string idempotency_key;
  std::string cookie;
  std::string preflight_method; ///< Access-Control-Request-Method
  std::string telegram_secret;
  std::string forwarded_for;   ///< X-Forwarded-For
  std::string last_event_id;   ///< Last-Event-ID (event stream resume)
  std::string hub_signature;   ///< X-Hub-Signature-256
  std::string github_event;    ///< X-GitHub-Event
  std::string github_delivery; ///< X-GitHub-Delivery
  bool connection = false;

  explicit request_header_values(const Http::Request& req) {
    for (const auto& entry : req.headers().rawList()) {
      const auto& name = entry.first;
      if (iequals(name, "X-Request-Id"))
        request_id = entry.second.value();
      else if (iequals(name, "Origin"))
        origin = entry.second.value();
      else if (iequals(name, "X-Cloud-Trace-Context"))
        cloud_trace = entry.second.value();
      else if (iequals(name, "traceparent"))
        traceparent = entry.second.value();
      else if (iequals(name, "User-Agent"))
        user_agent = entry.second.value();
      else if (iequals(name, "Authorization"))
        authorization = entry.second.value();
      else if (iequals(name, "Content-Type"))
        content_type = entry.second.value();
      else if (iequals(name, "Idempotency-Key"))
        idempotency_key = entry.second.value();
      else if (iequals(name, "Cookie"))
        cookie = entry.second.value();
      else if (iequals(name, "Access-Control-Request-Method"))
        preflight_method = entry.second.value();
      else if (iequals(name, "X-Telegram-Bot-Api-Secret-Token"))
        telegram_secret = entry.second.value();
      else if (iequals(name, "X-Forwarded-For"))
        forwarded_for = entry.second.value();
      else if (iequals(name, "Last-Event-ID"))
        last_event_id = entry.second.value();
      else if (iequals(name, "X-Hub-Signature-256"))
        hub_signature = entry.second.value();
      else if (iequals(name, "X-GitHub-Event"))
        github_event = entry.second.value();
      else if (iequals(name, "X-GitHub-Delivery"))
        github_delivery = entry.second.value();
      else if (iequals(name, "Connection"))
        connection = true;
    }
  }
};

bool valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

/// Parses `Authorization`: `Bearer <token>`, scheme case-insensitive,
/// exactly one token.
credential_kind parse_credentials(std::string_view value, std::string& token) {
  if (value.empty())
    return credential_kind::none;
  auto space = value.find(' ');
  if (space == std::string_view::npos)
    return credential_kind::malformed;
  auto scheme = value.substr(0, space);
  auto rest = trim(value.substr(space + 1), " ");
  if (!iequals(scheme, "bearer") || rest.empty() ||
      rest.find_first_of(" \t") != std::string_view::npos)
    return credential_kind::malformed;
  token.assign(rest);
  return credential_kind::bearer;
}

/// The client's address: the first X-Forwarded-For entry behind a trusted
/// front end (Cloud Run appends the client there), else the socket peer.
std::string client_address(const exchange& ex, std::string_view forwarded_for,
                           bool trust_proxy) {
  if (trust_proxy) {
    auto first = trim(forwarded_for.substr(0, forwarded_for.find(',')), " \t");
    if (!first.empty())
      return std::string{first};
  }
  return ex.peer_address();
}

bool is_json_media_type(std::string_view value) {
  return iequals(trim(value.substr(0, value.find(';'))), "application/json");
}

/// The parts of a request that are judged only once its caller is known
/// (api.md, order of checks: an unauthenticated client never learns the
/// rules of paths, queries and bodies): the `{id}` segment, the query, the
/// content type and the body, decoded into `api_request::input`. Runs once,
/// on the thread that completes the request (a reactor thread, or the
/// front actor after verifying the token). Errors: validation_error (400),
/// unsupported_media_type (415), unprocessable_entity (422).
struct request_content {
  std::shared_ptr<metrics::service_metrics> metrics;
  const operation_descriptor* op = nullptr;
  std::string path_id;
  std::vector<std::pair<std::string, std::string>> raw_query;
  std::string content_type;
  std::string body_text;
  request_headers extra;

  caf::error operator()(actors::api_request& r) const {
    auto err = decode(r);
    if (err && op->telegram_update)
      metrics->telegram_updates["rejected"].Increment();
    return err;
  }

 private:
  caf::error decode(actors::api_request& r) const {
    if (!path_id.empty() && !domain::valid_uuid(path_id))
      return make_error(errc::validation_error, "malformed id",
                        "the {id} path segment must be a UUID");
    r.path_id = path_id;
    // Query values arrive raw from Pistache; decode them once here.
    query_map query;
    for (const auto& [raw_key, raw_value] : raw_query) {
      auto key = percent_decode(raw_key);
      auto value = percent_decode(raw_value);
      if (!key || !value)
        return make_error(errc::validation_error, "malformed query string",
                          "bad percent-encoding");
      query.emplace(std::move(*key), std::move(*value));
    }
    rapidjson::Document doc;
    const rapidjson::Value* body = nullptr;
    if (!body_text.empty() || op->json_body) {
      if (!is_json_media_type(content_type))
        return make_error(errc::unsupported_media_type);
      if (auto err = parse_json(body_text, doc))
        return err;
      body = &doc;
    }
    auto input = decode_input(*op, request_parts{body, query, extra});
    if (!input)
      return std::move(input.error());
    r.input = std::move(*input);
    return {};
  }
};

} // namespace

// -- the Pistache handler -----------------------------------------------------

class api_handler final : public Http::Handler {
 public:
  HTTP_PROTOTYPE(api_handler)

  api_handler(std::shared_ptr<server_context> ctx, actors::service* actors,
              guard_limits limits)
      : ctx_(std::move(ctx)), actors_(actors), limits_(limits) {}

  void onRequest(const Http::Request& req,
                 Http::ResponseWriter writer) override {
    try {
      handle(req, std::move(writer));
    } catch (const std::exception& e) {
      // Anything that escaped has already been answered by the exchange's
      // destructor (500); never let Pistache send e.what().
      log::error("request handler threw", {{"exception", e.what()}});
    } catch (...) {
      log::error("request handler threw a non-standard exception");
    }
  }

  void onTimeout(const Http::Request&, Http::ResponseWriter writer) override {
    try {
      auto peer = writer.getPeer();
      if (!peer || refused(peer))
        return;
      take_request(peer); // answered here (408): no longer being read
      auto err = to_response(make_error(errc::request_timeout));
      auto request_id = crypto::random_uuid();
      auto& out = writer.headers();
      for (auto& [name, value] :
           raw_error_headers(ctx_->cfg->production_rules(), request_id))
        out.add(std::make_shared<named_header>(name, value));
      out.remove<Http::Header::Connection>();
      out.add<Http::Header::Connection>(Http::ConnectionControl::Close);
      writer.send(Http::Code::Request_Timeout, encode_error(err, request_id),
                  Http::Mime::MediaType::fromString("application/json"));
    } catch (const std::exception& e) {
      log::warning("could not answer a timed-out request",
                   {{"error", e.what()}});
    }
  }

 private:
  void
  onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    mark_gone(peer);
    // Pistache queues writes by descriptor number and closes this one right
    // after we return; a new connection may get the same number at once.
    // Every answer for this client entered the queue before mark_gone
    // returned, so moving the queue on now sends them to this descriptor
    // (or drops them with it) and none can reach its successor.
    transport()->flush();
  }

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    install_guarded_parser(peer, getMaxRequestSize(), limits_);
  }

  /// The steps of one request, in the order of api.md's checks.
  void handle(const Http::Request& req, Http::ResponseWriter writer);

  /// The exchange that answers the request, with its facts.
  std::shared_ptr<exchange> open_exchange(const Http::Request& req,
                                          Http::ResponseWriter writer,
                                          request_header_values& in,
                                          const route_match& match);

  /// Why the request is refused before its route is looked at (shutdown,
  /// overload, unknown path), or nothing.
  caf::error refusal(bool began_before_drain, const route_match& match) const;

  /// Answers OPTIONS, a method the path does not allow and static
  /// documents; otherwise returns the operation to run.
  const operation_descriptor*
  route_answer(exchange& ex, const route_match& match,
               const request_header_values& in) const;

  /// Why the operation is refused before its input is read (webhook
  /// secret, telegram-only mode, sign-in rate limit), or nothing.
  caf::error operation_refusal(const operation_descriptor& op,
                               const exchange& ex,
                               const request_header_values& in,
                               const std::string& body) const;

  /// Builds the call and hands it to the actors.
  void dispatch(const operation_descriptor& op, std::shared_ptr<exchange> ex,
                const Http::Request& req, request_header_values& in,
                const route_match& match);

  std::shared_ptr<server_context> ctx_;
  actors::service* actors_;
  guard_limits limits_;
};

void api_handler::handle(const Http::Request& req,
                         Http::ResponseWriter writer) {
  // Before anything can answer: the request is no longer being received.
  bool began_before_drain = take_request(writer.getPeer());
  // Pistache 0.0.5 counts a connection whose request was handed over but
  // not answered as still sending headers: its idle check would write a
  // 408 into a slow answer or an event stream after HEADER_TIMEOUT_MS. Idle,
  // only the keep-alive limit applies (raised above the longest stream).
  if (auto peer = writer.getPeer())
    peer->setIdle(true);
  request_header_values in{req};
  auto match = route_table::instance().match(req.resource());
  auto ex = open_exchange(req, std::move(writer), in, match);
  if (auto err = refusal(began_before_drain, match)) {
    ex->fail(err);
    return;
  }
  const auto* op = route_answer(*ex, match, in);
  if (op == nullptr)
    return; // answered
  if (auto err = operation_refusal(*op, *ex, in, req.body())) {
    ex->fail(err);
    return;
  }
  dispatch(*op, std::move(ex), req, in, match);
}

std::shared_ptr<exchange> api_handler::open_exchange(
  const Http::Request& req, Http::ResponseWriter writer,
  request_header_values& in, const route_match& match) {
  request_facts facts;
  facts.received = actors::clock::now();
  facts.verb = to_method(req.method());
  facts.request_id = valid_request_id(in.request_id) ? std::move(in.request_id)
                                                     : crypto::random_uuid();
  facts.origin = std::move(in.origin);
  facts.trace = trace_of(in.traceparent, in.cloud_trace);
  facts.trace_resource =
    trace_resource(ctx_->cfg->google_cloud_project, facts.trace);
  if (ctx_->cfg->access_log || log::enabled(log::level::debug)) {
    facts.path = req.resource().substr(0, 2048);
    facts.user_agent = in.user_agent.substr(0, 512);
  }
  facts.route = match.route;
  facts.no_store = req.resource().rfind("/api/v1/auth", 0) == 0;
  // Pistache answers `Connection: Close` to HTTP/1.1 requests without a
  // Connection header yet keeps the socket: clients would reconnect per
  // request. Persistent connections are the HTTP/1.1 default.
  if (req.version() == Http::Version::Http11 && !in.connection) {
    writer.headers().remove<Http::Header::Connection>();
    writer.headers().add<Http::Header::Connection>(
      Http::ConnectionControl::KeepAlive);
  }
  return std::make_shared<exchange>(ctx_, std::move(writer), std::move(facts));
}

caf::error api_handler::refusal(bool began_before_drain,
                                const route_match& match) const {
  const auto& table = route_table::instance();
  if (ctx_->status->draining.load(std::memory_order_relaxed) &&
      !began_before_drain)
    // Requests whose first byte came before SIGTERM are served (api.md,
    // graceful shutdown); later ones are told to go elsewhere.
    return make_error(errc::service_unavailable,
                      "the service is shutting down");
  const auto* probe = table.find(match.route, method::get);
  // Probes and scrapes stay answerable under overload: a liveness probe
  // failing because the instance is busy would get it restarted.
  if (!(probe && probe->probe) &&
      ctx_->in_flight.load(std::memory_order_relaxed) > ctx_->cfg->max_inflight)
    return make_error(errc::service_unavailable, "too many requests in flight");
  if (match.route == table.unmatched())
    return make_error(errc::not_found, "no such route");
  return {};
}

const operation_descriptor*
api_handler::route_answer(exchange& ex, const route_match& match,
                          const request_header_values& in) const {
  const auto& table = route_table::instance();
  const auto& route = table.routes()[match.route];
  auto verb = ex.facts().verb;
  if (verb == method::options) {
    header_list headers;
    headers.emplace_back("Allow", route.allow);
    if (!in.preflight_method.empty())
      ctx_->cors.apply_preflight(ex.facts().origin, route.allow, headers);
    ex.empty(204, std::move(headers));
    return nullptr;
  }
  const auto* op = table.find(match.route, verb);
  if (op == nullptr) {
    // The method is checked before anything else about the request.
    ex.fail(make_error(errc::method_not_allowed,
                       "method not allowed on this path",
                       "allowed: " + route.allow),
            {{"Allow", route.allow}});
    return nullptr;
  }
  if (op->local_answer) {
    // A static document: nothing for an actor to decide.
    ex.reply(op->local_answer());
    return nullptr;
  }
  return op;
}

caf::error api_handler::operation_refusal(const operation_descriptor& op,
                                          const exchange& ex,
                                          const request_header_values& in,
                                          const std::string& body) const {
  const auto& cfg = *ctx_->cfg;
  if (op.github_signature &&
      !domain::github_signature_valid(cfg.github_webhook_secret, body,
                                      in.hub_signature)) {
    // Over the raw bytes, before anything parses them (api.md, GitHub
    // webhook).
    ctx_->metrics->github_deliveries["rejected"].Increment();
    return make_error(errc::authentication_error,
                      in.hub_signature.empty()
                        ? "missing signature"
                        : "the signature does not match the body",
                      "X-Hub-Signature-256");
  }
  if (op.telegram_update && !cfg.telegram_webhook_secret.empty() &&
      !crypto::constant_time_equal(in.telegram_secret,
                                   cfg.telegram_webhook_secret)) {
    // Checked before the body is even looked at (api.md, Telegram bot).
    ctx_->metrics->telegram_updates["rejected"].Increment();
    return make_error(errc::authentication_error,
                      "missing or wrong X-Telegram-Bot-Api-Secret-Token");
  }
  if (op.database && ctx_->status->telegram_only())
    return make_error(errc::service_unavailable,
                      "the database is not configured (telegram-only mode)");
  if (op.limit == admission_limit::login) {
    auto address = client_address(ex, in.forwarded_for, cfg.trust_proxy);
    if (auto wait = ctx_->login_limits.take(address)) {
      ctx_->metrics->rate_limited["auth"].Increment();
      return make_rate_limited("too many sign-in requests from this address",
                               *wait);
    }
  }
  return {};
}

void api_handler::dispatch(const operation_descriptor& op,
                           std::shared_ptr<exchange> ex,
                           const Http::Request& req, request_header_values& in,
                           const route_match& match) {
  const auto& f = ex->facts();
  actors::api_call call;
  auto& request = call.request;
  request.rules = op.rules;
  request.meta.request_id = f.request_id;
  request.meta.traceparent = traceparent_of(f.trace);
  request.meta.received = f.received;
  request.meta.deadline = f.received + ctx_->cfg->request_timeout;
  request.write = f.verb == method::post || f.verb == method::put ||
                  f.verb == method::patch || f.verb == method::del;
  request.credentials = parse_credentials(in.authorization, request.token);
  request_content complete;
  complete.metrics = ctx_->metrics;
  complete.op = &op;
  complete.path_id.assign(match.id);
  for (auto i = req.query().parameters_begin();
       i != req.query().parameters_end(); ++i)
    complete.raw_query.emplace_back(i->first, i->second);
  complete.content_type = std::move(in.content_type);
  complete.body_text = req.body();
  complete.extra.idempotency_key = std::move(in.idempotency_key);
  complete.extra.last_event_id = std::move(in.last_event_id);
  complete.extra.github_event = std::move(in.github_event);
  complete.extra.github_delivery = std::move(in.github_delivery);
  if (op.login_cookie)
    complete.extra.login_cookie = cookie_value(in.cookie, actors::login_cookie);
  bool by_ticket = op.rules.who == actors::caller::ticket_or_token &&
                   request.credentials == credential_kind::none;
  if (op.rules.who != actors::caller::anyone && !by_ticket) {
    if (request.credentials != credential_kind::bearer) {
      ex->fail(actors::credentials_error(request.credentials));
      return;
    }
    // The front actor verifies the token, then completes the request.
    call.complete = std::move(complete);
  } else if (auto err = complete(request)) {
    ex->fail(err);
    return;
  }
  call.out = std::move(ex);
  actors_->dispatch(std::move(call));
}

// -- server -------------------------------------------------------------------

struct server::impl {
  std::shared_ptr<server_context> ctx;
  actors::service* actors = nullptr;
  std::unique_ptr<Http::Endpoint> endpoint;
};

server::server(std::shared_ptr<const config::settings> cfg,
               std::shared_ptr<metrics::service_metrics> metrics,
               std::shared_ptr<domain::service_status> status,
               actors::service& actors)
    : impl_(std::make_unique<impl>()) {
  auto origins = cfg->cors_allowed_origins;
  impl_->ctx = std::make_shared<server_context>(
    std::move(cfg), std::move(metrics), std::move(status),
    cors_policy{std::move(origins)});
  impl_->actors = &actors;
  if (impl_->ctx->cfg->database_enabled())
    impl_->ctx->events = std::make_shared<event_hub>(
      impl_->ctx->cfg, impl_->ctx->metrics, *impl_->ctx);
}

server::~server() {
  stop();
}

std::vector<std::string> server::route_labels() {
  return route_table::instance().labels();
}

void server::start() {
  const auto& cfg = *impl_->ctx->cfg;
  Pistache::Address addr{cfg.bind_host, Pistache::Port{cfg.port}};
  impl_->endpoint = std::make_unique<Http::Endpoint>(addr);
  auto opts = Http::Endpoint::options()
                .threads(static_cast<int>(cfg.http_threads))
                .threadsName("http")
                .flags(Pistache::Tcp::Options::ReuseAddr |
                       Pistache::Tcp::Options::NoDelay)
                .backlog(1024)
                .maxRequestSize(cfg.max_body_bytes + head_allowance)
                .headerTimeout(cfg.header_timeout)
                .bodyTimeout(cfg.body_timeout)
                .keepaliveTimeout(std::max<std::chrono::milliseconds>(
                  cfg.keepalive_timeout,
                  cfg.event_stream_max + std::chrono::seconds{30}));
  impl_->endpoint->init(opts);
  guard_limits limits;
  limits.max_body = cfg.max_body_bytes;
  limits.production = cfg.production_rules();
  limits.intake = impl_->ctx->intake;
  impl_->endpoint->setHandler(
    Http::make_handler<api_handler>(impl_->ctx, impl_->actors, limits));
  impl_->endpoint->serveThreaded();
  if (impl_->ctx->events)
    impl_->ctx->events->start();
}

uint16_t server::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort())
                         : 0;
}

void server::begin_drain() {
  impl_->ctx->intake->draining = true;
  impl_->ctx->status->draining = true;
  // Streams never end by themselves soon enough: end them now, the
  // clients resume on another instance.
  if (impl_->ctx->events)
    impl_->ctx->events->end_streams();
}

bool server::wait_idle(std::chrono::steady_clock::time_point deadline) {
  const auto& ctx = *impl_->ctx;
  while (ctx.in_flight.load() > 0 || ctx.intake->reading.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
  return true;
}

void server::stop() {
  if (impl_->endpoint) {
    // An answer counts as done once it is queued for its reactor thread;
    // Pistache offers no way to see that queue empty, and shutting the
    // reactors down first would drop what is still in it (seen as a
    // connection closed without an answer by a client of the last burst).
    // Answers that come later (past the grace period) are turned away: the
    // transports they would be written through are about to go.
    if (impl_->ctx->events)
      impl_->ctx->events->stop();
    impl_->ctx->close_writes();
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

} // namespace miyabi::http
