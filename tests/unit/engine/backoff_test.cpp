#include "engine/backoff.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <vector>

using brokerd::engine::backoff;
using namespace std::chrono_literals;

namespace {

std::vector<backoff::duration> draw(backoff& b, std::size_t count) {
  std::vector<backoff::duration> out;
  for (std::size_t i = 0; i < count; ++i)
    out.push_back(b.next());
  return out;
}

} // namespace

TEST_CASE("the same seed gives the same sequence of delays", "[backoff]") {
  backoff a{500ms, 60s, 1234};
  backoff b{500ms, 60s, 1234};
  auto first = draw(a, 100);
  CHECK(first == draw(b, 100));
  a.reset();
  b.reset();
  CHECK(draw(a, 20) == draw(b, 20));
}

TEST_CASE("different seeds give different sequences", "[backoff]") {
  backoff a{500ms, 60s, 1};
  backoff b{500ms, 60s, 2};
  CHECK(draw(a, 30) != draw(b, 30));
}

TEST_CASE("the ceiling doubles from the initial delay until it reaches the cap", "[backoff]") {
  backoff b{500ms, 60s, 7};
  std::vector<backoff::duration> ceilings;
  for (int i = 0; i < 12; ++i) {
    ceilings.push_back(b.ceiling());
    b.next();
  }
  CHECK(ceilings ==
        std::vector<backoff::duration>{500ms, 1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s, 60s, 60s, 60s});
}

TEST_CASE("a cap that is not a power-of-two multiple is reached exactly", "[backoff]") {
  backoff b{300ms, 1s, 7};
  CHECK(b.ceiling() == 300ms);
  b.next();
  CHECK(b.ceiling() == 600ms);
  b.next();
  CHECK(b.ceiling() == 1s);
  b.next();
  CHECK(b.ceiling() == 1s);
}

TEST_CASE("a cap equal to the initial delay keeps the ceiling constant", "[backoff]") {
  backoff b{250ms, 250ms, 3};
  for (int i = 0; i < 10; ++i) {
    CHECK(b.ceiling() == 250ms);
    auto d = b.next();
    CHECK(d >= 125ms);
    CHECK(d <= 250ms);
  }
}

TEST_CASE("every delay lies between half the ceiling and the ceiling", "[backoff]") {
  for (std::uint64_t seed : {0u, 1u, 17u, 123456789u}) {
    INFO("seed " << seed);
    backoff b{500ms, 60s, seed};
    for (int i = 0; i < 200; ++i) {
      auto ceiling = b.ceiling();
      auto d = b.next();
      INFO("attempt " << i << " ceiling " << ceiling.count() << " delay " << d.count());
      CHECK(d >= ceiling / 2);
      CHECK(d <= ceiling);
      if (i % 25 == 24)
        b.reset();
    }
  }
}

TEST_CASE("the jitter spreads delays across the whole range", "[backoff]") {
  backoff b{1s, 1s, 99};
  std::set<std::int64_t> seen;
  std::size_t lower_half = 0;
  for (int i = 0; i < 1'000; ++i) {
    auto d = b.next();
    seen.insert(d.count());
    if (d < 750ms)
      ++lower_half;
  }
  CHECK(seen.size() > 300);
  CHECK(lower_half > 350);
  CHECK(lower_half < 650);
}

TEST_CASE("attempts count every next and reset starts over from the initial delay", "[backoff]") {
  backoff b{500ms, 60s, 5};
  CHECK(b.attempts() == 0);
  draw(b, 6);
  CHECK(b.attempts() == 6);
  CHECK(b.ceiling() == 32s);
  b.reset();
  CHECK(b.attempts() == 0);
  CHECK(b.ceiling() == 500ms);
  auto d = b.next();
  CHECK(d >= 250ms);
  CHECK(d <= 500ms);
  CHECK(b.attempts() == 1);
}

TEST_CASE("a long outage stays at the cap without overflowing", "[backoff]") {
  backoff b{1ms, 60s, 11};
  for (int i = 0; i < 100'000; ++i) {
    auto d = b.next();
    REQUIRE(d >= 0ms);
    REQUIRE(d <= 60s);
  }
  CHECK(b.ceiling() == 60s);
  CHECK(b.attempts() == 100'000);
}

TEST_CASE("a one millisecond initial delay may draw zero or one", "[backoff]") {
  backoff b{1ms, 1ms, 4};
  std::set<std::int64_t> seen;
  for (int i = 0; i < 100; ++i)
    seen.insert(b.next().count());
  CHECK(seen == std::set<std::int64_t>{0, 1});
}

TEST_CASE("a non-positive initial delay or a cap below it is refused", "[backoff]") {
  CHECK_THROWS_AS(backoff(0ms, 1s, 1), std::invalid_argument);
  CHECK_THROWS_AS(backoff(-1ms, 1s, 1), std::invalid_argument);
  CHECK_THROWS_AS(backoff(2s, 1s, 1), std::invalid_argument);
  CHECK_NOTHROW(backoff(1s, 1s, 1));
}
