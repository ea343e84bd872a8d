#pragma once

// The broker-neutral core every simulated broker shares: prices that step along a path per
// symbol, the matching rule of one working order against the current price, a position that
// executions move, and the fixed-point arithmetic on engine::decimal they need. Pure: no I/O,
// no threads, no clock.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::sim {

// -- arithmetic ----------------------------------------------------------------------------------

/// a × b rounded half to even to 8 digits, clamped to the decimal's range.
engine::decimal multiply(engine::decimal a, engine::decimal b);
/// a ÷ b rounded half to even to 8 digits, clamped; 0 when b is 0.
engine::decimal divide(engine::decimal a, engine::decimal b);
engine::decimal absolute(engine::decimal a);
/// Rounds to `digits` fraction digits (0..8), half to even.
engine::decimal round_to(engine::decimal v, int digits);
/// Formats a decimal with exactly `digits` fraction digits, rounding half to even
/// ("100000.00").
std::string format_fixed(engine::decimal value, int digits);

/// The primary listing of a US stock: NASDAQ, NYSE or ARCA for a few well-known symbols,
/// NASDAQ otherwise.
std::string_view primary_exchange_of(std::string_view symbol);

// -- prices --------------------------------------------------------------------------------------

/// The price of every symbol: a path per symbol that steps once per tick and repeats, a default
/// for symbols without one, and overrides that win until cleared.
class price_board {
public:
  price_board(std::map<std::string, std::vector<engine::decimal>> paths,
              engine::decimal default_price);

  /// The current price of `symbol`.
  [[nodiscard]] engine::decimal price(const std::string& symbol) const;
  /// The price of `symbol` before the first step (its path's first value, the default price
  /// when it has none), overrides ignored: the simulator's "previous close".
  [[nodiscard]] engine::decimal opening_price(const std::string& symbol) const;
  /// Every path moves one step.
  void step() noexcept { ++step_; }
  /// Overrides the path of `symbol` until `clear_price`.
  void set_price(const std::string& symbol, engine::decimal price);
  void clear_price(const std::string& symbol);

private:
  std::map<std::string, std::vector<engine::decimal>> paths_;
  engine::decimal default_price_;
  std::map<std::string, engine::decimal> overrides_;
  std::uint64_t step_ = 0;
};

// -- matching ------------------------------------------------------------------------------------

enum class order_kind : std::uint8_t { market, limit, stop, stop_limit };

/// What happens to the part of an order a matching tick leaves: it rests (DAY, GTC), it is
/// cancelled (IOC), or the order fills completely on that tick or not at all (FOK).
enum class fill_rule : std::uint8_t { rest, immediate_or_cancel, fill_or_kill };

/// The terms of one working order as matching sees them.
struct working_order {
  bool buy = true;
  order_kind kind = order_kind::market;
  std::optional<engine::decimal> limit_price;
  std::optional<engine::decimal> stop_price;
  fill_rule rule = fill_rule::rest;
  /// Quantity still to fill (positive).
  engine::decimal remaining;
  /// A stop whose trigger price was reached earlier.
  bool triggered = false;
};

/// The outcome of matching one order on one tick.
struct match_step {
  /// The stop triggers on this tick (it then matches as market or limit at once).
  bool triggers = false;
  /// The quantity to execute at the tick's price (0: nothing).
  engine::decimal quantity;
  /// Whatever stays unfilled after `quantity` is cancelled (IOC, FOK).
  bool cancel_rest = false;
};

/// Matches `o` at `price` with at most `fill_chunk` of liquidity: market orders fill, limits
/// when marketable, stops trigger when the price reaches the stop (a buy at or above it, a sell
/// at or below it) and then act as market or limit. An untriggered stop does nothing (not even
/// an IOC cancel). IOC fills what it can and cancels the rest; FOK fills everything when the
/// remaining quantity fits in one chunk and is marketable, and is cancelled otherwise.
match_step match(const working_order& o, engine::decimal price, engine::decimal fill_chunk);

/// True for stop and stop_limit.
constexpr bool has_stop(order_kind k) noexcept {
  return k == order_kind::stop || k == order_kind::stop_limit;
}
/// True for limit and stop_limit.
constexpr bool has_limit(order_kind k) noexcept {
  return k == order_kind::limit || k == order_kind::stop_limit;
}

// -- positions -----------------------------------------------------------------------------------

/// The position in one symbol: signed quantity (negative when short), average cost per share
/// and the realized PnL of the day.
struct holding {
  engine::decimal quantity;
  engine::decimal avg_cost;
  engine::decimal realized;

  /// Applies an execution of `qty` (positive) at `price` that cost `fee`. Opening or adding
  /// folds the fee into the average cost (a buy adds it, a sell short deducts it); closing
  /// realizes (price - avg_cost) per closed share less the fee and returns that amount; a
  /// position that crosses zero keeps `price` as the average cost of the rest.
  std::optional<engine::decimal> apply(bool buy, engine::decimal qty, engine::decimal price,
                                       engine::decimal fee);
};

} // namespace brokerd::sim
