// The actor protocol: what the HTTP layer hands to the actors (`api_call`),
// what comes back (`api_reply` through a `responder`), and the atoms actors
// use among themselves. Nothing here includes Pistache: the HTTP layer turns
// requests into these values and replies into responses. The contract's
// status codes do live here (`api_reply::status`): an operation's owner
// decides between 200, 201 and 202 as the contract says.
//
// Every value is a plain, copyable struct; they travel between threads only
// inside CAF messages.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "actors/operations.hpp"
#include "domain/inputs.hpp"
#include "domain/replies.hpp"

namespace miyabi::actors {

using clock = std::chrono::steady_clock;

/// How the request presented credentials in `Authorization`.
enum class credential_kind : uint8_t {
  none,      ///< no Authorization header
  malformed, ///< another scheme, or not exactly one token
  bearer,    ///< `Bearer <token>`; the token is in `api_request::token`
};

/// Facts about a request that every actor may need for logging and limits.
struct request_meta {
  std::string request_id;
  std::string trace; ///< logging.googleapis.com/trace value, or empty
  clock::time_point received;
  clock::time_point deadline;
  /// The service's own periodic work, not a client's request: a full
  /// database queue does not refuse it (there are only a few such jobs).
  bool background = false;

  /// Time left until the deadline (zero or negative when passed).
  clock::duration remaining() const { return deadline - clock::now(); }
};

/// The user a valid access token or worker token names (set by the front
/// actor).
struct principal {
  std::string user_id;
  int64_t github_id = 0;  ///< 0 for a worker token
  std::string jti;        ///< empty for a worker token
  int64_t expires_at = 0; ///< the access token's exp
  /// Set when a worker token acts for the user, with what it may touch.
  std::optional<storage::worker_scope> worker;
};

/// A decoded, validated request.
struct api_request {
  operation op = operation::health;
  operation_rules rules; ///< from the operation's descriptor
  request_meta meta;
  credential_kind credentials = credential_kind::none;
  std::string token;   ///< the Bearer token when `credentials == bearer`
  std::string path_id; ///< the `{id}` path segment, already validated
  domain::request_input input;   ///< the decoded body or query, per operation
  std::optional<principal> user; ///< set once the token was verified
  bool write = false; ///< POST, PUT, PATCH or DELETE (WRITE_RATE_PER_MINUTE)
};

/// A successful answer: status code, body and extra headers.
struct api_reply {
  uint16_t status = 200;
  domain::reply_body body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Where the answer to one request goes. Implemented by the HTTP layer; the
/// actors call exactly one of `reply` or `fail`, from any thread. Later
/// calls are ignored, and a responder destroyed unanswered answers 500.
class responder {
 public:
  virtual ~responder();

  virtual void reply(api_reply answer) = 0;

  virtual void fail(const caf::error& err) = 0;
};

using responder_ptr = std::shared_ptr<responder>;

/// A request on its way through the actors, with its way back.
struct api_call {
  api_request request;
  responder_ptr out;
  /// For operations that need a caller: decodes the content (content type,
  /// body, query) into `request.input` once the token was verified, so an
  /// unauthenticated client never learns the body rules. Set by the HTTP
  /// layer; runs on the thread that verified the token. Errors: the
  /// validation errors of the decoders (400, 415, 422).
  std::function<caf::error(api_request&)> complete;
};

/// The 401 for a request to such an operation whose `Authorization` header
/// is missing or malformed (`kind` is not `bearer`).
caf::error credentials_error(credential_kind kind);

// -- atoms --------------------------------------------------------------------

using render_atom = caf::atom_constant<caf::atom("render")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;

} // namespace miyabi::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::api_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::api_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::principal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::storage::execution_change)
