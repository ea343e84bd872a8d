#pragma once

// The Interactive Brokers session: one TWS API socket connection (to TWS or IB Gateway) as a
// broker_session_actor. See docs/brokers/ibkr.md for the id mapping, pacing and resync rules.

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/brokers/ibkr/codec.hpp"
#include "actors/messages.hpp"

namespace boost::asio {
class io_context;
}

namespace brokerd::persistence {
class event_log;
}

namespace brokerd::actors::ibkr {

/// Settings of an IBKR connection (connection_spec::settings keys in brackets).
struct config {
  /// TWS or IB Gateway [host, port].
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// The API client id [client_id]; order ids are tracked per client id.
  std::int32_t client_id = 0;
  /// The account to trade [account]; empty: the first of managedAccounts.
  std::string account;
  /// Outgoing messages per second, every message after the hello counted [pacing_per_s];
  /// TWS allows 50. Sent at most one per 1/rate and never more than this within any second.
  std::uint32_t pacing_per_s = 48;
  /// Bound on resolving + connecting + the handshake up to nextValidId and managedAccounts
  /// [connect_timeout_ms].
  std::chrono::milliseconds connect_timeout{10'000};
  /// How long a 1100 (TWS lost IB) may last before the session reconnects [outage_grace_ms].
  std::chrono::milliseconds outage_grace{30'000};
  /// How long a balance, positions or resync request may wait for its answer
  /// [request_timeout_ms].
  std::chrono::milliseconds request_timeout{10'000};
  /// Order ids reserved durably at a time [id_block].
  std::int32_t id_block = 1'000;
  /// Exchange routing of stock orders [exchange, primary_exchange, currency].
  stock_route route;
};

/// Parses an IBKR connection's settings; `port` is required, unknown keys and bad values are
/// errors naming them.
std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings);

/// What an IBKR session needs from the process.
struct environment {
  /// Runs the session's socket (one strand per session).
  boost::asio::io_context* io = nullptr;
  /// Durable order-id reservations are written through the event log (none for a probe
  /// session, which tests a connection and places no order)...
  event_log_actor log;
  /// ...and read from it at start.
  std::shared_ptr<persistence::event_log> reader;
};

/// Registry key of the order-id reservation of (connection, client id): the value is the
/// first id not yet reserved, as decimal text.
std::string order_id_key(const std::string& connection_id, std::int32_t client_id);

/// Spawns an IBKR session for `spec`: connects, sends the hello and startApi through the
/// rate-limit mailbox, waits for nextValidId and managedAccounts (`connected`), reserves order
/// ids above max(nextValidId, the stored reservation), fetches open orders and executions
/// (`resyncing`) and then reports `ready`. Socket loss, a framing error, client id in use
/// (326) or an outage (1100) longer than `outage_grace` ends the session with the reason; the
/// supervisor reconnects with backoff.
broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink, environment env);

} // namespace brokerd::actors::ibkr
