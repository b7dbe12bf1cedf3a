// POST /api/v1/github/webhook (api.md, "GitHub webhook"). The signature was
// checked over the raw body by the HTTP layer; here the delivery is
// recorded and acted on in one transaction, answered from the database
// session.
#include "domain/github.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/db.hpp"
#include "actors/front.hpp"
#include "actors/handlers.hpp"
#include "base/log.hpp"
#include "metrics/metrics.hpp"
#include "storage/github.hpp"

namespace miyabi::actors::handle {

namespace {

using pqxx::transaction_base;

caf::expected<domain::webhook_receipt>
act_on(transaction_base& tx, const domain::github_delivery& d) {
  domain::webhook_receipt receipt;
  receipt.delivery = d.delivery_id;
  auto fresh = storage::record_delivery(tx, d.delivery_id, d.event);
  if (!fresh)
    return std::move(fresh.error());
  if (!*fresh) {
    receipt.result = "duplicate";
    return receipt;
  }
  receipt.result = "ignored";
  if (d.event == "ping") {
    receipt.result = "pong";
  } else if (d.event == "issues" && d.action == "labeled") {
    if (auto agent = domain::agent_of_label(d.label)) {
      auto queued = storage::queue_issue_executions(
        tx, d.owner, d.name, d.issue_number, *agent, std::nullopt);
      if (!queued)
        return std::move(queued.error());
      receipt.result = "queued";
      for (const auto& e : *queued)
        receipt.executions.push_back(e.id);
    }
  } else if (d.event == "pull_request" && d.pr_number > 0) {
    auto issues = domain::referenced_issues(d.pr_body, d.pr_branch);
    if (!issues.empty()) {
      auto linked =
        storage::link_pull_request(tx, d.owner, d.name, issues, d.pr_number);
      if (!linked)
        return std::move(linked.error());
      receipt.result = "linked";
      receipt.executions = std::move(*linked);
    }
  }
  return receipt;
}

} // namespace

void github_webhook(front_handle::pointer self, const front_deps& deps,
                    api_call& call) {
  auto delivery = std::get<domain::github_delivery>(call.request.input);
  auto out = call.out;
  auto metrics = deps.metrics;
  query_in_session(
    self, call.request.meta, "github_webhook", call.request.rules.access,
    [delivery](transaction_base& tx) { return act_on(tx, delivery); },
    [out, metrics, event = delivery.event,
     action = delivery.action](domain::webhook_receipt& r) {
      metrics->github_deliveries[r.result].Increment();
      log::info("GitHub delivery",
                {{"delivery", r.delivery},
                 {"event", event},
                 {"action", action},
                 {"result", r.result},
                 {"executions", static_cast<int64_t>(r.executions.size())}});
      // A repeat and a ping did nothing new: 200; work taken on: 202.
      uint16_t status =
        r.result == "duplicate" || r.result == "pong" ? 200 : 202;
      out->reply({status, std::move(r), {}});
    },
    [out, metrics](caf::error& err) {
      metrics->github_deliveries["error"].Increment();
      out->fail(err);
    });
}

} // namespace miyabi::actors::handle
