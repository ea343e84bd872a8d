#include "api/broker_compare.hpp"

#include "actors/connections.hpp"
#include "api/json_io.hpp"

namespace brokerd::api {

namespace {

std::string_view tier_of(engine::broker_id b) {
  return actors::requires_premium(b) ? "premium" : "free";
}

std::string array(const std::vector<std::string_view>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? "," : "") + json_string(items[i]);
  return out + "]";
}

} // namespace

const std::vector<broker_facts>& broker_catalogue() {
  using engine::broker_id;
  static const std::vector<broker_facts> table{
      {broker_id::alpaca,
       "Alpaca",
       tier_of(broker_id::alpaca),
       "commission-free US stock and ETF trades (regulatory fees passed through)",
       {"us_equity", "us_option", "crypto"},
       {"market", "limit", "stop", "stop_limit"},
       "200 requests per minute per account (HTTP 429 beyond)",
       true,
       "REST v2 + trade_updates WebSocket; API key and secret"},
      {broker_id::ibkr,
       "Interactive Brokers",
       tier_of(broker_id::ibkr),
       "per-share commissions (IBKR Pro fixed or tiered pricing)",
       {"stocks", "options", "futures", "forex", "bonds"},
       {"market", "limit", "stop", "stop_limit"},
       "50 messages per second from client to TWS (error 100 beyond)",
       true,
       "TWS / IB Gateway socket API (paper ports 7497 / 4002)"},
      {broker_id::schwab,
       "Charles Schwab",
       tier_of(broker_id::schwab),
       "$0 online commissions on US stocks and ETFs",
       {"equity", "option", "etf"},
       {"market", "limit", "stop", "stop_limit"},
       "120 order requests per minute per account, 4,000 per day",
       false,
       "Trader API over HTTPS with OAuth 2 sign-in (no sandbox)"},
      {broker_id::paper,
       "brokerd paper",
       tier_of(broker_id::paper),
       "none (simulated)",
       {"us_equity"},
       {"market", "limit", "stop", "stop_limit"},
       "none",
       true,
       "in-process simulated broker"},
  };
  return table;
}

std::string broker_catalogue_json() {
  std::string out = R"({"brokers":[)";
  bool first = true;
  for (const auto& b : broker_catalogue()) {
    if (!first)
      out += ',';
    first = false;
    out += R"({"broker":)" + json_string(engine::to_string(b.broker)) + R"(,"name":)" +
           json_string(b.name) + R"(,"tier":)" + json_string(b.tier) + R"(,"fees":)" +
           json_string(b.fees) + R"(,"assetClasses":)" + array(b.asset_classes) +
           R"(,"orderTypes":)" + array(b.order_types) + R"(,"rateLimit":)" +
           json_string(b.rate_limit) + R"(,"paperTrading":)" +
           (b.paper_trading ? "true" : "false") + R"(,"connection":)" + json_string(b.connection) +
           "}";
  }
  return out + "]}";
}

} // namespace brokerd::api
