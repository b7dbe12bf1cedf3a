#include "domain/jwt.hpp"

#include <cmath>
#include <limits>
#include <new>
#include <optional>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "base/crypto.hpp"
#include "base/errors.hpp"
#include "base/utf8.hpp"

namespace miyabi::domain {

namespace {

constexpr unsigned parse_flags =
  rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;

// base64url of {"alg":"HS256","typ":"JWT"}, the only header we emit.
constexpr std::string_view signed_header =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

using int64_limits = std::numeric_limits<int64_t>;

std::string_view view(const rapidjson::Value& str) {
  return {str.GetString(), str.GetStringLength()};
}

bool parse_object(rapidjson::Document& doc, std::string_view text) {
  // RapidJSON takes a NUL byte for the end of input, so `{}\0junk` would
  // pass; a raw NUL is never valid JSON text anyway.
  if (text.find('\0') != std::string_view::npos)
    return false;
  doc.Parse<parse_flags>(text.data(), text.size());
  // The encoding flag checks raw bytes only; an escaped lone low surrogate
  // (\uDC00) would still reach `sub` and `jti`, which end up in SQL.
  return !doc.HasParseError() && doc.IsObject() && json_strings_valid_utf8(doc);
}

int64_t saturating_add(int64_t a, int64_t b) {
  if (b > 0 && a > int64_limits::max() - b)
    return int64_limits::max();
  if (b < 0 && a < int64_limits::min() - b)
    return int64_limits::min();
  return a + b;
}

int64_t saturating_sub(int64_t a, int64_t b) {
  if (b < 0 && a > int64_limits::max() + b)
    return int64_limits::max();
  if (b > 0 && a < int64_limits::min() + b)
    return int64_limits::min();
  return a - b;
}

enum class rounding { down, up };

// JSON numbers may be floats or exceed int64; converting those with a plain
// cast is UB, so they saturate. The rounding direction is chosen by the caller
// so that a fractional exp or nbf never widens the validity window.
std::optional<int64_t> to_seconds(const rapidjson::Value& v, rounding mode) {
  if (v.IsInt64())
    return v.GetInt64();
  if (v.IsUint64())
    return int64_limits::max(); // Only values above int64 max land here.
  if (!v.IsDouble())
    return std::nullopt;
  auto d = v.GetDouble();
  if (std::isnan(d))
    return std::nullopt;
  d = mode == rounding::down ? std::floor(d) : std::ceil(d);
  // 2^63 is exact as a double, unlike int64 max.
  constexpr double limit = 9223372036854775808.0;
  if (d >= limit)
    return int64_limits::max();
  if (d < -limit)
    return int64_limits::min();
  return static_cast<int64_t>(d);
}

bool audience_matches(const rapidjson::Value& aud, std::string_view expected) {
  if (aud.IsString())
    return view(aud) == expected;
  if (!aud.IsArray())
    return false;
  bool found = false;
  for (const auto& item : aud.GetArray()) {
    if (!item.IsString())
      return false;
    found = found || view(item) == expected;
  }
  return found;
}

bool non_empty_string(const rapidjson::Value* v) {
  return v != nullptr && v->IsString() && v->GetStringLength() > 0;
}

bool valid_header(const rapidjson::Document& doc) {
  bool has_alg = false;
  bool has_typ = false;
  for (const auto& member : doc.GetObject()) {
    auto name = view(member.name);
    const auto& value = member.value;
    // Duplicates are refused: parsers disagree on which one wins.
    if (name == "alg" && !has_alg) {
      if (!value.IsString() || view(value) != "HS256")
        return false;
      has_alg = true;
    } else if (name == "typ" && !has_typ) {
      if (!value.IsString() || view(value) != "JWT")
        return false;
      has_typ = true;
    } else {
      return false;
    }
  }
  return has_alg;
}

/// The registered claims of a payload, found in a single pass.
struct claim_refs {
  const rapidjson::Value* iss = nullptr;
  const rapidjson::Value* aud = nullptr;
  const rapidjson::Value* sub = nullptr;
  const rapidjson::Value* github_id = nullptr;
  const rapidjson::Value* iat = nullptr;
  const rapidjson::Value* nbf = nullptr;
  const rapidjson::Value* exp = nullptr;
  const rapidjson::Value* jti = nullptr;
};

// False on a duplicated registered claim. Even signed, such a payload would
// be read differently by other parsers; unknown claims are ignored.
bool collect_claims(const rapidjson::Value& payload, claim_refs& out) {
  std::pair<std::string_view, const rapidjson::Value**> slots[] = {
    {"iss", &out.iss}, {"aud", &out.aud},
    {"sub", &out.sub}, {"github_id", &out.github_id},
    {"iat", &out.iat}, {"nbf", &out.nbf},
    {"exp", &out.exp}, {"jti", &out.jti},
  };
  for (const auto& member : payload.GetObject()) {
    auto name = view(member.name);
    for (auto& [key, slot] : slots) {
      if (name != key)
        continue;
      if (*slot != nullptr)
        return false;
      *slot = &member.value;
      break;
    }
  }
  return true;
}

} // namespace

const char* to_string(jwt_failure failure) {
  switch (failure) {
    case jwt_failure::malformed: return "malformed";
    case jwt_failure::too_large: return "too_large";
    case jwt_failure::bad_header: return "bad_header";
    case jwt_failure::bad_signature: return "bad_signature";
    case jwt_failure::bad_issuer: return "bad_issuer";
    case jwt_failure::bad_audience: return "bad_audience";
    case jwt_failure::expired: return "expired";
    case jwt_failure::not_yet_valid: return "not_yet_valid";
    case jwt_failure::missing_claim: return "missing_claim";
    case jwt_failure::revoked: return "revoked";
  }
  return "malformed";
}

jwt_codec::jwt_codec(std::string secret, std::string issuer,
                     std::string audience, std::chrono::seconds leeway)
    : secret_(std::move(secret)), issuer_(std::move(issuer)),
      audience_(std::move(audience)),
      leeway_(static_cast<int64_t>(leeway.count())) {}

caf::expected<std::string> jwt_codec::sign(const access_claims& claims) const {
  if (secret_.empty())
    return make_error(errc::internal_error, "no key to sign tokens with");
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> out{buf};
  out.StartObject();
  out.Key("iss");
  out.String(issuer_);
  out.Key("aud");
  out.String(audience_);
  out.Key("sub");
  out.String(claims.sub);
  out.Key("github_id");
  out.Int64(claims.github_id);
  out.Key("iat");
  out.Int64(claims.iat);
  out.Key("nbf");
  out.Int64(claims.nbf);
  out.Key("exp");
  out.Int64(claims.exp);
  out.Key("jti");
  out.String(claims.jti);
  out.EndObject();
  std::string token{signed_header};
  token += '.';
  token += crypto::base64url_encode({buf.GetString(), buf.GetSize()});
  auto mac = crypto::hmac_sha256(secret_, token);
  if (!mac)
    return std::move(mac.error());
  token += '.';
  token += crypto::base64url_encode(*mac);
  return token;
}

std::variant<access_claims, jwt_failure>
jwt_codec::verify(std::string_view token, int64_t now) const try {
  if (token.size() > max_token_size)
    return jwt_failure::too_large;
  auto first = token.find('.');
  if (first == std::string_view::npos)
    return jwt_failure::malformed;
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos ||
      token.find('.', second + 1) != std::string_view::npos)
    return jwt_failure::malformed;
  auto signing_input = token.substr(0, second);
  auto header = crypto::base64url_decode(token.substr(0, first));
  auto payload =
    crypto::base64url_decode(token.substr(first + 1, second - first - 1));
  auto signature = crypto::base64url_decode(token.substr(second + 1));
  if (!header || !payload || !signature)
    return jwt_failure::malformed;
  rapidjson::Document doc;
  if (!parse_object(doc, *header))
    return jwt_failure::malformed;
  if (!valid_header(doc))
    return jwt_failure::bad_header;
  // An empty signature never matches, whatever the MAC computation gives
  // (a failed HMAC must not turn `header.payload.` into a valid token).
  if (signature->empty() || secret_.empty())
    return jwt_failure::bad_signature;
  auto mac = crypto::hmac_sha256(secret_, signing_input);
  if (!mac || mac->empty() || !crypto::constant_time_equal(*signature, *mac))
    return jwt_failure::bad_signature;
  claim_refs refs;
  if (!parse_object(doc, *payload) || !collect_claims(doc, refs))
    return jwt_failure::malformed;
  if (refs.iss == nullptr || !refs.iss->IsString() ||
      view(*refs.iss) != issuer_)
    return jwt_failure::bad_issuer;
  if (refs.aud == nullptr || !audience_matches(*refs.aud, audience_))
    return jwt_failure::bad_audience;
  access_claims claims;
  auto exp = refs.exp ? to_seconds(*refs.exp, rounding::down) : std::nullopt;
  if (!exp)
    return jwt_failure::missing_claim;
  if (saturating_add(*exp, leeway_) <= now)
    return jwt_failure::expired;
  claims.exp = *exp;
  if (refs.nbf != nullptr) {
    auto nbf = to_seconds(*refs.nbf, rounding::up);
    if (!nbf)
      return jwt_failure::missing_claim;
    if (saturating_sub(*nbf, leeway_) > now)
      return jwt_failure::not_yet_valid;
    claims.nbf = *nbf;
  }
  if (!non_empty_string(refs.sub) || !non_empty_string(refs.jti))
    return jwt_failure::missing_claim;
  claims.sub.assign(view(*refs.sub));
  claims.jti.assign(view(*refs.jti));
  if (refs.github_id != nullptr) {
    if (!refs.github_id->IsInt64())
      return jwt_failure::missing_claim;
    claims.github_id = refs.github_id->GetInt64();
  }
  if (refs.iat != nullptr) {
    auto iat = to_seconds(*refs.iat, rounding::down);
    if (!iat)
      return jwt_failure::missing_claim;
    claims.iat = *iat;
  }
  return claims;
} catch (const std::bad_alloc&) {
  // Allocation is the only thing that can throw here; refusing the token
  // keeps callers (actors) free of try blocks and fails closed.
  return jwt_failure::malformed;
}

} // namespace miyabi::domain
