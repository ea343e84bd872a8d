// The Alpaca simulator's rate limit from a client's side: requests sent before a Retry-After
// has run out are counted as early retries.

#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "tests/unit/sim/support/alpaca_test_client.hpp"

using brokerd::test::alpaca::fast_config;
using brokerd::test::alpaca::rest_client;
using brokerd::test::alpaca::start_server;
using brokerd::test::retry_after_seconds;
using std::chrono::milliseconds;

TEST_CASE("a request sent before Retry-After runs out is an early retry and one sent after is not",
          "[sim][alpaca]") {
  auto cfg = fast_config();
  cfg.requests_per_minute = 3;
  cfg.rate_window = milliseconds{2000};
  auto s = start_server(cfg);
  rest_client c{s->port(), s->ca_file()};
  for (int i = 0; i < 3; ++i)
    REQUIRE(c.get("/v2/account").status == 200);
  CHECK(s->statistics().early_retries == 0);

  auto limited = c.get("/v2/account");
  REQUIRE(limited.status == 429);
  auto first_wait = retry_after_seconds(limited.header("retry-after"));
  REQUIRE(first_wait >= 1);
  REQUIRE(first_wait <= 2);
  // The 429 itself was not early: no Retry-After was running when it arrived.
  CHECK(s->statistics().early_retries == 0);

  // Straight away again: still inside the window, so 429 again, and early.
  auto again = c.get("/v2/account");
  CHECK(again.status == 429);
  auto st = s->statistics();
  CHECK(st.early_retries == 1);
  CHECK(st.rate_limited == 2);

  // Waiting the Retry-After last given (it runs from that 429) frees the window.
  auto wait = retry_after_seconds(again.header("retry-after"));
  REQUIRE(wait >= 1);
  std::this_thread::sleep_for(std::chrono::seconds{wait} + milliseconds{50});
  CHECK(c.get("/v2/account").status == 200);
  st = s->statistics();
  CHECK(st.early_retries == 1);
  CHECK(st.rate_limited == 2);
  CHECK(st.requests == 6);
}
