#include "actors/issue_flow.hpp"

#include <caf/event_based_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/ask.hpp"
#include "actors/outbound.hpp"
#include "actors/protocol.hpp"
#include "base/json.hpp"
#include "base/log.hpp"
#include "base/utf8.hpp"
#include "domain/rules.hpp"

namespace miyabi::actors {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

const std::string& system_prompt() {
  static const std::string prompt =
    "You turn a chat message into a GitHub issue for the Miyabi agents. "
    "Answer with one JSON object and nothing else: {\"title\": short "
    "imperative title, \"body\": markdown description, \"labels\": array "
    "of short label strings, \"agent\": one of " +
    domain::agent_type_names() + "}.";
  return prompt;
}

std::string issue_json(const std::string& title, const std::string& body,
                       const std::vector<std::string>& labels) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("title");
  w.String(title.c_str(), static_cast<rapidjson::SizeType>(title.size()));
  w.Key("body");
  w.String(body.c_str(), static_cast<rapidjson::SizeType>(body.size()));
  w.Key("labels");
  w.StartArray();
  for (const auto& l : labels)
    w.String(l.c_str(), static_cast<rapidjson::SizeType>(l.size()));
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string completion_json(const config::settings& cfg,
                            const std::string& message) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("model");
  w.String(cfg.openai_model.c_str());
  w.Key("messages");
  w.StartArray();
  w.StartObject();
  w.Key("role");
  w.String("system");
  w.Key("content");
  w.String(system_prompt());
  w.EndObject();
  w.StartObject();
  w.Key("role");
  w.String("user");
  w.Key("content");
  w.String(message.c_str(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  w.EndArray();
  w.Key("response_format");
  w.StartObject();
  w.Key("type");
  w.String("json_object");
  w.EndObject();
  w.Key("temperature");
  w.Double(0.2);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

void post_issue(const outbound_sender& send, const config::settings& cfg,
                bool ja, std::string agent, std::string json,
                const std::string& traceparent, clock::time_point deadline,
                std::function<void(issue_outcome)> done) {
  auto call =
    github_call("POST",
                cfg.github_api_url + "/repos/" + url_encode(cfg.github_owner) +
                  "/" + url_encode(cfg.github_repo) + "/issues",
                "POST /repos/{owner}/{repo}/issues", cfg.github_token,
                call_budget(cfg.outbound_timeout, deadline), deadline);
  call.headers.emplace_back("Content-Type", "application/json");
  add_traceparent(call, traceparent);
  call.body = std::move(json);
  request_meta meta;
  meta.request_id = "issue";
  meta.deadline = deadline;
  send(
    std::move(call), meta,
    [ja, agent, done](http_outcome& out) {
      rapidjson::Document doc;
      auto malformed = parse_json(out.body, doc);
      if (out.status == 201 && !malformed && doc.IsObject() &&
          doc.HasMember("number") && doc["number"].IsInt64() &&
          doc["number"].GetInt64() > 0 && doc.HasMember("html_url") &&
          doc["html_url"].IsString() &&
          valid_utf8(
            {doc["html_url"].GetString(), doc["html_url"].GetStringLength()})) {
        done(
          {doc["number"].GetInt64(), doc["html_url"].GetString(), agent, {}});
        return;
      }
      log::warning("GitHub refused to create an issue",
                   {{"status", static_cast<int64_t>(out.status)}});
      done({0,
            {},
            agent,
            domain::issue_failed_text(ja, "GitHub answered " +
                                            std::to_string(out.status))});
    },
    [ja, agent, done](caf::error&) {
      done({0,
            {},
            agent,
            domain::issue_failed_text(ja, "GitHub did not answer in time")});
    });
}

} // namespace

std::string encode_task(const domain::issue_request& req) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("title");
  w.String(req.title.c_str(),
           static_cast<rapidjson::SizeType>(req.title.size()));
  w.Key("body");
  w.String(req.body.c_str(), static_cast<rapidjson::SizeType>(req.body.size()));
  w.Key("message");
  w.String(req.message.c_str(),
           static_cast<rapidjson::SizeType>(req.message.size()));
  w.Key("japanese");
  w.Bool(req.japanese);
  w.Key("agent");
  w.String(req.agent.c_str(),
           static_cast<rapidjson::SizeType>(req.agent.size()));
  w.Key("user_id");
  w.String(req.user_id.c_str(),
           static_cast<rapidjson::SizeType>(req.user_id.size()));
  w.Key("traceparent");
  w.String(req.traceparent.c_str(),
           static_cast<rapidjson::SizeType>(req.traceparent.size()));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::optional<domain::issue_request> decode_task(const std::string& payload,
                                                 int64_t chat_id) {
  rapidjson::Document doc;
  auto malformed = parse_json(payload, doc);
  if (malformed || !doc.IsObject())
    return std::nullopt;
  auto text = [&doc](const char* key) {
    return doc.HasMember(key) && doc[key].IsString()
             ? std::string{doc[key].GetString(), doc[key].GetStringLength()}
             : std::string{};
  };
  domain::issue_request req;
  req.chat_id = chat_id;
  req.title = text("title");
  req.body = text("body");
  req.message = text("message");
  req.agent = text("agent");
  req.user_id = text("user_id");
  req.traceparent = text("traceparent");
  req.japanese = doc.HasMember("japanese") && doc["japanese"].IsBool() &&
                 doc["japanese"].GetBool();
  if (req.title.empty() && req.message.empty())
    return std::nullopt;
  return req;
}

std::optional<drafted_issue> parse_draft(const std::string& content) {
  rapidjson::Document doc;
  // The same parser as request bodies: iterative, depth-limited, strict
  // UTF-8 (also of what escapes decode to), so a hostile model answer
  // cannot exhaust the stack or carry text GitHub and PostgreSQL refuse.
  if (parse_json(content, doc) || !doc.IsObject())
    return std::nullopt;
  auto text = [&doc](const char* key,
                     size_t max) -> std::optional<std::string> {
    if (!doc.HasMember(key) || !doc[key].IsString() ||
        doc[key].GetStringLength() > max)
      return std::nullopt;
    return std::string{doc[key].GetString(), doc[key].GetStringLength()};
  };
  drafted_issue draft;
  auto title = text("title", 256);
  auto body = text("body", 65536);
  auto agent = text("agent", 32);
  if (!title || title->empty() || !body || !agent ||
      !domain::known_agent_type(*agent))
    return std::nullopt;
  if (!doc.HasMember("labels") || !doc["labels"].IsArray() ||
      doc["labels"].Size() > 10)
    return std::nullopt;
  for (const auto& l : doc["labels"].GetArray()) {
    if (!l.IsString() || l.GetStringLength() == 0 || l.GetStringLength() > 50)
      return std::nullopt;
    draft.labels.emplace_back(l.GetString(), l.GetStringLength());
  }
  draft.title = std::move(*title);
  draft.body = std::move(*body);
  draft.agent = std::move(*agent);
  return draft;
}

void create_issue(outbound_sender send, const config::settings& cfg,
                  domain::issue_request req, clock::time_point deadline,
                  std::function<void(issue_outcome)> done) {
  bool ja = req.japanese;
  if (req.message.empty()) {
    auto agent = req.agent.empty() ? std::string{"issue"} : req.agent;
    post_issue(send, cfg, ja, std::move(agent),
               issue_json(req.title, req.body, {}), req.traceparent, deadline,
               std::move(done));
    return;
  }
  http_call call;
  call.service = "llm";
  call.method = "POST";
  call.url = cfg.openai_base_url + "/chat/completions";
  call.log_target = "POST /chat/completions";
  call.timeout = call_budget(cfg.llm_timeout, deadline);
  call.deadline = deadline;
  call.headers = {{"Authorization", "Bearer " + cfg.openai_api_key},
                  {"Content-Type", "application/json"}};
  add_traceparent(call, req.traceparent);
  call.body = completion_json(cfg, req.message);
  request_meta meta;
  meta.request_id = "llm";
  meta.deadline = deadline;
  send(
    std::move(call), meta,
    [send, &cfg, ja, deadline, done,
     traceparent = req.traceparent](http_outcome& out) {
      rapidjson::Document doc;
      auto malformed = parse_json(out.body, doc);
      std::optional<drafted_issue> draft;
      if (out.status == 200 && !malformed && doc.IsObject() &&
          doc.HasMember("choices") && doc["choices"].IsArray() &&
          !doc["choices"].Empty()) {
        const auto& choice = doc["choices"][0];
        if (choice.IsObject() && choice.HasMember("message") &&
            choice["message"].IsObject() &&
            choice["message"].HasMember("content") &&
            choice["message"]["content"].IsString())
          draft = parse_draft(choice["message"]["content"].GetString());
      }
      if (!draft) {
        log::warning("the LLM's answer was not a usable issue",
                     {{"status", static_cast<int64_t>(out.status)}});
        done({0,
              {},
              {},
              domain::issue_failed_text(
                ja, "the assistant's answer was not a usable "
                    "issue; try /issue TITLE")});
        return;
      }
      draft->labels.push_back("agent:" + draft->agent);
      post_issue(send, cfg, ja, draft->agent,
                 issue_json(draft->title, draft->body, draft->labels),
                 traceparent, deadline, done);
    },
    [ja, done](caf::error&) {
      done({0,
            {},
            {},
            domain::issue_failed_text(
              ja, "the assistant did not answer in time; try "
                  "/issue TITLE")});
    });
}

} // namespace miyabi::actors
