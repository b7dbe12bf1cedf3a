// Placeholder: replaced by the OpenAPI consistency suite.
#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

#include "http/openapi.hpp"

BOOST_AUTO_TEST_CASE(the_openapi_document_is_json) {
  rapidjson::Document doc;
  doc.Parse(miyabi::http::openapi_document().data(),
            miyabi::http::openapi_document().size());
  BOOST_TEST(!doc.HasParseError());
}
