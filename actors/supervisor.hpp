#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "actors/messages.hpp"

namespace brokerd::actors {

/// Starts one broker session for a connection. `supervisor` receives the session's
/// (state_atom, connection_state, reason) reports, `sink` its (update_atom, order_update)
/// reports. Called by the supervisor for every (re)start.
using session_factory = std::function<broker_session_actor(
    caf::local_actor* parent, const connection_spec& spec, caf::actor supervisor, caf::actor sink)>;

/// Restart policy of a connection supervisor.
struct supervisor_policy {
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{60'000};
  /// A session that stays up this long resets the backoff.
  std::chrono::milliseconds stable_after{30'000};
  std::uint64_t seed = 0x5eed;
};

/// Spawns the supervisor of one connection: the connection's stable address. It starts the
/// session through `factory`, forwards the session interface's requests to it (answering
/// errc::session_unavailable while no session runs), restarts a session that died with
/// capped exponential backoff plus jitter, records every connection state change as a
/// connection.state event, and tells `router` (state_atom, connection id, state).
/// (stop_atom) stops the session and the supervisor, recording `stopped`.
caf::actor spawn_supervisor(caf::actor_system& sys, connection_spec spec, session_factory factory,
                            event_log_actor log, caf::actor router, supervisor_policy policy = {});

} // namespace brokerd::actors
