#include "http/json_codec.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace miyabi::http {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view json_type = "application/json";

void put(writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void put(writer& w, std::string_view key, int64_t value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.Int64(value);
}

std::string take(rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

struct body_encoder {
  encoded_body operator()(std::monostate) const { return {{}, {}}; }

  encoded_body operator()(const actors::liveness&) const {
    return {json_type, R"({"status":"ok"})"};
  }

  encoded_body operator()(const actors::health_report& report) const {
    rapidjson::StringBuffer buf;
    writer w{buf};
    w.StartObject();
    put(w, "status",
        report.database == actors::db_state::disconnected ? "degraded" : "ok");
    put(w, "version", report.version);
    put(w, "mode", report.telegram_only ? "telegram-only" : "full");
    put(w, "database", actors::to_string(report.database));
    put(w, "uptime_seconds", report.uptime_seconds);
    w.EndObject();
    return {json_type, take(buf)};
  }

  encoded_body operator()(const actors::text_body& body) const {
    return {body.content_type, body.text};
  }

  encoded_body operator()(const actors::json_text& body) const {
    return {json_type, body.json};
  }
};

} // namespace

encoded_body encode(const actors::reply_body& body) {
  return std::visit(body_encoder{}, body);
}

std::string encode_error(const error_response& err,
                         std::string_view request_id) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  put(w, "error", err.code);
  put(w, "message", err.message);
  if (!err.details.empty())
    put(w, "details", err.details);
  put(w, "request_id", request_id);
  w.EndObject();
  return take(buf);
}

size_t json_depth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > deepest && (deepest = depth) > limit)
          return deepest;
        break;
      case '}':
      case ']':
        if (depth > 0)
          --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

caf::error parse_json(std::string_view text, rapidjson::Document& doc) {
  if (json_depth(text, max_json_depth) > max_json_depth)
    return make_error(errc::validation_error, "malformed JSON",
                      "JSON nested deeper than "
                        + std::to_string(max_json_depth) + " levels");
  constexpr unsigned flags = rapidjson::kParseIterativeFlag
                             | rapidjson::kParseValidateEncodingFlag;
  doc.Parse<flags>(text.data(), text.size());
  if (doc.HasParseError())
    return make_error(errc::validation_error, "malformed JSON",
                      std::string{rapidjson::GetParseError_En(
                        doc.GetParseError())}
                        + " at offset "
                        + std::to_string(doc.GetErrorOffset()));
  return {};
}

} // namespace miyabi::http
