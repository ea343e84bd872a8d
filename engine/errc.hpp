#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace brokerd::engine {

/// Error codes of the domain layer. Values are stable: they appear in logs and API errors.
enum class errc : std::uint8_t {
  /// A decimal string is empty, has a bad character, too many fraction digits or overflows.
  bad_decimal = 1,
  /// An order field is missing or out of range (see the error's message for which).
  invalid_order,
  /// A status transition is not in the table of legal transitions.
  illegal_transition,
  /// An enum's text form is not one of its known values.
  unknown_enum_value,
  /// An arithmetic result does not fit the fixed-point range.
  overflow,
};

/// Returns the stable text form of `x`, e.g. "bad_decimal".
std::string_view to_string(errc x) noexcept;

/// A domain error: a code plus a message that names the offending field or value.
struct error {
  errc code;
  std::string message;

  /// Renders "code: message".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const error&, const error&) = default;
};

} // namespace brokerd::engine
