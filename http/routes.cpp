#include "http/routes.hpp"

#include <algorithm>
#include <iterator>
#include <mutex>

#include "base/text.hpp"

namespace miyabi::http {

namespace {

/// What `configure` chose, read once when `instance()` builds the table.
struct table_setup {
  std::mutex mtx;
  route_options options;
  bool built = false;
};

table_setup& setup() {
  static table_setup instance;
  return instance;
}

} // namespace

route_table::route_table(route_options options) {
  for (const auto& op : operations()) {
    auto same = [&](const route& r) {
      return r.pattern == op.route;
    };
    auto existing = std::find_if(routes_.begin(), routes_.end(), same);
    if (existing == routes_.end()) {
      route r;
      r.pattern = std::string{op.route};
      r.segments = split(op.route.substr(1), '/');
      routes_.push_back(std::move(r));
      existing = std::prev(routes_.end());
    }
    existing->methods[static_cast<size_t>(op.verb)] = &op;
    if ((op.mock_only && !options.auth_mock) ||
        (op.github_signature && !options.github_webhook) ||
        (op.scrape && !options.public_metrics))
      existing->enabled = false;
  }
  // Allow lists every method the path supports: HEAD with a GET that
  // allows it, OPTIONS.
  for (auto& r : routes_) {
    const auto* get = r.methods[static_cast<size_t>(method::get)];
    for (size_t i = 0; i < method_count; ++i) {
      auto m = static_cast<method>(i);
      bool allowed = r.methods[i] != nullptr || m == method::options ||
                     (m == method::head && get && get->head);
      if (!allowed)
        continue;
      if (!r.allow.empty())
        r.allow += ", ";
      r.allow += to_string(m);
    }
  }
}

bool route_table::configure(route_options options) {
  auto& s = setup();
  std::lock_guard<std::mutex> guard{s.mtx};
  if (s.built)
    return false;
  s.options = options;
  return true;
}

const route_table& route_table::instance() {
  static const route_table table{[] {
    auto& s = setup();
    std::lock_guard<std::mutex> guard{s.mtx};
    s.built = true;
    return s.options;
  }()};
  return table;
}

route_match route_table::match(std::string_view path) const {
  route_match result;
  result.route = unmatched();
  if (path.empty() || path.front() != '/')
    return result;
  // Split without allocating: compare segment by segment.
  bool matched_with_param = false;
  for (size_t index = 0; index < routes_.size(); ++index) {
    if (!routes_[index].enabled)
      continue;
    const auto& segs = routes_[index].segments;
    std::string_view rest = path.substr(1);
    std::string_view id;
    bool ok = true;
    bool param = false;
    for (size_t s = 0; s < segs.size(); ++s) {
      auto slash = rest.find('/');
      auto seg = rest.substr(0, slash);
      bool last = s + 1 == segs.size();
      if (last != (slash == std::string_view::npos)) {
        ok = false;
        break;
      }
      if (segs[s] == "{id}") {
        if (seg.empty()) {
          ok = false;
          break;
        }
        id = seg;
        param = true;
      } else if (seg != segs[s]) {
        ok = false;
        break;
      }
      rest = last ? std::string_view{} : rest.substr(slash + 1);
    }
    if (!ok)
      continue;
    if (!param)
      return {index, {}}; // A literal route always wins.
    if (!matched_with_param) {
      result = {index, id};
      matched_with_param = true;
    }
  }
  return result;
}

const operation_descriptor* route_table::find(size_t route_index,
                                              method m) const {
  if (route_index >= routes_.size())
    return nullptr;
  const auto& r = routes_[route_index];
  if (m != method::head)
    return r.methods[static_cast<size_t>(m)];
  const auto* get = r.methods[static_cast<size_t>(method::get)];
  return get && get->head ? get : nullptr;
}

std::string_view route_table::label(size_t index) const {
  if (index < routes_.size())
    return routes_[index].pattern;
  return "unmatched";
}

std::vector<std::string> route_table::labels() const {
  std::vector<std::string> result;
  for (const auto& r : routes_)
    result.push_back(r.pattern);
  result.emplace_back("unmatched");
  return result;
}

} // namespace miyabi::http
