// The OpenAPI document (http/openapi.json, served at /api/v1/openapi.json)
// against the descriptor table and the route table built from it: every
// operation under its operationId with the security its caller rule needs,
// every route and method documented, nothing
// documented that the service does not serve, every operation identified
// and answered, every error answer in the error envelope, every `$ref`
// resolvable. The checks iterate the table, so a new route without
// documentation fails here.
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/pointer.h>

#include "http/openapi.hpp"
#include "http/operations.hpp"
#include "http/routes.hpp"

using namespace miyabi::http;

namespace {

constexpr const char* error_schema = "#/components/schemas/Error";

/// The methods documented per operation; HEAD and OPTIONS are implied by
/// the common rules and described once in info.description.
constexpr method documented_methods[] = {method::get, method::post, method::put,
                                         method::patch, method::del};

/// Every key of an OpenAPI path item that names an HTTP method.
const std::set<std::string> path_item_methods = {
  "get", "put", "post", "delete", "options", "head", "patch", "trace"};

const route_table& table() {
  return route_table::instance();
}

/// The document, parsed once.
const rapidjson::Document& document() {
  static const rapidjson::Document doc = [] {
    rapidjson::Document d;
    auto text = openapi_document();
    d.Parse(text.data(), text.size());
    return d;
  }();
  return doc;
}

std::string lower(std::string_view text) {
  std::string out{text};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

/// The key a method has in an OpenAPI path item ("get", "delete", ...).
std::string key_of(method m) {
  return lower(to_string(m));
}

std::string_view view(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject())
    return nullptr;
  auto i = v.FindMember(key);
  return i == v.MemberEnd() ? nullptr : &i->value;
}

/// The `paths` object; fails the test case when there is none.
const rapidjson::Value& paths() {
  const auto& doc = document();
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(),
                        "the OpenAPI document is not a JSON object");
  auto* p = member(doc, "paths");
  BOOST_REQUIRE_MESSAGE(p != nullptr && p->IsObject(),
                        "the document has no paths object");
  return *p;
}

/// The route table's patterns with their index.
std::map<std::string, size_t, std::less<>> table_patterns() {
  std::map<std::string, size_t, std::less<>> result;
  const auto& routes = table().routes();
  for (size_t i = 0; i < routes.size(); ++i)
    result.emplace(routes[i].pattern, i);
  return result;
}

struct operation_ref {
  std::string where; ///< "GET /api/v1/..." for messages
  const rapidjson::Value* op;
  const rapidjson::Value* path_item;
};

/// Every operation object of the document.
std::vector<operation_ref> documented_operations() {
  std::vector<operation_ref> result;
  for (const auto& path : paths().GetObject()) {
    if (!path.value.IsObject())
      continue;
    for (const auto& entry : path.value.GetObject()) {
      std::string key{view(entry.name)};
      if (path_item_methods.count(key) == 0)
        continue;
      std::string where = key + " " + std::string{view(path.name)};
      std::transform(where.begin(), where.begin() + key.size(), where.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      result.push_back({std::move(where), &entry.value, &path.value});
    }
  }
  return result;
}

/// Resolves a local reference ("#/components/..."), or null.
const rapidjson::Value* resolve(std::string_view ref) {
  if (ref.substr(0, 2) != "#/")
    return nullptr;
  rapidjson::Pointer pointer{ref.data(), ref.size()};
  if (!pointer.IsValid())
    return nullptr;
  return pointer.Get(document());
}

/// Calls `visit` with every `$ref` string in `v` (recursively).
void each_ref(const rapidjson::Value& v,
              const std::function<void(std::string_view)>& visit) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (view(m.name) == "$ref" && m.value.IsString())
        visit(view(m.value));
      else
        each_ref(m.value, visit);
    }
  } else if (v.IsArray()) {
    for (const auto& item : v.GetArray())
      each_ref(item, visit);
  }
}

/// True when `response` (inline or a reference to components.responses)
/// has the error envelope schema somewhere in its content.
bool uses_error_envelope(const rapidjson::Value& response) {
  const rapidjson::Value* target = &response;
  if (auto* ref = member(response, "$ref"); ref != nullptr && ref->IsString())
    target = resolve(view(*ref));
  if (target == nullptr)
    return false;
  auto* content = member(*target, "content");
  if (content == nullptr)
    return false;
  bool found = false;
  each_ref(*content, [&](std::string_view ref) {
    if (ref == error_schema)
      found = true;
  });
  return found;
}

/// Names of the `{name}` segments of a route pattern.
std::vector<std::string> template_names(const std::string& pattern) {
  std::vector<std::string> names;
  size_t open = 0;
  while ((open = pattern.find('{', open)) != std::string::npos) {
    auto close = pattern.find('}', open);
    if (close == std::string::npos)
      break;
    names.push_back(pattern.substr(open + 1, close - open - 1));
    open = close + 1;
  }
  return names;
}

/// True when `params` (path-item or operation level) declares the required
/// path parameter `name`.
bool declares_path_parameter(const rapidjson::Value* params,
                             const std::string& name) {
  if (params == nullptr || !params->IsArray())
    return false;
  for (const auto& p : params->GetArray()) {
    const rapidjson::Value* target = &p;
    if (auto* ref = member(p, "$ref"); ref != nullptr && ref->IsString())
      target = resolve(view(*ref));
    if (target == nullptr)
      continue;
    auto* in = member(*target, "in");
    auto* n = member(*target, "name");
    auto* required = member(*target, "required");
    if (in != nullptr && in->IsString() && view(*in) == "path" &&
        n != nullptr && n->IsString() && view(*n) == name &&
        required != nullptr && required->IsBool() && required->GetBool())
      return true;
  }
  return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(openapi)

BOOST_AUTO_TEST_CASE(the_document_is_valid_json_of_openapi_3) {
  const auto& doc = document();
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError(),
                        "openapi.json is not valid JSON: "
                          << rapidjson::GetParseError_En(doc.GetParseError())
                          << " at offset " << doc.GetErrorOffset() << ")");
  BOOST_REQUIRE(doc.IsObject());
  auto* version = member(doc, "openapi");
  BOOST_REQUIRE_MESSAGE(version != nullptr && version->IsString(),
                        "the document has no `openapi` version string");
  BOOST_TEST(view(*version).substr(0, 2) == "3.");
  auto* info = member(doc, "info");
  BOOST_REQUIRE(info != nullptr);
  auto* title = member(*info, "title");
  auto* info_version = member(*info, "version");
  BOOST_TEST((title != nullptr && title->IsString()));
  BOOST_TEST((info_version != nullptr && info_version->IsString()));
  BOOST_TEST(paths().MemberCount() > 0u);
}

BOOST_AUTO_TEST_CASE(every_route_of_the_table_is_documented) {
  const auto& documented = paths();
  for (const auto& r : table().routes())
    BOOST_TEST(documented.HasMember(r.pattern.c_str()),
               "route " << r.pattern
                        << " is missing from the document's paths");
}

BOOST_AUTO_TEST_CASE(every_documented_path_is_a_route_of_the_table) {
  auto patterns = table_patterns();
  for (const auto& path : paths().GetObject()) {
    std::string name{view(path.name)};
    BOOST_TEST(patterns.count(name) == 1u,
               "the document names "
                 << name << ", which the route table does not serve");
  }
}

BOOST_AUTO_TEST_CASE(every_method_a_route_supports_is_documented) {
  const auto& documented = paths();
  for (const auto& r : table().routes()) {
    auto* item = member(documented, r.pattern.c_str());
    if (item == nullptr)
      continue; // reported by every_route_of_the_table_is_documented
    for (auto m : documented_methods) {
      if (!r.methods[static_cast<size_t>(m)])
        continue;
      BOOST_TEST(member(*item, key_of(m).c_str()) != nullptr,
                 to_string(m)
                   << " " << r.pattern << " is served but not documented");
    }
  }
}

BOOST_AUTO_TEST_CASE(the_document_names_no_method_a_route_does_not_support) {
  auto patterns = table_patterns();
  for (const auto& path : paths().GetObject()) {
    auto i = patterns.find(view(path.name));
    if (i == patterns.end() || !path.value.IsObject())
      continue; // reported by every_documented_path_is_a_route_of_the_table
    const auto& r = table().routes()[i->second];
    for (const auto& entry : path.value.GetObject()) {
      std::string key{view(entry.name)};
      if (path_item_methods.count(key) == 0)
        continue;
      std::string upper = key;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      if ((key == "head" || key == "options") &&
          r.allow.find(upper) != std::string::npos)
        continue; // implied; see head_and_options_are_described_once_...
      bool supported = false;
      for (auto m : documented_methods)
        if (key == key_of(m) && r.methods[static_cast<size_t>(m)])
          supported = true;
      BOOST_TEST(supported, "the document names " << key << " " << r.pattern
                                                  << ", which the table does "
                                                     "not serve (allowed: "
                                                  << r.allow << ")");
    }
  }
}

BOOST_AUTO_TEST_CASE(head_and_options_are_described_once_not_per_path) {
  for (const auto& op : documented_operations()) {
    BOOST_TEST(op.where.rfind("HEAD ", 0) != 0,
               op.where << ": HEAD belongs in info.description");
    BOOST_TEST(op.where.rfind("OPTIONS ", 0) != 0,
               op.where << ": OPTIONS belongs in info.description");
  }
  auto* info = member(document(), "info");
  BOOST_REQUIRE(info != nullptr);
  auto* description = member(*info, "description");
  BOOST_REQUIRE_MESSAGE(description != nullptr && description->IsString(),
                        "info.description is missing");
  auto text = view(*description);
  BOOST_TEST(text.find("HEAD") != std::string_view::npos);
  BOOST_TEST(text.find("OPTIONS") != std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(every_operation_has_an_operation_id_and_responses) {
  auto ops = documented_operations();
  BOOST_TEST(!ops.empty());
  for (const auto& op : ops) {
    auto* id = member(*op.op, "operationId");
    BOOST_TEST((id != nullptr && id->IsString() && id->GetStringLength() > 0),
               op.where << " has no operationId");
    auto* responses = member(*op.op, "responses");
    bool has_responses = responses != nullptr && responses->IsObject() &&
                         responses->MemberCount() > 0;
    BOOST_TEST(has_responses, op.where << " has no responses");
    if (!has_responses)
      continue;
    bool success = false;
    for (const auto& answer : responses->GetObject()) {
      auto code = view(answer.name);
      if (!code.empty() && (code[0] == '2' || code[0] == '3'))
        success = true;
    }
    BOOST_TEST(success, op.where << " documents no 2xx or 3xx answer");
  }
}

BOOST_AUTO_TEST_CASE(operation_ids_are_unique) {
  std::map<std::string, std::string> seen;
  for (const auto& op : documented_operations()) {
    auto* id = member(*op.op, "operationId");
    if (id == nullptr || !id->IsString())
      continue; // reported by every_operation_has_an_operation_id_and_responses
    std::string name{view(*id)};
    auto [i, fresh] = seen.emplace(name, op.where);
    BOOST_TEST(fresh, "operationId " << name << " of " << op.where
                                     << " is also used by " << i->second);
  }
}

BOOST_AUTO_TEST_CASE(every_error_answer_uses_the_error_envelope) {
  BOOST_REQUIRE_MESSAGE(resolve(error_schema) != nullptr,
                        "components.schemas.Error is missing");
  const auto& envelope = *resolve(error_schema);
  auto* required = member(envelope, "required");
  BOOST_REQUIRE(required != nullptr);
  BOOST_REQUIRE(required->IsArray());
  std::set<std::string> fields;
  for (const auto& f : required->GetArray())
    if (f.IsString())
      fields.emplace(view(f));
  for (auto field : {"error", "message", "request_id"})
    BOOST_TEST(fields.count(field) == 1u,
               "the envelope does not require " << field);
  auto* properties = member(envelope, "properties");
  BOOST_TEST((properties != nullptr && properties->HasMember("details")));
  for (const auto& op : documented_operations()) {
    auto* responses = member(*op.op, "responses");
    if (responses == nullptr || !responses->IsObject())
      continue;
    for (const auto& answer : responses->GetObject()) {
      auto code = view(answer.name);
      if (!code.empty() && (code[0] == '2' || code[0] == '3'))
        continue;
      BOOST_TEST(uses_error_envelope(answer.value),
                 op.where << " answer " << code
                          << " does not reference the error envelope");
    }
  }
}

BOOST_AUTO_TEST_CASE(every_reference_points_to_an_existing_component) {
  size_t count = 0;
  each_ref(document(), [&](std::string_view ref) {
    ++count;
    BOOST_TEST(ref.substr(0, 13) == "#/components/",
               "reference " << ref << " is not to a local component");
    BOOST_TEST(resolve(ref) != nullptr,
               "reference " << ref << " points to nothing");
  });
  BOOST_TEST(count > 0u);
}

BOOST_AUTO_TEST_CASE(every_security_requirement_names_a_declared_scheme) {
  auto* components = member(document(), "components");
  auto* schemes = components ? member(*components, "securitySchemes") : nullptr;
  BOOST_REQUIRE_MESSAGE(schemes != nullptr && schemes->IsObject(),
                        "components.securitySchemes is missing");
  for (const auto& op : documented_operations()) {
    auto* security = member(*op.op, "security");
    if (security == nullptr)
      continue;
    BOOST_TEST(security->IsArray(), op.where << ": security is not an array");
    if (!security->IsArray())
      continue;
    for (const auto& requirement : security->GetArray()) {
      if (!requirement.IsObject())
        continue;
      for (const auto& scheme : requirement.GetObject())
        BOOST_TEST(schemes->HasMember(scheme.name),
                   op.where << " names the undeclared security scheme "
                            << view(scheme.name));
    }
  }
}

BOOST_AUTO_TEST_CASE(every_path_parameter_of_a_route_is_declared) {
  const auto& documented = paths();
  for (const auto& r : table().routes()) {
    auto names = template_names(r.pattern);
    auto* item = member(documented, r.pattern.c_str());
    if (names.empty() || item == nullptr)
      continue;
    for (const auto& entry : item->GetObject()) {
      std::string key{view(entry.name)};
      if (path_item_methods.count(key) == 0)
        continue;
      for (const auto& name : names)
        BOOST_TEST(
          (declares_path_parameter(member(*item, "parameters"), name) ||
           declares_path_parameter(member(entry.value, "parameters"), name)),
          key << " " << r.pattern << " does not declare the path parameter "
              << name);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_operation_that_needs_a_json_body_documents_it) {
  const auto& documented = paths();
  for (const auto& r : table().routes()) {
    auto* item = member(documented, r.pattern.c_str());
    if (item == nullptr)
      continue;
    for (auto m : documented_methods) {
      const auto& traits = r.methods[static_cast<size_t>(m)];
      auto* op = member(*item, key_of(m).c_str());
      if (!traits || !traits->json_body || op == nullptr)
        continue;
      auto* body = member(*op, "requestBody");
      auto* content = body ? member(*body, "content") : nullptr;
      BOOST_TEST((content != nullptr && content->HasMember("application/json")),
                 to_string(m) << " " << r.pattern
                              << " takes a JSON body but documents none");
      auto* required = body ? member(*body, "required") : nullptr;
      BOOST_TEST(
        (required != nullptr && required->IsBool() && required->GetBool()),
        to_string(m) << " " << r.pattern
                     << " needs its body: requestBody.required");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(descriptors)

/// The operation object of a descriptor's route and method, or null.
const rapidjson::Value* documented(const operation_descriptor& d) {
  auto* item = member(paths(), std::string{d.route}.c_str());
  return item ? member(*item, key_of(d.verb).c_str()) : nullptr;
}

/// The security scheme names an operation object accepts.
std::set<std::string> schemes_of(const rapidjson::Value& op) {
  std::set<std::string> result;
  auto* security = member(op, "security");
  if (security == nullptr || !security->IsArray())
    return result;
  for (const auto& requirement : security->GetArray())
    if (requirement.IsObject())
      for (const auto& scheme : requirement.GetObject())
        result.emplace(view(scheme.name));
  return result;
}

BOOST_AUTO_TEST_CASE(every_descriptor_is_documented_under_its_operation_id) {
  for (const auto& d : miyabi::http::operations()) {
    auto* op = documented(d);
    BOOST_TEST_INFO(to_string(d.verb) << " " << d.route);
    BOOST_REQUIRE(op != nullptr);
    auto* id = member(*op, "operationId");
    BOOST_REQUIRE((id != nullptr && id->IsString()));
    BOOST_TEST(view(*id) == d.operation_id);
  }
}

BOOST_AUTO_TEST_CASE(the_documented_security_matches_who_may_call) {
  using miyabi::actors::caller;
  for (const auto& d : miyabi::http::operations()) {
    auto* op = documented(d);
    if (op == nullptr)
      continue; // reported by every_descriptor_is_documented_...
    BOOST_TEST_INFO(to_string(d.verb) << " " << d.route);
    auto schemes = schemes_of(*op);
    BOOST_TEST(schemes.count("bearerAuth") == (d.rules.who != caller::anyone));
    BOOST_TEST(schemes.count("workerToken") ==
               (d.rules.who == caller::user_or_worker ||
                d.rules.who == caller::ticket_or_token));
    BOOST_TEST(schemes.count("eventTicket") ==
               (d.rules.who == caller::ticket_or_token));
  }
}

BOOST_AUTO_TEST_CASE(
  every_operation_has_one_descriptor_and_work_for_its_owner) {
  using miyabi::actors::owner;
  std::set<std::string_view> seen;
  for (const auto& d : miyabi::http::operations()) {
    BOOST_TEST_INFO(d.operation_id);
    BOOST_TEST(seen.insert(d.operation_id).second);
    BOOST_TEST(&descriptor_of(d.operation_id) == &d);
    const auto& r = d.rules;
    bool front = r.handler != nullptr || d.local_answer;
    BOOST_TEST(front == (r.by == owner::front));
    BOOST_TEST((r.auth != nullptr) == (r.by == owner::auth));
    BOOST_TEST((r.telegram != nullptr) == (r.by == owner::telegram));
    BOOST_TEST(!(d.json_body && d.decode == nullptr));
  }
  BOOST_CHECK_THROW(descriptor_of("noSuchOperation"), std::out_of_range);
}

BOOST_AUTO_TEST_SUITE_END()
