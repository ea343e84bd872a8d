#include "engine/token_bucket.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

using brokerd::engine::nanos;
using brokerd::engine::sliding_window;
using brokerd::engine::steady_time;
using brokerd::engine::token_bucket;
using namespace std::chrono_literals;

namespace {

/// The fake clock's start: any point will do, tests only move forward from it.
const steady_time t0 = steady_time{} + 1h;

/// A pseudo-random request schedule: bursts of simultaneous requests, short and long gaps.
std::vector<steady_time> random_schedule(std::uint64_t seed, std::size_t count, nanos max_gap) {
  std::mt19937_64 rng{seed};
  std::uniform_int_distribution<int> kind{0, 9};
  std::uniform_int_distribution<std::int64_t> gap{1, max_gap.count()};
  std::vector<steady_time> out;
  auto now = t0;
  for (std::size_t i = 0; i < count; ++i) {
    auto k = kind(rng);
    if (k >= 4) // 40 % arrive at the same instant as the previous one
      now += nanos{k >= 8 ? gap(rng) : gap(rng) / 20};
    out.push_back(now);
  }
  return out;
}

} // namespace

TEST_CASE("a full bucket lets a burst through, then one token per interval", "[token_bucket]") {
  auto bucket = token_bucket::per_period(50, 1s, 5, t0);
  REQUIRE(bucket.interval() == 20ms);
  REQUIRE(bucket.burst() == 5);
  CHECK(bucket.available(t0) == 5);
  for (int i = 0; i < 5; ++i)
    CHECK(bucket.try_take(t0));
  CHECK(bucket.available(t0) == 0);
  CHECK_FALSE(bucket.try_take(t0));

  auto now = t0;
  for (int i = 0; i < 100; ++i) {
    CHECK_FALSE(bucket.try_take(now + 19ms));
    now += 20ms;
    CHECK(bucket.try_take(now));
    CHECK_FALSE(bucket.try_take(now));
  }
  // 5 + 100 tokens in 2 s at 50/s with a burst of 5.
}

TEST_CASE("an idle bucket refills to its burst and no further", "[token_bucket]") {
  token_bucket bucket{20ms, 5, t0};
  for (int i = 0; i < 5; ++i)
    REQUIRE(bucket.try_take(t0));
  CHECK(bucket.available(t0 + 20ms) == 1);
  CHECK(bucket.available(t0 + 39ms) == 1);
  CHECK(bucket.available(t0 + 40ms) == 2);
  CHECK(bucket.available(t0 + 100ms) == 5);
  CHECK(bucket.available(t0 + 1h) == 5);
  auto later = t0 + 1h;
  for (int i = 0; i < 5; ++i)
    CHECK(bucket.try_take(later));
  CHECK_FALSE(bucket.try_take(later));
}

TEST_CASE("wait_time is zero exactly when a token is available and exact otherwise",
          "[token_bucket]") {
  token_bucket bucket{20ms, 2, t0};
  CHECK(bucket.wait_time(t0) == 0ns);
  REQUIRE(bucket.try_take(t0));
  CHECK(bucket.wait_time(t0) == 0ns);
  REQUIRE(bucket.try_take(t0 + 5ms));
  // Two taken: the first refill comes at t0 + 20 ms.
  CHECK(bucket.wait_time(t0 + 5ms) == 15ms);
  CHECK(bucket.wait_time(t0 + 20ms - 1ns) == 1ns);
  CHECK_FALSE(bucket.try_take(t0 + 20ms - 1ns));
  CHECK(bucket.wait_time(t0 + 20ms) == 0ns);
  CHECK(bucket.try_take(t0 + 20ms));
  CHECK(bucket.wait_time(t0 + 20ms) == 20ms);
}

TEST_CASE("waiting exactly wait_time always finds a token", "[token_bucket]") {
  auto schedule = random_schedule(7, 5'000, 30ms);
  token_bucket bucket{7ms, 3, t0};
  auto now = t0;
  for (auto arrival : schedule) {
    now = std::max(now, arrival);
    auto wait = bucket.wait_time(now);
    CHECK((wait > 0ns) == (bucket.available(now) == 0));
    if (wait == 0ns) {
      REQUIRE(bucket.try_take(now));
      continue;
    }
    CHECK_FALSE(bucket.try_take(now));
    CHECK_FALSE(bucket.try_take(now + wait - 1ns));
    now += wait;
    REQUIRE(bucket.try_take(now));
  }
}

TEST_CASE("no span of time sees more than burst plus elapsed over interval tokens",
          "[token_bucket]") {
  for (std::uint64_t seed : {1u, 2u, 3u, 42u}) {
    INFO("seed " << seed);
    const nanos interval = 20ms;
    const std::uint32_t burst = 5;
    token_bucket bucket{interval, burst, t0};
    std::vector<steady_time> taken;
    for (auto now : random_schedule(seed, 20'000, 60ms))
      if (bucket.try_take(now))
        taken.push_back(now);
    REQUIRE(taken.size() > 1'000);
    std::size_t violations = 0;
    for (std::size_t j = 0; j < taken.size(); ++j) {
      for (std::size_t i = 0; i <= j; ++i) {
        auto count = static_cast<std::int64_t>(j - i + 1);
        auto allowed = static_cast<std::int64_t>(burst) + (taken[j] - taken[i]) / interval;
        if (count > allowed)
          ++violations;
      }
    }
    CHECK(violations == 0);
  }
}

TEST_CASE("a saturated bucket delivers its full sustained rate", "[token_bucket]") {
  token_bucket bucket{20ms, 5, t0};
  std::size_t taken = 0;
  for (auto now = t0; now <= t0 + 10s; now += 1ms)
    while (bucket.try_take(now))
      ++taken;
  // 5 at once, then one every 20 ms for 10 s.
  CHECK(taken == 5 + 500);
}

TEST_CASE("block_until holds every token until the deadline and not a nanosecond longer",
          "[token_bucket]") {
  token_bucket bucket{20ms, 5, t0};
  bucket.block_until(t0 + 2s);
  CHECK(bucket.available(t0) == 0);
  CHECK(bucket.wait_time(t0) == 2s);
  CHECK(bucket.wait_time(t0 + 1500ms) == 500ms);
  for (auto now = t0; now < t0 + 2s; now += 10ms)
    CHECK_FALSE(bucket.try_take(now));
  CHECK_FALSE(bucket.try_take(t0 + 2s - 1ns));
  // The tokens saved up meanwhile are all there at the deadline.
  CHECK(bucket.available(t0 + 2s) == 5);
  for (int i = 0; i < 5; ++i)
    CHECK(bucket.try_take(t0 + 2s));
  CHECK_FALSE(bucket.try_take(t0 + 2s));
}

TEST_CASE("an earlier pushback deadline does not shorten a later one", "[token_bucket]") {
  token_bucket bucket{20ms, 5, t0};
  bucket.block_until(t0 + 3s);
  bucket.block_until(t0 + 1s);
  CHECK(bucket.wait_time(t0) == 3s);
  CHECK_FALSE(bucket.try_take(t0 + 2s));
  bucket.block_until(t0 + 4s);
  CHECK(bucket.wait_time(t0) == 4s);
  CHECK(bucket.try_take(t0 + 4s));
}

TEST_CASE("a pushback deadline in the past changes nothing", "[token_bucket]") {
  token_bucket bucket{20ms, 1, t0 + 1s};
  bucket.block_until(t0);
  CHECK(bucket.try_take(t0 + 1s));
}

TEST_CASE("set_interval drops the saved tokens and the new rate holds immediately",
          "[token_bucket]") {
  token_bucket bucket{20ms, 5, t0};
  REQUIRE(bucket.available(t0) == 5);
  bucket.set_interval(100ms, t0);
  CHECK(bucket.interval() == 100ms);
  CHECK(bucket.available(t0) == 0);
  CHECK_FALSE(bucket.try_take(t0));
  CHECK(bucket.wait_time(t0) == 100ms);
  CHECK_FALSE(bucket.try_take(t0 + 99ms));
  CHECK(bucket.try_take(t0 + 100ms));
  CHECK_FALSE(bucket.try_take(t0 + 199ms));
  CHECK(bucket.try_take(t0 + 200ms));
  // Idle again, the bucket saves up to its burst at the new rate.
  CHECK(bucket.available(t0 + 200ms + 500ms) == 5);
}

TEST_CASE("set_interval with a burst of one leaves no token behind", "[token_bucket]") {
  token_bucket bucket{20ms, 1, t0};
  REQUIRE(bucket.available(t0 + 1s) == 1);
  bucket.set_interval(1s, t0 + 1s);
  CHECK_FALSE(bucket.try_take(t0 + 1s));
  CHECK(bucket.wait_time(t0 + 1s) == 1s);
  CHECK(bucket.try_take(t0 + 2s));
}

TEST_CASE("set_interval back to a faster rate takes effect at once", "[token_bucket]") {
  // Slowed down to one per second and the burst used up: the old schedule would hold the
  // next token until t0 + 4 s; the restored 20 ms rate gives it at t0 + 20 ms.
  token_bucket bucket{1s, 5, t0};
  for (int i = 0; i < 5; ++i)
    REQUIRE(bucket.try_take(t0));
  bucket.set_interval(20ms, t0);
  CHECK(bucket.available(t0) == 0);
  CHECK(bucket.wait_time(t0) == 20ms);
  CHECK(bucket.try_take(t0 + 20ms));
  CHECK_FALSE(bucket.try_take(t0 + 39ms));
  CHECK(bucket.try_take(t0 + 40ms));
}

TEST_CASE("the burst guarantee at the normal rate holds across a slow-down and a restore",
          "[token_bucket]") {
  const nanos normal = 20ms;
  const std::uint32_t burst = 5;
  token_bucket bucket{normal, burst, t0};
  std::vector<steady_time> taken;
  auto schedule = random_schedule(3, 30'000, 30ms);
  for (std::size_t k = 0; k < schedule.size(); ++k) {
    auto now = schedule[k];
    if (k % 3'000 == 1'000)
      bucket.set_interval(normal * 7, now);
    if (k % 3'000 == 2'000)
      bucket.set_interval(normal, now);
    if (bucket.try_take(now))
      taken.push_back(now);
  }
  REQUIRE(taken.size() > 1'000);
  std::size_t violations = 0;
  for (std::size_t j = 0; j < taken.size(); ++j)
    for (std::size_t i = 0; i <= j; ++i)
      if (static_cast<std::int64_t>(j - i + 1) >
          static_cast<std::int64_t>(burst) + (taken[j] - taken[i]) / normal)
        ++violations;
  CHECK(violations == 0);
}

TEST_CASE("set_interval keeps a pushback deadline", "[token_bucket]") {
  token_bucket bucket{20ms, 5, t0};
  bucket.block_until(t0 + 5s);
  bucket.set_interval(40ms, t0);
  CHECK(bucket.wait_time(t0) == 5s);
  CHECK_FALSE(bucket.try_take(t0 + 5s - 1ns));
  CHECK(bucket.try_take(t0 + 5s));
}

TEST_CASE("per_period rounds the interval up so the count per period is never exceeded",
          "[token_bucket]") {
  CHECK(token_bucket::per_period(50, 1s, 1, t0).interval() == 20ms);
  CHECK(token_bucket::per_period(120, 60s, 1, t0).interval() == 500ms);
  CHECK(token_bucket::per_period(200, 60s, 1, t0).interval() == 300ms);
  CHECK(token_bucket::per_period(3, 1s, 1, t0).interval() == 333'333'334ns);
  CHECK(token_bucket::per_period(7, 100ns, 1, t0).interval() == 15ns);
  CHECK(token_bucket::per_period(1, 1ns, 1, t0).interval() == 1ns);
  // 3 per second with a burst of 1: the fourth token is just after the 1 s mark.
  auto bucket = token_bucket::per_period(3, 1s, 1, t0);
  std::size_t in_first_second = 0;
  for (auto now = t0; now < t0 + 1s; now += 1ms)
    while (bucket.try_take(now))
      ++in_first_second;
  CHECK(in_first_second == 3);
}

TEST_CASE("a bucket with a non-positive interval, no burst or no count is refused",
          "[token_bucket]") {
  CHECK_THROWS_AS(token_bucket(0ns, 1, t0), std::invalid_argument);
  CHECK_THROWS_AS(token_bucket(-1ms, 1, t0), std::invalid_argument);
  CHECK_THROWS_AS(token_bucket(1ms, 0, t0), std::invalid_argument);
  CHECK_THROWS_AS(token_bucket::per_period(0, 1s, 1, t0), std::invalid_argument);
  CHECK_THROWS_AS(token_bucket::per_period(10, 0s, 1, t0), std::invalid_argument);
  CHECK_THROWS_AS(token_bucket::per_period(10, -1s, 1, t0), std::invalid_argument);
  CHECK_THROWS_AS(token_bucket::per_period(10, 1s, 0, t0), std::invalid_argument);
  token_bucket bucket{1ms, 1, t0};
  CHECK_THROWS_AS(bucket.set_interval(0ns, t0), std::invalid_argument);
  CHECK_THROWS_AS(bucket.set_interval(-5ms, t0), std::invalid_argument);
  CHECK(bucket.interval() == 1ms);
}

TEST_CASE("a sliding window lets limit takes through, then waits for the oldest to leave",
          "[sliding_window]") {
  sliding_window window{3, 1s};
  CHECK(window.in_window(t0) == 0);
  CHECK(window.try_take(t0));
  CHECK(window.try_take(t0 + 100ms));
  CHECK(window.try_take(t0 + 200ms));
  CHECK(window.in_window(t0 + 200ms) == 3);
  CHECK_FALSE(window.try_take(t0 + 300ms));
  CHECK_FALSE(window.try_take(t0 + 1s));
  // The stamp at t0 counts in every window of 1 s that contains t0, bounds included.
  CHECK(window.in_window(t0 + 1s) == 3);
  CHECK(window.in_window(t0 + 1s + 1ns) == 2);
  CHECK(window.try_take(t0 + 1s + 1ns));
  CHECK_FALSE(window.try_take(t0 + 1s + 100ms));
  CHECK(window.try_take(t0 + 1s + 100ms + 1ns));
}

TEST_CASE("sliding window wait_time is exact at the window's boundary", "[sliding_window]") {
  sliding_window window{2, 1s};
  CHECK(window.wait_time(t0) == 0ns);
  REQUIRE(window.try_take(t0));
  CHECK(window.wait_time(t0) == 0ns);
  REQUIRE(window.try_take(t0 + 300ms));
  auto wait = window.wait_time(t0 + 500ms);
  CHECK(wait == 500ms + 1ns);
  CHECK_FALSE(window.try_take(t0 + 500ms + wait - 1ns));
  CHECK(window.wait_time(t0 + 500ms + wait - 1ns) == 1ns);
  CHECK(window.wait_time(t0 + 500ms + wait) == 0ns);
  CHECK(window.try_take(t0 + 500ms + wait));
  // Now the stamp at t0 + 300 ms is the oldest that counts.
  CHECK(window.wait_time(t0 + 1s) == 300ms + 1ns);
}

TEST_CASE("waiting exactly the sliding window's wait_time always succeeds", "[sliding_window]") {
  sliding_window window{5, 100ms};
  auto now = t0;
  for (auto arrival : random_schedule(11, 5'000, 40ms)) {
    now = std::max(now, arrival);
    auto wait = window.wait_time(now);
    CHECK((wait == 0ns) == (window.in_window(now) < 5));
    if (wait == 0ns) {
      REQUIRE(window.try_take(now));
      continue;
    }
    CHECK_FALSE(window.try_take(now));
    CHECK_FALSE(window.try_take(now + wait - 1ns));
    now += wait;
    REQUIRE(window.try_take(now));
  }
}

TEST_CASE("no window of the given length ever holds more than limit takes", "[sliding_window]") {
  for (std::uint64_t seed : {5u, 6u, 99u}) {
    INFO("seed " << seed);
    const nanos length = 60s;
    const std::uint32_t limit = 200;
    sliding_window window{limit, length};
    std::vector<steady_time> taken;
    for (auto now : random_schedule(seed, 50'000, 2s))
      if (window.try_take(now))
        taken.push_back(now);
    REQUIRE(taken.size() > 2'000);
    // The fullest closed window [a, a + length] starts at some take.
    std::size_t fullest = 0;
    std::size_t end = 0;
    for (std::size_t i = 0; i < taken.size(); ++i) {
      while (end < taken.size() && taken[end] - taken[i] <= length)
        ++end;
      fullest = std::max(fullest, end - i);
    }
    CHECK(fullest == limit);
  }
}

TEST_CASE("a sliding window with no limit or no length is refused", "[sliding_window]") {
  CHECK_THROWS_AS(sliding_window(0, 1s), std::invalid_argument);
  CHECK_THROWS_AS(sliding_window(1, 0s), std::invalid_argument);
  CHECK_THROWS_AS(sliding_window(1, -1s), std::invalid_argument);
}
