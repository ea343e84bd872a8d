// The TWS simulator's account: summary subscriptions and positions over real loopback sockets.

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include <map>
#include <string>

#include "tests/unit/sim/support/sim_fixture.hpp"
#include "tests/unit/sim/support/tws_test_client.hpp"

using namespace std::chrono_literals;
using brokerd::test::tws::client;
using brokerd::test::tws::dec;
using brokerd::test::tws::start_server;
using brokerd::test::tws::stock_order;
namespace ibkr = brokerd::actors::ibkr;

namespace {

/// Reads summary rows until accountSummaryEnd of `req_id`: tag → (value, currency).
std::map<std::string, std::pair<std::string, std::string>> read_summary(client& c,
                                                                        std::int32_t req_id) {
  std::map<std::string, std::pair<std::string, std::string>> rows;
  for (;;) {
    auto m = c.next();
    REQUIRE(m);
    if (auto* end = std::get_if<ibkr::account_summary_end>(&*m)) {
      CHECK(end->req_id == req_id);
      return rows;
    }
    if (auto* row = std::get_if<ibkr::account_summary>(&*m)) {
      CHECK(row->req_id == req_id);
      CHECK(row->account == "DU1234567");
      rows[row->tag] = {row->value, row->currency};
    }
  }
}

ibkr::req_account_summary summary_request(std::int32_t req_id, std::string tags) {
  ibkr::req_account_summary r;
  r.req_id = req_id;
  r.group = "All";
  r.tags = std::move(tags);
  return r;
}

} // namespace

TEST_CASE("the account summary answers the requested tags in USD, then End, and stays "
          "subscribed to changes",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("200"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(summary_request(9, "NetLiquidation,TotalCashValue,BuyingPower,NoSuchTag"));
  auto rows = read_summary(c, 9);
  REQUIRE(rows.size() == 3);
  CHECK(rows["NetLiquidation"] == std::pair<std::string, std::string>{"100000.00", "USD"});
  CHECK(rows["TotalCashValue"] == std::pair<std::string, std::string>{"100000.00", "USD"});
  CHECK(rows["BuyingPower"].second == "USD");

  c.send(stock_order(1, "AAPL", "BUY", "10", "MKT"));
  REQUIRE(c.expect_status(1, "Filled"));
  // 10 x 200 plus the 1.00 minimum commission.
  auto cash = c.expect<ibkr::account_summary>(
      [](const ibkr::account_summary& r) { return r.tag == "TotalCashValue"; });
  REQUIRE(cash);
  CHECK(cash->req_id == 9);
  CHECK(cash->value == "97999.00");

  ibkr::cancel_account_summary cancel;
  cancel.req_id = 9;
  c.send(cancel);
  c.send(stock_order(2, "AAPL", "BUY", "10", "MKT"));
  REQUIRE(c.expect_status(2, "Filled"));
  for (const auto& m : c.drain(150ms))
    CHECK_FALSE(std::holds_alternative<ibkr::account_summary>(m));
}

TEST_CASE("a third concurrent account summary subscription is answered 322", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(summary_request(1, "NetLiquidation"));
  read_summary(c, 1);
  c.send(summary_request(2, "NetLiquidation"));
  read_summary(c, 2);
  c.send(summary_request(3, "NetLiquidation"));
  auto e = c.expect_error(322, 3);
  REQUIRE(e);
  CHECK(e->message.find("Maximum number of account summary requests exceeded") !=
        std::string::npos);
}

TEST_CASE("positions: none at first, live rows after fills while subscribed, a zero row once "
          "closed",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("200"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(ibkr::req_positions{});
  auto first = c.next();
  REQUIRE(first);
  CHECK(std::holds_alternative<ibkr::position_end>(*first));

  c.send(stock_order(1, "AAPL", "BUY", "10", "MKT"));
  auto opened = c.expect<ibkr::position>();
  REQUIRE(opened);
  CHECK(opened->account == "DU1234567");
  CHECK(opened->instrument.symbol == "AAPL");
  CHECK(opened->instrument.sec_type == "STK");
  CHECK(opened->instrument.currency == "USD");
  CHECK(opened->instrument.con_id == 265598);
  CHECK(opened->quantity == dec("10"));
  CHECK(opened->avg_cost == dec("200.1")); // (2000 + 1.00 commission) / 10

  srv->set_price("AAPL", dec("210"));
  c.send(stock_order(2, "AAPL", "SELL", "10", "MKT"));
  auto fee = c.expect<ibkr::commission_report>();
  REQUIRE(fee);
  REQUIRE(fee->realized_pnl);
  CHECK(*fee->realized_pnl == dec("98"));   // (210 - 200.1) x 10 - 1.00
  auto closed = c.expect<ibkr::position>(); // the position row follows the execution
  REQUIRE(closed);
  CHECK(closed->quantity == dec("0"));

  c.send(ibkr::req_positions{});
  auto row = c.expect<ibkr::position>();
  REQUIRE(row);
  CHECK(row->quantity == dec("0"));
  CHECK(c.expect<ibkr::position_end>());

  c.send(ibkr::cancel_positions{});
  c.send(stock_order(3, "AAPL", "BUY", "1", "MKT"));
  REQUIRE(c.expect_status(3, "Filled"));
  for (const auto& m : c.drain(150ms))
    CHECK_FALSE(std::holds_alternative<ibkr::position>(m));
}

TEST_CASE("summary tags without a currency carry an empty one", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(summary_request(4, "AccountType,Cushion"));
  auto rows = read_summary(c, 4);
  CHECK(rows["AccountType"] == std::pair<std::string, std::string>{"INDIVIDUAL", ""});
  CHECK(rows["Cushion"] == std::pair<std::string, std::string>{"1.000000", ""});
}
