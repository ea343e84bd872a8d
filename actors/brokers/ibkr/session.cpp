#include "actors/brokers/ibkr/session.hpp"

#include <array>
#include <charconv>
#include <deque>
#include <map>
#include <set>

#include "actors/logging.hpp"
#include "actors/mailbox_pump.hpp"
#include "actors/session_support.hpp"
#include "actors/net/tcp_link.hpp"
#include "engine/order_state.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::actors::ibkr {

namespace {

using engine::decimal;
using ost = engine::order_status;
/// brokerd's error codes (ibkr::errc are the codec's).
using gw_errc = actors::errc;

constexpr std::string_view component = "ibkr";
/// The account summary tags a balance needs.
constexpr std::string_view balance_tags = "NetLiquidation,TotalCashValue,BuyingPower";
/// Request ids start far above any order id so an error's id tells them apart.
constexpr std::int32_t first_request_id = 1 << 30;

/// Where the connection is in its life.
enum class phase : std::uint8_t {
  /// Resolving and connecting the socket.
  connecting,
  /// Hello sent; waiting for the server's version.
  handshake,
  /// startApi sent; waiting for nextValidId and managedAccounts.
  starting,
  /// Writing the order-id reservation.
  reserving,
  /// Fetching open orders and executions; new orders wait.
  resyncing,
  ready,
  /// TWS lost IB (1100): the socket is up, nothing new is sent until 1101/1102.
  outage,
};

/// Timers of the session; each kind has its own epoch so a re-armed timer ignores old ones.
enum class timer : std::uint8_t { startup, outage, pacing, balance, positions, resync, count };

struct execution {
  decimal shares;
  decimal price;
};

/// What the session knows of one order at TWS, keyed by the TWS order id.
struct tracked {
  std::int32_t id = 0;
  std::string order_id;
  std::string client_order_id;
  /// 0 while unknown (an order seen only in executions).
  decimal quantity;
  /// The last orderStatus (or openOrder) status text.
  std::string tws_status;
  decimal status_filled;
  decimal status_avg;
  /// Executions by id without its correction suffix: a correction replaces, never adds.
  std::map<std::string, execution> execs;
  /// Open at TWS as far as the session knows (placed here, or listed by reqOpenOrders).
  bool working = false;
  /// A cancel arrived before the placeOrder left the mailbox: it is never sent.
  bool cancel_before_send = false;
  bool sent = false;
  /// Set by an order-level error (201, 10xxx): the order is rejected with this text.
  std::string reject_reason;
  std::string reason;
  /// What the sink was told last.
  ost reported = ost::pending_new;
  decimal reported_filled;
};

struct session_state {
  connection_spec spec;
  config cfg;
  environment env;
  caf::actor supervisor;
  caf::actor sink;
  phase ph = phase::connecting;
  bool closing = false;

  std::shared_ptr<net::tcp_link> link;
  frame_decoder decoder;
  client_hello hello;
  std::int32_t server_version = 0;

  std::optional<std::int32_t> next_valid_id;
  std::vector<std::string> accounts;
  std::string account;
  /// The next order id to use and the first one not durably reserved.
  std::int32_t next_id = 0;
  std::int32_t reserved = 0;
  bool reserving = false;
  std::deque<std::function<void()>> waiting_for_ids;

  std::map<std::int32_t, tracked> orders;
  std::map<std::string, std::int32_t> by_client;
  std::map<std::int32_t, caf::typed_response_promise<order_ack>> places;
  std::map<std::int32_t, engine::order> place_requests;
  std::set<std::int32_t> place_retried;
  std::map<std::int32_t, std::vector<caf::typed_response_promise<order_ack>>> cancels;

  std::int32_t next_request_id = first_request_id;
  std::optional<std::int32_t> summary_request;
  std::map<std::string, std::string> summary;
  std::vector<caf::typed_response_promise<engine::balance>> balance_waiters;
  /// Positions come from reqPositions (quantity, avgCost) and their market values from the
  /// account-updates download (updatePortfolio), which both must end.
  bool positions_in_flight = false;
  bool positions_done = false;
  bool portfolio_done = false;
  engine::position_list position_rows;
  std::map<std::string, decimal> market_values;
  std::vector<caf::typed_response_promise<engine::position_list>> position_waiters;
  std::vector<caf::typed_response_promise<engine::balance>> connect_waiters;

  std::optional<std::int32_t> resync_exec_request;
  bool open_orders_done = false;
  bool executions_done = false;
  std::set<std::int32_t> open_seen;

  mailbox_pump out;
  std::array<std::uint64_t, static_cast<std::size_t>(timer::count)> timer_epochs{};
  std::uint64_t decode_errors = 0;
  std::uint64_t pacing_violations = 0;
  /// Error 100 slows the pacing down again no earlier than this.
  engine::steady_time next_slow_down{};
  static inline const char* name = "ibkr_session";
};

using ibkr_session_actor =
    broker_session_actor::extend<caf::reacts_to<net_up_atom, std::uint64_t>,
                                 caf::reacts_to<net_data_atom, std::uint64_t, std::string>,
                                 caf::reacts_to<net_down_atom, std::uint64_t, std::string>,
                                 caf::reacts_to<drain_atom, std::uint64_t>,
                                 caf::reacts_to<timeout_atom, std::uint64_t, std::uint64_t>>;

using self_ptr = ibkr_session_actor::stateful_pointer<session_state>;

// -- small helpers -----------------------------------------------------------------------------

std::string describe_link(const session_state& st) {
  return st.cfg.host + ":" + std::to_string(st.cfg.port) + " (client id " +
         std::to_string(st.cfg.client_id) + ")";
}

/// Ends the session: the supervisor records the reason and reconnects with backoff. Open
/// requests are answered with the reason (places stay unknown to the router: a placeOrder may
/// have reached TWS; reconciliation after the reconnect settles them).
void fail(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  log::warn(component, "connection " + st.spec.id + " to " + describe_link(st) + ": " + reason);
  auto err = make_error(gw_errc::session_unavailable, "IBKR: " + reason);
  for (auto& w : st.balance_waiters)
    w.deliver(err);
  for (auto& w : st.position_waiters)
    w.deliver(err);
  for (auto& w : st.connect_waiters)
    w.deliver(err);
  for (auto& [id, ws] : st.cancels)
    for (auto& w : ws)
      w.deliver(err);
  st.balance_waiters.clear();
  st.position_waiters.clear();
  st.connect_waiters.clear();
  st.cancels.clear();
  if (st.link)
    st.link->close();
  self->quit(err);
}

/// Encodes and writes one message now (the mailbox decided it may go).
void write_message(self_ptr self, const client_message& m) {
  auto& st = self->state;
  if (st.closing || !st.link)
    return;
  // The codec's encode gives the framed message.
  auto frame = encode(m, st.server_version);
  if (!frame) {
    log::error(component, "cannot encode a message: " + frame.error().to_string());
    return;
  }
  st.link->write(std::move(*frame));
}

/// Queues `run` in lane `in`; it runs when the pacing allows. False when the lane is full.
bool enqueue(self_ptr self, lane in, std::function<void()> run) {
  auto& st = self->state;
  auto pushed = st.out.mailbox->push(in, std::move(run), self->clock().now());
  if (!pushed)
    return false;
  pump(self, st.out);
  return true;
}

/// Queues one message (queries, cancels of subscriptions, protocol housekeeping).
void send_later(self_ptr self, client_message m, lane in = lane::query) {
  enqueue(self, in, [self, msg = std::move(m)] { write_message(self, msg); });
}

std::string exec_base(std::string_view exec_id) {
  // "0000e0d5.6551a9c3.01.01": the last group counts corrections of the same execution.
  auto dot = exec_id.rfind('.');
  auto first = exec_id.find('.');
  if (dot == std::string_view::npos || dot == first)
    return std::string{exec_id};
  return std::string{exec_id.substr(0, dot)};
}

// -- order state -------------------------------------------------------------------------------

struct fill_totals {
  decimal filled;
  decimal avg;
};

fill_totals totals_of(const tracked& t) {
  decimal exec_filled;
  decimal exec_avg;
  for (const auto& [id, e] : t.execs) {
    exec_avg = decimal::weighted_average(exec_avg, exec_filled, e.price, e.shares).value_or(e.price);
    exec_filled = exec_filled + e.shares;
  }
  if (exec_filled >= t.status_filled && exec_filled.is_positive())
    return {exec_filled, exec_avg};
  return {t.status_filled, t.status_avg};
}

/// The normalized status of `t` from everything TWS said about it.
ost status_of(const tracked& t, const fill_totals& f) {
  if (!t.reject_reason.empty() && !f.filled.is_positive())
    return ost::rejected;
  auto mapped = t.tws_status.empty() ? std::optional<ost>{}
                                     : map_order_status(t.tws_status, f.filled);
  auto st = mapped.value_or(t.reported == ost::pending_new && t.sent ? ost::new_
                                                                             : t.reported);
  if (t.quantity.is_positive() && f.filled >= t.quantity)
    return ost::filled;
  if (f.filled.is_positive() &&
      (st == ost::new_ || st == ost::pending_new ||
       st == ost::unknown))
    return ost::partially_filled;
  return st;
}

order_update update_of(const session_state& st, const tracked& t) {
  auto f = totals_of(t);
  order_update u;
  u.order_id = t.order_id;
  u.client_order_id = t.client_order_id;
  u.broker_order_id = std::to_string(t.id);
  u.status = status_of(t, f);
  u.filled_quantity = f.filled;
  u.avg_fill_price = f.avg;
  u.reason = t.reject_reason.empty() ? t.reason : t.reject_reason;
  u.source = st.ph == phase::resyncing ? persistence::event_source::reconcile
                                       : persistence::event_source::broker;
  return u;
}

/// Answers a waiting place, then tells the sink what changed. `last` is the execution that
/// caused this call, if one did.
void settle(self_ptr self, tracked& t, std::optional<std::pair<std::string, execution>> last = {}) {
  auto& st = self->state;
  auto u = update_of(st, t);
  if (auto p = st.places.find(t.id); p != st.places.end()) {
    if (u.status == ost::pending_new)
      return;
    order_ack ack;
    ack.broker_order_id = std::to_string(t.id);
    ack.status = u.status == ost::rejected ? ost::rejected : ost::new_;
    ack.reason = u.reason;
    p->second.deliver(std::move(ack));
    st.places.erase(p);
    st.place_requests.erase(t.id);
    // The update below still goes out: if the router stopped waiting for this answer (a long
    // pacing queue), the update is what moves the order on; otherwise it is a duplicate.
  }
  if (engine::is_terminal(u.status))
    t.working = false;
  if (u.status == t.reported && u.filled_quantity == t.reported_filled)
    return;
  if (last && u.filled_quantity > t.reported_filled) {
    u.exec_id = last->first;
    u.last_quantity = last->second.shares;
    u.last_price = last->second.price;
  }
  t.reported = u.status;
  t.reported_filled = u.filled_quantity;
  self->anon_send(st.sink, update_atom_v, st.spec.id, std::move(u));
}

/// The tracked order for a TWS id, created from `order_ref` (our client order id) when the
/// session has not seen it yet; nullptr for an order that is not brokerd's.
tracked* track(self_ptr self, std::int32_t id, const std::string& order_ref) {
  auto& st = self->state;
  if (auto it = st.orders.find(id); it != st.orders.end())
    return &it->second;
  if (order_ref.empty())
    return nullptr;
  tracked t;
  t.id = id;
  t.client_order_id = order_ref;
  t.sent = true;
  st.by_client[order_ref] = id;
  if (id >= st.next_id)
    st.next_id = id + 1;
  return &st.orders.emplace(id, std::move(t)).first->second;
}

tracked* find_order(self_ptr self, const engine::order& o) {
  auto& st = self->state;
  if (auto it = st.by_client.find(o.client_order_id); it != st.by_client.end())
    if (auto t = st.orders.find(it->second); t != st.orders.end())
      return &t->second;
  std::int32_t id = 0;
  const auto& text = o.broker_order_id;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec == std::errc{} && ptr == text.data() + text.size())
    if (auto t = st.orders.find(id); t != st.orders.end())
      return &t->second;
  return nullptr;
}

// -- order ids ---------------------------------------------------------------------------------

void start_resync(self_ptr self);

/// Durably reserves the next block of order ids, then runs what waited for one.
void reserve_ids(self_ptr self) {
  auto& st = self->state;
  if (st.reserving)
    return;
  st.reserving = true;
  auto upto = st.next_id + st.cfg.id_block;
  registry_writes writes{{order_id_key(st.spec.id, st.cfg.client_id), std::to_string(upto)}};
  self->request(st.env.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                std::move(writes))
      .then(
          [self, upto](std::uint64_t) {
            auto& s = self->state;
            s.reserving = false;
            s.reserved = upto;
            if (s.ph == phase::reserving)
              start_resync(self);
            auto waiting = std::move(s.waiting_for_ids);
            s.waiting_for_ids.clear();
            for (auto& run : waiting)
              run();
          },
          [self](caf::error& err) {
            fail(self, "cannot store the order-id reservation: " + describe(err).message);
          });
}

// -- requests ----------------------------------------------------------------------------------

void finish_balance(self_ptr self) {
  auto& st = self->state;
  disarm_timer(self, timer::balance);
  auto rows = std::move(st.summary);
  st.summary.clear();
  if (st.summary_request)
    send_later(self, cancel_account_summary{*st.summary_request});
  st.summary_request.reset();
  auto waiters = std::move(st.balance_waiters);
  st.balance_waiters.clear();
  auto amount = [&rows](const std::string& tag) -> caf::expected<decimal> {
    auto it = rows.find(tag);
    if (it == rows.end())
      return make_error(gw_errc::broker_rejected, "IBKR account summary lacks " + tag);
    auto d = parse_wire_decimal(it->second);
    if (!d)
      return make_error(gw_errc::broker_rejected, "IBKR account summary " + tag + ": " + d.error());
    return *d;
  };
  auto equity = amount("NetLiquidation");
  auto cash = amount("TotalCashValue");
  auto power = amount("BuyingPower");
  for (auto& w : waiters) {
    if (!equity)
      w.deliver(equity.error());
    else if (!cash)
      w.deliver(cash.error());
    else if (!power)
      w.deliver(power.error());
    else
      w.deliver(engine::balance{*cash, *equity, *power, rows.contains("currency") ? rows["currency"] : "USD"});
  }
}

void request_balance(self_ptr self, caf::typed_response_promise<engine::balance> rp) {
  auto& st = self->state;
  st.balance_waiters.push_back(std::move(rp));
  if (st.balance_waiters.size() > 1)
    return; // joins the request in flight
  bool queued = enqueue(self, lane::query, [self] {
    auto& s = self->state;
    auto req = s.next_request_id++;
    s.summary_request = req;
    s.summary.clear();
    write_message(self, req_account_summary{req, "All", std::string{balance_tags}});
    arm_timer(self, timer::balance, s.cfg.request_timeout);
  });
  if (!queued) {
    for (auto& w : st.balance_waiters)
      w.deliver(make_error(gw_errc::queue_full, "IBKR: query queue full"));
    st.balance_waiters.clear();
  }
}

/// Answers the positions waiters once both downloads ended; the subscriptions are cancelled.
void finish_positions(self_ptr self) {
  auto& st = self->state;
  if (!st.positions_in_flight || !st.positions_done || !st.portfolio_done)
    return;
  disarm_timer(self, timer::positions);
  st.positions_in_flight = false;
  send_later(self, cancel_positions{});
  send_later(self, req_account_updates{false, st.account});
  auto rows = std::move(st.position_rows);
  st.position_rows.clear();
  for (auto& p : rows) {
    if (auto mv = st.market_values.find(p.symbol); mv != st.market_values.end())
      p.market_value = mv->second;
    else // no portfolio row (yet): the value at cost
      p.market_value = decimal::multiply(p.quantity, p.avg_cost).value_or(decimal{});
  }
  st.market_values.clear();
  auto waiters = std::move(st.position_waiters);
  st.position_waiters.clear();
  for (auto& w : waiters)
    w.deliver(rows);
}

/// Queues reqPositions and reqAccountUpdates (two paced messages).
void send_position_requests(self_ptr self) {
  auto started = enqueue(self, lane::query, [self] {
    auto& s = self->state;
    s.positions_in_flight = true;
    s.positions_done = false;
    s.portfolio_done = false;
    s.position_rows.clear();
    s.market_values.clear();
    write_message(self, req_positions{});
    arm_timer(self, timer::positions, s.cfg.request_timeout);
  });
  auto portfolio = started && enqueue(self, lane::query, [self] {
    write_message(self, req_account_updates{true, self->state.account});
  });
  if (!portfolio) {
    auto& st = self->state;
    for (auto& w : st.position_waiters)
      w.deliver(make_error(gw_errc::queue_full, "IBKR: query queue full"));
    st.position_waiters.clear();
  }
}

void request_positions(self_ptr self, caf::typed_response_promise<engine::position_list> rp) {
  auto& st = self->state;
  st.position_waiters.push_back(std::move(rp));
  if (st.position_waiters.size() > 1)
    return;
  send_position_requests(self);
}

void place(self_ptr self, engine::order o, caf::typed_response_promise<order_ack> rp);

/// Gives `o` the next reserved id and queues its placeOrder.
void place_with_id(self_ptr self, engine::order o, caf::typed_response_promise<order_ack> rp) {
  auto& st = self->state;
  if (st.next_id >= st.reserved) {
    st.waiting_for_ids.emplace_back(
        [self, o, rp]() mutable { place_with_id(self, std::move(o), std::move(rp)); });
    reserve_ids(self);
    return;
  }
  auto id = st.next_id++;
  auto msg = make_place_order(id, o, st.account, st.cfg.route);
  if (!msg) {
    rp.deliver(make_error(gw_errc::invalid_order, "IBKR: " + msg.error().message));
    return;
  }
  tracked t;
  t.id = id;
  t.order_id = o.id;
  t.client_order_id = o.client_order_id;
  t.quantity = o.quantity;
  st.by_client[o.client_order_id] = id;
  st.orders[id] = std::move(t);
  st.places[id] = rp;
  st.place_requests[id] = o;
  bool queued = enqueue(self, lane::new_order, [self, id, m = std::move(*msg)] {
    auto& s = self->state;
    auto it = s.orders.find(id);
    if (it == s.orders.end())
      return;
    if (it->second.cancel_before_send) {
      it->second.tws_status = "ApiCancelled";
      it->second.reason = "canceled before it was sent to IBKR";
      it->second.sent = true;
      if (auto p = s.places.find(id); p != s.places.end()) {
        p->second.deliver(order_ack{std::to_string(id), ost::canceled, it->second.reason});
        s.places.erase(p);
        it->second.reported = ost::canceled;
      }
      return settle(self, it->second);
    }
    it->second.sent = true;
    it->second.working = true;
    write_message(self, m);
  });
  if (!queued) {
    st.orders.erase(id);
    st.by_client.erase(o.client_order_id);
    st.places.erase(id);
    st.place_requests.erase(id);
    rp.deliver(make_error(gw_errc::queue_full, "IBKR: new-order queue full"));
  }
}

void place(self_ptr self, engine::order o, caf::typed_response_promise<order_ack> rp) {
  auto& st = self->state;
  if (auto it = st.by_client.find(o.client_order_id); it != st.by_client.end()) {
    // Never placed twice: answer with what TWS already has.
    auto& t = st.orders[it->second];
    if (t.order_id.empty())
      t.order_id = o.id;
    auto u = update_of(st, t);
    auto status = u.status == ost::rejected ? ost::rejected : ost::new_;
    if (st.places.contains(t.id)) {
      rp.deliver(make_error(gw_errc::broker_rejected,
                            "IBKR: order " + o.client_order_id + " is already being placed"));
      return;
    }
    rp.deliver(order_ack{std::to_string(t.id), status, u.reason});
    settle(self, t);
    return;
  }
  place_with_id(self, std::move(o), std::move(rp));
}

// -- resync ------------------------------------------------------------------------------------

void become_ready(self_ptr self) {
  auto& st = self->state;
  disarm_timer(self, timer::resync);
  // Orders the session tracked as working that TWS no longer lists are not working any more;
  // their final state comes from executions or reconciliation.
  for (auto& [id, t] : st.orders)
    if (t.sent && t.working && !st.open_seen.contains(id))
      t.working = false;
  st.ph = phase::ready;
  st.out.mailbox->resume();
  report_session_state(self, connection_state::ready);
  log::info(component, "connection " + st.spec.id + " ready: account " + st.account +
                           ", next order id " + std::to_string(st.next_id));
  pump(self, st.out);
  auto waiters = std::move(st.connect_waiters);
  st.connect_waiters.clear();
  for (auto& w : waiters)
    request_balance(self, std::move(w));
}

void check_resync_done(self_ptr self) {
  auto& st = self->state;
  if (st.ph == phase::resyncing && st.open_orders_done && st.executions_done)
    become_ready(self);
}

void start_resync(self_ptr self) {
  auto& st = self->state;
  st.ph = phase::resyncing;
  st.open_orders_done = false;
  st.executions_done = false;
  st.open_seen.clear();
  st.out.mailbox->pause();
  st.out.mailbox->resume(lane::query);
  st.out.mailbox->resume(lane::cancel);
  report_session_state(self, connection_state::resyncing);
  auto req = st.next_request_id++;
  st.resync_exec_request = req;
  send_later(self, req_open_orders{});
  req_executions filter;
  filter.req_id = req;
  filter.client_id = st.cfg.client_id;
  filter.account = st.account;
  send_later(self, std::move(filter));
  arm_timer(self, timer::resync, st.cfg.request_timeout);
}

/// nextValidId and managedAccounts both arrived: pick the account and reserve ids.
void on_started(self_ptr self) {
  auto& st = self->state;
  if (st.ph != phase::starting || !st.next_valid_id || st.accounts.empty())
    return;
  disarm_timer(self, timer::startup);
  if (st.cfg.account.empty()) {
    st.account = st.accounts.front();
  } else if (std::find(st.accounts.begin(), st.accounts.end(), st.cfg.account) ==
             st.accounts.end()) {
    report_session_state(self, connection_state::auth_required,
                 "account " + st.cfg.account + " is not managed by this login");
    return fail(self, "account " + st.cfg.account + " is not among the managed accounts");
  } else {
    st.account = st.cfg.account;
  }
  std::int32_t stored = 0;
  if (st.env.reader) {
    auto value = st.env.reader->get(order_id_key(st.spec.id, st.cfg.client_id));
    if (!value)
      return fail(self, "cannot read the order-id reservation: " + value.error().message);
    if (*value) {
      const auto& text = **value;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), stored);
      if (ec != std::errc{} || ptr != text.data() + text.size())
        return fail(self, "the stored order-id reservation is unreadable");
    }
  }
  st.next_id = std::max({st.next_id, *st.next_valid_id, stored});
  report_session_state(self, connection_state::connected);
  if (!st.env.log) {
    // A probe (the connection test) never places orders and stores nothing.
    st.reserved = st.next_id;
    return start_resync(self);
  }
  st.ph = phase::reserving;
  reserve_ids(self);
}

// -- incoming messages -------------------------------------------------------------------------

/// TWS codes counted as broker errors in the metrics: not the notices sent on every connect,
/// after a cancel or when connectivity comes back.
bool counts_as_error(error_category cat) {
  switch (cat) {
    case error_category::farm_ok:
    case error_category::connectivity_restored:
    case error_category::connectivity_restored_data_lost:
    case error_category::order_canceled:
      return false;
    default:
      return true;
  }
}

void on_error(self_ptr self, const error_message& m) {
  auto& st = self->state;
  auto cat = classify_error(m.code);
  auto text = std::to_string(m.code) + " " + m.message;
  if (st.out.metrics && counts_as_error(cat))
    st.out.metrics->count_error(std::to_string(m.code));
  switch (cat) {
    case error_category::connectivity_lost:
      if (st.ph == phase::ready || st.ph == phase::resyncing) {
        st.ph = phase::outage;
        st.out.mailbox->pause();
        st.out.mailbox->resume(lane::query);
        report_session_state(self, connection_state::connected, "TWS lost its connection to IB (1100)");
        arm_timer(self, timer::outage, st.cfg.outage_grace);
      }
      return;
    case error_category::connectivity_restored_data_lost:
    case error_category::connectivity_restored:
      disarm_timer(self, timer::outage);
      log::info(component, "connection " + st.spec.id + ": " + text);
      if (st.ph == phase::outage || st.ph == phase::ready) {
        send_later(self, req_ids{1});
        if (cat == error_category::connectivity_restored_data_lost && st.summary_request) {
          // Subscriptions were lost: ask again.
          auto req = st.next_request_id++;
          st.summary_request = req;
          send_later(self, req_account_summary{req, "All", std::string{balance_tags}});
        }
        if (cat == error_category::connectivity_restored_data_lost && st.positions_in_flight)
          send_position_requests(self);
        start_resync(self);
      }
      return;
    case error_category::socket_port_reset:
      return fail(self, "TWS reset its socket port (" + text + ")");
    case error_category::client_id_in_use:
      return fail(self, "client id " + std::to_string(st.cfg.client_id) + " is already in use (326)");
    case error_category::pacing_violation: {
      // TWS answers every message over its limit; one burst is one violation: halve the rate
      // at most once a second, never below one message a second, and pause for a second.
      auto now = self->clock().now();
      ++st.pacing_violations;
      if (st.out.metrics)
        st.out.metrics->rate_limited->inc();
      if (now >= st.next_slow_down) {
        auto slower = std::min<engine::nanos>(st.out.mailbox->interval() * 2,
                                              std::chrono::seconds{1});
        log::warn(component, "connection " + st.spec.id + ": pacing violation (" + text +
                                 "); sending at most one message every " +
                                 std::to_string(slower.count() / 1'000'000) + " ms for a while");
        st.out.mailbox->slow_down(slower, now);
        st.out.mailbox->pushback(now + std::chrono::seconds{1});
        st.next_slow_down = now + std::chrono::seconds{1};
      }
      arm_timer(self, timer::pacing, std::chrono::seconds{30});
      pump(self, st.out);
      return;
    }
    case error_category::farm_ok:
    case error_category::farm_broken:
    case error_category::system_warning:
    case error_category::order_warning:
      log::info(component, "connection " + st.spec.id + ": " + text);
      return;
    default:
      break;
  }
  // Errors about one request or order.
  if (st.summary_request && m.request_id == *st.summary_request) {
    auto err = make_error(gw_errc::broker_rejected, "IBKR: " + text);
    for (auto& w : st.balance_waiters)
      w.deliver(err);
    st.balance_waiters.clear();
    st.summary_request.reset();
    disarm_timer(self, timer::balance);
    return;
  }
  auto it = st.orders.find(m.request_id);
  if (it == st.orders.end()) {
    log::warn(component, "connection " + st.spec.id + ": " + text + " (id " +
                             std::to_string(m.request_id) + ")");
    return;
  }
  auto& t = it->second;
  auto id = t.id;
  auto answer_cancels = [&](const caf::error& err) {
    if (auto c = st.cancels.find(id); c != st.cancels.end()) {
      for (auto& w : c->second)
        w.deliver(err);
      st.cancels.erase(c);
    }
  };
  switch (cat) {
    case error_category::duplicate_order_id:
      if (auto p = st.places.find(id); p != st.places.end() && !st.place_retried.contains(id)) {
        // TWS did not take the order: place it once more under a fresh id.
        auto rp = std::move(p->second);
        auto o = st.place_requests[id];
        st.places.erase(p);
        st.place_requests.erase(id);
        st.by_client.erase(t.client_order_id);
        st.orders.erase(it);
        log::warn(component, "connection " + st.spec.id + ": order id " + std::to_string(id) +
                                 " refused as a duplicate (103); placing under a new id");
        send_later(self, req_ids{1});
        auto before = st.next_id;
        place_with_id(self, std::move(o), std::move(rp));
        if (st.next_id > before)
          st.place_retried.insert(st.next_id - 1);
        return;
      }
      t.reject_reason = "IBKR: " + text;
      return settle(self, t);
    case error_category::order_rejected:
    case error_category::request_failed:
      t.reject_reason = "IBKR: " + text;
      t.working = false;
      return settle(self, t);
    case error_category::order_canceled:
      if (!engine::is_terminal(update_of(st, t).status)) {
        t.tws_status = "Cancelled";
        t.reason = "IBKR: " + text;
      }
      if (auto c = st.cancels.find(id); c != st.cancels.end()) {
        for (auto& w : c->second)
          w.deliver(order_ack{std::to_string(id), ost::canceled, t.reason});
        st.cancels.erase(c);
      }
      return settle(self, t);
    case error_category::cancel_rejected:
      answer_cancels(make_error(gw_errc::order_not_cancelable, "IBKR: " + text));
      return;
    case error_category::unknown_order:
      answer_cancels(make_error(gw_errc::not_found_at_broker, "IBKR: " + text));
      return;
    default:
      log::warn(component, "connection " + st.spec.id + ": order " + std::to_string(id) + ": " + text);
      return;
  }
}

void answer_cancels_on_status(self_ptr self, tracked& t) {
  auto& st = self->state;
  auto c = st.cancels.find(t.id);
  if (c == st.cancels.end())
    return;
  auto u = update_of(st, t);
  if (u.status != ost::pending_cancel && u.status != ost::canceled)
    return;
  for (auto& w : c->second)
    w.deliver(order_ack{std::to_string(t.id), u.status, u.reason});
  st.cancels.erase(c);
}

void on_message(self_ptr self, server_message& msg) {
  auto& st = self->state;
  std::visit(
      [self, &st](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, next_valid_id>) {
          if (!st.next_valid_id || m.order_id > *st.next_valid_id)
            st.next_valid_id = m.order_id;
          st.next_id = std::max(st.next_id, m.order_id);
          on_started(self);
        } else if constexpr (std::is_same_v<T, managed_accounts>) {
          st.accounts = m.account_list();
          on_started(self);
        } else if constexpr (std::is_same_v<T, current_time>) {
          // Not requested by the session.
        } else if constexpr (std::is_same_v<T, account_summary>) {
          if (st.summary_request && m.req_id == *st.summary_request &&
              (m.account == st.account || m.account.empty())) {
            st.summary[m.tag] = m.value;
            if (!m.currency.empty())
              st.summary["currency"] = m.currency;
          }
        } else if constexpr (std::is_same_v<T, account_summary_end>) {
          if (st.summary_request && m.req_id == *st.summary_request)
            finish_balance(self);
        } else if constexpr (std::is_same_v<T, position>) {
          if (st.positions_in_flight && m.account == st.account && !m.quantity.is_zero()) {
            engine::position p;
            p.symbol = m.instrument.symbol;
            p.quantity = m.quantity;
            p.avg_cost = m.avg_cost;
            st.position_rows.push_back(std::move(p));
          }
        } else if constexpr (std::is_same_v<T, position_end>) {
          st.positions_done = true;
          finish_positions(self);
        } else if constexpr (std::is_same_v<T, update_portfolio>) {
          // reqPositions carries no price; the portfolio rows carry TWS' market value.
          if (st.positions_in_flight && (m.account == st.account || m.account.empty()))
            st.market_values[m.instrument.symbol] = m.market_value;
        } else if constexpr (std::is_same_v<T, account_download_end>) {
          if (m.account == st.account || m.account.empty()) {
            st.portfolio_done = true;
            finish_positions(self);
          }
        } else if constexpr (std::is_same_v<T, update_account_value> ||
                             std::is_same_v<T, update_account_time>) {
          // The balance comes from the account summary.
        } else if constexpr (std::is_same_v<T, ibkr::order_status>) {
          auto it = st.orders.find(m.order_id);
          if (it == st.orders.end())
            return; // not brokerd's, or openOrder comes first
          auto& t = it->second;
          t.tws_status = m.status;
          if (m.filled >= t.status_filled) {
            t.status_filled = m.filled;
            t.status_avg = m.avg_fill_price;
          }
          if (!t.quantity.is_positive())
            t.quantity = m.filled + m.remaining;
          if (st.ph == phase::resyncing)
            t.working = !engine::is_terminal(update_of(st, t).status);
          settle(self, t);
          answer_cancels_on_status(self, t);
        } else if constexpr (std::is_same_v<T, open_order>) {
          auto* t = track(self, m.order_id, m.order_ref);
          if (!t)
            return;
          t->quantity = m.total_quantity;
          if (t->tws_status.empty() || st.ph == phase::resyncing)
            if (!m.status.empty())
              t->tws_status = m.status;
          if (st.ph == phase::resyncing) {
            st.open_seen.insert(m.order_id);
            t->working = !engine::is_terminal(update_of(st, *t).status);
          }
          settle(self, *t);
        } else if constexpr (std::is_same_v<T, open_order_end>) {
          if (st.ph == phase::resyncing) {
            st.open_orders_done = true;
            check_resync_done(self);
          }
        } else if constexpr (std::is_same_v<T, exec_details>) {
          auto* t = track(self, m.order_id, m.order_ref);
          if (!t)
            return;
          auto base = exec_base(m.exec_id);
          auto known = t->execs.find(base);
          bool changed = known == t->execs.end() || known->second.shares != m.shares ||
                         known->second.price != m.price;
          t->execs[base] = execution{m.shares, m.price};
          if (changed)
            settle(self, *t, std::make_pair(m.exec_id, execution{m.shares, m.price}));
        } else if constexpr (std::is_same_v<T, exec_details_end>) {
          if (st.resync_exec_request && m.req_id == *st.resync_exec_request) {
            st.executions_done = true;
            check_resync_done(self);
          }
        } else if constexpr (std::is_same_v<T, commission_report>) {
          // Commissions are not part of the order state.
        } else if constexpr (std::is_same_v<T, error_message>) {
          on_error(self, m);
        }
      },
      msg);
}

void on_payload(self_ptr self, std::string_view payload) {
  auto& st = self->state;
  if (st.closing)
    return;
  if (st.ph == phase::handshake) {
    auto hello = server_hello::decode(payload);
    if (!hello)
      return fail(self, "bad handshake answer: " + hello.error().to_string());
    auto version = accept_server_version(st.hello, hello->server_version);
    if (!version)
      return fail(self, version.error().message);
    st.server_version = *version;
    st.ph = phase::starting;
    st.out.mailbox->resume(lane::query);
    send_later(self, start_api{st.cfg.client_id, {}});
    return;
  }
  auto msg = decode_server_message(payload, st.server_version);
  if (!msg) {
    if (msg.error().code != ibkr::errc::unknown_message) {
      ++st.decode_errors;
      log::warn(component, "connection " + st.spec.id + ": skipped an undecodable message: " +
                               msg.error().to_string());
    }
    return;
  }
  on_message(self, *msg);
}

} // namespace

std::string order_id_key(const std::string& connection_id, std::int32_t client_id) {
  return "ibkr-ids/" + connection_id + "/" + std::to_string(client_id);
}

std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings) {
  config cfg;
  bool has_port = false;
  auto number = [](const std::string& key, const std::string& value, std::int64_t lo,
                   std::int64_t hi) { return parse_int_setting("ibkr", key, value, lo, hi); };
  for (const auto& [key, value] : settings) {
    if (key == "host") {
      if (value.empty() || value.size() > 253)
        return std::unexpected(std::string{"ibkr setting host must be 1..253 characters"});
      for (char c : value)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':'))
          return std::unexpected(std::string{"ibkr setting host must be a host name or address"});
      cfg.host = value;
    } else if (key == "port") {
      auto n = number(key, value, 1, 65535);
      if (!n)
        return std::unexpected(n.error());
      cfg.port = static_cast<std::uint16_t>(*n);
      has_port = true;
    } else if (key == "client_id") {
      auto n = number(key, value, 0, 2147483647);
      if (!n)
        return std::unexpected(n.error());
      cfg.client_id = static_cast<std::int32_t>(*n);
    } else if (key == "account") {
      for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          return std::unexpected(std::string{"ibkr setting account must be letters and digits"});
      cfg.account = value;
    } else if (key == "pacing_per_s") {
      auto n = number(key, value, 1, 50);
      if (!n)
        return std::unexpected(n.error());
      cfg.pacing_per_s = static_cast<std::uint32_t>(*n);
    } else if (key == "connect_timeout_ms" || key == "outage_grace_ms" ||
               key == "request_timeout_ms") {
      auto n = number(key, value, 1, 600'000);
      if (!n)
        return std::unexpected(n.error());
      auto& target = key == "connect_timeout_ms" ? cfg.connect_timeout
                     : key == "outage_grace_ms"  ? cfg.outage_grace
                                                 : cfg.request_timeout;
      target = std::chrono::milliseconds{*n};
    } else if (key == "id_block") {
      auto n = number(key, value, 1, 1'000'000);
      if (!n)
        return std::unexpected(n.error());
      cfg.id_block = static_cast<std::int32_t>(*n);
    } else if (key == "exchange" || key == "primary_exchange" || key == "currency") {
      if (value.size() > 16)
        return std::unexpected("ibkr setting " + key + " is too long");
      for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          return std::unexpected("ibkr setting " + key + " must be letters and digits");
      if (key != "primary_exchange" && value.empty())
        return std::unexpected("ibkr setting " + key + " must not be empty");
      (key == "exchange"           ? cfg.route.exchange
       : key == "primary_exchange" ? cfg.route.primary_exchange
                                   : cfg.route.currency) = value;
    } else {
      return std::unexpected("unknown ibkr setting '" + key + "'");
    }
  }
  if (!has_port)
    return std::unexpected(std::string{"ibkr setting port is required"});
  return cfg;
}

broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink, environment env) {
  auto impl = [](self_ptr self, connection_spec s, caf::actor sup, caf::actor snk,
                 environment e) -> ibkr_session_actor::behavior_type {
    auto& init = self->state;
    init.spec = std::move(s);
    init.supervisor = std::move(sup);
    init.sink = std::move(snk);
    init.env = std::move(e);
    auto cfg = parse_config(init.spec.settings);
    if (!cfg || !init.env.io) {
      auto why = cfg ? std::string{"no I/O context for IBKR sessions"} : cfg.error();
      report_session_state(self, connection_state::auth_required, why);
      self->quit(make_error(gw_errc::session_unavailable, why));
    }
    init.cfg = std::move(*cfg);
    install_session_exception_handler(self, component, "IBKR");
    auto now = self->clock().now();
    // pacing_per_s per second, evenly spaced; a burst of 2 lets the pacer make up for a timer
    // that fired late, and the sliding window still caps any one-second span at pacing_per_s:
    // what TWS counts.
    init.out.mailbox.emplace(
        engine::token_bucket::per_period(init.cfg.pacing_per_s, std::chrono::seconds{1}, 2, now),
        engine::sliding_window{init.cfg.pacing_per_s, std::chrono::seconds{1}});
    measure(init.out, metrics_of(init.spec));
    init.link = net::tcp_link::create(*init.env.io, caf::actor_cast<caf::actor>(self), 1);
    init.link->connect(init.cfg.host, init.cfg.port, init.cfg.connect_timeout);
    arm_timer(self, timer::startup, init.cfg.connect_timeout);
    self->attach_functor([link = init.link](const caf::error&) { link->close(); });
    return {
        [self](connect_atom) -> caf::result<engine::balance> {
          auto rp = self->make_response_promise<engine::balance>();
          if (self->state.ph == phase::ready)
            request_balance(self, rp);
          else
            self->state.connect_waiters.push_back(rp);
          return rp;
        },
        [self](balance_atom) -> caf::result<engine::balance> {
          auto rp = self->make_response_promise<engine::balance>();
          request_balance(self, rp);
          return rp;
        },
        [self](positions_atom) -> caf::result<engine::position_list> {
          auto rp = self->make_response_promise<engine::position_list>();
          request_positions(self, rp);
          return rp;
        },
        [self](place_atom, engine::order& o) -> caf::result<order_ack> {
          auto rp = self->make_response_promise<order_ack>();
          place(self, std::move(o), rp);
          return rp;
        },
        [self](cancel_atom, engine::order& o) -> caf::result<order_ack> {
          auto& st = self->state;
          auto* t = find_order(self, o);
          if (!t)
            return make_error(gw_errc::not_found_at_broker,
                              "IBKR: no order " + o.client_order_id + " on this connection");
          auto u = update_of(st, *t);
          if (engine::is_terminal(u.status))
            return make_error(gw_errc::order_not_cancelable,
                              "IBKR: order is " + std::string{engine::to_string(u.status)});
          auto rp = self->make_response_promise<order_ack>();
          if (!t->sent) {
            t->cancel_before_send = true;
            rp.deliver(order_ack{std::to_string(t->id), ost::canceled,
                                 "canceled before it was sent to IBKR"});
            return rp;
          }
          st.cancels[t->id].push_back(rp);
          auto id = t->id;
          enqueue(self, lane::cancel, [self, id] { write_message(self, cancel_order{id, {}}); });
          return rp;
        },
        [self](status_atom, engine::order& o) -> caf::result<order_update> {
          auto& st = self->state;
          if (st.ph != phase::ready)
            return make_error(gw_errc::session_unavailable, "IBKR: not ready");
          auto* t = find_order(self, o);
          if (!t)
            return make_error(gw_errc::not_found_at_broker,
                              "IBKR: order " + o.client_order_id + " is not known to TWS");
          if (t->order_id.empty())
            t->order_id = o.id;
          if (!t->quantity.is_positive())
            t->quantity = o.quantity;
          auto u = update_of(st, *t);
          u.order_id = o.id;
          if (!t->working && !engine::is_terminal(u.status)) {
            // TWS no longer works the order and never said how it ended.
            if (u.filled_quantity.is_positive()) {
              u.status = ost::canceled;
              u.reason = "no longer working at IBKR after a partial fill";
            } else {
              return make_error(gw_errc::not_found_at_broker,
                                "IBKR: order " + o.client_order_id + " is not working at TWS");
            }
          }
          return u;
        },
        [self](net_up_atom, std::uint64_t) {
          auto& st = self->state;
          st.ph = phase::handshake;
          auto bytes = st.hello.encode();
          if (!bytes)
            return fail(self, bytes.error().to_string());
          st.link->write(std::move(*bytes));
        },
        [self](net_data_atom, std::uint64_t, std::string& bytes) {
          auto& st = self->state;
          if (st.closing)
            return;
          auto ok = st.decoder.feed(bytes, [self](std::string_view payload) {
            on_payload(self, payload);
          });
          if (!ok)
            fail(self, "broken frame from TWS: " + ok.error().to_string());
        },
        [self](net_down_atom, std::uint64_t, std::string& reason) {
          auto& st = self->state;
          if (st.ph == phase::starting || st.ph == phase::handshake)
            reason += " before the API was ready (client id " +
                      std::to_string(st.cfg.client_id) + " already in use?)";
          fail(self, reason);
        },
        [self](drain_atom, std::uint64_t epoch) { on_drain(self, self->state.out, epoch); },
        [self](timeout_atom, std::uint64_t kind, std::uint64_t epoch) {
          auto& st = self->state;
          if (kind >= st.timer_epochs.size() || st.timer_epochs[kind] != epoch)
            return;
          switch (static_cast<timer>(kind)) {
            case timer::startup:
              return fail(self, "TWS did not complete the API handshake within " +
                                    std::to_string(st.cfg.connect_timeout.count()) + " ms");
            case timer::outage:
              return fail(self, "TWS stayed disconnected from IB for " +
                                    std::to_string(st.cfg.outage_grace.count()) + " ms");
            case timer::pacing:
              st.out.mailbox->restore_rate(self->clock().now());
              return pump(self, st.out);
            case timer::balance: {
              auto err = make_error(gw_errc::session_unavailable, "IBKR: account summary timed out");
              for (auto& w : st.balance_waiters)
                w.deliver(err);
              st.balance_waiters.clear();
              if (st.summary_request)
                send_later(self, cancel_account_summary{*st.summary_request});
              st.summary_request.reset();
              return;
            }
            case timer::positions: {
              auto err = make_error(gw_errc::session_unavailable, "IBKR: positions timed out");
              for (auto& w : st.position_waiters)
                w.deliver(err);
              st.position_waiters.clear();
              st.positions_in_flight = false;
              return;
            }
            case timer::resync:
              return fail(self, "open orders and executions did not arrive in time");
            case timer::count:
              return;
          }
        },
    };
  };
  return parent->spawn(impl, spec, std::move(supervisor), std::move(sink), std::move(env));
}

} // namespace brokerd::actors::ibkr
