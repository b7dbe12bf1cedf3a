// The bench's library baseline: Pistache alone answering GET /api/v1/health
// with the body and Content-Type the service sends in telegram-only mode, on
// the same endpoint options as http/server.cpp, without actors, routing
// tables, metrics or logs.
//
//   bare_pistache [PORT [THREADS [contract]]]
//
// PORT 0 (default) picks a free port; the bound port is printed on stdout.
// THREADS defaults to HTTP_THREADS, else the number of CPUs. With
// `contract`, every answer also carries the headers api.md requires on every
// response, with the lengths the service's have (default CORS, a constant
// request id): the same bytes on the wire as the service, so the difference
// left is the service's own work. Listens on 127.0.0.1 only. SIGINT/SIGTERM
// stop it.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <string>
#include <thread>

#include <pistache/endpoint.h>
#include <pistache/http.h>

namespace Http = Pistache::Http;

namespace {

const auto started = std::chrono::steady_clock::now();
bool contract_headers = false;

// A response header with a run-time name: Pistache 0.0.5 writes only typed
// headers into responses (`addRaw` ones are dropped).
class text_header final : public Http::Header::Header {
 public:
  text_header(const char* name, std::string value)
      : name_(name), value_(std::move(value)) {}
  const char* name() const override { return name_; }
  uint64_t hash() const override { return Http::Header::detail::hash(name_); }
  void write(std::ostream& os) const override { os << value_; }

 private:
  const char* name_;
  std::string value_;
};

// api.md "Headers on every response" with the service's default CORS, as
// two header objects like the service adds: the constant block (its later
// lines ride in the first header's value) and the request id.
void add_contract_headers(Http::ResponseWriter& writer) {
  static const auto block = std::make_shared<text_header>(
    "X-Content-Type-Options", "nosniff\r\n"
                              "X-Frame-Options: DENY\r\n"
                              "Referrer-Policy: no-referrer\r\n"
                              "Content-Security-Policy: default-src 'none'; "
                              "frame-ancestors 'none'\r\n"
                              "Access-Control-Allow-Origin: *\r\n"
                              "Access-Control-Expose-Headers: X-Request-Id, "
                              "Retry-After");
  writer.headers().add(block);
  writer.headers().add(std::make_shared<text_header>(
    "X-Request-Id", "53b89bec-422d-4e79-9370-541471863f67"));
}

class health_handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(health_handler)

  void onRequest(const Http::Request& req,
                 Http::ResponseWriter writer) override {
    // Same keep-alive fix as the service (stack-notes §2.4): without it,
    // Pistache answers `Connection: Close` and clients reconnect per request.
    if (req.version() == Http::Version::Http11 &&
        !req.headers().has<Http::Header::Connection>()) {
      writer.headers().remove<Http::Header::Connection>();
      writer.headers().add<Http::Header::Connection>(
        Http::ConnectionControl::KeepAlive);
    }
    if (contract_headers)
      add_contract_headers(writer);
    if (req.resource() != "/api/v1/health") {
      writer.send(Http::Code::Not_Found);
      return;
    }
    if (req.method() != Http::Method::Get) {
      writer.send(Http::Code::Method_Not_Allowed);
      return;
    }
    static const auto json =
      Http::Mime::MediaType::fromString("application/json");
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
    // In contract mode the version has the length of a built commit's
    // ("0.1.0+g" and 7 hex digits), like the service's.
    std::string body = std::string{R"({"status":"ok","version":")"} +
                       MIYABI_VERSION + (contract_headers ? "+g0000000" : "") +
                       R"(","mode":"telegram-only","database":"disabled",)"
                       R"("uptime_seconds":)" +
                       std::to_string(uptime) + "}";
    writer.send(Http::Code::Ok, body, json);
  }
};

unsigned long number(const char* text, const char* what) {
  char* end = nullptr;
  auto value = std::strtoul(text, &end, 10);
  if (*text == '\0' || *end != '\0') {
    std::fprintf(stderr, "bare_pistache: bad %s: %s\n", what, text);
    std::exit(2);
  }
  return value;
}

} // namespace

int main(int argc, char** argv) {
  unsigned long port = argc > 1 ? number(argv[1], "port") : 0;
  unsigned long threads = std::thread::hardware_concurrency();
  if (argc > 2)
    threads = number(argv[2], "thread count");
  else if (const char* env = std::getenv("HTTP_THREADS"); env && *env)
    threads = number(env, "HTTP_THREADS");
  if (argc > 3)
    contract_headers = std::string{argv[3]} == "contract";
  if (port > 65535 || threads == 0 || argc > 4 ||
      (argc > 3 && !contract_headers)) {
    std::fprintf(stderr, "usage: bare_pistache [PORT [THREADS [contract]]]\n");
    return 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  Pistache::Address addr{"127.0.0.1",
                         Pistache::Port{static_cast<uint16_t>(port)}};
  Http::Endpoint endpoint{addr};
  // The options of http/server.cpp with the service's defaults
  // (MAX_BODY_BYTES 1 MiB + 64 KiB for the head, 10 s / 10 s / 120 s).
  endpoint.init(Http::Endpoint::options()
                  .threads(static_cast<int>(threads))
                  .threadsName("http")
                  .flags(Pistache::Tcp::Options::ReuseAddr |
                         Pistache::Tcp::Options::NoDelay)
                  .backlog(1024)
                  .maxRequestSize(1024 * 1024 + 64 * 1024)
                  .headerTimeout(std::chrono::seconds{10})
                  .bodyTimeout(std::chrono::seconds{10})
                  .keepaliveTimeout(std::chrono::seconds{120}));
  endpoint.setHandler(Http::make_handler<health_handler>());
  endpoint.serveThreaded();
  std::printf("%u\n",
              static_cast<unsigned>(static_cast<uint16_t>(endpoint.getPort())));
  std::fflush(stdout);

  int sig = 0;
  sigwait(&stop, &sig);
  endpoint.shutdown();
  return 0;
}
