// Fault injection of the Schwab simulator: revoked refresh tokens, access tokens expired
// server-side, creates without Location, injected 5xx answers and slow responses.

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "tests/unit/sim/support/schwab_test_client.hpp"
#include "tools/sim/schwab_wire.hpp"

using brokerd::test::https_client;
using brokerd::test::str;
using brokerd::test::schwab::equity_order;
using brokerd::test::schwab::fast_config;
using brokerd::test::schwab::order_id_of;
using brokerd::test::schwab::refresh_form;
using brokerd::test::schwab::start_server;
using brokerd::test::schwab::token_request;
using brokerd::test::schwab::trader_client;
using std::chrono::milliseconds;

namespace {

constexpr const char* accounts = "/trader/v1/accounts/accountNumbers";

/// "2024-05-18T05:38:44Z".
std::string iso(std::chrono::system_clock::time_point t) {
  return brokerd::sim::schwab::format_time(t).substr(0, 19) + "Z";
}

} // namespace

TEST_CASE("revoke_refresh_tokens kills the refresh token but not the access tokens",
          "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  s->revoke_refresh_tokens();
  auto r = token_request(t, refresh_form());
  CHECK(r.status == 400);
  CHECK(str(r.json(), "error") == "unsupported_token_type");
  CHECK(str(r.json(), "error_description").find("revoked") != std::string::npos);
  CHECK(t.get(accounts).status == 200);
}

TEST_CASE("expire_access_tokens answers the next requests 401 and then lets the token work",
          "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  s->expire_access_tokens(2);
  CHECK(t.get(accounts).status == 401);
  CHECK(t.get(accounts).status == 401);
  CHECK(t.get(accounts).status == 200);
  CHECK(s->statistics().unauthorized == 2);
}

TEST_CASE("expire_access_tokens counts only requests with a valid token", "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  auto token = t.access_token;
  s->expire_access_tokens(1);
  t.use_token("unknown");
  CHECK(t.get(accounts).status == 401);
  t.use_token(token);
  CHECK(t.get(accounts).status == 401); // the injected one
  CHECK(t.get(accounts).status == 200);
}

TEST_CASE("expire_all_access_tokens needs a refresh, whose new token works", "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  s->expire_all_access_tokens();
  CHECK(t.get(accounts).status == 401);
  auto r = token_request(t, refresh_form());
  REQUIRE(r.status == 200);
  t.use_token(str(r.json(), "access_token"));
  CHECK(t.get(accounts).status == 200);
}

TEST_CASE("omit_location answers creates 201 without Location and the orders exist",
          "[sim][schwab]") {
  auto s = start_server();
  s->hold_fills(true);
  trader_client t{*s};
  s->omit_location(1);
  auto r = t.place(equity_order("BUY", 1, "AAPL", "LIMIT", "10"));
  CHECK(r.status == 201);
  CHECK(!r.has_header("location"));
  auto next = t.place(equity_order("BUY", 1, "AAPL", "LIMIT", "10"));
  CHECK(next.status == 201);
  CHECK(next.has_header("location"));
  auto st = s->statistics();
  CHECK(st.orders_created == 2);
  // Two creates of the same terms: what a blind resubmission looks like.
  CHECK(st.creates_by_fingerprint.at("BUY 1 AAPL LIMIT 10 DAY NORMAL") == 2);
  // Both are listed: the client can find the one it lacks the id of (§3.3).
  auto list =
      t.get(t.orders_path() +
            "?fromEnteredTime=" + iso(std::chrono::system_clock::now() - std::chrono::hours{1}) +
            "&toEnteredTime=" + iso(std::chrono::system_clock::now() + std::chrono::hours{1}));
  REQUIRE(list.status == 200);
  CHECK(list.json().Size() == 2);
}

TEST_CASE("fail_next answers the next Schwab requests, OAuth ones included, and changes nothing",
          "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  s->fail_next(3, 503);
  CHECK(t.place(equity_order("BUY", 1, "AAPL", "MARKET")).status == 503);
  CHECK(t.get(accounts).status == 503);
  auto token = token_request(t, refresh_form());
  CHECK(token.status == 503);
  CHECK(str(token.json()["errors"][0], "title") == "Service Unavailable");
  s->fail_next(1, 500);
  CHECK(t.get(accounts).status == 500);
  CHECK(t.get(accounts).status == 200);
  CHECK(s->statistics().orders_created == 0);
}

TEST_CASE("delay_responses lets a Schwab create time out after the order was accepted",
          "[sim][schwab]") {
  auto s = start_server();
  s->hold_fills(true);
  {
    trader_client slow{*s};
    s->delay_responses(milliseconds{800});
    auto r = slow.request("POST", slow.orders_path(), equity_order("BUY", 7, "MSFT", "LIMIT", "10"),
                          milliseconds{200});
    CHECK(r.status == 0); // the client gave up
  }
  s->delay_responses(milliseconds{0});
  auto st = s->statistics();
  CHECK(st.orders_created == 1);
  CHECK(st.creates_by_fingerprint.at("BUY 7 MSFT LIMIT 10 DAY NORMAL") == 1);
}

TEST_CASE("hold_fills keeps orders WORKING until released", "[sim][schwab]") {
  auto s = start_server();
  s->hold_fills(true);
  trader_client t{*s};
  auto id = order_id_of(t.place(equity_order("BUY", 1, "AAPL", "MARKET")));
  REQUIRE(t.wait_status(id, "WORKING"));
  std::this_thread::sleep_for(milliseconds{80});
  CHECK(str(t.order(id).json(), "status") == "WORKING");
  s->hold_fills(false);
  CHECK(t.wait_status(id, "FILLED"));
}
