// Creating a GitHub issue from the chat: `/issue` text goes straight to
// GitHub; plain text first goes to the OpenAI-compatible LLM, whose answer
// must be a JSON object {title, body, labels, agent} that passes validation.
// Each step is bounded by its own timeout and the overall deadline; every
// failure becomes a polite text for the chat, never an error.
//
// Call from inside an actor (typed or not), through `outbound_of(self)`;
// `done` runs in that actor.
#pragma once

#include <functional>
#include <string>

#include <caf/fwd.hpp>

#include "actors/ask.hpp"
#include "actors/protocol.hpp"
#include "config/settings.hpp"
#include "domain/bot.hpp"

namespace miyabi::actors {

/// The validated content of an LLM answer.
struct drafted_issue {
  std::string title;
  std::string body;
  std::vector<std::string> labels;
  std::string agent;
};

/// Parses and validates the LLM's message content; nothing when it is not
/// a JSON object of the expected shape.
std::optional<drafted_issue> parse_draft(const std::string& content);

/// The JSON payload of a queued `create_issue` outbox task, and back.
std::string encode_task(const domain::issue_request& req);
std::optional<domain::issue_request> decode_task(const std::string& payload,
                                                 int64_t chat_id);

/// How the flow ended: the issue GitHub created (number > 0) and the agent
/// to queue for it, or the polite text that says why not.
struct issue_outcome {
  int64_t number = 0;
  std::string url;
  std::string agent;   ///< /issue's named agent, or the LLM's draft
  std::string failure; ///< set when no issue was created
};

/// Sends one outbound HTTP call from the calling actor and runs exactly
/// one of the continuations there, with the answer or the error.
using outbound_sender =
  std::function<void(http_call call, const request_meta& meta,
                     std::function<void(http_outcome&)> on_answer,
                     std::function<void(caf::error&)> on_error)>;

/// The outbound_sender of the actor `self` (valid while it runs).
template <class Self>
outbound_sender outbound_of(Self* self) {
  return [self](http_call call, const request_meta& meta,
                std::function<void(http_outcome&)> on_answer,
                std::function<void(caf::error&)> on_error) {
    ask(self, lookup(self, names::outbound), meta, std::move(on_answer),
        std::move(on_error), std::move(call));
  };
}

/// Runs the flow for `req` and calls `done` with how it ended. `cfg` must
/// outlive the flow (the actor's settings).
void create_issue(outbound_sender send, const config::settings& cfg,
                  domain::issue_request req, clock::time_point deadline,
                  std::function<void(issue_outcome)> done);

} // namespace miyabi::actors
