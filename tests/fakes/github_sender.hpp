// A stand-in for GitHub's webhook sender in tests: builds the payloads of
// the events the service acts on (ping, issues/labeled, pull_request) and
// delivers them signed with X-Hub-Signature-256 the way GitHub does (HMAC-
// SHA256 of the raw body, computed here with OpenSSL, independently of the
// service's own code). One connection; one sender per thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "support/http_client.hpp"

namespace miyabi::test {

class github_sender {
 public:
  /// Delivers to `base_url` + /api/v1/github/webhook, signed with `secret`.
  github_sender(const std::string& base_url, std::string secret);

  /// `sha256=` and the lower-case hex HMAC-SHA256 of `body` with `secret`.
  static std::string signature(const std::string& secret,
                               const std::string& body);

  /// A fresh delivery id (a UUID-like text, unique per process).
  static std::string new_delivery_id();

  /// Delivers `body` as event `event` with a fresh delivery id (or
  /// `delivery` when given), signed with the sender's secret.
  http_response deliver(const std::string& event, const std::string& body,
                        const std::string& delivery = {});

  /// Delivers with exactly these headers (for missing or wrong ones).
  http_response raw(const std::string& body, const header_pairs& headers);

  /// The id of the last delivery sent by `deliver`.
  const std::string& last_delivery() const { return last_delivery_; }

  // -- payloads (only the fields the service reads, plus a few others) ------

  static std::string ping();
  static std::string labeled_issue(const std::string& owner,
                                   const std::string& name, int64_t issue,
                                   const std::string& label);
  static std::string pull_request(const std::string& owner,
                                  const std::string& name,
                                  const std::string& action, int64_t number,
                                  const std::string& body,
                                  const std::string& branch);

 private:
  http_client client_;
  std::string url_;
  std::string secret_;
  std::string last_delivery_;
};

} // namespace miyabi::test
