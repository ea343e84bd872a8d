#pragma once

// Starting a Schwab simulator for a test and talking to it: the token endpoint with HTTP Basic
// client credentials, and a Trader API client that holds an access token from a refresh grant.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "tests/unit/sim/support/https_test_client.hpp"
#include "tools/sim/schwab_server.hpp"

namespace brokerd::test::schwab {

/// The defaults with a 20 ms tick, so that fills come quickly, and a rate limit that polling
/// tests do not reach.
sim::schwab::config fast_config();

/// Starts a simulator on an ephemeral loopback port; throws std::runtime_error on failure.
std::unique_ptr<sim::schwab::server> start_server(sim::schwab::config cfg = fast_config());

/// "Basic base64(key:secret)".
std::string basic_auth(std::string_view key = "demo-app-key",
                       std::string_view secret = "demo-app-secret");

/// POST /v1/oauth/token with `form` (url-encoded) and Basic credentials `authorization`.
http_reply token_request(https_client& c, std::string form,
                         const std::string& authorization = basic_auth());

/// The refresh grant form for `refresh_token`.
std::string refresh_form(std::string_view refresh_token = "demo-refresh-token");

/// Percent-encodes `text` for a form or query value.
std::string form_encode(std::string_view text);

/// The query value `name` of a URL ("https://h/p?a=1&b=2"), percent-decoded; empty when absent.
std::string query_value(std::string_view url, std::string_view name);

/// A Trader API client: takes an access token with the refresh grant at construction (throws
/// std::runtime_error when that fails) and sends it as the bearer token; `hash` is the
/// account's hashValue.
class trader_client : public https_client {
public:
  trader_client(const sim::schwab::server& s,
                std::string_view refresh_token = "demo-refresh-token");

  std::string access_token;
  std::string hash;

  /// Uses `token` as the bearer token from now on.
  void use_token(const std::string& token);
  /// The path of the account's orders, "/trader/v1/accounts/{hash}/orders".
  [[nodiscard]] std::string orders_path() const;
  /// POST an order; the reply of the create.
  http_reply place(const std::string& order_json) { return post(orders_path(), order_json); }
  /// GET the order `id`.
  http_reply order(const std::string& id) { return get(orders_path() + "/" + id); }
  /// Polls GET of order `id` every 10 ms until its status is `status` (at most 3 s).
  bool wait_status(const std::string& id, const std::string& status);
};

/// The order id at the end of a Location header ("…/orders/1234" → "1234").
std::string order_id_of(const http_reply& created);

/// An equity order of the request shape of §4: `type` MARKET, LIMIT, STOP or STOP_LIMIT, with
/// `price` and `stop` (JSON text, e.g. "\"187.25\"" or "187.25") when not empty.
std::string equity_order(std::string_view instruction, int quantity, std::string_view symbol,
                         std::string_view type, std::string_view price = {},
                         std::string_view stop = {}, std::string_view duration = "DAY");

} // namespace brokerd::test::schwab
