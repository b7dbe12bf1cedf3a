// libFuzzer harness: the GitHub webhook (domain/github.hpp,
// http/decode.hpp). The first input byte picks the X-GitHub-Event
// (issues, pull_request, ping or another), the rest is the raw body. Checked:
// the signature of the body verifies with its own MAC and fails with any
// other header (the body's first 71 bytes, as an attacker's header), the
// body decodes or is refused with an error value, and a decoded delivery
// keeps the invariants the handler relies on (a positive issue or pull
// request number, GitHub-valid repository names, at most ten referenced
// issues, each positive and once, labels that name known agents only).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <rapidjson/document.h>

#include "actors/protocol.hpp"
#include "base/crypto.hpp"
#include "base/json.hpp"
#include "domain/github.hpp"
#include "domain/rules.hpp"
#include "fuzz/fuzz_support.hpp"
#include "http/decode.hpp"
#include "http/operations.hpp"

namespace {

namespace domain = miyabi::domain;
namespace http = miyabi::http;

constexpr std::string_view secret = "fuzz-webhook-secret";

std::string signature_of(std::string_view body) {
  auto mac = miyabi::crypto::hmac_sha256(secret, body);
  CHECK(static_cast<bool>(mac));
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned char b : *mac) {
    out += hex[b >> 4];
    out += hex[b & 0xF];
  }
  return out;
}

void check_references(std::string_view body, std::string_view branch) {
  auto issues = domain::referenced_issues(body, branch);
  CHECK(issues.size() <= domain::max_linked_issues);
  for (size_t i = 0; i < issues.size(); ++i) {
    CHECK(issues[i] > 0);
    CHECK(std::count(issues.begin(), issues.end(), issues[i]) == 1);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  static const char* const events[] = {"issues", "pull_request", "ping",
                                       "star"};
  std::string event = events[data[0] % 4];
  std::string_view body{reinterpret_cast<const char*>(data) + 1, size - 1};

  auto good = signature_of(body);
  CHECK(domain::github_signature_valid(secret, body, good));
  auto forged = std::string{body.substr(0, 71)};
  if (forged != good) {
    // Only a header equal to the MAC (up to hex case) may verify.
    auto lowered = forged;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    CHECK(!domain::github_signature_valid(secret, body, forged) ||
          lowered == good);
  }
  CHECK(!domain::github_signature_valid("", body, good));

  // Labels and references straight from the raw text.
  if (auto agent = domain::agent_of_label(body.substr(0, 64)))
    CHECK(domain::known_agent_type(*agent));
  check_references(body, body.substr(body.size() / 2));

  rapidjson::Document doc;
  if (miyabi::parse_json(body, doc))
    return 0;
  if (!miyabi::fuzz::check_parsed_utf8(doc))
    return 0;
  http::query_map query;
  http::request_headers headers;
  headers.github_event = event;
  headers.github_delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
  auto input = http::decode_input(http::descriptor_of("receiveGithubWebhook"),
                                  http::request_parts{&doc, query, headers});
  if (!input)
    return 0;
  const auto* d = std::get_if<domain::github_delivery>(&*input);
  CHECK(d != nullptr);
  CHECK(d->event == event);
  if (d->event == "issues" && d->action == "labeled") {
    CHECK(d->issue_number > 0);
    CHECK(domain::valid_github_owner(d->owner));
    CHECK(domain::valid_github_repository(d->name));
    if (auto agent = domain::agent_of_label(d->label))
      CHECK(domain::known_agent_type(*agent));
  }
  if (d->event == "pull_request" && d->pr_number > 0) {
    CHECK(domain::valid_github_owner(d->owner));
    CHECK(domain::valid_github_repository(d->name));
    check_references(d->pr_body, d->pr_branch);
  }
  return 0;
}
