// The TWS simulator under protocol abuse over real loopback sockets: pacing (error 100, the
// counters, the disconnect), garbled frames and unknown messages (320), framing errors.

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "tests/unit/sim/support/sim_fixture.hpp"
#include "tests/unit/sim/support/tws_test_client.hpp"

using namespace std::chrono_literals;
using brokerd::test::tws::client;
using brokerd::test::tws::fast_config;
using brokerd::test::tws::start_server;
namespace ibkr = brokerd::actors::ibkr;

TEST_CASE("messages beyond pacing_limit within a second are answered 100, dropped and counted "
          "per client",
          "[sim][tws]") {
  auto cfg = fast_config();
  cfg.pacing_limit = 5;
  auto srv = start_server(cfg);
  client c{srv->port()};
  REQUIRE(c.connect_api(3)); // startApi is message 1 of the window
  std::string burst;
  for (int i = 0; i < 7; ++i)
    burst += *ibkr::req_current_time{}.encode();
  c.send_bytes(burst); // messages 2..8: 2..5 served, 6..8 violate

  int times = 0;
  std::vector<std::string> violations;
  for (const auto& m : c.drain(200ms)) {
    if (std::holds_alternative<ibkr::current_time>(m))
      ++times;
    if (auto* e = std::get_if<ibkr::error_message>(&m); e && e->code == 100) {
      CHECK(e->request_id == -1);
      violations.push_back(e->message);
    }
  }
  CHECK(times == 4);
  REQUIRE(violations.size() == 3);
  CHECK(violations[0] == "Max rate of messages per second has been exceeded:max=5 rec=6");
  CHECK(violations[2] == "Max rate of messages per second has been exceeded:max=5 rec=8");
  CHECK_FALSE(c.closed());

  auto s = srv->statistics();
  CHECK(s.messages == 8);
  CHECK(s.pacing_violations == 3);
  CHECK(s.max_in_any_second == 8);
  REQUIRE(s.clients.size() == 1);
  CHECK(s.clients[0].client_id == 3);
  CHECK(s.clients[0].messages == 8);
  CHECK(s.clients[0].violations == 3);
  CHECK(s.clients[0].max_in_any_second == 8);
}

TEST_CASE("a paced client stays under the limit and is never answered 100", "[sim][tws]") {
  auto cfg = fast_config();
  cfg.pacing_limit = 20;
  auto srv = start_server(cfg);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  // 30 messages at one per 60 ms: at most 17 in any second.
  for (int i = 0; i < 30; ++i) {
    c.send(ibkr::req_current_time{});
    REQUIRE(c.expect<ibkr::current_time>());
    std::this_thread::sleep_for(60ms);
  }
  auto s = srv->statistics();
  CHECK(s.pacing_violations == 0);
  CHECK(s.max_in_any_second <= 20);
  CHECK(s.max_in_any_second >= 10);
}

TEST_CASE("the connection is closed after violations_before_disconnect violations", "[sim][tws]") {
  auto cfg = fast_config();
  cfg.pacing_limit = 3;
  cfg.violations_before_disconnect = 2;
  auto srv = start_server(cfg);
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  std::string burst;
  for (int i = 0; i < 10; ++i)
    burst += *ibkr::req_current_time{}.encode();
  c.send_bytes(burst);
  int violations = 0;
  while (auto m = c.next(2s))
    if (auto* e = std::get_if<ibkr::error_message>(&*m); e && e->code == 100)
      ++violations;
  CHECK(c.closed());
  CHECK(violations == 2);
  CHECK(srv->statistics().pacing_violations == 2);

  client again{srv->port()}; // the client id is free again
  CHECK(again.connect_api(1));
}

TEST_CASE("a garbled frame is answered 320, counted, and the connection keeps serving",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));

  c.send_fields({"49", "x"}); // reqCurrentTime with a non-numeric version
  auto e = c.expect_error(320, -1);
  REQUIRE(e);
  CHECK(e->message.find("Error reading request") == 0);

  c.send_fields({"3", "12", "", "AAPL", "STK"}); // a placeOrder cut short
  CHECK(c.expect_error(320, 12));

  c.send(ibkr::req_current_time{});
  CHECK(c.expect<ibkr::current_time>());
  CHECK(srv->statistics().decode_errors == 2);
  CHECK(srv->orders().empty());
}

TEST_CASE("an unknown message id is answered 320 and counted as a decode error", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send_fields({"999", "1"});
  auto e = c.expect_error(320, -1);
  REQUIRE(e);
  CHECK(e->message.find("999") != std::string::npos);
  c.send(ibkr::req_ids{1});
  CHECK(c.expect<ibkr::next_valid_id>());
  CHECK(srv->statistics().decode_errors == 1);
}

TEST_CASE("a frame announcing more than the maximum length closes the connection", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  REQUIRE(c.connect_api(1));
  c.send_bytes(std::string{"\xff\xff\xff\xff", 4});
  CHECK(c.wait_closed());
}

TEST_CASE("messages before startApi are ignored and startApi still opens the session",
          "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  c.send_hello();
  REQUIRE(c.read_server_hello());
  c.send(ibkr::req_current_time{});
  c.send(ibkr::start_api{1, ""});
  auto first = c.next();
  REQUIRE(first);
  CHECK(std::holds_alternative<ibkr::managed_accounts>(*first));
}

TEST_CASE("a hello split across many writes is still understood", "[sim][tws]") {
  auto srv = start_server();
  client c{srv->port()};
  std::string hello{"API\0\0\0\0\x09v100..178", 17};
  for (char ch : hello) {
    c.send_bytes(std::string_view{&ch, 1});
    std::this_thread::sleep_for(2ms);
  }
  auto answer = c.read_server_hello();
  REQUIRE(answer);
  CHECK(answer->server_version == 178);
}
