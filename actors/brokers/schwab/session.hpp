#pragma once

// The Charles Schwab session: the Trader API over HTTPS with OAuth2 bearer tokens that it
// refreshes and stores sealed, as a broker_session_actor. See docs/brokers/schwab.md.

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "actors/brokers/alpaca/session.hpp"
#include "actors/logging.hpp"
#include "actors/messages.hpp"
#include "persistence/vault.hpp"

namespace boost::asio {
class io_context;
}

namespace brokerd::actors::schwab {

/// Settings of a Schwab connection (connection_spec::settings keys in brackets).
struct config {
  /// The app's key and secret [app_key, app_secret]: the OAuth client; both required.
  secret app_key;
  secret app_secret;
  /// The app's registered callback [redirect_uri] (the code flow; unused by the session).
  std::string redirect_uri;
  /// The API origin [base_url]; default https://api.schwabapi.com.
  alpaca::url api;
  /// A PEM file of trusted CAs [ca_file]; empty: the system store.
  std::string ca_file;
  /// The account number to trade [account]; empty: the first linked account.
  std::string account;
  /// Trader API requests per sliding minute [requests_per_minute]; Schwab allows 120.
  std::uint32_t requests_per_minute = 120;
  /// Bound on one REST call [request_timeout_ms].
  std::chrono::milliseconds request_timeout{10'000};
  /// Bound on getting ready: token, account, balance [connect_timeout_ms].
  std::chrono::milliseconds connect_timeout{15'000};
  /// How often working orders are polled [poll_ms]; Schwab has no order stream.
  std::chrono::milliseconds poll{2'000};
};

/// Parses a Schwab connection's settings; errors name the key, never its value.
std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings);

/// What a Schwab session needs from the process.
struct environment {
  boost::asio::io_context* io = nullptr;
  /// Rotated tokens are written through the event log (sealed, synced) before they are used...
  event_log_actor log;
  /// ...and read from the registry at start.
  std::shared_ptr<persistence::event_log> reader;
  std::shared_ptr<const persistence::vault> vault;
};

/// Spawns a Schwab session for `spec`: opens the connection's sealed tokens (none, or a login
/// past its 7 days: `auth_required`), refreshes the access token when it is due (storing a
/// rotated refresh token before using it), resolves the account hash and reads the balance,
/// then reports `ready` (its reason warns a day and an hour before the login ends). Orders go
/// out as POST .../orders (the id from Location; without one, or with an unknown outcome, the
/// order is found by its fingerprint in the orders list, never posted again); working orders
/// are polled. A 401 refreshes once and retries GETs and DELETEs; a refused refresh ends the
/// session in `auth_required` and marks the login expired, so no later session retries it.
broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink, environment env);

} // namespace brokerd::actors::schwab
