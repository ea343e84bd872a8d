// The Schwab simulator's orders over real TLS sockets: creation with its Location header,
// validation, each order type through its life, partial fills, cancels, the order JSON and the
// orders list window.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "tests/unit/sim/support/schwab_test_client.hpp"
#include "tools/sim/schwab_wire.hpp"

using brokerd::engine::decimal;
using brokerd::test::http_reply;
using brokerd::test::str;
using brokerd::test::schwab::equity_order;
using brokerd::test::schwab::fast_config;
using brokerd::test::schwab::form_encode;
using brokerd::test::schwab::order_id_of;
using brokerd::test::schwab::start_server;
using brokerd::test::schwab::trader_client;
using std::chrono::milliseconds;

namespace {

decimal d(const char* text) {
  return decimal::parse(text).value();
}

/// The GET of order `id` as JSON.
rapidjson::Document fetch(trader_client& t, const std::string& id) {
  auto r = t.order(id);
  REQUIRE(r.status == 200);
  return r.json();
}

std::string iso(std::chrono::system_clock::time_point t) {
  auto text = brokerd::sim::schwab::format_time(t); // "...+0000"
  return text.substr(0, 19) + "Z";
}

std::string window_query(std::chrono::system_clock::time_point from,
                         std::chrono::system_clock::time_point to) {
  return "?fromEnteredTime=" + form_encode(iso(from)) + "&toEnteredTime=" + form_encode(iso(to));
}

} // namespace

TEST_CASE("a create answers 201 with no body and an absolute Location with the numeric id",
          "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  s->hold_fills(true);
  auto r = t.place(equity_order("BUY", 1, "AAPL", "LIMIT", R"("100.00")"));
  REQUIRE(r.status == 201);
  CHECK(r.body.empty());
  auto location = r.header("location");
  auto expected_prefix = "https://127.0.0.1/trader/v1/accounts/" + s->account_hash() + "/orders/";
  CHECK(location.starts_with(expected_prefix));
  auto id = order_id_of(r);
  CHECK(id.size() == 13);
  CHECK(id.find_first_not_of("0123456789") == std::string::npos);
  auto o = fetch(t, id);
  CHECK(o["orderId"].IsInt64());
  CHECK(std::to_string(o["orderId"].GetInt64()) == id);
  CHECK(s->statistics().orders_created == 1);
  CHECK(s->statistics().creates_by_fingerprint.at("BUY 1 AAPL LIMIT 100 DAY NORMAL") == 1);
}

TEST_CASE("location_origin replaces the request's host in Location", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.location_origin = "https://api.schwabapi.com";
  auto s = start_server(cfg);
  trader_client t{*s};
  auto r = t.place(equity_order("BUY", 1, "AAPL", "MARKET"));
  REQUIRE(r.status == 201);
  CHECK(r.header("location") == "https://api.schwabapi.com/trader/v1/accounts/" +
                                    s->account_hash() + "/orders/" + order_id_of(r));
}

TEST_CASE("a market order fills on a tick and its JSON has the quirks of the reference",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.paths["AAPL"] = {d("187.25")};
  auto s = start_server(cfg);
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 2, "AAPL", "MARKET")));
  REQUIRE(t.wait_status(id, "FILLED"));
  auto o = fetch(t, id);
  CHECK(o["accountNumber"].IsInt64()); // a number here, a string in the account
  CHECK(o["accountNumber"].GetInt64() == 12345678);
  CHECK(o["quantity"].IsDouble());
  CHECK(o["quantity"].GetDouble() == 2.0);
  CHECK(o["filledQuantity"].GetDouble() == 2.0);
  CHECK(o["remainingQuantity"].GetDouble() == 0.0);
  CHECK(!o.HasMember("price"));
  CHECK(str(o, "orderType") == "MARKET");
  CHECK(str(o, "session") == "NORMAL");
  CHECK(str(o, "duration") == "DAY");
  CHECK(str(o, "orderStrategyType") == "SINGLE");
  CHECK(o["cancelable"].IsFalse());
  auto entered = str(o, "enteredTime");
  CHECK(entered.size() == 24);
  CHECK(entered.ends_with("+0000"));
  CHECK(str(o, "closeTime").ends_with("+0000"));
  const auto& leg = o["orderLegCollection"][0];
  CHECK(str(leg, "instruction") == "BUY");
  CHECK(str(leg, "positionEffect") == "OPENING");
  CHECK(str(leg["instrument"], "symbol") == "AAPL");
  CHECK(str(leg["instrument"], "assetType") == "EQUITY");
  const auto& acts = o["orderActivityCollection"];
  REQUIRE(acts.Size() == 1);
  CHECK(str(acts[0], "activityType") == "EXECUTION");
  CHECK(str(acts[0], "executionType") == "FILL");
  CHECK(acts[0]["quantity"].GetDouble() == 2.0);
  CHECK(acts[0]["executionLegs"][0]["price"].GetDouble() == 187.25);
  CHECK(acts[0]["executionLegs"][0]["quantity"].GetDouble() == 2.0);
  CHECK(str(acts[0]["executionLegs"][0], "time").ends_with("+0000"));
}

TEST_CASE("a limit order works until the price reaches the limit, then fills at the market",
          "[sim][schwab]") {
  auto s = start_server();
  s->set_price("MSFT", d("410"));
  trader_client t{*s};
  auto r = t.place(equity_order("BUY", 3, "MSFT", "LIMIT", "400.5"));
  REQUIRE(r.status == 201);
  auto id = order_id_of(r);
  REQUIRE(t.wait_status(id, "WORKING"));
  auto o = fetch(t, id);
  CHECK(o["price"].GetDouble() == 400.5);
  CHECK(o["cancelable"].IsTrue());
  CHECK(o["remainingQuantity"].GetDouble() == 3.0);
  std::this_thread::sleep_for(milliseconds{60});
  CHECK(str(fetch(t, id), "status") == "WORKING");
  s->set_price("MSFT", d("399"));
  REQUIRE(t.wait_status(id, "FILLED"));
  CHECK(fetch(t, id)["orderActivityCollection"][0]["executionLegs"][0]["price"].GetDouble() ==
        399.0);
}

TEST_CASE("a limit price sent as a string is echoed as a number", "[sim][schwab]") {
  auto s = start_server();
  s->hold_fills(true);
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 1, "AAPL", "LIMIT", R"("12.34")")));
  auto o = fetch(t, id);
  CHECK(o["price"].IsDouble());
  CHECK(o["price"].GetDouble() == 12.34);
}

TEST_CASE("a stop order waits for its trigger and then fills at the market", "[sim][schwab]") {
  auto s = start_server();
  s->set_price("AAPL", d("100"));
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 1, "AAPL", "STOP", {}, "105")));
  REQUIRE(t.wait_status(id, "WORKING"));
  std::this_thread::sleep_for(milliseconds{60});
  CHECK(str(fetch(t, id), "status") == "WORKING");
  CHECK(fetch(t, id)["stopPrice"].GetDouble() == 105.0);
  s->set_price("AAPL", d("106"));
  REQUIRE(t.wait_status(id, "FILLED"));
  CHECK(fetch(t, id)["orderActivityCollection"][0]["executionLegs"][0]["price"].GetDouble() ==
        106.0);
}

TEST_CASE("a stop-limit order triggers at the stop and fills only within its limit",
          "[sim][schwab]") {
  auto s = start_server();
  s->set_price("AAPL", d("100"));
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 1, "AAPL", "STOP_LIMIT", "106", "105")));
  REQUIRE(t.wait_status(id, "WORKING"));
  s->set_price("AAPL", d("107")); // triggers, but above the limit
  std::this_thread::sleep_for(milliseconds{80});
  CHECK(str(fetch(t, id), "status") == "WORKING");
  s->set_price("AAPL", d("105.5"));
  REQUIRE(t.wait_status(id, "FILLED"));
  auto o = fetch(t, id);
  CHECK(o["price"].GetDouble() == 106.0);
  CHECK(o["stopPrice"].GetDouble() == 105.0);
}

TEST_CASE("a large order fills in parts over ticks and stays WORKING in between", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.fill_chunk = d("4");
  cfg.tick = milliseconds{60};
  auto s = start_server(cfg);
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 10, "AAPL", "MARKET")));
  bool saw_partial = false;
  auto deadline = std::chrono::steady_clock::now() + milliseconds{3000};
  while (std::chrono::steady_clock::now() < deadline) {
    auto o = fetch(t, id);
    auto filled = o["filledQuantity"].GetDouble();
    if (str(o, "status") == "WORKING" && filled > 0.0) {
      saw_partial = true;
      CHECK(o["remainingQuantity"].GetDouble() == 10.0 - filled);
    }
    if (str(o, "status") == "FILLED")
      break;
    std::this_thread::sleep_for(milliseconds{10});
  }
  CHECK(saw_partial);
  auto o = fetch(t, id);
  REQUIRE(str(o, "status") == "FILLED");
  const auto& acts = o["orderActivityCollection"];
  REQUIRE(acts.Size() == 3); // 4 + 4 + 2
  CHECK(acts[0]["quantity"].GetDouble() == 4.0);
  CHECK(acts[0]["orderRemainingQuantity"].GetDouble() == 6.0);
  CHECK(acts[2]["quantity"].GetDouble() == 2.0);
  CHECK(acts[2]["orderRemainingQuantity"].GetDouble() == 0.0);
}

TEST_CASE("a cancel answers 200 empty, goes through PENDING_CANCEL and ends CANCELED",
          "[sim][schwab]") {
  auto cfg = fast_config();
  // Slow ticks: the GET right after the DELETE sees PENDING_CANCEL before a tick ends it.
  cfg.tick = milliseconds{750};
  auto s = start_server(cfg);
  s->hold_fills(true);
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 5, "AAPL", "LIMIT", "50")));
  REQUIRE(t.wait_status(id, "WORKING"));
  auto r = t.del(t.orders_path() + "/" + id);
  CHECK(r.status == 200);
  CHECK(r.body.empty());
  auto pending = fetch(t, id);
  CHECK(str(pending, "status") == "PENDING_CANCEL");
  CHECK(pending["cancelable"].IsFalse());
  REQUIRE(t.wait_status(id, "CANCELED"));
  auto o = fetch(t, id);
  CHECK(o["remainingQuantity"].GetDouble() == 0.0); // §5: 0 although nothing filled
  CHECK(o["filledQuantity"].GetDouble() == 0.0);
  CHECK(str(o, "closeTime").ends_with("+0000"));
  CHECK(str(o["orderActivityCollection"][0], "executionType") == "CANCELED");
  auto again = t.del(t.orders_path() + "/" + id);
  CHECK(again.status == 400);
  CHECK(str(again.json(), "message").find("cannot be canceled") != std::string::npos);
  CHECK(t.del(t.orders_path() + "/9999999999999").status == 404);
  CHECK(t.order("9999999999999").status == 404);
}

TEST_CASE("a partly filled order that is canceled keeps its fills", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.fill_chunk = d("1"); // ten ticks to fill: time enough to hold the rest
  cfg.tick = milliseconds{50};
  auto s = start_server(cfg);
  s->set_price("AAPL", d("100"));
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 10, "AAPL", "LIMIT", "100")));
  auto deadline = std::chrono::steady_clock::now() + milliseconds{3000};
  while (fetch(t, id)["filledQuantity"].GetDouble() == 0.0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds{5});
  s->hold_fills(true);
  REQUIRE(t.del(t.orders_path() + "/" + id).status == 200);
  REQUIRE(t.wait_status(id, "CANCELED"));
  auto o = fetch(t, id);
  CHECK(o["filledQuantity"].GetDouble() > 0.0);
  CHECK(o["filledQuantity"].GetDouble() < 10.0);
  CHECK(o["remainingQuantity"].GetDouble() == 0.0);
}

TEST_CASE("IMMEDIATE_OR_CANCEL fills what it can and FILL_OR_KILL all or nothing",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.fill_chunk = d("5");
  auto s = start_server(cfg);
  trader_client t{*s};
  auto ioc =
      order_id_of(t.place(equity_order("BUY", 8, "AAPL", "MARKET", {}, {}, "IMMEDIATE_OR_CANCEL")));
  REQUIRE(t.wait_status(ioc, "CANCELED"));
  CHECK(fetch(t, ioc)["filledQuantity"].GetDouble() == 5.0);
  auto fok = order_id_of(t.place(equity_order("BUY", 8, "AAPL", "MARKET", {}, {}, "FILL_OR_KILL")));
  REQUIRE(t.wait_status(fok, "CANCELED"));
  CHECK(fetch(t, fok)["filledQuantity"].GetDouble() == 0.0);
  auto small =
      order_id_of(t.place(equity_order("BUY", 5, "AAPL", "MARKET", {}, {}, "FILL_OR_KILL")));
  CHECK(t.wait_status(small, "FILLED"));
}

TEST_CASE("a sell closes the position and returns the cash", "[sim][schwab]") {
  auto s = start_server();
  s->set_price("AAPL", d("100"));
  trader_client t{*s};
  REQUIRE(t.wait_status(order_id_of(t.place(equity_order("BUY", 4, "AAPL", "MARKET"))), "FILLED"));
  s->set_price("AAPL", d("110"));
  auto sell = order_id_of(t.place(equity_order("SELL", 4, "AAPL", "MARKET")));
  REQUIRE(t.wait_status(sell, "FILLED"));
  CHECK(str(fetch(t, sell)["orderLegCollection"][0], "positionEffect") == "CLOSING");
  auto a = t.get("/trader/v1/accounts/" + t.hash + "?fields=positions").json();
  CHECK(!a["securitiesAccount"].HasMember("positions"));
  CHECK(a["securitiesAccount"]["currentBalances"]["cashBalance"].GetDouble() == 100040.0);
}

TEST_CASE("orders the account cannot carry are accepted and then REJECTED with a description",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.cash = d("1000");
  auto s = start_server(cfg);
  s->set_price("AAPL", d("100"));
  trader_client t{*s};
  auto expect_rejected = [&](const std::string& order, const std::string& words) {
    auto r = t.place(order);
    REQUIRE(r.status == 201);
    auto id = order_id_of(r);
    REQUIRE(t.wait_status(id, "REJECTED"));
    auto o = fetch(t, id);
    CHECK(str(o, "statusDescription").find(words) != std::string::npos);
    CHECK(o["remainingQuantity"].GetDouble() == 0.0);
    CHECK(o.HasMember("closeTime"));
  };
  expect_rejected(equity_order("BUY", 1, "AAPL", "LIMIT", "99.999"), "no more than two decimals");
  expect_rejected(equity_order("BUY", 1, "PENNY", "LIMIT", "0.12345"), "no more than four");
  expect_rejected(equity_order("BUY", 11, "AAPL", "MARKET"), "Insufficient funds");
  expect_rejected(equity_order("SELL", 1, "AAPL", "MARKET"), "Insufficient shares");
  expect_rejected(equity_order("SELL_SHORT", 1, "AAPL", "MARKET"), "cash account");
  expect_rejected(equity_order("BUY_TO_COVER", 1, "AAPL", "MARKET"), "no short position");
  auto fine = order_id_of(t.place(equity_order("BUY", 1, "PENNY", "LIMIT", "0.1234")));
  CHECK(t.wait_status(fine, "WORKING"));
}

TEST_CASE("orders that do not follow the request shape are refused with 400", "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  auto refused = [&](const std::string& body, const std::string& words) {
    auto r = t.place(body);
    CHECK(r.status == 400);
    auto d = r.json();
    CHECK(str(d, "message") != "<none>");
    REQUIRE(d.HasMember("errors"));
    CHECK(std::string{d["errors"][0].GetString()}.find(words) != std::string::npos);
  };
  refused("not json", "not a JSON object");
  refused(equity_order("BUY", 1, "AAPL", "TRAILING_STOP"), "orderType");
  refused(equity_order("BUY", 1, "AAPL", "LIMIT"), "price is required");
  refused(equity_order("BUY", 1, "AAPL", "MARKET", "10"), "price must not be given");
  refused(equity_order("BUY", 1, "AAPL", "STOP"), "stopPrice is required");
  refused(equity_order("BUY", 1, "AAPL", "LIMIT", "10", "9"), "stopPrice must not be given");
  refused(equity_order("BUY", 1, "AAPL", "STOP_LIMIT", "10"), "stopPrice is required");
  refused(equity_order("BUY", 1, "AAPL", "LIMIT", "-1"), "positive");
  refused(equity_order("BUY", 0, "AAPL", "MARKET"), "quantity");
  refused(equity_order("HOLD", 1, "AAPL", "MARKET"), "instruction");
  refused(equity_order("BUY", 1, "AAPL", "MARKET", {}, {}, "FOREVER"), "duration");
  refused(
      R"({"orderType":"MARKET","session":"NORMAL","duration":"DAY","orderStrategyType":"SINGLE",)"
      R"("orderLegCollection":[{"instruction":"BUY","quantity":1.5,"instrument":{"symbol":"AAPL","assetType":"EQUITY"}}]})",
      "fractional");
  refused(
      R"({"orderType":"MARKET","session":"NORMAL","duration":"DAY","orderStrategyType":"SINGLE",)"
      R"("orderLegCollection":[{"instruction":"BUY","quantity":1,"instrument":{"symbol":"AAPL","assetType":"OPTION"}}]})",
      "assetType");
  refused(
      R"({"orderType":"MARKET","session":"NORMAL","duration":"DAY","orderStrategyType":"OCO",)"
      R"("orderLegCollection":[{"instruction":"BUY","quantity":1,"instrument":{"symbol":"AAPL","assetType":"EQUITY"}}]})",
      "not simulated");
  refused(
      R"({"orderType":"MARKET","session":"LATE","duration":"DAY","orderStrategyType":"SINGLE",)"
      R"("orderLegCollection":[{"instruction":"BUY","quantity":1,"instrument":{"symbol":"AAPL","assetType":"EQUITY"}}]})",
      "session");
  refused(
      R"({"orderType":"MARKET","session":"NORMAL","duration":"DAY","orderStrategyType":"SINGLE",)"
      R"("orderLegCollection":[]})",
      "one leg");
  CHECK(s->statistics().orders_created == 0);
}

TEST_CASE("the orders list needs both times within 60 days and filters on enteredTime",
          "[sim][schwab]") {
  auto s = start_server();
  s->hold_fills(true);
  trader_client t{*s};
  using namespace std::chrono;
  auto now = system_clock::now();
  auto first = order_id_of(t.place(equity_order("BUY", 1, "AAPL", "LIMIT", "10")));
  auto second = order_id_of(t.place(equity_order("BUY", 2, "AAPL", "LIMIT", "10")));
  REQUIRE(t.wait_status(second, "WORKING"));

  auto list = t.get(t.orders_path() + window_query(now - hours{1}, now + hours{1}));
  REQUIRE(list.status == 200);
  auto d = list.json();
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 2);
  CHECK(std::to_string(d[0]["orderId"].GetInt64()) == second); // newest first
  CHECK(std::to_string(d[1]["orderId"].GetInt64()) == first);

  CHECK(t.get(t.orders_path() + window_query(now - hours{3}, now - hours{2})).json().Size() == 0);
  CHECK(t.get(t.orders_path() + window_query(now - hours{1}, now + hours{1}) + "&maxResults=1")
            .json()
            .Size() == 1);
  CHECK(t.get(t.orders_path() + window_query(now - hours{1}, now + hours{1}) + "&status=FILLED")
            .json()
            .Size() == 0);
  CHECK(t.get("/trader/v1/orders" + window_query(now - hours{1}, now + hours{1})).json().Size() ==
        2);

  // The three formats of §3.4 (the query percent-encoded as URLSearchParams does).
  auto day = iso(now - hours{24}).substr(0, 10);
  auto tomorrow = iso(now + hours{24}).substr(0, 10);
  for (const auto& [from, to] : {std::pair{day + "T00:00:00.000Z", tomorrow + "T00:00:00.000Z"},
                                 std::pair{day + "T02:00:00+02:00", tomorrow + "T02:00:00+02:00"},
                                 std::pair{day + "T00:00:00Z", tomorrow + "T00:00:00Z"}}) {
    auto r = t.get(t.orders_path() + "?fromEnteredTime=" + form_encode(from) +
                   "&toEnteredTime=" + form_encode(to));
    CHECK(r.status == 200);
    CHECK(r.json().Size() == 2);
  }

  auto bad = [&](const std::string& query) {
    auto r = t.get(t.orders_path() + query);
    CHECK(r.status == 400);
    CHECK(str(r.json(), "message") != "<none>");
  };
  bad("");
  bad("?fromEnteredTime=" + form_encode(iso(now - hours{1})));
  bad("?toEnteredTime=" + form_encode(iso(now)));
  bad("?fromEnteredTime=yesterday&toEnteredTime=today");
  bad(window_query(now, now - hours{1}));                        // from after to
  bad(window_query(now - hours{24 * 61}, now));                  // more than 60 days
  bad(window_query(now - hours{24 * 70}, now - hours{24 * 65})); // older than 60 days
  bad(window_query(now - hours{1}, now) + "&status=PARTIAL");
  bad(window_query(now - hours{1}, now) + "&maxResults=0");
}
