#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "engine/decimal.hpp"
#include "engine/order.hpp"
#include "persistence/event.hpp"

namespace brokerd::persistence::testing {

/// A fresh, empty directory under the system temp directory, removed with everything in it
/// when the object is destroyed.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// A path inside the directory (not created).
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const;

private:
  std::filesystem::path path_;
};

/// Parses a decimal known to be valid.
engine::decimal dec(std::string_view text);

/// A valid limit order "o-<n>" of 100 AAPL at 187.25 for user "u1" on connection "c1".
engine::order sample_order(std::string id);

/// order.status `from` → `to` for `order_id`, with the fill state when given.
event status_event(std::string order_id, engine::order_status from, engine::order_status to,
                   std::optional<std::string_view> filled = std::nullopt,
                   std::optional<std::string_view> avg = std::nullopt);

/// order.fill for `order_id` with cumulative `filled` at average `avg`.
event fill_event(std::string order_id, std::string_view filled, std::string_view avg);

/// An event with every field set to a non-default value.
event full_event();

} // namespace brokerd::persistence::testing
