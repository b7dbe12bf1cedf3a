#include "http/metrics_listener.hpp"

#include <pistache/endpoint.h>
#include <pistache/http.h>

#include "base/crypto.hpp"
#include "metrics/metrics.hpp"

namespace miyabi::http {

namespace {

using namespace Pistache;

class scrape_handler final : public Http::Handler {
 public:
  HTTP_PROTOTYPE(scrape_handler)

  scrape_handler(std::shared_ptr<const config::settings> cfg,
                 std::shared_ptr<metrics::service_metrics> metrics)
      : cfg_(std::move(cfg)), metrics_(std::move(metrics)) {}

  void onRequest(const Http::Request& req,
                 Http::ResponseWriter writer) override {
    auto text = [&writer](Http::Code code, std::string body) {
      writer.send(code, body, MIME(Text, Plain));
    };
    if (req.resource() != "/metrics") {
      text(Http::Code::Not_Found, "not found\n");
      return;
    }
    bool head = req.method() == Http::Method::Head;
    if (req.method() != Http::Method::Get && !head) {
      writer.headers().add<Http::Header::Allow>(
        std::vector<Http::Method>{Http::Method::Get, Http::Method::Head});
      text(Http::Code::Method_Not_Allowed, "method not allowed\n");
      return;
    }
    const auto& token = cfg_->metrics_token;
    if (!token.empty()) {
      auto auth = req.headers().tryGetRaw("Authorization");
      std::string value = auth ? auth->value() : std::string{};
      if (!crypto::constant_time_equal(value, "Bearer " + token)) {
        text(Http::Code::Unauthorized, "metrics need the metrics token\n");
        return;
      }
    }
    auto body = metrics_->render();
    writer.send(Http::Code::Ok, head ? std::string{} : body,
                Http::Mime::MediaType::fromString("text/plain; version=0.0.4"));
  }

 private:
  std::shared_ptr<const config::settings> cfg_;
  std::shared_ptr<metrics::service_metrics> metrics_;
};

} // namespace

struct metrics_listener::impl {
  std::shared_ptr<const config::settings> cfg;
  std::shared_ptr<metrics::service_metrics> metrics;
  std::unique_ptr<Http::Endpoint> endpoint;
};

metrics_listener::metrics_listener(
  std::shared_ptr<const config::settings> cfg,
  std::shared_ptr<metrics::service_metrics> metrics)
    : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->metrics = std::move(metrics);
}

metrics_listener::~metrics_listener() {
  stop();
}

void metrics_listener::start() {
  const auto& cfg = *impl_->cfg;
  Address addr{cfg.metrics_host, Port{cfg.metrics_port}};
  impl_->endpoint = std::make_unique<Http::Endpoint>(addr);
  impl_->endpoint->init(Http::Endpoint::options()
                          .threads(1)
                          .threadsName("metrics")
                          .flags(Tcp::Options::ReuseAddr)
                          .maxRequestSize(16 * 1024));
  impl_->endpoint->setHandler(
    Http::make_handler<scrape_handler>(impl_->cfg, impl_->metrics));
  impl_->endpoint->serveThreaded();
}

uint16_t metrics_listener::port() const {
  return impl_->endpoint ? static_cast<uint16_t>(impl_->endpoint->getPort())
                         : 0;
}

void metrics_listener::stop() {
  if (impl_->endpoint) {
    impl_->endpoint->shutdown();
    impl_->endpoint.reset();
  }
}

} // namespace miyabi::http
