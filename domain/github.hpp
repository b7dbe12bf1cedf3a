// What the GitHub webhook means (api.md, "GitHub webhook"): the signature
// over the raw body, the agent a label asks for, and the issues a pull
// request names. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace miyabi::domain {

/// True when `header` is `sha256=` and the lower- or upper-case hex of
/// HMAC-SHA256(secret, body), compared in constant time. False for an
/// empty secret, a missing or malformed header, or a failed HMAC.
bool github_signature_valid(std::string_view secret, std::string_view body,
                            std::string_view header);

/// The agent type a label `agent:TYPE` asks for (case-insensitive, spaces
/// around TYPE ignored); nothing for other labels or unknown types.
std::optional<std::string> agent_of_label(std::string_view label);

/// Most issues one pull request links; more references are ignored.
constexpr size_t max_linked_issues = 10;

/// The issues a pull request names, in order of appearance, each once: in
/// its body `closes #N`, `fixes #N` or `resolves #N` (any case, also
/// closed/fixed/resolved and close/fix/resolve, as GitHub reads them), and a
/// branch that ends in `issue-N`.
std::vector<int64_t> referenced_issues(std::string_view body,
                                       std::string_view branch);

} // namespace miyabi::domain
