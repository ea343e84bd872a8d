#pragma once

// The value types of the Alpaca simulator: its configuration and its counters. Section numbers
// (§) refer to the Alpaca Trading API v2 reference (alpaca-api.md).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::sim::alpaca {

/// How a simulated Alpaca behaves. Every value is fixed for the server's lifetime; the market
/// and fault controls of `server` change behaviour at run time.
struct config {
  /// The address to listen on (REST and the /stream websocket share one TLS port, as Alpaca's
  /// hosts do). Tests and the demo use loopback only.
  std::string bind = "127.0.0.1";
  /// 0: an ephemeral port (read it back with `server::port`).
  std::uint16_t port = 0;
  /// The one API key pair the simulator accepts (APCA-API-KEY-ID / APCA-API-SECRET-KEY, §1).
  std::string key_id = "demo-key";
  std::string secret = "demo-secret";
  /// Where the generated CA (ca.pem) and server certificate and key (server.pem,
  /// server-key.pem) are written, created if missing; existing files are overwritten. Empty: a
  /// fresh temporary directory that the server removes when it is destroyed.
  std::filesystem::path tls_dir;
  /// Starting cash in USD.
  engine::decimal cash = engine::decimal::from_units(100000 * engine::decimal::one_units);
  /// Price path per symbol: one step per tick, repeating. A symbol's price before the first
  /// tick is the path's first value (also its "previous close", lastday_price).
  std::map<std::string, std::vector<engine::decimal>> paths;
  /// The constant price of symbols without a path.
  engine::decimal default_price = engine::decimal::from_units(100 * engine::decimal::one_units);
  /// The period of the price step and of order matching. Orders are acknowledged (`new`) and
  /// fill on ticks only.
  std::chrono::milliseconds tick{250};
  /// The largest quantity one order fills per tick: larger orders fill partially over ticks,
  /// and it is the liquidity IOC and FOK orders see.
  engine::decimal fill_chunk = engine::decimal::from_units(500 * engine::decimal::one_units);
  /// REST requests per key admitted within any sliding `rate_window` (§4.6, Alpaca's is 200 a
  /// minute). One more is answered 429 with Retry-After and is not counted in the window.
  std::uint32_t requests_per_minute = 200;
  /// The length of the rate-limit window: 60 s as Alpaca's; tests shorten it.
  std::chrono::milliseconds rate_window{60'000};
  /// Paper: every stream frame is a binary websocket frame holding JSON, as the paper host
  /// sends them (§5.1); live: text frames.
  bool paper = true;
};

/// Counters since the server started.
struct stats {
  /// REST requests received (every one, 401s, 429s and injected failures included).
  std::uint64_t requests = 0;
  /// Requests answered 429.
  std::uint64_t rate_limited = 0;
  /// Authenticated REST requests of a key that arrived before a Retry-After the simulator gave
  /// that key had run out: the time it answered that 429 (before any delay_responses) plus the
  /// Retry-After seconds, the latest such time when there were several. They are answered as
  /// any other request (429 again while the window is full) and only counted here: a client
  /// that honours Retry-After keeps this at 0.
  std::uint64_t early_retries = 0;
  /// Orders accepted by POST /v2/orders.
  std::uint64_t orders_created = 0;
  /// The most requests of one key admitted within any sliding window; never above
  /// requests_per_minute.
  std::uint32_t max_in_any_minute = 0;
  /// Orders accepted per client_order_id (generated ones included). Always 1 per id: a
  /// duplicate is refused with 422; the map shows which ids reached the broker.
  std::map<std::string, std::uint32_t> creates_by_client_order_id;
  /// Websocket upgrades accepted on /stream.
  std::uint64_t stream_connections = 0;
  /// trade_updates frames written to clients (one per listening connection and event; a
  /// duplicated event counts twice, a dropped one not at all).
  std::uint64_t events_sent = 0;
};

} // namespace brokerd::sim::alpaca
