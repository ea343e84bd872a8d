// The Schwab simulator's throttle from a client's side: a strict sliding window per app over
// the Trader API, 429 with Retry-After, early retries counted.

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "tests/unit/sim/support/schwab_test_client.hpp"

using brokerd::test::retry_after_seconds;
using brokerd::test::str;
using brokerd::test::schwab::fast_config;
using brokerd::test::schwab::refresh_form;
using brokerd::test::schwab::start_server;
using brokerd::test::schwab::token_request;
using brokerd::test::schwab::trader_client;
using std::chrono::milliseconds;

TEST_CASE("the Trader API answers 429 with Retry-After past the window and counts early retries",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.requests_per_minute = 3;
  cfg.rate_window = milliseconds{2000};
  auto s = start_server(cfg);
  trader_client t{*s};
  for (int i = 0; i < 3; ++i)
    REQUIRE(t.get("/trader/v1/accounts/accountNumbers").status == 200);

  auto limited = t.get("/trader/v1/accounts/accountNumbers");
  REQUIRE(limited.status == 429);
  auto d = limited.json();
  REQUIRE(d.HasMember("errors"));
  CHECK(d["errors"][0]["status"].GetInt() == 429);
  auto first_wait = retry_after_seconds(limited.header("retry-after"));
  REQUIRE(first_wait >= 1);
  REQUIRE(first_wait <= 2);
  CHECK(s->statistics().early_retries == 0);

  // The token endpoint is not throttled.
  CHECK(token_request(t, refresh_form()).status == 200);

  auto again = t.get("/trader/v1/accounts/accountNumbers");
  CHECK(again.status == 429);
  auto st = s->statistics();
  CHECK(st.early_retries == 1);
  CHECK(st.rate_limited == 2);
  CHECK(st.max_in_any_minute == 3);

  auto wait = retry_after_seconds(again.header("retry-after"));
  REQUIRE(wait >= 1);
  std::this_thread::sleep_for(std::chrono::seconds{wait} + milliseconds{50});
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
  st = s->statistics();
  CHECK(st.early_retries == 1);
  CHECK(st.rate_limited == 2);
  CHECK(st.requests == 8); // 1 + 3 + 1 + 1 + 1 + 1: the first is the refresh grant
}

TEST_CASE("every access token of the app shares one window", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.requests_per_minute = 2;
  cfg.rate_window = milliseconds{5000};
  auto s = start_server(cfg);
  trader_client a{*s};
  trader_client b{*s};
  CHECK(a.get("/trader/v1/accounts/accountNumbers").status == 200);
  CHECK(b.get("/trader/v1/accounts/accountNumbers").status == 200);
  CHECK(a.get("/trader/v1/accounts/accountNumbers").status == 429);
  CHECK(b.get("/trader/v1/accounts/accountNumbers").status == 429);
}

TEST_CASE("retry_after off leaves the header out and still counts early retries", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.requests_per_minute = 1;
  cfg.rate_window = milliseconds{3000};
  cfg.retry_after = false;
  auto s = start_server(cfg);
  trader_client t{*s};
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
  auto limited = t.get("/trader/v1/accounts/accountNumbers");
  CHECK(limited.status == 429);
  CHECK(!limited.has_header("retry-after"));
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 429);
  CHECK(s->statistics().early_retries == 1);
}

TEST_CASE("requests without a valid token are not counted in the window", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.requests_per_minute = 1;
  cfg.rate_window = milliseconds{5000};
  auto s = start_server(cfg);
  trader_client t{*s};
  auto token = t.access_token;
  t.use_token("wrong");
  for (int i = 0; i < 3; ++i)
    CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 401);
  t.use_token(token);
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
  CHECK(str(t.get("/trader/v1/accounts/accountNumbers").json()["errors"][0], "title") ==
        "Too Many Requests");
}
