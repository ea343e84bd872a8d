#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/order.hpp"

namespace brokerd::api {

/// One row of the broker comparison (`GET /api/brokers/compare`): facts about a broker as
/// brokerd uses it. The rate limits and hosts are those of docs/brokers/*.md and the broker
/// reference notes; fees are the brokers' published list prices for online US stock trades
/// and change over time (the row says so).
struct broker_facts {
  engine::broker_id broker;
  std::string_view name;
  /// "free" or "premium" (engine: actors::requires_premium).
  std::string_view tier;
  /// The broker's fee summary for US stocks, in words.
  std::string_view fees;
  /// Asset classes the broker offers; brokerd itself routes stock orders.
  std::vector<std::string_view> asset_classes;
  /// Order types brokerd sends to the broker (market, limit, stop, stop_limit).
  std::vector<std::string_view> order_types;
  /// The broker's request limit as brokerd's session paces it.
  std::string_view rate_limit;
  /// Whether the broker has a paper (simulated) trading environment.
  bool paper_trading = false;
  std::string_view connection;
};

/// The comparison table: alpaca, ibkr, schwab, paper, in that order.
const std::vector<broker_facts>& broker_catalogue();

/// `{"brokers":[{"broker","name","tier","fees","assetClasses","orderTypes","rateLimit",
/// "paperTrading","connection"}, ...]}`.
std::string broker_catalogue_json();

} // namespace brokerd::api
