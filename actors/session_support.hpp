#pragma once

// Pieces every networked broker session (IBKR, Alpaca) uses the same way: its epoch-guarded
// timers, its state reports to the supervisor, its exception handler and the parsing of
// integer settings.

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <expected>
#include <string>
#include <string_view>

#include "actors/logging.hpp"
#include "actors/messages.hpp"

namespace brokerd::actors {

/// Arms timer `kind` of a session whose state holds `timer_epochs` (one epoch per kind): the
/// session receives (timeout_atom, kind, epoch) after `after` and ignores it when the epoch
/// has moved on (timers cannot be cancelled in CAF 0.17).
template <class Self, class Timer>
void arm_timer(Self self, Timer kind, std::chrono::milliseconds after) {
  auto idx = static_cast<std::size_t>(kind);
  self->delayed_send(self, after, timeout_atom_v, static_cast<std::uint64_t>(idx),
                     ++self->state.timer_epochs[idx]);
}

/// Makes every armed timer of `kind` stale.
template <class Self, class Timer> void disarm_timer(Self self, Timer kind) {
  ++self->state.timer_epochs[static_cast<std::size_t>(kind)];
}

/// Tells the session's supervisor (state.supervisor) its new connection state.
template <class Self>
void report_session_state(Self self, connection_state next, std::string reason = {}) {
  self->anon_send(self->state.supervisor, state_atom_v, next, std::move(reason));
}

/// An exception escaping a handler ends the session with session_unavailable naming
/// `broker`, logged under `component` with the connection id (state.spec.id).
template <class Self>
void install_session_exception_handler(Self self, std::string_view component,
                                       std::string broker) {
  self->set_exception_handler([self, component, broker](std::exception_ptr& eptr) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    log::error(component, "connection " + self->state.spec.id + ": session failed: " + what);
    return make_error(errc::session_unavailable, broker + " session failed: " + what);
  });
}

/// An order's rank on its way to a final state, for sessions that learn statuses from
/// snapshots (polls, streams that replay): a report never takes an order back to a lower rank
/// without a fill.
constexpr int status_progress(engine::order_status s) noexcept {
  switch (s) {
    case engine::order_status::pending_new:
    case engine::order_status::unknown:
      return 0;
    case engine::order_status::new_:
      return 1;
    case engine::order_status::partially_filled:
      return 2;
    case engine::order_status::pending_cancel:
      return 3;
    case engine::order_status::filled:
    case engine::order_status::canceled:
    case engine::order_status::rejected:
    case engine::order_status::expired:
      return 4;
  }
  return 0;
}

/// Parses the integer setting `key` of `broker` ("ibkr", "alpaca") within [lo, hi]; the
/// error names the key and the range, never the value.
inline std::expected<std::int64_t, std::string>
parse_int_setting(std::string_view broker, const std::string& key, const std::string& value,
                  std::int64_t lo, std::int64_t hi) {
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || ptr != value.data() + value.size() || n < lo || n > hi)
    return std::unexpected(std::string{broker} + " setting " + key + " must be " +
                           std::to_string(lo) + ".." + std::to_string(hi));
  return n;
}

} // namespace brokerd::actors
