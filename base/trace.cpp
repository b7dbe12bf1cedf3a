#include "base/trace.hpp"

#include <algorithm>

#include "base/crypto.hpp"

namespace miyabi {

namespace {

bool lower_hex(std::string_view s, size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool all_zeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

/// `VV-TTTT…(32)-PPPP…(16)-FF`, more fields after a later version allowed.
bool parse_traceparent(std::string_view v, trace_context& t) {
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
    return false;
  auto version = v.substr(0, 2);
  auto trace = v.substr(3, 32);
  auto parent = v.substr(36, 16);
  auto flags = v.substr(53, 2);
  if (!lower_hex(version, 2) || version == "ff" || !lower_hex(trace, 32) ||
      !lower_hex(parent, 16) || !lower_hex(flags, 2) || all_zeros(trace) ||
      all_zeros(parent))
    return false;
  if (version == "00" ? v.size() != 55 : (v.size() > 55 && v[55] != '-'))
    return false;
  t.trace_id.assign(trace);
  t.parent_id.assign(parent);
  auto low = flags[1];
  t.sampled =
    ((low >= '0' && low <= '9' ? low - '0' : low - 'a' + 10) & 1) != 0;
  return true;
}

/// `TRACE_ID/SPAN_ID;o=OPTIONS` (span decimal, options optional).
bool parse_cloud_trace(std::string_view v, trace_context& t) {
  auto slash = v.find('/');
  auto trace = v.substr(0, slash);
  std::string lowered{trace};
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (!lower_hex(lowered, 32) || all_zeros(lowered))
    return false;
  t.trace_id = lowered;
  if (slash != std::string_view::npos)
    t.sampled = v.find(";o=1", slash) != std::string_view::npos;
  return true;
}

} // namespace

trace_context trace_of(std::string_view traceparent,
                       std::string_view cloud_trace_context) {
  trace_context t;
  if (!parse_traceparent(traceparent, t)) {
    t = {};
    if (!parse_cloud_trace(cloud_trace_context, t)) {
      t = {};
      t.trace_id = crypto::random_hex_id(16);
    }
  }
  do
    t.span_id = crypto::random_hex_id(8);
  while (all_zeros(t.span_id));
  return t;
}

std::string traceparent_of(const trace_context& t) {
  return "00-" + t.trace_id + "-" + t.span_id + (t.sampled ? "-01" : "-00");
}

std::string trace_resource(std::string_view project, const trace_context& t) {
  if (project.empty() || t.trace_id.empty())
    return {};
  std::string out = "projects/";
  out += project;
  out += "/traces/";
  out += t.trace_id;
  return out;
}

} // namespace miyabi
