#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/json_io.hpp"
#include "engine/order.hpp"

namespace brokerd::api {

/// The body of `POST /api/brokers/:broker/test` and `/connect`, checked and turned into the
/// session settings of the broker.
struct connect_request {
  engine::broker_id broker = engine::broker_id::paper;
  bool paper_trading = true;
  /// connection_spec settings (keys of the broker's session config).
  std::vector<std::pair<std::string, std::string>> settings;
};

/// Parses `{"isPaperTrading": bool, "credentials": {...}}` for `broker` (the route's text).
/// Credentials per broker, every member checked, unknown members refused:
///   ibkr   {host: string, port: integer 1..65535, clientId: integer 0..2147483647,
///           account?: string}
///   paper  {cash?: decimal string}
///   alpaca {apiKey: string, apiSecret: string, baseUrl?: https origin, streamUrl?: wss URL,
///           caFile?: path, requestsPerMinute?: 1..1000, requestTimeoutMs?: 100..600000,
///           reconcileIntervalMs?: 0 or 1000..86400000}; isPaperTrading picks the default hosts
///   schwab {appKey: string, appSecret: string, redirectUri?: https URL, baseUrl?: https origin,
///           caFile?: path, account?: account number, requestsPerMinute?: 1..120}
/// Errors (400 unless said): malformed_json, invalid_body, duplicate_field, unknown_field,
/// invalid_field, missing_field (as for orders); unknown_broker (404) for a broker that does
/// not exist. Secret values never appear in a message.
/// With `allow_custom_hosts` false, a body that names its own broker endpoint — Alpaca's
/// baseUrl, streamUrl or caFile, Schwab's baseUrl or caFile, an IBKR host that is not
/// loopback — is refused with 403 custom_host_forbidden: only the brokers' official hosts (and
/// a local TWS) are reachable.
std::expected<connect_request, api_error> parse_connect_request(std::string_view broker,
                                                                std::string_view body,
                                                                bool allow_custom_hosts = false);

} // namespace brokerd::api
