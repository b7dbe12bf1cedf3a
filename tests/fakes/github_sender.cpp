#include "fakes/github_sender.hpp"

#include <cstdio>
#include <stdexcept>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace miyabi::test {

namespace {

std::string quoted(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

std::string repository(const std::string& owner, const std::string& name) {
  return R"("repository":{"id":1296269,"name":)" + quoted(name) +
         R"(,"full_name":)" + quoted(owner + "/" + name) +
         R"(,"owner":{"login":)" + quoted(owner) +
         R"(,"id":1},"private":false})";
}

} // namespace

github_sender::github_sender(const std::string& base_url, std::string secret)
    : url_(base_url + "/api/v1/github/webhook"), secret_(std::move(secret)) {}

std::string github_sender::signature(const std::string& secret,
                                     const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(),
           mac, &length) == nullptr)
    throw std::runtime_error("HMAC failed in the fake GitHub sender");
  std::string hex = "sha256=";
  char byte[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", mac[i]);
    hex += byte;
  }
  return hex;
}

std::string github_sender::new_delivery_id() {
  static std::atomic<uint64_t> counter{0};
  char id[64];
  std::snprintf(id, sizeof id, "d%08x-%04x-11ee-8c90-%012llx",
                static_cast<unsigned>(::getpid()),
                static_cast<unsigned>(counter.load() & 0xffff),
                static_cast<unsigned long long>(counter++));
  return id;
}

http_response github_sender::deliver(const std::string& event,
                                     const std::string& body,
                                     const std::string& delivery) {
  last_delivery_ = delivery.empty() ? new_delivery_id() : delivery;
  return raw(body, {{"Content-Type", "application/json"},
                    {"User-Agent", "GitHub-Hookshot/test"},
                    {"X-GitHub-Event", event},
                    {"X-GitHub-Delivery", last_delivery_},
                    {"X-GitHub-Hook-ID", "42"},
                    {"X-Hub-Signature-256", signature(secret_, body)}});
}

http_response github_sender::raw(const std::string& body,
                                 const header_pairs& headers) {
  return client_.request("POST", url_, body, headers);
}

std::string github_sender::ping() {
  return R"({"zen":"Design for failure.","hook_id":42,)"
         R"("hook":{"type":"Repository","id":42,"events":["issues",)"
         R"("pull_request"],"config":{"content_type":"json"}}})";
}

std::string github_sender::labeled_issue(const std::string& owner,
                                         const std::string& name, int64_t issue,
                                         const std::string& label) {
  return R"({"action":"labeled","issue":{"number":)" + std::to_string(issue) +
         R"(,"title":"Make it faster","state":"open","labels":[{"name":)" +
         quoted(label) + R"(}]},"label":{"id":7,"name":)" + quoted(label) +
         R"(,"color":"ededed"},)" + repository(owner, name) +
         R"(,"sender":{"login":"octocat","id":1}})";
}

std::string github_sender::pull_request(const std::string& owner,
                                        const std::string& name,
                                        const std::string& action,
                                        int64_t number, const std::string& body,
                                        const std::string& branch) {
  return R"({"action":)" + quoted(action) + R"(,"number":)" +
         std::to_string(number) + R"(,"pull_request":{"number":)" +
         std::to_string(number) +
         R"(,"state":"open","title":"Agent work",)"
         R"("body":)" +
         (body.empty() ? std::string{"null"} : quoted(body)) +
         R"(,"head":{"ref":)" + quoted(branch) +
         R"(,"sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"},)"
         R"("base":{"ref":"main"},"merged":false},)" +
         repository(owner, name) + R"(,"sender":{"login":"octocat","id":1}})";
}

} // namespace miyabi::test
