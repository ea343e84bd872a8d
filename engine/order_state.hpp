#pragma once

#include <expected>

#include "engine/errc.hpp"
#include "engine/order.hpp"

namespace brokerd::engine {

/// True for statuses no transition leaves: filled, canceled, rejected, expired.
bool is_terminal(order_status s) noexcept;

/// The table of legal transitions (a status to itself is never a transition):
///   pending_new      → new, partially_filled, filled, rejected, canceled, expired,
///                      pending_cancel, unknown
///   new              → partially_filled, filled, pending_cancel, canceled, expired, rejected,
///                      unknown
///   partially_filled → filled, pending_cancel, canceled, expired, unknown
///   pending_cancel   → new, partially_filled, filled, canceled, rejected, expired, unknown
///                      (a cancel can be refused, fills race with cancels, and an order
///                      canceled before the broker acknowledged it can still be rejected)
///   unknown          → new, partially_filled, filled, pending_cancel, canceled, rejected,
///                      expired (reconciliation resolves it to whatever the broker says)
///   terminal         → nothing
bool is_legal_transition(order_status from, order_status to) noexcept;

/// Returns `illegal_transition` naming both statuses when the pair is not legal.
std::expected<void, error> check_transition(order_status from, order_status to);

} // namespace brokerd::engine
