// The TWS simulator's account-updates subscription (reqAccountUpdates): the first download, its
// End, live rows after fills and unsubscribing, over real loopback sockets; and the portfolio
// rows of the simulated book on a fixed clock.

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "tests/unit/sim/support/sim_fixture.hpp"
#include "tests/unit/sim/support/tws_test_client.hpp"
#include "tools/sim/tws_book.hpp"

using namespace std::chrono_literals;
using brokerd::test::tws::client;
using brokerd::test::tws::dec;
using brokerd::test::tws::start_server;
using brokerd::test::tws::stock_order;
namespace ibkr = brokerd::actors::ibkr;
namespace sim = brokerd::sim::tws;

namespace {

/// What one batch of the account-updates stream carried, in arrival order.
struct account_batch {
  /// key → (value, currency, account).
  std::map<std::string, std::tuple<std::string, std::string, std::string>> values;
  std::vector<ibkr::update_portfolio> portfolio;
  std::vector<std::string> times;
  std::optional<ibkr::account_download_end> end;
  /// The kinds in arrival order: 'v' value, 'p' portfolio, 't' time, 'e' end.
  std::string order;
};

/// Reads the first download up to accountDownloadEnd (other messages are skipped); fails the
/// test when it does not come within the client's bounded waits.
account_batch read_download(client& c) {
  account_batch b;
  for (;;) {
    auto m = c.next();
    REQUIRE(m);
    if (auto* v = std::get_if<ibkr::update_account_value>(&*m)) {
      b.values[v->key] = {v->value, v->currency, v->account};
      b.order += 'v';
    } else if (auto* p = std::get_if<ibkr::update_portfolio>(&*m)) {
      b.portfolio.push_back(*p);
      b.order += 'p';
    } else if (auto* t = std::get_if<ibkr::update_account_time>(&*m)) {
      b.times.push_back(t->time_stamp);
      b.order += 't';
    } else if (auto* e = std::get_if<ibkr::account_download_end>(&*m)) {
      b.end = *e;
      b.order += 'e';
      return b;
    }
  }
}

/// Reads the live rows after a fill, up to their updateAccountTime, skipping order messages.
account_batch read_live_update(client& c) {
  account_batch b;
  for (;;) {
    auto m = c.next();
    REQUIRE(m);
    if (auto* v = std::get_if<ibkr::update_account_value>(&*m)) {
      b.values[v->key] = {v->value, v->currency, v->account};
      b.order += 'v';
    } else if (auto* p = std::get_if<ibkr::update_portfolio>(&*m)) {
      b.portfolio.push_back(*p);
      b.order += 'p';
    } else if (auto* t = std::get_if<ibkr::update_account_time>(&*m)) {
      b.times.push_back(t->time_stamp);
      b.order += 't';
      return b;
    } else if (std::holds_alternative<ibkr::account_download_end>(*m)) {
      b.order += 'e';
    }
  }
}

bool is_account_update(const ibkr::server_message& m) {
  return std::holds_alternative<ibkr::update_account_value>(m) ||
         std::holds_alternative<ibkr::update_portfolio>(m) ||
         std::holds_alternative<ibkr::update_account_time>(m) ||
         std::holds_alternative<ibkr::account_download_end>(m);
}

using row = std::tuple<std::string, std::string, std::string>;

} // namespace

TEST_CASE("reqAccountUpdates answers the account values, one updatePortfolio per open position at "
          "the current price, the time and accountDownloadEnd",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  // 10 AAPL bought at 200, 4 sold at 210; 5 MSFT bought and sold again at 100 (closed).
  srv->set_price("AAPL", dec("200"));
  c.send(stock_order(1, "AAPL", "BUY", "10", "MKT"));
  REQUIRE(c.expect_status(1, "Filled"));
  srv->set_price("AAPL", dec("210"));
  c.send(stock_order(2, "AAPL", "SELL", "4", "MKT"));
  REQUIRE(c.expect_status(2, "Filled"));
  c.send(stock_order(3, "MSFT", "BUY", "5", "MKT"));
  REQUIRE(c.expect_status(3, "Filled"));
  c.send(stock_order(4, "MSFT", "SELL", "5", "MKT"));
  REQUIRE(c.expect_status(4, "Filled"));
  srv->set_price("AAPL", dec("220"));
  c.send(ibkr::req_positions{});
  auto held = c.expect<ibkr::position>(
      [](const ibkr::position& p) { return p.instrument.symbol == "AAPL"; });
  REQUIRE(held);
  REQUIRE(c.expect<ibkr::position_end>());
  c.send(ibkr::cancel_positions{});

  c.send(ibkr::req_account_updates{true, "DU1234567"});
  auto b = read_download(c);
  CHECK(std::regex_match(b.order, std::regex{"v+pte"}));

  // Cash: 100000 - 2001 + 839 - 501 + 499; net liquidation adds 6 x 220.
  CHECK(b.values["AccountCode"] == row{"DU1234567", "", "DU1234567"});
  CHECK(b.values["TotalCashValue"] == row{"98836.00", "USD", "DU1234567"});
  CHECK(b.values["NetLiquidation"] == row{"100156.00", "USD", "DU1234567"});
  CHECK(std::get<1>(b.values["BuyingPower"]) == "USD");
  CHECK(std::get<1>(b.values["AvailableFunds"]) == "USD");

  REQUIRE(b.portfolio.size() == 1); // MSFT is closed
  const auto& p = b.portfolio[0];
  CHECK(p.account == "DU1234567");
  CHECK(p.instrument.symbol == "AAPL");
  CHECK(p.instrument.con_id == 265598);
  CHECK(p.instrument.sec_type == "STK");
  CHECK(p.instrument.currency == "USD");
  CHECK(p.instrument.primary_exchange == "NASDAQ");
  CHECK(p.quantity == dec("6"));
  CHECK(p.market_price == dec("220"));
  CHECK(p.market_value == dec("1320"));
  CHECK(p.avg_cost == held->avg_cost); // what reqPositions gives
  CHECK(p.avg_cost == dec("200.1"));   // (2000 + 1.00 commission) / 10
  CHECK(p.unrealized_pnl == dec("119.4"));
  CHECK(p.realized_pnl == dec("38.6")); // (210 - 200.1) x 4 - 1.00

  REQUIRE(b.times.size() == 1);
  CHECK(std::regex_match(b.times[0], std::regex{R"(\d\d:\d\d)"}));
  REQUIRE(b.end);
  CHECK(b.end->account == "DU1234567");
  CHECK(c.decode_errors().empty());
  CHECK(srv->statistics().decode_errors == 0); // no longer answered 320
}

TEST_CASE("while subscribed, a fill brings updatePortfolio for its position and the changed "
          "account values, without another End",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("200"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(ibkr::req_account_updates{true, ""}); // empty: the login's only account
  auto first = read_download(c);
  CHECK(first.portfolio.empty());
  CHECK(first.values["TotalCashValue"] == row{"100000.00", "USD", "DU1234567"});
  REQUIRE(first.end);
  CHECK(first.end->account == "DU1234567");

  c.send(stock_order(1, "AAPL", "BUY", "10", "MKT"));
  auto opened = read_live_update(c);
  CHECK(std::regex_match(opened.order, std::regex{"pv+t"}));
  REQUIRE(opened.portfolio.size() == 1);
  CHECK(opened.portfolio[0].quantity == dec("10"));
  CHECK(opened.portfolio[0].market_price == dec("200"));
  CHECK(opened.portfolio[0].market_value == dec("2000"));
  CHECK(opened.portfolio[0].avg_cost == dec("200.1"));
  CHECK(opened.portfolio[0].unrealized_pnl == dec("-1"));
  CHECK(opened.portfolio[0].realized_pnl == dec("0"));
  CHECK(opened.values["TotalCashValue"] == row{"97999.00", "USD", "DU1234567"});
  CHECK(opened.values["NetLiquidation"] == row{"99999.00", "USD", "DU1234567"});
  CHECK_FALSE(opened.values.contains("AccountCode")); // unchanged values are not repeated

  c.send(stock_order(2, "AAPL", "SELL", "10", "MKT"));
  auto closed = read_live_update(c);
  REQUIRE(closed.portfolio.size() == 1);
  CHECK(closed.portfolio[0].quantity == dec("0"));
  CHECK(closed.portfolio[0].market_value == dec("0"));
  CHECK(closed.portfolio[0].realized_pnl == dec("-2")); // (200 - 200.1) x 10 - 1.00
  CHECK(closed.values["TotalCashValue"] == row{"99998.00", "USD", "DU1234567"});
  for (const auto& m : c.drain(150ms))
    CHECK_FALSE(std::holds_alternative<ibkr::account_download_end>(m));
}

TEST_CASE("reqAccountUpdates with subscribe 0 ends the stream", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(ibkr::req_account_updates{true, "DU1234567"});
  REQUIRE(read_download(c).end);
  c.send(ibkr::req_account_updates{false, "DU1234567"});
  c.send(stock_order(1, "AAPL", "BUY", "10", "MKT"));
  REQUIRE(c.expect_status(1, "Filled"));
  REQUIRE(c.expect<ibkr::commission_report>());
  for (const auto& m : c.drain(150ms))
    CHECK_FALSE(is_account_update(m));
  for (const auto& m : c.skipped())
    CHECK_FALSE(is_account_update(m));

  // Subscribing again starts with a whole download.
  c.send(ibkr::req_account_updates{true, "DU1234567"});
  auto again = read_download(c);
  REQUIRE(again.portfolio.size() == 1);
  CHECK(again.portfolio[0].quantity == dec("10"));
  CHECK(srv->statistics().decode_errors == 0);
}

TEST_CASE("reqAccountUpdates for another account is answered 321 and subscribes nothing",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(ibkr::req_account_updates{true, "U7654321"});
  auto e = c.expect_error(321, -1);
  REQUIRE(e);
  CHECK(e->message.find("Invalid account code 'U7654321'") != std::string::npos);
  c.send(stock_order(1, "AAPL", "BUY", "1", "MKT"));
  REQUIRE(c.expect_status(1, "Filled"));
  REQUIRE(c.expect<ibkr::commission_report>());
  for (const auto& m : c.drain(150ms))
    CHECK_FALSE(is_account_update(m));
}

TEST_CASE("the book's portfolio row of a short position values it at the current price", "[sim]") {
  sim::config cfg;
  auto t0 = std::chrono::system_clock::from_time_t(1'700'000'000); // 22:13:20 UTC
  sim::book b{cfg, t0};
  b.set_price("SPY", dec("100"));
  b.place(1, stock_order(1, "SPY", "SELL", "10", "MKT"));
  b.tick(t0);
  b.set_price("SPY", dec("90"));
  auto p = b.portfolio_of("SPY");
  CHECK(p.quantity == dec("-10"));
  CHECK(p.avg_cost == dec("99.9")); // (1000 - 1.00) / 10
  CHECK(p.market_price == dec("90"));
  CHECK(p.market_value == dec("-900"));
  CHECK(p.unrealized_pnl == dec("99")); // -10 x (90 - 99.9)
  CHECK(p.realized_pnl == dec("0"));
  CHECK(p.instrument.primary_exchange == "ARCA");
  CHECK(p.instrument.exchange.empty());

  auto download = b.account_updates(t0);
  REQUIRE(download.size() >= 3);
  CHECK(std::get<ibkr::update_account_time>(download[download.size() - 2]).time_stamp == "22:13");
  CHECK(std::get<ibkr::account_download_end>(download.back()).account == cfg.account);
  CHECK(sim::format_account_time(t0 + 47min) == "23:00");
}
