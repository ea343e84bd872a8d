#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/decimal.hpp"
#include "engine/order.hpp"
#include "persistence/errc.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::persistence {

/// One broken rule found in the log.
struct fault {
  /// The record's sequence number (0 for a key of the wrong shape).
  std::uint64_t seq = 0;
  /// The order concerned, empty when the fault is not about one order.
  std::string order_id;
  /// What is wrong, e.g. "from new but the order is partially_filled".
  std::string what;

  friend bool operator==(const fault&, const fault&) = default;
};

/// What a verification found.
struct verify_report {
  /// Records checked, damaged ones included.
  std::uint64_t records = 0;
  /// Distinct order ids seen.
  std::size_t orders = 0;
  std::vector<fault> faults;

  [[nodiscard]] bool ok() const noexcept { return faults.empty(); }
};

/// Checks a log record by record, in sequence order:
///   - sequence numbers start at 1 and are contiguous;
///   - every record decodes and has a known type;
///   - every order event names an order, and an order's first event is order.submitted going
///     to pending_new with a positive quantity (and an order is submitted only once);
///   - every order.status has a `from` equal to the order's current status and a `to`, and
///     from → to is legal (engine::is_legal_transition);
///   - the filled quantity never decreases nor exceeds the order's quantity, and a transition
///     to filled that states a filled quantity states the whole quantity;
///   - order.fill (a fill without a status change) happens only while partially_filled and
///     states the filled quantity;
///   - after a terminal status only order.anomaly events follow.
/// An event that breaks a rule is reported once and otherwise applied as far as it can be, so
/// that one fault does not cascade into many. A missing or undecodable record cannot be
/// applied: the later events of its order may then be reported against the state before it.
/// Not thread-safe.
class log_verifier {
public:
  /// Checks the next record.
  void check(const read_record& r);

  /// The report so far.
  [[nodiscard]] verify_report report() const;

private:
  struct order_track {
    engine::order_status status = engine::order_status::pending_new;
    engine::decimal filled;
    std::optional<engine::decimal> quantity;
  };

  void check_order_event(const event& e);
  void check_fill_state(const event& e, order_track& o);
  void add(const event& e, std::string what);

  std::unordered_map<std::string, order_track> orders_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t records_ = 0;
  std::vector<fault> faults_;
};

/// Verifies every record of `log` (see `log_verifier`). Fails only when the log cannot be
/// read; a broken rule is a fault in the report, not an error.
std::expected<verify_report, error> verify_log(const event_log& log);

} // namespace brokerd::persistence
