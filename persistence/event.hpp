#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decimal.hpp"
#include "engine/order.hpp"

namespace brokerd::persistence {

/// Current version of the event JSON document ("v"). Readers accept every version up to this.
inline constexpr int event_version = 1;

/// Who established the fact an event records.
enum class event_source : std::uint8_t {
  /// Reported by the broker (an ack, a fill, a cancel confirmation).
  broker,
  /// Found by reconciliation after a (re)connect or restart, not seen live.
  reconcile,
  /// Decided by brokerd itself (the submitted intent, a local reject, a connection state).
  local,
};

/// "broker", "reconcile" or "local".
std::string_view to_string(event_source x) noexcept;

/// Text → `event_source`; `unknown_enum_value` names the field and lists the accepted values.
std::expected<event_source, engine::error> parse_event_source(std::string_view text);

/// Event type names: a contract with replay tooling and subscribers; add, never rename.
namespace event_types {
/// The order intent: none → pending_new, with the full order. Always synced before sending.
inline constexpr std::string_view order_submitted = "order.submitted";
/// A status transition `from` → `to`, with the cumulative fill state after it.
inline constexpr std::string_view order_status = "order.status";
/// A fill that does not change the status (another partial fill while partially_filled).
inline constexpr std::string_view order_fill = "order.fill";
/// A broker report that the state machine refused (illegal transition, fill going backwards);
/// recorded for audit, never applied.
inline constexpr std::string_view order_anomaly = "order.anomaly";
/// A connection's session changed state (`state`, with `reason`).
inline constexpr std::string_view connection_state = "connection.state";
/// The prefix of every connection event type (for subscribers that follow only those).
inline constexpr std::string_view connection_prefix = "connection.";
} // namespace event_types

/// One record of the event log. Fields that do not apply to a type stay empty/nullopt and
/// are omitted from the JSON form.
struct event {
  /// Assigned by the log on append: gap-free, starting at 1.
  std::uint64_t seq = 0;
  /// Wall-clock time of the append (ns since the Unix epoch).
  std::int64_t ts_ns = 0;
  int version = event_version;
  std::string type;
  std::string user;
  std::string connection;
  std::optional<engine::broker_id> broker;
  std::string order_id;
  std::string client_order_id;
  std::string broker_order_id;
  std::optional<engine::order_status> from;
  std::optional<engine::order_status> to;
  // Order details (order.submitted).
  std::string symbol;
  std::optional<engine::side> order_side;
  std::optional<engine::order_type> type_of_order;
  std::optional<engine::time_in_force> tif;
  std::optional<engine::decimal> quantity;
  std::optional<engine::decimal> limit_price;
  std::optional<engine::decimal> stop_price;
  // Fill state after the event (order.status / order.fill).
  std::optional<engine::decimal> filled_quantity;
  std::optional<engine::decimal> avg_fill_price;
  std::optional<engine::decimal> last_quantity;
  std::optional<engine::decimal> last_price;
  std::string exec_id;
  event_source source = event_source::local;
  /// A connection state name (connection.state).
  std::string state;
  /// Human-readable reason: a reject or cancel reason, a broker error with its code. Never
  /// holds a secret.
  std::string reason;

  friend bool operator==(const event&, const event&) = default;
};

using event_batch = std::vector<event>;

/// A batch of the one event `ev`, moved in (a braced `event_batch{ev}` would copy it out of
/// its initializer list).
inline event_batch single_event(event ev) {
  event_batch out;
  out.push_back(std::move(ev));
  return out;
}

/// Builds the order.submitted event for `o`: none → pending_new with every order field,
/// `source` local (seq and ts are set by the log).
event make_submitted_event(const engine::order& o);

} // namespace brokerd::persistence
