// POST /api/v1/github/webhook end to end (api.md, "GitHub webhook"): the
// real binary on a real PostgreSQL, deliveries from the fake GitHub sender
// of tests/fakes/. Signature checks before the body is read, deliveries
// handled once, agent:TYPE labels queueing one execution per registering
// user, pull requests linking their number, the route off without a
// secret, and the counters.
#define BOOST_TEST_MODULE github_webhook_test
#include <thread>

#include <boost/test/unit_test.hpp>

#include "fakes/github_sender.hpp"
#include "support/api.hpp"
#include "support/shared_service.hpp"

using namespace miyabi::test;
using namespace std::chrono_literals;

namespace {

const std::string secret = "gh-webhook-secret-4Rt9vQ2mZx";

/// The shared service, with the webhook switched on.
struct github_service {
  github_service() {
    raise_fd_limit();
    database = create_database();
    auto env = resource_service_env(database);
    env["GITHUB_WEBHOOK_SECRET"] = secret;
    process = std::make_unique<service_process>(env);
    default_base() = process->base_url();
  }
  std::string database;
  std::unique_ptr<service_process> process;
};

github_service& service() {
  static github_service s;
  return s;
}

struct start_github_service {
  start_github_service() { service(); }
};

BOOST_TEST_GLOBAL_FIXTURE(start_github_service);

github_sender sender() {
  return github_sender{service().process->base_url(), secret};
}

long long count(const std::string& sql) {
  return query_int(service().database, sql);
}

/// A repository name no other case uses.
std::string fresh_repo(const std::string& stem) {
  static std::atomic<int> n{0};
  return stem + "-" + std::to_string(n++);
}

struct receipt {
  long status = 0;
  std::string result;
  std::vector<std::string> executions;
};

receipt receipt_of(const http_response& r) {
  receipt out;
  out.status = r.status;
  auto doc = parse_lenient(r.body);
  if (!doc.HasParseError() && doc.IsObject()) {
    out.result = text_of(doc, "result");
    if (doc.HasMember("executions") && doc["executions"].IsArray())
      for (const auto& id : doc["executions"].GetArray())
        out.executions.emplace_back(id.IsString() ? id.GetString() : "?");
  }
  return out;
}

std::vector<std::string> executions_of(api& a) {
  auto r = a.get("/agents/executions?limit=100");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  return ids_of(parse_json(r.body)["items"]);
}

rapidjson::Document execution(api& a, const std::string& id) {
  auto r = a.get("/agents/executions/" + id);
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body);
  return parse_json(r.body);
}

} // namespace

BOOST_AUTO_TEST_SUITE(signature)

BOOST_AUTO_TEST_CASE(
  a_delivery_signed_with_another_secret_or_unsigned_is_refused_before_parsing) {
  auto owner = new_account();
  api a{owner.token};
  auto repo = fresh_repo("sig");
  create_repository(a, "octo-org/" + repo);
  auto body =
    github_sender::labeled_issue("octo-org", repo, 5, "agent:codegen");
  auto delivery = github_sender::new_delivery_id();
  header_pairs base = {{"Content-Type", "application/json"},
                       {"X-GitHub-Event", "issues"},
                       {"X-GitHub-Delivery", delivery}};
  auto with = [&](const std::string& signature) {
    auto h = base;
    h.emplace_back("X-Hub-Signature-256", signature);
    return h;
  };
  auto s = sender();
  auto rejected_before = metric(
    *service().process, R"(miyabi_github_deliveries_total{result="rejected"})");

  // Missing, another secret, another body, a bare hex, upper-case scheme
  // over the wrong body: all 401, nothing recorded.
  expect_error(s.raw(body, base), 401, "authentication_error",
               "X-Hub-Signature-256", "missing signature");
  expect_error(s.raw(body, with(github_sender::signature("not-it", body))), 401,
               "authentication_error", {}, "other secret");
  expect_error(s.raw(body, with(github_sender::signature(secret, body + " "))),
               401, "authentication_error", {}, "signature of another body");
  expect_error(
    s.raw(body, with(github_sender::signature(secret, body).substr(7))), 401,
    "authentication_error", {}, "no sha256= scheme");
  expect_error(s.raw(body, with("sha256=")), 401, "authentication_error", {},
               "empty mac");
  // Not even JSON: the signature is judged first, so 401, never 400.
  expect_error(s.raw("{not json", with("sha256=" + std::string(64, '0'))), 401,
               "authentication_error", {}, "bad body, bad signature");
  BOOST_TEST(count("SELECT count(*) FROM github_deliveries WHERE "
                   "delivery_id = '" +
                   delivery + "'") == 0);
  BOOST_TEST(executions_of(a).empty());
  BOOST_TEST(metric(*service().process,
                    R"(miyabi_github_deliveries_total{result="rejected"})") ==
             rejected_before + 6);

  // Upper-case hex is the same MAC: accepted.
  auto upper = github_sender::signature(secret, body);
  for (size_t i = 7; i < upper.size(); ++i)
    upper[i] =
      static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  auto r = receipt_of(s.raw(body, with(upper)));
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.result == "queued");
  BOOST_TEST(r.executions.size() == 1u);
}

BOOST_AUTO_TEST_CASE(
  bad_json_after_a_good_signature_is_400_and_missing_headers_are_400) {
  auto s = sender();
  std::string broken = R"({"action":"labeled",)";
  auto r = s.deliver("issues", broken);
  expect_error(r, 400, "validation_error", {}, "malformed JSON");
  auto sig = github_sender::signature(secret, github_sender::ping());
  expect_error(s.raw(github_sender::ping(),
                     {{"Content-Type", "application/json"},
                      {"X-GitHub-Delivery", github_sender::new_delivery_id()},
                      {"X-Hub-Signature-256", sig}}),
               400, "validation_error", "X-GitHub-Event", "no event");
  expect_error(
    s.raw(github_sender::ping(), {{"Content-Type", "application/json"},
                                  {"X-GitHub-Event", "ping"},
                                  {"X-Hub-Signature-256", sig}}),
    400, "validation_error", "X-GitHub-Delivery", "no delivery");
  // A form-encoded delivery (the other content type GitHub offers).
  auto form = "payload=" + github_sender::ping();
  expect_error(
    s.raw(form,
          {{"Content-Type", "application/x-www-form-urlencoded"},
           {"X-GitHub-Event", "ping"},
           {"X-GitHub-Delivery", github_sender::new_delivery_id()},
           {"X-Hub-Signature-256", github_sender::signature(secret, form)}}),
    415, "unsupported_media_type", {}, "form content type");
  // A labelled issue without its number: the shape is wrong.
  auto shapeless = R"({"action":"labeled","label":{"name":"agent:codegen"},)"
                   R"("repository":{"name":"r","owner":{"login":"o"}}})";
  expect_error(s.deliver("issues", shapeless), 422, "unprocessable_entity",
               "issue.number", "no issue number");
}

BOOST_AUTO_TEST_CASE(without_a_secret_the_route_does_not_exist) {
  auto env = resource_service_env(service().database);
  service_process plain{env};
  github_sender s{plain.base_url(), secret};
  auto r = s.deliver("ping", github_sender::ping());
  expect_error(r, 404, "not_found", {}, "no GITHUB_WEBHOOK_SECRET");
}

BOOST_AUTO_TEST_SUITE_END()

// =============================================================================

BOOST_AUTO_TEST_SUITE(deliveries)

BOOST_AUTO_TEST_CASE(a_ping_is_answered_and_a_replayed_delivery_does_nothing) {
  auto s = sender();
  auto r = s.deliver("ping", github_sender::ping());
  BOOST_TEST(r.status == 200, r.body);
  BOOST_TEST(receipt_of(r).result == "pong");
  BOOST_TEST(text_of(parse_json(r.body), "delivery") == s.last_delivery());

  auto owner = new_account();
  api a{owner.token};
  auto repo = fresh_repo("replay");
  create_repository(a, "octo-org/" + repo);
  auto body = github_sender::labeled_issue("octo-org", repo, 9, "agent:review");
  auto first = receipt_of(s.deliver("issues", body));
  BOOST_TEST(first.status == 202);
  BOOST_TEST(first.executions.size() == 1u);
  auto delivery = s.last_delivery();
  // The same delivery again (GitHub's "Redeliver"), even after the first
  // execution finished: 200, nothing queued.
  api{owner.token}.patch("/agents/executions/" + first.executions.at(0),
                         R"({"status":"cancelled"})");
  auto again = receipt_of(s.deliver("issues", body, delivery));
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.result == "duplicate");
  BOOST_TEST(again.executions.empty());
  BOOST_TEST(executions_of(a).size() == 1u);
  BOOST_TEST(count("SELECT count(*) FROM github_deliveries WHERE "
                   "delivery_id = '" +
                   delivery + "'") == 1);
  // Concurrent repeats of one new delivery: exactly one does the work.
  auto racing = github_sender::new_delivery_id();
  auto body2 = github_sender::labeled_issue("octo-org", repo, 10, "agent:pr");
  std::vector<receipt> answers(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < answers.size(); ++i)
    threads.emplace_back([&, i] {
      auto mine = sender();
      answers[i] = receipt_of(mine.deliver("issues", body2, racing));
    });
  for (auto& t : threads)
    t.join();
  int queued = 0;
  for (const auto& ans : answers) {
    BOOST_TEST((ans.status == 202 || ans.status == 200));
    queued += ans.result == "queued" ? 1 : 0;
  }
  BOOST_TEST(queued == 1);
  BOOST_TEST(executions_of(a).size() == 2u);
}

BOOST_AUTO_TEST_CASE(
  a_label_queues_one_execution_per_user_who_registered_the_repository) {
  auto alice = new_account();
  auto bob = new_account();
  auto carol = new_account(); // registered another repository only
  api a{alice.token}, b{bob.token}, c{carol.token};
  auto repo = fresh_repo("shared");
  create_repository(a, "Octo-Org/" + repo);
  create_repository(b, "octo-org/" + repo); // names are case-insensitive
  create_repository(c, "octo-org/" + repo + "-other");
  auto s = sender();

  auto r =
    receipt_of(s.deliver("issues", github_sender::labeled_issue(
                                     "OCTO-ORG", repo, 12, "agent:codegen")));
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.result == "queued");
  BOOST_TEST(r.executions.size() == 2u);
  for (auto* who : {&a, &b}) {
    auto mine = executions_of(*who);
    BOOST_REQUIRE_EQUAL(mine.size(), 1u);
    auto e = execution(*who, mine[0]);
    BOOST_TEST(text_of(e, "status") == "pending");
    BOOST_TEST(text_of(e, "agent_type") == "codegen");
    BOOST_TEST(int_of(e, "issue_number") == 12);
  }
  BOOST_TEST(executions_of(c).empty());

  // The same label again (a new delivery) while those are pending: not
  // twice. Another agent type is another execution.
  r = receipt_of(s.deliver("issues", github_sender::labeled_issue(
                                       "octo-org", repo, 12, "agent:codegen")));
  BOOST_TEST(r.result == "queued");
  BOOST_TEST(r.executions.empty());
  r = receipt_of(s.deliver("issues", github_sender::labeled_issue(
                                       "octo-org", repo, 12, "Agent:Review")));
  BOOST_TEST(r.executions.size() == 2u);
  BOOST_TEST(executions_of(a).size() == 2u);

  // A repository nobody registered, a label that names no agent, an
  // unknown agent type, another action: nothing queued.
  r = receipt_of(s.deliver(
    "issues", github_sender::labeled_issue("octo-org", fresh_repo("nobody"), 3,
                                           "agent:codegen")));
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.executions.empty());
  for (const auto& label : {std::string{"bug"}, std::string{"agent:wizard"}}) {
    r = receipt_of(s.deliver(
      "issues", github_sender::labeled_issue("octo-org", repo, 13, label)));
    BOOST_TEST(r.status == 202);
    BOOST_TEST(r.result == "ignored");
  }
  auto opened =
    github_sender::labeled_issue("octo-org", repo, 14, "agent:codegen");
  opened.replace(opened.find("labeled"), 7, "opened");
  r = receipt_of(s.deliver("issues", opened));
  BOOST_TEST(r.result == "ignored");
  // Other events: 202, ignored.
  r = receipt_of(s.deliver("push", R"({"ref":"refs/heads/main"})"));
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.result == "ignored");
  BOOST_TEST(executions_of(a).size() == 2u);
  BOOST_TEST(executions_of(c).empty());
}

BOOST_AUTO_TEST_CASE(a_pull_request_that_fixes_an_issue_sets_its_pr_number) {
  auto owner = new_account();
  api a{owner.token};
  auto repo = fresh_repo("prs");
  auto repo_id = create_repository(a, "octo-org/" + repo);
  auto running = start_execution(a, repo_id, 12, "codegen");
  auto other_issue = start_execution(a, repo_id, 13, "codegen");
  auto still_pending = start_execution(a, repo_id, 14, "codegen");
  move_to(a, running, "running");
  move_to(a, other_issue, "running");
  auto s = sender();
  auto events_before =
    count("SELECT count(*) FROM events WHERE execution_id = '" + running + "'");

  auto r = receipt_of(s.deliver(
    "pull_request",
    github_sender::pull_request("octo-org", repo, "opened", 77,
                                "Adds the cache.\n\nFixes #12", "feature/x")));
  BOOST_TEST(r.status == 202);
  BOOST_TEST(r.result == "linked");
  BOOST_REQUIRE_EQUAL(r.executions.size(), 1u);
  BOOST_TEST(r.executions[0] == running);
  BOOST_TEST(int_of(execution(a, running), "pr_number") == 77);
  BOOST_TEST(is_null(execution(a, other_issue), "pr_number"));
  // An execution event follows (live events see the link).
  BOOST_TEST(eventually(
    [&] {
      return count("SELECT count(*) FROM events WHERE execution_id = '" +
                   running + "'") > events_before;
    },
    5s));

  // A branch ending in issue-N links too; a pending execution is not linked.
  move_to(a, running, "completed");
  r = receipt_of(s.deliver(
    "pull_request", github_sender::pull_request("octo-org", repo, "reopened",
                                                78, "", "miyabi/issue-13")));
  BOOST_TEST(r.result == "linked");
  BOOST_TEST(int_of(execution(a, other_issue), "pr_number") == 78);
  r = receipt_of(s.deliver(
    "pull_request", github_sender::pull_request("octo-org", repo, "closed", 79,
                                                "RESOLVES #14", "x")));
  BOOST_TEST(r.executions.empty());
  BOOST_TEST(is_null(execution(a, still_pending), "pr_number"));
  // A completed execution is linked on close; other actions are ignored.
  r = receipt_of(s.deliver(
    "pull_request", github_sender::pull_request("octo-org", repo, "closed", 80,
                                                "closes #12", "x")));
  BOOST_TEST(r.executions.size() == 1u);
  BOOST_TEST(int_of(execution(a, running), "pr_number") == 80);
  r = receipt_of(s.deliver(
    "pull_request", github_sender::pull_request("octo-org", repo, "edited", 81,
                                                "fixes #12", "x")));
  BOOST_TEST(r.result == "ignored");
  BOOST_TEST(int_of(execution(a, running), "pr_number") == 80);
  // A body that names no issue: nothing.
  r = receipt_of(s.deliver(
    "pull_request", github_sender::pull_request("octo-org", repo, "opened", 82,
                                                "prefixes #12; see #13", "x")));
  BOOST_TEST(r.result == "ignored");
}

BOOST_AUTO_TEST_CASE(deliveries_are_counted_by_result) {
  auto s = sender();
  auto value = [](const std::string& result) {
    return metric(*service().process,
                  R"(miyabi_github_deliveries_total{result=")" + result +
                    "\"}");
  };
  auto pong = value("pong");
  auto duplicate = value("duplicate");
  auto ignored = value("ignored");
  s.deliver("ping", github_sender::ping());
  s.deliver("ping", github_sender::ping(), s.last_delivery());
  s.deliver("star", R"({"action":"created"})");
  BOOST_TEST(value("pong") == pong + 1);
  BOOST_TEST(value("duplicate") == duplicate + 1);
  BOOST_TEST(value("ignored") == ignored + 1);
}

BOOST_AUTO_TEST_SUITE_END()
