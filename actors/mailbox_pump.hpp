#pragma once

// Drives a session's rate-limit mailbox from the session actor's own timer: run what the
// limits allow now, then arm one (drain_atom, epoch) timer for the next release. Timers cannot
// be cancelled in CAF 0.17; a stale one carries an old epoch and is ignored.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "actors/messages.hpp"
#include "actors/rate_limit_mailbox.hpp"

namespace brokerd::actors {

/// A session's outgoing queue of deferred sends and the state of its release timer.
struct mailbox_pump {
  std::optional<rate_limit_mailbox<std::function<void()>>> mailbox;
  std::uint64_t epoch = 0;
  bool armed = false;
  /// Requests run per release; a session with one request in flight at a time sets 1.
  std::size_t batch = SIZE_MAX;
  /// While set, nothing is released and no timer armed (a request is in flight); the owner
  /// clears it and pumps again when the answer arrives.
  bool hold = false;
};

/// Runs every queued request the limits allow now, then arms the timer for the next one.
/// The actor handles (drain_atom, epoch) by calling `on_drain`.
template <class Self> void pump(Self* self, mailbox_pump& p) {
  if (p.hold)
    return;
  auto now = self->clock().now();
  for (auto& run : p.mailbox->release(now, p.batch))
    run();
  if (p.armed || p.hold)
    return;
  if (auto wait = p.mailbox->next_release_in(now)) {
    p.armed = true;
    self->delayed_send(self, std::chrono::ceil<std::chrono::microseconds>(*wait), drain_atom_v,
                       ++p.epoch);
  }
}

/// The (drain_atom, epoch) handler: ignores stale timers.
template <class Self> void on_drain(Self* self, mailbox_pump& p, std::uint64_t epoch) {
  if (epoch != p.epoch)
    return;
  p.armed = false;
  pump(self, p);
}

} // namespace brokerd::actors
