#include "base/log.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <memory>
#include <mutex>
#include <unistd.h>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace miyabi::log {

namespace {

std::atomic<level> min_level{level::info};

using secret_list = std::vector<std::string>;

struct shared_state {
  std::mutex mtx;
  /// Replaced, never changed in place: a line formats with the list it
  /// took, without holding the lock.
  std::shared_ptr<const secret_list> secrets =
    std::make_shared<const secret_list>();
};

shared_state& state() {
  static shared_state instance;
  return instance;
}

const char* severity_name(level lvl) {
  switch (lvl) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO";
    case level::warning: return "WARNING";
    default: return "ERROR";
  }
}

void format_time(char (&buf)[32]) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm parts{};
  gmtime_r(&ts.tv_sec, &parts);
  auto n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &parts);
  snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

constexpr std::string_view redacted = "[REDACTED]";

/// `text` with every occurrence of every secret replaced; `scratch` holds
/// the copy when one is needed (most text holds no secret).
std::string_view redact(std::string_view text,
                        const std::vector<std::string>& secrets,
                        std::string& scratch) {
  bool copied = false;
  for (const auto& secret : secrets) {
    std::string_view current = copied ? std::string_view{scratch} : text;
    auto pos = current.find(secret);
    if (pos == std::string_view::npos)
      continue;
    if (!copied) {
      scratch.assign(text);
      copied = true;
    }
    for (; pos != std::string::npos;
         pos = scratch.find(secret, pos + redacted.size()))
      scratch.replace(pos, secret.size(), redacted);
  }
  return copied ? std::string_view{scratch} : text;
}

/// `key`, or KEY_N with the smallest N >= 2 that is not in `used`.
std::string unique_key(std::string_view key,
                       const std::vector<std::string>& used) {
  auto taken = [&used](std::string_view k) {
    return std::find(used.begin(), used.end(), k) != used.end();
  };
  std::string result{key};
  for (int n = 2; taken(result); ++n) {
    result.assign(key);
    result += '_';
    result += std::to_string(n);
  }
  return result;
}

} // namespace

bool parse_level(std::string_view text, level& out) {
  // RUST_LOG style: "info,tower_http=debug" -> the first bare token.
  while (!text.empty()) {
    auto comma = text.find(',');
    auto token = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{}
                                           : text.substr(comma + 1);
    if (token.find('=') != std::string_view::npos)
      continue;
    std::string lower(token);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (lower == "trace" || lower == "debug") {
      out = level::debug;
    } else if (lower == "info") {
      out = level::info;
    } else if (lower == "warn" || lower == "warning") {
      out = level::warning;
    } else if (lower == "error") {
      out = level::error;
    } else {
      return false;
    }
    return true;
  }
  return false;
}

void set_min_level(level lvl) {
  min_level = lvl;
}

bool enabled(level lvl) {
  return lvl >= min_level.load(std::memory_order_relaxed);
}

void add_secret(std::string secret) {
  if (secret.empty())
    return;
  std::lock_guard<std::mutex> guard{state().mtx};
  auto next = std::make_shared<secret_list>(*state().secrets);
  next->push_back(std::move(secret));
  state().secrets = std::move(next);
}

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes fields as members of the open object, nested objects too.
class member_writer {
 public:
  member_writer(json_writer& out, const secret_list& secrets)
      : out_(out), secrets_(secrets) {}

  void string(std::string_view text) {
    auto clean = redact(text, secrets_, scratch_);
    out_.String(clean.data(), static_cast<rapidjson::SizeType>(clean.size()));
  }

  void members(const field* first, size_t size,
               std::vector<std::string>& used) {
    for (size_t i = 0; i < size; ++i) {
      const auto& f = first[i];
      used.push_back(unique_key(f.key, used));
      const auto& key = used.back();
      out_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
      std::visit([this](const auto& v) { value(v); }, f.val);
    }
  }

 private:
  void value(std::string_view v) { string(v); }
  void value(int64_t v) { out_.Int64(v); }
  void value(double v) { out_.Double(v); }
  void value(bool v) { out_.Bool(v); }
  void value(const object_value& v) {
    std::vector<std::string> used;
    out_.StartObject();
    members(v.first, v.size, used);
    out_.EndObject();
  }

  json_writer& out_;
  const secret_list& secrets_;
  std::string scratch_;
};

std::string format_fields(level lvl, std::string_view message,
                          const field* first, size_t size) {
  char time_buf[32];
  format_time(time_buf);
  std::shared_ptr<const secret_list> secrets;
  {
    std::lock_guard<std::mutex> guard{state().mtx};
    secrets = state().secrets;
  }
  rapidjson::StringBuffer buf;
  json_writer out{buf};
  member_writer members{out, *secrets};
  std::vector<std::string> used{"time", "severity", "message"};
  out.StartObject();
  out.Key("time");
  out.String(time_buf);
  out.Key("severity");
  out.String(severity_name(lvl));
  out.Key("message");
  members.string(message);
  members.members(first, size, used);
  out.EndObject();
  std::string line{buf.GetString(), buf.GetSize()};
  line += '\n';
  return line;
}

void write_line(const std::string& line) {
  std::lock_guard<std::mutex> guard{state().mtx};
  const char* data = line.data();
  auto remaining = line.size();
  while (remaining > 0) {
    auto n = ::write(STDOUT_FILENO, data, remaining);
    if (n <= 0)
      break; // Nowhere else to report it; dropping the line is all we can do.
    data += n;
    remaining -= static_cast<size_t>(n);
  }
}

} // namespace

std::string format(level lvl, std::string_view message,
                   std::initializer_list<field> fields) {
  return format_fields(lvl, message, fields.begin(), fields.size());
}

void write(level lvl, std::string_view message,
           std::initializer_list<field> fields) {
  if (enabled(lvl))
    write_line(format_fields(lvl, message, fields.begin(), fields.size()));
}

void write(level lvl, std::string_view message, const field_list& fields) {
  if (enabled(lvl))
    write_line(format_fields(lvl, message, fields.data(), fields.size()));
}

} // namespace miyabi::log
