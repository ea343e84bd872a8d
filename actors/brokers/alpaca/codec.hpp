#pragma once

// The pure Alpaca Trading API v2 codec: JSON bodies of the REST calls and the frames of the
// trade_updates stream, mapped to and from brokerd's domain types. No I/O, no actor, no
// floating point: every amount goes through engine::decimal. Section numbers (§) refer to the
// Alpaca API reference (alpaca-api.md).

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/account.hpp"
#include "engine/decimal.hpp"
#include "engine/order.hpp"

namespace brokerd::actors::alpaca {

/// Error codes of the Alpaca codec.
enum class errc : std::uint8_t {
  /// The text is not JSON, or not the JSON value expected at the top (object, array).
  malformed_json = 1,
  /// A required field is absent or null; the message names it.
  missing_field,
  /// A field has the wrong JSON type or an unparsable value (a bad decimal); the message names
  /// the field and the offending text.
  bad_field,
  /// A frame of a stream other than authorization, listening and trade_updates (§5).
  unknown_stream,
  /// An order cannot be expressed as an Alpaca order (§4.1); the message names the field.
  invalid_order,
};

/// The stable text form of `x`, e.g. "missing_field".
std::string_view to_string(errc x) noexcept;

/// A codec error: a code plus a message naming the field concerned.
struct error {
  errc code;
  std::string message;

  /// Renders "code: message".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const error&, const error&) = default;
};

// -- orders (§4) -------------------------------------------------------------------------------

/// Alpaca's spelling of brokerd's order vocabulary: "market", "limit", "stop", "stop_limit";
/// "day", "gtc", "ioc", "fok"; "buy", "sell" (§4.1).
std::string_view to_alpaca(engine::order_type x) noexcept;
std::string_view to_alpaca(engine::time_in_force x) noexcept;
std::string_view to_alpaca(engine::side x) noexcept;

/// Builds the POST /v2/orders body (§4.1) for `o`: symbol, qty, side, type, time_in_force,
/// limit_price (limit, stop_limit), stop_price (stop, stop_limit) and client_order_id, in that
/// order, amounts as decimal strings in their shortest exact form. Fails with `invalid_order`
/// when the symbol is empty, the quantity is not positive, a price the type needs is missing
/// or not positive, a price is given that the type does not take, a fractional quantity is not
/// on a market day order, or the client order id is empty or longer than 128 characters.
std::expected<std::string, error> encode_new_order(const engine::order& o);

/// Maps an Alpaca order status (§4.4) to brokerd's. `filled` and `quantity` (when known) decide
/// between new_ and partially_filled for the states in which the order is still working:
///  - accepted, pending_new, accepted_for_bidding, held → pending_new;
///  - new, pending_replace, stopped, suspended, done_for_day → new_, or partially_filled once
///    `filled` > 0 (done_for_day and suspended stay open: the order may trade on a later day);
///  - partially_filled → partially_filled; filled → filled;
///  - calculated → filled when `filled` reaches `quantity`, otherwise as `new`;
///  - pending_cancel → pending_cancel; canceled and replaced → canceled (a replaced order is
///    terminal, its successor is another order); expired → expired; rejected → rejected.
/// Nothing for any other text.
std::optional<engine::order_status>
map_order_status(std::string_view status, engine::decimal filled = {},
                 std::optional<engine::decimal> quantity = std::nullopt) noexcept;

/// The fields of an Alpaca order object (§4.2) that brokerd uses.
struct order_info {
  /// Alpaca's order id (a uuid).
  std::string id;
  std::string client_order_id;
  std::string symbol;
  /// Alpaca's status text, kept as received (for logs and unknown values).
  std::string alpaca_status;
  /// The normalized status; `unknown` when `alpaca_status` is not a value of §4.4.
  engine::order_status status = engine::order_status::unknown;
  /// Side and type as text ("trailing_stop" has no brokerd equivalent).
  std::string side;
  std::string type;
  std::string time_in_force;
  /// Ordered quantity; nothing for a notional order.
  std::optional<engine::decimal> quantity;
  std::optional<engine::decimal> notional;
  engine::decimal filled_quantity;
  /// Nothing until the first fill.
  std::optional<engine::decimal> filled_avg_price;
  std::optional<engine::decimal> limit_price;
  std::optional<engine::decimal> stop_price;
  /// RFC-3339 timestamps as sent; empty when null.
  std::string created_at;
  std::string updated_at;
  std::string filled_at;
  /// The successor of a replaced order, and the order this one replaces; empty when null.
  std::string replaced_by;
  std::string replaces;

  friend bool operator==(const order_info&, const order_info&) = default;
};

/// Parses an order object (§4.2): the body of POST/GET/PATCH on an order. `id`, `symbol`,
/// `status` and `filled_qty` are required; `qty`/`notional`, the prices and the timestamps may
/// be null or absent; numbers are accepted as JSON strings or JSON numbers, never through
/// floating point. JSON numbers are read as their text, so a number where a string is expected
/// is accepted as that text. Unknown keys are ignored.
std::expected<order_info, error> parse_order(std::string_view json);

/// Parses an array of order objects (GET /v2/orders, §4.3); the error names the index.
std::expected<std::vector<order_info>, error> parse_orders(std::string_view json);

// -- account and positions (§2, §3) ------------------------------------------------------------

/// Parses GET /v2/account (§2) into cash, equity, buying_power (all required) and currency
/// (USD when absent). Money values with more than 8 fraction digits are rounded half-even.
std::expected<engine::balance, error> parse_account(std::string_view json);

/// Parses GET /v2/positions (§3): symbol, qty, avg_entry_price and market_value of each entry.
/// Shorts carry a negative quantity: a `"side":"short"` entry whose qty is positive is
/// negated. An empty array is an empty list.
std::expected<engine::position_list, error> parse_positions(std::string_view json);

// -- errors (§4.5) -----------------------------------------------------------------------------

/// An error answer of the REST API: the HTTP status plus Alpaca's own code and text.
struct api_error {
  unsigned http_status = 0;
  /// Alpaca's 8-digit code (40310000, ...); nothing for bodies without one.
  std::optional<std::int64_t> code;
  /// Alpaca's message; for a body that is not the JSON envelope, its first 200 characters
  /// (HTML pages and plain text are returned as is, never rejected).
  std::string message;

  /// Renders "HTTP 403, Alpaca 40310000: insufficient buying power".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const api_error&, const api_error&) = default;
};

/// Reads an error body (§4.5). Never fails: whatever the body, the status is kept.
api_error parse_api_error(unsigned http_status, std::string_view body);

// -- trade_updates stream (§5) -----------------------------------------------------------------

/// Which of the two authentication messages to send (§5.2).
enum class auth_form : std::uint8_t {
  /// {"action":"authenticate","data":{"key_id":…,"secret_key":…}}, sent by both official SDKs.
  legacy,
  /// {"action":"auth","key":…,"secret":…}, the current docs form.
  current,
};

/// The authentication frame. The result contains the secret: never log it.
std::string encode_auth(std::string_view key_id, std::string_view secret_key,
                        auth_form form = auth_form::legacy);

/// {"action":"listen","data":{"streams":[…]}} (§5.3); the list replaces the current set.
std::string encode_listen(const std::vector<std::string>& streams = {"trade_updates"});

/// The server's answer to the auth frame (§5.2).
struct authorization {
  /// True only for status "authorized"; anything else is a terminal failure.
  bool authorized = false;
  std::string status;
  /// The server's explanation on failure; empty otherwise.
  std::string message;
  friend bool operator==(const authorization&, const authorization&) = default;
};

/// The server's answer to listen (§5.3): the streams actually subscribed.
struct listening {
  std::vector<std::string> streams;
  friend bool operator==(const listening&, const listening&) = default;
};

/// The event types of trade_updates (§5.4); `unknown` for any other text.
enum class trade_event : std::uint8_t {
  new_,
  fill,
  partial_fill,
  canceled,
  expired,
  done_for_day,
  replaced,
  rejected,
  pending_new,
  accepted,
  pending_cancel,
  pending_replace,
  stopped,
  calculated,
  suspended,
  order_cancel_rejected,
  order_replace_rejected,
  restated,
  trade_bust,
  trade_correct,
  unknown,
};

/// The wire text of `x` ("new" for new_); "unknown" for unknown.
std::string_view to_string(trade_event x) noexcept;
/// The inverse of to_string; `unknown` for any other text.
trade_event parse_trade_event(std::string_view text) noexcept;

/// One trade_updates event (§5.4).
struct trade_update {
  trade_event event = trade_event::unknown;
  /// The event text as received (meaningful when `event` is unknown).
  std::string event_text;
  /// Present on fills; the key to deduplicate replayed fills (§5.5).
  std::string execution_id;
  std::string timestamp;
  /// Fill price and fill quantity (not cumulative) and the position after the fill; nothing
  /// when null or absent.
  std::optional<engine::decimal> price;
  std::optional<engine::decimal> quantity;
  std::optional<engine::decimal> position_quantity;
  order_info order;
  friend bool operator==(const trade_update&, const trade_update&) = default;
};

/// The 1-byte 0x01 frame some servers send as a heartbeat (§5.1); ignore it.
struct heartbeat {
  friend bool operator==(const heartbeat&, const heartbeat&) = default;
};

/// One decoded frame of the trading stream.
using stream_message = std::variant<authorization, listening, trade_update, heartbeat>;

/// Decodes a frame's text (the payload of a text or binary websocket frame; §5.1). Fails with
/// `malformed_json`, `missing_field` (no `stream` or `data`), `bad_field`, or `unknown_stream`.
/// Unknown keys are ignored.
std::expected<stream_message, error> parse_stream_message(std::string_view frame);

} // namespace brokerd::actors::alpaca
