#include "actors/event_log_actor.hpp"

#include <algorithm>
#include <vector>

#include "actors/logging.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::actors {

namespace {

/// One caller's append waiting for the next group commit.
struct pending_append {
  persistence::event_batch events;
  registry_writes registry;
  bool sync = false;
  caf::typed_response_promise<std::uint64_t> promise;
};

/// A live subscriber and the type prefix of the events it wants ("" for all).
struct subscriber {
  caf::actor actor;
  std::string prefix;

  [[nodiscard]] bool wants(const persistence::event& ev) const {
    return ev.type.starts_with(prefix);
  }
};

struct event_log_state {
  std::shared_ptr<persistence::event_log> log;
  std::vector<pending_append> pending;
  bool flush_scheduled = false;
  std::vector<subscriber> subscribers;
  static inline const char* name = "event_log";
};

using self_ptr = event_log_actor::stateful_pointer<event_log_state>;

constexpr std::uint32_t history_chunk = 4096;

/// Reads decodable events from `from_seq` on; damaged records are skipped (brokerctl verify
/// and replay report them with their sequence numbers).
persistence::event_batch read_events(persistence::event_log& db, std::uint64_t from_seq,
                                     std::uint32_t limit) {
  persistence::event_batch out;
  auto records = db.read_range(from_seq, limit);
  if (!records) {
    log::error("event_log", "read failed: " + records.error().message);
    return out;
  }
  for (auto& rec : *records)
    if (rec.value)
      out.push_back(std::move(*rec.value));
  return out;
}

/// Writes every pending append in one WriteBatch, then answers the callers and notifies the
/// subscribers, in sequence order.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty())
    return;
  auto group = std::move(st.pending);
  st.pending.clear();
  std::vector<persistence::append_group> groups;
  groups.reserve(group.size());
  bool sync = false;
  for (auto& p : group) {
    sync = sync || p.sync;
    groups.push_back(persistence::append_group{p.events, p.registry});
  }
  auto res = st.log->commit(groups, sync);
  if (!res) {
    auto msg = "event log append failed: " + res.error().message;
    log::error("event_log", msg);
    for (auto& p : group)
      p.promise.deliver(make_error(errc::log_write_failed, msg));
    return;
  }
  auto last = st.log->last_seq();
  for (auto& p : group) {
    if (!p.events.empty())
      last = p.events.back().seq;
    p.promise.deliver(last);
  }
  for (const auto& sub : st.subscribers)
    for (const auto& p : group)
      for (const auto& ev : p.events)
        if (sub.wants(ev))
          self->anon_send(sub.actor, event_atom_v, ev);
}

caf::result<std::uint64_t> enqueue(self_ptr self, persistence::event_batch events,
                                   registry_writes registry, bool sync) {
  auto rp = self->make_response_promise<std::uint64_t>();
  self->state.pending.push_back(pending_append{std::move(events), std::move(registry), sync, rp});
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    self->send(self, flush_atom_v);
  }
  return rp;
}

/// Sends `sub` the history from `from_seq` on, then adds it to the live subscribers.
std::uint64_t subscribe(self_ptr self, subscriber sub, std::uint64_t from_seq) {
  // Everything pending is written first so history and live events cannot overlap.
  flush(self);
  auto& db = *self->state.log;
  auto next = std::max<std::uint64_t>(from_seq, 1);
  while (next <= db.last_seq()) {
    auto records = db.read_range(next, history_chunk);
    if (!records || records->empty()) {
      if (!records)
        log::error("event_log", "history read failed: " + records.error().message);
      break;
    }
    // Damaged records are skipped (replay and verify report them), never the rest.
    for (auto& rec : *records)
      if (rec.value && sub.wants(*rec.value))
        self->anon_send(sub.actor, event_atom_v, std::move(*rec.value));
    next = records->back().seq + 1;
  }
  self->monitor(sub.actor);
  self->state.subscribers.push_back(std::move(sub));
  return db.last_seq();
}

} // namespace

event_log_actor spawn_event_log(caf::actor_system& sys,
                                std::shared_ptr<persistence::event_log> log) {
  auto impl = [](self_ptr self,
                 std::shared_ptr<persistence::event_log> handle) -> event_log_actor::behavior_type {
    self->state.log = std::move(handle);
    self->attach_functor([](const caf::error& reason) {
      if (reason && reason != caf::exit_reason::user_shutdown)
        log::error("event_log", "event log actor stopped: " + caf::to_string(reason));
    });
    self->set_down_handler([self](const caf::down_msg& dm) {
      auto& subs = self->state.subscribers;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const subscriber& s) { return s.actor.address() == dm.source; }),
                 subs.end());
    });
    return {
        [self](append_atom, persistence::event_batch& events,
               bool sync) -> caf::result<std::uint64_t> {
          return enqueue(self, std::move(events), {}, sync);
        },
        [self](append_atom, persistence::event_batch& events, bool sync,
               registry_writes& registry) -> caf::result<std::uint64_t> {
          return enqueue(self, std::move(events), std::move(registry), sync);
        },
        [self](flush_atom) { flush(self); },
        [self](read_atom, std::uint64_t from_seq, std::uint32_t limit) {
          return read_events(*self->state.log, from_seq, limit);
        },
        [self](read_atom, const std::string& order_id) {
          persistence::event_batch out;
          auto records = self->state.log->read_order(order_id);
          if (records)
            for (auto& rec : *records)
              if (rec.value)
                out.push_back(std::move(*rec.value));
          return out;
        },
        [self](subscribe_atom, caf::actor& sub, std::uint64_t from_seq) {
          return subscribe(self, subscriber{std::move(sub), {}}, from_seq);
        },
        [self](subscribe_atom, caf::actor& sub, std::uint64_t from_seq, std::string& prefix) {
          return subscribe(self, subscriber{std::move(sub), std::move(prefix)}, from_seq);
        },
        [self](unsub_atom, const caf::actor& sub) {
          auto& subs = self->state.subscribers;
          subs.erase(std::remove_if(subs.begin(), subs.end(),
                                    [&](const subscriber& s) { return s.actor == sub; }),
                     subs.end());
        },
        [self](drain_atom) {
          flush(self);
          return self->state.log->last_seq();
        },
    };
  };
  return sys.spawn<caf::detached>(impl, std::move(log));
}

} // namespace brokerd::actors
