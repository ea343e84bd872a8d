#include "actors/brokers/paper/session.hpp"

#include "actors/session_support.hpp"

#include <charconv>
#include <functional>

#include "actors/mailbox_pump.hpp"

#include "engine/order_state.hpp"

namespace brokerd::actors::paper {

namespace {

using engine::decimal;
using engine::order_status;
using engine::order_type;
using engine::side;

std::expected<decimal, std::string> parse_positive(const std::string& key,
                                                   const std::string& value) {
  auto d = decimal::parse(value);
  if (!d || !d->is_positive())
    return std::unexpected("paper setting " + key + " must be a positive decimal");
  return *d;
}

struct session_state {
  connection_spec spec;
  config cfg;
  std::shared_ptr<book> store;
  caf::actor supervisor;
  caf::actor sink;
  book_account account;
  /// Working orders by client order id.
  std::map<std::string, book_order> working;
  std::uint64_t tick = 0;
  /// Every request passes this mailbox, as it would on the way to a real broker.
  mailbox_pump out;
  static inline const char* name = "paper_session";
};

using self_ptr = paper_session_actor::stateful_pointer<session_state>;

decimal price_of(const session_state& st, const std::string& symbol) {
  auto it = st.cfg.paths.find(symbol);
  if (it == st.cfg.paths.end() || it->second.empty())
    return st.cfg.default_price;
  return it->second[st.tick % it->second.size()];
}

order_update to_update(const book_order& o) {
  order_update u;
  u.order_id = o.order_id;
  u.client_order_id = o.client_order_id;
  u.broker_order_id = o.broker_order_id;
  u.status = o.status;
  u.filled_quantity = o.filled_quantity;
  u.avg_fill_price = o.avg_fill_price;
  u.reason = o.reason;
  u.source = persistence::event_source::broker;
  return u;
}

engine::balance balance_of(const session_state& st) {
  engine::balance b;
  b.cash = st.account.cash;
  b.equity = st.account.cash;
  for (const auto& [sym, h] : st.account.positions)
    if (auto mv = decimal::multiply(h.quantity, price_of(st, sym)))
      b.equity = b.equity + *mv;
  b.buying_power = st.account.cash;
  return b;
}

void apply_to_account(book_account& acct, const book_order& o, decimal qty, decimal price) {
  auto notional = decimal::multiply(qty, price).value_or(decimal{});
  auto signed_qty = o.order_side == side::buy ? qty : -qty;
  acct.cash = o.order_side == side::buy ? acct.cash - notional : acct.cash + notional;
  auto& h = acct.positions[o.symbol];
  auto old_qty = h.quantity;
  auto new_qty = old_qty + signed_qty;
  bool same_direction = old_qty.is_zero() || (old_qty.is_positive() == signed_qty.is_positive());
  if (same_direction) {
    auto abs_old = old_qty.is_negative() ? -old_qty : old_qty;
    h.avg_cost = decimal::weighted_average(h.avg_cost, abs_old, price, qty).value_or(price);
  } else if (!new_qty.is_zero() && new_qty.is_positive() != old_qty.is_positive()) {
    h.avg_cost = price; // the position flipped sides
  }
  h.quantity = new_qty;
  if (new_qty.is_zero())
    acct.positions.erase(o.symbol);
}

/// Persists `o` with the account and reports it to the sink.
void commit(self_ptr self, book_order& o, std::optional<decimal> last_qty = {},
            std::optional<decimal> last_px = {}) {
  auto& st = self->state;
  if (auto ok = st.store->store(st.spec.id, o, st.account); !ok)
    // The book is this broker's memory; losing a write is a broker failure: restart.
    throw std::runtime_error(ok.error());
  auto u = to_update(o);
  u.last_quantity = last_qty;
  u.last_price = last_px;
  if (last_qty)
    u.exec_id = o.broker_order_id + "-" + std::to_string(o.executions);
  self->anon_send(st.sink, update_atom_v, st.spec.id, std::move(u));
  if (engine::is_terminal(o.status))
    st.working.erase(o.client_order_id);
}

void finish(self_ptr self, book_order& o, order_status status, std::string reason) {
  o.status = status;
  o.reason = std::move(reason);
  commit(self, o);
}

/// Tries to execute one working order at the current price.
void match(self_ptr self, book_order& o) {
  auto& st = self->state;
  auto px = price_of(st, o.symbol);
  bool buy = o.order_side == side::buy;
  bool is_stop = o.type == order_type::stop || o.type == order_type::stop_limit;
  bool just_triggered = false;
  if (is_stop && !o.triggered) {
    bool crossed = buy ? px >= *o.stop_price : px <= *o.stop_price;
    if (!crossed)
      return;
    o.triggered = just_triggered = true;
  }
  bool limited = o.type == order_type::limit || o.type == order_type::stop_limit;
  bool marketable = !limited || (buy ? px <= *o.limit_price : px >= *o.limit_price);
  auto remaining = o.quantity - o.filled_quantity;
  bool immediate = o.tif == engine::time_in_force::ioc || o.tif == engine::time_in_force::fok;
  if (o.tif == engine::time_in_force::fok && (!marketable || remaining > st.cfg.fill_chunk))
    return finish(self, o, order_status::canceled, "fok order could not fill entirely at once");
  if (!marketable) {
    if (immediate)
      return finish(self, o, order_status::canceled, "ioc order not marketable");
    // Keep the trigger durable, once; the status did not change, so nothing is reported.
    if (just_triggered)
      if (auto ok = st.store->store(st.spec.id, o, st.account); !ok)
        throw std::runtime_error(ok.error());
    return;
  }
  auto qty = remaining < st.cfg.fill_chunk ? remaining : st.cfg.fill_chunk;
  o.avg_fill_price =
      decimal::weighted_average(o.avg_fill_price, o.filled_quantity, px, qty).value_or(px);
  o.filled_quantity = o.filled_quantity + qty;
  ++o.executions;
  apply_to_account(st.account, o, qty, px);
  bool done = o.filled_quantity == o.quantity;
  o.status = done ? order_status::filled : order_status::partially_filled;
  if (!done && immediate) {
    o.reason = "ioc remainder canceled";
    commit(self, o, qty, px);
    return finish(self, o, order_status::canceled, "ioc remainder canceled");
  }
  commit(self, o, qty, px);
}

/// Tries the working order `id` (a copy: matching may end it and erase it from `working`).
void match_one(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto it = st.working.find(id);
  if (it == st.working.end())
    return;
  auto copy = it->second;
  match(self, copy);
  if (auto again = st.working.find(id); again != st.working.end())
    again->second = copy;
}

void match_all(self_ptr self) {
  auto& st = self->state;
  std::vector<std::string> ids;
  ids.reserve(st.working.size());
  for (const auto& [id, o] : st.working)
    ids.push_back(id);
  for (const auto& id : ids)
    match_one(self, id);
}

using actors::lane;

engine::position_list positions_of(const session_state& st) {
  engine::position_list out;
  for (const auto& [sym, h] : st.account.positions) {
    auto mv = decimal::multiply(h.quantity, price_of(st, sym));
    out.push_back(engine::position{sym, h.quantity, h.avg_cost, mv.value_or(decimal{})});
  }
  return out;
}

void release(self_ptr self) { pump(self, self->state.out); }

/// Queues a request in the mailbox; its answer is delivered when the limits let it run.
template <class T, class F> caf::result<T> enqueue(self_ptr self, lane in, F fn) {
  auto rp = self->make_response_promise<T>();
  auto run = [rp, fn]() mutable {
    caf::expected<T> r = fn();
    if (r)
      rp.deliver(std::move(*r));
    else
      rp.deliver(r.error());
  };
  auto pushed =
      self->state.out.mailbox->push(in, std::function<void()>{std::move(run)}, self->clock().now());
  if (!pushed) {
    // The promise already owns the reply: an error returned instead would never be sent.
    rp.deliver(make_error(errc::queue_full,
                          "paper broker: " + std::string{to_string(in)} + " queue full"));
    return rp;
  }
  release(self);
  return rp;
}

caf::expected<order_ack> do_place(self_ptr self, const engine::order& o) {
  auto& st = self->state;
  auto existing = st.store->find(st.spec.id, o.client_order_id);
  if (!existing)
    return make_error(errc::broker_rejected, existing.error());
  if (*existing) {
    auto& known = **existing;
    ++known.submissions;
    if (auto ok = st.store->store(st.spec.id, known, st.account); !ok)
      return make_error(errc::broker_rejected, ok.error());
    if (auto it = st.working.find(known.client_order_id); it != st.working.end())
      it->second.submissions = known.submissions;
    return order_ack{known.broker_order_id, known.status, known.reason};
  }
  book_order b;
  b.order_id = o.id;
  b.client_order_id = o.client_order_id;
  b.broker_order_id = "P" + std::to_string(st.account.next_order_number++);
  b.symbol = o.symbol;
  b.order_side = o.order_side;
  b.type = o.type;
  b.tif = o.tif;
  b.quantity = o.quantity;
  b.limit_price = o.limit_price;
  b.stop_price = o.stop_price;
  b.status = order_status::new_;
  if (o.order_side == side::buy) {
    auto px = o.limit_price ? *o.limit_price : price_of(st, o.symbol);
    if (o.stop_price && !o.limit_price)
      px = *o.stop_price;
    auto notional = decimal::multiply(o.quantity, px);
    if (!notional || *notional > st.account.cash) {
      b.status = order_status::rejected;
      b.reason = "insufficient buying power: needs " +
                 (notional ? notional->to_string() : std::string{"more"}) + ", cash " +
                 st.account.cash.to_string();
    }
  }
  if (auto ok = st.store->store(st.spec.id, b, st.account); !ok)
    return make_error(errc::broker_rejected, ok.error());
  if (b.status == order_status::new_) {
    st.working.emplace(b.client_order_id, b);
    // Only the new order can have changed: the others were tried at the last price step.
    self->send(self, match_atom_v, b.client_order_id);
  }
  return order_ack{b.broker_order_id, b.status, b.reason};
}

caf::expected<order_ack> do_cancel(self_ptr self, const engine::order& o) {
  auto& st = self->state;
  auto it = st.working.find(o.client_order_id);
  if (it == st.working.end()) {
    auto known = st.store->find(st.spec.id, o.client_order_id);
    if (known && *known)
      return make_error(errc::order_not_cancelable,
                        "order is " + std::string{engine::to_string((*known)->status)});
    return make_error(errc::not_found_at_broker, "no order " + o.client_order_id);
  }
  auto copy = it->second;
  finish(self, copy, order_status::canceled, "canceled by request");
  return order_ack{copy.broker_order_id, order_status::canceled, copy.reason};
}

caf::expected<order_update> do_status(self_ptr self, const engine::order& o) {
  auto& st = self->state;
  auto known = st.store->find(st.spec.id, o.client_order_id);
  if (!known)
    return make_error(errc::broker_rejected, known.error());
  if (!*known)
    return make_error(errc::not_found_at_broker, "no order " + o.client_order_id);
  return to_update(**known);
}

} // namespace

std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings) {
  config cfg;
  for (const auto& [key, value] : settings) {
    if (key == "cash") {
      auto d = parse_positive(key, value);
      if (!d)
        return std::unexpected(d.error());
      cfg.cash = *d;
    } else if (key == "default_price") {
      auto d = parse_positive(key, value);
      if (!d)
        return std::unexpected(d.error());
      cfg.default_price = *d;
    } else if (key == "fill_chunk") {
      auto d = parse_positive(key, value);
      if (!d)
        return std::unexpected(d.error());
      cfg.fill_chunk = *d;
    } else if (key == "rate_per_s" || key == "burst") {
      auto n = parse_int_setting("paper", key, value, 1, 1'000'000);
      if (!n)
        return std::unexpected(n.error());
      (key == "burst" ? cfg.burst : cfg.rate_per_s) = static_cast<unsigned>(*n);
    } else if (key == "tick_ms") {
      auto ms = parse_int_setting("paper", key, value, 1, 60'000);
      if (!ms)
        return std::unexpected(ms.error());
      cfg.tick = std::chrono::milliseconds{*ms};
    } else if (key == "prices") {
      // "AAPL=187.25,186;MSFT=410"
      std::string_view rest = value;
      while (!rest.empty()) {
        auto semi = rest.find(';');
        auto entry = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
        auto eq = entry.find('=');
        if (eq == std::string_view::npos)
          return std::unexpected(
              std::string{"paper setting prices must look like SYM=p1,p2;SYM2=p"});
        std::string sym{entry.substr(0, eq)};
        if (auto ok = engine::validate_symbol(sym); !ok)
          return std::unexpected("paper setting prices: " + ok.error().message);
        std::vector<decimal> path;
        auto list = entry.substr(eq + 1);
        while (!list.empty()) {
          auto comma = list.find(',');
          auto item = std::string{list.substr(0, comma)};
          list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
          auto d = parse_positive("prices", item);
          if (!d)
            return std::unexpected(d.error() + " (" + sym + ")");
          path.push_back(*d);
        }
        if (path.empty())
          return std::unexpected("paper setting prices: " + sym + " has no prices");
        cfg.paths[sym] = std::move(path);
      }
    } else {
      return std::unexpected("unknown paper setting '" + key + "'");
    }
  }
  return cfg;
}

broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink,
                                   std::shared_ptr<book> store) {
  auto impl = [](self_ptr self, connection_spec s, caf::actor sup, caf::actor snk,
                 std::shared_ptr<book> bk) -> paper_session_actor::behavior_type {
    auto& init = self->state;
    init.spec = std::move(s);
    init.supervisor = std::move(sup);
    init.sink = std::move(snk);
    init.store = std::move(bk);
    auto cfg = parse_config(init.spec.settings);
    std::string failure;
    if (cfg) {
      init.cfg = std::move(*cfg);
      auto acct = init.store->account(init.spec.id, init.cfg.cash);
      auto orders = init.store->orders(init.spec.id);
      if (acct && orders) {
        init.account = std::move(*acct);
        for (auto& o : *orders)
          if (!engine::is_terminal(o.status))
            init.working.emplace(o.client_order_id, std::move(o));
      } else {
        failure = !acct ? acct.error() : orders.error();
      }
    } else {
      failure = cfg.error();
      self->anon_send(init.supervisor, state_atom_v, connection_state::auth_required, failure);
    }
    if (failure.empty()) {
      auto now = self->clock().now();
      init.out.mailbox.emplace(engine::token_bucket::per_period(
          init.cfg.rate_per_s, std::chrono::seconds{1}, init.cfg.burst, now));
      measure(init.out, metrics_of(init.spec));
      init.out.mailbox->resume();
    }
    if (!failure.empty()) {
      self->quit(make_error(errc::session_unavailable, failure));
    } else {
      self->anon_send(init.supervisor, state_atom_v, connection_state::connected, std::string{});
      self->anon_send(init.supervisor, state_atom_v, connection_state::ready, std::string{});
      self->delayed_send(self, init.cfg.tick, tick_atom_v, std::uint64_t{1});
    }
    return {
        [self](connect_atom) -> caf::result<engine::balance> {
          return enqueue<engine::balance>(self, lane::query,
                                          [self] { return balance_of(self->state); });
        },
        [self](balance_atom) -> caf::result<engine::balance> {
          return enqueue<engine::balance>(self, lane::query,
                                          [self] { return balance_of(self->state); });
        },
        [self](positions_atom) -> caf::result<engine::position_list> {
          return enqueue<engine::position_list>(self, lane::query,
                                                [self] { return positions_of(self->state); });
        },
        [self](place_atom, engine::order& o) -> caf::result<order_ack> {
          return enqueue<order_ack>(self, lane::new_order, [self, o] { return do_place(self, o); });
        },
        [self](cancel_atom, engine::order& o) -> caf::result<order_ack> {
          return enqueue<order_ack>(self, lane::cancel, [self, o] { return do_cancel(self, o); });
        },
        [self](status_atom, engine::order& o) -> caf::result<order_update> {
          return enqueue<order_update>(self, lane::query, [self, o] { return do_status(self, o); });
        },
        [self](drain_atom, std::uint64_t epoch) { on_drain(self, self->state.out, epoch); },
        [self](tick_atom, std::uint64_t n) {
          auto& st = self->state;
          st.tick = n;
          match_all(self);
          self->delayed_send(self, st.cfg.tick, tick_atom_v, n + 1);
        },
        [self](match_atom, std::string& id) { match_one(self, id); },
    };
  };
  return parent->spawn(impl, spec, std::move(supervisor), std::move(sink), std::move(store));
}

} // namespace brokerd::actors::paper
