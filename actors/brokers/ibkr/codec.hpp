#pragma once

// The pure TWS-protocol codec for brokerd's Interactive Brokers support: the wire layer
// (wire.hpp: framing, handshake, fields), the messages (messages.hpp) and, here, the mapping
// between TWS vocabulary and brokerd's domain. No I/O and no actor: used alike by the IBKR
// session actor and by the TWS simulator. Section numbers (§) refer to the IBKR TWS protocol
// reference (ibkr-tws-protocol.md).

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "actors/brokers/ibkr/messages.hpp"
#include "actors/brokers/ibkr/wire.hpp"
#include "engine/decimal.hpp"
#include "engine/order.hpp"

namespace brokerd::actors::ibkr {

// -- order vocabulary (§4.4) -------------------------------------------------------------------

/// "MKT", "LMT", "STP" or "STP LMT" (with a space).
std::string_view to_tws(engine::order_type x) noexcept;
/// "DAY", "GTC", "IOC" or "FOK".
std::string_view to_tws(engine::time_in_force x) noexcept;
/// "BUY" or "SELL".
std::string_view to_tws(engine::side x) noexcept;

/// The inverse of `to_tws(order_type)`; nothing for any other TWS order type.
std::optional<engine::order_type> parse_tws_order_type(std::string_view text) noexcept;
/// The inverse of `to_tws(time_in_force)`; nothing for GTD, OPG and the rest.
std::optional<engine::time_in_force> parse_tws_tif(std::string_view text) noexcept;
/// BUY → buy; SELL and SSHORT → sell.
std::optional<engine::side> parse_tws_action(std::string_view text) noexcept;
/// execDetails' side: BOT → buy, SLD → sell (§4.8).
std::optional<engine::side> parse_tws_execution_side(std::string_view text) noexcept;

/// Where and as what a plain stock order is placed: the §4.4 required contract fields.
struct stock_route {
  std::string exchange = "SMART";
  /// Optional, e.g. "NASDAQ".
  std::string primary_exchange;
  std::string currency = "USD";
};

/// Builds placeOrder for a plain STK order (§4.4, §9.5): action BUY/SELL, the order type
/// mapping, lmtPrice for limit and stop_limit, auxPrice (the stop) for stop and stop_limit,
/// tif DAY/GTC/IOC/FOK, `account`, orderRef = the client order id, transmit 1, everything else
/// at its default (outsideRth off). Fails with `invalid_argument` when a price the type needs is
/// missing, the quantity is not positive, or the symbol or client order id is empty.
std::expected<place_order, error> make_place_order(std::int32_t order_id, const engine::order& o,
                                                   std::string_view account,
                                                   const stock_route& route = {});

// -- statuses (§5) -----------------------------------------------------------------------------

/// Maps a TWS order status to brokerd's: ApiPending and PendingSubmit → pending_new;
/// PreSubmitted and Submitted → new_, or partially_filled once `filled` > 0; PendingCancel →
/// pending_cancel; ApiCancelled and Cancelled → canceled; Filled → filled; Inactive → rejected
/// (rejected or cancelled by the system, often with error 201 or 10xxx). Nothing for any other
/// text: the caller keeps the previous status and logs it.
std::optional<engine::order_status> map_order_status(std::string_view tws_status,
                                                     engine::decimal filled = {}) noexcept;

// -- error codes (§6) --------------------------------------------------------------------------

/// What an error/notice code (§4.9, §6) means to the gateway.
enum class error_category : std::uint8_t {
  /// 1100: IB unreachable from TWS; the socket stays up. Stop sending orders.
  connectivity_lost,
  /// 1101: restored, data lost: re-subscribe and re-sync orders, positions, executions.
  connectivity_restored_data_lost,
  /// 1102: restored, data maintained: still re-sync orders and executions.
  connectivity_restored,
  /// 1300: the socket port was reset; reconnect on the new port.
  socket_port_reset,
  /// 2104, 2106, 2158 (farm OK), 2107, 2108, 2119 (inactive, connecting): information sent on
  /// every connect. Never a disconnect.
  farm_ok,
  /// 2103, 2105, 2157: a data farm connection is broken. A warning, not a disconnect.
  farm_broken,
  /// Another 21xx code: a system warning.
  system_warning,
  /// 326: the client id is already in use; TWS closes the socket. Fatal for this attempt.
  client_id_in_use,
  /// 100: more than 50 messages per second; repeated violations end the connection.
  pacing_violation,
  /// 320, 321, 322, 200: the request with that id could not be read, validated or served (a
  /// layout bug, a missing exchange, a limit, an unknown contract). If the id is an order's,
  /// the order was not accepted.
  request_failed,
  /// 103: the order id was not above the highest used; resync from nextValidId. The order was
  /// not placed.
  duplicate_order_id,
  /// 201 and the other order refusals (104, 105, 110, 10268, 10269): terminal reject, id =
  /// orderId.
  order_rejected,
  /// 202: informational after a cancel, id = orderId.
  order_canceled,
  /// 161, 10147, 10148: a cancel that did not happen (not cancellable, unknown id, already
  /// final). Reconcile from the reported state.
  cancel_rejected,
  /// 135: no order with that id.
  unknown_order,
  /// 399: an order warning, not a reject.
  order_warning,
  /// Any other code.
  other,
};

/// Returns the stable text form of `x`, e.g. "farm_ok".
std::string_view to_string(error_category x) noexcept;

/// Classifies an error/notice code (§6).
error_category classify_error(std::int32_t code) noexcept;

/// True for categories about one order (its id is an orderId): duplicate_order_id,
/// order_rejected, order_canceled, cancel_rejected, unknown_order, order_warning.
bool is_order_related(error_category x) noexcept;

} // namespace brokerd::actors::ibkr
