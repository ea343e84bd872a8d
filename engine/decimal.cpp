#include "engine/decimal.hpp"

#include <limits>

namespace brokerd::engine {

namespace {

__extension__ using int128 = __int128;

constexpr std::int64_t max_units = std::numeric_limits<std::int64_t>::max();

error bad(std::string_view text, std::string_view why) {
  std::string msg{"'"};
  // Keep messages bounded: a hostile caller may send megabytes.
  msg += text.substr(0, 40);
  if (text.size() > 40)
    msg += "...";
  msg += "' ";
  msg += why;
  return error{errc::bad_decimal, std::move(msg)};
}

/// Divides rounding half to even; `den` != 0 (a negative total quantity is a short position).
int128 div_half_even(int128 num, int128 den) {
  if (den < 0) {
    num = -num;
    den = -den;
  }
  int128 q = num / den;
  int128 r = num % den;
  if (r < 0)
    r = -r;
  int128 twice = r * 2;
  bool negative = num < 0;
  if (twice > den || (twice == den && (q % 2) != 0))
    q += negative ? -1 : 1;
  return q;
}

std::expected<decimal, error> from_wide(int128 v) {
  if (v > max_units || v < -max_units)
    return std::unexpected(error{errc::overflow, "result outside the decimal range"});
  return decimal::from_units(static_cast<std::int64_t>(v));
}

} // namespace

std::expected<decimal, error> decimal::from_integer(std::int64_t value) {
  return from_wide(static_cast<int128>(value) * one_units);
}

std::expected<decimal, error> decimal::parse(std::string_view text) {
  if (text.empty())
    return std::unexpected(bad(text, "is empty"));
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    i = 1;
  }
  int128 units = 0;
  std::size_t int_digits = 0;
  std::size_t frac_digits = 0;
  bool seen_dot = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (seen_dot)
        return std::unexpected(bad(text, "has more than one '.'"));
      seen_dot = true;
      continue;
    }
    if (c < '0' || c > '9')
      return std::unexpected(bad(text, "is not a plain decimal number"));
    int digit = c - '0';
    if (!seen_dot) {
      ++int_digits;
      units = units * 10 + digit;
      if (units > max_units / one_units + 1)
        return std::unexpected(bad(text, "is out of range"));
    } else {
      ++frac_digits;
      if (frac_digits > static_cast<std::size_t>(scale)) {
        if (digit != 0)
          return std::unexpected(bad(text, "has more than 8 decimal places"));
        continue;
      }
      units = units * 10 + digit;
    }
  }
  if (int_digits == 0 && frac_digits == 0)
    return std::unexpected(bad(text, "has no digits"));
  if (seen_dot && frac_digits == 0)
    return std::unexpected(bad(text, "ends with '.'"));
  if (!seen_dot || frac_digits <= static_cast<std::size_t>(scale)) {
    for (auto k = seen_dot ? frac_digits : 0; k < static_cast<std::size_t>(scale); ++k)
      units *= 10;
  }
  if (units > max_units)
    return std::unexpected(bad(text, "is out of range"));
  return from_units(static_cast<std::int64_t>(negative ? -units : units));
}

std::string decimal::to_string() const {
  int128 v = units_;
  bool negative = v < 0;
  if (negative)
    v = -v;
  auto whole = static_cast<std::uint64_t>(v / one_units);
  auto frac = static_cast<std::uint64_t>(v % one_units);
  std::string out;
  if (negative)
    out += '-';
  out += std::to_string(whole);
  if (frac != 0) {
    std::string digits = std::to_string(frac);
    digits.insert(0, static_cast<std::size_t>(scale) - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0')
      digits.pop_back();
    out += '.';
    out += digits;
  }
  return out;
}

int decimal::fraction_digits() const noexcept {
  std::int64_t frac = units_ % one_units;
  if (frac == 0)
    return 0;
  int digits = scale;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  return digits;
}

std::expected<decimal, error> decimal::checked_add(decimal other) const {
  return from_wide(static_cast<int128>(units_) + other.units_);
}

std::expected<decimal, error> decimal::checked_sub(decimal other) const {
  return from_wide(static_cast<int128>(units_) - other.units_);
}

std::expected<decimal, error> decimal::weighted_average(decimal price1, decimal qty1,
                                                        decimal price2, decimal qty2) {
  int128 total_qty = static_cast<int128>(qty1.units_) + qty2.units_;
  if (total_qty == 0)
    return std::unexpected(error{errc::overflow, "weighted average of zero quantity"});
  int128 notional = static_cast<int128>(price1.units_) * qty1.units_ +
                    static_cast<int128>(price2.units_) * qty2.units_;
  return from_wide(div_half_even(notional, total_qty));
}

std::expected<decimal, error> decimal::multiply(decimal a, decimal b) {
  int128 product = static_cast<int128>(a.units_) * b.units_;
  return from_wide(div_half_even(product, one_units));
}

} // namespace brokerd::engine
