// The TWS simulator's connection-level behaviour over real loopback sockets: the handshake and
// version choice, the startup sequence, client ids (326), order ids (103, rollback), notices
// and refused connections.

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include <regex>
#include <string>

#include "tests/support/wait.hpp"
#include "tests/unit/sim/support/sim_fixture.hpp"
#include "tests/unit/sim/support/tws_test_client.hpp"

using namespace std::chrono_literals;
using brokerd::test::wait_until;
using brokerd::test::tws::client;
using brokerd::test::tws::dec;
using brokerd::test::tws::start_server;
using brokerd::test::tws::stock_order;
namespace ibkr = brokerd::actors::ibkr;
namespace sim = brokerd::sim::tws;

TEST_CASE("the simulator answers a v100..193 hello with 178 and a connection time, then the "
          "startup sequence in order",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  c.send_hello(100, 193);
  auto hello = c.read_server_hello();
  REQUIRE(hello);
  CHECK(hello->server_version == 178);
  CHECK(
      std::regex_match(hello->connection_time, std::regex{R"(\d{8} \d\d:\d\d:\d\d [A-Za-z/_]+)"}));

  c.send(ibkr::start_api{3, ""});
  auto m1 = c.next();
  auto m2 = c.next();
  auto m3 = c.next();
  auto m4 = c.next();
  auto m5 = c.next();
  REQUIRE(m5);
  REQUIRE(std::holds_alternative<ibkr::managed_accounts>(*m1));
  CHECK(std::get<ibkr::managed_accounts>(*m1).accounts == "DU1234567");
  REQUIRE(std::holds_alternative<ibkr::next_valid_id>(*m2));
  CHECK(std::get<ibkr::next_valid_id>(*m2).order_id == 1);
  int codes[3] = {2104, 2106, 2158};
  const std::optional<ibkr::server_message>* notices[3] = {&m3, &m4, &m5};
  for (int i = 0; i < 3; ++i) {
    REQUIRE(std::holds_alternative<ibkr::error_message>(**notices[i]));
    auto& e = std::get<ibkr::error_message>(**notices[i]);
    CHECK(e.code == codes[i]);
    CHECK(e.request_id == -1);
  }
  CHECK(c.decode_errors().empty());
  CHECK(srv->statistics().connections_accepted == 1);
}

TEST_CASE("a client offering at most 170 is answered 170 and served in that version's layouts",
          "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.handshake(1, 170) == 170);
  REQUIRE(c.expect_error(2158));
  c.send(stock_order(1, "AAPL", "BUY", "5", "LMT", "90"));
  auto open = c.expect<ibkr::open_order>();
  REQUIRE(open);
  CHECK(open->order_id == 1);
  CHECK(open->limit_price == dec("90"));
  CHECK(c.expect_status(1, "Submitted"));
  CHECK(c.decode_errors().empty());
}

TEST_CASE("a client whose version range ends below the codec's minimum is closed unanswered",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  c.send_hello(100, 150);
  CHECK_FALSE(c.read_server_hello());
  CHECK(c.wait_closed());
}

TEST_CASE("bytes that are not a TWS hello close the connection", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  c.send_bytes("GET / HTTP/1.1\r\n\r\n");
  CHECK(c.wait_closed());
}

TEST_CASE("a second connection with a client id in use gets 326 and is closed, the first keeps "
          "working",
          "[sim][tws]") {
  auto srv = start_server();
  client first{srv->port()};
  REQUIRE(first.connect_api(7));

  client second{srv->port()};
  REQUIRE(second.handshake(7));
  auto e = second.expect_error(326, -1);
  REQUIRE(e);
  CHECK(e->message.find("client id is already in use") != std::string::npos);
  CHECK(second.wait_closed());

  first.send(ibkr::req_current_time{});
  CHECK(first.expect<ibkr::current_time>());

  client other{srv->port()};
  CHECK(other.connect_api(8));
}

TEST_CASE("client_id_in_use answers the next N startApi calls with 326, then the id connects",
          "[sim][tws]") {
  auto srv = start_server();
  srv->client_id_in_use(2);
  for (int i = 0; i < 2; ++i) {
    client c{srv->port()};
    REQUIRE(c.handshake(4));
    CHECK(c.expect_error(326, -1));
    CHECK(c.wait_closed());
  }
  client c{srv->port()};
  CHECK(c.connect_api(4));
}

TEST_CASE("a client id is free again once its connection closed", "[sim][tws]") {
  auto srv = start_server();
  {
    client c{srv->port()};
    REQUIRE(c.connect_api(2));
  }
  bool connected = wait_until(
      [&] {
        client c{srv->port()};
        return c.connect_api(2).has_value();
      },
      3s, 50ms);
  CHECK(connected);
}

TEST_CASE("refuse_connections closes new connections before the hello answer while on",
          "[sim][tws]") {
  auto srv = start_server();
  client existing{srv->port()};
  REQUIRE(existing.connect_api(1));

  srv->refuse_connections(true);
  {
    client refused{srv->port()};
    refused.send_hello();
    CHECK_FALSE(refused.read_server_hello());
    CHECK(refused.closed());
  }
  existing.send(ibkr::req_current_time{});
  CHECK(existing.expect<ibkr::current_time>());

  srv->refuse_connections(false);
  client later{srv->port()};
  CHECK(later.connect_api(2));
  auto s = srv->statistics();
  CHECK(s.connections_refused == 1);
  CHECK(s.connections_accepted == 2);
}

TEST_CASE("send_notice reaches every connected client with id -1", "[sim][tws]") {
  auto srv = start_server();
  client a{srv->port()};
  client b{srv->port()};
  REQUIRE(a.connect_api(1));
  REQUIRE(b.connect_api(2));
  srv->send_notice(1100, "Connectivity between IB and Trader Workstation has been lost.");
  for (auto* c : {&a, &b}) {
    auto e = c->expect_error(1100, -1);
    REQUIRE(e);
    CHECK(e->message == "Connectivity between IB and Trader Workstation has been lost.");
  }
}

TEST_CASE("nextValidId follows the highest id used per client id, across reqIds and reconnects",
          "[sim][tws]") {
  auto cfg = brokerd::test::tws::fast_config();
  cfg.first_order_id = 100;
  auto srv = start_server(cfg);
  srv->hold_fills(true);
  {
    client c{srv->port()};
    REQUIRE(c.connect_api(1) == 100);
    c.send(stock_order(105, "AAPL", "BUY", "1", "MKT"));
    REQUIRE(c.expect_status(105, "Submitted"));
    c.send(ibkr::req_ids{1});
    auto next = c.expect<ibkr::next_valid_id>();
    REQUIRE(next);
    CHECK(next->order_id == 106);

    client other{srv->port()};
    CHECK(other.connect_api(2) == 100);
  }
  bool seen = wait_until(
      [&] {
        client c{srv->port()};
        auto id = c.connect_api(1);
        return id && *id == 106;
      },
      3s, 50ms);
  CHECK(seen);
}

TEST_CASE("an id at or below the highest used is answered 103, and a refused order consumes its "
          "id",
          "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(stock_order(5, "AAPL", "BUY", "1", "LMT", "90"));
  REQUIRE(c.expect_status(5, "Submitted"));

  c.send(stock_order(3, "AAPL", "BUY", "1", "LMT", "90"));
  auto dup = c.expect_error(103, 3);
  REQUIRE(dup);
  CHECK(dup->message == "Duplicate order id");

  c.send(stock_order(7, "AAPL", "BUY", "1", "LMT")); // no limit price
  REQUIRE(c.expect_error(321, 7));
  c.send(stock_order(7, "AAPL", "BUY", "1", "LMT", "90"));
  CHECK(c.expect_error(103, 7));

  c.send(ibkr::req_ids{1});
  auto next = c.expect<ibkr::next_valid_id>();
  REQUIRE(next);
  CHECK(next->order_id == 8);
  auto s = srv->statistics();
  CHECK(s.duplicate_order_ids == 2);
  CHECK(s.orders_placed == 1);
}

TEST_CASE("rollback_next_valid_id hands out old ids again and a reused open id modifies that "
          "order",
          "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(stock_order(10, "AAPL", "BUY", "1", "LMT", "90", {}, "DAY", "first"));
  REQUIRE(c.expect_status(10, "Submitted"));

  srv->rollback_next_valid_id(1, 5);
  c.send(ibkr::req_ids{1});
  auto next = c.expect<ibkr::next_valid_id>();
  REQUIRE(next);
  CHECK(next->order_id == 5);

  c.send(stock_order(5, "AAPL", "BUY", "2", "LMT", "91", {}, "DAY", "second"));
  REQUIRE(c.expect_status(5, "Submitted"));
  // The gateway forgot id 10, but the order is still open: reusing its id modifies it.
  c.send(stock_order(10, "AAPL", "BUY", "3", "LMT", "92", {}, "DAY", "third"));
  auto modified = c.expect<ibkr::open_order>([](const auto& o) { return o.order_id == 10; });
  REQUIRE(modified);
  CHECK(modified->total_quantity == dec("3"));
  CHECK(modified->order_ref == "third");
  auto s = srv->statistics();
  CHECK(s.orders_placed == 2);
  CHECK(s.placements_by_order_ref.at("first") == 1);
  CHECK(s.placements_by_order_ref.at("second") == 1);
  CHECK_FALSE(s.placements_by_order_ref.contains("third"));
}

TEST_CASE("the current time is answered in epoch seconds", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(ibkr::req_current_time{});
  auto t = c.expect<ibkr::current_time>();
  REQUIRE(t);
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  CHECK(std::abs(t->epoch_seconds - now) <= 5);
}

TEST_CASE("start refuses a bad configuration and a busy port", "[sim][tws]") {
  auto cfg = brokerd::test::tws::fast_config();
  cfg.fill_chunk = {};
  CHECK_FALSE(sim::server::start(cfg));
  auto srv = start_server();
  auto busy = brokerd::test::tws::fast_config();
  busy.port = srv->port();
  auto second = sim::server::start(busy);
  REQUIRE_FALSE(second);
  CHECK(second.error().find("bind") != std::string::npos);
}

TEST_CASE("statistics and orders still answer after stop", "[sim][tws]") {
  auto srv = start_server();
  srv->hold_fills(true);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send(stock_order(1, "AAPL", "BUY", "1", "LMT", "90"));
  REQUIRE(c.expect_status(1, "Submitted"));
  srv->stop();
  CHECK(c.wait_closed());
  CHECK(srv->statistics().orders_placed == 1);
  CHECK(srv->orders().size() == 1);
  srv->stop();
}
