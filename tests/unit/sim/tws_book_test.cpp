// The simulated broker behind the TWS simulator, without sockets: prices, money, positions and
// the execution filter, on a fixed clock.

#include "tools/sim/tws_book.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include "tests/unit/sim/support/tws_test_client.hpp"

using brokerd::sim::tws::book;
using brokerd::sim::tws::con_id_of;
using brokerd::sim::tws::config;
using brokerd::sim::tws::deliveries;
using brokerd::sim::tws::format_fixed;
using brokerd::test::tws::dec;
using brokerd::test::tws::stock_order;
namespace ibkr = brokerd::actors::ibkr;

namespace {

const book::time_point t0 = std::chrono::system_clock::from_time_t(1'700'000'000);

template <class T> std::vector<T> all_of(const deliveries& ds) {
  std::vector<T> out;
  for (const auto& d : ds)
    if (auto* m = std::get_if<T>(&d.message))
      out.push_back(*m);
  return out;
}

} // namespace

TEST_CASE("format_fixed prints exactly the requested digits, rounding half to even", "[sim]") {
  CHECK(format_fixed(dec("100000"), 2) == "100000.00");
  CHECK(format_fixed(dec("1.005"), 2) == "1.00");
  CHECK(format_fixed(dec("1.015"), 2) == "1.02");
  CHECK(format_fixed(dec("-2.5"), 0) == "-2");
  CHECK(format_fixed(dec("0.07"), 1) == "0.1");
}

TEST_CASE("contract ids are IB's for well-known symbols and stable for others", "[sim]") {
  CHECK(con_id_of("AAPL") == 265598);
  CHECK(con_id_of("ZZZZ") == con_id_of("ZZZZ"));
  CHECK(con_id_of("ZZZZ") != con_id_of("ZZZY"));
  CHECK(con_id_of("ZZZZ") > 0);
}

TEST_CASE("a price path steps once per tick and repeats, and set_price overrides it until cleared",
          "[sim]") {
  config cfg;
  cfg.paths["AAPL"] = {dec("1"), dec("2"), dec("3")};
  book b{cfg, t0};
  CHECK(b.price("AAPL") == dec("1"));
  CHECK(b.price("MSFT") == dec("100"));
  b.tick(t0);
  CHECK(b.price("AAPL") == dec("2"));
  b.tick(t0);
  b.tick(t0);
  CHECK(b.price("AAPL") == dec("1"));
  b.set_price("AAPL", dec("9"));
  b.tick(t0);
  CHECK(b.price("AAPL") == dec("9"));
  b.clear_price("AAPL");
  CHECK(b.price("AAPL") == dec("2")); // step 4 of a 3-step path
}

TEST_CASE("commission is 0.005 per share with a 1.00 minimum and a 1 % cap, and cash pays it",
          "[sim]") {
  config cfg;
  cfg.fill_chunk = dec("10000");
  book b{cfg, t0};
  b.set_price("AAPL", dec("100"));
  b.place(1, stock_order(1, "AAPL", "BUY", "1000", "MKT"));
  auto out = b.tick(t0);
  auto fees = all_of<ibkr::commission_report>(out);
  REQUIRE(fees.size() == 1);
  CHECK(fees[0].commission == dec("5"));
  CHECK(b.cash() == dec("100000") - dec("100000") - dec("5"));

  b.set_price("PENNY", dec("0.5"));
  b.place(1, stock_order(2, "PENNY", "BUY", "10", "MKT"));
  fees = all_of<ibkr::commission_report>(b.tick(t0));
  REQUIRE(fees.size() == 1);
  CHECK(fees[0].commission == dec("0.05")); // 1 % of 5.00
}

TEST_CASE("a short sale and its cover: average cost, realized PnL and the zero position", "[sim]") {
  config cfg;
  book b{cfg, t0};
  b.set_price("AAPL", dec("100"));
  b.place(1, stock_order(1, "AAPL", "SELL", "10", "MKT"));
  b.tick(t0);
  auto short_pos = b.position_of("AAPL");
  CHECK(short_pos.quantity == dec("-10"));
  CHECK(short_pos.avg_cost == dec("99.9")); // (1000 - 1.00) / 10
  CHECK(b.take_changed_symbols() == std::set<std::string>{"AAPL"});
  CHECK(b.take_changed_symbols().empty());

  b.set_price("AAPL", dec("90"));
  b.place(1, stock_order(2, "AAPL", "BUY", "10", "MKT"));
  auto fees = all_of<ibkr::commission_report>(b.tick(t0));
  REQUIRE(fees.size() == 1);
  REQUIRE(fees[0].realized_pnl);
  CHECK(*fees[0].realized_pnl == dec("98")); // (99.9 - 90) x 10 - 1.00
  CHECK(b.position_of("AAPL").quantity == dec("0"));
  CHECK(b.position_of("AAPL").avg_cost == dec("0"));
}

TEST_CASE("held fills execute nothing and trigger no stop, but fill_now executes anyway", "[sim]") {
  config cfg;
  book b{cfg, t0};
  b.set_price("AAPL", dec("100"));
  b.place(1, stock_order(1, "AAPL", "SELL", "10", "STP", {}, "110"));
  b.hold_fills(true);
  CHECK(b.tick(t0).empty());
  auto out = b.fill_now(1, dec("4"), dec("101"), t0);
  auto execs = all_of<ibkr::exec_details>(out);
  REQUIRE(execs.size() == 1);
  CHECK(execs[0].shares == dec("4"));
  CHECK(b.orders().at(0).status == "Submitted");
  CHECK(b.fill_now(99, dec("1"), dec("1"), t0).empty());
}

TEST_CASE("executions are filtered by time at or after the given second", "[sim]") {
  config cfg;
  book b{cfg, t0};
  b.place(1, stock_order(1, "AAPL", "BUY", "1", "MKT"));
  b.tick(t0); // 2023-11-14 22:13:20 UTC
  ibkr::req_executions f;
  f.time = "20231114 22:13:20";
  CHECK(b.executions(f).size() == 3);
  f.time = "20231114-22:13:21";
  CHECK(b.executions(f).size() == 1);
  f.time = "20231114 22:13:19 UTC";
  auto all = b.executions(f);
  REQUIRE(all.size() == 3);
  CHECK(std::get<ibkr::exec_details>(all[0]).time == "20231114 22:13:20 UTC");
}
