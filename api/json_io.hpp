#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/account.hpp"
#include "engine/order.hpp"

namespace brokerd::api {

/// A REST error as the client sees it: an HTTP status and the JSON body
/// `{"error":"<error>","message":"<message>"}`. `error` is a stable machine-readable code
/// (documented with the function that returns it); `message` is for people and names the
/// offending field or parameter.
struct api_error {
  unsigned status = 400;
  std::string error;
  std::string message;

  friend bool operator==(const api_error&, const api_error&) = default;
};

/// `text` as a JSON string literal, quotes included, escaped.
std::string json_string(std::string_view text);

/// Renders `{"error":"...","message":"..."}` with both strings JSON-escaped.
std::string error_body(const api_error& e);

/// Parses the body of `POST /api/orders` into a new order (status pending_new, `connection`
/// from `connectionId`, ids other than `client_order_id` empty) and validates it with
/// `engine::validate_new_order`.
///
/// The body is a JSON object with exactly these members:
///   connectionId  string, required, 1..128 characters
///   symbol        string, required
///   side          string, required: buy | sell
///   quantity      decimal, required
///   type          string, required: market | limit | stop | stop_limit
///   limitPrice    decimal or null, optional
///   stopPrice     decimal or null, optional
///   timeInForce   string, optional, default "day": day | gtc | ioc | fok
///   clientOrderId string or null, optional
/// A decimal is a JSON string or a JSON number; a number is read from its source text, never
/// through floating point, so `123.456` is exactly 123.456. Exponents are refused.
///
/// Errors, all with status 400 (the first problem found is reported):
///   malformed_json           not JSON, invalid UTF-8, or trailing content; message has offset
///   invalid_body             valid JSON but not an object
///   duplicate_field          a member appears twice
///   unknown_field            a member not listed above; the message names it
///   invalid_field            a member of the wrong JSON type, a decimal that does not parse,
///                            or an enum value not in its list; the message names field and
///                            the expected type or values
///   missing_field            a required member is absent; the message names it
///   invalid_symbol           the symbol's syntax (engine::validate_symbol)
///   invalid_client_order_id  the client order id's syntax (engine::validate_client_id)
///   invalid_order            any other rule of engine::validate_new_order
std::expected<engine::order, api_error> parse_order_request(std::string_view body);

/// The REST form of an order: a JSON object with camelCase members id, clientOrderId,
/// brokerOrderId, connectionId, broker, symbol, side, quantity, type, limitPrice, stopPrice,
/// timeInForce, status, filledQuantity, avgFillPrice, createdAt, updatedAt, reason, in that
/// order. Decimals are JSON strings in their shortest exact form; limitPrice and stopPrice
/// are omitted when absent; times are ISO-8601 UTC with milliseconds
/// ("2024-03-01T14:30:00.123Z"). The owning user is never included.
std::string order_json(const engine::order& o);

/// `{"orders":[...]}` with each element as `order_json` renders it.
std::string orders_json(const std::vector<engine::order>& orders);

/// `{"cash":"...","equity":"...","buyingPower":"...","currency":"USD"}`.
std::string balance_json(const engine::balance& b);

/// `{"positions":[{"symbol":"...","quantity":"...","avgCost":"...","marketValue":"..."}]}`.
std::string positions_json(const engine::position_list& positions);

/// Renders nanoseconds since the Unix epoch as ISO-8601 UTC with milliseconds, truncating
/// toward the past: 0 → "1970-01-01T00:00:00.000Z".
std::string iso8601_ms(std::int64_t ns_since_epoch);

/// Route parameters captured by `route_match`, by name without the colon.
using route_params = std::map<std::string, std::string, std::less<>>;

/// Matches a request path against a pattern such as "/api/orders/:id". Segments split at '/';
/// literal segments must be equal, `:name` segments capture one non-empty segment, which is
/// percent-decoded. The number of segments must be equal (a trailing slash is a segment).
/// Returns nullopt when the path does not match or a captured segment is badly encoded.
std::optional<route_params> route_match(std::string_view pattern, std::string_view path);

/// Percent-decodes `text`; with `plus_as_space` a '+' becomes a space (query strings).
/// Returns nullopt for a '%' not followed by two hex digits or a decoded NUL byte.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space);

/// Splits a query string ("a=1&b=x%20y", without the '?') into decoded name/value pairs in
/// order. Empty pieces ("a=1&&b=2") are skipped; "flag" without '=' has an empty value.
/// Returns nullopt when any piece is badly encoded.
std::optional<std::vector<std::pair<std::string, std::string>>>
parse_query(std::string_view query);

/// The value of query parameter `name`, or nullopt when absent. When the name appears more
/// than once the first value is returned (see `query_uint` for the strict form).
std::optional<std::string_view>
query_value(const std::vector<std::pair<std::string, std::string>>& query,
            std::string_view name);

/// Reads query parameter `name` as an unsigned integer: nullopt when absent, else plain
/// decimal digits only (no sign, no spaces, no empty value) not above `max`.
/// Error (400 "invalid_query", the message names the parameter): not digits, out of range,
/// or the parameter given more than once.
std::expected<std::optional<std::uint64_t>, api_error>
query_uint(const std::vector<std::pair<std::string, std::string>>& query, std::string_view name,
           std::uint64_t max = UINT64_MAX);

} // namespace brokerd::api
