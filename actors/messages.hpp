#pragma once

// Message types and typed interfaces of brokerd's actors. All messages are process-local:
// strategies talk to brokerd over the versioned JSON API, not over CAF's wire format, so the
// domain structs are whitelisted as local message types instead of getting `inspect`
// overloads. Atom texts are a contract: add, never rename.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "engine/account.hpp"
#include "engine/order.hpp"
#include "persistence/event.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::actors {

/// The life cycle of a broker connection's session, as the API and the event log show it.
enum class connection_state : std::uint8_t {
  connecting,
  connected,
  resyncing,
  ready,
  backoff,
  auth_required,
  stopped,
};

std::string_view to_string(connection_state x) noexcept;

/// A normalized report from a broker session about one order: its current status and the
/// cumulative fill state. `last_*`/`exec_id` are set when the report carries one execution.
struct order_update {
  std::string order_id;
  std::string client_order_id;
  std::string broker_order_id;
  engine::order_status status = engine::order_status::unknown;
  engine::decimal filled_quantity;
  engine::decimal avg_fill_price;
  std::optional<engine::decimal> last_quantity;
  std::optional<engine::decimal> last_price;
  std::string exec_id;
  std::string reason;
  persistence::event_source source = persistence::event_source::broker;
};

/// A session's answer to place/cancel: the broker's id and the status it acknowledged.
struct order_ack {
  std::string broker_order_id;
  engine::order_status status = engine::order_status::new_;
  std::string reason;
};

/// What a session is started with: the connection's identity and its broker-specific settings
/// (already decrypted; never logged, never put in events or errors).
struct connection_spec {
  std::string id;
  std::string user;
  engine::broker_id broker = engine::broker_id::paper;
  std::vector<std::pair<std::string, std::string>> settings;
};

/// The router's answer to a new order: the order and whether this call created it (false for
/// a repeated client order id, which returns the existing order).
struct place_result {
  engine::order order;
  bool created = false;
};

using order_list = std::vector<engine::order>;

/// Registry changes committed with an append (see event_log_actor).
using registry_writes = std::vector<persistence::registry_write>;

/// Error codes of the actors layer (category atom "brokerd").
enum class errc : std::uint8_t {
  /// The connection id is not known (or belongs to another user).
  unknown_connection = 1,
  /// The order id is not known (or belongs to another user).
  unknown_order,
  /// The order failed validation; the context names the field.
  invalid_order,
  /// The order is in a terminal status and cannot be canceled.
  order_not_cancelable,
  /// The broker does not know the order (status lookups during reconciliation).
  not_found_at_broker,
  /// The broker refused the request; the context keeps the broker's code and text.
  broker_rejected,
  /// The session is not connected or restarting; nothing was sent.
  session_unavailable,
  /// Writing the event log failed; the order was not accepted.
  log_write_failed,
  /// A bounded queue is full; the request was refused, nothing was queued.
  queue_full,
  /// brokerd is shutting down and takes no new work.
  shutting_down,
  /// The connection's broker refused its credentials or its login ended: nothing is sent
  /// until the user signs in again.
  auth_required,
  /// A client order id already names an order with other terms: the new one is refused.
  client_order_id_conflict,
};

std::string_view to_string(errc x) noexcept;

/// Builds a CAF error of category "brokerd" with a context message.
caf::error make_error(errc code, std::string context = {});

/// Extracts (code, context) from a CAF error of category "brokerd"; other errors map to
/// nullopt code with their rendered text.
struct error_info {
  std::optional<errc> code;
  std::string message;
};
error_info describe(const caf::error& err);

} // namespace brokerd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::engine::order)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::engine::balance)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::engine::position_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::persistence::event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::persistence::event_batch)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::order_update)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::order_ack)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::connection_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::place_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::order_list)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::registry_writes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::connection_state)

CAF_BEGIN_TYPE_ID_BLOCK(brokerd, caf::first_custom_type_id)
  CAF_ADD_ATOM(brokerd, brokerd::actors, append_atom, "append")
  CAF_ADD_ATOM(brokerd, brokerd::actors, flush_atom, "flush")
  CAF_ADD_ATOM(brokerd, brokerd::actors, read_atom, "read")
  CAF_ADD_ATOM(brokerd, brokerd::actors, subscribe_atom, "subscribe")
  CAF_ADD_ATOM(brokerd, brokerd::actors, unsub_atom, "unsub")
  CAF_ADD_ATOM(brokerd, brokerd::actors, event_atom, "event")
  CAF_ADD_ATOM(brokerd, brokerd::actors, drain_atom, "drain")
  CAF_ADD_ATOM(brokerd, brokerd::actors, connect_atom, "connect")
  CAF_ADD_ATOM(brokerd, brokerd::actors, balance_atom, "balance")
  CAF_ADD_ATOM(brokerd, brokerd::actors, positions_atom, "positions")
  CAF_ADD_ATOM(brokerd, brokerd::actors, place_atom, "place")
  CAF_ADD_ATOM(brokerd, brokerd::actors, cancel_atom, "cancel")
  CAF_ADD_ATOM(brokerd, brokerd::actors, status_atom, "status")
  CAF_ADD_ATOM(brokerd, brokerd::actors, update_atom, "update")
  CAF_ADD_ATOM(brokerd, brokerd::actors, state_atom, "state")
  CAF_ADD_ATOM(brokerd, brokerd::actors, tick_atom, "tick")
  CAF_ADD_ATOM(brokerd, brokerd::actors, restart_atom, "restart")
  CAF_ADD_ATOM(brokerd, brokerd::actors, stable_atom, "stable")
  CAF_ADD_ATOM(brokerd, brokerd::actors, get_atom, "get")
  CAF_ADD_ATOM(brokerd, brokerd::actors, list_atom, "list")
  CAF_ADD_ATOM(brokerd, brokerd::actors, attach_atom, "attach")
  CAF_ADD_ATOM(brokerd, brokerd::actors, detach_atom, "detach")
  CAF_ADD_ATOM(brokerd, brokerd::actors, reconcile_atom, "reconcile")
  CAF_ADD_ATOM(brokerd, brokerd::actors, stop_atom, "stop")
  CAF_ADD_ATOM(brokerd, brokerd::actors, match_atom, "match")
  CAF_ADD_ATOM(brokerd, brokerd::actors, http_atom, "http")
  CAF_ADD_ATOM(brokerd, brokerd::actors, net_up_atom, "net_up")
  CAF_ADD_ATOM(brokerd, brokerd::actors, net_data_atom, "net_data")
  CAF_ADD_ATOM(brokerd, brokerd::actors, net_down_atom, "net_down")
  CAF_ADD_ATOM(brokerd, brokerd::actors, timeout_atom, "timeout")
CAF_END_TYPE_ID_BLOCK(brokerd)

namespace brokerd::actors {

/// The event log: the only writer of the database's event and index column families.
/// Appends are group-committed: every append that is queued while a write is in progress
/// joins the next single WriteBatch. Replies (the last sequence number of the caller's batch)
/// and subscriber notifications go out only after the batch is durable (synced when any of
/// its appends asked for sync). A failed write answers every caller in that group with
/// errc::log_write_failed and consumes no sequence numbers.
using event_log_actor = caf::typed_actor<
    /// Appends events; `sync` forces an fsync of the batch (the order intent always does).
    caf::replies_to<append_atom, persistence::event_batch, bool>::with<std::uint64_t>,
    /// Appends events together with registry writes (users, tokens, connections) in the same
    /// atomic write: a crash keeps both or neither.
    caf::replies_to<append_atom, persistence::event_batch, bool, registry_writes>::with<
        std::uint64_t>,
    /// Internal: writes the pending group.
    caf::reacts_to<flush_atom>,
    /// Reads up to `limit` decodable events from `from_seq` on (damaged ones are skipped and
    /// counted in the log's diagnostics).
    caf::replies_to<read_atom, std::uint64_t, std::uint32_t>::with<persistence::event_batch>,
    /// Events of one order, in sequence order.
    caf::replies_to<read_atom, std::string>::with<persistence::event_batch>,
    /// Sends the subscriber (event_atom, event) for every event from `from_seq` on, history
    /// first, then live, in sequence order. Replies with the current last sequence number.
    caf::replies_to<subscribe_atom, caf::actor, std::uint64_t>::with<std::uint64_t>,
    /// As above, only the events whose type starts with the prefix (the HTTP front follows
    /// "connection." and is spared the order traffic).
    caf::replies_to<subscribe_atom, caf::actor, std::uint64_t, std::string>::with<std::uint64_t>,
    caf::reacts_to<unsub_atom, caf::actor>,
    /// Writes everything pending and answers with the last durable sequence number.
    caf::replies_to<drain_atom>::with<std::uint64_t>>;

/// The interface every broker session implements (paper, IBKR, Alpaca, Schwab). Order
/// reports flow the other way: the session sends (update_atom, order_update) to its sink and
/// (state_atom, connection_state, reason) to its supervisor.
using broker_session_actor = caf::typed_actor<
    /// Connects if needed and fetches the balance: the connection test.
    caf::replies_to<connect_atom>::with<engine::balance>,
    caf::replies_to<balance_atom>::with<engine::balance>,
    caf::replies_to<positions_atom>::with<engine::position_list>,
    /// Sends a new order; answers when the broker acknowledged or refused it.
    caf::replies_to<place_atom, engine::order>::with<order_ack>,
    /// Asks the broker to cancel; answers when the request was accepted (the final
    /// canceled status arrives as an update).
    caf::replies_to<cancel_atom, engine::order>::with<order_ack>,
    /// Looks the order up at the broker (by client order id, else broker id): its current
    /// state, or errc::not_found_at_broker.
    caf::replies_to<status_atom, engine::order>::with<order_update>>;

} // namespace brokerd::actors
