#include "domain/github.hpp"

#include <algorithm>
#include <cctype>

#include "base/crypto.hpp"
#include "base/text.hpp"
#include "domain/rules.hpp"

namespace miyabi::domain {

namespace {

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_word(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

/// An issue number of at most 9 digits (GitHub's are far below), from
/// `text[at]` on; nothing when there is none.
std::optional<int64_t> number_at(std::string_view text, size_t at,
                                 size_t* end = nullptr) {
  size_t i = at;
  int64_t n = 0;
  while (i < text.size() && is_digit(text[i]) && i - at < 10)
    n = n * 10 + (text[i++] - '0');
  if (i == at || i - at > 9 || (i < text.size() && is_word(text[i])))
    return std::nullopt;
  if (end != nullptr)
    *end = i;
  return n > 0 ? std::optional<int64_t>{n} : std::nullopt;
}

void add(std::vector<int64_t>& issues, int64_t n) {
  if (issues.size() < max_linked_issues &&
      std::find(issues.begin(), issues.end(), n) == issues.end())
    issues.push_back(n);
}

} // namespace

bool github_signature_valid(std::string_view secret, std::string_view body,
                            std::string_view header) {
  constexpr std::string_view scheme = "sha256=";
  if (secret.empty() || header.size() != scheme.size() + 64 ||
      lower(header.substr(0, scheme.size())) != scheme)
    return false;
  auto mac = crypto::hmac_sha256(secret, body);
  if (!mac)
    return false;
  static constexpr char hex[] = "0123456789abcdef";
  std::string expected;
  expected.reserve(64);
  for (unsigned char b : *mac) {
    expected += hex[b >> 4];
    expected += hex[b & 0xF];
  }
  return crypto::constant_time_equal(lower(header.substr(scheme.size())),
                                     expected);
}

std::optional<std::string> agent_of_label(std::string_view label) {
  auto text = lower(trim(label));
  constexpr std::string_view prefix = "agent:";
  if (text.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  auto type = std::string{trim(std::string_view{text}.substr(prefix.size()))};
  if (!known_agent_type(type))
    return std::nullopt;
  return type;
}

std::vector<int64_t> referenced_issues(std::string_view body,
                                       std::string_view branch) {
  static const std::string_view keywords[] = {
    "closes", "closed",   "close",    "fixes",  "fixed",
    "fix",    "resolves", "resolved", "resolve"};
  std::vector<int64_t> issues;
  auto text = lower(body);
  size_t i = 0;
  while (i < text.size() && issues.size() < max_linked_issues) {
    // A keyword starts a word: "prefixes #3" names nothing.
    if (!std::isalpha(static_cast<unsigned char>(text[i])) ||
        (i > 0 && is_word(text[i - 1]))) {
      ++i;
      continue;
    }
    size_t matched = 0;
    for (auto k : keywords)
      if (text.compare(i, k.size(), k) == 0) {
        matched = k.size();
        break;
      }
    if (matched == 0) {
      ++i;
      continue;
    }
    size_t j = i + matched;
    if (j < text.size() && text[j] == ':')
      ++j;
    size_t spaces = 0;
    while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) {
      ++j;
      ++spaces;
    }
    size_t end = j;
    if (spaces > 0 && j < text.size() && text[j] == '#')
      if (auto n = number_at(text, j + 1, &end))
        add(issues, *n);
    i = std::max(end, i + 1);
  }
  auto ref = lower(branch);
  constexpr std::string_view marker = "issue-";
  if (auto at = ref.rfind(marker);
      at != std::string::npos &&
      (at == 0 || !is_word(ref[at - 1]) || ref[at - 1] == '_')) {
    size_t end = 0;
    if (auto n = number_at(ref, at + marker.size(), &end);
        n && end == ref.size())
      add(issues, *n);
  }
  return issues;
}

} // namespace miyabi::domain
