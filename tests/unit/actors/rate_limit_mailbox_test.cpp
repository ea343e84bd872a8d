#include "actors/rate_limit_mailbox.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using brokerd::actors::lane;
using brokerd::actors::lane_capacity;
using brokerd::actors::rate_limit_mailbox;
using brokerd::engine::nanos;
using brokerd::engine::sliding_window;
using brokerd::engine::steady_time;
using brokerd::engine::token_bucket;
using namespace std::chrono_literals;

namespace {

/// The fake clock's start; tests move time forward by hand.
const steady_time t0 = steady_time{} + 1h;

/// A request as a session would queue it: an id to follow it and the lane it was pushed to.
struct request {
  int id = 0;
  lane in = lane::query;
  friend bool operator==(const request&, const request&) = default;
};

using mailbox = rate_limit_mailbox<request>;

/// A mailbox whose limits never get in the way (a burst larger than any test), resumed.
mailbox unlimited() {
  mailbox m{token_bucket{1ns, 1'000'000, t0}};
  m.resume();
  return m;
}

std::vector<int> ids(const std::vector<request>& rs) {
  std::vector<int> out;
  for (const auto& r : rs)
    out.push_back(r.id);
  return out;
}

void push_ok(mailbox& m, lane in, int id, steady_time now) {
  auto r = m.push(in, request{id, in}, now);
  REQUIRE(r.has_value());
}

} // namespace

TEST_CASE("a new mailbox holds everything until it is resumed", "[rate_limit_mailbox]") {
  mailbox m{token_bucket{1ms, 100, t0}};
  CHECK(m.held(lane::cancel));
  CHECK(m.held(lane::new_order));
  CHECK(m.held(lane::query));
  push_ok(m, lane::new_order, 1, t0);
  push_ok(m, lane::cancel, 2, t0);
  CHECK(m.release(t0).empty());
  CHECK(m.release(t0 + 1h).empty());
  CHECK_FALSE(m.next_release_in(t0).has_value());
  CHECK(m.depth() == 2);
  m.resume();
  CHECK(m.next_release_in(t0 + 1h) == 0ns);
  CHECK(ids(m.release(t0 + 1h)) == std::vector<int>{2, 1});
  CHECK(m.empty());
}

TEST_CASE("an empty mailbox needs no timer", "[rate_limit_mailbox]") {
  auto m = unlimited();
  CHECK_FALSE(m.next_release_in(t0).has_value());
  CHECK(m.release(t0).empty());
  CHECK(m.empty());
  CHECK(m.oldest_wait(t0 + 1s) == 0ns);
}

TEST_CASE("cancels go before new orders and new orders before queries", "[rate_limit_mailbox]") {
  auto m = unlimited();
  push_ok(m, lane::query, 1, t0);
  push_ok(m, lane::new_order, 2, t0);
  push_ok(m, lane::query, 3, t0);
  push_ok(m, lane::cancel, 4, t0);
  push_ok(m, lane::new_order, 5, t0);
  push_ok(m, lane::cancel, 6, t0);
  CHECK(ids(m.release(t0)) == std::vector<int>{4, 6, 2, 5, 1, 3});
}

TEST_CASE("a cancel pushed later overtakes new orders and queries still waiting for tokens",
          "[rate_limit_mailbox]") {
  // One request every 20 ms, no burst.
  mailbox m{token_bucket{20ms, 1, t0}};
  m.resume();
  push_ok(m, lane::query, 1, t0);
  push_ok(m, lane::query, 2, t0);
  push_ok(m, lane::new_order, 3, t0);
  push_ok(m, lane::new_order, 4, t0);
  CHECK(ids(m.release(t0)) == std::vector<int>{3});
  push_ok(m, lane::cancel, 5, t0 + 5ms);
  CHECK(m.release(t0 + 5ms).empty());
  CHECK(m.next_release_in(t0 + 5ms) == 15ms);
  CHECK(ids(m.release(t0 + 20ms)) == std::vector<int>{5});
  push_ok(m, lane::cancel, 6, t0 + 30ms);
  CHECK(ids(m.release(t0 + 40ms)) == std::vector<int>{6});
  CHECK(ids(m.release(t0 + 60ms)) == std::vector<int>{4});
  CHECK(ids(m.release(t0 + 80ms)) == std::vector<int>{1});
  CHECK(ids(m.release(t0 + 100ms)) == std::vector<int>{2});
  CHECK(m.empty());
}

TEST_CASE("requests of one lane leave in the order they were pushed", "[rate_limit_mailbox]") {
  mailbox m{token_bucket{10ms, 3, t0}};
  m.resume();
  std::mt19937_64 rng{2024};
  std::uniform_int_distribution<int> pick{0, 2};
  std::array<std::vector<int>, 3> pushed;
  std::array<std::vector<int>, 3> released;
  std::vector<int> all_released;
  auto now = t0;
  for (int id = 0; id < 2'000; ++id) {
    auto in = static_cast<lane>(pick(rng));
    push_ok(m, in, id, now);
    pushed[static_cast<std::size_t>(in)].push_back(id);
    if (id % 3 == 0)
      now += 7ms;
    for (auto& r : m.release(now)) {
      released[static_cast<std::size_t>(r.in)].push_back(r.id);
      all_released.push_back(r.id);
    }
  }
  while (auto wait = m.next_release_in(now)) {
    now += *wait;
    for (auto& r : m.release(now)) {
      released[static_cast<std::size_t>(r.in)].push_back(r.id);
      all_released.push_back(r.id);
    }
  }
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(released[i] == pushed[i]);
  CHECK(all_released.size() == 2'000);
}

TEST_CASE("nothing leaves while paused and everything leaves in order after resume",
          "[rate_limit_mailbox]") {
  auto m = unlimited();
  push_ok(m, lane::new_order, 1, t0);
  CHECK(ids(m.release(t0)) == std::vector<int>{1});
  m.pause();
  push_ok(m, lane::query, 2, t0);
  push_ok(m, lane::new_order, 3, t0);
  push_ok(m, lane::cancel, 4, t0);
  push_ok(m, lane::new_order, 5, t0);
  for (auto now = t0; now < t0 + 10min; now += 1s) {
    CHECK(m.release(now).empty());
    CHECK_FALSE(m.next_release_in(now).has_value());
  }
  CHECK(m.depth() == 4);
  m.resume();
  CHECK(m.next_release_in(t0 + 10min) == 0ns);
  CHECK(ids(m.release(t0 + 10min)) == std::vector<int>{4, 3, 5, 2});
}

TEST_CASE("a paused mailbox is still paced by its limits after resume", "[rate_limit_mailbox]") {
  mailbox m{token_bucket{20ms, 2, t0}};
  for (int id = 0; id < 6; ++id)
    push_ok(m, lane::new_order, id, t0);
  // Paused for a long time: the bucket saves up no more than its burst.
  m.resume();
  CHECK(ids(m.release(t0 + 1h)) == std::vector<int>{0, 1});
  CHECK(m.next_release_in(t0 + 1h) == 20ms);
  CHECK(ids(m.release(t0 + 1h + 20ms)) == std::vector<int>{2});
}

TEST_CASE("resuming only the query lane lets queries out while orders and cancels wait",
          "[rate_limit_mailbox]") {
  mailbox m{token_bucket{1ns, 1'000, t0}};
  push_ok(m, lane::new_order, 1, t0);
  push_ok(m, lane::cancel, 2, t0);
  push_ok(m, lane::query, 3, t0);
  m.resume(lane::query);
  CHECK_FALSE(m.held(lane::query));
  CHECK(m.held(lane::new_order));
  CHECK(m.next_release_in(t0) == 0ns);
  CHECK(ids(m.release(t0)) == std::vector<int>{3});
  CHECK_FALSE(m.next_release_in(t0).has_value());
  push_ok(m, lane::query, 4, t0);
  CHECK(ids(m.release(t0)) == std::vector<int>{4});
  m.resume();
  CHECK(ids(m.release(t0)) == std::vector<int>{2, 1});
}

TEST_CASE("nothing leaves before the pushback deadline", "[rate_limit_mailbox]") {
  mailbox m{token_bucket{20ms, 5, t0}};
  m.resume();
  m.pushback(t0 + 30s);
  for (int id = 0; id < 8; ++id)
    push_ok(m, lane::new_order, id, t0);
  push_ok(m, lane::cancel, 100, t0);
  CHECK(m.next_release_in(t0) == 30s);
  for (auto now = t0; now < t0 + 30s; now += 250ms)
    CHECK(m.release(now).empty());
  CHECK(m.release(t0 + 30s - 1ns).empty());
  CHECK(m.next_release_in(t0 + 30s - 1ns) == 1ns);
  // At the deadline the saved-up burst goes, cancel first, then one per interval.
  CHECK(ids(m.release(t0 + 30s)) == std::vector<int>{100, 0, 1, 2, 3});
  CHECK(m.next_release_in(t0 + 30s) == 20ms);
  CHECK(m.pushback_until() == t0 + 30s);
  CHECK(m.stats().pushbacks == 1);
}

TEST_CASE("an earlier pushback does not shorten a later one", "[rate_limit_mailbox]") {
  auto m = unlimited();
  m.pushback(t0 + 10s);
  m.pushback(t0 + 2s);
  push_ok(m, lane::cancel, 1, t0);
  CHECK(m.release(t0 + 5s).empty());
  CHECK(m.next_release_in(t0 + 5s) == 5s);
  CHECK(m.pushback_until() == t0 + 10s);
  CHECK(ids(m.release(t0 + 10s)) == std::vector<int>{1});
  CHECK(m.stats().pushbacks == 2);
}

TEST_CASE("slow_down spaces requests by the new interval at once and restore_rate undoes it",
          "[rate_limit_mailbox]") {
  mailbox m{token_bucket{20ms, 5, t0}};
  m.resume();
  for (int id = 0; id < 10; ++id)
    push_ok(m, lane::query, id, t0);
  CHECK(ids(m.release(t0)) == std::vector<int>{0, 1, 2, 3, 4});
  m.slow_down(1s, t0);
  CHECK(m.interval() == 1s);
  CHECK(m.next_release_in(t0) == 1s);
  CHECK(m.release(t0 + 999ms).empty());
  CHECK(ids(m.release(t0 + 1s)) == std::vector<int>{5});
  CHECK(m.release(t0 + 1s + 999ms).empty());
  CHECK(ids(m.release(t0 + 2s)) == std::vector<int>{6});
  m.restore_rate(t0 + 2s);
  CHECK(m.interval() == 20ms);
  CHECK(m.next_release_in(t0 + 2s) == 20ms);
  CHECK(ids(m.release(t0 + 2s + 20ms)) == std::vector<int>{7});
  CHECK(m.next_release_in(t0 + 2s + 20ms) == 20ms);
  CHECK_THROWS_AS(m.slow_down(0ns, t0 + 3s), std::invalid_argument);
}

TEST_CASE("both the bucket and the window must allow a request", "[rate_limit_mailbox]") {
  // A generous bucket, and a window of 3 per second.
  mailbox m{token_bucket{1ms, 10, t0}, sliding_window{3, 1s}};
  m.resume();
  for (int id = 0; id < 5; ++id)
    push_ok(m, lane::new_order, id, t0);
  CHECK(ids(m.release(t0)) == std::vector<int>{0, 1, 2});
  CHECK(m.next_release_in(t0) == 1s + 1ns);
  CHECK(m.release(t0 + 1s).empty());
  CHECK(ids(m.release(t0 + 1s + 1ns)) == std::vector<int>{3, 4});
}

TEST_CASE("the window's limit is never exceeded over five simulated minutes of saturation",
          "[rate_limit_mailbox]") {
  // Alpaca's budget: 200 requests per minute, counted in a sliding window; a bucket paces at
  // the same rate with a burst of 20.
  const std::uint32_t budget = 200;
  const nanos minute = 60s;
  for (std::uint64_t seed : {1u, 7u, 2025u}) {
    INFO("seed " << seed);
    mailbox m{token_bucket::per_period(budget, minute, 20, t0), sliding_window{budget, minute},
              lane_capacity{100'000, 100'000}};
    m.resume();
    std::mt19937_64 rng{seed};
    std::exponential_distribution<double> gap_s{6.0}; // 6 arrivals per second on average
    std::uniform_int_distribution<int> pick{0, 9};

    const auto arrivals_end = t0 + 5min;
    auto next_arrival = t0;
    std::optional<steady_time> timer;
    std::vector<steady_time> sent_at;
    std::set<int> accepted;
    std::vector<int> released;
    int next_id = 0;
    auto now = t0;
    while (true) {
      bool arrivals_left = next_arrival < arrivals_end;
      if (!arrivals_left && !timer)
        break;
      now = !arrivals_left ? *timer : timer ? std::min(*timer, next_arrival) : next_arrival;
      if (arrivals_left && next_arrival == now) {
        auto k = pick(rng);
        auto in = k == 0 ? lane::cancel : k < 4 ? lane::query : lane::new_order;
        auto r = m.push(in, request{next_id, in}, now);
        REQUIRE(r.has_value());
        accepted.insert(next_id++);
        auto gap = std::chrono::duration<double>(gap_s(rng));
        next_arrival = now + std::chrono::duration_cast<nanos>(gap);
      }
      for (auto& r : m.release(now)) {
        sent_at.push_back(now);
        released.push_back(r.id);
      }
      auto wait = m.next_release_in(now);
      timer = wait ? std::optional{now + *wait} : std::nullopt;
    }

    // No request lost, none sent twice.
    CHECK(m.empty());
    CHECK(released.size() == accepted.size());
    CHECK(std::set<int>(released.begin(), released.end()) == accepted);
    CHECK(m.stats().released == released.size());

    // Every closed 60 s window holds at most 200 sends; the fullest one starts at a send.
    std::size_t fullest = 0;
    std::size_t end = 0;
    for (std::size_t i = 0; i < sent_at.size(); ++i) {
      while (end < sent_at.size() && sent_at[end] - sent_at[i] <= minute)
        ++end;
      fullest = std::max(fullest, end - i);
    }
    CHECK(fullest <= budget);

    // Saturated for five minutes: the budget is used, not wasted.
    auto in_first_five = static_cast<std::size_t>(std::count_if(
        sent_at.begin(), sent_at.end(), [&](steady_time t) { return t < t0 + 5min; }));
    CHECK(accepted.size() > 5 * budget * 3 / 2);
    CHECK(in_first_five >= 5 * budget * 95 / 100);
  }
}

TEST_CASE("a full lane refuses the push and hands the request back", "[rate_limit_mailbox]") {
  mailbox m{token_bucket{1ms, 1, t0}, std::nullopt, lane_capacity{3, 2}};
  for (int id = 0; id < 3; ++id)
    push_ok(m, lane::new_order, id, t0);
  auto refused = m.push(lane::new_order, request{3, lane::new_order}, t0);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().reason == "rejected: queue full");
  CHECK(refused.error().in == lane::new_order);
  CHECK(refused.error().capacity == 3);
  CHECK(refused.error().request == request{3, lane::new_order});
  CHECK(m.depth(lane::new_order) == 3);

  push_ok(m, lane::query, 10, t0);
  push_ok(m, lane::query, 11, t0);
  auto refused_query = m.push(lane::query, request{12, lane::query}, t0);
  REQUIRE_FALSE(refused_query.has_value());
  CHECK(refused_query.error().capacity == 2);
  CHECK(m.stats().rejected == 2);

  // Cancels are never refused.
  for (int id = 100; id < 10'100; ++id)
    push_ok(m, lane::cancel, id, t0);
  CHECK(m.depth(lane::cancel) == 10'000);

  // Once a new order has left, there is room again.
  m.resume();
  auto drained = std::size_t{0};
  auto now = t0;
  while (m.depth(lane::new_order) == 3) {
    drained += m.release(now).size();
    now += 1ms;
  }
  CHECK(drained == 10'001);
  push_ok(m, lane::new_order, 4, now);
  CHECK(m.depth(lane::new_order) == 3);
}

TEST_CASE("a lane capacity of zero is a configuration error", "[rate_limit_mailbox]") {
  CHECK_THROWS_AS(mailbox(token_bucket{1ms, 1, t0}, std::nullopt, lane_capacity{0, 1}),
                  std::invalid_argument);
  CHECK_THROWS_AS(mailbox(token_bucket{1ms, 1, t0}, std::nullopt, lane_capacity{1, 0}),
                  std::invalid_argument);
}

TEST_CASE("push reports how many requests go before it and the depths", "[rate_limit_mailbox]") {
  auto m = unlimited();
  m.pause();
  auto q = m.push(lane::query, request{1, lane::query}, t0);
  REQUIRE(q.has_value());
  CHECK(q->in == lane::query);
  CHECK(q->ahead == 0);
  CHECK(q->lane_depth == 1);
  CHECK(q->depth == 1);
  auto n = m.push(lane::new_order, request{2, lane::new_order}, t0);
  REQUIRE(n.has_value());
  CHECK(n->ahead == 0);
  CHECK(n->depth == 2);
  auto n2 = m.push(lane::new_order, request{3, lane::new_order}, t0);
  REQUIRE(n2.has_value());
  CHECK(n2->ahead == 1);
  CHECK(n2->lane_depth == 2);
  auto q2 = m.push(lane::query, request{4, lane::query}, t0);
  REQUIRE(q2.has_value());
  CHECK(q2->ahead == 3);
  CHECK(q2->lane_depth == 2);
  CHECK(q2->depth == 4);
  auto c = m.push(lane::cancel, request{5, lane::cancel}, t0);
  REQUIRE(c.has_value());
  CHECK(c->ahead == 0);
  CHECK(c->depth == 5);
  CHECK(m.depth(lane::cancel) == 1);
  CHECK(m.depth(lane::new_order) == 2);
  CHECK(m.depth(lane::query) == 2);
}

TEST_CASE("wait statistics measure the time from push to release", "[rate_limit_mailbox]") {
  mailbox m{token_bucket{100ms, 2, t0}};
  push_ok(m, lane::new_order, 1, t0);
  push_ok(m, lane::new_order, 2, t0 + 10ms);
  push_ok(m, lane::query, 3, t0 + 20ms);
  CHECK(m.oldest_wait(t0 + 50ms) == 50ms);
  m.resume();
  CHECK(m.release(t0 + 50ms).size() == 2);
  CHECK(m.stats().released == 2);
  CHECK(m.stats().total_wait == 50ms + 40ms);
  CHECK(m.stats().max_wait == 50ms);
  CHECK(m.oldest_wait(t0 + 50ms) == 30ms);
  // The bucket is empty: the query waits until t0 + 150 ms.
  CHECK(m.release(t0 + 149ms).empty());
  CHECK(m.release(t0 + 150ms).size() == 1);
  CHECK(m.stats().released == 3);
  CHECK(m.stats().released_per_lane == std::array<std::uint64_t, 3>{0, 2, 1});
  CHECK(m.stats().total_wait == 50ms + 40ms + 130ms);
  CHECK(m.stats().max_wait == 130ms);
  CHECK(m.stats().rejected == 0);
  CHECK(m.oldest_wait(t0 + 150ms) == 0ns);
}

TEST_CASE("a request still queued can be taken back without being sent", "[rate_limit_mailbox]") {
  auto m = unlimited();
  m.pause();
  push_ok(m, lane::new_order, 1, t0);
  push_ok(m, lane::new_order, 2, t0);
  push_ok(m, lane::new_order, 3, t0);
  auto taken = m.extract_if(lane::new_order, [](const request& r) { return r.id == 2; });
  CHECK(ids(taken) == std::vector<int>{2});
  CHECK(m.extract_if(lane::query, [](const request&) { return true; }).empty());
  CHECK(m.depth() == 2);
  m.resume();
  CHECK(ids(m.release(t0)) == std::vector<int>{1, 3});
  CHECK(m.stats().released == 2);
}

TEST_CASE("take_all empties the mailbox in priority order regardless of limits and pause",
          "[rate_limit_mailbox]") {
  mailbox m{token_bucket{1h, 1, t0}};
  m.pushback(t0 + 1h);
  push_ok(m, lane::query, 1, t0);
  push_ok(m, lane::new_order, 2, t0);
  push_ok(m, lane::cancel, 3, t0);
  push_ok(m, lane::new_order, 4, t0);
  CHECK(ids(m.take_all()) == std::vector<int>{3, 2, 4, 1});
  CHECK(m.empty());
  CHECK(m.stats().released == 0);
  CHECK_FALSE(m.next_release_in(t0).has_value());
}

TEST_CASE("requests that can only be moved are queued and released", "[rate_limit_mailbox]") {
  rate_limit_mailbox<std::unique_ptr<std::string>> m{token_bucket{1ms, 10, t0}, std::nullopt,
                                                     lane_capacity{1, 1}};
  m.resume();
  REQUIRE(m.push(lane::new_order, std::make_unique<std::string>("order"), t0).has_value());
  auto refused = m.push(lane::new_order, std::make_unique<std::string>("second"), t0);
  REQUIRE_FALSE(refused.has_value());
  REQUIRE(refused.error().request != nullptr);
  CHECK(*refused.error().request == "second");
  auto out = m.release(t0);
  REQUIRE(out.size() == 1);
  CHECK(*out.front() == "order");
}

TEST_CASE("lanes have stable text forms", "[rate_limit_mailbox]") {
  CHECK(to_string(lane::cancel) == "cancel");
  CHECK(to_string(lane::new_order) == "new_order");
  CHECK(to_string(lane::query) == "query");
}

TEST_CASE("a request refused with a pushback goes back first in its lane, even into a full lane",
          "[rate_limit_mailbox]") {
  mailbox m{token_bucket{1ns, 1'000'000, t0}, std::nullopt, lane_capacity{2, 2}};
  m.resume();
  push_ok(m, lane::new_order, 1, t0);
  push_ok(m, lane::new_order, 2, t0);
  auto first = m.release(t0);
  REQUIRE(ids(first) == std::vector<int>{1, 2});
  push_ok(m, lane::new_order, 3, t0);
  push_ok(m, lane::new_order, 4, t0);
  // Request 2 was answered 429: it waits out the pushback and leaves before 3 and 4.
  m.pushback(t0 + 5s);
  m.requeue_front(lane::new_order, request{2, lane::new_order}, t0);
  CHECK(m.depth(lane::new_order) == 3);
  CHECK(m.release(t0 + 4s).empty());
  CHECK(ids(m.release(t0 + 5s)) == std::vector<int>{2, 3, 4});
}

TEST_CASE("release hands out at most what the caller asks for", "[rate_limit_mailbox]") {
  auto m = unlimited();
  for (int id = 1; id <= 4; ++id)
    push_ok(m, lane::query, id, t0);
  push_ok(m, lane::cancel, 5, t0);
  CHECK(ids(m.release(t0, 1)) == std::vector<int>{5});
  CHECK(ids(m.release(t0, 2)) == std::vector<int>{1, 2});
  CHECK(m.release(t0, 0).empty());
  CHECK(ids(m.release(t0)) == std::vector<int>{3, 4});
}
