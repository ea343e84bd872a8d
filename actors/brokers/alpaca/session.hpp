#pragma once

// The Alpaca session: the Trading API v2 over HTTPS plus the trade_updates stream over a
// WebSocket, as a broker_session_actor. See docs/brokers/alpaca.md for the order path, the
// stream gap-fill and the rate budget.

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <utility>
#include <vector>

#include "actors/logging.hpp"
#include "actors/messages.hpp"

namespace boost::asio {
class io_context;
}

namespace brokerd::actors::alpaca {

/// Where a URL points: TLS always (https or wss).
struct url {
  std::string host;
  std::uint16_t port = 443;
  /// "/" when the URL has none.
  std::string path = "/";
};

/// Parses "https://host[:port][/path]" (or "wss://..." when `websocket`); an IPv6 literal goes
/// in brackets. Plain http/ws is refused: credentials never travel unencrypted.
std::expected<url, std::string> parse_url(std::string_view text, bool websocket);

/// Settings of an Alpaca connection (connection_spec::settings keys in brackets).
struct config {
  /// The API key pair [key_id, secret]; both required.
  secret key_id;
  secret secret_key;
  /// Paper or live trading [paper]: picks the default hosts.
  bool paper = true;
  /// The REST origin [base_url]; default https://paper-api.alpaca.markets (live:
  /// https://api.alpaca.markets).
  url rest;
  /// The trade_updates stream [stream_url]; default the REST origin with wss and /stream.
  url stream;
  /// A PEM file of trusted CAs [ca_file]; empty: the system store.
  std::string ca_file;
  /// The request budget per sliding minute [requests_per_minute]: Alpaca allows 200 (1,000 on
  /// the unlimited plan).
  std::uint32_t requests_per_minute = 200;
  /// Bound on one REST call, from the moment it is written [request_timeout_ms].
  std::chrono::milliseconds request_timeout{10'000};
  /// Bound on the first account call plus the stream's authorization and listen
  /// [connect_timeout_ms].
  std::chrono::milliseconds connect_timeout{15'000};
  /// How often open orders are checked over REST while the stream runs (it can drop events);
  /// 0 turns it off [reconcile_interval_ms].
  std::chrono::milliseconds reconcile_interval{30'000};
};

/// Parses an Alpaca connection's settings; key_id and secret are required, unknown keys and
/// bad values are errors naming the key (never its value).
std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings);

/// What an Alpaca session needs from the process.
struct environment {
  /// Runs the session's HTTPS and WebSocket connections (each on its own strand).
  boost::asio::io_context* io = nullptr;
};

/// Spawns an Alpaca session for `spec`: checks the key with GET /v2/account and opens the
/// trade_updates stream (auth, listen); `ready` once both succeed. Orders go out as POST
/// /v2/orders with client_order_id = brokerd's client order id, every REST call through the
/// rate-limit mailbox. A create whose outcome is unknown is resolved by looking the client
/// order id up, never by posting again. Statuses come from the stream; after every stream
/// reconnect, and every `reconcile_interval`, open orders are checked over REST. 401/403 ends
/// the session in `auth_required`; a broken REST connection ends it (the supervisor reconnects
/// with backoff).
broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink, environment env);

} // namespace brokerd::actors::alpaca
