#pragma once

#include <string>
#include <string_view>

namespace brokerd::actors {

/// A secret (password, API key, token). It can be carried and compared but never formatted:
/// there is no operator<<, no to_string, and `redacted()` is all a log line can get.
class secret {
public:
  secret() = default;
  explicit secret(std::string value) : value_(std::move(value)) {}
  /// The plain value, for the one place that must use it (a request header, an encryption).
  [[nodiscard]] const std::string& reveal() const noexcept { return value_; }
  [[nodiscard]] static std::string_view redacted() noexcept { return "***"; }
  [[nodiscard]] bool empty() const noexcept { return value_.empty(); }
  friend bool operator==(const secret&, const secret&) = default;

private:
  std::string value_;
};

/// brokerd's text log (stderr, one line per record: time, level, component, message). Order
/// status changes go to the event log, not here. Thread-safe. Messages must never contain a
/// secret: pass `secret::redacted()` where one would appear.
namespace log {
enum class level { debug, info, warn, error };
/// Sets the lowest level written (default info).
void set_level(level lvl);
void write(level lvl, std::string_view component, std::string_view message);
inline void info(std::string_view component, std::string_view message) {
  write(level::info, component, message);
}
inline void warn(std::string_view component, std::string_view message) {
  write(level::warn, component, message);
}
inline void error(std::string_view component, std::string_view message) {
  write(level::error, component, message);
}
} // namespace log

} // namespace brokerd::actors
