#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/token_bucket.hpp"

namespace brokerd::actors {

/// Priority lanes of a `rate_limit_mailbox`, highest first. A queued cancel goes out before
/// every queued new order, a queued new order before every queued query; within a lane the
/// order of `push` is kept.
enum class lane : std::uint8_t { cancel, new_order, query };

/// Number of values of `lane`.
inline constexpr std::size_t lane_count = 3;

/// The stable text form of a lane for metrics labels: "cancel", "new_order", "query".
constexpr std::string_view to_string(lane x) noexcept {
  switch (x) {
  case lane::cancel:
    return "cancel";
  case lane::new_order:
    return "new_order";
  case lane::query:
    return "query";
  }
  return "invalid";
}

/// How many requests each bounded lane may hold. Cancels are never bounded: refusing a cancel
/// could leave an order live that its owner wants gone.
struct lane_capacity {
  /// Queued new orders; one more is answered with `queue_full`. Must be at least 1.
  std::size_t new_order = 1'000;
  /// Queued queries (open orders, positions, balances); one more gets `queue_full`. At least 1.
  std::size_t query = 1'000;
};

/// Where an accepted request was queued, as seen right after its `push`.
struct queue_position {
  /// The lane it waits in.
  lane in = lane::cancel;
  /// Requests due to go before it at push time: all of the higher lanes plus the earlier ones
  /// of its own lane. Cancels pushed later still overtake it.
  std::size_t ahead = 0;
  /// Depth of its lane, itself included.
  std::size_t lane_depth = 0;
  /// Depth of the whole mailbox, itself included.
  std::size_t depth = 0;
};

/// The answer to a `push` into a full lane. Nothing is dropped: the request comes back so the
/// owner can answer its sender with `reason`.
template <class Request> struct queue_full {
  /// Text for the sender's error.
  static constexpr std::string_view reason = "rejected: queue full";
  /// The full lane.
  lane in = lane::new_order;
  /// That lane's capacity.
  std::size_t capacity = 0;
  /// The refused request, unchanged.
  Request request;
};

/// Counters for metrics. Waits run from `push` to the `release` that hands a request out.
struct mailbox_stats {
  /// Requests handed out by `release`, in total and per lane (indexed by `lane`).
  std::uint64_t released = 0;
  std::array<std::uint64_t, lane_count> released_per_lane{};
  /// Pushes refused with `queue_full`.
  std::uint64_t rejected = 0;
  /// Calls to `pushback` (broker 429 / pacing errors).
  std::uint64_t pushbacks = 0;
  /// Sum and maximum of the queue waits of the released requests.
  engine::nanos total_wait{0};
  engine::nanos max_wait{0};
};

/// The outgoing-request queue of one broker connection (DESIGN.md "a rate-limit mailbox").
///
/// Requests wait in three priority lanes and leave only when the connection's limits allow:
/// a token bucket (sustained rate plus burst) and, when the broker counts that way, a strict
/// sliding window (N per window); each released request is charged to both. The broker's own
/// pushback and a session that is not ready hold requests back; nothing is ever dropped
/// silently: a full lane refuses the push and hands the request back.
///
/// Pure and single-owner: no threads, no clock of its own. The owning session actor passes
/// `now` (its `self->clock().now()`), calls `release` when a request arrives or a timer fires,
/// sends what it returns, and arms one timer from `next_release_in`.
template <class Request> class rate_limit_mailbox {
public:
  /// What the owner queues: a wire request or a handle to one, moved in and out.
  using request_type = Request;
  /// Where the request was queued, or the request back when its lane is full.
  using push_result = std::expected<queue_position, queue_full<Request>>;

  /// Builds a mailbox paced by `bucket` and, if given, capped by `window`. It starts paused:
  /// a session is not ready when it is created, and nothing leaves before `resume`. Throws
  /// std::invalid_argument when a lane capacity is 0 (a configuration error).
  explicit rate_limit_mailbox(engine::token_bucket bucket,
                              std::optional<engine::sliding_window> window = std::nullopt,
                              lane_capacity capacity = {})
      : bucket_(std::move(bucket)), window_(std::move(window)), capacity_(capacity),
        normal_interval_(bucket_.interval()) {
    if (capacity_.new_order == 0 || capacity_.query == 0)
      throw std::invalid_argument("rate_limit_mailbox: a lane capacity must be at least 1");
  }

  /// Queues `request` at the back of lane `in`, stamped with `now` for the wait statistics.
  /// A cancel is always accepted. A new order or query whose lane is full is refused: the
  /// result holds the request and "rejected: queue full", the mailbox is unchanged apart from
  /// the `rejected` counter. Accepted while paused or pushed back too; it then waits.
  [[nodiscard]] push_result push(lane in, Request request, engine::steady_time now) {
    auto& q = queue(in);
    if (in != lane::cancel && q.size() >= capacity_of(in)) {
      ++stats_.rejected;
      return std::unexpected(queue_full<Request>{in, capacity_of(in), std::move(request)});
    }
    std::size_t ahead = q.size();
    for (std::size_t i = 0; i < index(in); ++i)
      ahead += lanes_[i].size();
    q.push_back(entry{std::move(request), now});
    return queue_position{in, ahead, q.size(), depth()};
  }

  /// Puts `request` back at the head of lane `in`: the broker refused it with a pushback (HTTP
  /// 429) after `release` handed it out, so it goes first once the pushback ends. Never refused:
  /// the request already had its place in the queue.
  void requeue_front(lane in, Request request, engine::steady_time now) {
    queue(in).push_front(entry{std::move(request), now});
  }

  /// Hands out every request that may go at `now`, highest lane first and FIFO within a lane,
  /// charging the bucket and the window one token each; stops at the first request the limits
  /// refuse. Held lanes (paused) are skipped and keep their requests; before a pushback
  /// deadline nothing is handed out. No more than `at_most` are handed out (a session that
  /// keeps one request in flight asks for one). The caller sends the result in order.
  [[nodiscard]] std::vector<Request> release(engine::steady_time now,
                                             std::size_t at_most = SIZE_MAX) {
    std::vector<Request> out;
    for (std::size_t i = 0; i < lane_count; ++i) {
      if (held_[i])
        continue;
      auto& q = lanes_[i];
      while (!q.empty()) {
        if (out.size() >= at_most)
          return out;
        if (limit_wait(now) > engine::nanos::zero())
          return out;
        bucket_.try_take(now);
        if (window_)
          window_->try_take(now);
        auto waited = std::max(now - q.front().queued_at, engine::steady_time::duration::zero());
        auto wait = std::chrono::duration_cast<engine::nanos>(waited);
        stats_.total_wait += wait;
        stats_.max_wait = std::max(stats_.max_wait, wait);
        ++stats_.released;
        ++stats_.released_per_lane[i];
        if (on_release_)
          on_release_(static_cast<lane>(i), wait);
        out.push_back(std::move(q.front().request));
        q.pop_front();
      }
    }
    return out;
  }

  /// How long after `now` the next `release` will hand something out: zero if something can go
  /// now, the time until the limits or a pushback deadline allow otherwise. std::nullopt when
  /// no open lane holds a request (empty, or everything queued is paused): arm no timer then;
  /// `push` and `resume` are the owner's cue to call `release` again.
  [[nodiscard]] std::optional<engine::nanos> next_release_in(engine::steady_time now) const {
    for (std::size_t i = 0; i < lane_count; ++i)
      if (!held_[i] && !lanes_[i].empty())
        return limit_wait(now);
    return std::nullopt;
  }

  /// Honours the broker's pushback (HTTP 429 Retry-After, IBKR error 100): nothing is handed
  /// out before `until`; queued requests stay queued and pushes are still accepted. An
  /// earlier deadline than one already set is ignored.
  void pushback(engine::steady_time until) {
    ++stats_.pushbacks;
    bucket_.block_until(until);
    pushback_until_ = std::max(pushback_until_, until);
  }

  /// Changes the sustained rate to one request per `new_interval` from `now` on (e.g. slower
  /// after pacing violations). Saved-up tokens are dropped, so the next request waits one new
  /// interval; queued requests stay queued; a pushback deadline still holds. Throws
  /// std::invalid_argument when `new_interval` is not positive.
  void slow_down(engine::nanos new_interval, engine::steady_time now) {
    bucket_.set_interval(new_interval, now);
  }

  /// Goes back to the interval the mailbox was built with, the same way as `slow_down`.
  void restore_rate(engine::steady_time now) { bucket_.set_interval(normal_interval_, now); }

  /// Holds every lane (the session is not ready: connecting, resyncing, backing off). Pushes
  /// are still accepted and bounded as usual; nothing leaves until `resume`.
  void pause() noexcept { held_.fill(true); }

  /// Opens every lane; the owner calls `release` next. Queued requests then leave in priority
  /// and FIFO order, still paced by the limits.
  void resume() noexcept { held_.fill(false); }

  /// Opens one lane while the others stay as they are (e.g. queries during a resync while new
  /// orders wait for `ready`).
  void resume(lane in) noexcept { held_[index(in)] = false; }

  /// True while lane `in` is held by `pause`.
  [[nodiscard]] bool held(lane in) const noexcept { return held_[index(in)]; }

  /// Removes from lane `in` every queued request for which `match(request)` is true and returns
  /// them in queue order, without charging any limit or counting them as released. E.g. a
  /// cancel for an order that is still queued: answer both locally, send nothing.
  template <class Predicate>
  [[nodiscard]] std::vector<Request> extract_if(lane in, Predicate match) {
    std::vector<Request> out;
    auto& q = queue(in);
    for (auto it = q.begin(); it != q.end();) {
      if (match(std::as_const(it->request))) {
        out.push_back(std::move(it->request));
        it = q.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  /// Empties the mailbox regardless of limits, pause and pushback, in priority and FIFO order,
  /// for shutdown: the owner answers each request (e.g. "session stopped"); nothing is sent and
  /// nothing counts as released.
  [[nodiscard]] std::vector<Request> take_all() {
    std::vector<Request> out;
    out.reserve(depth());
    for (auto& q : lanes_) {
      for (auto& e : q)
        out.push_back(std::move(e.request));
      q.clear();
    }
    return out;
  }

  /// Requests queued in lane `in`.
  [[nodiscard]] std::size_t depth(lane in) const noexcept { return lanes_[index(in)].size(); }

  /// Requests queued in all lanes.
  [[nodiscard]] std::size_t depth() const noexcept {
    std::size_t total = 0;
    for (const auto& q : lanes_)
      total += q.size();
    return total;
  }

  /// True when no lane holds a request.
  [[nodiscard]] bool empty() const noexcept { return depth() == 0; }

  /// How long the oldest queued request has waited at `now` (zero when empty): the metric that
  /// shows a stuck queue before anything is released.
  [[nodiscard]] engine::nanos oldest_wait(engine::steady_time now) const {
    std::optional<engine::steady_time> oldest;
    for (const auto& q : lanes_)
      if (!q.empty() && (!oldest || q.front().queued_at < *oldest))
        oldest = q.front().queued_at;
    if (!oldest || *oldest >= now)
      return engine::nanos::zero();
    return std::chrono::duration_cast<engine::nanos>(now - *oldest);
  }

  /// The latest pushback deadline received (the epoch of steady_time if none).
  [[nodiscard]] engine::steady_time pushback_until() const noexcept { return pushback_until_; }

  /// The current sustained interval between two requests.
  [[nodiscard]] engine::nanos interval() const noexcept { return bucket_.interval(); }

  /// Counters since construction.
  [[nodiscard]] const mailbox_stats& stats() const noexcept { return stats_; }

  /// Calls `observer(lane, wait)` for every request `release` hands out, inside `release`, on
  /// the owner's thread (for metrics: it must not touch the mailbox). Replaces an earlier one.
  void on_release(std::function<void(lane, engine::nanos)> observer) {
    on_release_ = std::move(observer);
  }

private:
  struct entry {
    Request request;
    engine::steady_time queued_at;
  };

  static constexpr std::size_t index(lane in) noexcept { return static_cast<std::size_t>(in); }

  std::deque<entry>& queue(lane in) { return lanes_[index(in)]; }

  std::size_t capacity_of(lane in) const noexcept {
    return in == lane::new_order ? capacity_.new_order : capacity_.query;
  }

  /// Time until both the bucket (pushback included) and the window allow one request.
  engine::nanos limit_wait(engine::steady_time now) const {
    auto wait = bucket_.wait_time(now);
    if (window_)
      wait = std::max(wait, window_->wait_time(now));
    return wait;
  }

  engine::token_bucket bucket_;
  std::optional<engine::sliding_window> window_;
  lane_capacity capacity_;
  engine::nanos normal_interval_;
  std::array<std::deque<entry>, lane_count> lanes_;
  std::array<bool, lane_count> held_{true, true, true};
  engine::steady_time pushback_until_{};
  mailbox_stats stats_;
  std::function<void(lane, engine::nanos)> on_release_;
};

} // namespace brokerd::actors
