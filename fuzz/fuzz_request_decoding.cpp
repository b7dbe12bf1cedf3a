// libFuzzer harness: the JSON request decoding of the API, as
// http/server.cpp runs it: percent-decoded query pairs, parse_json on the
// body, then decode_input for every operation that takes a body or a query.
//
// Input layout (readable, so the corpus files are too):
//   byte 0            the operation: kOperations[(byte - 'a') % size]
//   up to first '\n'  a raw query string "k=v&k2=v2" (percent-encoded);
//                     the pseudo keys "Idempotency-Key" and "Cookie" become
//                     those request headers instead
//   the rest          the body; empty means no body (a null body pointer)
//
// Decode results are discarded, except for a few invariants the rest of the
// service relies on (checked with CHECK, which aborts).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <rapidjson/document.h>

#include "actors/auth.hpp"
#include "actors/protocol.hpp"
#include "domain/rules.hpp"
#include "fuzz/fuzz_support.hpp"
#include "http/decode.hpp"
#include "http/json_codec.hpp"
#include "http/operations.hpp"

namespace {

namespace http = miyabi::http;
namespace domain = miyabi::domain;
namespace storage = miyabi::storage;

// Every operation whose input decode_input reads (body or query), plus one
// that reads nothing, to cover the default branch.
// Named by operationId.
constexpr std::string_view kOperations[] = {
  "mockLogin",             // a
  "refreshTokens",         // b
  "logout",                // c
  "startGithubLogin",      // d (query)
  "completeGithubLogin",   // e (query + cookie)
  "createRepository",      // f
  "executeAgent",          // g (+ Idempotency-Key)
  "listExecutions",        // h (query)
  "claimExecution",        // i
  "updateExecution",       // j
  "appendExecutionLog",    // k
  "listExecutionLogs",     // l (query)
  "listWorkflows",         // m (query)
  "createWorkflow",        // n
  "replaceWorkflow",       // o
  "receiveTelegramUpdate", // p
  "getHealth",             // q (reads nothing)
  "heartbeatExecution",    // r
  "createWorkerToken",     // s
  "createWorkflowRun",     // t
};
constexpr size_t kOperationCount = sizeof(kOperations) / sizeof(kOperations[0]);

/// Splits "k=v&k2=v2" like Pistache and decodes both halves like
/// http/server.cpp; false when an escape is bad (the server answers 400).
bool parse_query(std::string_view raw, http::query_map& query,
                 http::request_headers& headers) {
  while (!raw.empty()) {
    auto amp = raw.find('&');
    auto pair = raw.substr(0, amp);
    raw =
      amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto key = http::percent_decode(pair.substr(0, eq));
    auto value = http::percent_decode(
      eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!key || !value)
      return false;
    if (*key == "Idempotency-Key") {
      headers.idempotency_key = *value;
    } else if (*key == "Cookie") {
      headers.login_cookie =
        http::cookie_value(*value, miyabi::actors::login_cookie);
    } else {
      query.emplace(std::move(*key), std::move(*value));
    }
  }
  return true;
}

bool lower_case(const std::string& text) {
  for (char c : text)
    if (c >= 'A' && c <= 'Z')
      return false;
  return true;
}

/// Properties of a successful decode that the actors and storage rely on.
void check_decoded(std::string_view op, const domain::request_input& input) {
  if (const auto* e = std::get_if<storage::new_execution>(&input)) {
    CHECK(domain::valid_uuid(e->repository_id));
    CHECK(domain::known_agent_type(e->agent_type));
    CHECK(e->issue_number >= 1);
    CHECK(e->request_hash.size() == 64);
  } else if (const auto* c = std::get_if<domain::claim_input>(&input)) {
    for (const auto& t : c->agent_types)
      CHECK(domain::known_agent_type(t));
    // Scope checks compare ids as text: they arrive lower-case.
    if (c->repository_id)
      CHECK(domain::valid_uuid(*c->repository_id) &&
            lower_case(*c->repository_id));
  } else if (const auto* h = std::get_if<storage::heartbeat>(&input)) {
    CHECK(h->attempt >= 1);
    if (h->progress)
      CHECK(*h->progress >= 0 && *h->progress <= 100);
    if (h->message)
      CHECK(!h->message->empty() && h->message->size() <= 4000);
  } else if (const auto* t = std::get_if<storage::new_worker_token>(&input)) {
    CHECK(!t->name.empty() && t->name.size() <= 100);
    if (t->repository_ids) {
      CHECK(!t->repository_ids->empty());
      for (const auto& id : *t->repository_ids)
        CHECK(domain::valid_uuid(id) && lower_case(id));
    }
    if (t->agent_types) {
      CHECK(!t->agent_types->empty());
      for (const auto& type : *t->agent_types)
        CHECK(domain::known_agent_type(type));
    }
  } else if (const auto* run = std::get_if<storage::new_workflow_run>(&input)) {
    CHECK(run->issue_number >= 1);
  } else if (const auto* u = std::get_if<storage::execution_update>(&input)) {
    CHECK(domain::known_status(u->status));
  } else if (const auto* l = std::get_if<storage::new_log>(&input)) {
    CHECK(domain::known_log_level(l->level));
    CHECK(!l->message.empty());
  } else if (const auto* f = std::get_if<storage::execution_filter>(&input)) {
    CHECK(f->limit >= 1 && f->limit <= 100);
    if (f->status)
      CHECK(domain::known_status(*f->status));
    if (f->repository_id)
      CHECK(domain::valid_uuid(*f->repository_id));
  } else if (const auto* r = std::get_if<storage::new_repository>(&input)) {
    CHECK(domain::valid_github_owner(r->owner));
    CHECK(domain::valid_github_repository(r->name));
  } else if (const auto* w = std::get_if<storage::workflow_input>(&input)) {
    CHECK(domain::valid_uuid(w->repository_id));
    // The stored graph text must read back as a graph that still validates.
    rapidjson::Document again;
    CHECK(!http::parse_json(w->dag_definition, again));
    CHECK(!domain::validate_dag(again));
  } else if (const auto* m = std::get_if<domain::mock_login_input>(&input)) {
    CHECK(m->profile.github_id >= 1);
    CHECK(m->profile.email && m->profile.email->find('@') != std::string::npos);
  } else if (const auto* cb =
               std::get_if<domain::github_callback_input>(&input)) {
    // `error` is echoed in the error envelope (JSON): UTF-8 only.
    if (!miyabi::fuzz::skip_query_utf8())
      CHECK(miyabi::fuzz::valid_utf8(cb->error));
  } else if (const auto* g = std::get_if<domain::github_start_input>(&input)) {
    // The redirect path is stored (a SQL text parameter): UTF-8 only.
    if (!miyabi::fuzz::skip_query_utf8())
      CHECK(miyabi::fuzz::valid_utf8(g->redirect));
    CHECK(!g->redirect.empty() && g->redirect.front() == '/');
    CHECK(g->redirect.size() < 2 ||
          (g->redirect[1] != '/' && g->redirect[1] != '\\'));
  }
  (void)op;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  auto index = static_cast<uint8_t>(data[0] - 'a') % kOperationCount;
  std::string_view op = kOperations[index];
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto newline = rest.find('\n');
  std::string_view raw_query = rest.substr(0, newline);
  std::string_view body_text = newline == std::string_view::npos
                                 ? std::string_view{}
                                 : rest.substr(newline + 1);

  http::query_map query;
  http::request_headers headers;
  if (!parse_query(raw_query, query, headers))
    return 0;
  // Decoded query text is what the service validates and cuts.
  for (const auto& [key, value] : query) {
    miyabi::fuzz::check_utf8_helpers(key, key.size() / 2);
    miyabi::fuzz::check_utf8_helpers(value, value.size() - value.size() / 3);
  }

  rapidjson::Document doc;
  const rapidjson::Value* body = nullptr;
  if (!body_text.empty()) {
    if (http::parse_json(body_text, doc))
      return 0; // 400 malformed JSON: decode_input never sees it
    if (!miyabi::fuzz::check_parsed_utf8(doc))
      return 0;
    body = &doc;
  }
  auto input = http::decode_input(http::descriptor_of(op),
                                  http::request_parts{body, query, headers});
  if (input)
    check_decoded(op, *input);
  return 0;
}
