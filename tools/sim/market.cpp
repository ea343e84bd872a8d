#include "tools/sim/market.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

namespace brokerd::sim {

using engine::decimal;

namespace {

__extension__ typedef __int128 i128;

constexpr i128 one = decimal::one_units;

/// n / d rounded half to even (d != 0).
i128 div_round(i128 n, i128 d) {
  bool negative = (n < 0) != (d < 0);
  if (n < 0)
    n = -n;
  if (d < 0)
    d = -d;
  i128 q = n / d;
  i128 r = n % d;
  if (2 * r > d || (2 * r == d && (q & 1) != 0))
    ++q;
  return negative ? -q : q;
}

decimal clamp(i128 v) {
  constexpr i128 hi = std::numeric_limits<std::int64_t>::max();
  constexpr i128 lo = std::numeric_limits<std::int64_t>::min();
  return decimal::from_units(static_cast<std::int64_t>(std::clamp(v, lo, hi)));
}

/// 10^(8 - digits): the unit step of a value rounded to `digits` fraction digits.
i128 step_of(int digits) {
  i128 step = 1;
  for (int i = digits; i < decimal::scale; ++i)
    step *= 10;
  return step;
}

struct listing {
  std::string_view symbol;
  std::string_view primary;
};

constexpr std::array<listing, 10> listings{{{"AAPL", "NASDAQ"},
                                            {"MSFT", "NASDAQ"},
                                            {"AMZN", "NASDAQ"},
                                            {"GOOG", "NASDAQ"},
                                            {"NVDA", "NASDAQ"},
                                            {"TSLA", "NASDAQ"},
                                            {"QQQ", "NASDAQ"},
                                            {"SPY", "ARCA"},
                                            {"IBM", "NYSE"},
                                            {"JPM", "NYSE"}}};

} // namespace

decimal multiply(decimal a, decimal b) {
  return clamp(div_round(static_cast<i128>(a.units()) * b.units(), one));
}

decimal divide(decimal a, decimal b) {
  if (b.is_zero())
    return {};
  return clamp(div_round(static_cast<i128>(a.units()) * one, b.units()));
}

decimal absolute(decimal a) {
  return a.is_negative() ? -a : a;
}

decimal round_to(decimal v, int digits) {
  auto step = step_of(std::clamp(digits, 0, decimal::scale));
  return clamp(div_round(v.units(), step) * step);
}

std::string format_fixed(decimal value, int digits) {
  digits = std::clamp(digits, 0, decimal::scale);
  i128 q = div_round(value.units(), step_of(digits));
  bool negative = q < 0;
  if (negative)
    q = -q;
  i128 base = 1;
  for (int i = 0; i < digits; ++i)
    base *= 10;
  auto whole = static_cast<std::uint64_t>(q / base);
  auto frac = static_cast<std::uint64_t>(q % base);
  std::string out = negative ? "-" : "";
  out += std::to_string(whole);
  if (digits > 0) {
    auto f = std::to_string(frac);
    out += '.';
    out.append(static_cast<std::size_t>(digits) - f.size(), '0');
    out += f;
  }
  return out;
}

std::string_view primary_exchange_of(std::string_view symbol) {
  for (const auto& l : listings)
    if (l.symbol == symbol)
      return l.primary;
  return "NASDAQ";
}

// -- prices --------------------------------------------------------------------------------------

price_board::price_board(std::map<std::string, std::vector<decimal>> paths, decimal default_price)
    : paths_(std::move(paths)), default_price_(default_price) {}

decimal price_board::price(const std::string& symbol) const {
  if (auto it = overrides_.find(symbol); it != overrides_.end())
    return it->second;
  if (auto it = paths_.find(symbol); it != paths_.end() && !it->second.empty())
    return it->second[step_ % it->second.size()];
  return default_price_;
}

decimal price_board::opening_price(const std::string& symbol) const {
  if (auto it = paths_.find(symbol); it != paths_.end() && !it->second.empty())
    return it->second.front();
  return default_price_;
}

void price_board::set_price(const std::string& symbol, decimal price) {
  overrides_[symbol] = price;
}

void price_board::clear_price(const std::string& symbol) {
  overrides_.erase(symbol);
}

// -- matching ------------------------------------------------------------------------------------

match_step match(const working_order& o, decimal price, decimal fill_chunk) {
  match_step step;
  if (has_stop(o.kind) && !o.triggered) {
    auto stop = o.stop_price.value_or(decimal{});
    if (o.buy ? price < stop : price > stop)
      return step;
    step.triggers = true;
  }
  auto limit = o.limit_price.value_or(decimal{});
  bool marketable = !has_limit(o.kind) || (o.buy ? price <= limit : price >= limit);
  if (o.rule == fill_rule::fill_or_kill) {
    if (marketable && o.remaining <= fill_chunk)
      step.quantity = o.remaining;
    else
      step.cancel_rest = true;
    return step;
  }
  if (marketable)
    step.quantity = std::min(o.remaining, fill_chunk);
  step.cancel_rest = o.rule == fill_rule::immediate_or_cancel;
  return step;
}

// -- positions -----------------------------------------------------------------------------------

std::optional<decimal> holding::apply(bool buy, decimal qty, decimal price, decimal fee) {
  auto signed_qty = buy ? qty : -qty;
  if (quantity.is_zero() || quantity.is_negative() == signed_qty.is_negative()) {
    auto cost = multiply(absolute(quantity), avg_cost) + multiply(qty, price) + (buy ? fee : -fee);
    quantity = quantity + signed_qty;
    avg_cost = divide(cost, absolute(quantity));
    return std::nullopt;
  }
  auto closing = std::min(absolute(quantity), qty);
  auto per_share = quantity.is_positive() ? price - avg_cost : avg_cost - price;
  auto pnl = multiply(per_share, closing) - fee;
  realized = realized + pnl;
  quantity = quantity + signed_qty;
  if (quantity.is_zero())
    avg_cost = {};
  else if (absolute(signed_qty) > closing)
    avg_cost = price; // the position crossed zero: the rest opened at this price
  return pnl;
}

} // namespace brokerd::sim
