#include "engine/decimal.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/engine/support/engine_string_makers.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using brokerd::engine::decimal;
using brokerd::engine::errc;

namespace {

decimal dec(std::string_view text) {
  auto d = decimal::parse(text);
  INFO("parsing '" << text << "'");
  REQUIRE(d.has_value());
  return *d;
}

constexpr std::int64_t max_units = std::numeric_limits<std::int64_t>::max();

} // namespace

TEST_CASE("integers parse exactly and print without a fraction", "[decimal]") {
  CHECK(dec("0").units() == 0);
  CHECK(dec("1").units() == 100'000'000);
  CHECK(dec("100").to_string() == "100");
  CHECK(dec("42").units() == 42 * decimal::one_units);
  CHECK(dec("007").to_string() == "7");
  CHECK(dec("92233720368").to_string() == "92233720368");
}

TEST_CASE("fractions up to 8 digits parse exactly and print in their shortest form", "[decimal]") {
  CHECK(dec("187.25").units() == 18'725'000'000);
  CHECK(dec("187.25").to_string() == "187.25");
  CHECK(dec("0.5").to_string() == "0.5");
  CHECK(dec(".5").to_string() == "0.5");
  CHECK(dec("0.00000001").units() == 1);
  CHECK(dec("0.00000001").to_string() == "0.00000001");
  CHECK(dec("12345.67891234").units() == 1'234'567'891'234);
  CHECK(dec("12345.67891234").to_string() == "12345.67891234");
  CHECK(dec("1.10").to_string() == "1.1");
  CHECK(dec("2.00000000").to_string() == "2");
}

TEST_CASE("every text form round-trips through parse and to_string", "[decimal]") {
  for (std::string_view text :
       {"0", "1", "-1", "0.1", "-0.1", "187.25", "-187.25", "0.00000001", "-0.00000001",
        "12345.67891234", "99.9999", "92233720368.54775807", "-92233720368.54775807"}) {
    INFO(text);
    CHECK(dec(text).to_string() == text);
  }
}

TEST_CASE("a negative value keeps its sign and a leading plus is accepted", "[decimal]") {
  CHECK(dec("-0.5").units() == -50'000'000);
  CHECK(dec("-0.5").is_negative());
  CHECK(dec("-12.3").to_string() == "-12.3");
  CHECK(dec("+187.25") == dec("187.25"));
  CHECK(dec("+187.25").to_string() == "187.25");
  CHECK(dec("-0") == decimal{});
  CHECK(dec("-0").to_string() == "0");
}

TEST_CASE("zeros beyond the 8th fraction digit are accepted and change nothing", "[decimal]") {
  CHECK(dec("1.000000000") == dec("1"));
  CHECK(dec("1.12345678000000") == dec("1.12345678"));
  CHECK(dec("0.0000000100").units() == 1);
  CHECK(dec("-92233720368.547758070") == dec("-92233720368.54775807"));
  std::string long_zeros = "5." + std::string(10'000, '0');
  CHECK(dec(long_zeros) == dec("5"));
}

TEST_CASE("0.1 plus 0.2 is exactly 0.3", "[decimal]") {
  auto sum = dec("0.1") + dec("0.2");
  CHECK(sum == dec("0.3"));
  CHECK(sum.to_string() == "0.3");
  auto checked = dec("0.1").checked_add(dec("0.2"));
  REQUIRE(checked.has_value());
  CHECK(*checked == dec("0.3"));
}

TEST_CASE("every malformed decimal string is a bad_decimal error", "[decimal]") {
  for (std::string_view text :
       {"",      "-",   "+",   ".",  "-.", "+.",          "1.",          "-1.",         "1..2",
        "1.2.3", "1e3", "1E3", " 1", "1 ", " ",           "abc",         "1a",          "0x10",
        "1,5",   "--1", "+-1", "1-", "١",  "1.123456789", "0.000000001", "1.000000001", "∞",
        "NaN",   "inf"}) {
    INFO("'" << text << "'");
    auto d = decimal::parse(text);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::bad_decimal);
    CHECK_FALSE(d.error().message.empty());
  }
}

TEST_CASE("a string with an embedded NUL is rejected", "[decimal]") {
  std::string text{"1\0"
                   "2",
                   3};
  auto d = decimal::parse(text);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == errc::bad_decimal);
}

TEST_CASE("the range ends at plus and minus 92233720368.54775807", "[decimal]") {
  CHECK(dec("92233720368.54775807").units() == max_units);
  CHECK(dec("-92233720368.54775807").units() == -max_units);
  for (std::string_view text :
       {"92233720368.54775808", "-92233720368.54775808", "92233720369", "-92233720369",
        "92233720368.6", "100000000000", "99999999999.99999999", "18446744073709551616",
        "-18446744073709551616"}) {
    INFO(text);
    auto d = decimal::parse(text);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::bad_decimal);
    CHECK(d.error().message.find("range") != std::string::npos);
  }
}

TEST_CASE("a huge digit string is rejected with a bounded message", "[decimal]") {
  std::string digits(100'000, '9');
  auto d = decimal::parse(digits);
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == errc::bad_decimal);
  CHECK(d.error().message.size() < 100);

  auto with_fraction = decimal::parse("1." + std::string(100'000, '7'));
  REQUIRE_FALSE(with_fraction.has_value());
  CHECK(with_fraction.error().message.size() < 100);

  // Leading zeros do not count towards the range.
  CHECK(dec(std::string(1'000, '0') + "12.5") == dec("12.5"));
}

TEST_CASE("the error message quotes the offending text", "[decimal]") {
  auto d = decimal::parse("12x");
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().message.find("'12x'") != std::string::npos);
  CHECK(d.error().to_string().starts_with("bad_decimal: "));
}

TEST_CASE("fraction_digits counts the digits in use", "[decimal]") {
  CHECK(dec("100").fraction_digits() == 0);
  CHECK(dec("187.25").fraction_digits() == 2);
  CHECK(dec("-187.25").fraction_digits() == 2);
  CHECK(dec("0.0001").fraction_digits() == 4);
  CHECK(dec("0.00001").fraction_digits() == 5);
  CHECK(dec("1.12345678").fraction_digits() == 8);
  CHECK(dec("-0.00000001").fraction_digits() == 8);
}

TEST_CASE("from_integer builds whole numbers and refuses values outside the range", "[decimal]") {
  auto seven = decimal::from_integer(7);
  REQUIRE(seven.has_value());
  CHECK(*seven == dec("7"));
  auto largest = decimal::from_integer(92'233'720'368);
  REQUIRE(largest.has_value());
  CHECK(largest->to_string() == "92233720368");
  auto too_big = decimal::from_integer(92'233'720'369);
  REQUIRE_FALSE(too_big.has_value());
  CHECK(too_big.error().code == errc::overflow);
  auto too_small = decimal::from_integer(-92'233'720'369);
  REQUIRE_FALSE(too_small.has_value());
  CHECK(too_small.error().code == errc::overflow);
  CHECK_FALSE(decimal::from_integer(std::numeric_limits<std::int64_t>::min()).has_value());
}

TEST_CASE("checked_add and checked_sub are exact inside the range and fail outside it",
          "[decimal]") {
  auto max = decimal::from_units(max_units);
  auto min = decimal::from_units(-max_units);
  auto tiny = decimal::from_units(1);

  auto sum = dec("187.25").checked_add(dec("-0.26"));
  REQUIRE(sum.has_value());
  CHECK(sum->to_string() == "186.99");
  auto diff = dec("0.3").checked_sub(dec("0.1"));
  REQUIRE(diff.has_value());
  CHECK(*diff == dec("0.2"));

  auto at_max = max.checked_sub(tiny).value().checked_add(tiny);
  REQUIRE(at_max.has_value());
  CHECK(*at_max == max);

  auto over = max.checked_add(tiny);
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().code == errc::overflow);
  auto under = min.checked_sub(tiny);
  REQUIRE_FALSE(under.has_value());
  CHECK(under.error().code == errc::overflow);
  CHECK_FALSE(max.checked_sub(min).has_value());
  CHECK_FALSE(min.checked_sub(max).has_value());
  CHECK_FALSE(max.checked_add(max).has_value());
  auto zero = max.checked_add(min);
  REQUIRE(zero.has_value());
  CHECK(zero->is_zero());
}

TEST_CASE("comparison and unary minus follow the numeric value", "[decimal]") {
  CHECK(dec("0.1") < dec("0.2"));
  CHECK(dec("-1") < dec("0.00000001"));
  CHECK(dec("1.5") == dec("1.50000000"));
  CHECK(-dec("1.5") == dec("-1.5"));
  CHECK(dec("2") - dec("0.5") == dec("1.5"));
  CHECK(dec("3").is_positive());
  CHECK(decimal{}.is_zero());
}

TEST_CASE("weighted_average of two fills is the volume-weighted price", "[decimal]") {
  auto avg = decimal::weighted_average(dec("100"), dec("1"), dec("101"), dec("3"));
  REQUIRE(avg.has_value());
  CHECK(avg->to_string() == "100.75");

  auto first_fill = decimal::weighted_average(dec("0"), dec("0"), dec("187.25"), dec("10"));
  REQUIRE(first_fill.has_value());
  CHECK(*first_fill == dec("187.25"));

  // 10 / 3 = 3.333333333... rounds down to 3.33333333.
  auto thirds = decimal::weighted_average(dec("10"), dec("1"), dec("0"), dec("2"));
  REQUIRE(thirds.has_value());
  CHECK(thirds->to_string() == "3.33333333");
  // 20 / 3 = 6.666666666... rounds up to 6.66666667.
  auto two_thirds = decimal::weighted_average(dec("20"), dec("1"), dec("0"), dec("2"));
  REQUIRE(two_thirds.has_value());
  CHECK(two_thirds->to_string() == "6.66666667");
}

TEST_CASE("weighted_average rounds an exact half to the even last digit", "[decimal]") {
  // (0.00000001 * 1 + 0 * 1) / 2 = 0.000000005: a tie, rounds to the even 0.
  auto to_zero = decimal::weighted_average(dec("0.00000001"), dec("1"), dec("0"), dec("1"));
  REQUIRE(to_zero.has_value());
  CHECK(to_zero->units() == 0);
  // (0.00000003 + 0) / 2 = 0.000000015: a tie, rounds to the even 0.00000002.
  auto up = decimal::weighted_average(dec("0.00000003"), dec("1"), dec("0"), dec("1"));
  REQUIRE(up.has_value());
  CHECK(up->units() == 2);
  // 0.000000025 rounds down to the even 0.00000002.
  auto down = decimal::weighted_average(dec("0.00000005"), dec("1"), dec("0"), dec("1"));
  REQUIRE(down.has_value());
  CHECK(down->units() == 2);
  // Negative ties round to even too: -0.000000015 -> -0.00000002, -0.000000025 -> -0.00000002.
  auto neg_up = decimal::weighted_average(dec("-0.00000003"), dec("1"), dec("0"), dec("1"));
  REQUIRE(neg_up.has_value());
  CHECK(neg_up->units() == -2);
  auto neg_down = decimal::weighted_average(dec("-0.00000005"), dec("1"), dec("0"), dec("1"));
  REQUIRE(neg_down.has_value());
  CHECK(neg_down->units() == -2);
  // Not a tie: 0.0000000175 is above the half and rounds up.
  auto above = decimal::weighted_average(dec("0.00000007"), dec("1"), dec("0"), dec("3"));
  REQUIRE(above.has_value());
  CHECK(above->units() == 2);
}

TEST_CASE("weighted_average rounds the same with negative quantities", "[decimal]") {
  // A short position's quantities are negative; the average must not depend on the sign.
  auto prices = {std::pair{"0.00000003", "0"},  std::pair{"0.00000005", "0"},
                 std::pair{"10", "0"},          std::pair{"20", "0"},
                 std::pair{"187.25", "187.26"}, std::pair{"-0.00000003", "0"}};
  auto quantities = {std::pair{"1", "1"}, std::pair{"1", "2"}, std::pair{"1", "3"},
                     std::pair{"3", "5"}};
  for (auto [p1, p2] : prices) {
    for (auto [q1, q2] : quantities) {
      INFO(p1 << " x " << q1 << " and " << p2 << " x " << q2);
      auto positive = decimal::weighted_average(dec(p1), dec(q1), dec(p2), dec(q2));
      auto negative = decimal::weighted_average(dec(p1), -dec(q1), dec(p2), -dec(q2));
      REQUIRE(positive.has_value());
      REQUIRE(negative.has_value());
      CHECK(*positive == *negative);
    }
  }
  // Two short sales of 1, at 0.00000003 and at 0: the tie 0.000000015 goes to even.
  auto tie = decimal::weighted_average(dec("0.00000003"), dec("-1"), dec("0"), dec("-1"));
  REQUIRE(tie.has_value());
  CHECK(tie->units() == 2);
}

TEST_CASE("weighted_average of a zero total quantity or an overflowing result fails", "[decimal]") {
  auto zero = decimal::weighted_average(dec("1"), dec("0"), dec("2"), dec("0"));
  REQUIRE_FALSE(zero.has_value());
  CHECK(zero.error().code == errc::overflow);
  auto cancelling = decimal::weighted_average(dec("1"), dec("5"), dec("2"), dec("-5"));
  REQUIRE_FALSE(cancelling.has_value());

  auto max = decimal::from_units(max_units);
  auto huge_price = decimal::weighted_average(max, dec("1"), max, dec("1"));
  REQUIRE(huge_price.has_value());
  CHECK(*huge_price == max);
  // (max * 1 + (-max) * (-0.5)) / (1 - 0.5) = 3 * max leaves the range.
  auto over = decimal::weighted_average(max, dec("1"), -max, dec("-0.5"));
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().code == errc::overflow);
}

TEST_CASE("multiply gives the notional rounded half-even to 8 digits", "[decimal]") {
  auto notional = decimal::multiply(dec("187.25"), dec("100"));
  REQUIRE(notional.has_value());
  CHECK(notional->to_string() == "18725");
  auto fractional = decimal::multiply(dec("0.1"), dec("0.3"));
  REQUIRE(fractional.has_value());
  CHECK(*fractional == dec("0.03"));
  auto negative = decimal::multiply(dec("-2.5"), dec("4"));
  REQUIRE(negative.has_value());
  CHECK(*negative == dec("-10"));
  // 0.00000001 * 0.5 = 0.000000005: a tie, rounds to the even 0.
  auto tie_down = decimal::multiply(dec("0.00000001"), dec("0.5"));
  REQUIRE(tie_down.has_value());
  CHECK(tie_down->units() == 0);
  // 0.00000003 * 0.5 = 0.000000015: a tie, rounds to the even 0.00000002.
  auto tie_up = decimal::multiply(dec("0.00000003"), dec("0.5"));
  REQUIRE(tie_up.has_value());
  CHECK(tie_up->units() == 2);
  auto tie_negative = decimal::multiply(dec("-0.00000003"), dec("0.5"));
  REQUIRE(tie_negative.has_value());
  CHECK(tie_negative->units() == -2);
  // 0.00000001 * 0.6 = 0.000000006 rounds up to 0.00000001.
  auto above = decimal::multiply(dec("0.00000001"), dec("0.6"));
  REQUIRE(above.has_value());
  CHECK(above->units() == 1);
}

TEST_CASE("multiply fails when the product leaves the range", "[decimal]") {
  auto over = decimal::multiply(dec("1000000"), dec("1000000"));
  REQUIRE_FALSE(over.has_value());
  CHECK(over.error().code == errc::overflow);
  auto under = decimal::multiply(dec("-1000000"), dec("1000000"));
  REQUIRE_FALSE(under.has_value());
  auto max = decimal::from_units(max_units);
  auto same = decimal::multiply(max, dec("1"));
  REQUIRE(same.has_value());
  CHECK(*same == max);
  auto tiny = decimal::multiply(max, dec("0.00000001"));
  REQUIRE(tiny.has_value());
  CHECK(tiny->to_string() == "922.33720369");
}
