#include "api/broker_requests.hpp"

#include <catch2/catch.hpp>

using brokerd::api::parse_connect_request;
namespace engine = brokerd::engine;

namespace {

std::string setting(const brokerd::api::connect_request& r, const std::string& key) {
  for (const auto& [k, v] : r.settings)
    if (k == key)
      return v;
  return {};
}

} // namespace

TEST_CASE("an IBKR connect body becomes the session's settings", "[unit][api]") {
  auto r = parse_connect_request(
      "ibkr",
      R"({"isPaperTrading":false,"credentials":{"host":"10.0.0.5","port":4001,"clientId":17,"account":"U1234567"}})",
      true);
  REQUIRE(r.has_value());
  CHECK(r->broker == engine::broker_id::ibkr);
  CHECK_FALSE(r->paper_trading);
  CHECK(setting(*r, "host") == "10.0.0.5");
  CHECK(setting(*r, "port") == "4001");
  CHECK(setting(*r, "client_id") == "17");
  CHECK(setting(*r, "account") == "U1234567");
  auto minimal = parse_connect_request(
      "ibkr", R"({"credentials":{"host":"127.0.0.1","port":4002,"clientId":0}})");
  REQUIRE(minimal.has_value());
  CHECK(minimal->paper_trading);
  CHECK(setting(*minimal, "account").empty());
}

TEST_CASE("an Alpaca connect body becomes the session's settings", "[unit][api]") {
  auto paper = parse_connect_request("alpaca",
                                     R"({"credentials":{"apiKey":"PK1","apiSecret":"s3cret-value"}})");
  REQUIRE(paper.has_value());
  CHECK(paper->broker == engine::broker_id::alpaca);
  CHECK(setting(*paper, "key_id") == "PK1");
  CHECK(setting(*paper, "secret") == "s3cret-value");
  CHECK(setting(*paper, "paper") == "true");
  CHECK(setting(*paper, "base_url").empty());
  auto full = parse_connect_request(
      "alpaca",
      R"({"isPaperTrading":false,"credentials":{"apiKey":"AK1","apiSecret":"s3cret-value",)"
      R"("baseUrl":"https://127.0.0.1:8443","streamUrl":"wss://[::1]:8443/stream","caFile":"/tmp/ca.pem",)"
      R"("requestsPerMinute":1000,"requestTimeoutMs":2500,"reconcileIntervalMs":0}})",
      true);
  REQUIRE(full.has_value());
  CHECK_FALSE(full->paper_trading);
  CHECK(setting(*full, "paper") == "false");
  CHECK(setting(*full, "base_url") == "https://127.0.0.1:8443");
  CHECK(setting(*full, "stream_url") == "wss://[::1]:8443/stream");
  CHECK(setting(*full, "ca_file") == "/tmp/ca.pem");
  CHECK(setting(*full, "requests_per_minute") == "1000");
  CHECK(setting(*full, "request_timeout_ms") == "2500");
  CHECK(setting(*full, "reconcile_interval_ms") == "0");
}

TEST_CASE("custom broker endpoints need the server's permission", "[unit][api]") {
  struct endpoint_case {
    std::string broker;
    std::string body;
  };
  const std::vector<endpoint_case> custom{
      {"ibkr", R"({"credentials":{"host":"10.0.0.5","port":4001,"clientId":1}})"},
      {"ibkr", R"({"credentials":{"host":"tws.internal","port":4001,"clientId":1}})"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","baseUrl":"https://169.254.169.254"}})"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","streamUrl":"wss://evil.example/stream"}})"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","caFile":"/etc/passwd"}})"},
  };
  for (const auto& c : custom) {
    INFO(c.body);
    auto refused = parse_connect_request(c.broker, c.body);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().status == 403);
    CHECK(refused.error().error == "custom_host_forbidden");
    CHECK(refused.error().message.find("--allow-custom-hosts") != std::string::npos);
    CHECK(refused.error().message.find("s3cret-value") == std::string::npos);
    CHECK(parse_connect_request(c.broker, c.body, true).has_value());
  }
  // Official hosts and a local TWS need no permission.
  CHECK(parse_connect_request("alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s"}})"));
  for (auto host : {"127.0.0.1", "localhost", "::1"})
    CHECK(parse_connect_request(
        "ibkr", std::string{R"({"credentials":{"host":")"} + host + R"(","port":4002,"clientId":0}})"));
}

TEST_CASE("a paper connect body takes an optional starting cash", "[unit][api]") {
  auto none = parse_connect_request("paper", "{}");
  REQUIRE(none.has_value());
  CHECK(none->settings.empty());
  auto cash = parse_connect_request("paper", R"({"credentials":{"cash":"2500.50"}})");
  REQUIRE(cash.has_value());
  CHECK(setting(*cash, "cash") == "2500.50");
  auto bad_cash = parse_connect_request("paper", R"({"credentials":{"cash":"-1"}})");
  REQUIRE_FALSE(bad_cash.has_value());
  CHECK(bad_cash.error().error == "invalid_field");
}

TEST_CASE("bad connect bodies name the problem and never echo a value", "[unit][api]") {
  struct bad_case {
    std::string broker;
    std::string body;
    unsigned status;
    std::string error;
  };
  const std::vector<bad_case> cases{
      {"nasdaq", "{}", 404, "unknown_broker"},
      {"alpaca", "{}", 400, "missing_field"},
      {"alpaca", R"({"credentials":{"apiSecret":"s3cret-value"}})", 400, "missing_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k"}})", 400, "missing_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":""}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","token":"x"}})", 400, "unknown_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","baseUrl":"http://h"}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","baseUrl":"https://h/v2"}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","streamUrl":"https://h/stream"}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","baseUrl":"https://h:0"}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","requestsPerMinute":0}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","requestsPerMinute":5000}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","reconcileIntervalMs":500}})", 400, "invalid_field"},
      {"alpaca", R"({"credentials":{"apiKey":"k","apiSecret":"s3cret-value","requestTimeoutMs":"1000"}})", 400, "invalid_field"},
      {"schwab", "{}", 400, "missing_field"},
      {"schwab", R"({"credentials":{"appKey":"k"}})", 400, "missing_field"},
      {"schwab", R"({"credentials":{"appKey":"k","appSecret":"s3cret-value","refreshToken":"x"}})", 400, "unknown_field"},
      {"schwab", R"({"credentials":{"appKey":"k","appSecret":"s3cret-value","redirectUri":"http://x"}})", 400, "invalid_field"},
      {"schwab", R"({"credentials":{"appKey":"k","appSecret":"s3cret-value","account":"12-3"}})", 400, "invalid_field"},
      {"schwab", R"({"credentials":{"appKey":"k","appSecret":"s3cret-value","requestsPerMinute":121}})", 400, "invalid_field"},
      {"ibkr", "{nope", 400, "malformed_json"},
      {"ibkr", "[]", 400, "invalid_body"},
      {"ibkr", R"({"isPaperTrading":"yes","credentials":{}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":[]})", 400, "invalid_field"},
      {"ibkr", R"({"isPaperTrading":true})", 400, "missing_field"},
      {"ibkr", R"({"credentials":{},"extra":1})", 400, "unknown_field"},
      {"ibkr", R"({"credentials":{},"credentials":{}})", 400, "duplicate_field"},
      {"ibkr", R"({"credentials":{"port":4001,"clientId":1}})", 400, "missing_field"},
      {"ibkr", R"({"credentials":{"host":7,"port":4001,"clientId":1}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"","port":4001,"clientId":1}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":"4001","clientId":1}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":70000,"clientId":1}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":4001}})", 400, "missing_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":4001,"clientId":-1}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":4001,"clientId":1,"account":"U-1"}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"h p","port":4001,"clientId":1}})", 400, "invalid_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":4001,"clientId":1,"clientId":2}})", 400, "duplicate_field"},
      {"ibkr", R"({"credentials":{"host":"h","port":4001,"clientId":1,"password":"s3cret-value"}})", 400, "unknown_field"},
      {"paper", R"({"credentials":{"apiKey":"k"}})", 400, "unknown_field"},
  };
  for (const auto& c : cases) {
    INFO(c.broker << " " << c.body);
    auto r = parse_connect_request(c.broker, c.body, true);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == c.status);
    CHECK(r.error().error == c.error);
    CHECK_FALSE(r.error().message.empty());
    CHECK(r.error().message.find("s3cret-value") == std::string::npos);
  }
}
