#include "engine/token_bucket.hpp"

#include <algorithm>
#include <stdexcept>

namespace brokerd::engine {

token_bucket::token_bucket(nanos interval, std::uint32_t burst, steady_time now)
    : interval_(interval), burst_(burst), tat_(now), blocked_until_(now) {
  if (interval_ <= nanos::zero())
    throw std::invalid_argument("token_bucket: interval must be positive");
  if (burst_ == 0)
    throw std::invalid_argument("token_bucket: burst must be at least 1");
}

token_bucket token_bucket::per_period(std::uint32_t count, nanos period, std::uint32_t burst,
                                      steady_time now) {
  if (count == 0)
    throw std::invalid_argument("token_bucket: count must be at least 1");
  // Round the interval up so the bucket never exceeds `count` per `period`.
  auto interval = nanos{(period.count() + count - 1) / count};
  return token_bucket{interval, burst, now};
}

nanos token_bucket::wait_time(steady_time now) const {
  // A token is available when now >= tat - (burst - 1) * interval.
  auto ready_at = tat_ - interval_ * static_cast<std::int64_t>(burst_ - 1);
  ready_at = std::max(ready_at, blocked_until_);
  return now >= ready_at ? nanos::zero() : std::chrono::duration_cast<nanos>(ready_at - now);
}

bool token_bucket::try_take(steady_time now) {
  if (wait_time(now) > nanos::zero())
    return false;
  tat_ = std::max(tat_, now) + interval_;
  return true;
}

std::uint32_t token_bucket::available(steady_time now) const {
  if (now < blocked_until_)
    return 0;
  if (tat_ <= now)
    return burst_;
  auto debt = (tat_ - now) / interval_; // whole intervals still owed
  auto owed_partial = ((tat_ - now) % interval_) != nanos::zero() ? 1 : 0;
  auto used = debt + owed_partial;
  return used >= burst_ ? 0u : static_cast<std::uint32_t>(burst_ - used);
}

void token_bucket::block_until(steady_time until) {
  blocked_until_ = std::max(blocked_until_, until);
}

void token_bucket::set_interval(nanos interval, steady_time now) {
  if (interval <= nanos::zero())
    throw std::invalid_argument("token_bucket: interval must be positive");
  interval_ = interval;
  // The bucket restarts empty at the new rate: the next token comes one new interval after
  // now (a token is available once now >= tat - (burst - 1) * interval). Debt counted at the
  // old rate is not carried over, so going back to a faster rate takes effect at once.
  tat_ = now + interval_ * static_cast<std::int64_t>(burst_);
}

sliding_window::sliding_window(std::uint32_t limit, nanos window)
    : limit_(limit), window_(window) {
  if (limit_ == 0)
    throw std::invalid_argument("sliding_window: limit must be at least 1");
  if (window_ <= nanos::zero())
    throw std::invalid_argument("sliding_window: window must be positive");
}

std::uint32_t sliding_window::in_window(steady_time now) const {
  // The window is closed: a take at exactly now - window still counts, as in wait_time.
  auto start = now - window_;
  auto first = std::lower_bound(stamps_.begin(), stamps_.end(), start);
  return static_cast<std::uint32_t>(stamps_.end() - first);
}

nanos sliding_window::wait_time(steady_time now) const {
  if (in_window(now) < limit_)
    return nanos::zero();
  // The oldest stamp that still counts must leave the window (strictly older than now-window).
  auto oldest = stamps_[stamps_.size() - limit_];
  auto free_at = oldest + window_;
  return free_at > now ? std::chrono::duration_cast<nanos>(free_at - now) + nanos{1} : nanos{1};
}

bool sliding_window::try_take(steady_time now) {
  if (wait_time(now) > nanos::zero())
    return false;
  stamps_.push_back(now);
  while (stamps_.size() > limit_)
    stamps_.pop_front();
  return true;
}

} // namespace brokerd::engine
