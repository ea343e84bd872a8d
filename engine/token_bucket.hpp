#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace brokerd::engine {

/// The clock every rate and retry decision reads; callers pass `now` explicitly so tests can
/// drive time (actors pass `self->clock().now()`, which is this clock in CAF 0.17).
using steady_time = std::chrono::steady_clock::time_point;
using nanos = std::chrono::nanoseconds;

/// A token bucket in its exact integer form (GCRA): one token every `interval`, at most
/// `burst` tokens saved up. `try_take` never lets more than `burst + elapsed/interval` tokens
/// through in any span of time. Not thread-safe: one owner (an actor) calls it.
class token_bucket {
public:
  /// `interval` > 0 and `burst` >= 1, else std::invalid_argument (a configuration error).
  token_bucket(nanos interval, std::uint32_t burst, steady_time now);

  /// Builds a bucket for `count` tokens per `period` (e.g. 50 per second: one every 20 ms).
  static token_bucket per_period(std::uint32_t count, nanos period, std::uint32_t burst,
                                 steady_time now);

  /// Takes one token if one is available at `now`.
  bool try_take(steady_time now);

  /// Zero when a token is available at `now`, else how long until one is.
  [[nodiscard]] nanos wait_time(steady_time now) const;

  /// Tokens available at `now` (0..burst).
  [[nodiscard]] std::uint32_t available(steady_time now) const;

  /// Honours a broker's pushback: nothing is taken before `until` (HTTP Retry-After, IBKR
  /// error 100). Earlier deadlines than one already set are ignored.
  void block_until(steady_time until);

  /// Changes the rate from `now` on (e.g. slowing down after pacing violations); the saved-up
  /// tokens are dropped so the new rate holds immediately: the next token comes one new
  /// interval after `now`, whether the rate went down or back up. A pushback still holds.
  void set_interval(nanos interval, steady_time now);

  [[nodiscard]] nanos interval() const noexcept { return interval_; }
  [[nodiscard]] std::uint32_t burst() const noexcept { return burst_; }

private:
  nanos interval_;
  std::uint32_t burst_;
  /// Theoretical arrival time of the next token at the sustained rate.
  steady_time tat_;
  steady_time blocked_until_;
};

/// A strict sliding-window cap: at most `limit` takes in any window of length `window`, both
/// bounds included, the way brokers count (Schwab 120/min, Alpaca 200/min). Keeps the last
/// `limit` timestamps. `now` must not go backwards. Not thread-safe: one owner calls it.
class sliding_window {
public:
  /// `limit` >= 1 and `window` > 0, else std::invalid_argument.
  sliding_window(std::uint32_t limit, nanos window);

  /// Takes one slot if fewer than `limit` takes lie in [now - window, now].
  bool try_take(steady_time now);
  /// Zero when a slot is free at `now`, else how long until the oldest counted take leaves.
  [[nodiscard]] nanos wait_time(steady_time now) const;
  /// Takes within the window ending at `now`: [now - window, now], both bounds included.
  [[nodiscard]] std::uint32_t in_window(steady_time now) const;

private:
  std::uint32_t limit_;
  nanos window_;
  std::deque<steady_time> stamps_;
};

} // namespace brokerd::engine
