#include "actors/brokers/alpaca/session.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "actors/brokers/alpaca/codec.hpp"
#include "actors/rest_calls.hpp"
#include "actors/session_support.hpp"
#include "actors/net/https_client.hpp"
#include "actors/net/wss_client.hpp"
#include "engine/backoff.hpp"
#include "engine/order_state.hpp"

namespace brokerd::actors::alpaca {

namespace {

using engine::decimal;
using ost = engine::order_status;
/// brokerd's error codes (alpaca::errc are the codec's).
using gw_errc = actors::errc;

constexpr std::string_view component = "alpaca";
/// Lookups of a create whose outcome is unknown, the first at once, then after these waits.
constexpr std::array<std::chrono::milliseconds, 3> lookup_waits{
    std::chrono::milliseconds{1'000}, std::chrono::milliseconds{2'000},
    std::chrono::milliseconds{4'000}};
/// The rate window is a little longer than Alpaca's minute: a request released at the end of
/// one window must not reach Alpaca before the one it replaces has left Alpaca's.
constexpr auto window_guard = std::chrono::milliseconds{500};

/// Where the session is in its life.
enum class phase : std::uint8_t {
  /// Checking the key (GET /v2/account) and opening the stream.
  starting,
  ready,
};

/// Timers; each kind has its own epoch so a re-armed timer ignores old ones.
enum class timer : std::uint8_t { startup, reconcile, stream, count };

/// Where a create is.
enum class create_step : std::uint8_t {
  /// Nothing sent: in the mailbox, or never placed through this session (seen on the stream or
  /// looked up).
  none,
  /// POST /v2/orders queued in the mailbox.
  queued,
  /// POST written; no answer yet.
  sending,
  /// The POST's outcome is unknown; looking the client order id up.
  resolving,
  /// Alpaca answered with the order.
  done,
};

/// What the session knows of one order, keyed by client order id.
struct tracked {
  std::string order_id;
  std::string client_order_id;
  std::string alpaca_id;
  create_step step = create_step::none;
  /// Set when a cancel arrives before the POST left the mailbox: it is never sent.
  bool cancel_before_send = false;
  std::optional<caf::typed_response_promise<order_ack>> place;
  /// Cancels that arrived while the create was in flight: sent once Alpaca named the order.
  std::vector<caf::typed_response_promise<order_ack>> cancels_waiting;
  /// What the sink was told last.
  ost reported = ost::pending_new;
  decimal reported_filled;
  std::set<std::string> executions;
};

struct session_state {
  connection_spec spec;
  config cfg;
  environment env;
  caf::actor supervisor;
  caf::actor sink;
  phase ph = phase::starting;
  bool closing = false;

  /// The REST calls (through the mailbox, one in flight).
  rest_calls api;
  std::shared_ptr<net::wss_client> stream;
  /// The same two connections, for closing them when the actor ends however it ends.
  struct socket_box {
    std::shared_ptr<net::https_client> rest;
    std::shared_ptr<net::wss_client> stream;
  };
  std::shared_ptr<socket_box> sockets = std::make_shared<socket_box>();
  std::uint64_t stream_epoch = 0;
  bool stream_live = false;
  std::optional<engine::backoff> stream_retry;
  std::uint64_t stream_reconnects = 0;

  std::optional<engine::balance> first_balance;
  std::vector<caf::typed_response_promise<engine::balance>> connect_waiters;

  std::map<std::string, tracked> orders;
  std::map<std::string, std::string> by_alpaca_id;

  std::array<std::uint64_t, static_cast<std::size_t>(timer::count)> timer_epochs{};
  bool reconciling = false;
  bool reconcile_again = false;
  static inline const char* name = "alpaca_session";
};

using alpaca_session_actor = broker_session_actor::extend<
    caf::reacts_to<http_atom, std::uint64_t, net::https_result>,
    caf::reacts_to<net_up_atom, std::uint64_t>,
    caf::reacts_to<net_data_atom, std::uint64_t, std::string>,
    caf::reacts_to<net_down_atom, std::uint64_t, std::string>,
    caf::reacts_to<drain_atom, std::uint64_t>, caf::reacts_to<tick_atom, std::uint64_t>,
    caf::reacts_to<timeout_atom, std::uint64_t, std::uint64_t>>;

using self_ptr = alpaca_session_actor::stateful_pointer<session_state>;

// -- small helpers -----------------------------------------------------------------------------

/// Delivers `x` to a response promise (a void expression to return from a handler).
template <class Promise, class T> void answer(Promise& rp, T&& x) {
  rp.deliver(std::forward<T>(x));
}

std::string describe_origin(const session_state& st) {
  return st.cfg.rest.host + ":" + std::to_string(st.cfg.rest.port);
}

/// A 401, or a 403 that is not an order refusal (Alpaca's order 403s carry a 403xxxxx code).
bool is_auth_failure(const net::https_response& r, const api_error& e) {
  if (r.status == 401)
    return true;
  return r.status == 403 && !(e.code && *e.code / 100'000 == 403);
}

void fail(self_ptr self, const std::string& reason);
void auth_failed(self_ptr self, const std::string& reason);
void observe(self_ptr self, const order_info& info, persistence::event_source source,
             const trade_update* event = nullptr);

/// The text of a failed call for errors and logs (never a header value).
std::string failure_text(const net::https_result& r) {
  if (r)
    return parse_api_error(r->status, r->body).to_string();
  return r.error().to_string();
}

// -- life cycle --------------------------------------------------------------------------------

/// Ends the session with `err`: every waiting request is answered, the connections closed.
void close_with(self_ptr self, const caf::error& err, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  // Answer through each call's own handler, so a create in flight says "unknown", not "not
  // sent"; the handlers see `closing` and start nothing new.
  st.closing = true;
  rest_abandon(self, reason);
  for (auto& w : st.connect_waiters)
    w.deliver(err);
  st.connect_waiters.clear();
  for (auto& [coid, t] : st.orders) {
    if (t.place && t.step == create_step::resolving)
      t.place->deliver(make_error(gw_errc::not_found_at_broker,
                                  "Alpaca: the create's outcome is unknown (" + reason +
                                      "); reconciliation will settle it"));
    t.place.reset();
    for (auto& w : t.cancels_waiting)
      w.deliver(err);
    t.cancels_waiting.clear();
  }
  if (st.stream)
    st.stream->close();
  self->quit(err);
}

void fail(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  log::warn(component, "connection " + st.spec.id + " to " + describe_origin(st) + ": " + reason);
  close_with(self, make_error(gw_errc::session_unavailable, "Alpaca: " + reason), reason);
}

void auth_failed(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  log::warn(component, "connection " + st.spec.id + ": " + reason);
  report_session_state(self, connection_state::auth_required, reason);
  close_with(self, make_error(gw_errc::session_unavailable, "Alpaca: " + reason), reason);
}

void start_reconcile(self_ptr self, lane in = lane::query);

void become_ready_if_done(self_ptr self) {
  auto& st = self->state;
  if (st.ph != phase::starting || !st.first_balance || !st.stream_live)
    return;
  st.ph = phase::ready;
  disarm_timer(self, timer::startup);
  st.api.out.mailbox->resume();
  report_session_state(self, connection_state::ready);
  log::info(component, "connection " + st.spec.id + " ready (" + describe_origin(st) + ")");
  for (auto& w : st.connect_waiters)
    w.deliver(*st.first_balance);
  st.connect_waiters.clear();
  if (st.cfg.reconcile_interval.count() > 0)
    arm_timer(self, timer::reconcile, st.cfg.reconcile_interval);
  pump(self, st.api.out);
}

void fetch_balance(self_ptr self, std::function<void(std::expected<engine::balance, caf::error>)> k) {
  rest_call_in(self, lane::query, rest_get("/v2/account"), [self, k](net::https_result r) {
    if (r && r->status == 200) {
      auto b = parse_account(r->body);
      if (!b)
        return k(std::unexpected(make_error(gw_errc::broker_rejected,
                                            "Alpaca: unreadable account: " + b.error().to_string())));
      return k(*b);
    }
    if (r) {
      auto e = parse_api_error(r->status, r->body);
      if (is_auth_failure(*r, e)) {
        auto why = "Alpaca refused the API key (" + e.to_string() + ")";
        auth_failed(self, why);
        return k(std::unexpected(make_error(gw_errc::session_unavailable, why)));
      }
      return k(std::unexpected(make_error(gw_errc::broker_rejected, "Alpaca: " + e.to_string())));
    }
    k(std::unexpected(make_error(gw_errc::session_unavailable, "Alpaca: " + r.error().to_string())));
  });
}

/// A fetch_balance continuation that answers `rp`.
std::function<void(std::expected<engine::balance, caf::error>)>
deliver_to(caf::typed_response_promise<engine::balance> rp) {
  return [rp](std::expected<engine::balance, caf::error> b) mutable {
    if (b)
      rp.deliver(*b);
    else
      rp.deliver(b.error());
  };
}

// -- the stream --------------------------------------------------------------------------------

void open_stream(self_ptr self) {
  auto& st = self->state;
  auto epoch = ++st.stream_epoch;
  net::wss_options opts;
  opts.endpoint.host = st.cfg.stream.host;
  opts.endpoint.port = st.cfg.stream.port;
  opts.endpoint.ca_file = st.cfg.ca_file;
  opts.endpoint.connect_timeout = st.cfg.connect_timeout;
  opts.target = st.cfg.stream.path;
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  auto to_self = [weak](auto... xs) {
    if (auto h = caf::actor_cast<caf::actor>(weak.lock()))
      caf::anon_send(h, std::move(xs)...);
  };
  net::wss_handlers handlers;
  handlers.on_open = [to_self, epoch] { to_self(net_up_atom_v, epoch); };
  handlers.on_message = [to_self, epoch](net::wss_message m) {
    to_self(net_data_atom_v, epoch, std::move(m.data));
  };
  handlers.on_close = [to_self, epoch](net::wss_failure f) {
    to_self(net_down_atom_v, epoch, f.to_string());
  };
  auto client = net::wss_client::create(*st.env.io, std::move(opts), std::move(handlers));
  if (!client)
    return fail(self, "cannot open the trade_updates stream: " + client.error());
  if (st.stream)
    st.stream->close();
  st.stream = st.sockets->stream = std::move(*client);
  st.stream->connect();
}

void stream_lost(self_ptr self, const std::string& why) {
  auto& st = self->state;
  st.stream_live = false;
  if (st.ph != phase::ready)
    return fail(self, "the trade_updates stream failed before it was ready: " + why);
  auto delay = st.stream_retry->next();
  log::warn(component, "connection " + st.spec.id + ": trade_updates stream lost (" + why +
                           "); reconnecting in " + std::to_string(delay.count()) + " ms");
  if (st.stream)
    st.stream->close();
  st.stream.reset();
  st.sockets->stream.reset();
  arm_timer(self, timer::stream, delay);
}

void on_stream_frame(self_ptr self, std::string_view frame) {
  auto& st = self->state;
  auto msg = parse_stream_message(frame);
  if (!msg) {
    log::warn(component, "connection " + st.spec.id + ": unreadable stream frame: " +
                             msg.error().to_string());
    return;
  }
  if (auto* auth = std::get_if<authorization>(&*msg)) {
    if (!auth->authorized)
      return auth_failed(self, "Alpaca refused the API key on the trade_updates stream (" +
                                   auth->status +
                                   (auth->message.empty() ? "" : ": " + auth->message) + ")");
    st.stream->send_text(encode_listen());
    return;
  }
  if (auto* l = std::get_if<listening>(&*msg)) {
    if (std::find(l->streams.begin(), l->streams.end(), "trade_updates") == l->streams.end())
      return fail(self, "Alpaca did not subscribe the stream to trade_updates");
    bool reconnect = st.ph == phase::ready;
    st.stream_live = true;
    st.stream_retry->reset();
    if (reconnect) {
      ++st.stream_reconnects;
      log::info(component, "connection " + st.spec.id +
                               ": trade_updates stream back; checking orders over REST");
      start_reconcile(self, lane::cancel);
    }
    return become_ready_if_done(self);
  }
  if (auto* u = std::get_if<trade_update>(&*msg))
    return observe(self, u->order, persistence::event_source::broker, u);
}

// -- orders ------------------------------------------------------------------------------------

tracked& track(self_ptr self, const std::string& client_order_id) {
  auto& t = self->state.orders[client_order_id];
  t.client_order_id = client_order_id;
  return t;
}

tracked* find(self_ptr self, const order_info& info) {
  auto& st = self->state;
  if (!info.client_order_id.empty())
    if (auto it = st.orders.find(info.client_order_id); it != st.orders.end())
      return &it->second;
  if (auto it = st.by_alpaca_id.find(info.id); it != st.by_alpaca_id.end())
    if (auto o = st.orders.find(it->second); o != st.orders.end())
      return &o->second;
  return nullptr;
}

tracked* find(self_ptr self, const engine::order& o) {
  auto& st = self->state;
  if (auto it = st.orders.find(o.client_order_id); it != st.orders.end())
    return &it->second;
  if (!o.broker_order_id.empty())
    if (auto it = st.by_alpaca_id.find(o.broker_order_id); it != st.by_alpaca_id.end())
      if (auto t = st.orders.find(it->second); t != st.orders.end())
        return &t->second;
  return nullptr;
}

void learn_id(self_ptr self, tracked& t, const std::string& alpaca_id) {
  if (alpaca_id.empty() || !t.alpaca_id.empty())
    return;
  t.alpaca_id = alpaca_id;
  self->state.by_alpaca_id[alpaca_id] = t.client_order_id;
}

order_update update_of(const tracked& t, const order_info& info) {
  order_update u;
  u.order_id = t.order_id;
  u.client_order_id = info.client_order_id.empty() ? t.client_order_id : info.client_order_id;
  u.broker_order_id = info.id;
  u.status = info.status;
  u.filled_quantity = info.filled_quantity;
  u.avg_fill_price = info.filled_avg_price.value_or(decimal{});
  if (u.status == ost::rejected || u.status == ost::expired || u.status == ost::canceled)
    u.reason = "Alpaca: " + info.alpaca_status;
  return u;
}

/// Tells the sink what Alpaca says of an order when it moves the order on: a later status, or
/// more filled. Repeated, late and replayed reports change nothing.
void observe(self_ptr self, const order_info& info, persistence::event_source source,
             const trade_update* event) {
  auto& st = self->state;
  if (info.status == ost::unknown) {
    log::warn(component, "connection " + st.spec.id + ": order " + info.id +
                             " has a status brokerd does not know: " + info.alpaca_status);
    return;
  }
  auto* t = find(self, info);
  if (!t) {
    if (info.client_order_id.empty())
      return;
    t = &track(self, info.client_order_id);
  }
  learn_id(self, *t, info.id);
  if (event && !event->execution_id.empty() && !t->executions.insert(event->execution_id).second)
    return; // a replayed execution
  if (engine::is_terminal(t->reported))
    return;
  if (info.filled_quantity < t->reported_filled)
    return; // older than what was reported
  bool more_filled = info.filled_quantity > t->reported_filled;
  bool cancel_refused = event && event->event == trade_event::order_cancel_rejected;
  if (!more_filled && (info.status == t->reported ||
                       (status_progress(info.status) < status_progress(t->reported) && !cancel_refused)))
    return;
  auto u = update_of(*t, info);
  u.source = source;
  if (event && event->quantity && event->price && !event->execution_id.empty()) {
    u.last_quantity = event->quantity;
    u.last_price = event->price;
    u.exec_id = event->execution_id;
  }
  if (cancel_refused)
    u.reason = "Alpaca refused the cancel";
  t->reported = u.status;
  t->reported_filled = u.filled_quantity;
  if (!t->order_id.empty() || !u.client_order_id.empty())
    self->anon_send(st.sink, update_atom_v, st.spec.id, std::move(u));
}

void send_cancel(self_ptr self, tracked& t, caf::typed_response_promise<order_ack> rp);

/// The create is settled: answer the place and send the cancels that waited for it.
void settle_create(self_ptr self, tracked& t, const order_info& info) {
  learn_id(self, t, info.id);
  t.step = create_step::done;
  observe(self, info, persistence::event_source::broker);
  if (t.place) {
    t.place->deliver(order_ack{info.id, t.reported, {}});
    t.place.reset();
  }
  auto waiting = std::move(t.cancels_waiting);
  t.cancels_waiting.clear();
  for (auto& rp : waiting)
    send_cancel(self, t, rp);
}

void refuse_create(tracked& t, const caf::error& err) {
  t.step = create_step::done;
  if (t.place) {
    t.place->deliver(err);
    t.place.reset();
  }
  for (auto& rp : t.cancels_waiting)
    rp.deliver(make_error(gw_errc::order_not_cancelable, "Alpaca: the order was not placed"));
  t.cancels_waiting.clear();
}

/// Looks the client order id of a create with an unknown outcome up; never posts again. The
/// POST may still be on its way through Alpaca, so a miss is looked up again after each of
/// `lookup_waits` before the create counts as not placed.
void resolve_create(self_ptr self, const std::string& coid, const std::string& why,
                    std::size_t attempt) {
  auto& st = self->state;
  auto it = st.orders.find(coid);
  if (it == st.orders.end() || st.closing)
    return;
  it->second.step = create_step::resolving;
  rest_call_in(self, lane::new_order, rest_get("/v2/orders:by_client_order_id?client_order_id=" + coid),
       [self, coid, why, attempt](net::https_result r) {
         auto& s = self->state;
         auto found = s.orders.find(coid);
         if (found == s.orders.end() || s.closing)
           return; // close_with answers the place as unknown
         auto& t = found->second;
         if (t.step != create_step::resolving)
           return; // the stream named the order meanwhile
         if (r && r->status == 200) {
           if (auto info = parse_order(r->body)) {
             log::info(component, "connection " + s.spec.id + ": the create of " + coid + " (" +
                                      why + ") reached Alpaca as order " + info->id);
             return settle_create(self, t, *info);
           }
         }
         if (attempt < lookup_waits.size())
           return rest_later(self, lookup_waits[attempt],
                        [self, coid, why, attempt] { resolve_create(self, coid, why, attempt + 1); });
         if (r && r->status == 404)
           return refuse_create(t,
                                make_error(gw_errc::broker_rejected,
                                           "Alpaca has no order with client_order_id " + coid +
                                               " after the create " + why + ": it was not placed"));
         refuse_create(t,
                       make_error(gw_errc::not_found_at_broker,
                                  "Alpaca: the create " + why +
                                      " and the order could not be looked up (" + failure_text(r) +
                                      "); reconciliation will settle it"));
       });
}

/// The answer to POST /v2/orders.
void on_create(self_ptr self, const std::string& coid, net::https_result r) {
  auto& st = self->state;
  auto it = st.orders.find(coid);
  if (it == st.orders.end())
    return;
  auto& t = it->second;
  if (st.closing) {
    // close_with: a create that was written may have reached Alpaca.
    if (t.place) {
      t.place->deliver(
          !r && rest_nothing_sent(r.error())
              ? make_error(gw_errc::session_unavailable, "Alpaca: the session ended before the order was sent")
              : make_error(gw_errc::not_found_at_broker,
                           "Alpaca: the session ended during the create; reconciliation will settle it"));
      t.place.reset();
    }
    return;
  }
  if (!r) {
    if (rest_nothing_sent(r.error())) {
      t.step = create_step::none;
      if (t.place) {
        t.place->deliver(make_error(gw_errc::session_unavailable,
                                    "Alpaca: the order was not sent: " + r.error().to_string()));
        t.place.reset();
      }
      return;
    }
    return resolve_create(self, coid, "failed (" + r.error().to_string() + ")", 0);
  }
  if (r->status == 200 || r->status == 201) {
    auto info = parse_order(r->body);
    if (!info)
      return resolve_create(self, coid,
                            "was answered with an unreadable order (" + info.error().to_string() + ")", 0);
    return settle_create(self, t, *info);
  }
  auto e = parse_api_error(r->status, r->body);
  if (r->status >= 500)
    return resolve_create(self, coid, "was answered " + e.to_string(), 0);
  if (is_auth_failure(*r, e)) {
    auto why = "Alpaca refused the API key (" + e.to_string() + ")";
    t.step = create_step::none;
    if (t.place) {
      t.place->deliver(make_error(gw_errc::session_unavailable, why));
      t.place.reset();
    }
    return auth_failed(self, why);
  }
  if (e.message.find("client_order_id must be unique") != std::string::npos)
    // An earlier create of this id reached Alpaca: find it, never post again.
    return resolve_create(self, coid, "met an existing order with this client_order_id", 0);
  log::info(component, "connection " + st.spec.id + ": Alpaca rejected order " + coid + ": " +
                           e.to_string());
  refuse_create(t, make_error(gw_errc::broker_rejected, "Alpaca: " + e.to_string()));
}

void place(self_ptr self, engine::order o, caf::typed_response_promise<order_ack> rp) {
  if (auto* known = find(self, o); known && known->step != create_step::none) {
    if (known->step == create_step::done && !known->alpaca_id.empty())
      return answer(rp, order_ack{known->alpaca_id, known->reported, {}});
    return answer(rp, make_error(gw_errc::broker_rejected,
                                 "Alpaca: order " + o.client_order_id + " is already being placed"));
  }
  auto body = encode_new_order(o);
  if (!body)
    return answer(rp, make_error(gw_errc::broker_rejected,
                                 "Alpaca cannot take this order: " + body.error().message));
  auto& t = track(self, o.client_order_id);
  t.order_id = o.id;
  t.step = create_step::queued;
  t.place = rp;
  net::https_request req;
  req.method = "POST";
  req.target = "/v2/orders";
  req.body = std::move(*body);
  auto coid = o.client_order_id;
  rest_call_in(
      self, lane::new_order, std::move(req),
      [self, coid](net::https_result r) { on_create(self, coid, std::move(r)); },
      [self, coid] {
        auto& s = self->state;
        auto it = s.orders.find(coid);
        if (it == s.orders.end() || it->second.cancel_before_send)
          return false;
        it->second.step = create_step::sending;
        return true;
      });
}

void send_cancel(self_ptr self, tracked& t, caf::typed_response_promise<order_ack> rp) {
  net::https_request req;
  req.method = "DELETE";
  req.target = "/v2/orders/" + t.alpaca_id;
  req.idempotent = true;
  auto coid = t.client_order_id;
  auto alpaca_id = t.alpaca_id;
  rest_call_in(self, lane::cancel, std::move(req), [self, coid, alpaca_id, rp](net::https_result r) mutable {
    auto& st = self->state;
    if (r && (r->status == 204 || r->status == 200)) {
      if (auto it = st.orders.find(coid); it != st.orders.end()) {
        auto& known = it->second;
        if (!engine::is_terminal(known.reported) &&
            status_progress(known.reported) < status_progress(ost::pending_cancel))
          known.reported = ost::pending_cancel; // the router recorded it when it asked
      }
      return answer(rp, order_ack{alpaca_id, ost::pending_cancel, "cancel accepted by Alpaca"});
    }
    if (r && r->status == 422) {
      // Filled, canceled or expired already: the update that says which follows.
      rp.deliver(make_error(gw_errc::order_not_cancelable,
                            "Alpaca: " + parse_api_error(r->status, r->body).to_string()));
      if (!st.closing)
        rest_call_in(self, lane::query, rest_get("/v2/orders/" + alpaca_id), [self](net::https_result got) {
          if (got && got->status == 200)
            if (auto info = parse_order(got->body))
              observe(self, *info, persistence::event_source::broker);
        });
      return;
    }
    if (r && r->status == 404)
      return answer(rp, make_error(gw_errc::not_found_at_broker,
                                   "Alpaca does not know order " + alpaca_id));
    if (r) {
      auto e = parse_api_error(r->status, r->body);
      rp.deliver(make_error(gw_errc::broker_rejected, "Alpaca: cancel refused: " + e.to_string()));
      if (is_auth_failure(*r, e))
        auth_failed(self, "Alpaca refused the API key (" + e.to_string() + ")");
      return;
    }
    rp.deliver(make_error(gw_errc::broker_rejected, "Alpaca: cancel failed: " + r.error().to_string()));
  });
}

void cancel(self_ptr self, const engine::order& o, caf::typed_response_promise<order_ack> rp) {
  auto* t = find(self, o);
  if (!t && !o.broker_order_id.empty()) {
    t = &track(self, o.client_order_id);
    t->order_id = o.id;
    learn_id(self, *t, o.broker_order_id);
  }
  if (!t)
    return answer(rp, make_error(gw_errc::not_found_at_broker,
                                 "Alpaca: no order " + o.client_order_id + " on this connection"));
  if (engine::is_terminal(t->reported))
    return answer(rp, make_error(gw_errc::order_not_cancelable,
                                 "Alpaca: order is " + std::string{engine::to_string(t->reported)}));
  switch (t->step) {
    case create_step::queued:
      t->cancel_before_send = true;
      t->step = create_step::done;
      t->reported = ost::canceled;
      if (t->place) {
        t->place->deliver(order_ack{{}, ost::canceled, "canceled before it was sent to Alpaca"});
        t->place.reset();
      }
      return answer(rp, order_ack{{}, ost::canceled, "canceled before it was sent to Alpaca"});
    case create_step::sending:
    case create_step::resolving:
      t->cancels_waiting.push_back(rp);
      return;
    case create_step::none:
    case create_step::done:
      break;
  }
  if (t->alpaca_id.empty())
    return answer(rp, make_error(gw_errc::not_found_at_broker,
                                 "Alpaca: order " + o.client_order_id + " has no Alpaca id"));
  send_cancel(self, *t, rp);
}

/// The router's reconciliation: what Alpaca says of one order now.
void status(self_ptr self, const engine::order& o, caf::typed_response_promise<order_update> rp) {
  auto coid = o.client_order_id;
  auto order_id = o.id;
  rest_call_in(self, lane::query, rest_get("/v2/orders:by_client_order_id?client_order_id=" + coid),
       [self, coid, order_id, rp](net::https_result r) mutable {
         auto& st = self->state;
         if (r && r->status == 404)
           return answer(rp, make_error(gw_errc::not_found_at_broker,
                                        "Alpaca has no order with client_order_id " + coid));
         if (!r || r->status != 200)
           return answer(rp, make_error(gw_errc::session_unavailable,
                                        "Alpaca: order lookup failed: " + failure_text(r)));
         auto info = parse_order(r->body);
         if (!info)
           return answer(rp, make_error(gw_errc::session_unavailable,
                                        "Alpaca: unreadable order: " + info.error().to_string()));
         auto& t = track(self, coid);
         if (t.order_id.empty())
           t.order_id = order_id;
         learn_id(self, t, info->id);
         if (t.step == create_step::none)
           t.step = create_step::done;
         if (info->status == ost::unknown)
           return answer(rp, make_error(gw_errc::session_unavailable,
                                        "Alpaca: order status " + info->alpaca_status +
                                            " is not known to brokerd"));
         auto u = update_of(t, *info);
         if (info->filled_quantity >= t.reported_filled) {
           t.reported = u.status;
           t.reported_filled = u.filled_quantity;
         }
         (void)st;
         rp.deliver(std::move(u));
       });
}

// -- reconciliation over REST ------------------------------------------------------------------

/// Checks every order the session placed and has not seen end: the open list in one call,
/// then each one missing from it by itself, in lane `in`. What the stream missed reaches the
/// sink with source reconcile. The periodic check waits behind queued orders (query lane);
/// the gap-fill after a stream reconnect goes ahead of them (cancel lane): until it ran, fills
/// may be missing.
void start_reconcile(self_ptr self, lane in) {
  auto& st = self->state;
  if (st.closing)
    return;
  if (st.reconciling) {
    st.reconcile_again = true;
    return;
  }
  bool any = false;
  for (const auto& [coid, t] : st.orders)
    if (!t.order_id.empty() && !t.alpaca_id.empty() && !engine::is_terminal(t.reported))
      any = true;
  if (!any)
    return;
  st.reconciling = true;
  rest_call_in(self, in, rest_get("/v2/orders?status=open&limit=500&direction=desc"),
       [self, in](net::https_result r) {
         auto& s = self->state;
         auto finish = [self] {
           auto& s2 = self->state;
           s2.reconciling = false;
           if (s2.reconcile_again) {
             s2.reconcile_again = false;
             start_reconcile(self);
           }
         };
         if (s.closing)
           return;
         if (!r || r->status != 200) {
           log::warn(component, "connection " + s.spec.id + ": open orders unavailable: " +
                                    failure_text(r));
           return finish();
         }
         auto open = parse_orders(r->body);
         if (!open) {
           log::warn(component, "connection " + s.spec.id + ": unreadable open orders: " +
                                    open.error().to_string());
           return finish();
         }
         std::set<std::string> seen;
         for (const auto& info : *open) {
           seen.insert(info.id);
           if (find(self, info))
             observe(self, info, persistence::event_source::reconcile);
         }
         auto remaining = std::make_shared<std::size_t>(0);
         std::vector<std::string> missing;
         for (const auto& [coid, t] : s.orders)
           if (!t.order_id.empty() && !t.alpaca_id.empty() && !engine::is_terminal(t.reported) &&
               t.step == create_step::done && !seen.contains(t.alpaca_id))
             missing.push_back(t.alpaca_id);
         if (missing.empty())
           return finish();
         *remaining = missing.size();
         for (const auto& id : missing)
           rest_call_in(self, in, rest_get("/v2/orders/" + id),
                [self, id, remaining, finish](net::https_result got) {
                  auto& s2 = self->state;
                  if (s2.closing)
                    return;
                  if (got && got->status == 200) {
                    if (auto info = parse_order(got->body))
                      observe(self, *info, persistence::event_source::reconcile);
                  } else {
                    log::warn(component, "connection " + s2.spec.id + ": order " + id +
                                             " unavailable: " + failure_text(got));
                  }
                  if (--*remaining == 0)
                    finish();
                });
       });
}

// -- settings ----------------------------------------------------------------------------------

std::expected<std::int64_t, std::string> number(const std::string& key, const std::string& value,
                                                std::int64_t lo, std::int64_t hi) {
  return parse_int_setting("alpaca", key, value, lo, hi);
}

} // namespace

} // namespace brokerd::actors::alpaca

namespace brokerd::actors::alpaca {

std::expected<url, std::string> parse_url(std::string_view text, bool websocket) {
  std::string_view scheme = websocket ? "wss://" : "https://";
  auto what = std::string{websocket ? "stream URL" : "base URL"};
  if (!text.starts_with(scheme))
    return std::unexpected(what + " must start with " + std::string{scheme});
  auto rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  url out;
  if (slash != std::string_view::npos)
    out.path = std::string{rest.substr(slash)};
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::unexpected(what + " has an unclosed [ in its host");
    out.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':')
        return std::unexpected(what + " has text after its host");
      port_text = after.substr(1);
      if (port_text.empty())
        return std::unexpected(what + " has an empty port");
    }
  } else {
    auto colon = authority.find(':');
    out.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty())
        return std::unexpected(what + " has an empty port");
    }
  }
  if (out.host.empty() || out.host.size() > 253)
    return std::unexpected(what + " needs a host");
  for (char c : out.host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':'))
      return std::unexpected(what + " has an invalid host");
  if (!port_text.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || p == 0 || p > 65535)
      return std::unexpected(what + " has an invalid port");
    out.port = static_cast<std::uint16_t>(p);
  }
  if (out.path.find_first_of("?# \t\r\n") != std::string::npos)
    return std::unexpected(what + " must not carry a query, a fragment or spaces");
  return out;
}

std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings) {
  config cfg;
  std::string base;
  std::string stream;
  std::set<std::string> seen;
  for (const auto& [key, value] : settings) {
    if (!seen.insert(key).second)
      return std::unexpected("alpaca setting " + key + " appears twice");
    if (key == "key_id" || key == "secret") {
      if (value.empty() || value.size() > 256)
        return std::unexpected("alpaca setting " + key + " must be 1 to 256 characters");
      (key == "key_id" ? cfg.key_id : cfg.secret_key) = secret{value};
    } else if (key == "paper") {
      if (value != "true" && value != "false")
        return std::unexpected(std::string{"alpaca setting paper must be true or false"});
      cfg.paper = value == "true";
    } else if (key == "base_url") {
      base = value;
    } else if (key == "stream_url") {
      stream = value;
    } else if (key == "ca_file") {
      if (value.empty() || value.size() > 4096)
        return std::unexpected(std::string{"alpaca setting ca_file must be a file path"});
      cfg.ca_file = value;
    } else if (key == "requests_per_minute") {
      auto n = number(key, value, 1, 1'000);
      if (!n)
        return std::unexpected(n.error());
      cfg.requests_per_minute = static_cast<std::uint32_t>(*n);
    } else if (key == "request_timeout_ms" || key == "connect_timeout_ms") {
      auto n = number(key, value, 100, 600'000);
      if (!n)
        return std::unexpected(n.error());
      (key == "request_timeout_ms" ? cfg.request_timeout : cfg.connect_timeout) =
          std::chrono::milliseconds{*n};
    } else if (key == "reconcile_interval_ms") {
      auto n = number(key, value, 0, 86'400'000);
      if (!n)
        return std::unexpected(n.error());
      if (*n != 0 && *n < 1'000)
        return std::unexpected(std::string{"alpaca setting reconcile_interval_ms must be 0 or at least 1000"});
      cfg.reconcile_interval = std::chrono::milliseconds{*n};
    } else {
      return std::unexpected("unknown alpaca setting '" + key + "'");
    }
  }
  if (cfg.key_id.empty() || cfg.secret_key.empty())
    return std::unexpected(std::string{"alpaca settings key_id and secret are required"});
  if (base.empty())
    base = cfg.paper ? "https://paper-api.alpaca.markets" : "https://api.alpaca.markets";
  auto rest = parse_url(base, false);
  if (!rest)
    return std::unexpected("alpaca setting base_url: " + rest.error());
  if (rest->path != "/")
    return std::unexpected(std::string{"alpaca setting base_url must be an origin without a path "
                                       "(the API paths start with /v2)"});
  cfg.rest = *rest;
  if (stream.empty()) {
    cfg.stream = cfg.rest;
    cfg.stream.path = "/stream";
  } else {
    auto s = parse_url(stream, true);
    if (!s)
      return std::unexpected("alpaca setting stream_url: " + s.error());
    cfg.stream = *s;
  }
  return cfg;
}

broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink, environment env) {
  auto impl = [](self_ptr self, connection_spec s, caf::actor sup, caf::actor snk,
                 environment e) -> alpaca_session_actor::behavior_type {
    auto& init = self->state;
    init.spec = std::move(s);
    init.supervisor = std::move(sup);
    init.sink = std::move(snk);
    init.env = e;
    init.stream_retry.emplace(std::chrono::milliseconds{250}, std::chrono::milliseconds{30'000},
                              std::hash<std::string>{}(init.spec.id));
    auto now = self->clock().now();
    auto cfg = parse_config(init.spec.settings);
    std::string setup_error;
    if (!cfg)
      setup_error = cfg.error();
    else if (!init.env.io)
      setup_error = "no I/O context for Alpaca sessions";
    if (cfg)
      init.cfg = std::move(*cfg);
    // Paced evenly over the minute with a small burst, and never more than the budget within
    // any window: what Alpaca counts.
    auto rpm = std::max<std::uint32_t>(init.cfg.requests_per_minute, 1);
    init.api.out.batch = 1;
    init.api.who = "connection " + init.spec.id;
    init.api.component = component;
    init.api.request_timeout = init.cfg.request_timeout;
    init.api.on_unreachable = [self](const std::string& why) {
      fail(self, "cannot reach Alpaca at " + describe_origin(self->state) + ": " + why);
    };
    init.api.out.mailbox.emplace(
        engine::token_bucket::per_period(rpm, std::chrono::minutes{1},
                                         std::max<std::uint32_t>(1, rpm / 20), now),
        engine::sliding_window{rpm, std::chrono::minutes{1} + window_guard});
    measure(init.api, metrics_of(init.spec));
    if (setup_error.empty()) {
      net::https_options opts;
      opts.endpoint.host = init.cfg.rest.host;
      opts.endpoint.port = init.cfg.rest.port;
      opts.endpoint.ca_file = init.cfg.ca_file;
      opts.endpoint.connect_timeout = init.cfg.connect_timeout;
      opts.default_headers = {{"APCA-API-KEY-ID", init.cfg.key_id.reveal(), true},
                              {"APCA-API-SECRET-KEY", init.cfg.secret_key.reveal(), true}};
      opts.max_queued = 256;
      auto client = net::https_client::create(*init.env.io, std::move(opts));
      if (!client)
        setup_error = client.error();
      else
        init.api.client = init.sockets->rest = std::move(*client);
    }
    install_session_exception_handler(self, component, "Alpaca");
    // The state is gone when attachables run: they close what the box holds.
    self->attach_functor([box = init.sockets](const caf::error&) {
      if (box->rest)
        box->rest->close();
      if (box->stream)
        box->stream->close();
    });
    if (!setup_error.empty()) {
      report_session_state(self, connection_state::auth_required, setup_error);
      init.closing = true;
      self->quit(make_error(gw_errc::session_unavailable, "Alpaca: " + setup_error));
    } else {
      // The account call checks the key; orders wait for `ready`.
      init.api.out.mailbox->resume(lane::query);
      fetch_balance(self, [self](std::expected<engine::balance, caf::error> b) {
        auto& st = self->state;
        if (st.closing)
          return;
        if (!b)
          return fail(self, "the account could not be read: " + describe(b.error()).message);
        st.first_balance = *b;
        become_ready_if_done(self);
      });
      open_stream(self);
      arm_timer(self, timer::startup, init.cfg.connect_timeout);
    }
    return {
        [self](connect_atom) -> caf::result<engine::balance> {
          auto rp = self->make_response_promise<engine::balance>();
          auto& st = self->state;
          if (st.ph != phase::ready) {
            st.connect_waiters.push_back(rp);
            return rp;
          }
          fetch_balance(self, deliver_to(rp));
          return rp;
        },
        [self](balance_atom) -> caf::result<engine::balance> {
          auto rp = self->make_response_promise<engine::balance>();
          fetch_balance(self, deliver_to(rp));
          return rp;
        },
        [self](positions_atom) -> caf::result<engine::position_list> {
          auto rp = self->make_response_promise<engine::position_list>();
          rest_call_in(self, lane::query, rest_get("/v2/positions"), [self, rp](net::https_result r) mutable {
            if (r && r->status == 200) {
              auto p = parse_positions(r->body);
              if (p)
                return answer(rp, std::move(*p));
              return answer(rp, make_error(gw_errc::broker_rejected,
                                           "Alpaca: unreadable positions: " + p.error().to_string()));
            }
            rp.deliver(make_error(gw_errc::session_unavailable,
                                  "Alpaca: positions unavailable: " + failure_text(r)));
            if (r) {
              auto refusal = parse_api_error(r->status, r->body);
              if (is_auth_failure(*r, refusal))
                auth_failed(self, "Alpaca refused the API key (" + refusal.to_string() + ")");
            }
          });
          return rp;
        },
        [self](place_atom, engine::order& o) -> caf::result<order_ack> {
          auto rp = self->make_response_promise<order_ack>();
          place(self, std::move(o), rp);
          return rp;
        },
        [self](cancel_atom, engine::order& o) -> caf::result<order_ack> {
          auto rp = self->make_response_promise<order_ack>();
          cancel(self, o, rp);
          return rp;
        },
        [self](status_atom, engine::order& o) -> caf::result<order_update> {
          auto rp = self->make_response_promise<order_update>();
          status(self, o, rp);
          return rp;
        },
        [self](http_atom, std::uint64_t token, net::https_result& r) {
          rest_on_http(self, token, std::move(r));
        },
        [self](net_up_atom, std::uint64_t epoch) {
          auto& st = self->state;
          if (epoch != st.stream_epoch || st.closing || !st.stream)
            return;
          st.stream->send_text(encode_auth(st.cfg.key_id.reveal(), st.cfg.secret_key.reveal()));
        },
        [self](net_data_atom, std::uint64_t epoch, std::string& frame) {
          auto& st = self->state;
          if (epoch != st.stream_epoch || st.closing)
            return;
          on_stream_frame(self, frame);
        },
        [self](net_down_atom, std::uint64_t epoch, std::string& reason) {
          auto& st = self->state;
          if (epoch != st.stream_epoch || st.closing)
            return;
          stream_lost(self, reason);
        },
        [self](drain_atom, std::uint64_t epoch) { on_drain(self, self->state.api.out, epoch); },
        [self](tick_atom, std::uint64_t id) { rest_on_tick(self, id); },
        [self](timeout_atom, std::uint64_t kind, std::uint64_t epoch) {
          auto& st = self->state;
          if (kind >= st.timer_epochs.size() || st.timer_epochs[kind] != epoch || st.closing)
            return;
          switch (static_cast<timer>(kind)) {
            case timer::startup:
              return fail(self, std::string{"Alpaca did not answer the account call and authorize "
                                            "the trade_updates stream within "} +
                                    std::to_string(st.cfg.connect_timeout.count()) + " ms");
            case timer::reconcile:
              start_reconcile(self);
              arm_timer(self, timer::reconcile, st.cfg.reconcile_interval);
              return;
            case timer::stream:
              return open_stream(self);
            case timer::count:
              return;
          }
        },
    };
  };
  return parent->spawn(impl, spec, std::move(supervisor), std::move(sink), std::move(env));
}

} // namespace brokerd::actors::alpaca
