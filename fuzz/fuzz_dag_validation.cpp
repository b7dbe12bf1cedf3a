// libFuzzer harness: workflow graph validation (actors/rules.hpp). The input
// is JSON, parsed with RapidJSON's iterative parser (UTF-8 validated, as the
// service's parse_json does); inputs that do not parse are skipped. The
// document is validated as a dag_definition, and so is its
// "dag_definition" member when it is a whole workflow body.
#include <cstddef>
#include <cstdint>

#include <rapidjson/document.h>

#include "domain/rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr unsigned flags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  rapidjson::Document doc;
  doc.Parse<flags>(reinterpret_cast<const char*>(data), size);
  if (doc.HasParseError())
    return 0;
  auto err = miyabi::domain::validate_dag(doc);
  (void)err;
  if (doc.IsObject()) {
    auto member = doc.FindMember("dag_definition");
    if (member != doc.MemberEnd()) {
      auto inner = miyabi::domain::validate_dag(member->value);
      (void)inner;
    }
  }
  return 0;
}
