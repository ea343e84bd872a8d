#pragma once

// The value types of the TWS simulator: its configuration, its counters and the view of one
// order. Section numbers (§) refer to the IBKR TWS protocol reference (ibkr-tws-protocol.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::sim::tws {

/// How a simulated TWS behaves. Every value is fixed for the server's lifetime; the market and
/// fault controls of `server` change behaviour at run time.
struct config {
  /// The address to listen on. Tests and the demo use loopback only.
  std::string bind = "127.0.0.1";
  /// 0: an ephemeral port (read it back with `server::port`).
  std::uint16_t port = 0;
  /// The one account of the login, sent in managedAccounts (§2.5) and on every order.
  std::string account = "DU1234567";
  /// Starting TotalCashValue in USD.
  engine::decimal cash = engine::decimal::from_units(100000 * engine::decimal::one_units);
  /// Price path per symbol: one step per tick, repeating. A symbol's price before the first
  /// tick is the path's first value.
  std::map<std::string, std::vector<engine::decimal>> paths;
  /// The constant price of symbols without a path.
  engine::decimal default_price = engine::decimal::from_units(100 * engine::decimal::one_units);
  /// The period of the price step and of order matching. Orders fill on ticks only.
  std::chrono::milliseconds tick{250};
  /// The largest quantity one order fills per tick: larger orders fill partially over ticks,
  /// and it is the liquidity IOC and FOK orders see.
  engine::decimal fill_chunk = engine::decimal::from_units(500 * engine::decimal::one_units);
  /// Inbound messages per second per connection before error 100 (§7). Messages beyond it are
  /// answered 100 and dropped unprocessed.
  std::uint32_t pacing_limit = 50;
  /// 0: never disconnect for pacing; N: close the connection after its Nth violation.
  std::uint32_t violations_before_disconnect = 0;
  /// nextValidId for a client id that never placed an order.
  std::int32_t first_order_id = 1;
  /// Concurrent reqAccountSummary subscriptions per connection; one more is answered 322
  /// (§4.2, IB documents 2; the limit is unverified).
  std::uint32_t account_summary_limit = 2;
};

/// Counters of one client id over all its connections.
struct client_stats {
  std::int32_t client_id = 0;
  /// Inbound messages, startApi included.
  std::uint64_t messages = 0;
  /// Messages answered with error 100.
  std::uint64_t violations = 0;
  /// The most messages one connection of this client id sent within any sliding 1 s window.
  std::uint32_t max_in_any_second = 0;
};

/// Counters since the server started.
struct stats {
  /// Connections that got past `refuse_connections` (counted at accept).
  std::uint64_t connections_accepted = 0;
  /// Connections closed at once by `refuse_connections`.
  std::uint64_t connections_refused = 0;
  /// Inbound messages after the hello, all clients (dropped and undecodable ones included).
  std::uint64_t messages = 0;
  /// Messages beyond pacing_limit within a sliding 1 s window (each answered with error 100).
  std::uint64_t pacing_violations = 0;
  /// The most inbound messages one connection sent within any sliding 1 s window.
  std::uint32_t max_in_any_second = 0;
  /// Inbound frames the simulator could not decode or does not implement (answered 320).
  std::uint64_t decode_errors = 0;
  /// Accepted new orders (modifications not included).
  std::uint64_t orders_placed = 0;
  /// placeOrder answered with 103.
  std::uint64_t duplicate_order_ids = 0;
  /// New orders accepted per non-empty orderRef (brokerd's client order id): a value above 1
  /// means one client order reached the broker twice.
  std::map<std::string, std::uint32_t> placements_by_order_ref;
  /// One entry per client id that sent startApi, ordered by client id.
  std::vector<client_stats> clients;
};

/// One order as the simulated broker holds it.
struct order_view {
  std::int32_t order_id = 0;
  std::int32_t client_id = 0;
  std::int64_t perm_id = 0;
  std::string order_ref;
  std::string symbol;
  /// BUY or SELL.
  std::string action;
  /// MKT, LMT, STP or STP LMT.
  std::string order_type;
  /// PreSubmitted, Submitted, Filled or Cancelled (§5).
  std::string status;
  engine::decimal quantity;
  engine::decimal filled;
  engine::decimal avg_fill_price;
};

} // namespace brokerd::sim::tws
