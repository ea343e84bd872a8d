#pragma once

// An Alpaca Trading API v2 simulator: REST under /v2 and the trade_updates websocket at /stream,
// both over TLS on one port, with a simulated cash account behind them (alpaca_book.hpp) and
// hooks for fault injection. Used by unit and integration tests, by `brokerd --demo` and by the
// `broker-sim` program. Section numbers (§) refer to the Alpaca Trading API v2 reference
// (alpaca-api.md).

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "engine/decimal.hpp"
#include "tools/sim/alpaca_config.hpp"

namespace brokerd::sim::alpaca {

/// A running simulated Alpaca: a TLS listening socket and one io thread of its own that serves
/// every HTTP and websocket connection, runs the ticks and owns all state.
///
/// Every public member may be called from any thread except the io thread (there is no
/// callback that runs on it); each one runs on the io thread and returns when it has taken
/// effect, so that a control call is ordered before anything a test sends afterwards. After
/// `stop` the queries still answer (with the final state) and the controls do nothing.
///
/// Orders and the account live as long as the server: orders keep working and filling while
/// no stream is connected, and events that happen then are lost (§5.5), as Alpaca's are.
class server {
public:
  /// Validates `cfg`, generates the TLS identity into `cfg.tls_dir` (a temporary directory when
  /// empty), binds and listens (errors name the address or the file), then starts the io
  /// thread.
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

  /// The counters so far.
  [[nodiscard]] stats statistics() const;

  // -- market control (deterministic tests) -----------------------------------------------------

  /// Overrides the price path of `symbol` until `clear_price`.
  void set_price(const std::string& symbol, engine::decimal price);
  /// Returns `symbol` to its path (or the default price).
  void clear_price(const std::string& symbol);
  /// While on, nothing executes and no stop triggers: orders stay working (they are still
  /// acknowledged as `new`).
  void hold_fills(bool on);

  // -- fault injection --------------------------------------------------------------------------

  /// Closes every /stream connection at once without a close frame (the client sees a reset
  /// or end of stream, like a 1006). REST connections stay.
  void drop_streams();
  /// The next `next_n` trade_updates events are not sent to anyone; the orders still change.
  void drop_events(std::uint32_t next_n);
  /// While on, every trade_updates event is sent twice (same execution_id).
  void duplicate_events(bool on);
  /// The next `n` REST requests are answered `status` (a 5xx) before authentication and rate
  /// limiting, and change nothing.
  void fail_next(std::uint32_t n, unsigned status = 503);
  /// The next `n` REST requests are answered `status` with exactly `body` (say, a 200 that is
  /// not JSON), before authentication and rate limiting, and change nothing.
  void answer_next(std::uint32_t n, unsigned status, std::string body);
  /// Every REST response is written `d` after its request was carried out (0: off), so that a
  /// client can time out on an order the broker accepted.
  void delay_responses(std::chrono::milliseconds d);

private:
  struct impl;
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::sim::alpaca
