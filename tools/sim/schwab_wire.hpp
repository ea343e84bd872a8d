#pragma once

// The wire forms the parts of the Schwab simulator share: an HTTP answer, form and query
// decoding, base64, Schwab's timestamps and its error bodies. Pure: no I/O, no clock. Section
// numbers (§) refer to the Charles Schwab Trader API reference (schwab-api.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::sim::schwab {

/// An HTTP answer: status, extra headers (Location, Retry-After) and the body (empty for 201
/// and DELETE's 200). A non-empty body is JSON.
struct reply {
  unsigned status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Decoded name/value pairs of a query string or an application/x-www-form-urlencoded body.
/// A name given twice keeps its first value.
using form_fields = std::map<std::string, std::string, std::less<>>;

/// Splits "a=1&b=x%20y" (no '?') into decoded pairs ('+' is a space); nothing when a '%' is
/// not followed by two hex digits.
std::optional<form_fields> parse_form(std::string_view text);

/// The value of `name` in `fields`, or nothing.
std::optional<std::string_view> field(const form_fields& fields, std::string_view name);

/// Percent-encodes everything but the unreserved characters of RFC 3986 ("@" → "%40").
std::string percent_encode(std::string_view text);

/// Standard base64 with padding, and its inverse (nothing for text that is not base64).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
/// base64url without padding (JWT segments).
std::string base64url_encode(std::string_view bytes);

/// Schwab's order timestamp, UTC to the second with a colon-less offset:
/// "2024-05-18T05:38:44+0000" (§5).
std::string format_time(std::chrono::system_clock::time_point t);

/// Parses the ISO-8601 forms the orders list takes (§3.4): "2024-01-10T12:17:41Z",
/// "2024-01-10T12:17:41.000Z", "2024-01-10T12:17:41+02:00", "...+0200", and a date-time with
/// no zone (taken as UTC). Nothing for anything else.
std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view text);

/// A decimal as a JSON number the way Schwab writes its doubles: at least one fraction digit
/// ("1.0", "187.25", "-3.5").
std::string json_number(engine::decimal value);

/// The `errors[]` body of §7.1:
/// {"errors":[{"id":"<uuid>","status":<status>,"title":"<title>","detail":"<detail>"}]}.
/// `status_as_string` writes the status as a string ("404"), as some real bodies do.
std::string errors_body(std::string_view id, unsigned status, std::string_view title,
                        std::string_view detail, bool status_as_string = false);

/// The `message` body of §7.1: {"message":"<message>"}, with `errors` (one string) when given.
std::string message_body(std::string_view message,
                         std::optional<std::string_view> error = std::nullopt);

/// An OAuth error body (§2.6): {"error":"<error>","error_description":"<description>"}.
std::string oauth_error_body(std::string_view error, std::string_view description);

/// The standard reason phrase of `status` ("Bad Request", "Too Many Requests", ...).
std::string_view reason_of(unsigned status);

} // namespace brokerd::sim::schwab
