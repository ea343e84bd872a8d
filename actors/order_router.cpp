#include "actors/order_router.hpp"

#include <deque>
#include <random>
#include <unordered_map>

#include "actors/deadline_queue.hpp"
#include "actors/logging.hpp"
#include "actors/metrics.hpp"
#include "engine/order_state.hpp"

namespace brokerd::actors {

namespace {

using engine::order_status;
using persistence::event_source;

struct connection_entry {
  std::string user;
  engine::broker_id broker = engine::broker_id::paper;
  caf::actor supervisor;
  connection_state state = connection_state::connecting;
  bool reconciling = false;
  std::uint64_t reconcile_epoch = 0;
  std::size_t reconcile_pending = 0;
  /// Durable orders not yet sent (the session was not ready), in arrival order.
  std::deque<std::string> waiting;
  /// The connection's series, looked up at its first order.
  const metrics::connection_metrics* metrics = nullptr;
};

struct order_entry {
  engine::order o;
  /// The intent is in the log; only then is the order answered and sent.
  bool durable = false;
  /// Handed to a session by this process, or of unknown fate (rebuilt from the log).
  bool sent = false;
  std::vector<caf::response_promise> waiters;
  /// While a session holds the order and has not answered: the ticket of that send (0 when
  /// nothing is outstanding). An answer or a deadline with another ticket is stale.
  std::uint64_t ack_ticket = 0;
};

/// One send waiting for its answer: the order becomes `unknown` if the session has not
/// answered that send by its deadline.
struct ack_wait {
  std::string id;
  std::uint64_t ticket = 0;
};

struct router_state {
  event_log_actor log;
  router_config cfg;
  std::unordered_map<std::string, order_entry> orders;
  std::unordered_map<std::string, std::string> by_client;
  std::unordered_map<std::string, std::vector<std::string>> by_connection;
  std::unordered_map<std::string, connection_entry> conns;
  /// Outstanding sends by deadline (every send waits `place_timeout`).
  deadline_queue<ack_wait> ack_deadlines;
  std::uint64_t last_ticket = 0;
  std::mt19937_64 rng;
  static inline const char* name = "order_router";
};

using self_ptr = caf::stateful_actor<router_state>*;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string client_key(const std::string& user, const std::string& client_order_id) {
  return user + '\x1f' + client_order_id;
}

/// A new id: `prefix`, then 12 hex digits of the wall time in milliseconds and 20 random hex
/// digits (80 bits). Ids made later sort after earlier ones, so the order index of the log is
/// written near its end (a random id lands anywhere in RocksDB's memtable, which costs a full
/// skip-list search per event).
std::string new_id(self_ptr self, const char* prefix) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string id{prefix};
  auto ms = static_cast<std::uint64_t>(now_ns() / 1'000'000);
  for (int shift = 44; shift >= 0; shift -= 4)
    id += hex[(ms >> shift) & 0xf];
  auto a = self->state.rng();
  auto b = self->state.rng();
  for (int i = 0; i < 16; ++i, a >>= 4)
    id += hex[a & 0xf];
  for (int i = 0; i < 4; ++i, b >>= 4)
    id += hex[b & 0xf];
  return id;
}

persistence::event base_event(const engine::order& o, std::string_view type) {
  persistence::event ev;
  ev.type = std::string{type};
  ev.user = o.user;
  ev.connection = o.connection;
  ev.broker = o.broker;
  ev.order_id = o.id;
  ev.client_order_id = o.client_order_id;
  ev.broker_order_id = o.broker_order_id;
  return ev;
}

/// Records a status, fill or anomaly event. Nobody waits for it: the log writes in arrival
/// order, so a later read sees it, and a failed write is reported by the log itself. Sent
/// without a reply address, it costs no answer message and no response handler.
void append(self_ptr self, persistence::event ev, bool sync) {
  caf::anon_send(self->state.log, append_atom_v, persistence::single_event(std::move(ev)), sync);
}

void record_anomaly(self_ptr self, const engine::order& o, const order_update& u,
                    std::string why) {
  auto ev = base_event(o, persistence::event_types::order_anomaly);
  ev.from = o.status;
  ev.to = u.status;
  ev.filled_quantity = u.filled_quantity;
  ev.source = u.source;
  ev.exec_id = u.exec_id;
  ev.reason = std::move(why);
  if (!u.reason.empty())
    ev.reason += " (broker: " + u.reason + ")";
  append(self, std::move(ev), self->state.cfg.sync_status_events);
}

/// Applies a report to an order through the state machine and records it.
void apply_update(self_ptr self, order_entry& e, const order_update& u) {
  auto& o = e.o;
  if (!u.broker_order_id.empty() && o.broker_order_id.empty())
    o.broker_order_id = u.broker_order_id;
  if (u.filled_quantity > o.quantity)
    return record_anomaly(self, o, u, "reported fill exceeds the order quantity");
  if (u.status == o.status) {
    if (u.filled_quantity == o.filled_quantity)
      return; // a duplicate report
    if (u.filled_quantity < o.filled_quantity)
      return record_anomaly(self, o, u, "reported fill quantity went backwards");
    if (o.status != order_status::partially_filled)
      return record_anomaly(self, o, u, "a fill without a status change");
    auto ev = base_event(o, persistence::event_types::order_fill);
    ev.from = o.status;
    ev.to = o.status;
    ev.filled_quantity = u.filled_quantity;
    ev.avg_fill_price = u.avg_fill_price;
    ev.last_quantity = u.last_quantity;
    ev.last_price = u.last_price;
    ev.exec_id = u.exec_id;
    ev.source = u.source;
    o.filled_quantity = u.filled_quantity;
    o.avg_fill_price = u.avg_fill_price;
    o.updated_ns = now_ns();
    return append(self, std::move(ev), self->state.cfg.sync_status_events);
  }
  if (u.filled_quantity < o.filled_quantity)
    return record_anomaly(self, o, u, "reported fill quantity went backwards");
  if (!engine::is_legal_transition(o.status, u.status))
    return record_anomaly(self, o, u,
                          std::string{engine::to_string(o.status)} + " -> " +
                              std::string{engine::to_string(u.status)} +
                              " is not a legal transition");
  auto ev = base_event(o, persistence::event_types::order_status);
  ev.from = o.status;
  ev.to = u.status;
  ev.filled_quantity = u.filled_quantity;
  ev.avg_fill_price = u.avg_fill_price;
  ev.last_quantity = u.last_quantity;
  ev.last_price = u.last_price;
  ev.exec_id = u.exec_id;
  ev.source = u.source;
  ev.reason = u.reason;
  o.status = u.status;
  o.filled_quantity = u.filled_quantity;
  o.avg_fill_price = u.avg_fill_price;
  if (!u.reason.empty())
    o.reason = u.reason;
  o.updated_ns = now_ns();
  append(self, std::move(ev), self->state.cfg.sync_status_events);
}

/// A local decision about an order (unknown after a lost ack, canceled before sending...).
void apply_local(self_ptr self, order_entry& e, order_status to, std::string reason,
                 event_source source = event_source::local) {
  order_update u;
  u.status = to;
  u.filled_quantity = e.o.filled_quantity;
  u.avg_fill_price = e.o.avg_fill_price;
  u.reason = std::move(reason);
  u.source = source;
  apply_update(self, e, u);
}

order_entry* find_order(self_ptr self, const std::string& id) {
  auto it = self->state.orders.find(id);
  return it == self->state.orders.end() ? nullptr : &it->second;
}

void send_order(self_ptr self, const std::string& id);

void flush_waiting(self_ptr self, const std::string& conn_id) {
  auto it = self->state.conns.find(conn_id);
  if (it == self->state.conns.end())
    return;
  auto& c = it->second;
  while (!c.waiting.empty() && c.state == connection_state::ready && !c.reconciling) {
    auto id = c.waiting.front();
    c.waiting.pop_front();
    send_order(self, id);
  }
}

/// Ends an order that was never sent because its connection needs a new sign-in.
void reject_unsent(self_ptr self, order_entry& e) {
  apply_local(self, e, order_status::rejected,
              "not sent: connection " + e.o.connection + " needs a new sign-in (auth_required)");
}

/// Routes a durable order: sends it now, or queues it until the session is ready.
void route(self_ptr self, const std::string& id) {
  auto* e = find_order(self, id);
  if (!e)
    return;
  auto it = self->state.conns.find(e->o.connection);
  if (it == self->state.conns.end()) {
    apply_local(self, *e, order_status::rejected, "connection " + e->o.connection + " is gone");
    return;
  }
  auto& c = it->second;
  if (c.state != connection_state::ready || c.reconciling || !c.waiting.empty()) {
    c.waiting.push_back(id);
    flush_waiting(self, e->o.connection);
    return;
  }
  send_order(self, id);
}

/// The session did not answer a send in time: the order may or may not have reached the
/// broker, so it is `unknown` (never re-sent; reconciliation decides).
void ack_timed_out(self_ptr self, order_entry& e) {
  if (e.o.status != order_status::pending_new)
    return; // a report that arrived meanwhile (a reconciliation, the stream) settled it
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(self->state.cfg.place_timeout);
  apply_local(self, e, order_status::unknown,
              "no acknowledgement from the broker within " +
                  (secs.count() > 0 ? std::to_string(secs.count()) + " s"
                                    : std::to_string(self->state.cfg.place_timeout.count()) +
                                          " ms"));
}

/// Ends the sends whose deadline has passed without an answer.
void sweep_deadlines(self_ptr self) {
  self->state.ack_deadlines.fire(self, timeout_atom_v, [self](const ack_wait& w) {
    auto* e = find_order(self, w.id);
    if (e == nullptr || e->ack_ticket != w.ticket)
      return; // answered, or sent again since
    e->ack_ticket = 0;
    ack_timed_out(self, *e);
  });
}

void send_order(self_ptr self, const std::string& id) {
  auto* e = find_order(self, id);
  if (!e || engine::is_terminal(e->o.status))
    return;
  auto& st = self->state;
  auto& c = st.conns[e->o.connection];
  e->sent = true;
  if (!c.metrics)
    c.metrics = &metrics::for_connection(engine::to_string(e->o.broker), e->o.connection);
  auto* m = c.metrics;
  auto sent_at = self->clock().now();
  auto ticket = ++st.last_ticket;
  e->ack_ticket = ticket;
  st.ack_deadlines.push(sent_at + st.cfg.place_timeout, ack_wait{id, ticket});
  st.ack_deadlines.arm(self, timeout_atom_v);
  // The deadline is the sweep's. A session that ends without answering leaves this handler
  // registered (CAF 0.17 promises do not break), a few hundred bytes per order it held.
  self->request(c.supervisor, caf::infinite, place_atom_v, e->o)
      .then(
          [self, id, m, sent_at, ticket](order_ack& ack) {
            auto* entry = find_order(self, id);
            if (!entry || entry->ack_ticket != ticket)
              return; // timed out already: the order is unknown until reconciled
            entry->ack_ticket = 0;
            auto latency = self->clock().now() - sent_at;
            (ack.status == order_status::rejected ? m->reject_latency : m->ack_latency)
                ->observe(latency);
            if (!ack.broker_order_id.empty() && entry->o.broker_order_id.empty())
              entry->o.broker_order_id = ack.broker_order_id;
            auto status = entry->o.status;
            if (status != order_status::pending_new && status != order_status::unknown)
              return; // later reports already moved it on
            order_update u;
            u.broker_order_id = ack.broker_order_id;
            u.status = ack.status;
            u.filled_quantity = entry->o.filled_quantity;
            u.avg_fill_price = entry->o.avg_fill_price;
            u.reason = ack.reason;
            u.source = event_source::broker;
            apply_update(self, *entry, u);
          },
          [self, id, m, sent_at, ticket](caf::error& err) {
            auto* entry = find_order(self, id);
            if (!entry || entry->ack_ticket != ticket)
              return;
            entry->ack_ticket = 0;
            auto info = describe(err);
            if (info.code == errc::broker_rejected)
              m->reject_latency->observe(self->clock().now() - sent_at);
            if (info.code == errc::session_unavailable || info.code == errc::auth_required) {
              // Nothing reached the broker: the order waits for the session, unless the
              // connection needs a new sign-in.
              entry->sent = false;
              auto& conn = self->state.conns[entry->o.connection];
              if (info.code == errc::auth_required ||
                  conn.state == connection_state::auth_required)
                return reject_unsent(self, *entry);
              conn.waiting.push_front(id);
              return;
            }
            if (info.code == errc::broker_rejected) {
              apply_local(self, *entry, order_status::rejected, info.message,
                          event_source::broker);
              return;
            }
            // Sent, but the outcome is not known: never re-send; reconciliation decides. A report
            // that arrived meanwhile (a reconciliation, the stream) already settled it.
            if (entry->o.status != order_status::pending_new)
              return;
            apply_local(self, *entry, order_status::unknown,
                        "no acknowledgement from the broker: " + info.message);
          });
}

void finish_reconcile(self_ptr self, const std::string& conn_id) {
  auto& c = self->state.conns[conn_id];
  c.reconciling = false;
  log::info("router", "connection " + conn_id + " reconciled");
  flush_waiting(self, conn_id);
}

/// Asks the broker for every non-terminal order of the connection that may have reached it,
/// and records what it says (source reconcile). New orders wait until this is done.
void start_reconcile(self_ptr self, const std::string& conn_id) {
  auto& c = self->state.conns[conn_id];
  auto epoch = ++c.reconcile_epoch;
  std::vector<std::string> targets;
  for (const auto& id : self->state.by_connection[conn_id]) {
    auto* e = find_order(self, id);
    if (e && e->durable && e->sent && !engine::is_terminal(e->o.status))
      targets.push_back(id);
  }
  if (targets.empty())
    return finish_reconcile(self, conn_id);
  c.reconciling = true;
  c.reconcile_pending = targets.size();
  auto done = [self, conn_id, epoch] {
    auto& conn = self->state.conns[conn_id];
    if (conn.reconcile_epoch != epoch || conn.reconcile_pending == 0)
      return;
    if (--conn.reconcile_pending == 0)
      finish_reconcile(self, conn_id);
  };
  for (const auto& id : targets) {
    auto* e = find_order(self, id);
    self->request(c.supervisor, self->state.cfg.ack_timeout, status_atom_v, e->o)
        .then(
            [self, id, done](order_update& u) {
              if (auto* entry = find_order(self, id)) {
                u.source = event_source::reconcile;
                if (u.order_id.empty())
                  u.order_id = id;
                apply_update(self, *entry, u);
              }
              done();
            },
            [self, id, done](caf::error& err) {
              auto info = describe(err);
              auto* entry = find_order(self, id);
              if (entry && info.code == errc::not_found_at_broker) {
                auto st = entry->o.status;
                if (st == order_status::pending_new || st == order_status::unknown)
                  apply_local(self, *entry, order_status::rejected,
                              "not found at the broker during reconciliation: it was never "
                              "placed",
                              event_source::reconcile);
                else {
                  order_update seen;
                  seen.order_id = id;
                  seen.status = st;
                  seen.filled_quantity = entry->o.filled_quantity;
                  seen.source = event_source::reconcile;
                  record_anomaly(self, entry->o, seen, "the broker no longer knows this order");
                }
              } else if (entry) {
                log::warn("router", "reconciling " + id + " failed: " + info.message);
              }
              done();
            });
  }
}

void deliver_waiters(order_entry& e) {
  for (auto& w : e.waiters)
    w.deliver(place_result{e.o, false});
  e.waiters.clear();
}

} // namespace

caf::actor spawn_router(caf::actor_system& sys, event_log_actor log,
                        std::vector<engine::order> initial, router_config cfg) {
  auto impl = [](self_ptr self, event_log_actor lg, std::vector<engine::order> init,
                 router_config c) -> caf::behavior {
    auto& boot = self->state;
    boot.log = std::move(lg);
    boot.cfg = c;
    boot.rng.seed(c.id_seed != 0 ? c.id_seed : std::random_device{}());
    for (auto& o : init) {
      auto id = o.id;
      boot.by_client[client_key(o.user, o.client_order_id)] = id;
      boot.by_connection[o.connection].push_back(id);
      boot.orders.emplace(id, order_entry{std::move(o), true, true, {}});
    }
    return {
        [self](timeout_atom) { sweep_deadlines(self); },
        [self](attach_atom, std::string& conn_id, std::string& user, engine::broker_id broker,
               caf::actor& sup) {
          // A state report may come first (the session starts at once): keep it.
          auto& conn = self->state.conns[conn_id];
          conn.user = std::move(user);
          conn.broker = broker;
          conn.supervisor = std::move(sup);
          if (conn.state == connection_state::ready)
            start_reconcile(self, conn_id);
        },
        [self](detach_atom, const std::string& conn_id) {
          auto it = self->state.conns.find(conn_id);
          if (it == self->state.conns.end())
            return;
          auto waiting = std::move(it->second.waiting);
          self->state.conns.erase(it);
          for (const auto& id : waiting)
            if (auto* e = find_order(self, id))
              apply_local(self, *e, order_status::canceled,
                          "connection removed before the order was sent");
        },
        [self](state_atom, const std::string& conn_id, connection_state s) {
          auto& conn = self->state.conns[conn_id];
          conn.state = s;
          if (s == connection_state::auth_required) {
            // Orders still waiting would otherwise go out whenever the user signs in again,
            // maybe days later, at prices nobody meant: they end here, never sent.
            auto waiting = std::move(conn.waiting);
            conn.waiting.clear();
            for (const auto& id : waiting)
              if (auto* e = find_order(self, id))
                reject_unsent(self, *e);
          }
          if (s == connection_state::ready && conn.supervisor)
            start_reconcile(self, conn_id);
        },
        [self](place_atom, engine::order& o) -> caf::result<place_result> {
          auto& st = self->state;
          auto cit = st.conns.find(o.connection);
          if (cit == st.conns.end() || cit->second.user != o.user)
            return make_error(errc::unknown_connection, "no connection " + o.connection);
          o.broker = cit->second.broker;
          o.status = order_status::pending_new;
          if (o.client_order_id.empty())
            o.client_order_id = new_id(self, "c-");
          if (auto ok = engine::validate_new_order(o); !ok)
            return make_error(errc::invalid_order, ok.error().message);
          auto key = client_key(o.user, o.client_order_id);
          if (auto known = st.by_client.find(key); known != st.by_client.end()) {
            auto* e = find_order(self, known->second);
            // A repeat is the same order sent again (a retry after a lost answer); the same id
            // with other terms is a client's mistake, never a quiet substitute.
            const auto& k = e->o;
            if (k.connection != o.connection || k.symbol != o.symbol || k.order_side != o.order_side ||
                k.quantity != o.quantity || k.type != o.type || k.limit_price != o.limit_price ||
                k.stop_price != o.stop_price || k.tif != o.tif)
              return make_error(errc::client_order_id_conflict,
                                "clientOrderId " + o.client_order_id + " already names order " +
                                    k.id + " with other terms");
            if (e->durable)
              return place_result{e->o, false};
            auto rp = self->make_response_promise<place_result>();
            e->waiters.push_back(rp);
            return rp;
          }
          if (cit->second.state == connection_state::auth_required)
            return make_error(errc::auth_required,
                              "connection " + o.connection +
                                  " needs a new sign-in: the broker refused its credentials or "
                                  "its login ended (see GET /api/brokers/user/configured)");
          if (cit->second.waiting.size() >= st.cfg.max_waiting_per_connection)
            return make_error(errc::queue_full, "too many orders waiting for connection " +
                                                    o.connection + " to become ready");
          o.id = new_id(self, "ord_");
          o.filled_quantity = {};
          o.avg_fill_price = {};
          o.created_ns = o.updated_ns = now_ns();
          auto id = o.id;
          st.by_client[key] = id;
          st.by_connection[o.connection].push_back(id);
          auto intent = persistence::make_submitted_event(o);
          st.orders.emplace(id, order_entry{std::move(o), false, false, {}});
          auto rp = self->make_response_promise<place_result>();
          self->request(st.log, caf::infinite, append_atom_v,
                        persistence::single_event(std::move(intent)), true)
              .then(
                  [self, id, rp](std::uint64_t) mutable {
                    auto* e = find_order(self, id);
                    e->durable = true;
                    rp.deliver(place_result{e->o, true});
                    deliver_waiters(*e);
                    route(self, id);
                  },
                  [self, id, key, rp](caf::error& err) mutable {
                    auto& s = self->state;
                    auto* e = find_order(self, id);
                    auto failure = make_error(errc::log_write_failed,
                                              "the order was not accepted: " +
                                                  describe(err).message);
                    for (auto& w : e->waiters)
                      w.deliver(failure);
                    auto conn = e->o.connection;
                    s.orders.erase(id);
                    s.by_client.erase(key);
                    auto& ids = s.by_connection[conn];
                    ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
                    rp.deliver(failure);
                  });
          return rp;
        },
        [self](cancel_atom, const std::string& user,
               const std::string& id) -> caf::result<engine::order> {
          auto* e = find_order(self, id);
          if (!e || e->o.user != user)
            return make_error(errc::unknown_order, "no order " + id);
          if (engine::is_terminal(e->o.status))
            return make_error(errc::order_not_cancelable,
                              "order " + id + " is " + std::string{engine::to_string(e->o.status)});
          if (e->o.status == order_status::pending_cancel)
            return e->o;
          auto cit = self->state.conns.find(e->o.connection);
          if (!e->sent) {
            if (cit != self->state.conns.end()) {
              auto& w = cit->second.waiting;
              w.erase(std::remove(w.begin(), w.end(), id), w.end());
            }
            apply_local(self, *e, order_status::canceled, "canceled before it was sent");
            return e->o;
          }
          if (cit == self->state.conns.end())
            return make_error(errc::session_unavailable,
                              "connection " + e->o.connection + " is not attached");
          auto previous = e->o.status;
          apply_local(self, *e, order_status::pending_cancel, "cancel requested");
          self->request(cit->second.supervisor, self->state.cfg.ack_timeout, cancel_atom_v, e->o)
              .then(
                  [self, id](order_ack& ack) {
                    auto* entry = find_order(self, id);
                    if (entry && ack.status == order_status::canceled)
                      apply_local(self, *entry, order_status::canceled, ack.reason,
                                  event_source::broker);
                  },
                  [self, id, previous](caf::error& err) {
                    auto* entry = find_order(self, id);
                    if (!entry || entry->o.status != order_status::pending_cancel)
                      return;
                    auto info = describe(err);
                    if (info.code == errc::order_not_cancelable)
                      return; // the fill that beat the cancel arrives as an update
                    auto back = previous == order_status::pending_new ||
                                        previous == order_status::unknown
                                    ? order_status::unknown
                                    : previous;
                    apply_local(self, *entry, back, "cancel failed: " + info.message);
                  });
          return e->o;
        },
        [self](get_atom, const std::string& user,
               const std::string& id) -> caf::result<engine::order> {
          auto* e = find_order(self, id);
          if (!e || e->o.user != user || !e->durable)
            return make_error(errc::unknown_order, "no order " + id);
          return e->o;
        },
        [self](list_atom, const std::string& user, const std::string& conn_id) -> order_list {
          order_list out;
          auto& st = self->state;
          auto collect = [&](const std::vector<std::string>& ids) {
            for (const auto& id : ids)
              if (auto* e = find_order(self, id); e && e->durable && e->o.user == user)
                out.push_back(e->o);
          };
          if (!conn_id.empty()) {
            if (auto it = st.by_connection.find(conn_id); it != st.by_connection.end())
              collect(it->second);
          } else {
            for (const auto& [cid, ids] : st.by_connection)
              collect(ids);
          }
          std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return a.created_ns < b.created_ns;
          });
          return out;
        },
        [self](update_atom, const std::string& conn_id, order_update& u) {
          auto& st = self->state;
          auto* e = find_order(self, u.order_id);
          if (!e) {
            auto cit = st.conns.find(conn_id);
            if (cit != st.conns.end())
              if (auto k = st.by_client.find(client_key(cit->second.user, u.client_order_id));
                  k != st.by_client.end())
                e = find_order(self, k->second);
          }
          if (!e || e->o.connection != conn_id) {
            log::warn("router", "report for an unknown order on connection " + conn_id);
            return;
          }
          apply_update(self, *e, u);
        },
    };
  };
  return sys.spawn(impl, std::move(log), std::move(initial), cfg);
}

} // namespace brokerd::actors
