#pragma once

#include <memory>

#include "actors/connections.hpp"
#include "actors/messages.hpp"
#include "api/http_server.hpp"
#include "api/passwords.hpp"
#include "persistence/records.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::persistence::connection_record)

namespace brokerd::api {

/// What the front actor talks to.
struct front_config {
  /// For registry reads (tokens, users, connections) on the front's own thread; all writes
  /// go through `log`.
  std::shared_ptr<persistence::event_log> reader;
  actors::event_log_actor log;
  caf::actor router;
  /// First sequence number the front follows (connection states); take `last_seq() + 1`
  /// before any session starts so no state change is missed.
  std::uint64_t follow_from = 1;
  /// How long the front waits for the router or a session before answering 504.
  std::chrono::milliseconds timeout{15'000};
  /// What new connections' sessions need (POST /api/brokers/:broker/test and /connect).
  actors::broker_resources resources;
  actors::supervisor_policy policy;
  /// Whether connections may name their own broker hosts (--allow-custom-hosts).
  bool allow_custom_hosts = false;
  /// Seals the settings (credentials) of connections added at run time; required.
  std::shared_ptr<const persistence::vault> vault;
  /// Per-user API rate limit (a token bucket per user): requests per second sustained and the
  /// burst saved up; beyond it a request gets 429 rate_limited with Retry-After. 0 per second
  /// turns the limit off. Login attempts are limited the same way per client address.
  std::uint32_t api_rate_per_second = 20;
  std::uint32_t api_rate_burst = 40;
  /// Whether admins are limited too. Off by default: the operator's own tools (brokerctl,
  /// load tests) run as the admin.
  bool rate_limit_admins = false;
  /// How long a password login's session token (and its cookie) lasts.
  std::chrono::seconds session_lifetime{12 * 3600};
  /// scrypt cost of passwords set through the API.
  scrypt_params password_params;
};

/// Spawns the HTTP front actor: authenticates every /api request (a bearer token, or the
/// `brokerd_session` cookie of a password login, which for POST, PATCH and DELETE also needs an
/// `X-Requested-With` header against cross-site requests), limits each user's rate, routes it,
/// asks the router, the event log or a connection's supervisor, and answers through the
/// request's responder. Handles (attach_atom, connection_record, supervisor) to learn the
/// connections it serves, (stop_atom) to refuse new requests with 503 during shutdown and
/// (list_atom) -> std::vector<caf::actor> with the supervisors of every connection it serves
/// (those it started itself included), for an ordered shutdown.
caf::actor spawn_front(caf::actor_system& sys, front_config cfg);

/// The request handler for `http_server`: forwards each request to `front` (thread-safe,
/// never blocks the io thread).
request_handler make_request_handler(caf::actor front);

} // namespace brokerd::api
