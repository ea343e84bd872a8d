#pragma once

#include <algorithm>
#include <deque>
#include <utility>

#include <caf/all.hpp>

namespace brokerd::actors {

/// Deadlines of one actor that all wait the same time, kept in the order they were set, so
/// that one timer armed for the earliest serves them all. A CAF request timeout instead costs
/// two operations on the clock thread per request and keeps a clock entry per request for
/// its whole wait. Not thread-safe: it lives in the actor's state.
template <class T>
class deadline_queue {
public:
  using time_point = caf::actor_clock::time_point;

  /// Adds `item`, due at `at`, which must not lie before the deadline added last.
  void push(time_point at, T item) { items_.emplace_back(at, std::move(item)); }

  /// Arms the timer, which sends `msg` to `self`, for the earliest deadline, unless it is
  /// armed or nothing waits.
  template <class Self, class Msg>
  void arm(Self* self, const Msg& msg) {
    if (armed_ || items_.empty())
      return;
    armed_ = true;
    auto wait = items_.front().first - self->clock().now();
    self->delayed_send(self, std::max(wait, decltype(wait){}), msg);
  }

  /// For the timer's message: hands every item due by now to `expire`, oldest first, then
  /// arms the timer for the next one.
  template <class Self, class Msg, class F>
  void fire(Self* self, const Msg& msg, F&& expire) {
    armed_ = false;
    auto now = self->clock().now();
    while (!items_.empty() && items_.front().first <= now) {
      auto item = std::move(items_.front().second);
      items_.pop_front();
      expire(item);
    }
    arm(self, msg);
  }

  [[nodiscard]] std::size_t size() const noexcept { return items_.size(); }

private:
  std::deque<std::pair<time_point, T>> items_;
  bool armed_ = false;
};

} // namespace brokerd::actors
