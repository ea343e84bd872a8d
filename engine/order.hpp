#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "engine/decimal.hpp"
#include "engine/errc.hpp"

namespace brokerd::engine {

/// The brokers brokerd can talk to. Text forms are part of the API and the event log.
enum class broker_id : std::uint8_t { paper, alpaca, ibkr, schwab };

enum class side : std::uint8_t { buy, sell };

enum class order_type : std::uint8_t { market, limit, stop, stop_limit };

enum class time_in_force : std::uint8_t { day, gtc, ioc, fok };

/// Normalized order statuses (DESIGN.md "Orders and money"). `unknown` means sent but the
/// outcome is not known (timeout, disconnect after send); only reconciliation resolves it.
enum class order_status : std::uint8_t {
  pending_new,
  new_,
  partially_filled,
  filled,
  pending_cancel,
  canceled,
  rejected,
  expired,
  unknown,
};

/// Number of values of `order_status`, for tables and exhaustive tests.
inline constexpr std::size_t order_status_count = 9;

std::string_view to_string(broker_id x) noexcept;
std::string_view to_string(side x) noexcept;
std::string_view to_string(order_type x) noexcept;
std::string_view to_string(time_in_force x) noexcept;
/// "new" for `order_status::new_`; the other values as spelled.
std::string_view to_string(order_status x) noexcept;

/// Text → enum; `unknown_enum_value` names the field and lists the accepted values.
std::expected<broker_id, error> parse_broker_id(std::string_view text);
std::expected<side, error> parse_side(std::string_view text);
std::expected<order_type, error> parse_order_type(std::string_view text);
std::expected<time_in_force, error> parse_time_in_force(std::string_view text);
std::expected<order_status, error> parse_order_status(std::string_view text);

/// An order as brokerd tracks it. Ids are opaque strings: `id` is brokerd's order id,
/// `client_order_id` the caller's idempotency key (unique per user), `broker_order_id` the
/// broker's own id once known.
struct order {
  std::string id;
  std::string client_order_id;
  std::string broker_order_id;
  std::string user;
  std::string connection;
  broker_id broker = broker_id::paper;
  std::string symbol;
  side order_side = side::buy;
  decimal quantity;
  order_type type = order_type::market;
  std::optional<decimal> limit_price;
  std::optional<decimal> stop_price;
  time_in_force tif = time_in_force::day;
  order_status status = order_status::pending_new;
  decimal filled_quantity;
  decimal avg_fill_price;
  std::int64_t created_ns = 0;
  std::int64_t updated_ns = 0;
  /// Last reject/cancel reason from the broker or brokerd, empty otherwise.
  std::string reason;

  friend bool operator==(const order&, const order&) = default;
};

/// Checks a symbol: 1..21 characters of A-Z, 0-9, '.', '/', '-', starting with a letter
/// (covers "AAPL", "BRK.B", "BF-B", "BTC/USD").
std::expected<void, error> validate_symbol(std::string_view symbol);

/// Checks an id chosen by a client (client order id): 1..64 of [A-Za-z0-9._:-].
std::expected<void, error> validate_client_id(std::string_view id);

/// Checks an order as submitted: quantity > 0; a limit/stop_limit order has a positive limit
/// price and a stop/stop_limit order a positive stop price, and other types carry none;
/// prices have at most 4 fraction digits and quantities at most 8; ioc/fok are not allowed on
/// stop orders; symbol and client order id syntax. The error message names the field.
std::expected<void, error> validate_new_order(const order& o);

} // namespace brokerd::engine
