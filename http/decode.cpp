#include "http/decode.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"
#include "domain/rules.hpp"
#include "http/cursor.hpp"
#include "http/operations.hpp"

namespace miyabi::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

caf::error bad_field(std::string field, std::string problem) {
  return make_error(errc::unprocessable_entity, "invalid request body",
                    field + ": " + problem);
}

caf::error bad_value(std::string field, std::string problem) {
  return make_error(errc::validation_error, "invalid request",
                    field + ": " + problem);
}

/// Writes `v` with object members sorted by name, so two bodies that mean
/// the same thing hash the same (JSON objects are unordered).
void write_canonical(rapidjson::Writer<rapidjson::StringBuffer>& w,
                     const rapidjson::Value& v) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    for (const auto& m : v.GetObject())
      members.push_back(&m);
    std::sort(members.begin(), members.end(), [](auto* a, auto* b) {
      return std::string_view{a->name.GetString(), a->name.GetStringLength()} <
             std::string_view{b->name.GetString(), b->name.GetStringLength()};
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      write_canonical(w, m->value);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& item : v.GetArray())
      write_canonical(w, item);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

std::string canonical(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  write_canonical(w, v);
  return {buf.GetString(), buf.GetSize()};
}

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

/// Reads the members of a JSON object body, turning every problem into the
/// first error found (422 naming the field, per api.md).
class fields {
 public:
  explicit fields(const rapidjson::Value* body) : body_(body) {
    if (body_ == nullptr || !body_->IsObject())
      err_ = bad_field("body", "must be a JSON object");
  }

  /// The member when present and not null.
  const rapidjson::Value* get(const char* key) {
    if (err_ || !body_->HasMember(key) || (*body_)[key].IsNull())
      return nullptr;
    return &(*body_)[key];
  }

  std::optional<std::string> text(const char* key, bool required,
                                  size_t max_length, size_t min_length = 0) {
    auto* v = get(key);
    if (v == nullptr) {
      if (required && !err_)
        err_ = bad_field(key, "is required");
      return std::nullopt;
    }
    if (!v->IsString()) {
      err_ = bad_field(key, "must be a string");
      return std::nullopt;
    }
    std::string value{v->GetString(), v->GetStringLength()};
    if (value.size() < min_length || value.size() > max_length) {
      err_ = bad_field(key, "must be " + std::to_string(min_length) + " to " +
                              std::to_string(max_length) + " bytes long");
      return std::nullopt;
    }
    return value;
  }

  std::optional<int64_t> integer(const char* key, bool required, int64_t min,
                                 int64_t max) {
    auto* v = get(key);
    if (v == nullptr) {
      if (required && !err_)
        err_ = bad_field(key, "is required");
      return std::nullopt;
    }
    if (!v->IsInt64()) {
      err_ = bad_field(key, "must be an integer");
      return std::nullopt;
    }
    auto value = v->GetInt64();
    if (value < min || value > max) {
      err_ = bad_field(key, "must be between " + std::to_string(min) + " and " +
                              std::to_string(max));
      return std::nullopt;
    }
    return value;
  }

  std::optional<bool> boolean(const char* key) {
    auto* v = get(key);
    if (v == nullptr)
      return std::nullopt;
    if (!v->IsBool()) {
      err_ = bad_field(key, "must be true or false");
      return std::nullopt;
    }
    return v->GetBool();
  }

  /// A JSON object member, as compact JSON text.
  std::optional<std::string> object(const char* key) {
    auto* v = get(key);
    if (v == nullptr)
      return std::nullopt;
    if (!v->IsObject()) {
      err_ = bad_field(key, "must be a JSON object");
      return std::nullopt;
    }
    return compact(*v);
  }

  /// A string member that must be one of a set (`known` decides).
  template <class Known>
  std::optional<std::string> choice(const char* key, bool required, Known known,
                                    const char* expected) {
    auto value = text(key, required, 64);
    if (value && !known(*value)) {
      err_ = bad_field(key, "must be one of " + std::string{expected});
      return std::nullopt;
    }
    return value;
  }

  /// A UUID string member (a malformed one is a bad value: 400).
  std::optional<std::string> uuid(const char* key, bool required) {
    auto value = text(key, required, 64);
    if (value && !domain::valid_uuid(*value)) {
      err_ = bad_value(key, "must be a UUID");
      return std::nullopt;
    }
    if (value)
      lower(*value);
    return value;
  }

  /// An optional array member of 1 to `max_items` strings that `valid`
  /// accepts (an empty array is a bad value: omit the member instead).
  template <class Valid>
  std::optional<std::vector<std::string>>
  string_list(const char* key, size_t max_items, Valid valid,
              const char* expected) {
    auto* v = get(key);
    if (v == nullptr)
      return std::nullopt;
    if (!v->IsArray()) {
      err_ = bad_field(key, "must be an array");
      return std::nullopt;
    }
    if (v->Empty() || v->Size() > max_items) {
      err_ = bad_value(key, "must hold 1 to " + std::to_string(max_items) +
                              " items (omit it for no limit)");
      return std::nullopt;
    }
    std::vector<std::string> items;
    for (const auto& item : v->GetArray()) {
      std::string value =
        item.IsString() ? std::string{item.GetString(), item.GetStringLength()}
                        : std::string{};
      if (!valid(value)) {
        err_ = bad_value(key, std::string{"each must be "} + expected);
        return std::nullopt;
      }
      lower_if_uuid(value);
      if (std::find(items.begin(), items.end(), value) == items.end())
        items.push_back(std::move(value));
    }
    return items;
  }

  static void lower(std::string& text) {
    for (auto& c : text)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
  }

  static void lower_if_uuid(std::string& text) {
    if (domain::valid_uuid(text))
      lower(text);
  }

  void fail(caf::error err) {
    if (!err_)
      err_ = std::move(err);
  }

  caf::error& error() { return err_; }

 private:
  const rapidjson::Value* body_;
  caf::error err_;
};

constexpr const char* statuses =
  "blocked, pending, running, completed, failed, cancelled";
constexpr int64_t max_int32 = std::numeric_limits<int32_t>::max();

bool valid_branch(const std::string& name) {
  // git check-ref-format, simplified: printable, no spaces, no "..".
  if (name.empty() || name.size() > 255 ||
      name.find("..") != std::string::npos || name.front() == '/' ||
      name.back() == '/' || name.back() == '.')
    return false;
  for (unsigned char c : name)
    if (c <= 0x20 || c == 0x7f || c == '~' || c == '^' || c == ':' ||
        c == '?' || c == '*' || c == '[' || c == '\\')
      return false;
  return true;
}

bool valid_redirect(std::string_view path) {
  // A relative path of this site only: "/x", never "//host" or "/\host".
  if (path.empty() || path.size() > 2048 || path.front() != '/')
    return false;
  if (path.size() > 1 && (path[1] == '/' || path[1] == '\\'))
    return false;
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f || c == '\\' || c == '#')
      return false;
  // It is stored as a SQL text parameter until the callback.
  return valid_utf8(path);
}

const std::string* query_value(const query_map& query, const char* key) {
  auto i = query.find(key);
  return i == query.end() ? nullptr : &i->second;
}

/// Longest query parameter name echoed in an error detail, in bytes.
constexpr size_t max_echoed_name = 64;

/// Decoded query text reaches SQL parameters and JSON error bodies, so all
/// of it must be UTF-8, whether or not the operation reads the parameter.
caf::error check_query_utf8(const query_map& query) {
  for (const auto& [key, value] : query) {
    if (!valid_utf8(key))
      return bad_value("query", "parameter names must be valid UTF-8");
    if (!valid_utf8(value))
      return bad_value(std::string{cut_utf8(key, max_echoed_name)},
                       "must be valid UTF-8");
  }
  return {};
}

/// Longest text of GitHub's `error` kept for the error envelope, in bytes.
constexpr size_t max_github_error = 100;

/// Integer member `key` of `obj` (422 naming `path` otherwise).
std::optional<int64_t> required_int(const rapidjson::Value& obj,
                                    const char* key, const std::string& path,
                                    caf::error& err) {
  if (!obj.HasMember(key) || !obj[key].IsInt64()) {
    if (!err)
      err = bad_field(path + key, "must be an integer");
    return std::nullopt;
  }
  return obj[key].GetInt64();
}

std::string optional_string(const rapidjson::Value& obj, const char* key) {
  if (obj.IsObject() && obj.HasMember(key) && obj[key].IsString())
    return {obj[key].GetString(), obj[key].GetStringLength()};
  return {};
}

} // namespace

namespace decoders {

decoded mock_login(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  domain::mock_login_input in;
  auto id =
    f.integer("github_id", true, 1, std::numeric_limits<int64_t>::max());
  auto email = f.text("email", true, 254, 3);
  in.profile.name = f.text("name", false, 255);
  auto login = f.text("login", false, 39, 1);
  if (email && email->find('@') == std::string::npos)
    f.fail(bad_value("email", "must be an email address"));
  if (f.error())
    return std::move(f.error());
  in.profile.github_id = *id;
  in.profile.email = email;
  in.profile.login = login ? *login : "user" + std::to_string(*id);
  return in;
}

decoded execute_agent(const request_parts& parts) {
  const auto* body = parts.body;
  const auto& headers = parts.headers;
  fields f{body};
  storage::new_execution in;
  auto repo = f.uuid("repository_id", true);
  auto issue = f.integer("issue_number", true, 1, max_int32);
  auto type = f.choice("agent_type", true, domain::known_agent_type,
                       domain::agent_type_names().c_str());
  auto options = f.object("options");
  std::string options_key = "null";
  if (auto* raw = f.get("options"))
    options_key = canonical(*raw);
  if (f.error())
    return std::move(f.error());
  const auto& key = headers.idempotency_key;
  if (!key.empty()) {
    bool printable = key.size() <= 255 &&
                     std::all_of(key.begin(), key.end(),
                                 [](char c) { return c > 0x20 && c < 0x7f; });
    if (!printable)
      return bad_value("Idempotency-Key",
                       "must be 1 to 255 printable ASCII characters");
  }
  in.repository_id = *repo;
  in.issue_number = *issue;
  in.agent_type = *type;
  in.options = options;
  in.idempotency_key = key;
  // The same body means the same decoded request, whatever its spacing
  // or member order.
  in.request_hash = crypto::sha256_hex(in.repository_id + "\n" +
                                       std::to_string(in.issue_number) + "\n" +
                                       in.agent_type + "\n" + options_key);
  return in;
}

decoded list_executions(const request_parts& parts) {
  const auto& query = parts.query;
  storage::execution_filter filter;
  if (auto* status = query_value(query, "status")) {
    if (!domain::known_status(*status))
      return bad_value("status", std::string{"must be one of "} + statuses);
    filter.status = *status;
  }
  if (auto* repo = query_value(query, "repository_id")) {
    if (!domain::valid_uuid(*repo))
      return bad_value("repository_id", "must be a UUID");
    filter.repository_id = *repo;
  }
  if (auto* limit = query_value(query, "limit")) {
    int64_t n = 0;
    auto [end, ec] =
      std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc{} || end != limit->data() + limit->size() || n < 1 ||
        n > 100)
      return bad_value("limit", "must be an integer from 1 to 100");
    filter.limit = n;
  }
  if (auto* cursor = query_value(query, "cursor")) {
    auto decoded_cursor = decode_cursor(*cursor);
    if (!decoded_cursor)
      return bad_value("cursor", "is not a cursor this service returned");
    filter.after = std::move(decoded_cursor);
  }
  return filter;
}

decoded claim(const request_parts& parts) {
  const auto* body = parts.body;
  domain::claim_input in;
  if (body == nullptr)
    return in;
  fields f{body};
  if (auto* types = f.get("agent_types")) {
    if (!types->IsArray()) {
      f.fail(bad_field("agent_types", "must be an array of agent types"));
    } else {
      for (const auto& t : types->GetArray()) {
        std::string value = t.IsString() ? t.GetString() : "";
        if (!domain::known_agent_type(value)) {
          f.fail(bad_field("agent_types", "each must be one of " +
                                            domain::agent_type_names()));
          break;
        }
        in.agent_types.push_back(value);
      }
    }
  }
  in.repository_id = f.uuid("repository_id", false);
  if (f.error())
    return std::move(f.error());
  return in;
}

decoded heartbeat(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  storage::heartbeat in;
  auto attempt = f.integer("attempt", true, 1, max_int32);
  in.progress = f.integer("progress", false, 0, 100);
  in.message = f.text("message", false, 4000, 1);
  if (f.error())
    return std::move(f.error());
  in.attempt = *attempt;
  return in;
}

decoded worker_token(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  storage::new_worker_token in;
  auto name = f.text("name", true, 100, 1);
  in.repository_ids = f.string_list(
    "repository_ids", 100,
    [](const std::string& v) { return domain::valid_uuid(v); }, "a UUID");
  in.agent_types = f.string_list(
    "agent_types", 6,
    [](const std::string& v) { return domain::known_agent_type(v); },
    "one of the agent types");
  if (f.error())
    return std::move(f.error());
  in.name = *name;
  return in;
}

decoded workflow_run(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  storage::new_workflow_run in;
  auto issue = f.integer("issue_number", true, 1, max_int32);
  in.options = f.object("options");
  if (f.error())
    return std::move(f.error());
  in.issue_number = *issue;
  return in;
}

decoded update_execution(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  storage::execution_update in;
  auto status = f.choice("status", true, domain::known_status, statuses);
  in.result_summary = f.object("result_summary");
  in.quality_score = f.integer("quality_score", false, 0, 100);
  in.pr_number = f.integer("pr_number", false, 1, max_int32);
  in.error_message = f.text("error_message", false, 10000);
  in.attempt = f.integer("attempt", false, 1, max_int32);
  if (f.error())
    return std::move(f.error());
  in.status = *status;
  return in;
}

decoded append_log(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  storage::new_log in;
  auto level = f.choice("level", true, domain::known_log_level,
                        "DEBUG, INFO, WARN, ERROR");
  auto message = f.text("message", true, 65536, 1);
  if (auto* metadata = f.get("metadata"))
    in.metadata = compact(*metadata);
  if (f.error())
    return std::move(f.error());
  in.level = *level;
  in.message = *message;
  return in;
}

decoded list_logs(const request_parts& parts) {
  const auto& query = parts.query;
  storage::log_filter filter;
  if (auto* after = query_value(query, "after")) {
    if (!domain::valid_rfc3339(*after))
      return bad_value("after", "must be an RFC 3339 timestamp");
    filter.after = *after;
  }
  if (auto* limit = query_value(query, "limit")) {
    int64_t n = 0;
    auto [end, ec] =
      std::from_chars(limit->data(), limit->data() + limit->size(), n);
    if (ec != std::errc{} || end != limit->data() + limit->size() || n < 1 ||
        n > 1000)
      return bad_value("limit", "must be an integer from 1 to 1000");
    filter.limit = n;
  }
  return filter;
}

decoded workflow(const request_parts& parts) {
  const auto* body = parts.body;
  fields f{body};
  storage::workflow_input in;
  auto repo = f.uuid("repository_id", true);
  auto name = f.text("name", true, domain::max_workflow_name_length, 1);
  in.description =
    f.text("description", false, domain::max_workflow_description_length);
  in.is_active = f.boolean("is_active");
  auto* dag = f.get("dag_definition");
  if (dag == nullptr && !f.error())
    f.fail(bad_field("dag_definition", "is required"));
  if (f.error())
    return std::move(f.error());
  if (auto err = domain::validate_dag(*dag))
    return err;
  in.repository_id = *repo;
  in.name = *name;
  in.dag_definition = compact(*dag);
  return in;
}

decoded telegram_update(const request_parts& parts) {
  const auto* body = parts.body;
  if (body == nullptr || !body->IsObject())
    return bad_field("body", "must be a JSON object (a Telegram Update)");
  caf::error err;
  domain::telegram_update update;
  auto id = required_int(*body, "update_id", "", err);
  if (err)
    return err;
  update.update_id = *id;
  if (body->HasMember("message")) {
    const auto& m = (*body)["message"];
    if (!m.IsObject())
      return bad_field("message", "must be an object");
    domain::telegram_message msg;
    auto message_id = required_int(m, "message_id", "message.", err);
    auto date = required_int(m, "date", "message.", err);
    if (!m.HasMember("chat") || !m["chat"].IsObject()) {
      if (!err)
        err = bad_field("message.chat", "must be an object");
    } else if (auto chat =
                 required_int(m["chat"], "id", "message.chat.", err)) {
      msg.chat_id = *chat;
    }
    if (err)
      return err;
    msg.message_id = *message_id;
    msg.date = *date;
    msg.text = optional_string(m, "text");
    if (m.HasMember("from") && m["from"].IsObject()) {
      const auto& from = m["from"];
      if (from.HasMember("id") && from["id"].IsInt64())
        msg.from_id = from["id"].GetInt64();
      msg.first_name = optional_string(from, "first_name");
      msg.last_name = optional_string(from, "last_name");
      msg.username = optional_string(from, "username");
      msg.language_code = optional_string(from, "language_code");
    }
    update.message = std::move(msg);
  }
  if (body->HasMember("callback_query")) {
    const auto& q = (*body)["callback_query"];
    if (!q.IsObject() || !q.HasMember("id") || !q["id"].IsString())
      return bad_field("callback_query.id", "must be a string");
    domain::telegram_callback cb;
    cb.id = optional_string(q, "id");
    cb.data = optional_string(q, "data");
    if (q.HasMember("from") && q["from"].IsObject()) {
      const auto& from = q["from"];
      if (from.HasMember("id") && from["id"].IsInt64())
        cb.from_id = from["id"].GetInt64();
      cb.language_code = optional_string(from, "language_code");
    }
    if (q.HasMember("message") && q["message"].IsObject() &&
        q["message"].HasMember("chat") && q["message"]["chat"].IsObject() &&
        q["message"]["chat"].HasMember("id") &&
        q["message"]["chat"]["id"].IsInt64())
      cb.chat_id = q["message"]["chat"]["id"].GetInt64();
    update.callback = std::move(cb);
  }
  return update;
}

decoded github_delivery(const request_parts& parts) {
  auto token = [](const std::string& v, size_t max) {
    return !v.empty() && v.size() <= max &&
           std::all_of(v.begin(), v.end(), [](unsigned char c) {
             return std::isalnum(c) || c == '-' || c == '_' || c == '.';
           });
  };
  const auto& h = parts.headers;
  if (!token(h.github_delivery, 128))
    return bad_value("X-GitHub-Delivery",
                     "is required: up to 128 letters, digits, '-', '_', '.'");
  if (!token(h.github_event, 64))
    return bad_value("X-GitHub-Event",
                     "is required: up to 64 letters, digits, '-', '_', '.'");
  const auto* body = parts.body;
  if (body == nullptr || !body->IsObject())
    return bad_field("body", "must be a JSON object (a GitHub event)");
  domain::github_delivery d;
  d.delivery_id = h.github_delivery;
  d.event = h.github_event;
  d.action = optional_string(*body, "action");
  bool labeled = d.event == "issues" && d.action == "labeled";
  bool pull =
    d.event == "pull_request" &&
    (d.action == "opened" || d.action == "reopened" || d.action == "closed");
  if (!labeled && !pull)
    return d; // acknowledged and ignored: nothing more is read
  auto object = [](const rapidjson::Value& v, const char* key) {
    return v.IsObject() && v.HasMember(key) && v[key].IsObject() ? &v[key]
                                                                 : nullptr;
  };
  auto text = [](const rapidjson::Value* v,
                 const char* key) -> std::optional<std::string> {
    if (v == nullptr || !v->HasMember(key) || !(*v)[key].IsString())
      return std::nullopt;
    return std::string{(*v)[key].GetString(), (*v)[key].GetStringLength()};
  };
  auto number = [](const rapidjson::Value* v,
                   const char* key) -> std::optional<int64_t> {
    if (v == nullptr || !v->HasMember(key) || !(*v)[key].IsInt64() ||
        (*v)[key].GetInt64() <= 0)
      return std::nullopt;
    return (*v)[key].GetInt64();
  };
  const auto* repo = object(*body, "repository");
  auto name = text(repo, "name");
  auto owner = text(repo ? object(*repo, "owner") : nullptr, "login");
  if (!name || !owner || !domain::valid_github_owner(*owner) ||
      !domain::valid_github_repository(*name))
    return bad_field("repository", "needs name and owner.login of a GitHub "
                                   "repository");
  d.owner = *owner;
  d.name = *name;
  if (labeled) {
    auto issue = number(object(*body, "issue"), "number");
    auto label = text(object(*body, "label"), "name");
    if (!issue)
      return bad_field("issue.number", "must be a positive integer");
    if (!label)
      return bad_field("label.name", "must be a string");
    d.issue_number = *issue;
    d.label = *label;
    return d;
  }
  const auto* pr = object(*body, "pull_request");
  auto pr_number = number(pr, "number");
  if (!pr_number)
    return bad_field("pull_request.number", "must be a positive integer");
  d.pr_number = *pr_number;
  d.pr_body = text(pr, "body").value_or(""); // null when the PR has none
  d.pr_branch = text(pr ? object(*pr, "head") : nullptr, "ref").value_or("");
  return d;
}

} // namespace decoders

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      auto hi = hex_value(text[i + 1]);
      auto lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    auto pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{}
                                            : header.substr(semi + 1);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string{pair.substr(eq + 1)};
  }
  return {};
}

namespace decoders {

decoded refresh(const request_parts& parts) {
  fields f{parts.body};
  auto token = f.text("refresh_token", true, 512, 1);
  if (f.error())
    return std::move(f.error());
  return domain::refresh_input{*token};
}

decoded logout(const request_parts& parts) {
  domain::logout_input in;
  if (parts.body == nullptr)
    return in;
  fields f{parts.body};
  in.refresh_token = f.text("refresh_token", false, 512, 1);
  if (f.error())
    return std::move(f.error());
  return in;
}

decoded github_start(const request_parts& parts) {
  domain::github_start_input in;
  if (auto* redirect = query_value(parts.query, "redirect")) {
    if (!valid_redirect(*redirect))
      return bad_value("redirect",
                       "must be a relative path starting with one /");
    in.redirect = *redirect;
  }
  return in;
}

decoded github_callback(const request_parts& parts) {
  domain::github_callback_input in;
  if (auto* error = query_value(parts.query, "error")) {
    in.error = cut_utf8(*error, max_github_error);
    return in;
  }
  auto* code = query_value(parts.query, "code");
  auto* state = query_value(parts.query, "state");
  if (code == nullptr || code->empty() || code->size() > 512)
    return bad_value("code", "is required");
  if (state == nullptr || state->empty() || state->size() > 512)
    return bad_value("state", "is required");
  in.code = *code;
  in.state = *state;
  in.binding = parts.headers.login_cookie;
  return in;
}

decoded create_repository(const request_parts& parts) {
  fields f{parts.body};
  storage::new_repository in;
  auto full_name = f.text("full_name", true, 200);
  in.github_repo_id =
    f.integer("github_repo_id", false, 1, std::numeric_limits<int64_t>::max());
  in.default_branch = f.text("default_branch", false, 255, 1);
  if (f.error())
    return std::move(f.error());
  auto split = domain::parse_full_name(*full_name);
  if (!split)
    return bad_value("full_name",
                     "must be owner/name with GitHub's allowed characters");
  if (in.default_branch && !valid_branch(*in.default_branch))
    return bad_value("default_branch", "is not a valid branch name");
  in.owner = std::move(split->first);
  in.name = std::move(split->second);
  return in;
}

decoded list_workflows(const request_parts& parts) {
  domain::list_workflows_input in;
  if (auto* repo = query_value(parts.query, "repository_id")) {
    if (!domain::valid_uuid(*repo))
      return bad_value("repository_id", "must be a UUID");
    in.repository_id = *repo;
  }
  return in;
}

decoded event_stream(const request_parts& parts) {
  const auto& query = parts.query;
  domain::event_stream_input in;
  if (auto* ticket = query_value(query, "ticket"))
    in.ticket = *ticket;
  std::pair<const char*, std::optional<std::string>*> ids[] = {
    {"execution_id", &in.filter.execution_id},
    {"repository_id", &in.filter.repository_id},
    {"workflow_run_id", &in.filter.workflow_run_id},
  };
  for (auto& [name, field] : ids) {
    if (auto* id = query_value(query, name)) {
      if (!domain::valid_uuid(*id))
        return bad_value(name, "must be a UUID");
      // Streams compare ids as text with the lowercase ones PostgreSQL
      // prints.
      std::string lowered = *id;
      std::transform(
        lowered.begin(), lowered.end(), lowered.begin(),
        [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      *field = std::move(lowered);
    }
  }
  // The header is what EventSource sends on reconnect: it is newer than
  // the query of the first request.
  const std::string* resume = nullptr;
  const char* resume_name = "Last-Event-ID";
  if (!parts.headers.last_event_id.empty())
    resume = &parts.headers.last_event_id;
  else if ((resume = query_value(query, "last_event_id")))
    resume_name = "last_event_id";
  if (resume) {
    int64_t n = -1;
    auto [end, ec] =
      std::from_chars(resume->data(), resume->data() + resume->size(), n);
    if (ec != std::errc{} || end != resume->data() + resume->size() || n < 0)
      return bad_value(resume_name, "must be an event id (an integer >= 0)");
    in.last_event_id = n;
  }
  return in;
}

} // namespace decoders

caf::expected<domain::request_input>
decode_input(const operation_descriptor& op, const request_parts& parts) {
  if (auto err = check_query_utf8(parts.query))
    return err;
  if (op.decode == nullptr)
    return domain::request_input{};
  return op.decode(parts);
}

} // namespace miyabi::http
