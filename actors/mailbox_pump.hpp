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
#include "actors/metrics.hpp"
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
  /// The connection's series (see `measure`); null while not measured.
  const metrics::connection_metrics* metrics = nullptr;

  mailbox_pump() = default;
  mailbox_pump(const mailbox_pump&) = delete;
  mailbox_pump& operator=(const mailbox_pump&) = delete;

  /// A session that ends leaves no queue behind: its depth gauges go back to 0.
  ~mailbox_pump() {
    if (metrics)
      for (auto* g : metrics->queue_depth)
        g->set(0);
  }
};

/// The series of the connection a session serves.
inline const metrics::connection_metrics& metrics_of(const connection_spec& spec) {
  return metrics::for_connection(engine::to_string(spec.broker), spec.id);
}

/// Measures `p`'s mailbox as connection `m`'s: every released request and its wait, per lane,
/// and the queue depth at every pump. Call once, after the mailbox is built.
inline void measure(mailbox_pump& p, const metrics::connection_metrics& m) {
  p.metrics = &m;
  p.mailbox->on_release([&m](lane in, engine::nanos waited) {
    auto i = static_cast<std::size_t>(in);
    m.requests[i]->inc();
    m.queue_wait[i]->observe(waited);
  });
}

/// Sets the queue depth gauges of a measured mailbox.
inline void report_depth(const mailbox_pump& p) {
  if (!p.metrics)
    return;
  for (std::size_t i = 0; i < lane_count; ++i)
    p.metrics->queue_depth[i]->set(static_cast<std::int64_t>(p.mailbox->depth(static_cast<lane>(i))));
}

/// Runs every queued request the limits allow now, then arms the timer for the next one.
/// The actor handles (drain_atom, epoch) by calling `on_drain`.
template <class Self> void pump(Self* self, mailbox_pump& p) {
  report_depth(p); // a push (or requeue) comes before every pump
  if (p.hold)
    return;
  auto now = self->clock().now();
  for (auto& run : p.mailbox->release(now, p.batch))
    run();
  report_depth(p);
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
