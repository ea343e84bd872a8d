#pragma once

// A Charles Schwab Trader API simulator: OAuth (/v1/oauth/authorize and /v1/oauth/token) and
// the Trader API (/trader/v1) over TLS on one port, with a simulated CASH account behind them
// (schwab_book.hpp), the OAuth state in schwab_oauth.hpp, and hooks for fault injection. Used
// by unit and integration tests and by the `broker-sim` program. Section numbers (§) refer to
// the Charles Schwab Trader API reference (schwab-api.md).
//
// Routes (anything else is 404; a known path with another method is 405):
//   GET    /v1/oauth/authorize?client_id&redirect_uri[&response_type=code][&state]   → 302
//   POST   /v1/oauth/token                              (Basic auth, form body)       → 200
//   GET    /trader/v1/accounts/accountNumbers
//   GET    /trader/v1/accounts[/][?fields=positions]
//   GET    /trader/v1/accounts/{hash}[?fields=positions]
//   POST   /trader/v1/accounts/{hash}/orders                            → 201 and Location
//   GET    /trader/v1/accounts/{hash}/orders?fromEnteredTime&toEnteredTime[&status][&maxResults]
//   GET    /trader/v1/orders?fromEnteredTime&toEnteredTime[&status][&maxResults]
//   GET    /trader/v1/accounts/{hash}/orders/{orderId}
//   DELETE /trader/v1/accounts/{hash}/orders/{orderId}                            → 200
//
// A request goes through, in order: an injected failure (fail_next), then for /trader/v1 the
// bearer check (401, §7.2) and the app's sliding rate window (429, §7.3), then the route.

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/decimal.hpp"
#include "tools/sim/schwab_config.hpp"

namespace brokerd::sim::schwab {

/// A running simulated Schwab: a TLS listening socket and one io thread of its own that serves
/// every connection, runs the ticks and owns all state.
///
/// Every public member may be called from any thread except the io thread (there is no
/// callback that runs on it); each one runs on the io thread and returns when it has taken
/// effect, so that a control call is ordered before anything a test sends afterwards. After
/// `stop` the queries still answer (with the final state) and the controls do nothing.
class server {
public:
  /// Validates `cfg`, generates the TLS identity into `cfg.tls_dir` (a temporary directory when
  /// empty), binds and listens (errors name the address or the file), then starts the io
  /// thread. The configured refresh token is valid from here on.
  static std::expected<std::unique_ptr<server>, std::string> start(config cfg);

  /// Stops (see `stop`) and removes the temporary TLS directory if the server made one.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port listened on (the ephemeral one when config::port was 0).
  [[nodiscard]] std::uint16_t port() const;

  /// Stops accepting, closes every connection abruptly, ends the ticks and joins the io thread.
  /// Idempotent.
  void stop();

  /// The CA certificate (PEM) a client must trust to verify the server.
  [[nodiscard]] std::filesystem::path ca_file() const;

  /// The hashValue of the account, as accountNumbers lists it (§3.1).
  [[nodiscard]] std::string account_hash() const;

  /// The counters so far.
  [[nodiscard]] stats statistics() const;

  // -- market control (deterministic tests) -----------------------------------------------------

  /// Overrides the price path of `symbol` until `clear_price`.
  void set_price(const std::string& symbol, engine::decimal price);
  /// Returns `symbol` to its path (or the default price).
  void clear_price(const std::string& symbol);
  /// While on, nothing executes and no stop triggers: orders stay WORKING (activation,
  /// rejection and cancels go on).
  void hold_fills(bool on);

  // -- fault injection --------------------------------------------------------------------------

  /// Every refresh token issued so far, the configured one included, stops working: the next
  /// refresh grant is refused with 400 unsupported_token_type (§2.6) until a new code exchange.
  /// Access tokens already issued keep working until they expire.
  void revoke_refresh_tokens();
  /// The next `next_n` Trader API requests that carry a valid access token are answered 401 as
  /// if it had expired (a token invalidated server-side, §2.8); the token itself stays valid.
  void expire_access_tokens(std::uint32_t next_n);
  /// Every access token issued so far expires now; a refresh grant gives a working one.
  void expire_all_access_tokens();
  /// The next `next_n` accepted order creates answer 201 without a Location header (§3.3);
  /// the orders exist.
  void omit_location(std::uint32_t next_n);
  /// The next `n` requests (OAuth ones included) are answered `status` (a 5xx) before
  /// authentication and rate limiting, and change nothing.
  void fail_next(std::uint32_t n, unsigned status = 503);
  /// Every response is written `d` after its request was carried out (0: off), so that a
  /// client can time out on an order the broker accepted.
  void delay_responses(std::chrono::milliseconds d);

private:
  struct impl;
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::sim::schwab
