#include "tools/sim/price_paths.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include "tests/unit/sim/support/tws_test_client.hpp"

using brokerd::sim::parse_price_paths;
using brokerd::test::tws::dec;

TEST_CASE("price paths parse per symbol, in order", "[sim]") {
  auto p = parse_price_paths("AAPL=187.25,187.5;MSFT=410");
  REQUIRE(p);
  REQUIRE(p->size() == 2);
  CHECK(p->at("AAPL") == std::vector{dec("187.25"), dec("187.5")});
  CHECK(p->at("MSFT") == std::vector{dec("410")});
  CHECK(parse_price_paths("")->empty());
  CHECK(parse_price_paths("BRK.B=400;")->size() == 1);
}

TEST_CASE("bad price paths are refused naming the entry", "[sim]") {
  CHECK_FALSE(parse_price_paths("AAPL"));
  CHECK_FALSE(parse_price_paths("AAPL="));
  CHECK_FALSE(parse_price_paths("AAPL=1,,2"));
  CHECK_FALSE(parse_price_paths("AAPL=-1"));
  CHECK_FALSE(parse_price_paths("AAPL=0"));
  CHECK_FALSE(parse_price_paths("aapl=1"));
  CHECK_FALSE(parse_price_paths("AAPL=1;AAPL=2"));
  auto e = parse_price_paths("AAPL=1;MSFT=x");
  REQUIRE_FALSE(e);
  CHECK(e.error().find("MSFT") != std::string::npos);
}
