#include "actors/brokers/paper/session.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rocksdb/db.h>

#include "tests/unit/actors/support/fixtures.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using namespace brokerd::actors::test_support;
using namespace std::chrono_literals;
using engine::order_status;
using engine::order_type;
using engine::side;
using engine::time_in_force;

namespace {

using settings_list = std::vector<std::pair<std::string, std::string>>;

/// What the session's sink and supervisor received, and the replies the test's requests got.
struct recorded {
  std::vector<order_update> updates;
  std::vector<std::pair<connection_state, std::string>> states;
  /// Labels of answered requests, in the order the answers arrived.
  std::vector<std::string> answers;
  /// Virtual time of each answer, parallel to `answers`.
  std::vector<caf::actor_clock::time_point> answered_at;
};

caf::behavior sink_probe(caf::event_based_actor*, std::shared_ptr<recorded> out) {
  return {
      [out](update_atom, const std::string&, const order_update& u) { out->updates.push_back(u); },
  };
}

caf::behavior supervisor_probe(caf::event_based_actor*, std::shared_ptr<recorded> out) {
  return {
      [out](state_atom, connection_state s, const std::string& reason) {
        out->states.emplace_back(s, reason);
      },
  };
}

/// Spawns the session as its child, watches it and keeps its exit reason.
struct parent_slot {
  broker_session_actor session;
  std::optional<caf::error> exit_reason;
};

caf::behavior session_parent(caf::event_based_actor* self, std::shared_ptr<parent_slot> slot,
                             connection_spec spec, caf::actor supervisor, caf::actor sink,
                             std::shared_ptr<paper::book> store) {
  slot->session =
      paper::spawn_session(self, spec, std::move(supervisor), std::move(sink), std::move(store));
  self->monitor(slot->session);
  self->set_down_handler([slot](caf::down_msg& dm) { slot->exit_reason = dm.reason; });
  return {[](stop_atom) {}};
}

template <class T> using reply_slot = std::shared_ptr<std::optional<std::expected<T, caf::error>>>;

/// A paper session on the deterministic scheduler: the virtual clock moves only when the test
/// advances it, so ticks and rate limits are exact.
struct paper_rig {
  paper_rig() {
    configure_deterministic(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    sink = sys->spawn(sink_probe, seen);
    supervisor = sys->spawn(supervisor_probe, seen);
  }

  ~paper_rig() {
    stop_session();
    caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    sched->run();
    // Requests still waiting for an answer give up now, so that every actor has ended.
    sched->trigger_timeouts();
    sched->run();
    sink = nullptr;
    supervisor = nullptr;
    sys.reset();
  }

  /// Starts a session of connection "paper-1" with `settings` on the rig's book.
  void start(settings_list settings) {
    connection_spec spec;
    spec.id = "paper-1";
    spec.user = "alice";
    spec.broker = engine::broker_id::paper;
    spec.settings = std::move(settings);
    slot = std::make_shared<parent_slot>();
    parent = sys->spawn(session_parent, slot, spec, supervisor, sink, book);
    sched->run();
    session = slot->session;
  }

  void stop_session() {
    if (session)
      caf::anon_send_exit(session, caf::exit_reason::user_shutdown);
    if (parent)
      caf::anon_send_exit(parent, caf::exit_reason::user_shutdown);
    sched->run();
    session = nullptr;
    parent = nullptr;
  }

  /// Sends a request from a helper actor; the reply lands in the slot (and its label in
  /// `seen->answers`) once the scheduler ran.
  template <class T, class... Ts> reply_slot<T> ask(std::string label, Ts... xs) {
    auto out = std::make_shared<std::optional<std::expected<T, caf::error>>>();
    auto dest = session;
    auto rec = seen;
    sys->spawn([out, dest, rec, label, xs...](caf::event_based_actor* self) {
      auto done = [rec, label, self] {
        rec->answers.push_back(label);
        rec->answered_at.push_back(self->clock().now());
      };
      self->request(dest, std::chrono::seconds{600}, xs...)
          .then(
              [out, done](T& x) {
                *out = std::move(x);
                done();
              },
              [out, done](caf::error& err) {
                *out = std::unexpected(std::move(err));
                done();
              });
    });
    sched->run();
    return out;
  }

  reply_slot<order_ack> place(const engine::order& o) {
    return ask<order_ack>("place " + o.client_order_id, place_atom_v, o);
  }

  /// Places `o` and requires the session to accept it at once.
  order_ack place_ok(const engine::order& o) {
    auto r = place(o);
    REQUIRE(r->has_value());
    REQUIRE((*r)->has_value());
    return ***r;
  }

  engine::balance balance() {
    auto r = ask<engine::balance>("balance", balance_atom_v);
    REQUIRE(r->has_value());
    REQUIRE((*r)->has_value());
    return ***r;
  }

  engine::position_list positions() {
    auto r = ask<engine::position_list>("positions", positions_atom_v);
    REQUIRE(r->has_value());
    REQUIRE((*r)->has_value());
    return ***r;
  }

  /// The order as the book holds it now.
  paper::book_order booked(const std::string& client_order_id) {
    auto found = book->find("paper-1", client_order_id);
    REQUIRE(found.has_value());
    REQUIRE(found->has_value());
    return **found;
  }

  /// Advances the virtual clock by `n` price ticks of `tick`, one at a time.
  void ticks(int n, std::chrono::milliseconds tick) {
    for (int i = 0; i < n; ++i) {
      sched->advance_time(tick);
      sched->run();
    }
  }

  /// The updates the sink received for one client order id.
  std::vector<order_update> updates_of(const std::string& client_order_id) const {
    std::vector<order_update> out;
    for (const auto& u : seen->updates)
      if (u.client_order_id == client_order_id)
        out.push_back(u);
    return out;
  }

  temp_dir dir;
  std::shared_ptr<paper::book> book = open_book(dir.sub("book"));
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<recorded> seen = std::make_shared<recorded>();
  caf::actor sink;
  caf::actor supervisor;
  caf::actor parent;
  std::shared_ptr<parent_slot> slot;
  broker_session_actor session;
};

constexpr auto tick = 100ms;

engine::order new_order(const std::string& cid, const std::string& symbol, side s,
                        std::string_view qty, order_type type = order_type::market,
                        time_in_force tif = time_in_force::day) {
  engine::order o;
  o.id = "ord-" + cid;
  o.client_order_id = cid;
  o.user = "alice";
  o.connection = "paper-1";
  o.symbol = symbol;
  o.order_side = s;
  o.quantity = dec(qty);
  o.type = type;
  o.tif = tif;
  o.status = order_status::pending_new;
  return o;
}

engine::order limit_order(const std::string& cid, const std::string& symbol, side s,
                          std::string_view qty, std::string_view limit_price,
                          time_in_force tif = time_in_force::day) {
  auto o = new_order(cid, symbol, s, qty, order_type::limit, tif);
  o.limit_price = dec(limit_price);
  return o;
}

/// Settings with a known cash, fill chunk and price paths; ticks every 100 ms.
settings_list base_settings(std::string prices, std::string fill_chunk = "100") {
  return {{"tick_ms", "100"},
          {"cash", "10000"},
          {"fill_chunk", std::move(fill_chunk)},
          {"prices", std::move(prices)}};
}

std::optional<engine::position> position_of(const engine::position_list& list,
                                            const std::string& symbol) {
  for (const auto& p : list)
    if (p.symbol == symbol)
      return p;
  return std::nullopt;
}

} // namespace

TEST_CASE_METHOD(paper_rig,
                 "a sell from flat opens a short, adding to it averages the cost, a cover keeps "
                 "it and a larger buy flips to long at the fill price",
                 "[paper_session]") {
  start(base_settings("XYZ=100,110,90,95"));

  // tick 0, price 100: sell 5 from flat.
  REQUIRE(place_ok(new_order("s1", "XYZ", side::sell, "5")).status == order_status::new_);
  CHECK(booked("s1").status == order_status::filled);
  auto p = position_of(positions(), "XYZ");
  REQUIRE(p);
  CHECK(p->quantity == dec("-5"));
  CHECK(p->avg_cost == dec("100"));
  CHECK(balance().cash == dec("10500"));

  // tick 1, price 110: sell 5 more; the short's cost is the average of both sales.
  ticks(1, tick);
  place_ok(new_order("s2", "XYZ", side::sell, "5"));
  p = position_of(positions(), "XYZ");
  REQUIRE(p);
  CHECK(p->quantity == dec("-10"));
  CHECK(p->avg_cost == dec("105"));
  CHECK(p->market_value == dec("-1100"));

  // tick 2, price 90: covering part of the short keeps its average cost.
  ticks(1, tick);
  place_ok(new_order("b1", "XYZ", side::buy, "4"));
  p = position_of(positions(), "XYZ");
  REQUIRE(p);
  CHECK(p->quantity == dec("-6"));
  CHECK(p->avg_cost == dec("105"));
  CHECK(balance().cash == dec("10690"));

  // tick 3, price 95: buying more than the short flips the position to long at 95.
  ticks(1, tick);
  place_ok(new_order("b2", "XYZ", side::buy, "10"));
  p = position_of(positions(), "XYZ");
  REQUIRE(p);
  CHECK(p->quantity == dec("4"));
  CHECK(p->avg_cost == dec("95"));
  CHECK(p->market_value == dec("380"));
  auto b = balance();
  CHECK(b.cash == dec("9740"));
  CHECK(b.equity == dec("10120"));
  CHECK(b.buying_power == dec("9740"));

  // tick 4 wraps to price 100: selling the rest closes the position; it is no longer listed.
  ticks(1, tick);
  place_ok(new_order("s3", "XYZ", side::sell, "4"));
  CHECK_FALSE(position_of(positions(), "XYZ"));
  b = balance();
  CHECK(b.cash == dec("10140"));
  CHECK(b.equity == dec("10140"));
}

TEST_CASE_METHOD(paper_rig, "buys at two prices average the cost and a partial sell keeps it",
                 "[paper_session]") {
  start(base_settings("AVG=100,110"));
  place_ok(new_order("b1", "AVG", side::buy, "10"));
  ticks(1, tick);
  place_ok(new_order("b2", "AVG", side::buy, "30"));
  auto p = position_of(positions(), "AVG");
  REQUIRE(p);
  CHECK(p->quantity == dec("40"));
  CHECK(p->avg_cost == dec("107.5"));
  ticks(1, tick); // price 100
  place_ok(new_order("s1", "AVG", side::sell, "15"));
  p = position_of(positions(), "AVG");
  REQUIRE(p);
  CHECK(p->quantity == dec("25"));
  CHECK(p->avg_cost == dec("107.5"));
  CHECK(p->market_value == dec("2500"));
  // 10000 - 1000 - 3300 + 1500
  CHECK(balance().cash == dec("7200"));
}

TEST_CASE_METHOD(paper_rig,
                 "a stop_limit buy triggers when the price crosses its stop and then fills only "
                 "at or below its limit, even after the price fell back below the stop",
                 "[paper_session]") {
  start(base_settings("SL=100,106,104,102"));
  auto o = new_order("sl", "SL", side::buy, "5", order_type::stop_limit);
  o.stop_price = dec("105");
  o.limit_price = dec("103");
  place_ok(o);

  // Price 100: below the stop, nothing happens.
  CHECK(booked("sl").status == order_status::new_);
  CHECK_FALSE(booked("sl").triggered);

  // Price 106: the stop is crossed, but 106 is above the limit: triggered, unfilled, and the
  // trigger is durable.
  ticks(1, tick);
  auto after_trigger = booked("sl");
  CHECK(after_trigger.triggered);
  CHECK(after_trigger.status == order_status::new_);
  CHECK(after_trigger.filled_quantity.is_zero());

  // Price 104: still above the limit.
  ticks(1, tick);
  CHECK(booked("sl").filled_quantity.is_zero());

  // Price 102: marketable at the limit; it fills at the market price, not the limit.
  ticks(1, tick);
  auto filled = booked("sl");
  CHECK(filled.status == order_status::filled);
  CHECK(filled.avg_fill_price == dec("102"));
  auto ups = updates_of("sl");
  REQUIRE_FALSE(ups.empty());
  CHECK(ups.back().status == order_status::filled);
  REQUIRE(ups.back().last_price);
  CHECK(*ups.back().last_price == dec("102"));
  CHECK(ups.back().order_id == "ord-sl");
  CHECK(balance().cash == dec("9490"));
}

TEST_CASE_METHOD(paper_rig,
                 "a sell stop triggers when the price falls to its stop and fills at market",
                 "[paper_session]") {
  start(base_settings("SS=100,96,94"));
  place_ok(new_order("own", "SS", side::buy, "3"));
  auto o = new_order("ss", "SS", side::sell, "3", order_type::stop);
  o.stop_price = dec("95");
  place_ok(o);
  ticks(1, tick); // 96: above the stop
  CHECK(booked("ss").status == order_status::new_);
  ticks(1, tick); // 94: crossed
  auto b = booked("ss");
  CHECK(b.status == order_status::filled);
  CHECK(b.avg_fill_price == dec("94"));
  CHECK_FALSE(position_of(positions(), "SS"));
  CHECK(balance().cash == dec("9982")); // 10000 - 300 + 282
}

TEST_CASE_METHOD(paper_rig,
                 "an ioc order fills one chunk at once and its remainder is canceled, not left "
                 "working",
                 "[paper_session]") {
  start(base_settings("IOC=50", "10"));
  place_ok(new_order("ioc", "IOC", side::buy, "25", order_type::market, time_in_force::ioc));

  auto b = booked("ioc");
  CHECK(b.status == order_status::canceled);
  CHECK(b.filled_quantity == dec("10"));
  CHECK(b.avg_fill_price == dec("50"));
  auto ups = updates_of("ioc");
  REQUIRE(ups.size() == 2);
  CHECK(ups[0].status == order_status::partially_filled);
  REQUIRE(ups[0].last_quantity);
  CHECK(*ups[0].last_quantity == dec("10"));
  CHECK(ups[0].exec_id == b.broker_order_id + "-1");
  CHECK(ups[1].status == order_status::canceled);
  CHECK(ups[1].filled_quantity == dec("10"));
  CHECK_FALSE(ups[1].last_quantity);

  // Later ticks fill nothing more.
  ticks(3, tick);
  CHECK(booked("ioc").filled_quantity == dec("10"));
  auto p = position_of(positions(), "IOC");
  REQUIRE(p);
  CHECK(p->quantity == dec("10"));
  CHECK(balance().cash == dec("9500"));
  // A canceled ioc cannot be canceled again.
  auto again = ask<order_ack>("cancel", cancel_atom_v, new_order("ioc", "IOC", side::buy, "25"));
  REQUIRE(again->has_value());
  REQUIRE_FALSE((*again)->has_value());
  CHECK(code_of((*again)->error()) == errc::order_not_cancelable);
}

TEST_CASE_METHOD(paper_rig, "an ioc limit order that is not marketable is canceled unfilled",
                 "[paper_session]") {
  start(base_settings("IOC=50"));
  place_ok(limit_order("ioc", "IOC", side::buy, "5", "49", time_in_force::ioc));
  auto b = booked("ioc");
  CHECK(b.status == order_status::canceled);
  CHECK(b.filled_quantity.is_zero());
  CHECK(b.reason == "ioc order not marketable");
  CHECK(balance().cash == dec("10000"));
}

TEST_CASE_METHOD(paper_rig, "a fok order fills entirely at once or is canceled without any fill",
                 "[paper_session]") {
  start(base_settings("FOK=50", "10"));

  SECTION("not marketable") {
    place_ok(limit_order("fok", "FOK", side::buy, "5", "45", time_in_force::fok));
    auto b = booked("fok");
    CHECK(b.status == order_status::canceled);
    CHECK(b.filled_quantity.is_zero());
    CHECK(b.reason == "fok order could not fill entirely at once");
    CHECK(positions().empty());
    CHECK(balance().cash == dec("10000"));
  }
  SECTION("marketable and within one fill") {
    place_ok(limit_order("fok", "FOK", side::sell, "10", "49", time_in_force::fok));
    auto b = booked("fok");
    CHECK(b.status == order_status::filled);
    CHECK(b.filled_quantity == dec("10"));
    CHECK(b.avg_fill_price == dec("50"));
    CHECK(balance().cash == dec("10500"));
  }
  SECTION("larger than one fill") {
    place_ok(new_order("fok", "FOK", side::buy, "11", order_type::market, time_in_force::fok));
    auto b = booked("fok");
    CHECK(b.status == order_status::canceled);
    CHECK(b.filled_quantity.is_zero());
    CHECK(positions().empty());
  }
}

TEST_CASE_METHOD(paper_rig,
                 "a market order on a symbol without a price path fills at the default price",
                 "[paper_session]") {
  auto settings = base_settings("AAPL=187.25");
  settings.emplace_back("default_price", "42.5");
  start(settings);
  place_ok(new_order("m", "UNKN", side::buy, "2"));
  auto b = booked("m");
  CHECK(b.status == order_status::filled);
  CHECK(b.avg_fill_price == dec("42.5"));
  CHECK(balance().cash == dec("9915"));
  auto p = position_of(positions(), "UNKN");
  REQUIRE(p);
  CHECK(p->market_value == dec("85"));
}

TEST_CASE_METHOD(paper_rig,
                 "buys are checked against the cash at the limit, the stop or the market price",
                 "[paper_session]") {
  start(base_settings("CASH=100"));
  SECTION("market") {
    auto ack = place_ok(new_order("m", "CASH", side::buy, "101"));
    CHECK(ack.status == order_status::rejected);
    CHECK(ack.reason == "insufficient buying power: needs 10100, cash 10000");
  }
  SECTION("stop, at its stop price") {
    auto o = new_order("s", "CASH", side::buy, "90", order_type::stop);
    o.stop_price = dec("112");
    auto ack = place_ok(o);
    CHECK(ack.status == order_status::rejected);
    CHECK(ack.reason == "insufficient buying power: needs 10080, cash 10000");
  }
  SECTION("limit, at its limit price, and a rejected order is never worked") {
    auto ack = place_ok(limit_order("l", "CASH", side::buy, "200", "50.01"));
    CHECK(ack.status == order_status::rejected);
    CHECK(booked("l").status == order_status::rejected);
    ticks(2, tick);
    CHECK(booked("l").filled_quantity.is_zero());
  }
  // A sell needs no cash (short sales are allowed).
  CHECK(place_ok(new_order("sell", "CASH", side::sell, "50")).status == order_status::new_);
  CHECK(booked("sell").status == order_status::filled);
  CHECK(balance().cash > dec("10000"));
}

TEST_CASE_METHOD(paper_rig,
                 "a client order id placed twice is booked and filled once and counted twice",
                 "[paper_session]") {
  start(base_settings("DUP=20"));
  auto first = place_ok(new_order("dup", "DUP", side::buy, "5"));
  auto second = place_ok(new_order("dup", "DUP", side::buy, "5"));
  CHECK(second.broker_order_id == first.broker_order_id);
  CHECK(second.status == order_status::filled);
  auto b = booked("dup");
  CHECK(b.submissions == 2);
  CHECK(b.executions == 1);
  CHECK(balance().cash == dec("9900"));
  // The next order gets the next broker id.
  CHECK(place_ok(new_order("next", "DUP", side::buy, "1")).broker_order_id == "P2");
}

TEST_CASE_METHOD(paper_rig, "a working order counted twice keeps working and is canceled once",
                 "[paper_session]") {
  start(base_settings("W=20"));
  place_ok(limit_order("w", "W", side::buy, "5", "10"));
  place_ok(limit_order("w", "W", side::buy, "5", "10"));
  CHECK(booked("w").submissions == 2);

  auto canceled =
      ask<order_ack>("cancel", cancel_atom_v, limit_order("w", "W", side::buy, "5", "10"));
  REQUIRE(canceled->has_value());
  REQUIRE((*canceled)->has_value());
  CHECK((**canceled)->status == order_status::canceled);
  CHECK((**canceled)->reason == "canceled by request");
  CHECK(booked("w").status == order_status::canceled);
  CHECK(booked("w").submissions == 2);
  CHECK(updates_of("w").back().status == order_status::canceled);

  auto twice = ask<order_ack>("cancel", cancel_atom_v, limit_order("w", "W", side::buy, "5", "10"));
  REQUIRE(twice->has_value());
  REQUIRE_FALSE((*twice)->has_value());
  CHECK(code_of((*twice)->error()) == errc::order_not_cancelable);
  CHECK(message_of((*twice)->error()) == "order is canceled");
}

TEST_CASE_METHOD(paper_rig, "status and cancel of an order the broker never saw say so",
                 "[paper_session]") {
  start(base_settings("Q=20"));
  auto ghost = new_order("ghost", "Q", side::buy, "1");
  auto st = ask<order_update>("status", status_atom_v, ghost);
  REQUIRE(st->has_value());
  REQUIRE_FALSE((*st)->has_value());
  CHECK(code_of((*st)->error()) == errc::not_found_at_broker);
  auto cx = ask<order_ack>("cancel", cancel_atom_v, ghost);
  REQUIRE(cx->has_value());
  REQUIRE_FALSE((*cx)->has_value());
  CHECK(code_of((*cx)->error()) == errc::not_found_at_broker);

  place_ok(new_order("real", "Q", side::buy, "2"));
  auto known = ask<order_update>("status", status_atom_v, new_order("real", "Q", side::buy, "2"));
  REQUIRE(known->has_value());
  REQUIRE((*known)->has_value());
  CHECK((**known)->status == order_status::filled);
  CHECK((**known)->filled_quantity == dec("2"));
  CHECK((**known)->broker_order_id == "P1");
  CHECK((**known)->order_id == "ord-real");

  // The connection test answers with the balance.
  auto conn = ask<engine::balance>("connect", connect_atom_v);
  REQUIRE(conn->has_value());
  REQUIRE((*conn)->has_value());
  CHECK((**conn)->cash == dec("9960"));
}

TEST_CASE_METHOD(paper_rig,
                 "a restarted session finds its working orders and account in the book and "
                 "resumes matching them",
                 "[paper_session]") {
  auto settings = base_settings("R=100,100,100,94");
  start(settings);
  REQUIRE(seen->states.size() == 2);
  CHECK(seen->states[1].first == connection_state::ready);
  place_ok(new_order("filled", "R", side::buy, "10"));
  CHECK(place_ok(limit_order("resting", "R", side::buy, "5", "95")).broker_order_id == "P2");
  ticks(1, tick);
  CHECK(booked("resting").status == order_status::new_);

  stop_session();
  seen->updates.clear();
  start(settings);
  // The account survived: the cash of the first fill is gone, not reset to the initial cash.
  CHECK(balance().cash == dec("9000"));
  ticks(2, tick); // prices 100, 100
  CHECK(booked("resting").status == order_status::new_);
  ticks(1, tick); // price 94: the order from before the restart fills
  auto b = booked("resting");
  CHECK(b.status == order_status::filled);
  CHECK(b.avg_fill_price == dec("94"));
  auto ups = updates_of("resting");
  REQUIRE(ups.size() == 1);
  CHECK(ups[0].order_id == "ord-resting");
  CHECK(ups[0].broker_order_id == "P2");
  CHECK(balance().cash == dec("8530"));
  auto p = position_of(positions(), "R");
  REQUIRE(p);
  CHECK(p->quantity == dec("15"));
  // Broker order ids continue after the restart; none is handed out twice.
  CHECK(place_ok(new_order("after", "R", side::sell, "1")).broker_order_id == "P3");
}

TEST_CASE_METHOD(paper_rig,
                 "with rate 2/s and burst 1 queued requests are answered cancels first, then new "
                 "orders, then queries, no faster than the rate",
                 "[paper_session]") {
  auto settings = base_settings("RL=100");
  settings.emplace_back("rate_per_s", "2");
  settings.emplace_back("burst", "1");
  start(settings);

  auto a = place(limit_order("a", "RL", side::buy, "1", "90"));
  REQUIRE(a->has_value()); // the burst token
  auto pos = ask<engine::position_list>("positions", positions_atom_v);
  auto b = place(new_order("b", "RL", side::buy, "1"));
  auto cx = ask<order_ack>("cancel a", cancel_atom_v, limit_order("a", "RL", side::buy, "1", "90"));
  CHECK(seen->answers.size() == 1);

  for (int i = 0; i < 40 && seen->answers.size() < 4; ++i) {
    sched->advance_time(100ms);
    sched->run();
  }
  REQUIRE(seen->answers == std::vector<std::string>{"place a", "cancel a", "place b", "positions"});
  for (std::size_t i = 1; i < seen->answered_at.size(); ++i)
    CHECK(seen->answered_at[i] - seen->answered_at[i - 1] >= 500ms);
  REQUIRE(cx->has_value());
  REQUIRE((*cx)->has_value());
  CHECK((**cx)->status == order_status::canceled);
  REQUIRE(b->has_value());
  REQUIRE((*b)->has_value());
  REQUIRE(pos->has_value());
  REQUIRE((*pos)->has_value());
  // The query ran after the place: it sees the position the market order opened.
  REQUIRE((***pos).size() == 1);
  CHECK((***pos)[0].quantity == dec("1"));
}

TEST_CASE_METHOD(paper_rig,
                 "a request beyond a full queue is refused with queue_full at once and a cancel "
                 "still overtakes the queue",
                 "[paper_session]") {
  auto settings = base_settings("QF=100");
  settings.emplace_back("rate_per_s", "1");
  settings.emplace_back("burst", "1");
  start(settings);

  struct flood_result {
    std::size_t ok = 0;
    std::vector<caf::error> errors;
  };
  auto flood = std::make_shared<flood_result>();
  auto dest = session;
  // One released at once, 1000 fill the query lane, the last one does not fit.
  sys->spawn([flood, dest](caf::event_based_actor* self) {
    for (int i = 0; i < 1002; ++i)
      self->request(dest, std::chrono::seconds{600}, balance_atom_v)
          .then([flood](engine::balance&) { ++flood->ok; },
                [flood](caf::error& err) { flood->errors.push_back(std::move(err)); });
  });
  sched->run();
  CHECK(flood->ok == 1);
  REQUIRE(flood->errors.size() == 1);
  CHECK(code_of(flood->errors[0]) == errc::queue_full);
  CHECK(message_of(flood->errors[0]) == "paper broker: query queue full");

  auto cx = ask<order_ack>("cancel", cancel_atom_v, new_order("nope", "QF", side::buy, "1"));
  sched->advance_time(1100ms);
  sched->run();
  REQUIRE(cx->has_value());
  REQUIRE((*cx)->has_value() == false);
  CHECK(code_of((*cx)->error()) == errc::not_found_at_broker);
  CHECK(flood->ok == 1);
}

TEST_CASE("paper settings are parsed and every bad value is refused naming its key",
          "[paper_session]") {
  auto ok = paper::parse_config({{"cash", "2500.5"},
                                 {"default_price", "12"},
                                 {"fill_chunk", "7"},
                                 {"rate_per_s", "1000000"},
                                 {"burst", "1"},
                                 {"tick_ms", "60000"},
                                 {"prices", "AAPL=187.25,186;BRK.B=410"}});
  REQUIRE(ok.has_value());
  CHECK(ok->cash == dec("2500.5"));
  CHECK(ok->default_price == dec("12"));
  CHECK(ok->fill_chunk == dec("7"));
  CHECK(ok->rate_per_s == 1'000'000u);
  CHECK(ok->burst == 1u);
  CHECK(ok->tick == 60'000ms);
  REQUIRE(ok->paths.size() == 2);
  CHECK(ok->paths.at("AAPL") == std::vector<engine::decimal>{dec("187.25"), dec("186")});
  CHECK(ok->paths.at("BRK.B") == std::vector<engine::decimal>{dec("410")});

  struct bad_case {
    std::string key;
    std::string value;
    std::string error;
  };
  auto cases = std::vector<bad_case>{
      {"colour", "red", "unknown paper setting 'colour'"},
      {"cash", "0", "paper setting cash must be a positive decimal"},
      {"cash", "-100", "paper setting cash must be a positive decimal"},
      {"cash", "lots", "paper setting cash must be a positive decimal"},
      {"default_price", "0", "paper setting default_price must be a positive decimal"},
      {"fill_chunk", "-1", "paper setting fill_chunk must be a positive decimal"},
      {"tick_ms", "0", "paper setting tick_ms must be 1..60000"},
      {"tick_ms", "60001", "paper setting tick_ms must be 1..60000"},
      {"tick_ms", "12ms", "paper setting tick_ms must be 1..60000"},
      {"tick_ms", "", "paper setting tick_ms must be 1..60000"},
      {"rate_per_s", "0", "paper setting rate_per_s must be 1..1000000"},
      {"rate_per_s", "1000001", "paper setting rate_per_s must be 1..1000000"},
      {"rate_per_s", "ten", "paper setting rate_per_s must be 1..1000000"},
      {"burst", "0", "paper setting burst must be 1..1000000"},
      {"burst", "99999999999", "paper setting burst must be 1..1000000"},
      {"prices", "AAPL", "paper setting prices must look like SYM=p1,p2;SYM2=p"},
      {"prices", "AAPL=1;MSFT", "paper setting prices must look like SYM=p1,p2;SYM2=p"},
      {"prices", "aapl=1", "paper setting prices: symbol must start with an upper-case letter"},
      {"prices", "=1", "paper setting prices: symbol must be 1 to 21 characters"},
      {"prices", "AAPL=", "paper setting prices: AAPL has no prices"},
      {"prices", "AAPL=1,x", "paper setting prices must be a positive decimal (AAPL)"},
      {"prices", "AAPL=1,0", "paper setting prices must be a positive decimal (AAPL)"},
      {"prices", "AAPL=1,,2", "paper setting prices must be a positive decimal (AAPL)"},
  };
  for (const auto& c : cases) {
    INFO(c.key << "=" << c.value);
    auto r = paper::parse_config({{"cash", "10"}, {c.key, c.value}});
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == c.error);
  }
}

TEST_CASE_METHOD(paper_rig,
                 "a session with a bad setting reports auth_required with the reason and ends",
                 "[paper_session]") {
  start({{"tick_ms", "0"}});
  REQUIRE(seen->states.size() == 1);
  CHECK(seen->states[0].first == connection_state::auth_required);
  CHECK(seen->states[0].second == "paper setting tick_ms must be 1..60000");
  REQUIRE(slot->exit_reason);
  CHECK(code_of(*slot->exit_reason) == errc::session_unavailable);
  CHECK(message_of(*slot->exit_reason) == "paper setting tick_ms must be 1..60000");
  auto r = ask<engine::balance>("balance", balance_atom_v);
  REQUIRE(r->has_value());
  CHECK_FALSE((*r)->has_value());
}

namespace {

/// Writes raw records into a closed book's database, as a damaged disk would leave them.
void put_raw(const std::filesystem::path& dir,
             const std::vector<std::pair<std::string, std::string>>& kv) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(opts, dir.string(), &raw);
  REQUIRE(s.ok());
  std::unique_ptr<rocksdb::DB> db{raw};
  for (const auto& [k, v] : kv)
    REQUIRE(db->Put(rocksdb::WriteOptions{}, k, v).ok());
}

} // namespace

TEST_CASE_METHOD(paper_rig,
                 "a session whose book holds a damaged record does not start and does not "
                 "report ready",
                 "[paper_session]") {
  book.reset();
  std::string expected;
  SECTION("an order that is not JSON") {
    put_raw(dir.sub("book"), {{"o/paper-1/x", "{oops"}});
    expected = "paper book record is not valid JSON";
  }
  SECTION("an order without its side") {
    put_raw(dir.sub("book"),
            {{"o/paper-1/x", R"({"orderId":"o","clientOrderId":"x","brokerOrderId":"P1",)"
                             R"("symbol":"A","type":"market","tif":"day","status":"new",)"
                             R"("quantity":"1","filled":"0","avg":"0"})"}});
    expected = "paper book record lacks side";
  }
  SECTION("an order with a bad quantity") {
    put_raw(dir.sub("book"),
            {{"o/paper-1/x", R"({"orderId":"o","clientOrderId":"x","brokerOrderId":"P1",)"
                             R"("symbol":"A","side":"buy","type":"market","tif":"day",)"
                             R"("status":"new","quantity":"1e3","filled":"0","avg":"0"})"}});
    expected = "paper book record has a bad quantity";
  }
  SECTION("an order with an unknown status") {
    put_raw(dir.sub("book"),
            {{"o/paper-1/x", R"({"orderId":"o","clientOrderId":"x","brokerOrderId":"P1",)"
                             R"("symbol":"A","side":"buy","type":"market","tif":"day",)"
                             R"("status":"lost","quantity":"1","filled":"0","avg":"0"})"}});
    expected = "paper book record: ";
  }
  SECTION("an order with a bad limit price") {
    put_raw(dir.sub("book"),
            {{"o/paper-1/x", R"({"orderId":"o","clientOrderId":"x","brokerOrderId":"P1",)"
                             R"("symbol":"A","side":"buy","type":"limit","tif":"day",)"
                             R"("status":"new","quantity":"1","filled":"0","avg":"0",)"
                             R"("limitPrice":7})"}});
    expected = "paper book record lacks limitPrice";
  }
  SECTION("an order with a bad stop price") {
    put_raw(dir.sub("book"),
            {{"o/paper-1/x", R"({"orderId":"o","clientOrderId":"x","brokerOrderId":"P1",)"
                             R"("symbol":"A","side":"buy","type":"stop","tif":"day",)"
                             R"("status":"new","quantity":"1","filled":"0","avg":"0",)"
                             R"("stopPrice":"x"})"}});
    expected = "paper book record has a bad stopPrice";
  }
  SECTION("an account that is not JSON") {
    put_raw(dir.sub("book"), {{"a/paper-1", "[]"}});
    expected = "paper account record is not valid JSON";
  }
  SECTION("an account without cash") {
    put_raw(dir.sub("book"), {{"a/paper-1", R"({"positions":{}})"}});
    expected = "paper book record lacks cash";
  }
  SECTION("an account with a malformed position") {
    put_raw(dir.sub("book"), {{"a/paper-1", R"({"cash":"1","positions":{"A":["1"]}})"}});
    expected = "paper account position is malformed";
  }
  SECTION("an account with a bad position number") {
    put_raw(dir.sub("book"), {{"a/paper-1", R"({"cash":"1","positions":{"A":["1","x"]}})"}});
    expected = "paper account position has a bad number";
  }
  book = open_book(dir.sub("book"));
  start(base_settings("A=1"));
  CHECK(seen->states.empty());
  REQUIRE(slot->exit_reason);
  CHECK(code_of(*slot->exit_reason) == errc::session_unavailable);
  CHECK_THAT(message_of(*slot->exit_reason), Catch::StartsWith(expected));
}

TEST_CASE("a paper book keeps orders and the account across a reopen, per connection",
          "[paper_session]") {
  temp_dir dir;
  paper::book_order o;
  o.order_id = "ord-1";
  o.client_order_id = "c1";
  o.broker_order_id = "P1";
  o.symbol = "AAPL";
  o.order_side = side::sell;
  o.type = order_type::stop_limit;
  o.tif = time_in_force::gtc;
  o.quantity = dec("3");
  o.limit_price = dec("99.5");
  o.stop_price = dec("100");
  o.status = order_status::partially_filled;
  o.filled_quantity = dec("1");
  o.avg_fill_price = dec("100.25");
  o.triggered = true;
  o.submissions = 3;
  o.executions = 1;
  o.reason = "why";
  paper::book_account acct;
  acct.cash = dec("123.45");
  acct.positions["AAPL"] = {dec("-1"), dec("100.25")};
  acct.next_order_number = 7;
  {
    auto bk = open_book(dir.sub("book"));
    REQUIRE(bk->store("conn-a", o, acct).has_value());
    // A second open of a book in use fails and names the directory.
    auto second = paper::book::open(dir.sub("book").string());
    REQUIRE_FALSE(second.has_value());
    CHECK_THAT(second.error(), Catch::Contains(dir.sub("book").string()));
  }
  auto bk = open_book(dir.sub("book"));
  auto found = bk->find("conn-a", "c1");
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  const auto& f = **found;
  CHECK(f.order_id == "ord-1");
  CHECK(f.order_side == side::sell);
  CHECK(f.type == order_type::stop_limit);
  CHECK(f.tif == time_in_force::gtc);
  CHECK(f.limit_price == dec("99.5"));
  CHECK(f.stop_price == dec("100"));
  CHECK(f.status == order_status::partially_filled);
  CHECK(f.filled_quantity == dec("1"));
  CHECK(f.avg_fill_price == dec("100.25"));
  CHECK(f.triggered);
  CHECK(f.submissions == 3);
  CHECK(f.executions == 1);
  CHECK(f.reason == "why");
  auto a = bk->account("conn-a", dec("5"));
  REQUIRE(a.has_value());
  CHECK(a->cash == dec("123.45"));
  CHECK(a->next_order_number == 7);
  REQUIRE(a->positions.count("AAPL") == 1);
  CHECK(a->positions["AAPL"].quantity == dec("-1"));
  CHECK(a->positions["AAPL"].avg_cost == dec("100.25"));
  // Another connection sees none of it.
  auto other = bk->orders("conn-b");
  REQUIRE(other.has_value());
  CHECK(other->empty());
  auto fresh = bk->account("conn-b", dec("5"));
  REQUIRE(fresh.has_value());
  CHECK(fresh->cash == dec("5"));
  CHECK(fresh->positions.empty());
  auto missing = bk->find("conn-a", "c2");
  REQUIRE(missing.has_value());
  CHECK_FALSE(missing->has_value());
}
