#pragma once

#include <cstdint>
#include <expected>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/order.hpp"
#include "persistence/errc.hpp"
#include "persistence/event.hpp"

namespace brokerd::persistence {

class event_log;

/// One order as rebuilt from the log.
struct projected_order {
  engine::order order;
  /// Sequence number of the last event applied to the order.
  std::uint64_t last_seq = 0;

  friend bool operator==(const projected_order&, const projected_order&) = default;
};

/// Folds order events, in sequence order, into every order's current state: what brokerd
/// rebuilds at start-up and what `brokerctl state` prints. It applies what the log holds
/// without judging it (the log holds only transitions the state machine accepted; `verify`
/// is the judge):
///   - order.submitted creates the order from its fields (a second one for the same id is
///     ignored);
///   - order.status sets the status to `to`, and order.status and order.fill take the fill
///     state (filledQuantity, avgFillPrice), a broker order id and a reason when present;
///   - an order first seen in an order.status or order.fill (one found by reconciliation) is
///     created from that event's fields;
///   - order.anomaly, connection.state and unknown types change no order.
/// Not thread-safe: one owner folds.
class order_projection {
public:
  using order_map = std::map<std::string, projected_order, std::less<>>;

  /// Applies one event (see the class comment).
  void apply(const event& e);

  /// The order with id `order_id`, or nullptr.
  [[nodiscard]] const projected_order* find(std::string_view order_id) const;

  /// Every order, by id.
  [[nodiscard]] const order_map& orders() const noexcept { return orders_; }

  /// Sequence number of the last event applied (of any type); 0 before the first.
  [[nodiscard]] std::uint64_t last_seq() const noexcept { return last_seq_; }

private:
  order_map orders_;
  std::uint64_t last_seq_ = 0;
};

/// A record of the log that could not be read, with its sequence number.
struct damaged_record {
  std::uint64_t seq = 0;
  error problem;
};

/// The outcome of folding a log.
struct rebuild_result {
  order_projection projection;
  /// Records read, damaged ones included.
  std::uint64_t records = 0;
  /// The records that could not be decoded; the fold skipped them and went on.
  std::vector<damaged_record> damaged;
};

/// Reads `log` from seq 1 through `up_to_seq` (the whole log by default) and folds every
/// event into a projection. Damaged records are listed and skipped. Fails only when the log
/// cannot be read.
std::expected<rebuild_result, error>
rebuild_orders(const event_log& log,
               std::uint64_t up_to_seq = std::numeric_limits<std::uint64_t>::max());

} // namespace brokerd::persistence
