// Fault injection of the Alpaca simulator: dropped streams, withheld and duplicated events,
// injected 5xx answers and slow responses.

#include <thread>

#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/sim/support/alpaca_test_client.hpp"

using brokerd::test::alpaca::fast_config;
using brokerd::test::alpaca::rest_client;
using brokerd::test::alpaca::start_server;
using brokerd::test::alpaca::stream_client;
using brokerd::test::str;
using std::chrono::milliseconds;

namespace {

constexpr const char* market_buy =
    R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day"})";

auto named(const std::string& name) {
  return [name](const rapidjson::Value& data) { return str(data, "event") == name; };
}

} // namespace

TEST_CASE("drop_streams closes every stream abruptly and orders keep filling", "[sim][alpaca]") {
  auto s = start_server();
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  s->drop_streams();
  CHECK(!st.next(milliseconds{1000}));
  CHECK(st.closed());
  rest_client c{s->port(), s->ca_file()};
  auto r = c.post("/v2/orders", market_buy);
  REQUIRE(r.status == 200);
  stream_client again{s->port(), s->ca_file()};
  REQUIRE(again.authenticate() == "authorized");
  REQUIRE(again.listen());
  auto deadline = std::chrono::steady_clock::now() + milliseconds{2000};
  std::string status;
  // Polled every 20 ms: an unpaced loop would run into the 200/min limit and see 429s.
  while (status != "filled" && std::chrono::steady_clock::now() < deadline) {
    status = str(c.get("/v2/orders/" + str(r.json(), "id")).json(), "status");
    std::this_thread::sleep_for(milliseconds{20});
  }
  CHECK(status == "filled");
}

TEST_CASE("drop_events withholds the next events although the orders change",
          "[sim][alpaca]") {
  auto s = start_server();
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  s->hold_fills(true);
  s->drop_events(1);
  rest_client c{s->port(), s->ca_file()};
  auto first = str(c.post("/v2/orders", market_buy).json(), "id");
  auto deadline = std::chrono::steady_clock::now() + milliseconds{2000};
  while (str(c.get("/v2/orders/" + first).json(), "status") != "new" &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds{20});
  auto second = str(c.post("/v2/orders", market_buy).json(), "id");
  auto ev = st.next_event();
  REQUIRE(ev);
  // The first event seen is the second order's `new`: the first order's was withheld.
  CHECK(str((*ev)["data"], "event") == "new");
  CHECK(str((*ev)["data"]["order"], "id") == second);
  CHECK(str(c.get("/v2/orders/" + first).json(), "status") == "new");
  s->hold_fills(false);
  auto fill = st.next_event([&](const rapidjson::Value& d) {
    return str(d, "event") == "fill" && str(d["order"], "id") == first;
  });
  CHECK(fill); // only one event was withheld
}

TEST_CASE("duplicate_events sends every event twice with the same execution_id",
          "[sim][alpaca]") {
  auto s = start_server();
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  s->duplicate_events(true);
  rest_client c{s->port(), s->ca_file()};
  REQUIRE(c.post("/v2/orders", market_buy).status == 200);
  auto a = st.next_event(named("fill"));
  auto b = st.next_event(named("fill"));
  REQUIRE(a);
  REQUIRE(b);
  CHECK(str((*a)["data"], "execution_id") == str((*b)["data"], "execution_id"));
  CHECK(s->statistics().events_sent == 4); // new twice, fill twice
}

TEST_CASE("fail_next answers the next requests with the status and changes nothing",
          "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  s->fail_next(2, 503);
  CHECK(c.post("/v2/orders", market_buy).status == 503);
  CHECK(c.get("/v2/account").status == 503);
  CHECK(c.get("/v2/orders?status=all").body == "[]");
  s->fail_next(1, 500);
  CHECK(c.get("/v2/account").status == 500);
  CHECK(c.get("/v2/account").status == 200);
  CHECK(s->statistics().orders_created == 0);
}

TEST_CASE("delay_responses lets a create time out after the order was accepted",
          "[sim][alpaca]") {
  auto s = start_server();
  s->delay_responses(milliseconds{800});
  {
    rest_client slow{s->port(), s->ca_file()};
    auto r = slow.request(
        "POST", "/v2/orders",
        R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day",)"
        R"("client_order_id":"late-1"})",
        milliseconds{200});
    CHECK(r.status == 0); // the client gave up
  }
  s->delay_responses(milliseconds{0});
  rest_client c{s->port(), s->ca_file()};
  auto found = c.get("/v2/orders:by_client_order_id?client_order_id=late-1");
  CHECK(found.status == 200);
  auto retry = c.post("/v2/orders", R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market",)"
                                    R"("time_in_force":"day","client_order_id":"late-1"})");
  CHECK(retry.status == 422);
  CHECK(s->statistics().creates_by_client_order_id.at("late-1") == 1);
}
