#include "actors/supervisor.hpp"

#include "actors/logging.hpp"
#include "actors/metrics.hpp"
#include "engine/backoff.hpp"

namespace brokerd::actors {

namespace {

constexpr std::size_t state_count = static_cast<std::size_t>(connection_state::stopped) + 1;

struct supervisor_state {
  connection_spec spec;
  session_factory factory;
  event_log_actor log;
  caf::actor router;
  supervisor_policy policy;
  std::optional<engine::backoff> retry;
  broker_session_actor child;
  connection_state state = connection_state::stopped;
  std::uint64_t restart_epoch = 0;
  std::uint64_t stable_epoch = 0;
  bool stopping = false;
  const metrics::connection_metrics* metrics = nullptr;
  /// brokerd_connection_state per state, indexed by connection_state.
  std::array<metrics::gauge*, state_count> state_gauges{};
  static inline const char* name = "connection_supervisor";
};

using self_ptr = caf::stateful_actor<supervisor_state>*;


void record_state(self_ptr self, connection_state next, std::string reason) {
  auto& st = self->state;
  if (next == st.state && reason.empty())
    return;
  st.state_gauges[static_cast<std::size_t>(st.state)]->set(0);
  st.state_gauges[static_cast<std::size_t>(next)]->set(1);
  st.state = next;
  persistence::event ev;
  ev.type = std::string{persistence::event_types::connection_state};
  ev.user = st.spec.user;
  ev.connection = st.spec.id;
  ev.broker = st.spec.broker;
  ev.state = std::string{to_string(next)};
  ev.reason = std::move(reason);
  ev.source = persistence::event_source::local;
  self->request(st.log, caf::infinite, append_atom_v, persistence::single_event(std::move(ev)), false)
      .then([](std::uint64_t) {},
            [](caf::error& err) {
              log::error("supervisor", "cannot record a connection state: " + describe(err).message);
            });
  self->send(st.router, state_atom_v, st.spec.id, next);
}

void start_child(self_ptr self) {
  auto& st = self->state;
  // A connection waiting for new credentials stays auth_required while it tries again.
  if (st.state != connection_state::auth_required)
    record_state(self, connection_state::connecting, {});
  st.child = st.factory(self, st.spec, caf::actor{self}, st.router);
  self->monitor(st.child);
}

/// Forwards a request to the session, or refuses it while none runs.
template <class R, class... Ts>
caf::result<R> forward(self_ptr self, Ts&&... xs) {
  if (!self->state.child)
    return make_error(errc::session_unavailable,
                      "connection " + self->state.spec.id + " is " +
                          std::string{to_string(self->state.state)});
  return self->delegate(self->state.child, std::forward<Ts>(xs)...);
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, connection_spec spec, session_factory factory,
                            event_log_actor log, caf::actor router, supervisor_policy policy) {
  auto impl = [](self_ptr self, connection_spec s, session_factory f, event_log_actor l,
                 caf::actor r, supervisor_policy p) -> caf::behavior {
    auto& init = self->state;
    init.spec = std::move(s);
    init.factory = std::move(f);
    init.log = std::move(l);
    init.router = std::move(r);
    init.policy = p;
    init.retry.emplace(p.initial_backoff, p.max_backoff, p.seed);
    init.metrics = &metrics::for_connection(engine::to_string(init.spec.broker), init.spec.id);
    for (std::size_t i = 0; i < state_count; ++i)
      init.state_gauges[i] = &init.metrics->state(to_string(static_cast<connection_state>(i)));
    self->set_down_handler([self](caf::down_msg& dm) {
      auto& st = self->state;
      if (!st.child || dm.source != st.child.address())
        return;
      st.child = nullptr;
      ++st.stable_epoch;
      if (st.stopping)
        return;
      if (st.state == connection_state::auth_required) {
        // The broker refused the credentials: asking again soon cannot help. The state stays
        // auth_required (the API and the log say why) and a new session tries at the pace of
        // the longest backoff, in case the broker's refusal was its own fault.
        self->delayed_send(self, st.policy.max_backoff, restart_atom_v, ++st.restart_epoch);
        return;
      }
      auto delay = st.retry->next();
      record_state(self, connection_state::backoff,
                   "session ended (" + caf::to_string(dm.reason) + "); restarting in " +
                       std::to_string(delay.count()) + " ms");
      self->delayed_send(self, delay, restart_atom_v, ++st.restart_epoch);
    });
    start_child(self);
    return {
        [self](restart_atom, std::uint64_t epoch) {
          if (epoch == self->state.restart_epoch && !self->state.stopping && !self->state.child) {
            self->state.metrics->reconnects->inc();
            start_child(self);
          }
        },
        [self](stable_atom, std::uint64_t epoch) {
          if (epoch == self->state.stable_epoch)
            self->state.retry->reset();
        },
        [self](state_atom, connection_state next, std::string& reason) {
          auto& st = self->state;
          if (!st.child)
            return; // a report from a session that already ended
          record_state(self, next, std::move(reason));
          if (next == connection_state::ready)
            self->delayed_send(self, st.policy.stable_after, stable_atom_v, ++st.stable_epoch);
        },
        [self](connect_atom a) { return forward<engine::balance>(self, a); },
        [self](balance_atom a) { return forward<engine::balance>(self, a); },
        [self](positions_atom a) { return forward<engine::position_list>(self, a); },
        [self](place_atom a, engine::order& o) { return forward<order_ack>(self, a, std::move(o)); },
        [self](cancel_atom a, engine::order& o) { return forward<order_ack>(self, a, std::move(o)); },
        [self](status_atom a, engine::order& o) { return forward<order_update>(self, a, std::move(o)); },
        [self](stop_atom) {
          auto& st = self->state;
          st.stopping = true;
          if (st.child)
            self->send_exit(st.child, caf::exit_reason::user_shutdown);
          record_state(self, connection_state::stopped, "connection stopped");
          self->quit();
        },
    };
  };
  return sys.spawn(impl, std::move(spec), std::move(factory), std::move(log), std::move(router),
                   policy);
}

} // namespace brokerd::actors
