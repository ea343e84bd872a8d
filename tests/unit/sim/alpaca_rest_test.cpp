// The Alpaca simulator's REST side over real TLS sockets on loopback: certificate
// verification, authentication, account and position shapes, order validation, lookups,
// cancels and the rate limit.

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "tests/unit/sim/support/alpaca_test_client.hpp"

using brokerd::test::alpaca::fast_config;
using brokerd::test::alpaca::http_reply;
using brokerd::test::alpaca::rest_client;
using brokerd::test::alpaca::start_server;
using brokerd::test::str;
using std::chrono::milliseconds;

namespace {

/// Polls GET /v2/orders/{id} until its status is `status` (at most 3 s).
bool wait_status(rest_client& c, const std::string& id, const std::string& status) {
  auto deadline = std::chrono::steady_clock::now() + milliseconds{3000};
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.get("/v2/orders/" + id);
    if (r.status == 200 && str(r.json(), "status") == status)
      return true;
    std::this_thread::sleep_for(milliseconds{10});
  }
  return false;
}

} // namespace

TEST_CASE("a client that trusts the simulator's CA verifies its certificate for 127.0.0.1",
          "[sim][alpaca]") {
  auto s = start_server();
  REQUIRE(std::filesystem::exists(s->ca_file()));
  rest_client c{s->port(), s->ca_file()};
  CHECK(c.get("/v2/account").status == 200);
}

TEST_CASE("a client that does not trust the CA fails the TLS handshake", "[sim][alpaca]") {
  auto s = start_server();
  CHECK_THROWS_WITH(rest_client(s->port(), {}), Catch::Contains("tls handshake"));
}

TEST_CASE("the CA is written to tls_dir when one is given", "[sim][alpaca]") {
  auto dir = std::filesystem::temp_directory_path() /
             ("alpaca-sim-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto cfg = fast_config();
  cfg.tls_dir = dir;
  {
    auto s = start_server(cfg);
    CHECK(s->ca_file() == dir / "ca.pem");
    CHECK(std::filesystem::exists(dir / "server.pem"));
    rest_client c{s->port(), s->ca_file()};
    CHECK(c.get("/v2/account").status == 200);
  }
  CHECK(std::filesystem::exists(dir / "ca.pem")); // a given directory is kept
  std::filesystem::remove_all(dir);
}

TEST_CASE("requests without the right key pair are answered 401 40110000", "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  c.headers = {};
  auto missing = c.get("/v2/account");
  CHECK(missing.status == 401);
  CHECK(missing.json()["code"].GetInt64() == 40110000);
  CHECK(str(missing.json(), "message") == "request is not authorized");
  c.headers = {{"APCA-API-KEY-ID", "demo-key"}, {"APCA-API-SECRET-KEY", "wrong"}};
  CHECK(c.get("/v2/account").status == 401);
  c.headers = {{"APCA_API_KEY_ID", "demo-key"}, {"APCA_API_SECRET_KEY", "demo-secret"}};
  auto underscores = c.get("/v2/account");
  CHECK(underscores.status == 403);
  CHECK(str(underscores.json(), "message") == "forbidden.");
}

TEST_CASE("the account is ACTIVE with every amount a decimal string", "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  auto r = c.get("/v2/account");
  REQUIRE(r.status == 200);
  CHECK(r.header("content-type").starts_with("application/json"));
  CHECK(!r.header("x-request-id").empty());
  CHECK(r.header("x-ratelimit-limit") == "200");
  auto a = r.json();
  CHECK(str(a, "status") == "ACTIVE");
  CHECK(str(a, "currency") == "USD");
  CHECK(str(a, "cash") == "100000");
  CHECK(str(a, "equity") == "100000");
  CHECK(str(a, "buying_power") == "100000");
  for (const char* field : {"long_market_value", "short_market_value", "portfolio_value",
                            "last_equity", "multiplier", "initial_margin", "maintenance_margin"})
    CHECK(a[field].IsString());
  CHECK(a["pattern_day_trader"].IsBool());
  CHECK(a["daytrade_count"].IsInt());
  CHECK(str(a, "account_number").starts_with("PA3"));
}

TEST_CASE("an empty account has no positions and a missing position is 404", "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  auto r = c.get("/v2/positions");
  CHECK(r.status == 200);
  CHECK(r.body == "[]");
  auto one = c.get("/v2/positions/AAPL");
  CHECK(one.status == 404);
  CHECK(one.json()["code"].GetInt64() == 40410000);
}

TEST_CASE("a market buy is answered 200 pending_new, fills, and opens a long position",
          "[sim][alpaca]") {
  auto cfg = fast_config();
  cfg.paths["AAPL"] = {brokerd::engine::decimal::parse("187.25").value()};
  auto s = start_server(cfg);
  rest_client c{s->port(), s->ca_file()};
  auto r = c.post("/v2/orders", R"({"symbol":"AAPL","qty":"10","side":"buy","type":"market",)"
                                R"("time_in_force":"day","client_order_id":"m-1"})");
  REQUIRE(r.status == 200);
  auto o = r.json();
  CHECK(str(o, "status") == "pending_new");
  CHECK(str(o, "client_order_id") == "m-1");
  CHECK(str(o, "qty") == "10");
  CHECK(str(o, "filled_qty") == "0");
  CHECK(str(o, "order_type") == "market");
  CHECK(o["filled_avg_price"].IsNull());
  for (const char* field : {"filled_at", "expired_at", "canceled_at", "failed_at", "replaced_at",
                            "replaced_by", "replaces", "limit_price", "stop_price", "notional"})
    CHECK((o.HasMember(field) && o[field].IsNull()));
  auto id = str(o, "id");
  REQUIRE(wait_status(c, id, "filled"));
  auto filled = c.get("/v2/orders/" + id).json();
  CHECK(str(filled, "filled_qty") == "10");
  CHECK(str(filled, "filled_avg_price") == "187.25");
  CHECK(filled["filled_at"].IsString());
  auto p = c.get("/v2/positions/AAPL").json();
  CHECK(str(p, "qty") == "10");
  CHECK(str(p, "side") == "long");
  CHECK(str(p, "avg_entry_price") == "187.25");
  CHECK(str(p, "market_value") == "1872.5");
  CHECK(str(c.get("/v2/account").json(), "cash") == "98127.5");
  CHECK(c.get("/v2/positions").json().Size() == 1);
  CHECK(s->statistics().orders_created == 1);
}

TEST_CASE("numbers are accepted where Alpaca takes strings", "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  auto r = c.post("/v2/orders", R"({"symbol":"MSFT","qty":3,"side":"buy","type":"limit",)"
                                R"("limit_price":99.5,"time_in_force":"gtc"})");
  REQUIRE(r.status == 200);
  CHECK(str(r.json(), "limit_price") == "99.5");
  CHECK(str(r.json(), "qty") == "3");
}

TEST_CASE("order requests the rules refuse are answered 422 40010001", "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  auto refused = [&](const std::string& body) {
    auto r = c.post("/v2/orders", body);
    return r.status == 422 && r.json()["code"].GetInt64() == 40010001;
  };
  CHECK(refused(R"({"symbol":"AAPL","qty":"1","side":"buy","type":"limit","time_in_force":"day"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market","limit_price":"1","time_in_force":"day"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"1","side":"buy","type":"stop","time_in_force":"day"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"1","side":"hold","type":"market","time_in_force":"day"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"0","side":"buy","type":"market","time_in_force":"day"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"week"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"0.5","side":"buy","type":"limit","limit_price":"1","time_in_force":"gtc"})"));
  CHECK(refused(R"({"qty":"1","side":"buy","type":"market","time_in_force":"day"})"));
  CHECK(refused(R"({"symbol":"AAPL","qty":"1","side":"buy","type":"market","time_in_force":"day","client_order_id":")" +
                std::string(129, 'x') + "\"}"));
  CHECK(c.post("/v2/orders", "not json").status == 400);
  CHECK(s->statistics().orders_created == 0);
}

TEST_CASE("a client_order_id is unique per account, even after a cancel", "[sim][alpaca]") {
  auto s = start_server();
  s->hold_fills(true);
  rest_client c{s->port(), s->ca_file()};
  std::string body = R"({"symbol":"AAPL","qty":"1","side":"buy","type":"limit",)"
                     R"("limit_price":"50","time_in_force":"day","client_order_id":"dup-1"})";
  auto first = c.post("/v2/orders", body);
  REQUIRE(first.status == 200);
  CHECK(c.del("/v2/orders/" + str(first.json(), "id")).status == 204);
  auto again = c.post("/v2/orders", body);
  CHECK(again.status == 422);
  CHECK(again.json()["code"].GetInt64() == 40010001);
  CHECK(str(again.json(), "message") == "client_order_id must be unique");
  auto st = s->statistics();
  CHECK(st.orders_created == 1);
  CHECK(st.creates_by_client_order_id.at("dup-1") == 1);
  auto by_client = c.get("/v2/orders:by_client_order_id?client_order_id=dup-1");
  CHECK(by_client.status == 200);
  CHECK(str(by_client.json(), "status") == "canceled");
  CHECK(c.get("/v2/orders:by_client_order_id?client_order_id=nope").status == 404);
}

TEST_CASE("cancel answers 204, then 422 once the order is final, unknown ids are 404",
          "[sim][alpaca]") {
  auto s = start_server();
  s->hold_fills(true);
  rest_client c{s->port(), s->ca_file()};
  auto r = c.post("/v2/orders", R"({"symbol":"AAPL","qty":"1","side":"buy","type":"limit",)"
                                R"("limit_price":"50","time_in_force":"gtc"})");
  auto id = str(r.json(), "id");
  auto cancel = c.del("/v2/orders/" + id);
  CHECK(cancel.status == 204);
  CHECK(cancel.body.empty());
  auto o = c.get("/v2/orders/" + id).json();
  CHECK(str(o, "status") == "canceled");
  CHECK(o["canceled_at"].IsString());
  auto twice = c.del("/v2/orders/" + id);
  CHECK(twice.status == 422);
  CHECK(twice.json()["code"].GetInt64() == 42210000);
  CHECK(str(twice.json(), "message") == "order is already in \"canceled\" state");
  CHECK(c.del("/v2/orders/00000000-0000-4000-8000-000000000000").status == 404);
  CHECK(c.get("/v2/orders/00000000-0000-4000-8000-000000000000").status == 404);
  CHECK(c.get("/v2/orders/not-a-uuid").status == 422);
}

TEST_CASE("GET /v2/orders filters by status, symbol and side, newest first, up to limit",
          "[sim][alpaca]") {
  auto s = start_server();
  s->hold_fills(true);
  rest_client c{s->port(), s->ca_file()};
  std::vector<std::string> ids;
  for (const char* sym : {"AAPL", "MSFT", "AAPL"})
    ids.push_back(str(c.post("/v2/orders", std::string{R"({"symbol":")"} + sym +
                                               R"(","qty":"1","side":"buy","type":"limit",)"
                                               R"("limit_price":"50","time_in_force":"day"})")
                          .json(),
                      "id"));
  c.del("/v2/orders/" + ids[0]);
  auto open = c.get("/v2/orders").json();
  REQUIRE(open.Size() == 2);
  CHECK(str(open[0], "id") == ids[2]);
  CHECK(c.get("/v2/orders?status=closed").json().Size() == 1);
  CHECK(c.get("/v2/orders?status=all&limit=2").json().Size() == 2);
  CHECK(c.get("/v2/orders?status=all&symbols=MSFT").json().Size() == 1);
  CHECK(c.get("/v2/orders?status=all&side=sell").json().Size() == 0);
  auto asc = c.get("/v2/orders?status=all&direction=asc").json();
  CHECK(str(asc[0], "id") == ids[0]);
  CHECK(c.get("/v2/orders?status=bogus").status == 422);
}

TEST_CASE("buys beyond buying power and sells beyond the position are 403 40310000",
          "[sim][alpaca]") {
  auto cfg = fast_config();
  cfg.cash = brokerd::engine::decimal::parse("1000").value();
  auto s = start_server(cfg);
  rest_client c{s->port(), s->ca_file()};
  auto buy = c.post("/v2/orders", R"({"symbol":"AAPL","qty":"11","side":"buy","type":"market",)"
                                  R"("time_in_force":"day"})");
  CHECK(buy.status == 403);
  CHECK(buy.json()["code"].GetInt64() == 40310000);
  CHECK(str(buy.json(), "buying_power") == "1000");
  CHECK(str(buy.json(), "cost_basis") == "1100");
  auto sell = c.post("/v2/orders", R"({"symbol":"AAPL","qty":"1","side":"sell","type":"market",)"
                                   R"("time_in_force":"day"})");
  CHECK(sell.status == 403);
  CHECK(str(sell.json(), "message").starts_with("insufficient qty available"));
}

TEST_CASE("beyond requests_per_minute a key gets 429 with Retry-After until the window moves",
          "[sim][alpaca]") {
  auto cfg = fast_config();
  cfg.requests_per_minute = 5;
  cfg.rate_window = milliseconds{600};
  auto s = start_server(cfg);
  rest_client c{s->port(), s->ca_file()};
  for (int i = 0; i < 5; ++i) {
    auto r = c.get("/v2/account");
    REQUIRE(r.status == 200);
    CHECK(r.header("x-ratelimit-remaining") == std::to_string(4 - i));
  }
  auto limited = c.get("/v2/account");
  CHECK(limited.status == 429);
  CHECK(limited.header("retry-after") == "1");
  CHECK(limited.header("x-ratelimit-remaining") == "0");
  CHECK(!limited.header("x-ratelimit-reset").empty());
  CHECK(c.get("/v2/positions").status == 429);
  auto st = s->statistics();
  CHECK(st.rate_limited == 2);
  CHECK(st.max_in_any_minute == 5);
  CHECK(st.requests == 7);
  std::this_thread::sleep_for(milliseconds{650});
  CHECK(c.get("/v2/account").status == 200);
  CHECK(s->statistics().max_in_any_minute == 5);
}

TEST_CASE("the default budget is 200 requests a minute", "[sim][alpaca]") {
  auto s = start_server();
  rest_client c{s->port(), s->ca_file()};
  int ok = 0;
  unsigned last = 0;
  for (int i = 0; i < 201; ++i) {
    last = c.get("/v2/account").status;
    ok += last == 200 ? 1 : 0;
  }
  CHECK(ok == 200);
  CHECK(last == 429);
  auto retry = std::stoi(c.get("/v2/account").header("retry-after"));
  CHECK(retry >= 55);
  CHECK(retry <= 60);
}
