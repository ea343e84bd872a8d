#pragma once

#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "engine/errc.hpp"

namespace brokerd::engine {

/// A fixed-point decimal with 8 fraction digits, stored as a signed 64-bit count of 1e-8 units.
/// Range: ±92,233,720,368.54775807. Used for every price and quantity in the order path; there
/// is no conversion from or to floating point.
class decimal {
public:
  /// Fraction digits kept exactly.
  static constexpr int scale = 8;
  /// 10^scale: the number of units in 1.
  static constexpr std::int64_t one_units = 100'000'000;

  constexpr decimal() noexcept = default;

  /// Builds a decimal from raw units (1 unit = 1e-8).
  static constexpr decimal from_units(std::int64_t units) noexcept {
    decimal d;
    d.units_ = units;
    return d;
  }

  /// Builds a whole number; fails with `overflow` outside the range.
  static std::expected<decimal, error> from_integer(std::int64_t value);

  /// Parses "123", "-0.5", "+187.25", "1e3"-free plain notation. Up to 8 fraction digits;
  /// further digits are accepted only when they are zeros. Leading/trailing spaces, empty
  /// strings, lone signs or dots, and out-of-range values are `bad_decimal` errors.
  static std::expected<decimal, error> parse(std::string_view text);

  /// The shortest exact text form: no trailing fraction zeros, no exponent ("187.25", "100").
  [[nodiscard]] std::string to_string() const;

  [[nodiscard]] constexpr std::int64_t units() const noexcept { return units_; }
  [[nodiscard]] constexpr bool is_zero() const noexcept { return units_ == 0; }
  [[nodiscard]] constexpr bool is_positive() const noexcept { return units_ > 0; }
  [[nodiscard]] constexpr bool is_negative() const noexcept { return units_ < 0; }
  /// Number of fraction digits in use (0..8), e.g. 2 for 187.25.
  [[nodiscard]] int fraction_digits() const noexcept;

  /// Checked arithmetic; `overflow` when the result leaves the range.
  [[nodiscard]] std::expected<decimal, error> checked_add(decimal other) const;
  [[nodiscard]] std::expected<decimal, error> checked_sub(decimal other) const;

  /// Unchecked arithmetic for values known to be in range (quantities of one order).
  friend constexpr decimal operator+(decimal a, decimal b) noexcept {
    return from_units(a.units_ + b.units_);
  }
  friend constexpr decimal operator-(decimal a, decimal b) noexcept {
    return from_units(a.units_ - b.units_);
  }
  friend constexpr decimal operator-(decimal a) noexcept { return from_units(-a.units_); }

  friend constexpr auto operator<=>(decimal, decimal) noexcept = default;
  friend constexpr bool operator==(decimal, decimal) noexcept = default;

  /// The volume-weighted average of two fills: (p1*q1 + p2*q2) / (q1+q2), rounded half-even
  /// to 8 digits. Used for the average fill price. Fails on overflow or a zero total quantity.
  static std::expected<decimal, error> weighted_average(decimal price1, decimal qty1,
                                                        decimal price2, decimal qty2);

  /// price * quantity rounded half-even to 8 digits (a notional amount).
  static std::expected<decimal, error> multiply(decimal a, decimal b);

private:
  std::int64_t units_ = 0;
};

} // namespace brokerd::engine
