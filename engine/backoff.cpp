#include "engine/backoff.hpp"

#include <stdexcept>

namespace brokerd::engine {

backoff::backoff(duration initial, duration cap, std::uint64_t seed)
    : initial_(initial), cap_(cap), rng_(seed) {
  if (initial_ <= duration::zero())
    throw std::invalid_argument("backoff: initial delay must be positive");
  if (cap_ < initial_)
    throw std::invalid_argument("backoff: cap must not be below the initial delay");
}

backoff::duration backoff::ceiling() const noexcept {
  auto d = initial_;
  for (std::uint32_t i = 0; i < attempt_ && d < cap_; ++i)
    d *= 2;
  return d < cap_ ? d : cap_;
}

backoff::duration backoff::next() {
  auto ceil = ceiling();
  ++attempt_;
  auto low = ceil.count() / 2;
  std::uniform_int_distribution<std::int64_t> dist{low, ceil.count()};
  return duration{dist(rng_)};
}

} // namespace brokerd::engine
