#pragma once

// The price-path syntax every simulator shares, e.g. "AAPL=187.25,187.5;MSFT=410": per symbol a
// path of positive prices, one step per tick, repeating (the paper broker's `prices` setting).

#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decimal.hpp"

namespace brokerd::sim {

/// Price paths by symbol.
using price_paths = std::map<std::string, std::vector<engine::decimal>>;

/// Parses "SYM=p1,p2;SYM2=p": symbols as `engine::validate_symbol` accepts them, prices positive
/// plain decimals. An empty text is no paths; an empty entry (a trailing ';') is skipped. The
/// error names the entry at fault.
std::expected<price_paths, std::string> parse_price_paths(std::string_view text);

} // namespace brokerd::sim
