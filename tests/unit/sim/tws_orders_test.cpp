// The TWS simulator's order flow over real loopback sockets: each order type's lifecycle,
// partial fills, IOC/FOK, modifications, refusals, cancels, orders that outlive their
// connection, and the orderStatus faults (duplicates, delays).

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include <set>
#include <string>

#include "tests/support/wait.hpp"
#include "tests/unit/sim/support/sim_fixture.hpp"
#include "tests/unit/sim/support/tws_test_client.hpp"

using namespace std::chrono_literals;
using brokerd::test::wait_until;
using brokerd::test::tws::client;
using brokerd::test::tws::dec;
using brokerd::test::tws::fast_config;
using brokerd::test::tws::start_server;
using brokerd::test::tws::stock_order;
namespace ibkr = brokerd::actors::ibkr;

namespace {

template <class T> const T& as(const std::optional<ibkr::server_message>& m) {
  REQUIRE(m);
  REQUIRE(std::holds_alternative<T>(*m));
  return std::get<T>(*m);
}

/// Places `o` with fills held and reads its acknowledgement (openOrder + orderStatus).
void place_acknowledged(client& c, const ibkr::place_order& o, const std::string& status) {
  c.send(o);
  auto open = c.expect<ibkr::open_order>();
  REQUIRE(open);
  CHECK(open->order_id == o.order_id);
  CHECK(open->status == status);
  auto st = c.next();
  CHECK(as<ibkr::order_status>(st).status == status);
}

} // namespace

TEST_CASE("a market order fills in chunks: execDetails, orderStatus, openOrder when Filled, "
          "commissionReport",
          "[sim][tws]") {
  auto cfg = fast_config();
  cfg.fill_chunk = dec("100");
  auto srv = start_server(cfg);
  srv->set_price("MSFT", dec("410"));
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "MSFT", "BUY", "250", "MKT", {}, {}, "DAY", "c-1"),
                     "Submitted");
  srv->hold_fills(false);

  std::set<std::string> exec_ids;
  std::string cum[3] = {"100", "200", "250"};
  for (int i = 0; i < 3; ++i) {
    auto exec = as<ibkr::exec_details>(c.next());
    CHECK(exec.req_id == -1);
    CHECK(exec.order_id == 1);
    CHECK(exec.instrument.symbol == "MSFT");
    CHECK(exec.side == "BOT");
    CHECK(exec.shares == dec(i < 2 ? "100" : "50"));
    CHECK(exec.price == dec("410"));
    CHECK(exec.cum_qty == dec(cum[i]));
    CHECK(exec.avg_price == dec("410"));
    CHECK(exec.order_ref == "c-1");
    CHECK(exec.account == "DU1234567");
    exec_ids.insert(exec.exec_id);
    auto st = as<ibkr::order_status>(c.next());
    CHECK(st.filled == dec(cum[i]));
    CHECK(st.remaining == dec("250") - dec(cum[i]));
    CHECK(st.avg_fill_price == dec("410"));
    CHECK(st.last_fill_price == dec("410"));
    CHECK(st.client_id == 1);
    if (i < 2) {
      CHECK(st.status == "Submitted");
    } else {
      CHECK(st.status == "Filled");
      auto open = as<ibkr::open_order>(c.next());
      CHECK(open.status == "Filled");
      CHECK(open.commission == dec("3")); // 1.00 minimum, twice, plus 1.00 (0.005 x 50 < 1)
    }
    auto fee = as<ibkr::commission_report>(c.next());
    CHECK(fee.exec_id == exec.exec_id);
    CHECK(fee.commission == dec("1"));
    CHECK(fee.currency == "USD");
    CHECK_FALSE(fee.realized_pnl);
  }
  CHECK(exec_ids.size() == 3);
  CHECK(c.decode_errors().empty());

  auto s = srv->statistics();
  CHECK(s.orders_placed == 1);
  CHECK(s.placements_by_order_ref.at("c-1") == 1);
  auto orders = srv->orders();
  REQUIRE(orders.size() == 1);
  CHECK(orders[0].status == "Filled");
  CHECK(orders[0].filled == dec("250"));
  CHECK(orders[0].order_ref == "c-1");
}

TEST_CASE("a limit order rests while the price is away and fills at the market price once it "
          "crosses",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("100"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "10", "LMT", "95"), "Submitted");
  for (const auto& m : c.drain(200ms)) // several ticks pass: nothing executes
    CHECK_FALSE(std::holds_alternative<ibkr::exec_details>(m));

  srv->set_price("AAPL", dec("94.5"));
  auto exec = c.expect<ibkr::exec_details>();
  REQUIRE(exec);
  CHECK(exec->price == dec("94.5"));
  CHECK(exec->shares == dec("10"));
  auto filled = c.expect_status(1, "Filled");
  REQUIRE(filled);
  CHECK(filled->remaining == dec("0"));
}

TEST_CASE("a sell limit order fills when the price reaches its limit from below", "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("100"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "SELL", "3", "LMT", "101"), "Submitted");
  srv->set_price("AAPL", dec("101"));
  auto exec = c.expect<ibkr::exec_details>();
  REQUIRE(exec);
  CHECK(exec->side == "SLD");
  CHECK(exec->price == dec("101"));
}

TEST_CASE("a stop order is PreSubmitted until the price crosses its stop, then Submitted and "
          "filled as a market order",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("100"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "SELL", "5", "STP", {}, "90"), "PreSubmitted");
  for (const auto& m : c.drain(200ms))
    CHECK_FALSE(std::holds_alternative<ibkr::order_status>(m));

  srv->set_price("AAPL", dec("89"));
  auto triggered = c.next();
  CHECK(as<ibkr::order_status>(triggered).status == "Submitted");
  CHECK(as<ibkr::order_status>(triggered).filled == dec("0"));
  auto exec = as<ibkr::exec_details>(c.next());
  CHECK(exec.price == dec("89"));
  CHECK(exec.side == "SLD");
  CHECK(c.expect_status(1, "Filled"));
}

TEST_CASE("a stop-limit order triggers at its stop, then fills only within its limit",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("100"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "5", "STP LMT", "106", "105"),
                     "PreSubmitted");
  srv->set_price("AAPL", dec("107")); // triggers, but 107 is above the limit
  REQUIRE(c.expect_status(1, "Submitted"));
  for (const auto& m : c.drain(200ms))
    CHECK_FALSE(std::holds_alternative<ibkr::exec_details>(m));

  srv->set_price("AAPL", dec("105.5"));
  auto exec = c.expect<ibkr::exec_details>();
  REQUIRE(exec);
  CHECK(exec->price == dec("105.5"));
  CHECK(c.expect_status(1, "Filled"));
}

TEST_CASE("an IOC order fills what its first tick allows and the rest is cancelled", "[sim][tws]") {
  auto cfg = fast_config();
  cfg.fill_chunk = dec("100");
  auto srv = start_server(cfg);
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "250", "MKT", {}, {}, "IOC"), "Submitted");
  place_acknowledged(c, stock_order(2, "AAPL", "BUY", "10", "LMT", "50", {}, "IOC"), "Submitted");
  srv->hold_fills(false);
  auto cancelled = c.expect_status(1, "Cancelled");
  REQUIRE(cancelled);
  CHECK(cancelled->filled == dec("100"));
  CHECK(cancelled->remaining == dec("150"));
  auto unfilled = c.expect_status(2, "Cancelled");
  REQUIRE(unfilled);
  CHECK(unfilled->filled == dec("0"));
}

TEST_CASE("a FOK order fills completely on its first tick or is cancelled unfilled", "[sim][tws]") {
  auto cfg = fast_config();
  cfg.fill_chunk = dec("100");
  auto srv = start_server(cfg);
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "150", "MKT", {}, {}, "FOK"), "Submitted");
  place_acknowledged(c, stock_order(2, "AAPL", "BUY", "100", "MKT", {}, {}, "FOK"), "Submitted");
  srv->hold_fills(false);
  auto killed = c.expect_status(1, "Cancelled");
  REQUIRE(killed);
  CHECK(killed->filled == dec("0"));
  auto filled = c.expect_status(2, "Filled");
  REQUIRE(filled);
  CHECK(filled->filled == dec("100"));
}

TEST_CASE("placeOrder with an open order's id modifies it and does not count as a placement",
          "[sim][tws]") {
  auto srv = start_server();
  srv->set_price("AAPL", dec("100"));
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "10", "LMT", "95", {}, "DAY", "m-1"),
                     "Submitted");
  c.send(stock_order(1, "AAPL", "BUY", "20", "LMT", "101", {}, "DAY", "m-1"));
  auto open = c.expect<ibkr::open_order>();
  REQUIRE(open);
  CHECK(open->total_quantity == dec("20"));
  CHECK(open->limit_price == dec("101"));
  auto filled = c.expect_status(1, "Filled");
  REQUIRE(filled);
  CHECK(filled->filled == dec("20"));
  CHECK(filled->avg_fill_price == dec("100"));
  auto s = srv->statistics();
  CHECK(s.orders_placed == 1);
  CHECK(s.placements_by_order_ref.at("m-1") == 1);
}

TEST_CASE("a modification that changes the side is answered 105 and one of a filled order 104",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  srv->hold_fills(true);
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "10", "LMT", "95"), "Submitted");
  c.send(stock_order(1, "AAPL", "SELL", "10", "LMT", "95"));
  CHECK(c.expect_error(105, 1));

  place_acknowledged(c, stock_order(2, "AAPL", "BUY", "1", "MKT"), "Submitted");
  srv->hold_fills(false);
  REQUIRE(c.expect_status(2, "Filled"));
  c.send(stock_order(2, "AAPL", "BUY", "2", "MKT"));
  CHECK(c.expect_error(104, 2));
}

TEST_CASE("orders the simulator cannot take are refused with the broker's codes", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  std::int32_t id = 1;
  auto refused = [&](ibkr::place_order o, std::int32_t code) {
    o.order_id = id++;
    c.send(o);
    auto e = c.expect_error(code, o.order_id);
    CHECK(e);
    return e;
  };
  refused(stock_order(0, "AAPL", "BUY", "1", "LMT"), 321);
  refused(stock_order(0, "AAPL", "BUY", "1", "STP"), 321);
  refused(stock_order(0, "AAPL", "BUY", "1", "STP LMT", "10"), 321);
  refused(stock_order(0, "AAPL", "BUY", "0", "MKT"), 321);
  refused(stock_order(0, "AAPL", "HOLD", "1", "MKT"), 321);
  auto staged = stock_order(0, "AAPL", "BUY", "1", "MKT");
  staged.transmit = false;
  refused(staged, 321);
  auto no_exchange = stock_order(0, "AAPL", "BUY", "1", "MKT");
  no_exchange.instrument.exchange.clear();
  refused(no_exchange, 321);
  auto option = stock_order(0, "AAPL", "BUY", "1", "MKT");
  option.instrument.sec_type = "OPT";
  refused(option, 201);
  refused(stock_order(0, "AAPL", "BUY", "1", "TRAIL"), 201);
  refused(stock_order(0, "AAPL", "BUY", "1", "MKT", {}, {}, "OPG"), 201);
  auto etrade = stock_order(0, "AAPL", "BUY", "1", "MKT");
  etrade.e_trade_only = true;
  auto e = refused(etrade, 10268);
  REQUIRE(e);
  CHECK(e->message == "The 'EtradeOnly' order attribute is not supported.");
  CHECK(srv->statistics().orders_placed == 0);
  CHECK(srv->orders().empty());
}

TEST_CASE("cancelOrder: an open order is Cancelled with 202, an unknown id gets 10147, a final "
          "order 10148 naming its state",
          "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  place_acknowledged(c, stock_order(1, "AAPL", "BUY", "10", "LMT", "95"), "Submitted");

  c.send(ibkr::cancel_order{1, ""});
  auto st = c.next();
  CHECK(as<ibkr::order_status>(st).status == "Cancelled");
  CHECK(as<ibkr::order_status>(st).remaining == dec("10"));
  auto e = c.next();
  CHECK(as<ibkr::error_message>(e).code == 202);
  CHECK(as<ibkr::error_message>(e).request_id == 1);
  CHECK(as<ibkr::error_message>(e).message == "Order Canceled - reason:");

  c.send(ibkr::cancel_order{42, ""});
  auto unknown = c.expect_error(10147, 42);
  REQUIRE(unknown);
  CHECK(unknown->message == "OrderId 42 that needs to be cancelled is not found.");

  c.send(ibkr::cancel_order{1, ""});
  auto again = c.expect_error(10148, 1);
  REQUIRE(again);
  CHECK(again->message ==
        "OrderId 1 that needs to be cancelled cannot be cancelled, state: Cancelled.");

  place_acknowledged(c, stock_order(2, "AAPL", "BUY", "1", "MKT"), "Submitted");
  srv->hold_fills(false);
  REQUIRE(c.expect_status(2, "Filled"));
  c.send(ibkr::cancel_order{2, ""});
  auto filled = c.expect_error(10148, 2);
  REQUIRE(filled);
  CHECK(filled->message.ends_with("state: Filled."));
}

TEST_CASE("a client cannot cancel another client id's order", "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client a{srv->port()};
  client b{srv->port()};
  REQUIRE(a.connect_api(1));
  REQUIRE(b.connect_api(2));
  place_acknowledged(a, stock_order(1, "AAPL", "BUY", "10", "LMT", "95"), "Submitted");
  b.send(ibkr::cancel_order{1, ""});
  CHECK(b.expect_error(10147, 1));
  CHECK(srv->orders().at(0).status == "Submitted");
}

TEST_CASE("an order keeps working while its client is disconnected, and the reconnected client "
          "finds it through reqOpenOrders and reqExecutions",
          "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  std::int32_t id = 0;
  {
    client c{srv->port()};
    auto next = c.connect_api(5);
    REQUIRE(next);
    id = *next;
    place_acknowledged(c, stock_order(id, "AAPL", "BUY", "100", "LMT", "10", {}, "DAY", "r-9"),
                       "Submitted");
    srv->drop_connections();
    CHECK(c.wait_closed());
  }
  srv->fill_now(id, dec("40"), dec("99.5"));
  REQUIRE(wait_until([&] { return srv->orders().at(0).filled == dec("40"); }, 2s));

  client c{srv->port()};
  auto next = c.connect_api(5);
  REQUIRE(next);
  CHECK(*next == id + 1);

  c.send(ibkr::req_open_orders{});
  auto open = as<ibkr::open_order>(c.next());
  CHECK(open.order_id == id);
  CHECK(open.order_ref == "r-9");
  CHECK(open.client_id == 5);
  auto st = as<ibkr::order_status>(c.next());
  CHECK(st.status == "Submitted");
  CHECK(st.filled == dec("40"));
  CHECK(st.remaining == dec("60"));
  as<ibkr::open_order_end>(c.next());

  ibkr::req_executions all;
  all.req_id = 77;
  c.send(all);
  auto exec = as<ibkr::exec_details>(c.next());
  CHECK(exec.req_id == 77);
  CHECK(exec.order_id == id);
  CHECK(exec.shares == dec("40"));
  CHECK(exec.price == dec("99.5"));
  CHECK(exec.order_ref == "r-9");
  auto fee = as<ibkr::commission_report>(c.next());
  CHECK(fee.exec_id == exec.exec_id);
  CHECK(as<ibkr::exec_details_end>(c.next()).req_id == 77);

  auto only_end = [&](ibkr::req_executions f) {
    f.req_id = 78;
    c.send(f);
    auto m = c.next();
    CHECK(as<ibkr::exec_details_end>(m).req_id == 78);
  };
  ibkr::req_executions other_symbol;
  other_symbol.symbol = "MSFT";
  only_end(other_symbol);
  ibkr::req_executions sells;
  sells.side = "SELL";
  only_end(sells);
  ibkr::req_executions later;
  later.time = "20991231 23:59:59";
  only_end(later);
  ibkr::req_executions other_client;
  other_client.client_id = 6;
  only_end(other_client);

  ibkr::req_executions matching;
  matching.req_id = 79;
  matching.client_id = 5;
  matching.symbol = "AAPL";
  matching.side = "BUY";
  matching.time = "20000101-00:00:00";
  c.send(matching);
  CHECK(as<ibkr::exec_details>(c.next()).req_id == 79);
}

TEST_CASE("reqAllOpenOrders shows every client id's open orders, reqOpenOrders only the caller's",
          "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client a{srv->port()};
  client b{srv->port()};
  REQUIRE(a.connect_api(1));
  REQUIRE(b.connect_api(2));
  place_acknowledged(a, stock_order(1, "AAPL", "BUY", "1", "LMT", "90"), "Submitted");
  place_acknowledged(b, stock_order(1, "MSFT", "BUY", "1", "LMT", "90"), "Submitted");

  b.send(ibkr::req_open_orders{});
  CHECK(as<ibkr::open_order>(b.next()).instrument.symbol == "MSFT");
  as<ibkr::order_status>(b.next());
  as<ibkr::open_order_end>(b.next());

  b.send(ibkr::req_all_open_orders{});
  std::set<std::int32_t> clients;
  for (int i = 0; i < 2; ++i) {
    clients.insert(as<ibkr::open_order>(b.next()).client_id);
    as<ibkr::order_status>(b.next());
  }
  as<ibkr::open_order_end>(b.next());
  CHECK(clients == std::set<std::int32_t>{1, 2});
}

TEST_CASE("duplicate_order_status sends every orderStatus twice", "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  srv->duplicate_order_status(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(stock_order(1, "AAPL", "BUY", "1", "MKT"));
  as<ibkr::open_order>(c.next());
  auto first = as<ibkr::order_status>(c.next());
  auto second = as<ibkr::order_status>(c.next());
  CHECK(first == second);
  srv->hold_fills(false);
  as<ibkr::exec_details>(c.next());
  CHECK(as<ibkr::order_status>(c.next()).status == "Filled");
  CHECK(as<ibkr::order_status>(c.next()).status == "Filled");
  srv->duplicate_order_status(false);
}

TEST_CASE("delay_order_status holds every orderStatus back by the delay, in order", "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  srv->delay_order_status(300ms);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  auto sent = std::chrono::steady_clock::now();
  c.send(stock_order(1, "AAPL", "BUY", "1", "MKT"));
  as<ibkr::open_order>(c.next());
  auto ack = as<ibkr::order_status>(c.next());
  auto elapsed = std::chrono::steady_clock::now() - sent;
  CHECK(ack.status == "Submitted");
  CHECK(elapsed >= 280ms);

  srv->hold_fills(false);
  // The execution overtakes the delayed Filled status; the statuses keep their order.
  as<ibkr::exec_details>(c.next());
  as<ibkr::open_order>(c.next());
  as<ibkr::commission_report>(c.next());
  CHECK(as<ibkr::order_status>(c.next()).status == "Filled");
  srv->delay_order_status(0ms);
}
