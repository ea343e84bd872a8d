#include "actors/brokers/schwab/session.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>

#include "actors/brokers/schwab/codec.hpp"
#include "actors/brokers/schwab/tokens.hpp"
#include "actors/rest_calls.hpp"
#include "actors/session_support.hpp"
#include "engine/order_state.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::actors::schwab {

namespace {

using engine::decimal;
using ost = engine::order_status;
/// brokerd's error codes (schwab::errc are the codec's).
using gw_errc = actors::errc;

constexpr std::string_view component = "schwab";
/// Lookups of a create whose order id is unknown: at once, then after these waits.
constexpr std::array<std::chrono::milliseconds, 3> lookup_waits{
    std::chrono::milliseconds{1'000}, std::chrono::milliseconds{2'000},
    std::chrono::milliseconds{4'000}};
/// Listing windows reach this far around the times they cover (clock skew).
constexpr std::int64_t skew_ns = 60LL * 1'000'000'000;
constexpr auto window_guard = std::chrono::milliseconds{500};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

enum class phase : std::uint8_t { starting, ready };
enum class timer : std::uint8_t { startup, poll, login, count };

enum class create_step : std::uint8_t { none, queued, sending, resolving, done };

struct tracked {
  engine::order order;
  std::string schwab_id;
  create_step step = create_step::none;
  bool cancel_before_send = false;
  std::int64_t sent_ns = 0;
  std::optional<caf::typed_response_promise<order_ack>> place;
  std::vector<caf::typed_response_promise<order_ack>> cancels_waiting;
  ost reported = ost::pending_new;
  decimal reported_filled;
};

struct session_state {
  connection_spec spec;
  config cfg;
  environment env;
  caf::actor supervisor;
  caf::actor sink;
  phase ph = phase::starting;
  bool closing = false;
  rest_calls api;
  std::shared_ptr<net::https_client> client_box;

  std::optional<token_set> tokens;
  bool refreshing = false;
  std::vector<std::function<void(bool)>> after_refresh;
  /// Calls already sent again after a refresh: a second 401 is final.
  std::set<std::uint64_t> refreshed_for;
  refresh_warning warned = refresh_warning::none;

  std::string account_hash;
  std::optional<engine::balance> first_balance;
  std::vector<caf::typed_response_promise<engine::balance>> connect_waiters;

  /// By brokerd order id.
  std::map<std::string, tracked> orders;
  std::map<std::string, std::string> by_schwab_id;
  bool polling = false;
  std::array<std::uint64_t, static_cast<std::size_t>(timer::count)> timer_epochs{};
  static inline const char* name = "schwab_session";
};

using schwab_session_actor =
    broker_session_actor::extend<caf::reacts_to<http_atom, std::uint64_t, net::https_result>,
                                 caf::reacts_to<drain_atom, std::uint64_t>,
                                 caf::reacts_to<tick_atom, std::uint64_t>,
                                 caf::reacts_to<timeout_atom, std::uint64_t, std::uint64_t>>;

using self_ptr = schwab_session_actor::stateful_pointer<session_state>;

template <class Promise, class T> void answer(Promise& rp, T&& x) {
  rp.deliver(std::forward<T>(x));
}

std::string failure_text(const net::https_result& r) {
  if (r)
    return parse_api_error(r->status, r->body).to_string();
  return r.error().to_string();
}

std::string accounts_path(const session_state& st) {
  return "/trader/v1/accounts/" + st.account_hash;
}

// -- life cycle --------------------------------------------------------------------------------

void close_with(self_ptr self, const caf::error& err, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  rest_abandon(self, reason);
  for (auto& w : st.connect_waiters)
    w.deliver(err);
  st.connect_waiters.clear();
  for (auto& k : st.after_refresh)
    k(false);
  st.after_refresh.clear();
  for (auto& [id, t] : st.orders) {
    if (t.place)
      t.place->deliver(t.step == create_step::queued
                           ? make_error(gw_errc::session_unavailable,
                                        "Schwab: the session ended before the order was sent")
                           : make_error(gw_errc::not_found_at_broker,
                                        "Schwab: the create's outcome is unknown (" + reason +
                                            "); reconciliation will settle it"));
    t.place.reset();
    for (auto& w : t.cancels_waiting)
      w.deliver(err);
    t.cancels_waiting.clear();
  }
  self->quit(err);
}

void fail(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  log::warn(component, "connection " + st.spec.id + ": " + reason);
  close_with(self, make_error(gw_errc::session_unavailable, "Schwab: " + reason), reason);
}

void auth_failed(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  log::warn(component, "connection " + st.spec.id + ": " + reason);
  report_session_state(self, connection_state::auth_required, reason);
  close_with(self, make_error(gw_errc::session_unavailable, "Schwab: " + reason), reason);
}

// -- tokens ------------------------------------------------------------------------------------

/// Stores `t` sealed (synced), then runs `k(true)`; `k(false)` when it could not be stored.
void store_tokens(self_ptr self, const token_set& t, std::function<void(bool)> k) {
  auto& st = self->state;
  auto sealed = seal_tokens(t, *st.env.vault, st.spec.user, st.spec.id);
  if (!sealed) {
    fail(self, "cannot seal the Schwab tokens: " + sealed.error().message);
    return k(false);
  }
  registry_writes writes{{token_key(st.spec.id), std::move(*sealed)}};
  self->request(st.env.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                std::move(writes))
      .then([k](std::uint64_t) { k(true); },
            [self, k](caf::error& err) {
              fail(self, "cannot store the Schwab tokens: " + describe(err).message);
              k(false);
            });
}

/// The login is over (refused or expired): stored as expired, so that no later session asks
/// Schwab again before a new sign-in, and the session ends in auth_required.
void login_over(self_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.tokens && !refresh_expired(*st.tokens, now_ns())) {
    auto dead = *st.tokens;
    dead.refresh_expires_ns = now_ns();
    store_tokens(self, dead, [self, why](bool) { auth_failed(self, why); });
    return;
  }
  auth_failed(self, why);
}

/// Gets a fresh access token with the refresh grant; `k(true)` once it is stored and in use.
void refresh(self_ptr self, std::function<void(bool)> k) {
  auto& st = self->state;
  st.after_refresh.push_back(std::move(k));
  if (st.refreshing)
    return;
  st.refreshing = true;
  auto done = [self](bool ok) {
    auto& s = self->state;
    s.refreshing = false;
    auto waiting = std::move(s.after_refresh);
    s.after_refresh.clear();
    for (auto& w : waiting)
      w(ok);
  };
  auto basic = basic_authorization(st.cfg.app_key.reveal(), st.cfg.app_secret);
  if (!basic) {
    done(false);
    return auth_failed(self, "the Schwab app credentials are unusable: " + basic.error().message);
  }
  net::https_request req;
  req.method = "POST";
  req.target = "/v1/oauth/token";
  req.headers = {{"Authorization", basic->reveal(), true}};
  req.content_type = "application/x-www-form-urlencoded";
  req.body = encode_refresh_grant(st.tokens->refresh_token).reveal();
  rest_call_in(self, lane::cancel, std::move(req), [self, done](net::https_result r) {
    auto& s = self->state;
    if (s.closing)
      return done(false);
    if (r && r->status == 200) {
      auto granted = parse_token_response(r->body);
      if (!granted) {
        done(false);
        return fail(self, "unreadable token answer from Schwab: " + granted.error().message);
      }
      auto next = tokens_after_refresh(*s.tokens, *granted, now_ns());
      // Stored before use: a rotated refresh token must survive a crash right after.
      return store_tokens(self, next, [self, next, done](bool ok) {
        if (ok)
          self->state.tokens = next;
        done(ok);
      });
    }
    done(false);
    if (r && r->status >= 400 && r->status < 500) {
      auto e = parse_oauth_error(r->status, r->body);
      return login_over(self, "Schwab refused the refresh token (" + e.error +
                                  (e.error_description.empty() ? "" : ": " + e.error_description) +
                                  "): sign in again");
    }
    fail(self, "the token refresh failed: " + failure_text(r));
  });
}

/// Runs `k` with a usable access token (refreshing first when it is due).
void with_token(self_ptr self, std::function<void()> k) {
  auto& st = self->state;
  if (!access_due(*st.tokens, now_ns()))
    return k();
  refresh(self, [k](bool ok) {
    if (ok)
      k();
  });
}

/// The 401 hook: one refresh, then GETs and DELETEs go again; a POST is answered with its 401
/// (nothing was created) and the router sends it again. A second 401 is final.
bool on_unauthorized(self_ptr self, std::uint64_t token) {
  auto& st = self->state;
  auto it = st.api.calls.find(token);
  if (it == st.api.calls.end() || it->second.request.target == "/v1/oauth/token")
    return false;
  if (!st.refreshed_for.insert(token).second) {
    auth_failed(self, "Schwab refused a fresh access token (401 after a refresh)");
    return true;
  }
  log::info(component, "connection " + st.spec.id + ": 401 from Schwab; refreshing the token");
  bool again = it->second.request.idempotent;
  refresh(self, [self, token, again](bool ok) {
    if (!ok)
      return;
    if (again)
      return rest_enqueue(self, token, true);
    rest_finish(self, token,
                std::unexpected(net::https_failure{net::https_errc::closed,
                                                   "Schwab refused the access token", false}));
  });
  return true;
}

void check_login(self_ptr self) {
  auto& st = self->state;
  if (!st.tokens || st.closing)
    return;
  auto now = now_ns();
  auto stage = refresh_warning_at(*st.tokens, now);
  if (stage == refresh_warning::expired)
    return auth_failed(self, describe_refresh_warning(*st.tokens, now));
  if (stage != st.warned && st.ph == phase::ready) {
    st.warned = stage;
    report_session_state(self, connection_state::ready, describe_refresh_warning(*st.tokens, now));
  }
  // Look again when the next stage begins (at most an hour from now).
  auto left = st.tokens->refresh_expires_ns - now;
  std::int64_t next = left - (stage == refresh_warning::none ? 24LL : stage == refresh_warning::day ? 1LL : 0LL) *
                                 3'600'000'000'000LL;
  next = std::clamp<std::int64_t>(next, 1'000'000'000LL, 3'600'000'000'000LL);
  arm_timer(self, timer::login, std::chrono::milliseconds{next / 1'000'000});
}

// -- orders ------------------------------------------------------------------------------------

order_update update_of(const tracked& t, const order_info& info) {
  order_update u;
  u.order_id = t.order.id;
  u.client_order_id = t.order.client_order_id;
  u.broker_order_id = info.order_id;
  u.status = info.status;
  u.filled_quantity = info.filled_quantity;
  u.avg_fill_price = info.average_fill_price.value_or(decimal{});
  if (u.status == ost::rejected || u.status == ost::canceled || u.status == ost::expired)
    u.reason = "Schwab: " + info.schwab_status +
               (info.status_description.empty() ? "" : ": " + info.status_description);
  return u;
}

/// Reports what Schwab says of a tracked order when it moves the order on.
void observe(self_ptr self, tracked& t, const order_info& info, persistence::event_source source) {
  auto& st = self->state;
  if (info.status == ost::unknown || engine::is_terminal(t.reported) ||
      info.filled_quantity < t.reported_filled)
    return;
  bool more_filled = info.filled_quantity > t.reported_filled;
  if (!more_filled && (info.status == t.reported ||
                       status_progress(info.status) < status_progress(t.reported)))
    return;
  auto u = update_of(t, info);
  u.source = source;
  if (more_filled) {
    u.last_quantity = info.filled_quantity - t.reported_filled;
    if (!info.executions.empty())
      u.last_price = info.executions.back().price;
  }
  t.reported = u.status;
  t.reported_filled = u.filled_quantity;
  self->anon_send(st.sink, update_atom_v, st.spec.id, std::move(u));
}

void send_cancel(self_ptr self, tracked& t, caf::typed_response_promise<order_ack> rp);

void learn_id(self_ptr self, tracked& t, const std::string& schwab_id) {
  t.schwab_id = schwab_id;
  self->state.by_schwab_id[schwab_id] = t.order.id;
}

void settle_create(self_ptr self, tracked& t, const std::string& schwab_id) {
  learn_id(self, t, schwab_id);
  t.step = create_step::done;
  if (status_progress(t.reported) < status_progress(ost::new_))
    t.reported = ost::new_;
  if (t.place) {
    t.place->deliver(order_ack{schwab_id, ost::new_, {}});
    t.place.reset();
  }
  auto waiting = std::move(t.cancels_waiting);
  t.cancels_waiting.clear();
  for (auto& rp : waiting)
    send_cancel(self, t, rp);
  arm_timer(self, timer::poll, self->state.cfg.poll);
}

void refuse_create(tracked& t, const caf::error& err) {
  t.step = create_step::done;
  if (t.place) {
    t.place->deliver(err);
    t.place.reset();
  }
  for (auto& rp : t.cancels_waiting)
    rp.deliver(make_error(gw_errc::order_not_cancelable, "Schwab: the order was not placed"));
  t.cancels_waiting.clear();
}

/// The orders list around [from_ns, now].
net::https_request orders_since(const session_state& st, std::int64_t from_ns) {
  return rest_get(accounts_path(st) + "/orders?" + orders_query(from_ns - skew_ns, now_ns() + skew_ns));
}

/// Finds a create whose order id is unknown by its fingerprint in the orders list; never posts
/// again. One unclaimed candidate is the order; none is looked for again after each wait, then
/// the order was not placed; several cannot be told apart and stay unknown.
void resolve_create(self_ptr self, const std::string& id, const std::string& why,
                    std::size_t attempt) {
  auto& st = self->state;
  auto it = st.orders.find(id);
  if (it == st.orders.end() || st.closing)
    return;
  it->second.step = create_step::resolving;
  rest_call_in(self, lane::new_order, orders_since(st, it->second.sent_ns),
               [self, id, why, attempt](net::https_result r) {
                 auto& s = self->state;
                 auto found = s.orders.find(id);
                 if (found == s.orders.end() || s.closing)
                   return;
                 auto& t = found->second;
                 std::vector<order_info> candidates;
                 if (r && r->status == 200) {
                   if (auto list = parse_orders(r->body))
                     for (auto& c : match_created(t.order, *list, t.sent_ns - 2'000'000'000LL))
                       if (!s.by_schwab_id.contains(c.order_id))
                         candidates.push_back(std::move(c));
                 }
                 if (candidates.size() == 1) {
                   log::info(component, "connection " + s.spec.id + ": the create of " +
                                            t.order.client_order_id + " (" + why +
                                            ") is Schwab order " + candidates[0].order_id);
                   return settle_create(self, t, candidates[0].order_id);
                 }
                 if (candidates.size() > 1)
                   return refuse_create(
                       t, make_error(gw_errc::not_found_at_broker,
                                     "Schwab lists " + std::to_string(candidates.size()) +
                                         " orders like this one after the create " + why +
                                         ": it cannot tell which is brokerd's"));
                 if (attempt < lookup_waits.size())
                   return rest_later(self, lookup_waits[attempt], [self, id, why, attempt] {
                     resolve_create(self, id, why, attempt + 1);
                   });
                 if (r && r->status == 200)
                   return refuse_create(t, make_error(gw_errc::broker_rejected,
                                                      "Schwab lists no such order after the "
                                                      "create " +
                                                          why + ": it was not placed"));
                 refuse_create(t, make_error(gw_errc::not_found_at_broker,
                                             "Schwab: the create " + why +
                                                 " and the orders could not be listed (" +
                                                 failure_text(r) + ")"));
               });
}

void on_create(self_ptr self, const std::string& id, net::https_result r) {
  auto& st = self->state;
  auto it = st.orders.find(id);
  if (it == st.orders.end())
    return;
  auto& t = it->second;
  if (st.closing) {
    if (t.place) {
      t.place->deliver(!r && rest_nothing_sent(r.error())
                           ? make_error(gw_errc::session_unavailable,
                                        "Schwab: the session ended before the order was sent")
                           : make_error(gw_errc::not_found_at_broker,
                                        "Schwab: the session ended during the create"));
      t.place.reset();
    }
    return;
  }
  if (!r) {
    if (rest_nothing_sent(r.error())) {
      t.step = create_step::none;
      if (t.place) {
        t.place->deliver(make_error(gw_errc::session_unavailable,
                                    "Schwab: the order was not sent: " + r.error().to_string()));
        t.place.reset();
      }
      return;
    }
    return resolve_create(self, id, "failed (" + r.error().to_string() + ")", 0);
  }
  if (r->status == 201 || r->status == 200) {
    auto location = r->header("Location");
    if (location)
      if (auto order_id = order_id_from_location(*location, st.account_hash))
        return settle_create(self, t, *order_id);
    return resolve_create(self, id, "was answered without an order id", 0);
  }
  if (r->status >= 500)
    return resolve_create(self, id, "was answered " + failure_text(r), 0);
  refuse_create(t, make_error(gw_errc::broker_rejected, "Schwab: " + failure_text(r)));
}

void place(self_ptr self, engine::order o, caf::typed_response_promise<order_ack> rp) {
  auto& st = self->state;
  if (auto known = st.orders.find(o.id); known != st.orders.end() && known->second.step != create_step::none) {
    if (!known->second.schwab_id.empty())
      return answer(rp, order_ack{known->second.schwab_id, known->second.reported, {}});
    return answer(rp, make_error(gw_errc::broker_rejected, "Schwab: order " + o.id +
                                                               " is already being placed"));
  }
  auto body = encode_order(o);
  if (!body)
    return answer(rp, make_error(gw_errc::broker_rejected,
                                 "Schwab cannot take this order: " + body.error().message));
  auto& t = st.orders[o.id];
  t.order = o;
  t.step = create_step::queued;
  t.place = rp;
  net::https_request req;
  req.method = "POST";
  req.target = accounts_path(st) + "/orders";
  req.body = std::move(*body);
  auto id = o.id;
  rest_call_in(
      self, lane::new_order, std::move(req),
      [self, id](net::https_result r) { on_create(self, id, std::move(r)); },
      [self, id] {
        auto& s = self->state;
        auto found = s.orders.find(id);
        if (found == s.orders.end() || found->second.cancel_before_send)
          return false;
        found->second.step = create_step::sending;
        found->second.sent_ns = now_ns();
        return true;
      });
}

void refresh_order(self_ptr self, const std::string& schwab_id) {
  auto& st = self->state;
  rest_call_in(self, lane::query, rest_get(accounts_path(st) + "/orders/" + schwab_id),
               [self](net::https_result r) {
                 if (!r || r->status != 200)
                   return;
                 auto info = parse_order(r->body);
                 if (!info)
                   return;
                 auto& s = self->state;
                 if (auto it = s.by_schwab_id.find(info->order_id); it != s.by_schwab_id.end())
                   if (auto t = s.orders.find(it->second); t != s.orders.end())
                     observe(self, t->second, *info, persistence::event_source::broker);
               });
}

void send_cancel(self_ptr self, tracked& t, caf::typed_response_promise<order_ack> rp) {
  auto& st = self->state;
  net::https_request req;
  req.method = "DELETE";
  req.target = accounts_path(st) + "/orders/" + t.schwab_id;
  req.idempotent = true;
  auto schwab_id = t.schwab_id;
  auto id = t.order.id;
  rest_call_in(self, lane::cancel, std::move(req), [self, id, schwab_id, rp](net::https_result r) mutable {
    auto& s = self->state;
    if (r && (r->status == 200 || r->status == 204)) {
      if (auto it = s.orders.find(id); it != s.orders.end()) {
        auto& known = it->second;
        if (!engine::is_terminal(known.reported) &&
            status_progress(known.reported) < status_progress(ost::pending_cancel))
          known.reported = ost::pending_cancel; // the router recorded it when it asked
      }
      arm_timer(self, timer::poll, s.cfg.poll);
      return answer(rp, order_ack{schwab_id, ost::pending_cancel, "cancel accepted by Schwab"});
    }
    if (r && r->status == 404)
      return answer(rp, make_error(gw_errc::not_found_at_broker,
                                   "Schwab does not know order " + schwab_id));
    if (r && r->status == 400) {
      // Already final: the status that says which follows.
      rp.deliver(make_error(gw_errc::order_not_cancelable, "Schwab: " + failure_text(r)));
      if (!s.closing)
        refresh_order(self, schwab_id);
      return;
    }
    rp.deliver(make_error(gw_errc::broker_rejected, "Schwab: cancel failed: " + failure_text(r)));
  });
}

void cancel(self_ptr self, const engine::order& o, caf::typed_response_promise<order_ack> rp) {
  auto& st = self->state;
  auto it = st.orders.find(o.id);
  if (it == st.orders.end() && !o.broker_order_id.empty()) {
    auto& t = st.orders[o.id];
    t.order = o;
    t.step = create_step::done;
    learn_id(self, t, o.broker_order_id);
    it = st.orders.find(o.id);
  }
  if (it == st.orders.end())
    return answer(rp, make_error(gw_errc::not_found_at_broker,
                                 "Schwab: no order " + o.client_order_id + " on this connection"));
  auto& t = it->second;
  if (engine::is_terminal(t.reported))
    return answer(rp, make_error(gw_errc::order_not_cancelable,
                                 "Schwab: order is " + std::string{engine::to_string(t.reported)}));
  switch (t.step) {
    case create_step::queued:
      t.cancel_before_send = true;
      t.step = create_step::done;
      t.reported = ost::canceled;
      if (t.place) {
        t.place->deliver(order_ack{{}, ost::canceled, "canceled before it was sent to Schwab"});
        t.place.reset();
      }
      return answer(rp, order_ack{{}, ost::canceled, "canceled before it was sent to Schwab"});
    case create_step::sending:
    case create_step::resolving:
      t.cancels_waiting.push_back(rp);
      return;
    case create_step::none:
    case create_step::done:
      break;
  }
  if (t.schwab_id.empty())
    return answer(rp, make_error(gw_errc::not_found_at_broker,
                                 "Schwab: order " + o.client_order_id + " has no Schwab id"));
  send_cancel(self, t, rp);
}

/// The router's reconciliation: what Schwab says of one order now (by its id, or by its
/// fingerprint when the id was never learned).
void status(self_ptr self, const engine::order& o, caf::typed_response_promise<order_update> rp) {
  auto& st = self->state;
  auto& t = st.orders[o.id];
  if (t.order.id.empty()) {
    t.order = o;
    t.step = create_step::done;
    t.sent_ns = o.created_ns;
  }
  if (!o.broker_order_id.empty() && t.schwab_id.empty())
    learn_id(self, t, o.broker_order_id);
  auto id = o.id;
  auto deliver_from = [self, id, rp](const order_info& info) mutable {
    auto& s = self->state;
    auto& known = s.orders[id];
    if (info.status == ost::unknown)
      return answer(rp, make_error(gw_errc::session_unavailable,
                                   "Schwab: order status " + info.schwab_status + " is not known"));
    if (known.schwab_id.empty())
      learn_id(self, known, info.order_id);
    auto u = update_of(known, info);
    if (info.filled_quantity >= known.reported_filled) {
      known.reported = u.status;
      known.reported_filled = u.filled_quantity;
    }
    if (!engine::is_terminal(u.status))
      arm_timer(self, timer::poll, s.cfg.poll);
    rp.deliver(std::move(u));
  };
  if (!t.schwab_id.empty()) {
    rest_call_in(self, lane::query, rest_get(accounts_path(st) + "/orders/" + t.schwab_id),
                 [rp, deliver_from](net::https_result r) mutable {
                   if (r && r->status == 404)
                     return answer(rp, make_error(gw_errc::not_found_at_broker,
                                                  "Schwab does not know this order"));
                   auto info = r && r->status == 200 ? parse_order(r->body)
                                                     : std::expected<order_info, error>{};
                   if (!r || r->status != 200 || !info)
                     return answer(rp, make_error(gw_errc::session_unavailable,
                                                  "Schwab: order lookup failed: " +
                                                      failure_text(r)));
                   deliver_from(*info);
                 });
    return;
  }
  rest_call_in(self, lane::query, orders_since(st, o.created_ns),
               [self, id, rp, deliver_from](net::https_result r) mutable {
                 auto& s = self->state;
                 auto list = r && r->status == 200 ? parse_orders(r->body)
                                                   : std::expected<std::vector<order_info>, error>{};
                 if (!r || r->status != 200 || !list)
                   return answer(rp, make_error(gw_errc::session_unavailable,
                                                "Schwab: orders unavailable: " + failure_text(r)));
                 auto& known = s.orders[id];
                 std::vector<order_info> candidates;
                 for (auto& c : match_created(known.order, *list, known.sent_ns - skew_ns))
                   if (!s.by_schwab_id.contains(c.order_id))
                     candidates.push_back(std::move(c));
                 if (candidates.size() != 1)
                   return answer(rp, make_error(gw_errc::not_found_at_broker,
                                                candidates.empty()
                                                    ? "Schwab lists no such order"
                                                    : "Schwab lists several orders like this one"));
                 deliver_from(candidates[0]);
               });
}

/// Polls the orders of the session that are not final: one list call, then each one missing
/// from the list by itself.
void poll(self_ptr self) {
  auto& st = self->state;
  if (st.polling || st.closing || st.ph != phase::ready)
    return;
  std::optional<std::int64_t> oldest;
  for (const auto& [id, t] : st.orders)
    if (!t.schwab_id.empty() && !engine::is_terminal(t.reported))
      oldest = std::min(oldest.value_or(t.sent_ns), t.sent_ns);
  if (!oldest)
    return;
  st.polling = true;
  rest_call_in(self, lane::query, orders_since(st, *oldest), [self](net::https_result r) {
    auto& s = self->state;
    s.polling = false;
    if (s.closing)
      return;
    std::set<std::string> seen;
    if (r && r->status == 200) {
      if (auto list = parse_orders(r->body)) {
        for (const auto& info : *list) {
          seen.insert(info.order_id);
          if (auto it = s.by_schwab_id.find(info.order_id); it != s.by_schwab_id.end())
            if (auto t = s.orders.find(it->second); t != s.orders.end())
              observe(self, t->second, info, persistence::event_source::broker);
        }
      }
    }
    bool working = false;
    for (const auto& [id, t] : s.orders)
      if (!t.schwab_id.empty() && !engine::is_terminal(t.reported)) {
        working = true;
        if (r && r->status == 200 && !seen.contains(t.schwab_id))
          refresh_order(self, t.schwab_id);
      }
    if (working)
      arm_timer(self, timer::poll, s.cfg.poll);
  });
}

// -- start -------------------------------------------------------------------------------------

void fetch_account(self_ptr self,
                   std::function<void(std::expected<std::string, caf::error>)> k) {
  auto& st = self->state;
  rest_call_in(self, lane::query, rest_get(accounts_path(st) + "?fields=positions"),
               [k](net::https_result r) {
                 if (r && r->status == 200)
                   return k(r->body);
                 k(std::unexpected(make_error(gw_errc::session_unavailable,
                                              "Schwab: account unavailable: " + failure_text(r))));
               });
}

/// Reads the balance (with a usable token) and answers `rp`.
void answer_balance(self_ptr self, caf::typed_response_promise<engine::balance> rp) {
  with_token(self, [self, rp]() mutable {
    fetch_account(self, [rp](std::expected<std::string, caf::error> body) mutable {
      if (!body)
        return answer(rp, body.error());
      auto b = parse_account(*body);
      if (!b)
        return answer(rp, make_error(gw_errc::session_unavailable,
                                     "Schwab: unreadable account: " + b.error().message));
      rp.deliver(*b);
    });
  });
}

void become_ready(self_ptr self, engine::balance b) {
  auto& st = self->state;
  st.ph = phase::ready;
  disarm_timer(self, timer::startup);
  st.api.out.mailbox->resume();
  pump(self, st.api.out);
  st.warned = refresh_warning_at(*st.tokens, now_ns());
  report_session_state(self, connection_state::ready,
                       describe_refresh_warning(*st.tokens, now_ns()));
  log::info(component, "connection " + st.spec.id + " ready");
  for (auto& w : st.connect_waiters)
    w.deliver(b);
  st.connect_waiters.clear();
  check_login(self);
}

void start(self_ptr self) {
  auto& st = self->state;
  auto stored = st.env.reader->get(token_key(st.spec.id));
  if (!stored)
    return fail(self, "cannot read the Schwab tokens: " + stored.error().message);
  if (!*stored)
    return auth_failed(self, "no Schwab login for this connection: sign in through the OAuth flow");
  auto tokens = open_tokens(**stored, *st.env.vault, st.spec.user, st.spec.id);
  if (!tokens)
    return auth_failed(self, tokens.error().message);
  st.tokens = *tokens;
  if (refresh_expired(*st.tokens, now_ns()))
    return auth_failed(self, describe_refresh_warning(*st.tokens, now_ns()));
  with_token(self, [self] {
    rest_call_in(self, lane::query, rest_get("/trader/v1/accounts/accountNumbers"),
                 [self](net::https_result r) {
                   auto& s = self->state;
                   if (s.closing)
                     return;
                   auto linked = r && r->status == 200
                                     ? parse_account_numbers(r->body)
                                     : std::expected<std::vector<linked_account>, error>{};
                   if (!r || r->status != 200 || !linked)
                     return fail(self, "account numbers unavailable: " +
                                           (r && r->status == 200 ? linked.error().message
                                                                  : failure_text(r)));
                   for (const auto& a : *linked)
                     if (s.cfg.account.empty() || a.account_number == s.cfg.account) {
                       s.account_hash = a.hash_value;
                       break;
                     }
                   if (s.account_hash.empty())
                     return auth_failed(self, s.cfg.account.empty()
                                                  ? "the Schwab login has no linked account"
                                                  : "account " + s.cfg.account +
                                                        " is not linked to this Schwab login");
                   fetch_account(self, [self](std::expected<std::string, caf::error> body) {
                     if (self->state.closing)
                       return;
                     if (!body)
                       return fail(self, describe(body.error()).message);
                     auto b = parse_account(*body);
                     if (!b)
                       return fail(self, "unreadable account: " + b.error().message);
                     become_ready(self, *b);
                   });
                 });
  });
}

} // namespace

std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings) {
  config cfg;
  std::string base;
  std::set<std::string> seen;
  for (const auto& [key, value] : settings) {
    if (!seen.insert(key).second)
      return std::unexpected("schwab setting " + key + " appears twice");
    if (key == "app_key" || key == "app_secret") {
      if (value.empty() || value.size() > 256)
        return std::unexpected("schwab setting " + key + " must be 1 to 256 characters");
      (key == "app_key" ? cfg.app_key : cfg.app_secret) = secret{value};
    } else if (key == "redirect_uri") {
      if (!value.starts_with("https://") || value.size() > 2048)
        return std::unexpected(std::string{"schwab setting redirect_uri must be an https URL"});
      cfg.redirect_uri = value;
    } else if (key == "base_url") {
      base = value;
    } else if (key == "ca_file") {
      if (value.empty() || value.size() > 4096)
        return std::unexpected(std::string{"schwab setting ca_file must be a file path"});
      cfg.ca_file = value;
    } else if (key == "account") {
      if (value.empty() || value.size() > 32 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::unexpected(std::string{"schwab setting account must be an account number"});
      cfg.account = value;
    } else if (key == "requests_per_minute") {
      auto n = parse_int_setting("schwab", key, value, 1, 120);
      if (!n)
        return std::unexpected(n.error());
      cfg.requests_per_minute = static_cast<std::uint32_t>(*n);
    } else if (key == "request_timeout_ms" || key == "connect_timeout_ms") {
      auto n = parse_int_setting("schwab", key, value, 100, 600'000);
      if (!n)
        return std::unexpected(n.error());
      (key == "request_timeout_ms" ? cfg.request_timeout : cfg.connect_timeout) =
          std::chrono::milliseconds{*n};
    } else if (key == "poll_ms") {
      auto n = parse_int_setting("schwab", key, value, 250, 600'000);
      if (!n)
        return std::unexpected(n.error());
      cfg.poll = std::chrono::milliseconds{*n};
    } else {
      return std::unexpected("unknown schwab setting '" + key + "'");
    }
  }
  if (cfg.app_key.empty() || cfg.app_secret.empty())
    return std::unexpected(std::string{"schwab settings app_key and app_secret are required"});
  auto api = alpaca::parse_url(base.empty() ? "https://api.schwabapi.com" : base, false);
  if (!api)
    return std::unexpected("schwab setting base_url: " + api.error());
  if (api->path != "/")
    return std::unexpected(std::string{"schwab setting base_url must be an origin without a path"});
  cfg.api = *api;
  return cfg;
}

broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink, environment env) {
  auto impl = [](self_ptr self, connection_spec s, caf::actor sup, caf::actor snk,
                 environment e) -> schwab_session_actor::behavior_type {
    auto& init = self->state;
    init.spec = std::move(s);
    init.supervisor = std::move(sup);
    init.sink = std::move(snk);
    init.env = std::move(e);
    auto cfg = parse_config(init.spec.settings);
    std::string setup_error;
    if (!cfg)
      setup_error = cfg.error();
    else if (!init.env.io || !init.env.reader || !init.env.vault)
      setup_error = "Schwab sessions need the socket thread, the registry and the vault";
    if (cfg)
      init.cfg = std::move(*cfg);
    auto now = self->clock().now();
    auto rpm = std::max<std::uint32_t>(init.cfg.requests_per_minute, 1);
    init.api.out.batch = 1;
    init.api.out.mailbox.emplace(
        engine::token_bucket::per_period(rpm, std::chrono::minutes{1},
                                         std::max<std::uint32_t>(1, rpm / 20), now),
        engine::sliding_window{rpm, std::chrono::minutes{1} + window_guard});
    measure(init.api, metrics_of(init.spec));
    init.api.who = "connection " + init.spec.id;
    init.api.component = component;
    init.api.request_timeout = init.cfg.request_timeout;
    init.api.decorate = [self](net::https_request& r) {
      auto& st = self->state;
      bool has_auth = std::any_of(r.headers.begin(), r.headers.end(),
                                  [](const auto& h) { return h.name == "Authorization"; });
      if (!has_auth && st.tokens)
        r.headers.push_back({"Authorization", "Bearer " + st.tokens->access_token.reveal(), true});
    };
    init.api.on_unauthorized = [self](std::uint64_t token) { return on_unauthorized(self, token); };
    init.api.on_unreachable = [self](const std::string& why) {
      fail(self, "cannot reach Schwab: " + why);
    };
    if (setup_error.empty()) {
      net::https_options opts;
      opts.endpoint.host = init.cfg.api.host;
      opts.endpoint.port = init.cfg.api.port;
      opts.endpoint.ca_file = init.cfg.ca_file;
      opts.endpoint.connect_timeout = init.cfg.connect_timeout;
      opts.max_queued = 256;
      auto client = net::https_client::create(*init.env.io, std::move(opts));
      if (!client)
        setup_error = client.error();
      else
        init.api.client = init.client_box = std::move(*client);
    }
    install_session_exception_handler(self, component, "Schwab");
    self->attach_functor([client = init.client_box](const caf::error&) {
      if (client)
        client->close();
    });
    if (!setup_error.empty()) {
      report_session_state(self, connection_state::auth_required, setup_error);
      init.closing = true;
      self->quit(make_error(gw_errc::session_unavailable, "Schwab: " + setup_error));
    } else {
      init.api.out.mailbox->resume(lane::query);
      init.api.out.mailbox->resume(lane::cancel);
      arm_timer(self, timer::startup, init.cfg.connect_timeout);
      start(self);
    }
    return {
        [self](connect_atom) -> caf::result<engine::balance> {
          auto rp = self->make_response_promise<engine::balance>();
          auto& st = self->state;
          if (st.ph != phase::ready) {
            st.connect_waiters.push_back(rp);
            return rp;
          }
          answer_balance(self, rp);
          return rp;
        },
        [self](balance_atom) -> caf::result<engine::balance> {
          auto rp = self->make_response_promise<engine::balance>();
          answer_balance(self, rp);
          return rp;
        },
        [self](positions_atom) -> caf::result<engine::position_list> {
          auto rp = self->make_response_promise<engine::position_list>();
          with_token(self, [self, rp]() mutable {
            fetch_account(self, [rp](std::expected<std::string, caf::error> body) mutable {
              if (!body)
                return answer(rp, body.error());
              auto p = parse_positions(*body);
              if (!p)
                return answer(rp, make_error(gw_errc::session_unavailable,
                                             "Schwab: unreadable positions: " + p.error().message));
              rp.deliver(std::move(*p));
            });
          });
          return rp;
        },
        [self](place_atom, engine::order& o) -> caf::result<order_ack> {
          auto rp = self->make_response_promise<order_ack>();
          with_token(self, [self, o, rp]() mutable { place(self, std::move(o), rp); });
          return rp;
        },
        [self](cancel_atom, engine::order& o) -> caf::result<order_ack> {
          auto rp = self->make_response_promise<order_ack>();
          with_token(self, [self, o, rp]() mutable { cancel(self, o, rp); });
          return rp;
        },
        [self](status_atom, engine::order& o) -> caf::result<order_update> {
          auto rp = self->make_response_promise<order_update>();
          with_token(self, [self, o, rp]() mutable { status(self, o, rp); });
          return rp;
        },
        [self](http_atom, std::uint64_t token, net::https_result& r) {
          rest_on_http(self, token, std::move(r));
        },
        [self](drain_atom, std::uint64_t epoch) { on_drain(self, self->state.api.out, epoch); },
        [self](tick_atom, std::uint64_t id) { rest_on_tick(self, id); },
        [self](timeout_atom, std::uint64_t kind, std::uint64_t epoch) {
          auto& st = self->state;
          if (kind >= st.timer_epochs.size() || st.timer_epochs[kind] != epoch || st.closing)
            return;
          switch (static_cast<timer>(kind)) {
            case timer::startup:
              return fail(self, "Schwab did not answer the token, account and balance calls within " +
                                    std::to_string(st.cfg.connect_timeout.count()) + " ms");
            case timer::poll:
              return with_token(self, [self] { poll(self); });
            case timer::login:
              return check_login(self);
            case timer::count:
              return;
          }
        },
    };
  };
  return parent->spawn(impl, spec, std::move(supervisor), std::move(sink), std::move(env));
}

} // namespace brokerd::actors::schwab
