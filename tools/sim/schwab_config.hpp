#pragma once

// The value types of the Schwab simulator: its configuration and its counters. Section numbers
// (§) refer to the Charles Schwab Trader API reference (schwab-api.md).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::sim::schwab {

/// What a refresh grant (§2.3) does with the refresh token it was given.
enum class refresh_rotation : std::uint8_t {
  /// The response carries the same refresh token again, which keeps working (what the clients
  /// observe, §2.5).
  none,
  /// The response carries a new refresh token; the old one keeps working too.
  rotate,
  /// The response carries a new refresh token and the old one stops working at once.
  rotate_and_revoke,
};

/// How a simulated Schwab behaves. Every value is fixed for the server's lifetime; the market
/// and fault controls of `server` change behaviour at run time.
struct config {
  /// The address to listen on (OAuth and the Trader API share one TLS port, as
  /// api.schwabapi.com does). Tests and the demo use loopback only.
  std::string bind = "127.0.0.1";
  /// 0: an ephemeral port (read it back with `server::port`).
  std::uint16_t port = 0;
  /// Where the generated CA (ca.pem) and server certificate and key (server.pem,
  /// server-key.pem) are written, created if missing; existing files are overwritten. Empty: a
  /// fresh temporary directory that the server removes when it is destroyed.
  std::filesystem::path tls_dir;

  // -- OAuth (§2) -------------------------------------------------------------------------------

  /// The one app: its key is the OAuth client_id, its secret the client_secret (§2.2).
  std::string app_key = "demo-app-key";
  std::string app_secret = "demo-app-secret";
  /// A refresh token valid from the start without a code flow, as if a browser login had
  /// happened when the server started: it expires `refresh_token_lifetime` after the start.
  std::string refresh_token = "demo-refresh-token";
  /// The callback registered on the app. The authorize and code-exchange requests must give
  /// exactly this redirect_uri (§2.7).
  std::string redirect_uri = "https://127.0.0.1/callback";
  /// How long an authorization code can be exchanged, once (§2.3: about 30 s).
  std::chrono::milliseconds code_lifetime{30'000};
  /// How long an access token works (§2.5: 30 minutes); `expires_in` is this in whole seconds,
  /// rounded up.
  std::chrono::milliseconds access_token_lifetime{1'800'000};
  /// How long a refresh token works, counted from the code exchange that began its chain (or
  /// from the start for `refresh_token`); refreshing never extends it (§2.5: 7 days).
  std::chrono::milliseconds refresh_token_lifetime{7LL * 24 * 3'600'000};
  /// What a refresh grant does with the refresh token (§2.5 leaves it open).
  refresh_rotation rotation = refresh_rotation::none;

  // -- the account (§3, §6) ---------------------------------------------------------------------

  /// The plain account number (accountNumbers, securitiesAccount.accountNumber). Its hashValue
  /// is a 64-character uppercase hex string derived from it.
  std::string account_number = "12345678";
  /// Starting cash in USD of the CASH account.
  engine::decimal cash = engine::decimal::from_units(100000 * engine::decimal::one_units);
  /// The scheme and authority of the absolute `Location` of a created order (§3.3), e.g.
  /// "https://api.schwabapi.com". Empty: "https://" and the request's Host header.
  std::string location_origin;

  // -- the market -------------------------------------------------------------------------------

  /// Price path per symbol: one step per tick, repeating. A symbol's price before the first
  /// tick is the path's first value (also its previous close).
  std::map<std::string, std::vector<engine::decimal>> paths;
  /// The constant price of symbols without a path.
  engine::decimal default_price = engine::decimal::from_units(100 * engine::decimal::one_units);
  /// The period of the price step and of order matching. Orders leave PENDING_ACTIVATION, fill
  /// and finish a PENDING_CANCEL on ticks only.
  std::chrono::milliseconds tick{250};
  /// The largest quantity one order fills per tick: larger orders fill partially over ticks,
  /// and it is the liquidity IMMEDIATE_OR_CANCEL and FILL_OR_KILL orders see.
  engine::decimal fill_chunk = engine::decimal::from_units(500 * engine::decimal::one_units);

  // -- throttling (§7.3) ------------------------------------------------------------------------

  /// Trader API requests of the app admitted within any sliding `rate_window` (§7.3: 120 a
  /// minute). One more is answered 429 and is not counted in the window. OAuth requests are
  /// not throttled.
  std::uint32_t requests_per_minute = 120;
  /// The length of the rate-limit window: 60 s; tests shorten it.
  std::chrono::milliseconds rate_window{60'000};
  /// Whether a 429 carries Retry-After (whole seconds until the window has room). Schwab's
  /// own 429 is not documented to carry one (§7.3); early_retries is counted either way.
  bool retry_after = true;
};

/// Counters since the server started.
struct stats {
  /// HTTPS requests received (every one: OAuth, Trader API, 401s, 429s, injected failures).
  std::uint64_t requests = 0;
  /// Trader API requests answered 429.
  std::uint64_t rate_limited = 0;
  /// Authenticated Trader API requests that arrived before a Retry-After the simulator gave
  /// the app had run out: the time it answered that 429 (before any delay_responses) plus the
  /// Retry-After seconds, the latest such time when there were several. They are answered as
  /// any other request (429 again while the window is full) and only counted here: a client
  /// that honours Retry-After keeps this at 0.
  std::uint64_t early_retries = 0;
  /// The most Trader API requests admitted within any sliding window; never above
  /// requests_per_minute.
  std::uint32_t max_in_any_minute = 0;
  /// Orders accepted by POST .../orders (201), rejected ones included.
  std::uint64_t orders_created = 0;
  /// Orders accepted per fingerprint of their terms, "INSTRUCTION QTY SYMBOL TYPE [PRICE]
  /// [stop STOP] DURATION SESSION" with decimals in their shortest form (e.g. "BUY 10 AAPL
  /// LIMIT 187.25 DAY NORMAL", "SELL 5 AAPL STOP_LIMIT 99 stop 100 DAY NORMAL"). Schwab has
  /// no client order id: a count above 1 shows an order sent twice (or two alike on purpose).
  std::map<std::string, std::uint32_t> creates_by_fingerprint;
  /// Successful token grants by grant_type ("authorization_code", "refresh_token").
  std::map<std::string, std::uint64_t> token_grants;
  /// Token requests refused (400 or 401 from POST /v1/oauth/token).
  std::uint64_t token_refusals = 0;
  /// Refresh token strings handed out by grants: one per code exchange, one per rotating
  /// refresh (the configured initial token is not counted).
  std::uint64_t refresh_tokens_issued = 0;
  /// Authorization codes handed out by GET /v1/oauth/authorize.
  std::uint64_t codes_issued = 0;
  /// Responses with status 401: Trader API calls without a valid bearer token (injected ones
  /// included) and token requests with bad client credentials.
  std::uint64_t unauthorized = 0;
};

} // namespace brokerd::sim::schwab
