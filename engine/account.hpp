#pragma once

#include <string>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::engine {

/// A normalized account balance, as every broker session reports it.
struct balance {
  decimal cash;
  decimal equity;
  decimal buying_power;
  std::string currency = "USD";
  friend bool operator==(const balance&, const balance&) = default;
};

/// One normalized position. `quantity` is signed: long > 0, short < 0.
struct position {
  std::string symbol;
  decimal quantity;
  decimal avg_cost;
  decimal market_value;
  friend bool operator==(const position&, const position&) = default;
};

using position_list = std::vector<position>;

} // namespace brokerd::engine
