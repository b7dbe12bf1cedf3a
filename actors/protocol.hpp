// The actor protocol, whole: every message the actors exchange, the typed
// handle of every actor (what it accepts and what it answers), and the
// registry names that say which handle is published under them.
//
// What the HTTP layer hands to the actors is an `api_call`; the answer comes
// back as an `api_reply` through the call's `responder`. Nothing here
// includes Pistache: the HTTP layer turns requests into these values and
// replies into responses. The contract's status codes do live here
// (`api_reply::status`): an operation's owner decides between 200, 201 and
// 202 as the contract says.
//
// Every message is a plain struct; they travel between threads only inside
// CAF messages of this process (CAF_ALLOW_UNSAFE_MESSAGE_TYPE: never
// serialized). Every send and request goes through a handle below, so a
// message an actor does not accept, or an answer of the wrong type, fails
// to compile at the sender. Every actor also runs a behaviour typed with
// its handle, so what it accepts and answers is checked where it is
// implemented too.
//
// The descriptor side of every operation (who may call it, which actor
// runs it, with which function) is `operation_rules` below; the HTTP layer
// fills it from its descriptor table.
#pragma once

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/local_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "domain/inputs.hpp"
#include "domain/replies.hpp"
#include "storage/session.hpp"

namespace miyabi::actors {

using clock = std::chrono::steady_clock;

// -- atoms --------------------------------------------------------------------

using render_atom = caf::atom_constant<caf::atom("render")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;

// -- messages, declared (defined below) -------------------------------------

struct api_call;
struct api_reply;
struct principal;
struct db_job;
struct db_group;
struct db_result;
struct http_call;
struct http_outcome;

// -- typed handles
// -------------------------------------------------------------

/// A front actor: takes calls from the HTTP layer, answers through their
/// responders.
using front_handle = caf::typed_actor<caf::reacts_to<api_call>>;

/// An actor that owns operations (`owner`): answers each call it is given.
using owner_handle =
  caf::typed_actor<caf::replies_to<api_call>::with<api_reply>>;

/// The auth actor: owns the auth operations, verifies tokens until the
/// revocation list is loaded, and reloads that list on its own timer.
using auth_handle = owner_handle::extend<
  caf::replies_to<verify_atom, std::string>::with<principal>,
  caf::reacts_to<tick_atom>>;

/// The Telegram actor: owns the webhook and the link operations; its timer
/// retries setWebhook (TELEGRAM_WEBHOOK_URL).
using telegram_handle = owner_handle::extend<caf::reacts_to<tick_atom>>;

/// Renders /metrics.
using metrics_handle =
  caf::typed_actor<caf::replies_to<render_atom>::with<std::string>>;

/// Runs database jobs: what clients of the pool see.
using db_handle = caf::typed_actor<caf::replies_to<db_job>::with<db_result>>;

/// The pool itself: also told by its sessions when they are idle or
/// (re)connected, and by its own timers.
using db_pool_handle =
  db_handle::extend<caf::reacts_to<db_group>, caf::reacts_to<idle_atom, bool>,
                    caf::reacts_to<probe_atom, bool>, caf::reacts_to<tick_atom>,
                    caf::reacts_to<respawn_atom, size_t>>;

/// One database session (connects on its own `probe_atom`).
using db_session_handle =
  db_handle::extend<caf::reacts_to<probe_atom>, caf::reacts_to<db_group>>;

/// The database monitor (migrations, health probe, purge) on its timer.
using db_monitor_handle = caf::typed_actor<caf::reacts_to<tick_atom>>;

/// Outbound HTTP: the dispatcher and each of its workers.
using outbound_handle =
  caf::typed_actor<caf::replies_to<http_call>::with<http_outcome>>;

/// The outbox sender: woken by status changes, by the Telegram actor and by
/// its timer.
using outbox_handle =
  caf::typed_actor<caf::reacts_to<tick_atom>, caf::reacts_to<kick_atom>,
                   caf::reacts_to<storage::execution_change>>;

/// The lease sweeper, on its timer.
using leases_handle =
  caf::typed_actor<caf::reacts_to<tick_atom>, caf::reacts_to<kick_atom>>;

/// A supervisor (restarts its child after the backoff).
using supervisor_handle = caf::typed_actor<caf::reacts_to<respawn_atom>>;

/// The promise of an owner's answer.
using reply_promise = caf::typed_response_promise<api_reply>;

// -- operations
// ----------------------------------------------------------------
//
// What the actors need to know about an operation: who may call it, which
// actor answers it and the function that does, run inside that actor. The
// HTTP layer's descriptor table (http/operations.cpp) sets these per
// (route, method) and copies them into every `api_request`, so no actor
// switches over operations: each runs the function the request carries.

struct front_deps;
struct auth_state;
struct telegram_state;

/// Who may call an operation.
enum class caller : uint8_t {
  anyone,         ///< credentials are not looked at
  user,           ///< a valid access token (401); a worker token gets 403
  user_or_worker, ///< an access token, or a worker token within its scope
  /// like user_or_worker; without credentials the handler checks a ticket
  ticket_or_token,
};

/// Which actor answers an operation.
enum class owner : uint8_t {
  front,    ///< the front actor, through `operation_rules::handler`
  auth,     ///< the auth actor (it keeps the revocation list), through
            ///< `operation_rules::auth`
  telegram, ///< the Telegram actor (the bot's state), through
            ///< `operation_rules::telegram`
};

/// Answers one call inside the front actor that received it (after
/// authentication when the operation needs a caller). Runs on that actor's
/// thread and must not block: database work goes to a session with
/// `query` / `query_in_session`. Every outcome reaches `call.out`. `self` is
/// null for an operation that runs on the caller's thread
/// (`operation_rules::on_caller_thread`).
using front_handler = void (*)(front_handle::pointer self,
                               const front_deps& deps, api_call& call);

/// Answers one call inside the auth actor, which it may read and change
/// (the revocation list); the answer goes to `rp`. Runs on that actor's
/// thread and must not block.
using auth_handler = void (*)(auth_handle::stateful_pointer<auth_state> self,
                              api_call& call, reply_promise rp);

/// Answers one call inside the Telegram actor (the bot's state); as
/// `auth_handler` otherwise.
using telegram_handler =
  void (*)(telegram_handle::stateful_pointer<telegram_state> self,
           api_call& call, reply_promise rp);

/// The actor side of one operation's descriptor.
struct operation_rules {
  caller who = caller::anyone;
  owner by = owner::front;
  /// The work, for the actor `by` names: exactly that one of the three is
  /// set (the front's may instead be an HTTP-level `local_answer`).
  front_handler handler = nullptr;
  auth_handler auth = nullptr;
  telegram_handler telegram = nullptr;
  /// How its database work may be retried (storage::access); a handler
  /// may choose a stricter mode per request.
  storage::access access = storage::access::read;
  /// The handler reads only constants and atomic state and never uses
  /// `self`: it runs on the thread that dispatches the call (a Pistache
  /// reactor) with no hop to a front actor. Only for operations of the
  /// front that anyone may call (the health probes).
  bool on_caller_thread = false;
};

/// How the request presented credentials in `Authorization`.
enum class credential_kind : uint8_t {
  none,      ///< no Authorization header
  malformed, ///< another scheme, or not exactly one token
  bearer,    ///< `Bearer <token>`; the token is in `api_request::token`
};

/// Facts about a request that every actor may need for logging and limits.
struct request_meta {
  std::string request_id;
  /// W3C `traceparent` naming this request's span, for outbound calls.
  std::string traceparent;
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

/// What an event stream follows (GET /api/v1/events), its caller known.
struct stream_request {
  std::string user_id;
  /// A worker token's repositories; unset: all of the user's.
  std::optional<std::vector<std::string>> repositories;
  storage::event_filter filter;
  std::optional<int64_t> last_event_id;
};

/// Where the answer to one request goes. Implemented by the HTTP layer; the
/// actors call exactly one of `reply`, `fail` or `stream`, from any thread.
/// Later calls are ignored, and a responder destroyed unanswered answers
/// 500.
class responder {
 public:
  virtual ~responder();

  virtual void reply(api_reply answer) = 0;

  virtual void fail(const caf::error& err) = 0;

  /// Answers 200 with a server-sent event stream that the HTTP layer
  /// serves from then on; 429 when the user has EVENT_STREAMS_PER_USER
  /// streams open on this instance, 503 without an event hub.
  virtual void stream(stream_request request) = 0;
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

// -- database jobs ------------------------------------------------------------

/// Where a job's outcome goes when the session answers in place (see
/// `query_in_session`). Settled once, on the thread that settles the job; a
/// job dropped unsettled (its pool or session ended) settles with
/// service_unavailable when its last copy goes.
class db_outcome {
 public:
  using handler = std::function<void(caf::expected<std::any>&)>;

  explicit db_outcome(handler fn) : fn_(std::move(fn)) {}
  db_outcome(const db_outcome&) = delete;
  db_outcome& operator=(const db_outcome&) = delete;
  ~db_outcome();

  void settle(caf::expected<std::any> result);

 private:
  handler fn_;
  std::atomic<bool> settled_{false};
};

/// Whether a job may share its transaction with others.
enum class db_grouping {
  /// Its own transaction (or none, for reads).
  alone,
  /// When jobs wait for a session, queued jobs of the same label that say
  /// so run in one transaction and commit together: one WAL flush for all
  /// (see actors/db.hpp). Only for jobs answered in place (an outcome set)
  /// whose work is safe to run again after a rollback, touches nothing
  /// outside its transaction and does not need to see its own commit.
  shared_commit,
};

/// A request that joined a queued job with the same coalesce key: it gets
/// that job's value (see db_job::coalesce_key).
struct db_follower {
  std::shared_ptr<db_outcome> outcome;
  clock::time_point deadline;
};

/// Work for a database session.
struct db_job {
  const char* label = "unnamed"; ///< `query` label of the duration metric
  storage::access mode = storage::access::write_once;
  clock::time_point deadline;
  storage::unit_of_work work;
  bool background = false; ///< see request_meta::background
  /// Set: the outcome goes here instead of to the requester.
  std::shared_ptr<db_outcome> outcome;
  db_grouping grouping = db_grouping::alone;
  /// Reads answered in place only: a job whose key equals that of a job
  /// still waiting in the queue joins it instead of queueing (the same
  /// read with the same inputs, started after both arrived, so its value
  /// is one either could have seen). Empty: never joined.
  std::string coalesce_key;
  /// The requests that joined this job while it waited.
  std::vector<db_follower> followers;
};

/// How a job may share work with other queued jobs.
struct db_sharing {
  db_grouping grouping = db_grouping::alone;
  std::string coalesce_key; ///< see db_job::coalesce_key
};

/// Jobs that commit together: from the pool to a session; back from the
/// session (to run each alone) when the shared transaction failed.
struct db_group {
  std::vector<db_job> jobs;
};

/// The value a job produced.
struct db_result {
  std::any value;
};

// -- outbound HTTP calls ------------------------------------------------------

struct http_call {
  std::string service; ///< "github", "telegram", "llm": metric label
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};
  std::string log_target; ///< what logs may show instead of the URL
  /// When the caller stops waiting for the answer: a call still queued
  /// then is dropped (never sent); a call that starts is cut off then.
  std::chrono::steady_clock::time_point deadline =
    std::chrono::steady_clock::time_point::max();
};

struct http_outcome {
  long status = 0;
  std::string body;
  std::string retry_after; ///< the Retry-After header, if any
  double seconds = 0;
};

// -- registry names -----------------------------------------------------------

/// A name in CAF's registry together with the handle of what is published
/// under it; supervisors publish their current child there.
template <class Handle>
struct registry_name {
  caf::atom_value key;
};

namespace names {

constexpr registry_name<metrics_handle> metrics{caf::atom("metrics")};
constexpr registry_name<auth_handle> auth{caf::atom("auth")};
constexpr registry_name<db_handle> db{caf::atom("db")};
constexpr registry_name<outbound_handle> outbound{caf::atom("outbound")};
constexpr registry_name<telegram_handle> telegram{caf::atom("telegram")};
constexpr registry_name<outbox_handle> outbox{caf::atom("outbox")};
constexpr registry_name<leases_handle> leases{caf::atom("leases")};

} // namespace names

/// The current actor published under `name`; invalid while it restarts.
/// Any thread.
template <class Handle>
Handle lookup(caf::actor_system& system, registry_name<Handle> name) {
  return caf::actor_cast<Handle>(system.registry().get(name.key));
}

/// `lookup` from inside an actor (any actor of the system).
template <class Handle>
Handle lookup(caf::local_actor* self, registry_name<Handle> name) {
  return lookup(self->system(), name);
}

} // namespace miyabi::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::api_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::api_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::principal)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::storage::execution_change)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::db_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::db_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::db_group)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::http_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(miyabi::actors::http_outcome)
