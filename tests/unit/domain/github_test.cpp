// What the GitHub webhook means (domain/github.hpp): the signature over the
// raw body, the agent a label asks for, and the issues a pull request names.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "base/crypto.hpp"
#include "domain/github.hpp"

using namespace miyabi::domain;

namespace {

// GitHub's documented example ("Validating webhook deliveries").
constexpr char docs_secret[] = "It's a Secret to Everybody";
constexpr char docs_payload[] = "Hello, World!";
constexpr char docs_signature[] =
  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

constexpr char webhook_secret[] = "unit-test-webhook-secret";
constexpr char delivery[] = R"({"action":"labeled","issue":{"number":12}})";

/// The `X-Hub-Signature-256` header GitHub sends for `payload`.
std::string signature_of(std::string_view key, std::string_view payload) {
  static constexpr char digits[] = "0123456789abcdef";
  auto mac = miyabi::crypto::hmac_sha256(key, payload).value();
  std::string header = "sha256=";
  for (unsigned char b : mac) {
    header += digits[b >> 4];
    header += digits[b & 0xF];
  }
  return header;
}

std::string upper(std::string text) {
  for (auto& c : text)
    if (c >= 'a' && c <= 'f')
      c = static_cast<char>(c - 'a' + 'A');
  return text;
}

using numbers = std::vector<int64_t>;

} // namespace

BOOST_AUTO_TEST_SUITE(github_signature)

BOOST_AUTO_TEST_CASE(githubs_documented_example_is_valid) {
  BOOST_TEST(github_signature_valid(docs_secret, docs_payload, docs_signature));
  // The helper the other cases use agrees with GitHub.
  BOOST_TEST(signature_of(docs_secret, docs_payload) == docs_signature);
}

BOOST_AUTO_TEST_CASE(a_signature_over_the_body_with_the_secret_is_valid) {
  BOOST_TEST(github_signature_valid(webhook_secret, delivery,
                                    signature_of(webhook_secret, delivery)));
  BOOST_TEST(github_signature_valid(webhook_secret, "",
                                    signature_of(webhook_secret, "")));
  std::string binary("a\0b\xff", 4);
  BOOST_TEST(github_signature_valid(webhook_secret, binary,
                                    signature_of(webhook_secret, binary)));
}

BOOST_AUTO_TEST_CASE(upper_case_hex_is_accepted) {
  auto header = "sha256=" + upper(std::string{docs_signature}.substr(7));
  BOOST_TEST(header != docs_signature);
  BOOST_TEST(github_signature_valid(docs_secret, docs_payload, header));
}

BOOST_AUTO_TEST_CASE(a_signature_over_another_body_is_refused) {
  auto header = signature_of(webhook_secret, delivery);
  BOOST_TEST(!github_signature_valid(
    webhook_secret, R"({"action":"labeled","issue":{"number":13}})", header));
  BOOST_TEST(
    !github_signature_valid(docs_secret, "Hello, World?", docs_signature));
  BOOST_TEST(!github_signature_valid(docs_secret, "", docs_signature));
}

BOOST_AUTO_TEST_CASE(a_signature_made_with_another_secret_is_refused) {
  BOOST_TEST(!github_signature_valid("another secret", delivery,
                                     signature_of(webhook_secret, delivery)));
  BOOST_TEST(!github_signature_valid("it's a secret to everybody", docs_payload,
                                     docs_signature));
}

BOOST_AUTO_TEST_CASE(an_empty_secret_refuses_every_signature) {
  // HMAC-SHA256 of `payload` with an empty key (computed elsewhere): what
  // anyone could sign with if an unset secret were accepted.
  constexpr char empty_key_signature[] =
    "sha256=95a1a14fc6b48958d8f0496b2ebc414a5f172bae508ed277656cc92fb5cf9f0c";
  std::string payload = R"({"action":"labeled"})";
  BOOST_TEST(!github_signature_valid("", payload, empty_key_signature));
  BOOST_TEST(!github_signature_valid("", docs_payload, docs_signature));
}

BOOST_AUTO_TEST_CASE(a_missing_header_is_refused) {
  BOOST_TEST(!github_signature_valid(webhook_secret, delivery, ""));
  BOOST_TEST(!github_signature_valid(webhook_secret, delivery, "sha256="));
}

BOOST_AUTO_TEST_CASE(a_short_or_long_signature_is_refused) {
  std::string header = docs_signature;
  BOOST_TEST(!github_signature_valid(docs_secret, docs_payload,
                                     header.substr(0, header.size() - 1)));
  BOOST_TEST(!github_signature_valid(docs_secret, docs_payload, header + "0"));
  BOOST_TEST(!github_signature_valid(docs_secret, docs_payload, header + " "));
  BOOST_TEST(!github_signature_valid(
    docs_secret, docs_payload, " " + header.substr(0, header.size() - 1)));
  // The hex alone, without its scheme.
  BOOST_TEST(
    !github_signature_valid(docs_secret, docs_payload, header.substr(7)));
}

BOOST_AUTO_TEST_CASE(another_scheme_is_refused) {
  std::string hex = std::string{docs_signature}.substr(7);
  BOOST_TEST(!github_signature_valid(docs_secret, docs_payload, "sha1=" + hex));
  BOOST_TEST(
    !github_signature_valid(docs_secret, docs_payload, "sha512=" + hex));
  BOOST_TEST(
    !github_signature_valid(docs_secret, docs_payload, "sha256:" + hex));
}

BOOST_AUTO_TEST_CASE(one_changed_hex_digit_is_refused) {
  std::string header = docs_signature;
  for (size_t at = 7; at < header.size(); at += 9) {
    auto changed = header;
    changed[at] = changed[at] == '0' ? '1' : '0';
    BOOST_TEST(!github_signature_valid(docs_secret, docs_payload, changed),
               "digit " << at);
  }
  // Right length, not hex.
  BOOST_TEST(!github_signature_valid(docs_secret, docs_payload,
                                     "sha256=" + std::string(64, 'z')));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(github_labels)

BOOST_AUTO_TEST_CASE(an_agent_label_names_its_agent_type) {
  BOOST_TEST(agent_of_label("agent:codegen").value_or("") == "codegen");
  for (const char* type :
       {"coordinator", "codegen", "review", "pr", "deployment", "issue"})
    BOOST_TEST(agent_of_label(std::string{"agent:"} + type).value_or("") ==
               type);
}

BOOST_AUTO_TEST_CASE(an_agent_label_is_read_in_any_case_and_without_spaces) {
  BOOST_TEST(agent_of_label("Agent:CodeGen").value_or("") == "codegen");
  BOOST_TEST(agent_of_label("AGENT:REVIEW").value_or("") == "review");
  BOOST_TEST(agent_of_label("  agent: codegen  ").value_or("") == "codegen");
  BOOST_TEST(agent_of_label("agent:\tpr").value_or("") == "pr");
}

BOOST_AUTO_TEST_CASE(an_agent_label_of_an_unknown_type_names_nothing) {
  BOOST_TEST(!agent_of_label("agent:wizard").has_value());
  BOOST_TEST(!agent_of_label("agent:").has_value());
  BOOST_TEST(!agent_of_label("agent:code gen").has_value());
  BOOST_TEST(!agent_of_label("agent:codegen2").has_value());
}

BOOST_AUTO_TEST_CASE(other_labels_name_no_agent) {
  BOOST_TEST(!agent_of_label("bug").has_value());
  BOOST_TEST(!agent_of_label("").has_value());
  BOOST_TEST(!agent_of_label("codegen").has_value());
  BOOST_TEST(!agent_of_label("agents:codegen").has_value());
  BOOST_TEST(!agent_of_label("type:codegen").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(github_references)

BOOST_AUTO_TEST_CASE(every_closing_keyword_names_its_issue) {
  for (const char* keyword : {"close", "closes", "closed", "fix", "fixes",
                              "fixed", "resolve", "resolves", "resolved"}) {
    auto body = std::string{"This change "} + keyword + " #12 for good.";
    BOOST_TEST(referenced_issues(body, "") == numbers{12}, keyword);
  }
}

BOOST_AUTO_TEST_CASE(keywords_are_read_in_any_case) {
  BOOST_TEST(referenced_issues("FIXES #5", "") == numbers{5});
  BOOST_TEST(referenced_issues("Closes #6", "") == numbers{6});
  BOOST_TEST(referenced_issues("ReSoLvEd #7", "") == numbers{7});
}

BOOST_AUTO_TEST_CASE(
  a_keyword_may_have_a_colon_and_needs_a_space_before_the_number) {
  BOOST_TEST(referenced_issues("Fixes: #3", "") == numbers{3});
  BOOST_TEST(referenced_issues("fixes\t#4", "") == numbers{4});
  BOOST_TEST(referenced_issues("closes   #8", "") == numbers{8});
  BOOST_TEST(referenced_issues("fixes#3", "").empty());
  BOOST_TEST(referenced_issues("fixes:#3", "").empty());
  BOOST_TEST(referenced_issues("fixes\n#3", "").empty());
  BOOST_TEST(referenced_issues("fixes 3", "").empty());
  BOOST_TEST(referenced_issues("fixes other/repo#3", "").empty());
}

BOOST_AUTO_TEST_CASE(a_keyword_inside_another_word_names_nothing) {
  BOOST_TEST(referenced_issues("prefixes #3", "").empty());
  BOOST_TEST(referenced_issues("unresolved #3", "").empty());
  BOOST_TEST(referenced_issues("fixing #3", "").empty());
  BOOST_TEST(referenced_issues("closest #3", "").empty());
  BOOST_TEST(referenced_issues("hotfix #3", "").empty());
  // Punctuation before the keyword starts a word.
  BOOST_TEST(referenced_issues("(fixes #3)", "") == numbers{3});
  BOOST_TEST(referenced_issues("- closes #4.", "") == numbers{4});
}

BOOST_AUTO_TEST_CASE(a_number_followed_by_a_letter_is_not_a_reference) {
  BOOST_TEST(referenced_issues("fixes #12abc", "").empty());
  BOOST_TEST(referenced_issues("fixes #12_3", "").empty());
  BOOST_TEST(referenced_issues("fixes #abc", "").empty());
  BOOST_TEST(referenced_issues("fixes #", "").empty());
  BOOST_TEST(referenced_issues("fixes #0", "").empty());
  // The scan goes on after a non-reference.
  BOOST_TEST(referenced_issues("fixes #12abc, fixes #4", "") == numbers{4});
}

BOOST_AUTO_TEST_CASE(a_number_of_more_than_nine_digits_is_not_a_reference) {
  BOOST_TEST(referenced_issues("fixes #123456789", "") == numbers{123456789});
  BOOST_TEST(referenced_issues("fixes #1234567890", "").empty());
}

BOOST_AUTO_TEST_CASE(issues_are_named_once_in_order_of_appearance) {
  BOOST_TEST(referenced_issues("Closes #9 and fixes #2; resolves #5", "") ==
             (numbers{9, 2, 5}));
  BOOST_TEST(referenced_issues("fixes #3, closes #3, fixes #1", "") ==
             (numbers{3, 1}));
}

BOOST_AUTO_TEST_CASE(at_most_ten_issues_are_linked) {
  std::string body;
  for (int n = 1; n <= 12; ++n)
    body += "fixes #" + std::to_string(n) + "\n";
  auto found = referenced_issues(body, "miyabi/issue-13");
  BOOST_TEST(found.size() == max_linked_issues);
  BOOST_TEST(found == (numbers{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
}

BOOST_AUTO_TEST_CASE(a_branch_ending_in_issue_n_names_issue_n) {
  BOOST_TEST(referenced_issues("", "miyabi/issue-12") == numbers{12});
  BOOST_TEST(referenced_issues("", "fix-issue-7") == numbers{7});
  BOOST_TEST(referenced_issues("", "issue-3") == numbers{3});
  BOOST_TEST(referenced_issues("", "Feature/Issue-8") == numbers{8});
}

BOOST_AUTO_TEST_CASE(a_branch_that_only_contains_issue_n_names_nothing) {
  BOOST_TEST(referenced_issues("", "tissue-5").empty());
  BOOST_TEST(referenced_issues("", "issue-5-more").empty());
  BOOST_TEST(referenced_issues("", "issue-5a").empty());
  BOOST_TEST(referenced_issues("", "issue-").empty());
  BOOST_TEST(referenced_issues("", "issue-0").empty());
  BOOST_TEST(referenced_issues("", "main").empty());
}

BOOST_AUTO_TEST_CASE(the_branchs_issue_follows_the_bodys_and_is_not_repeated) {
  BOOST_TEST(referenced_issues("fixes #3", "miyabi/issue-12") ==
             (numbers{3, 12}));
  BOOST_TEST(referenced_issues("fixes #12", "miyabi/issue-12") == numbers{12});
}

BOOST_AUTO_TEST_CASE(a_body_without_keywords_names_nothing) {
  BOOST_TEST(referenced_issues("", "").empty());
  BOOST_TEST(referenced_issues("See #12 and issue 4", "main").empty());
}

BOOST_AUTO_TEST_SUITE_END()
