#pragma once

// The pure Charles Schwab codec: OAuth2 requests and answers (authorize URL, token form bodies,
// Basic client authentication, callback query) and the Trader API bodies (account numbers,
// accounts, positions, orders, errors), mapped to and from brokerd's domain types. No I/O, no
// actor, no logging, no floating point: every amount goes through engine::decimal. Section
// numbers (§) refer to the Schwab reference (schwab-api.md).
//
// Tokens, the authorization code and the app secret are carried as actors::secret, and no error
// message of this codec ever contains one of them.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/logging.hpp"
#include "engine/account.hpp"
#include "engine/decimal.hpp"
#include "engine/order.hpp"

namespace brokerd::actors::schwab {

/// Error codes of the Schwab codec.
enum class errc : std::uint8_t {
  /// The text is not JSON, or not the JSON value expected at the top (object, array).
  malformed_json = 1,
  /// A required field is absent or null; the message names it.
  missing_field,
  /// A field has the wrong JSON type or an unparsable value (a bad decimal or time); the
  /// message names the field (and the offending text unless the field holds a secret).
  bad_field,
  /// An order cannot be expressed as a Schwab order (§4); the message names the field.
  invalid_order,
  /// A Location header that does not end in /accounts/{hash}/orders/{id} (§3.3).
  bad_location,
  /// A callback URL or query without a usable `code`, with a bad percent-escape, or carrying
  /// an OAuth `error` (§2.3).
  bad_callback,
  /// An argument the codec cannot encode (an empty app key, a ':' in the app key).
  bad_argument,
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

// -- OAuth2 (§2) -------------------------------------------------------------------------------

/// Percent-encodes every byte except the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
/// with upper-case hex digits ("@" → "%40", " " → "%20"). The result is valid both in a URL
/// query and in an application/x-www-form-urlencoded body.
std::string percent_encode(std::string_view text);

/// Decodes %XX escapes. A '+' stays a '+' (as decodeURIComponent and Python's unquote, which
/// the public clients use on the callback, treat it): a code never contains a space, but may
/// contain a '+'. Fails with `bad_callback` on a truncated or non-hex escape; the message gives
/// the offset, never the text.
std::expected<std::string, error> percent_decode(std::string_view text);

/// The browser URL of the authorize step (§2.1):
/// `{base}/v1/oauth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…`, each
/// value percent-encoded; `state` is left out when empty. `base` is scheme and host
/// ("https://api.schwabapi.com"); one trailing '/' is ignored. `redirect_uri` must be the exact
/// registered callback (§2.7): it is encoded, never normalized.
std::string authorize_url(std::string_view base, std::string_view client_id,
                          std::string_view redirect_uri, std::string_view state = {});

/// What the callback URL carries after the login (§2.3).
struct authorization_callback {
  /// The authorization code, percent-decoded (it usually ends in '@'). Valid for about 30 s.
  secret code;
  /// The `state` echoed back, decoded; empty when absent. The caller compares it with the one
  /// it sent.
  std::string state;
  /// Schwab's `session` uuid, decoded; empty when absent.
  std::string session;
  friend bool operator==(const authorization_callback&, const authorization_callback&) = default;
};

/// Reads `code`, `state` and `session` from a callback: a full URL
/// ("https://127.0.0.1:5556/?code=…&session=…"), a query with or without its '?', with any
/// '#fragment' ignored. Keys and values are percent-decoded; other keys are ignored. Fails with
/// `bad_callback` when there is an `error` parameter (the login was refused; the message
/// carries `error` and `error_description`), when `code` is absent, empty or given twice, or
/// on a bad escape. No message contains the code.
std::expected<authorization_callback, error> parse_callback(std::string_view url_or_query);

/// The token-request body of the authorization-code grant (§2.3):
/// `grant_type=authorization_code&code=…&redirect_uri=…`, values percent-encoded. Send with
/// `Content-Type: application/x-www-form-urlencoded` to POST /v1/oauth/token.
secret encode_code_grant(const secret& code, std::string_view redirect_uri);

/// The token-request body of the refresh grant (§2.3):
/// `grant_type=refresh_token&refresh_token=…`, the token percent-encoded.
secret encode_refresh_grant(const secret& refresh_token);

/// The `Authorization` header value of the token endpoint (§2.2): "Basic " followed by the
/// base64 of "app_key:app_secret" (as Schwabdev and schwab-client-js send it, without the
/// form-encoding of RFC 6749 §2.3.1; Schwab's keys are alphanumeric, where both agree). Fails
/// with `bad_argument` when the app key or the secret is empty or the key contains ':'.
std::expected<secret, error> basic_authorization(std::string_view app_key,
                                                 const secret& app_secret);

/// A successful token response (§2.4).
struct token_response {
  secret access_token;
  /// Returned on both grants (§2.5); empty when absent (keep the previous one).
  secret refresh_token;
  /// Seconds the access token lives: 1800 when absent, as Schwabdev assumes (§2.4).
  std::int64_t expires_in = 1800;
  /// "Bearer" when absent.
  std::string token_type = "Bearer";
  /// As sent ("api"); empty when absent.
  std::string scope;
  /// The JWT, unused by trading; empty when absent.
  secret id_token;
  friend bool operator==(const token_response&, const token_response&) = default;
};

/// Parses the 200 answer of POST /v1/oauth/token (§2.4). `access_token` is required and must
/// be a non-empty string; `expires_in` must be a positive whole number (a JSON number or a
/// numeric string); `token_type`, when present, must be "Bearer" (any case). Unknown keys are
/// ignored. Errors name the field, never a token's value (the body is never quoted).
std::expected<token_response, error> parse_token_response(std::string_view json);

/// An error answer of the token endpoint (§2.6).
struct oauth_error {
  unsigned http_status = 0;
  /// The OAuth `error` ("invalid_client", "unsupported_token_type"); empty when the body has
  /// none (HTML, plain text, empty).
  std::string error;
  /// `error_description` as sent; for a body without `error` or `error_description` (an HTML
  /// "Access Denied" page, §2.6), its first 200 characters, trimmed.
  std::string error_description;
  /// The `error` inside a doubly encoded description
  /// ("refresh_token_authentication_error", §2.6); empty when there is none.
  std::string inner_error;

  /// Renders "HTTP 400, unsupported_token_type (refresh_token_authentication_error): …".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const oauth_error&, const oauth_error&) = default;
};

/// Reads an error body of the token endpoint. Never fails: whatever the body, the status is
/// kept. Policy (§2.6, §7.2): any 4xx on the refresh grant means the refresh token is dead and
/// a human must log in again; the caller must not retry it in a loop.
oauth_error parse_oauth_error(unsigned http_status, std::string_view body);

// -- accounts (§3.1, §6) -----------------------------------------------------------------------

/// One entry of GET /trader/v1/accounts/accountNumbers (§3, §3.1).
struct linked_account {
  /// The plain account number, shown to users.
  std::string account_number;
  /// The opaque hash every {accountHash} path segment takes.
  std::string hash_value;
  friend bool operator==(const linked_account&, const linked_account&) = default;
};

/// Parses the account-number list: an array of {accountNumber, hashValue}, both required and
/// non-empty (a number is accepted as its text). The error names the index.
std::expected<std::vector<linked_account>, error> parse_account_numbers(std::string_view json);

/// Parses one account (GET /trader/v1/accounts/{hash}, an object
/// {securitiesAccount, aggregatedBalance}) into brokerd's balance, with the fallbacks of §6
/// (the first field present wins; MARGIN and CASH accounts carry different fields):
///  - cash: currentBalances.cashBalance, currentBalances.totalCash, initialBalances.cashBalance;
///  - net liquidation: aggregatedBalance.liquidationValue,
///    aggregatedBalance.currentLiquidationValue, currentBalances.liquidationValue,
///    initialBalances.liquidationValue;
///  - buying power: a MARGIN account's currentBalances.buyingPower, a CASH account's
///    currentBalances.cashAvailableForTrading; for any other `type`, the first of the two;
///  - equity: currentBalances.equity (MARGIN accounts carry it), otherwise the net liquidation
///    value.
/// Currency is USD. Money values with more than 8 fraction digits are rounded half-even. The
/// error names the first field of the chain that failed.
std::expected<engine::balance, error> parse_account(std::string_view json);

/// Parses securitiesAccount.positions[] of the same body (§3.2, §6): symbol from
/// instrument.symbol, quantity = longQuantity − shortQuantity (an absent one counts as 0, both
/// absent is an error), avg_cost from averagePrice (or, when absent, averageLongPrice for a
/// net long and averageShortPrice for a net short), market_value from marketValue. A missing
/// or null `positions` key is an empty list.
std::expected<engine::position_list, error> parse_positions(std::string_view json);

// -- orders (§3.3, §4, §5) ---------------------------------------------------------------------

/// Schwab's spelling of brokerd's order vocabulary (§4): "MARKET", "LIMIT", "STOP",
/// "STOP_LIMIT"; "DAY", "GOOD_TILL_CANCEL", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"; "BUY",
/// "SELL". brokerd has no short-sale side: a sell is SELL, never SELL_SHORT.
std::string_view to_schwab(engine::order_type x) noexcept;
std::string_view to_schwab(engine::time_in_force x) noexcept;
std::string_view to_schwab(engine::side x) noexcept;

/// Builds the POST /trader/v1/accounts/{hash}/orders body (§4) for an equity order:
/// orderType, session NORMAL, duration, price, stopPrice, orderStrategyType SINGLE and one leg
/// {instruction, quantity, instrument {symbol, assetType EQUITY}}, in that order. Prices are
/// strings with 2 decimals at or above $1 and 4 below, as schwab-py sends them ("187.25",
/// "0.1234"); the quantity is a JSON number. Fails with `invalid_order`, naming the Schwab field
/// and brokerd's, when the symbol is empty, the quantity is not positive or not whole (§4: no
/// fractional orders), a price the type needs is missing or not positive, a price is given that
/// the type does not take, or a price has more decimals than Schwab accepts (2 at or above $1,
/// 4 below; Schwab would accept the POST and reject the order afterwards, §4).
std::expected<std::string, error> encode_order(const engine::order& o);

/// The order id at the end of a Location header (§3.3): an absolute URL (any host) or a path
/// ending in /accounts/{hash}/orders/{id}, where {id} is 1..19 digits that fit an int64. A
/// query, a fragment and one trailing '/' are ignored. When `account_hash` is not empty, the
/// {hash} segment must equal it. Anything else fails with `bad_location`.
std::expected<std::string, error> order_id_from_location(std::string_view header,
                                                         std::string_view account_hash = {});

/// Maps a Schwab order status (§5) to brokerd's. Terminal statuses map by text alone:
/// FILLED → filled; CANCELED and REPLACED → canceled (a replaced order is terminal, its
/// successor is another order); EXPIRED → expired; REJECTED → rejected. UNKNOWN → unknown
/// ("poll again"). The other statuses map to a base status that fills override:
///  - not yet working (base pending_new): AWAITING_PARENT_ORDER, AWAITING_CONDITION,
///    AWAITING_STOP_CONDITION, AWAITING_MANUAL_REVIEW, AWAITING_RELEASE_TIME, ACCEPTED, NEW,
///    QUEUED, PENDING_ACTIVATION, PENDING_ACKNOWLEDGEMENT;
///  - working (base new_): WORKING, PENDING_REPLACE (the order keeps working until replaced),
///    PENDING_RECALL (outcome unknown; the order may still trade);
///  - cancel in progress (base pending_cancel): PENDING_CANCEL, AWAITING_UR_OUT (waiting for
///    the venue's "you are out").
/// With `filled` > 0, a pending_new or new_ base becomes partially_filled (Schwab has no
/// partially-filled status); with `filled` ≥ `quantity` > 0, any of them becomes filled.
/// Nothing for any other text.
std::optional<engine::order_status>
map_order_status(std::string_view status, engine::decimal filled = {},
                 std::optional<engine::decimal> quantity = std::nullopt) noexcept;

/// One execution leg of an order's activity (§5, orderActivityCollection[].executionLegs[]).
struct execution {
  /// The activity's activityId and the leg's legId, as text; empty when absent.
  std::string activity_id;
  std::string leg_id;
  engine::decimal quantity;
  engine::decimal price;
  /// As sent; empty when absent.
  std::string time;
  friend bool operator==(const execution&, const execution&) = default;
};

/// The fields of a Schwab order object (§5) that brokerd uses.
struct order_info {
  /// orderId as its decimal text.
  std::string order_id;
  /// accountNumber as text (a JSON number here, §5); empty when absent.
  std::string account_number;
  /// Schwab's status text, kept as received (for logs and unknown values).
  std::string schwab_status;
  /// The normalized status; `unknown` for UNKNOWN and for text not listed in §5.
  engine::order_status status = engine::order_status::unknown;
  /// Schwab's explanation, present on rejects; empty otherwise.
  std::string status_description;
  /// Echoed request fields, as text; empty when absent.
  std::string order_type;
  std::string session;
  std::string duration;
  std::string order_strategy_type;
  /// 0 when absent (an OCO parent carries no quantity).
  engine::decimal quantity;
  engine::decimal filled_quantity;
  /// Nothing when absent; 0 on CANCELED and REJECTED even with nothing filled (§5).
  std::optional<engine::decimal> remaining_quantity;
  std::optional<engine::decimal> price;
  std::optional<engine::decimal> stop_price;
  /// The FILL executions in order of appearance.
  std::vector<execution> executions;
  /// Σ(quantity × price) / Σ quantity over `executions`, rounded half-even once to 8 digits;
  /// nothing before the first fill (Schwab sends no average, §5).
  std::optional<engine::decimal> average_fill_price;
  /// enteredTime and closeTime as sent ("2024-05-18T05:38:44+0000"); empty when absent.
  std::string entered_time;
  std::string close_time;
  /// enteredTime in nanoseconds since the epoch (UTC); nothing when absent.
  std::optional<std::int64_t> entered_ns;
  /// From the first leg of orderLegCollection; empty when there is none.
  std::string symbol;
  std::string instruction;
  std::string asset_type;
  /// The number of legs (1 for the orders brokerd sends).
  std::size_t leg_count = 0;
  /// Nothing when absent.
  std::optional<bool> cancelable;
  std::optional<bool> editable;
  friend bool operator==(const order_info&, const order_info&) = default;
};

/// Parses an order object (§5), the body of GET …/orders/{id}. `orderId` and `status` are
/// required; every other field may be absent or null, but a present one must have its type
/// (numbers are read as their text, never through floating point; JSON exponents are expanded
/// in text). enteredTime must be a time parse_time accepts. Execution legs count when their
/// activity has activityType EXECUTION and executionType FILL (either may be absent); a leg
/// needs a non-negative quantity and a price. Unknown keys are ignored.
std::expected<order_info, error> parse_order(std::string_view json);

/// Parses an array of order objects (GET …/orders, §3.4); the error names the index.
std::expected<std::vector<order_info>, error> parse_orders(std::string_view json);

/// Reads a Schwab time (§5: "2024-05-18T05:38:44+0000"; §3.4 forms): yyyy-MM-ddTHH:mm:ss,
/// optionally .1 to 9 fraction digits, then Z, ±hhmm or ±hh:mm. Returns nanoseconds since the
/// epoch (UTC). Fails with `bad_field` quoting the text.
std::expected<std::int64_t, error> parse_time(std::string_view text);

/// Formats a time as yyyy-MM-ddTHH:mm:ss.SSSZ in UTC (milliseconds, truncated), the form of
/// Schwab's examples (§3.4).
std::string format_time(std::int64_t ns);

/// The query of GET /trader/v1/accounts/{hash}/orders (§3.4):
/// `fromEnteredTime=…&toEnteredTime=…[&status=…]`, the times as format_time gives them,
/// percent-encoded.
std::string orders_query(std::int64_t from_ns, std::int64_t to_ns, std::string_view status = {});

// -- matching a create whose id is unknown (§3.3) ----------------------------------------------

/// The comparable keys of an order, from what brokerd sent or what Schwab echoes. A price the
/// order type does not take is left out on both sides (MARKET and STOP carry no `price`,
/// MARKET and LIMIT no `stop_price`), so an echo with extra fields still matches.
struct order_fingerprint {
  std::string symbol;
  std::string instruction;
  engine::decimal quantity;
  std::string order_type;
  std::optional<engine::decimal> price;
  std::optional<engine::decimal> stop_price;
  std::string duration;
  friend bool operator==(const order_fingerprint&, const order_fingerprint&) = default;
};

/// The fingerprint of the order brokerd sends (the fields encode_order writes).
order_fingerprint fingerprint_of(const engine::order& o);
/// The fingerprint of an order Schwab lists (the first leg's symbol and instruction).
order_fingerprint fingerprint_of(const order_info& o);

/// The orders of `orders` that may be the one `o` created when POST gave no order id (no
/// Location, a timeout, §3.3). The rule: a candidate has one leg, orderStrategyType SINGLE (or
/// none), the same fingerprint as `o`, and an enteredTime at or after `entered_after_ns`
/// truncated to the whole second (Schwab's times have whole seconds); an order without
/// enteredTime cannot be ruled out and is a candidate. Every candidate is returned, in list
/// order, never a pick among equals: one candidate is the order; several mean the caller
/// cannot tell them apart (never cancel or resubmit on a guess); none means the order is not
/// (yet) listed. The caller passes its send time minus a margin for clock skew, lists with a
/// window that covers it, and drops candidates whose ids it already tracks.
std::vector<order_info> match_created(const engine::order& o, const std::vector<order_info>& orders,
                                      std::int64_t entered_after_ns);

// -- errors (§7.1) -----------------------------------------------------------------------------

/// One entry of an `errors` array (§7.1); absent fields are empty. `status` is kept as text:
/// Schwab sends it as a number or as a string.
struct api_error_item {
  std::string id;
  std::string status;
  std::string title;
  std::string detail;
  /// "header X", "parameter X" or "pointer X" from `source`; empty when absent.
  std::string source;
  friend bool operator==(const api_error_item&, const api_error_item&) = default;
};

/// An error answer of the Trader API: the HTTP status plus Schwab's own text.
struct api_error {
  unsigned http_status = 0;
  /// The top-level `message`; empty when absent.
  std::string message;
  std::vector<api_error_item> errors;
  /// For a body that has neither `message` nor `errors` (empty, HTML, plain text, other
  /// JSON): its first 200 characters, trimmed; empty otherwise.
  std::string body;

  /// The text to show, as schwab-client-js picks it: errors[0].detail, else message, else
  /// errors[0].title, else body.
  [[nodiscard]] std::string text() const;
  /// Renders "HTTP 401: Client not authorized" ("HTTP 503" when there is no text).
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const api_error&, const api_error&) = default;
};

/// Reads an error body of the Trader API in any of the shapes of §7.1. Never fails: whatever
/// the body, the status is kept.
api_error parse_api_error(unsigned http_status, std::string_view body);

} // namespace brokerd::actors::schwab
