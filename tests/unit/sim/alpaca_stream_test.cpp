// The Alpaca simulator's trade_updates websocket over TLS on loopback: both auth forms, listen,
// binary frames on paper, each order type's lifecycle as events, partial fills and cancels.

#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/sim/support/alpaca_test_client.hpp"

using brokerd::engine::decimal;
using brokerd::test::alpaca::fast_config;
using brokerd::test::alpaca::parse;
using brokerd::test::alpaca::rest_client;
using brokerd::test::alpaca::start_server;
using brokerd::test::alpaca::stream_client;
using brokerd::test::str;
using std::chrono::milliseconds;

namespace {

/// An event of `order_id` named `name`.
auto event_of(const std::string& order_id, const std::string& name) {
  return [order_id, name](const rapidjson::Value& data) {
    return str(data, "event") == name && str(data["order"], "id") == order_id;
  };
}

std::string place(rest_client& c, const std::string& body) {
  auto r = c.post("/v2/orders", body);
  REQUIRE(r.status == 200);
  return str(r.json(), "id");
}

} // namespace

TEST_CASE("the stream sends nothing before auth and answers both auth forms", "[sim][alpaca]") {
  auto s = start_server();
  stream_client docs{s->port(), s->ca_file()};
  CHECK(!docs.next(milliseconds{150})); // no greeting (the timeout closes this client)
  stream_client a{s->port(), s->ca_file()};
  CHECK(a.authenticate() == "authorized");
  stream_client b{s->port(), s->ca_file()};
  CHECK(b.authenticate("demo-key", "demo-secret", true) == "authorized");
  CHECK(b.listen());
  CHECK(s->statistics().stream_connections == 3);
}

TEST_CASE("a wrong key on the stream is answered unauthorized and the socket closes",
          "[sim][alpaca]") {
  auto s = start_server();
  stream_client c{s->port(), s->ca_file()};
  c.send(R"({"action":"authenticate","data":{"key_id":"demo-key","secret_key":"nope"}})");
  auto f = c.next();
  REQUIRE(f);
  auto d = parse(f->text);
  CHECK(str(d, "stream") == "authorization");
  CHECK(str(d["data"], "status") == "unauthorized");
  CHECK(str(d["data"], "action") == "authenticate");
  CHECK(!c.next(milliseconds{1000}));
  CHECK(c.closed());
}

TEST_CASE("paper frames are binary JSON, live frames text", "[sim][alpaca]") {
  for (bool paper : {true, false}) {
    auto cfg = fast_config();
    cfg.paper = paper;
    auto s = start_server(cfg);
    stream_client c{s->port(), s->ca_file()};
    c.send(R"({"action":"auth","key":"demo-key","secret":"demo-secret"})");
    auto f = c.next();
    REQUIRE(f);
    CHECK(f->binary == paper);
    CHECK(str(parse(f->text)["data"], "status") == "authorized");
  }
}

TEST_CASE("a market order streams new then fill with price, qty and position_qty",
          "[sim][alpaca]") {
  auto s = start_server();
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  rest_client c{s->port(), s->ca_file()};
  auto id = place(c, R"({"symbol":"AAPL","qty":"7","side":"buy","type":"market",)"
                     R"("time_in_force":"day"})");
  auto n = st.next_event(event_of(id, "new"));
  REQUIRE(n);
  auto& nd = (*n)["data"];
  CHECK(nd["price"].IsNull());
  CHECK(nd["qty"].IsNull());
  CHECK(nd["position_qty"].IsNull());
  CHECK(str(nd["order"], "status") == "new");
  CHECK(nd["timestamp"].IsString());
  auto f = st.next_event(event_of(id, "fill"));
  REQUIRE(f);
  auto& fd = (*f)["data"];
  CHECK(str(fd, "price") == "100");
  CHECK(str(fd, "qty") == "7");
  CHECK(str(fd, "position_qty") == "7");
  CHECK(str(fd, "execution_id").size() == 36);
  CHECK(str(fd["order"], "status") == "filled");
  CHECK(str(fd["order"], "filled_qty") == "7");
  CHECK(s->statistics().events_sent >= 2);
}

TEST_CASE("a large order fills in chunks with partial_fill events", "[sim][alpaca]") {
  auto cfg = fast_config();
  cfg.fill_chunk = decimal::parse("4").value();
  auto s = start_server(cfg);
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  rest_client c{s->port(), s->ca_file()};
  auto id = place(c, R"({"symbol":"AAPL","qty":"10","side":"buy","type":"limit",)"
                     R"("limit_price":"100","time_in_force":"gtc"})");
  auto p1 = st.next_event(event_of(id, "partial_fill"));
  REQUIRE(p1);
  CHECK(str((*p1)["data"], "qty") == "4");
  CHECK(str((*p1)["data"]["order"], "status") == "partially_filled");
  auto p2 = st.next_event(event_of(id, "partial_fill"));
  REQUIRE(p2);
  CHECK(str((*p2)["data"], "position_qty") == "8");
  auto f = st.next_event(event_of(id, "fill"));
  REQUIRE(f);
  CHECK(str((*f)["data"], "qty") == "2");
  CHECK(str((*f)["data"]["order"], "filled_qty") == "10");
}

TEST_CASE("a limit order waits until the price is marketable", "[sim][alpaca]") {
  auto s = start_server();
  s->set_price("MSFT", decimal::parse("410").value());
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  rest_client c{s->port(), s->ca_file()};
  auto id = place(c, R"({"symbol":"MSFT","qty":"2","side":"buy","type":"limit",)"
                     R"("limit_price":"400","time_in_force":"day"})");
  REQUIRE(st.next_event(event_of(id, "new")));
  CHECK(str(c.get("/v2/orders/" + id).json(), "status") == "new");
  s->set_price("MSFT", decimal::parse("399").value());
  auto f = st.next_event(event_of(id, "fill"));
  REQUIRE(f);
  CHECK(str((*f)["data"], "price") == "399");
}

TEST_CASE("stop and stop_limit orders trigger at the stop and then fill", "[sim][alpaca]") {
  auto s = start_server();
  s->set_price("AAPL", decimal::parse("100").value());
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  rest_client c{s->port(), s->ca_file()};
  auto stop = place(c, R"({"symbol":"AAPL","qty":"1","side":"buy","type":"stop",)"
                       R"("stop_price":"105","time_in_force":"gtc"})");
  auto stop_limit = place(c, R"({"symbol":"AAPL","qty":"1","side":"buy","type":"stop_limit",)"
                             R"("stop_price":"105","limit_price":"106","time_in_force":"gtc"})");
  REQUIRE(st.next_event(event_of(stop_limit, "new")));
  CHECK(str(c.get("/v2/orders/" + stop).json(), "status") == "new");
  s->set_price("AAPL", decimal::parse("107").value());
  auto f = st.next_event(event_of(stop, "fill"));
  REQUIRE(f);
  CHECK(str((*f)["data"], "price") == "107");
  CHECK(str(c.get("/v2/orders/" + stop_limit).json(), "status") == "new"); // above its limit
  s->set_price("AAPL", decimal::parse("105.5").value());
  auto g = st.next_event(event_of(stop_limit, "fill"));
  REQUIRE(g);
  CHECK(str((*g)["data"], "price") == "105.5");
  CHECK(str((*g)["data"], "position_qty") == "2");
}

TEST_CASE("IOC fills what it can and cancels the rest, FOK that cannot fill is canceled",
          "[sim][alpaca]") {
  auto cfg = fast_config();
  cfg.fill_chunk = decimal::parse("5").value();
  auto s = start_server(cfg);
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  rest_client c{s->port(), s->ca_file()};
  auto ioc = place(c, R"({"symbol":"AAPL","qty":"8","side":"buy","type":"limit",)"
                      R"("limit_price":"100","time_in_force":"ioc"})");
  auto p = st.next_event(event_of(ioc, "partial_fill"));
  REQUIRE(p);
  CHECK(str((*p)["data"], "qty") == "5");
  auto canceled = st.next_event(event_of(ioc, "canceled"));
  REQUIRE(canceled);
  CHECK(str((*canceled)["data"]["order"], "filled_qty") == "5");
  auto fok = place(c, R"({"symbol":"AAPL","qty":"8","side":"buy","type":"market",)"
                      R"("time_in_force":"fok"})");
  REQUIRE(st.next_event(event_of(fok, "canceled")));
  CHECK(str(c.get("/v2/orders/" + fok).json(), "filled_qty") == "0");
}

TEST_CASE("a DELETE streams canceled, a sell closes the position", "[sim][alpaca]") {
  auto s = start_server();
  stream_client st{s->port(), s->ca_file()};
  REQUIRE(st.authenticate() == "authorized");
  REQUIRE(st.listen());
  rest_client c{s->port(), s->ca_file()};
  auto buy = place(c, R"({"symbol":"AAPL","qty":"3","side":"buy","type":"market",)"
                      R"("time_in_force":"day"})");
  REQUIRE(st.next_event(event_of(buy, "fill")));
  auto resting = place(c, R"({"symbol":"AAPL","qty":"3","side":"sell","type":"limit",)"
                          R"("limit_price":"150","time_in_force":"gtc"})");
  REQUIRE(st.next_event(event_of(resting, "new")));
  CHECK(str(c.get("/v2/positions/AAPL").json(), "qty_available") == "0");
  REQUIRE(c.del("/v2/orders/" + resting).status == 204);
  auto ev = st.next_event(event_of(resting, "canceled"));
  REQUIRE(ev);
  CHECK(str((*ev)["data"]["order"], "status") == "canceled");
  auto sell = place(c, R"({"symbol":"AAPL","qty":"3","side":"sell","type":"market",)"
                       R"("time_in_force":"day"})");
  auto f = st.next_event(event_of(sell, "fill"));
  REQUIRE(f);
  CHECK(str((*f)["data"], "position_qty") == "0");
  CHECK(c.get("/v2/positions").body == "[]");
}
