#include "tests/unit/sim/support/schwab_test_client.hpp"

#include <stdexcept>
#include <thread>

#include "tools/sim/schwab_wire.hpp"

namespace brokerd::test::schwab {

using std::chrono::milliseconds;

sim::schwab::config fast_config() {
  sim::schwab::config cfg;
  cfg.tick = milliseconds{20};
  // Tests poll orders every 10 ms: only the rate tests run into the limit, with their own.
  cfg.requests_per_minute = 100'000;
  return cfg;
}

std::unique_ptr<sim::schwab::server> start_server(sim::schwab::config cfg) {
  cfg.bind = "127.0.0.1";
  cfg.port = 0;
  auto s = sim::schwab::server::start(std::move(cfg));
  if (!s)
    throw std::runtime_error(s.error());
  return std::move(*s);
}

std::string basic_auth(std::string_view key, std::string_view secret) {
  return "Basic " + sim::schwab::base64_encode(std::string{key} + ":" + std::string{secret});
}

http_reply token_request(https_client& c, std::string form, const std::string& authorization) {
  auto saved = c.headers;
  c.headers = {{"Authorization", authorization},
               {"Content-Type", "application/x-www-form-urlencoded"}};
  auto r = c.request("POST", "/v1/oauth/token", std::move(form));
  c.headers = std::move(saved);
  return r;
}

std::string form_encode(std::string_view text) {
  return sim::schwab::percent_encode(text);
}

std::string refresh_form(std::string_view refresh_token) {
  return "grant_type=refresh_token&refresh_token=" + form_encode(refresh_token);
}

std::string query_value(std::string_view url, std::string_view name) {
  auto q = url.find('?');
  if (q == std::string_view::npos)
    return {};
  auto fields = sim::schwab::parse_form(url.substr(q + 1));
  if (!fields)
    return {};
  auto v = sim::schwab::field(*fields, name);
  return v ? std::string{*v} : std::string{};
}

trader_client::trader_client(const sim::schwab::server& s, std::string_view refresh_token)
    : https_client(s.port(), s.ca_file()) {
  auto r = token_request(*this, refresh_form(refresh_token));
  auto token = str(r.json(), "access_token");
  if (r.status != 200 || token == "<none>")
    throw std::runtime_error("refresh grant failed: " + std::to_string(r.status) + " " + r.body);
  use_token(token);
  hash = s.account_hash();
}

void trader_client::use_token(const std::string& token) {
  access_token = token;
  headers = {{"Authorization", "Bearer " + token}, {"Accept", "application/json"}};
}

std::string trader_client::orders_path() const {
  return "/trader/v1/accounts/" + hash + "/orders";
}

bool trader_client::wait_status(const std::string& id, const std::string& status) {
  auto deadline = std::chrono::steady_clock::now() + milliseconds{3000};
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = order(id);
    if (r.status == 200 && str(r.json(), "status") == status)
      return true;
    std::this_thread::sleep_for(milliseconds{10});
  }
  return false;
}

std::string order_id_of(const http_reply& created) {
  auto location = created.header("location");
  auto slash = location.rfind('/');
  return slash == std::string::npos ? std::string{} : location.substr(slash + 1);
}

std::string equity_order(std::string_view instruction, int quantity, std::string_view symbol,
                         std::string_view type, std::string_view price, std::string_view stop,
                         std::string_view duration) {
  std::string out = R"({"orderType":")" + std::string{type} +
                    R"(","session":"NORMAL","duration":")" + std::string{duration} +
                    R"(","orderStrategyType":"SINGLE")";
  if (!price.empty())
    out += R"(,"price":)" + std::string{price};
  if (!stop.empty())
    out += R"(,"stopPrice":)" + std::string{stop};
  out += R"(,"orderLegCollection":[{"instruction":")" + std::string{instruction} +
         R"(","quantity":)" + std::to_string(quantity) + R"(,"instrument":{"symbol":")" +
         std::string{symbol} + R"(","assetType":"EQUITY"}}]})";
  return out;
}

} // namespace brokerd::test::schwab
