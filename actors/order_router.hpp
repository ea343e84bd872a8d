#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "actors/messages.hpp"

namespace brokerd::actors {

/// Settings of the order router.
struct router_config {
  /// Whether status/fill events are fsynced (the intent always is).
  bool sync_status_events = true;
  /// How long a session may take to answer a cancel or a status lookup.
  std::chrono::milliseconds ack_timeout{30'000};
  /// How long a session may take to acknowledge a new order before its outcome is `unknown`.
  /// It covers the wait in the connection's rate-limit queue, which sessions answer from
  /// themselves when they give up: a full queue of 1,000 orders takes about 21 s at IBKR's
  /// 48 msg/s and 5 minutes at Alpaca's 200 requests a minute.
  std::chrono::milliseconds place_timeout{std::chrono::minutes{6}};
  /// Most orders waiting for one connection to become ready; more are refused (queue_full).
  std::size_t max_waiting_per_connection = 10'000;
  /// Seed for order ids (tests pin it; brokerd seeds from the OS).
  std::uint64_t id_seed = 0;
};

/// Spawns the order router: the single owner of brokerd's live order state, rebuilt from the
/// event log (`initial`) at start.
///
/// Messages:
///  - (attach_atom, connection id, user, broker, supervisor): a connection's session is up
///    for routing; its non-terminal orders are reconciled once it reports `ready`.
///  - (detach_atom, connection id): stop routing to it (its orders stay queryable).
///  - (place_atom, order) -> place_result: validates; a repeated (user, client order id)
///    returns the existing order (created=false) and never sends it twice; otherwise records
///    the intent (order.submitted, synced) and answers only once it is durable, then routes it
///    to the session (after reconciliation, while the session is ready).
///  - (cancel_atom, user, order id) -> order: records pending_cancel and asks the session.
///  - (get_atom, user, order id) -> order; (list_atom, user, connection id) -> order_list.
///  - (update_atom, connection id, order_update): a broker report, checked against the state
///    machine: a legal change becomes order.status, a further fill order.fill, anything
///    else order.anomaly (recorded, not applied); duplicates are ignored.
///  - (state_atom, connection id, connection_state): from supervisors.
/// A session that does not acknowledge in time, or dies with the order in flight, leaves the
/// order `unknown`; only reconciliation resolves it: the router never re-sends an order.
caf::actor spawn_router(caf::actor_system& sys, event_log_actor log,
                        std::vector<engine::order> initial, router_config cfg = {});

} // namespace brokerd::actors
