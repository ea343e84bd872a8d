#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace brokerd::engine {

/// Capped exponential backoff with "equal jitter": attempt k waits a uniformly random time in
/// [d/2, d] where d = min(cap, initial * 2^k). Seedable, so tests are deterministic. One owner.
class backoff {
public:
  using duration = std::chrono::milliseconds;

  /// `initial` > 0 and `cap` >= `initial`, else std::invalid_argument.
  backoff(duration initial, duration cap, std::uint64_t seed);

  /// The delay before the next attempt; advances the attempt counter.
  duration next();

  /// The ceiling of the next delay without jitter (what `next` would draw below).
  [[nodiscard]] duration ceiling() const noexcept;

  /// Back to the first attempt (call after a healthy period).
  void reset() noexcept { attempt_ = 0; }

  [[nodiscard]] std::uint32_t attempts() const noexcept { return attempt_; }

private:
  duration initial_;
  duration cap_;
  std::uint32_t attempt_ = 0;
  std::mt19937_64 rng_;
};

} // namespace brokerd::engine
