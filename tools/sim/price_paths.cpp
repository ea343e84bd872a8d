#include "tools/sim/price_paths.hpp"

#include "engine/order.hpp"

namespace brokerd::sim {

std::expected<price_paths, std::string> parse_price_paths(std::string_view text) {
  price_paths out;
  while (!text.empty()) {
    auto semi = text.find(';');
    auto entry = text.substr(0, semi);
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (entry.empty())
      continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos)
      return std::unexpected("prices: '" + std::string{entry} +
                             "' does not look like SYM=p1,p2;SYM2=p");
    std::string symbol{entry.substr(0, eq)};
    if (auto ok = engine::validate_symbol(symbol); !ok)
      return std::unexpected("prices: " + ok.error().message);
    if (out.contains(symbol))
      return std::unexpected("prices: " + symbol + " is given twice");
    std::vector<engine::decimal> path;
    auto list = entry.substr(eq + 1);
    while (!list.empty()) {
      auto comma = list.find(',');
      auto item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      auto price = engine::decimal::parse(item);
      if (!price || !price->is_positive())
        return std::unexpected("prices: '" + std::string{item} + "' of " + symbol +
                               " is not a positive price");
      path.push_back(*price);
    }
    if (path.empty())
      return std::unexpected("prices: " + symbol + " has no prices");
    out.emplace(std::move(symbol), std::move(path));
  }
  return out;
}

} // namespace brokerd::sim
