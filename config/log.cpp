#include "config/log.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <ctime>
#include <mutex>
#include <unistd.h>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace miyabi::log {

namespace {

std::atomic<level> min_level{level::info};

struct shared_state {
  std::mutex mtx;
  std::string trace_project;
  std::vector<std::string> secrets;
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

void redact(std::string& line, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    for (auto pos = line.find(secret); pos != std::string::npos;
         pos = line.find(secret, pos))
      line.replace(pos, secret.size(), "[REDACTED]");
  }
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

void set_trace_project(std::string project) {
  std::lock_guard<std::mutex> guard{state().mtx};
  state().trace_project = std::move(project);
}

void add_secret(std::string secret) {
  if (secret.size() < 6)
    return;
  std::lock_guard<std::mutex> guard{state().mtx};
  state().secrets.push_back(std::move(secret));
}

std::string trace_field(std::string_view header) {
  auto slash = header.find('/');
  auto trace_id = header.substr(0, slash);
  bool hex = !trace_id.empty() && trace_id.size() <= 64 &&
             std::all_of(trace_id.begin(), trace_id.end(),
                         [](unsigned char c) { return std::isxdigit(c); });
  if (!hex)
    return {};
  std::lock_guard<std::mutex> guard{state().mtx};
  if (state().trace_project.empty())
    return {};
  std::string result = "projects/";
  result += state().trace_project;
  result += "/traces/";
  result += trace_id;
  return result;
}

void write(level lvl, std::string_view message,
           std::initializer_list<field> fields) {
  if (!enabled(lvl))
    return;
  char time_buf[32];
  format_time(time_buf);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> out{buf};
  out.StartObject();
  out.Key("time");
  out.String(time_buf);
  out.Key("severity");
  out.String(severity_name(lvl));
  out.Key("message");
  out.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  for (const auto& f : fields) {
    // A request without trace context has no trace to correlate.
    if (f.key == trace_key && std::get_if<std::string_view>(&f.val) != nullptr
        && std::get<std::string_view>(f.val).empty())
      continue;
    out.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
    std::visit(
      [&out](const auto& v) {
        using type = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<type, std::string_view>)
          out.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
        else if constexpr (std::is_same_v<type, int64_t>)
          out.Int64(v);
        else if constexpr (std::is_same_v<type, double>)
          out.Double(v);
        else
          out.Bool(v);
      },
      f.val);
  }
  out.EndObject();
  std::string line{buf.GetString(), buf.GetSize()};
  line += '\n';
  std::lock_guard<std::mutex> guard{state().mtx};
  redact(line, state().secrets);
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

} // namespace miyabi::log
