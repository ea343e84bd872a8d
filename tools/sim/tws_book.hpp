#pragma once

// The simulated broker behind the TWS simulator: one account, its cash and positions, the
// orders of every client id, the executions of the day, the price paths and the matching.
// Pure: no I/O, no threads, no clock of its own (callers pass the time). It answers requests
// and ticks with the server messages to send, addressed by client id; the server routes them.
// Section numbers (§) refer to the IBKR TWS protocol reference (ibkr-tws-protocol.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/brokers/ibkr/messages.hpp"
#include "engine/decimal.hpp"
#include "tools/sim/market.hpp"
#include "tools/sim/tws_config.hpp"

namespace brokerd::sim::tws {

namespace ibkr = brokerd::actors::ibkr;

/// A message for the connection of `client_id`; dropped when that client id is not connected.
struct delivery {
  std::int32_t client_id = 0;
  ibkr::server_message message;
};

/// The deliveries of one operation, in sending order.
using deliveries = std::vector<delivery>;

/// The simulated broker. Not thread-safe: the server uses it from its io thread only.
/// Orders and executions live as long as the book, whatever happens to connections.
class book {
public:
  using time_point = std::chrono::system_clock::time_point;

  /// `start` names the "day" (it seeds execution ids so that two books never share one).
  book(const config& cfg, time_point start);

  // -- ids (§8) --------------------------------------------------------------------------------

  /// max(first_order_id, highest id ever used by `client_id` + 1), rejected orders included.
  [[nodiscard]] std::int32_t next_valid_id(std::int32_t client_id) const;
  /// A gateway restart that forgot ids: `next_valid_id(client_id)` becomes `next` (ids below it
  /// are still refused with 103 unless they are open orders, which a placeOrder modifies).
  void rollback_next_valid_id(std::int32_t client_id, std::int32_t next);

  // -- requests --------------------------------------------------------------------------------

  /// placeOrder (§4.4, §9.5) from `client_id`: 103 for an id at or below the highest used that
  /// is not an order of that client id; a modification for an open order's id (104 for a
  /// filled one, 103 for a cancelled one); otherwise validation (321 for a malformed request,
  /// 201 for what the simulator does not trade, 10268/10269 for the deprecated attributes),
  /// then openOrder + orderStatus (PreSubmitted for a stop waiting for its trigger, Submitted
  /// otherwise). A refused id is consumed.
  deliveries place(std::int32_t client_id, const ibkr::place_order& request);
  /// cancelOrder (§4.5) from `client_id`: orderStatus Cancelled + error 202 for its open order,
  /// 10147 for an id it has no order under, 10148 for a final order.
  deliveries cancel(std::int32_t client_id, std::int32_t order_id);
  /// openOrder + orderStatus for every open order of `client_id` (every client id when
  /// nothing), in placement order; the caller adds openOrderEnd.
  [[nodiscard]] std::vector<ibkr::server_message>
  open_orders(std::optional<std::int32_t> client_id) const;
  /// reqExecutions (§4.8): execDetails (reqId = the request's) + commissionReport for every
  /// execution of the day that matches the filter (clientId 0 and empty texts match all; time
  /// "yyyymmdd hh:mm:ss" or "yyyymmdd-hh:mm:ss", UTC, keeps executions at or after it; side
  /// BUY/SELL or BOT/SLD), then execDetailsEnd.
  [[nodiscard]] std::vector<ibkr::server_message>
  executions(const ibkr::req_executions& filter) const;
  /// accountSummary rows (§4.2) for the known tags of the comma list `tags`, in request order,
  /// unknown tags skipped, then accountSummaryEnd.
  [[nodiscard]] std::vector<ibkr::server_message> account_summary(std::int32_t req_id,
                                                                  std::string_view tags) const;
  /// The value and currency of one summary tag; nothing for a tag the simulator does not know.
  [[nodiscard]] std::optional<std::pair<std::string, std::string>>
  summary_value(std::string_view tag) const;
  /// A position row (§4.3) for every symbol the account ever held (closed ones at 0), then
  /// positionEnd.
  [[nodiscard]] std::vector<ibkr::server_message> positions() const;
  /// The position row of `symbol`.
  [[nodiscard]] ibkr::position position_of(const std::string& symbol) const;
  /// The first download of reqAccountUpdates for the account: `account_values()`, one
  /// updatePortfolio per non-zero position (by symbol), updateAccountTime for `now`, then
  /// accountDownloadEnd.
  [[nodiscard]] std::vector<ibkr::server_message> account_updates(time_point now) const;
  /// The updateAccountValue rows of the account: AccountCode, AccountType, then the amounts of
  /// `summary_value` (NetLiquidation, TotalCashValue, BuyingPower, AvailableFunds...) in USD.
  [[nodiscard]] std::vector<ibkr::update_account_value> account_values() const;
  /// The updatePortfolio row of `symbol` at its current price: marketValue = position × price,
  /// averageCost as in `position_of`, unrealized PnL = position × (price - averageCost),
  /// realized PnL = the sum over its closing executions (their commissionReport's).
  [[nodiscard]] ibkr::update_portfolio portfolio_of(const std::string& symbol) const;

  // -- market ----------------------------------------------------------------------------------

  /// One tick: every price path steps, then (unless fills are held) every open order is matched
  /// at its symbol's price: MKT fills, LMT when marketable, STP triggers when the price reaches
  /// the stop and then fills as MKT, STP LMT triggers and then fills as LMT; at most fill_chunk
  /// per order and tick. IOC orders cancel what the first matching tick did not fill; FOK
  /// orders fill completely on it or are cancelled.
  deliveries tick(time_point now);
  /// The current price of `symbol`.
  [[nodiscard]] engine::decimal price(const std::string& symbol) const;
  /// Overrides the path of `symbol` until `clear_price`.
  void set_price(const std::string& symbol, engine::decimal price);
  void clear_price(const std::string& symbol);
  /// While on, ticks execute nothing (stops do not trigger either).
  void hold_fills(bool on) { held_ = on; }
  /// Executes `quantity` (capped at what remains) of the open order `order_id` at `price` at
  /// once, even while fills are held; the most recently placed one when several client ids
  /// use that id. Nothing when there is no such open order.
  deliveries fill_now(std::int32_t order_id, engine::decimal quantity, engine::decimal price,
                      time_point now);

  /// Symbols whose position changed since the last call (after executions).
  std::set<std::string> take_changed_symbols();

  // -- inspection ------------------------------------------------------------------------------

  [[nodiscard]] std::uint64_t orders_placed() const noexcept { return orders_placed_; }
  [[nodiscard]] std::uint64_t duplicate_order_ids() const noexcept { return duplicates_; }
  [[nodiscard]] const std::map<std::string, std::uint32_t>& placements_by_order_ref() const {
    return placements_;
  }
  /// Every order, in placement order.
  [[nodiscard]] std::vector<order_view> orders() const;
  [[nodiscard]] engine::decimal cash() const noexcept { return cash_; }

private:
  struct order_rec {
    std::int32_t client_id = 0;
    std::int64_t perm_id = 0;
    /// The last accepted placeOrder (a modification replaces it).
    ibkr::place_order request;
    std::string status;
    engine::decimal filled;
    engine::decimal avg_fill_price;
    engine::decimal last_fill_price;
    engine::decimal commission;
    /// A stop order whose trigger price was reached.
    bool triggered = false;
  };
  struct execution {
    std::size_t order_index = 0;
    ibkr::exec_details details;
    ibkr::commission_report commission;
    time_point time;
  };
  [[nodiscard]] bool is_open(const order_rec& o) const noexcept;
  [[nodiscard]] std::optional<std::size_t> find(std::int32_t client_id,
                                                std::int32_t order_id) const;
  [[nodiscard]] ibkr::open_order render_open_order(const order_rec& o) const;
  [[nodiscard]] ibkr::order_status render_status(const order_rec& o) const;
  [[nodiscard]] ibkr::contract contract_of(const std::string& symbol) const;
  deliveries modify(std::size_t index, const ibkr::place_order& request);
  void match(std::size_t index, time_point now, deliveries& out);
  void execute(std::size_t index, engine::decimal quantity, engine::decimal price, time_point now,
               deliveries& out);
  void finish_cancel(std::size_t index, deliveries& out);

  config cfg_;
  std::uint32_t exec_prefix_ = 0;
  bool held_ = false;
  price_board prices_;
  std::map<std::int32_t, std::int32_t> highest_id_;
  std::vector<order_rec> orders_;
  /// Indexes of the orders that may still be open, in placement order (pruned on ticks).
  std::vector<std::size_t> working_;
  std::map<std::pair<std::int32_t, std::int32_t>, std::size_t> index_;
  std::vector<execution> executions_;
  std::map<std::string, holding> holdings_;
  std::set<std::string> changed_;
  engine::decimal cash_;
  std::int64_t next_perm_id_ = 1'000'000'001;
  std::uint64_t exec_seq_ = 0;
  std::uint64_t orders_placed_ = 0;
  std::uint64_t duplicates_ = 0;
  std::map<std::string, std::uint32_t> placements_;
};

using sim::format_fixed;

/// "HH:mm" in UTC, the time stamp of updateAccountTime.
std::string format_account_time(std::chrono::system_clock::time_point t);

/// The simulator's stable contract id for a US stock symbol (IB's real one for a few
/// well-known symbols, a hash otherwise).
std::int32_t con_id_of(std::string_view symbol);

} // namespace brokerd::sim::tws
