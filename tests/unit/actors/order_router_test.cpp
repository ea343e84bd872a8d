#include "actors/order_router.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "actors/brokers/paper/book.hpp"
#include "persistence/order_projection.hpp"
#include "tests/unit/actors/support/fixtures.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using namespace brokerd::actors::test_support;
using engine::order_status;
using persistence::event_batch;
namespace event_types = persistence::event_types;

namespace {

/// The whole order path on real threads: event log, router, and the paper connection
/// "paper-1" of alice.
struct pipeline {
  pipeline() { c.connect("paper-1", "alice", fast_paper_settings()); }

  /// Waits until the order's newest order.status event moved it to `s`.
  bool logged_status(const std::string& id, order_status s) {
    return wait_for_logged_status(*log, id, s);
  }

  /// Places `o` and requires it to be accepted; returns the new order's id.
  std::string place_ok(engine::order o) {
    auto placed = c.place(std::move(o));
    REQUIRE(placed.has_value());
    REQUIRE(placed->created);
    return placed->order.id;
  }

  std::vector<std::string> types_of(const std::string& id) {
    std::vector<std::string> out;
    for (const auto& ev : events_of(*log, id))
      out.push_back(ev.type);
    return out;
  }

  temp_dir dir;
  std::shared_ptr<persistence::event_log> log = open_log(dir.sub("events"));
  std::shared_ptr<paper::book> book = open_book(dir.sub("book"));
  core c{log, book};
};

std::size_t count_submitted(const event_batch& events, const std::string& client_order_id) {
  return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](const auto& ev) {
    return ev.type == event_types::order_submitted && ev.client_order_id == client_order_id;
  }));
}

std::uint32_t submissions_in_book(paper::book& book, const std::string& client_order_id) {
  auto found = book.find("paper-1", client_order_id);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  return (*found)->submissions;
}

/// A session that holds its answers to status requests until released with (tick_atom).
using held_session_actor = broker_session_actor::extend<caf::reacts_to<tick_atom, std::uint64_t>>;

/// What a held session received, in order, shared with the test.
struct session_journal {
  std::mutex mtx;
  std::vector<std::string> entries;
  held_session_actor session;

  void add(std::string entry) {
    std::lock_guard guard{mtx};
    entries.push_back(std::move(entry));
  }

  std::vector<std::string> copy() {
    std::lock_guard guard{mtx};
    return entries;
  }
};

struct held_state {
  std::vector<std::pair<caf::typed_response_promise<order_update>, engine::order>> held;
};

held_session_actor::behavior_type
held_session(held_session_actor::stateful_pointer<held_state> self, caf::actor supervisor,
             std::shared_ptr<session_journal> journal) {
  self->anon_send(supervisor, state_atom_v, connection_state::connected, std::string{});
  self->anon_send(supervisor, state_atom_v, connection_state::ready, std::string{});
  return {
      [](connect_atom) { return engine::balance{}; },
      [](balance_atom) { return engine::balance{}; },
      [](positions_atom) { return engine::position_list{}; },
      [journal](place_atom, engine::order& o) -> caf::result<order_ack> {
        journal->add("place " + o.client_order_id);
        return order_ack{"H-" + o.client_order_id, order_status::new_, {}};
      },
      [](cancel_atom, engine::order& o) -> caf::result<order_ack> {
        return order_ack{o.broker_order_id, order_status::canceled, {}};
      },
      [self, journal](status_atom, engine::order& o) -> caf::result<order_update> {
        journal->add("status " + o.client_order_id);
        auto rp = self->make_response_promise<order_update>();
        self->state.held.emplace_back(rp, o);
        return rp;
      },
      [self, journal](tick_atom, std::uint64_t) {
        journal->add("answered");
        for (auto& [rp, o] : self->state.held) {
          order_update u;
          u.order_id = o.id;
          u.client_order_id = o.client_order_id;
          u.broker_order_id = "H-" + o.client_order_id;
          u.status = order_status::new_;
          rp.deliver(std::move(u));
        }
        self->state.held.clear();
      },
  };
}

} // namespace

TEST_CASE_METHOD(pipeline,
                 "a market order is answered pending_new, then the log records new and filled",
                 "[order_router]") {
  auto placed = c.place(market("alice", "paper-1", "AAPL", "5"));
  REQUIRE(placed.has_value());
  CHECK(placed->created);
  CHECK(placed->order.status == order_status::pending_new);
  CHECK_FALSE(placed->order.client_order_id.empty());
  auto id = placed->order.id;

  REQUIRE(logged_status(id, order_status::filled));
  auto evs = events_of(*log, id);
  REQUIRE(evs.size() == 3);
  CHECK(evs[0].type == event_types::order_submitted);
  CHECK(evs[0].to == order_status::pending_new);
  CHECK(evs[0].quantity == dec("5"));
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>filled"});
  CHECK(evs[2].filled_quantity == dec("5"));
  CHECK(evs[2].avg_fill_price == dec("100"));
  CHECK(evs[2].source == persistence::event_source::broker);

  auto now = c.get("alice", id);
  REQUIRE(now.has_value());
  CHECK(now->status == order_status::filled);
  CHECK(now->filled_quantity == dec("5"));
  CHECK_FALSE(now->broker_order_id.empty());
}

TEST_CASE_METHOD(pipeline, "an order above the fill chunk fills in parts and each part is logged",
                 "[order_router]") {
  auto id = place_ok(market("alice", "paper-1", "AAPL", "25"));
  REQUIRE(logged_status(id, order_status::filled));
  CHECK(types_of(id) == std::vector<std::string>{"order.submitted", "order.status", "order.status",
                                                 "order.fill", "order.status"});
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>partially_filled",
                                                     "partially_filled>filled"});
  REQUIRE(evs.size() == 5);
  CHECK(evs[2].filled_quantity == dec("10"));
  CHECK(evs[3].filled_quantity == dec("20"));
  CHECK(evs[3].last_quantity == dec("10"));
  CHECK(evs[4].filled_quantity == dec("25"));
  CHECK(evs[4].last_quantity == dec("5"));
}

TEST_CASE_METHOD(pipeline,
                 "a repeated client order id returns the existing order and never reaches the "
                 "broker twice",
                 "[order_router]") {
  auto o = market("alice", "paper-1", "AAPL", "5");
  o.client_order_id = "dup-1";
  auto id = place_ok(o);
  REQUIRE(logged_status(id, order_status::filled));

  auto again = c.place(o);
  REQUIRE(again.has_value());
  CHECK_FALSE(again->created);
  CHECK(again->order.id == id);
  CHECK(again->order.status == order_status::filled);

  // A later order takes the same path: once it is filled, a second send of dup-1 would
  // have reached the book before it.
  auto later = place_ok(market("alice", "paper-1", "AAPL", "1"));
  REQUIRE(logged_status(later, order_status::filled));
  CHECK(submissions_in_book(*book, "dup-1") == 1);
  CHECK(count_submitted(all_events(*log), "dup-1") == 1);
}

TEST_CASE_METHOD(pipeline, "two places in flight with the same client order id create one order",
                 "[order_router]") {
  auto o = market("alice", "paper-1", "AAPL", "5");
  o.client_order_id = "dup-2";
  auto& self = c.self();
  auto first = self->request(c.router(), reply_timeout, place_atom_v, o);
  auto second = self->request(c.router(), reply_timeout, place_atom_v, o);
  std::vector<place_result> results;
  int failures = 0;
  first.receive([&](place_result& r) { results.push_back(r); }, [&](caf::error&) { ++failures; });
  second.receive([&](place_result& r) { results.push_back(r); }, [&](caf::error&) { ++failures; });
  REQUIRE(failures == 0);
  REQUIRE(results.size() == 2);
  CHECK(results[0].created);
  CHECK_FALSE(results[1].created);
  CHECK(results[0].order.id == results[1].order.id);

  REQUIRE(logged_status(results[0].order.id, order_status::filled));
  auto later = place_ok(market("alice", "paper-1", "AAPL", "1"));
  REQUIRE(logged_status(later, order_status::filled));
  CHECK(submissions_in_book(*book, "dup-2") == 1);
  CHECK(count_submitted(all_events(*log), "dup-2") == 1);
}

TEST_CASE_METHOD(pipeline, "an invalid order is refused with invalid_order naming the field",
                 "[order_router]") {
  auto zero = market("alice", "paper-1", "AAPL", "0");
  auto refused = c.place(zero);
  REQUIRE_FALSE(refused.has_value());
  CHECK(code_of(refused.error()) == errc::invalid_order);
  CHECK_THAT(message_of(refused.error()), Catch::Contains("quantity"));

  auto no_price = market("alice", "paper-1", "AAPL", "1");
  no_price.type = engine::order_type::limit;
  refused = c.place(no_price);
  REQUIRE_FALSE(refused.has_value());
  CHECK(code_of(refused.error()) == errc::invalid_order);
  CHECK_THAT(message_of(refused.error()), Catch::Contains("limitPrice"));

  auto bad_id = market("alice", "paper-1", "AAPL", "1");
  bad_id.client_order_id = "has space";
  refused = c.place(bad_id);
  REQUIRE_FALSE(refused.has_value());
  CHECK(code_of(refused.error()) == errc::invalid_order);
  CHECK_THAT(message_of(refused.error()), Catch::Contains("clientOrderId"));

  for (const auto& ev : all_events(*log))
    CHECK(ev.type != event_types::order_submitted);
}

TEST_CASE_METHOD(pipeline,
                 "an order for an unknown connection or another user's connection is refused "
                 "with unknown_connection",
                 "[order_router]") {
  auto nowhere = c.place(market("alice", "paper-9", "AAPL", "1"));
  REQUIRE_FALSE(nowhere.has_value());
  CHECK(code_of(nowhere.error()) == errc::unknown_connection);

  auto foreign = c.place(market("bob", "paper-1", "AAPL", "1"));
  REQUIRE_FALSE(foreign.has_value());
  CHECK(code_of(foreign.error()) == errc::unknown_connection);
}

TEST_CASE_METHOD(pipeline,
                 "a limit order below the market waits and fills when the price path reaches "
                 "the limit",
                 "[order_router]") {
  auto id = place_ok(limit("alice", "paper-1", "LMT", "5", "95"));
  REQUIRE(logged_status(id, order_status::filled));
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>filled"});
  // 90 is the only price on the path at or below the limit.
  CHECK(evs.back().avg_fill_price == dec("90"));
}

TEST_CASE_METHOD(pipeline, "a stop order triggers when the price crosses the stop, then fills",
                 "[order_router]") {
  auto o = market("alice", "paper-1", "STP", "5");
  o.type = engine::order_type::stop;
  o.stop_price = dec("105");
  auto id = place_ok(o);
  REQUIRE(logged_status(id, order_status::filled));
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>filled"});
  // 110 is the only price on the path at or above the stop.
  CHECK(evs.back().avg_fill_price == dec("110"));
}

TEST_CASE_METHOD(pipeline, "an ioc order that is not marketable is canceled", "[order_router]") {
  auto o = limit("alice", "paper-1", "AAPL", "5", "50");
  o.tif = engine::time_in_force::ioc;
  auto id = place_ok(o);
  REQUIRE(logged_status(id, order_status::canceled));
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>canceled"});
  CHECK_THAT(evs.back().reason, Catch::Contains("ioc"));
  CHECK(evs.back().filled_quantity == dec("0"));
}

TEST_CASE_METHOD(pipeline, "a fok order larger than one fill is canceled unfilled",
                 "[order_router]") {
  auto o = market("alice", "paper-1", "AAPL", "25");
  o.tif = engine::time_in_force::fok;
  auto id = place_ok(o);
  REQUIRE(logged_status(id, order_status::canceled));
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>canceled"});
  CHECK_THAT(evs.back().reason, Catch::Contains("fok"));
  CHECK(evs.back().filled_quantity == dec("0"));
}

TEST_CASE_METHOD(pipeline, "canceling a working limit order records pending_cancel, then canceled",
                 "[order_router]") {
  auto id = place_ok(limit("alice", "paper-1", "MSFT", "5", "40"));
  REQUIRE(logged_status(id, order_status::new_));

  auto canceling = c.cancel("alice", id);
  REQUIRE(canceling.has_value());
  CHECK(canceling->status == order_status::pending_cancel);
  REQUIRE(logged_status(id, order_status::canceled));
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new", "new>pending_cancel",
                                                     "pending_cancel>canceled"});
  CHECK(evs.back().source == persistence::event_source::broker);

  auto found = book->find("paper-1", canceling->client_order_id);
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->status == order_status::canceled);

  auto twice = c.cancel("alice", id);
  REQUIRE_FALSE(twice.has_value());
  CHECK(code_of(twice.error()) == errc::order_not_cancelable);
}

TEST_CASE_METHOD(pipeline, "a filled order cannot be canceled", "[order_router]") {
  auto id = place_ok(market("alice", "paper-1", "AAPL", "5"));
  REQUIRE(logged_status(id, order_status::filled));
  auto refused = c.cancel("alice", id);
  REQUIRE_FALSE(refused.has_value());
  CHECK(code_of(refused.error()) == errc::order_not_cancelable);
  CHECK(transitions(events_of(*log, id)) ==
        std::vector<std::string>{"pending_new>new", "new>filled"});
}

TEST_CASE_METHOD(pipeline, "a user sees and cancels only their own orders", "[order_router]") {
  c.connect("paper-2", "bob", fast_paper_settings());
  auto alices = place_ok(market("alice", "paper-1", "AAPL", "1"));
  auto bobs = place_ok(market("bob", "paper-2", "AAPL", "2"));

  auto peek = c.get("bob", alices);
  REQUIRE_FALSE(peek.has_value());
  CHECK(code_of(peek.error()) == errc::unknown_order);
  auto poke = c.cancel("bob", alices);
  REQUIRE_FALSE(poke.has_value());
  CHECK(code_of(poke.error()) == errc::unknown_order);

  auto own = c.get("alice", alices);
  REQUIRE(own.has_value());
  CHECK(own->user == "alice");

  auto all_of_alice = c.list("alice", "");
  REQUIRE(all_of_alice.has_value());
  REQUIRE(all_of_alice->size() == 1);
  CHECK(all_of_alice->front().id == alices);
  auto all_of_bob = c.list("bob", "");
  REQUIRE(all_of_bob.has_value());
  REQUIRE(all_of_bob->size() == 1);
  CHECK(all_of_bob->front().id == bobs);
  auto bob_on_alices = c.list("bob", "paper-1");
  REQUIRE(bob_on_alices.has_value());
  CHECK(bob_on_alices->empty());
}

TEST_CASE_METHOD(pipeline, "a buy beyond the cash is rejected with the broker's reason",
                 "[order_router]") {
  auto placed = c.place(market("alice", "paper-1", "AAPL", "2000"));
  REQUIRE(placed.has_value());
  CHECK(placed->order.status == order_status::pending_new);
  auto id = placed->order.id;
  REQUIRE(logged_status(id, order_status::rejected));
  auto evs = events_of(*log, id);
  CHECK(transitions(evs) == std::vector<std::string>{"pending_new>rejected"});
  CHECK_THAT(evs.back().reason, Catch::Contains("insufficient buying power"));
  auto now = c.get("alice", id);
  REQUIRE(now.has_value());
  CHECK(now->status == order_status::rejected);
  CHECK_THAT(now->reason, Catch::Contains("insufficient buying power"));
}

TEST_CASE_METHOD(pipeline,
                 "an illegal broker report is recorded as an anomaly and the order keeps its "
                 "status",
                 "[order_router]") {
  auto id = place_ok(market("alice", "paper-1", "AAPL", "5"));
  REQUIRE(logged_status(id, order_status::filled));
  auto filled = c.get("alice", id);
  REQUIRE(filled.has_value());

  order_update back_to_new;
  back_to_new.order_id = id;
  back_to_new.client_order_id = filled->client_order_id;
  back_to_new.status = order_status::new_;
  back_to_new.filled_quantity = filled->filled_quantity;
  c.self()->send(c.router(), update_atom_v, std::string{"paper-1"}, back_to_new);

  REQUIRE(wait_until([&] { return types_of(id).back() == event_types::order_anomaly; }));
  auto evs = events_of(*log, id);
  CHECK(evs.back().from == order_status::filled);
  CHECK(evs.back().to == order_status::new_);
  CHECK_THAT(evs.back().reason, Catch::Contains("not a legal transition"));
  auto now = c.get("alice", id);
  REQUIRE(now.has_value());
  CHECK(now->status == order_status::filled);
  CHECK(now->filled_quantity == dec("5"));
}

TEST_CASE_METHOD(pipeline, "a fill reported twice is recorded once", "[order_router]") {
  auto id = place_ok(market("alice", "paper-1", "AAPL", "5"));
  REQUIRE(logged_status(id, order_status::filled));
  auto evs = events_of(*log, id);
  REQUIRE(evs.size() == 3);
  const auto& fill = evs.back();

  order_update again;
  again.order_id = id;
  again.client_order_id = fill.client_order_id;
  again.broker_order_id = fill.broker_order_id;
  again.status = order_status::filled;
  again.filled_quantity = *fill.filled_quantity;
  again.avg_fill_price = *fill.avg_fill_price;
  again.last_quantity = fill.last_quantity;
  again.last_price = fill.last_price;
  again.exec_id = fill.exec_id;
  // An anomaly right after it marks the point by which the repeat was handled.
  order_update marker;
  marker.order_id = id;
  marker.status = order_status::new_;
  marker.filled_quantity = *fill.filled_quantity;
  auto& self = c.self();
  self->send(c.router(), update_atom_v, std::string{"paper-1"}, again);
  self->send(c.router(), update_atom_v, std::string{"paper-1"}, marker);

  REQUIRE(wait_until([&] { return types_of(id).back() == event_types::order_anomaly; }));
  CHECK(types_of(id) == std::vector<std::string>{"order.submitted", "order.status", "order.status",
                                                 "order.anomaly"});
}

TEST_CASE("after a restart the router reconciles logged intents with the broker before it "
          "sends new orders",
          "[order_router][reconcile]") {
  temp_dir dir;
  auto book = open_book(dir.sub("book"));
  event_batch intents;
  std::string filled_id;
  std::string working_id;

  // A first run: one order filled, one limit order working at the broker.
  {
    auto log = open_log(dir.sub("events-1"));
    core c{log, book};
    c.connect("paper-1", "alice", fast_paper_settings());
    auto a = market("alice", "paper-1", "AAPL", "5");
    a.client_order_id = "a-1";
    auto placed_a = c.place(a);
    REQUIRE(placed_a.has_value());
    filled_id = placed_a->order.id;
    auto placed_l = c.place(limit("alice", "paper-1", "MSFT", "5", "40"));
    REQUIRE(placed_l.has_value());
    working_id = placed_l->order.id;
    REQUIRE(wait_for_logged_status(*log, filled_id, order_status::filled));
    REQUIRE(wait_for_logged_status(*log, working_id, order_status::new_));
    for (auto& ev : all_events(*log))
      if (ev.type == event_types::order_submitted)
        intents.push_back(ev);
  }
  REQUIRE(intents.size() == 2);

  // The crash lost everything after the intents. Two more intents: one the broker booked and
  // partially filled, one that never reached it.
  engine::order partial = limit("alice", "paper-1", "MSFT", "10", "40");
  partial.id = "ord_partial";
  partial.client_order_id = "p-1";
  engine::order lost = market("alice", "paper-1", "AAPL", "1");
  lost.id = "ord_lost";
  lost.client_order_id = "c-1";
  intents.push_back(persistence::make_submitted_event(partial));
  intents.push_back(persistence::make_submitted_event(lost));
  paper::book_order booked;
  booked.order_id = partial.id;
  booked.client_order_id = partial.client_order_id;
  booked.broker_order_id = "PX-1";
  booked.symbol = partial.symbol;
  booked.type = engine::order_type::limit;
  booked.quantity = partial.quantity;
  booked.limit_price = partial.limit_price;
  booked.status = order_status::partially_filled;
  booked.filled_quantity = dec("3");
  booked.avg_fill_price = dec("40");
  booked.executions = 1;
  auto account = book->account("paper-1", dec("100000"));
  REQUIRE(account.has_value());
  REQUIRE(book->store("paper-1", booked, *account).has_value());

  auto log = open_log(dir.sub("events-2"));
  for (auto& ev : intents) {
    ev.seq = 0;
    ev.ts_ns = 0;
  }
  REQUIRE(log->append(intents, true).has_value());
  auto rebuilt = persistence::rebuild_orders(*log);
  REQUIRE(rebuilt.has_value());
  std::vector<engine::order> initial;
  for (const auto& [id, p] : rebuilt->projection.orders())
    initial.push_back(p.order);
  REQUIRE(initial.size() == 4);
  for (const auto& o : initial)
    REQUIRE(o.status == order_status::pending_new);

  core c{log, book, initial};
  c.connect("paper-1", "alice", fast_paper_settings());
  // Placed before the session can be ready: it must wait for the reconciliation.
  auto fresh = c.place(market("alice", "paper-1", "AAPL", "2"));
  REQUIRE(fresh.has_value());
  REQUIRE(fresh->created);
  auto fresh_id = fresh->order.id;

  REQUIRE(wait_for_logged_status(*log, filled_id, order_status::filled));
  REQUIRE(wait_for_logged_status(*log, working_id, order_status::new_));
  REQUIRE(wait_for_logged_status(*log, partial.id, order_status::partially_filled));
  REQUIRE(wait_for_logged_status(*log, lost.id, order_status::rejected));
  REQUIRE(wait_for_logged_status(*log, fresh_id, order_status::filled));

  auto single_reconcile = [&](const std::string& id, std::string_view expected) {
    auto evs = events_of(*log, id);
    CHECK(transitions(evs) == std::vector<std::string>{std::string{expected}});
    for (const auto& ev : evs)
      if (ev.type == event_types::order_status)
        CHECK(ev.source == persistence::event_source::reconcile);
    return evs;
  };
  auto evs_a = single_reconcile(filled_id, "pending_new>filled");
  CHECK(evs_a.back().filled_quantity == dec("5"));
  single_reconcile(working_id, "pending_new>new");
  auto evs_p = single_reconcile(partial.id, "pending_new>partially_filled");
  CHECK(evs_p.back().filled_quantity == dec("3"));
  auto evs_c = single_reconcile(lost.id, "pending_new>rejected");
  CHECK_THAT(evs_c.back().reason, Catch::Contains("not found at the broker"));

  // Each reconciled order now has the book's status.
  for (const auto& [id, client_id] :
       {std::pair{filled_id, std::string{"a-1"}}, std::pair{partial.id, std::string{"p-1"}}}) {
    auto in_book = book->find("paper-1", client_id);
    REQUIRE(in_book.has_value());
    REQUIRE(in_book->has_value());
    auto routed = c.get("alice", id);
    REQUIRE(routed.has_value());
    CHECK(routed->status == (*in_book)->status);
  }
  // Nothing was sent twice.
  CHECK(submissions_in_book(*book, "a-1") == 1);

  // The new order reached the broker only after every reconcile event.
  std::uint64_t last_reconcile = 0;
  std::uint64_t first_sent = 0;
  for (const auto& ev : all_events(*log)) {
    if (ev.source == persistence::event_source::reconcile)
      last_reconcile = std::max(last_reconcile, ev.seq);
    if (ev.order_id == fresh_id && ev.type == event_types::order_status && first_sent == 0)
      first_sent = ev.seq;
  }
  CHECK(last_reconcile > 0);
  CHECK(first_sent > last_reconcile);

  // The rebuilt router still knows the client order ids of the first run.
  auto repeated = market("alice", "paper-1", "AAPL", "5");
  repeated.client_order_id = "a-1";
  auto again = c.place(repeated);
  REQUIRE(again.has_value());
  CHECK_FALSE(again->created);
  CHECK(again->order.id == filled_id);
}

TEST_CASE("an order placed while reconciling reaches the broker only after every status "
          "request was answered",
          "[order_router][reconcile]") {
  temp_dir dir;
  auto log = open_log(dir.sub("events"));
  event_batch intents;
  for (const char* name : {"x", "y"}) {
    auto o = market("alice", "held-1", "AAPL", "1");
    o.id = std::string{"ord_"} + name;
    o.client_order_id = std::string{name} + "-1";
    intents.push_back(persistence::make_submitted_event(o));
  }
  REQUIRE(log->append(intents, true).has_value());
  auto rebuilt = persistence::rebuild_orders(*log);
  REQUIRE(rebuilt.has_value());
  std::vector<engine::order> initial;
  for (const auto& [id, p] : rebuilt->projection.orders())
    initial.push_back(p.order);

  core c{log, nullptr, initial};
  auto journal = std::make_shared<session_journal>();
  connection_spec spec;
  spec.id = "held-1";
  spec.user = "alice";
  auto sup = c.connect(spec, [journal](caf::local_actor* parent, const connection_spec&,
                                       caf::actor supervisor, caf::actor) {
    auto h = parent->spawn(held_session, std::move(supervisor), journal);
    journal->session = h;
    return broker_session_actor{h};
  });
  REQUIRE(wait_until([&] { return journal->copy().size() == 2; }));

  auto d = market("alice", "held-1", "AAPL", "2");
  d.client_order_id = "d-1";
  auto placed = c.place(d);
  REQUIRE(placed.has_value());
  auto fresh_id = placed->order.id;
  // Round trips through the router, then through the supervisor to the session: whatever
  // the router sent for the new order has reached the session by now.
  REQUIRE(c.get("alice", fresh_id).has_value());
  REQUIRE(call<engine::balance>(c.self(), sup, balance_atom_v).has_value());
  auto held = journal->copy();
  std::sort(held.begin(), held.end());
  CHECK(held == std::vector<std::string>{"status x-1", "status y-1"});

  // An order canceled while it waits is canceled here and never sent.
  auto e = market("alice", "held-1", "AAPL", "3");
  e.client_order_id = "e-1";
  auto waiting = c.place(e);
  REQUIRE(waiting.has_value());
  auto canceled = c.cancel("alice", waiting->order.id);
  REQUIRE(canceled.has_value());
  CHECK(canceled->status == order_status::canceled);
  REQUIRE(wait_for_logged_status(*log, waiting->order.id, order_status::canceled));
  CHECK(transitions(events_of(*log, waiting->order.id)) ==
        std::vector<std::string>{"pending_new>canceled"});

  caf::anon_send(journal->session, tick_atom_v, std::uint64_t{0});
  REQUIRE(wait_for_logged_status(*log, fresh_id, order_status::new_));
  REQUIRE(wait_for_logged_status(*log, "ord_x", order_status::new_));
  REQUIRE(wait_for_logged_status(*log, "ord_y", order_status::new_));
  auto entries = journal->copy();
  REQUIRE(entries.size() == 4);
  CHECK(entries[2] == "answered");
  CHECK(entries[3] == "place d-1");
  CHECK(std::find(entries.begin(), entries.end(), "place e-1") == entries.end());
  for (const auto& id : {std::string{"ord_x"}, std::string{"ord_y"}}) {
    auto evs = events_of(*log, id);
    CHECK(transitions(evs) == std::vector<std::string>{"pending_new>new"});
    CHECK(evs.back().source == persistence::event_source::reconcile);
  }
  journal->session = nullptr;
}

namespace {

/// A session that never answers a place; from the second order on it reports the order `new`
/// through the sink instead.
struct silent_state {
  int placed = 0;
  caf::actor sink;
  std::string connection;
};

broker_session_actor::behavior_type
silent_session(broker_session_actor::stateful_pointer<silent_state> self, caf::actor supervisor,
               caf::actor sink, std::string connection) {
  self->state.sink = std::move(sink);
  self->state.connection = std::move(connection);
  self->anon_send(supervisor, state_atom_v, connection_state::ready, std::string{});
  return {
      [](connect_atom) { return engine::balance{}; },
      [](balance_atom) { return engine::balance{}; },
      [](positions_atom) { return engine::position_list{}; },
      [self](place_atom, engine::order& o) -> caf::result<order_ack> {
        if (++self->state.placed > 1) {
          order_update u;
          u.order_id = o.id;
          u.client_order_id = o.client_order_id;
          u.broker_order_id = "S-" + o.client_order_id;
          u.status = order_status::new_;
          self->anon_send(self->state.sink, update_atom_v, self->state.connection, u);
        }
        return self->make_response_promise<order_ack>(); // never delivered
      },
      [](cancel_atom, engine::order&) -> caf::result<order_ack> {
        return make_error(errc::order_not_cancelable, "never");
      },
      [](status_atom, engine::order&) -> caf::result<order_update> {
        return make_error(errc::not_found_at_broker, "never");
      },
  };
}

} // namespace

TEST_CASE("a new order without an acknowledgement becomes unknown after the place timeout, "
          "unless a report settled it first",
          "[order_router]") {
  temp_dir dir;
  auto log = open_log(dir.sub("events"));
  router_config cfg;
  cfg.place_timeout = std::chrono::milliseconds{300};
  core c{log, nullptr, {}, cfg};
  connection_spec spec;
  spec.id = "silent-1";
  spec.user = "alice";
  c.connect(spec, [](caf::local_actor* parent, const connection_spec& s, caf::actor supervisor,
                     caf::actor sink) {
    return parent->spawn(silent_session, std::move(supervisor), std::move(sink), s.id);
  });
  auto lost = c.place(market("alice", "silent-1", "AAPL", "1"));
  REQUIRE(lost.has_value());
  REQUIRE(wait_for_logged_status(*log, lost->order.id, order_status::unknown));
  auto after = c.get("alice", lost->order.id);
  REQUIRE(after.has_value());
  CHECK(after->reason.find("no acknowledgement") != std::string::npos);

  // A report that arrives before the timeout settles the order: the late timeout changes
  // nothing.
  auto reported = c.place(market("alice", "silent-1", "AAPL", "2"));
  REQUIRE(reported.has_value());
  REQUIRE(wait_for_logged_status(*log, reported->order.id, order_status::new_));
  std::this_thread::sleep_for(std::chrono::milliseconds{500});
  CHECK(transitions(events_of(*log, reported->order.id)) ==
        std::vector<std::string>{"pending_new>new"});
}

namespace {

/// Answers the orders delegated to it after `delay`, each with its own timer.
using acknowledger_actor =
    caf::typed_actor<caf::replies_to<place_atom, engine::order>::with<order_ack>,
                     caf::reacts_to<match_atom, std::string>>;

acknowledger_actor::behavior_type late_acknowledger(acknowledger_actor::pointer self,
                                                    std::chrono::milliseconds delay) {
  using pending_map = std::map<std::string, std::pair<caf::typed_response_promise<order_ack>,
                                                      order_ack>>;
  auto pending = std::make_shared<pending_map>();
  return {
      [self, delay, pending](place_atom, engine::order& o) -> caf::result<order_ack> {
        auto rp = self->make_response_promise<order_ack>();
        pending->emplace(o.id, std::pair{rp, order_ack{"L-" + o.client_order_id,
                                                       order_status::new_, {}}});
        self->delayed_send(caf::actor_cast<acknowledger_actor>(self), delay, match_atom_v, o.id);
        return rp;
      },
      [pending](match_atom, const std::string& id) {
        if (auto it = pending->find(id); it != pending->end()) {
          it->second.first.deliver(it->second.second);
          pending->erase(it);
        }
      },
  };
}

/// A session that acknowledges an order of quantity 1 at once and any other after `delay`.
struct late_state {
  // Declared so that CAF does not take the state for one built from the actor pointer.
  late_state() = default;
  acknowledger_actor acknowledger;
};

broker_session_actor::behavior_type
late_session(broker_session_actor::stateful_pointer<late_state> self, caf::actor supervisor,
             std::chrono::milliseconds delay) {
  self->state.acknowledger = self->spawn<caf::linked>(late_acknowledger, delay);
  self->anon_send(supervisor, state_atom_v, connection_state::ready, std::string{});
  return {
      [](connect_atom) { return engine::balance{}; },
      [](balance_atom) { return engine::balance{}; },
      [](positions_atom) { return engine::position_list{}; },
      [self](place_atom a, engine::order& o) -> caf::result<order_ack> {
        if (o.quantity == engine::decimal::parse("1").value())
          return order_ack{"L-" + o.client_order_id, order_status::new_, {}};
        return self->delegate(self->state.acknowledger, a, std::move(o));
      },
      [](cancel_atom, engine::order&) -> caf::result<order_ack> {
        return make_error(errc::order_not_cancelable, "never");
      },
      [](status_atom, engine::order&) -> caf::result<order_update> {
        return make_error(errc::not_found_at_broker, "never");
      },
  };
}

} // namespace

TEST_CASE("every order of a burst without an acknowledgement in time becomes unknown once; an "
          "acknowledgement after the deadline changes nothing",
          "[order_router]") {
  temp_dir dir;
  auto log = open_log(dir.sub("events"));
  router_config cfg;
  cfg.place_timeout = std::chrono::milliseconds{300};
  core c{log, nullptr, {}, cfg};
  connection_spec spec;
  spec.id = "late-1";
  spec.user = "alice";
  c.connect(spec, [](caf::local_actor* parent, const connection_spec&, caf::actor supervisor,
                     caf::actor) {
    return parent->spawn(late_session, std::move(supervisor), std::chrono::milliseconds{700});
  });
  std::vector<std::string> slow;
  std::vector<std::string> quick;
  for (int i = 0; i < 6; ++i) {
    auto placed = c.place(market("alice", "late-1", "AAPL", i % 2 == 0 ? "2" : "1"));
    REQUIRE(placed.has_value());
    (i % 2 == 0 ? slow : quick).push_back(placed->order.id);
  }
  for (const auto& id : quick)
    REQUIRE(wait_for_logged_status(*log, id, order_status::new_));
  for (const auto& id : slow)
    REQUIRE(wait_for_logged_status(*log, id, order_status::unknown));
  // Past the late acknowledgements: each slow order went unknown once and stayed there.
  std::this_thread::sleep_for(std::chrono::milliseconds{2'500});
  for (const auto& id : slow) {
    INFO(id);
    CHECK(transitions(events_of(*log, id)) == std::vector<std::string>{"pending_new>unknown"});
    auto now = c.get("alice", id);
    REQUIRE(now.has_value());
    CHECK(now->status == order_status::unknown);
    CHECK(now->reason == "no acknowledgement from the broker within 300 ms");
  }
  for (const auto& id : quick)
    CHECK(transitions(events_of(*log, id)) == std::vector<std::string>{"pending_new>new"});
}

namespace {

/// A session that reports whatever state it is told to (`state_atom` from the test) and
/// counts the orders that reach it; it acknowledges each as `new`.
struct obedient_state {
  caf::actor supervisor;
  std::shared_ptr<std::atomic<int>> placed;
};

broker_session_actor::behavior_type
obedient_session(broker_session_actor::stateful_pointer<obedient_state> self,
                 caf::actor supervisor, std::shared_ptr<std::atomic<int>> placed) {
  self->state.supervisor = std::move(supervisor);
  self->state.placed = std::move(placed);
  self->anon_send(self->state.supervisor, state_atom_v, connection_state::connecting,
                  std::string{});
  return {
      [](connect_atom) { return engine::balance{}; },
      [](balance_atom) { return engine::balance{}; },
      [](positions_atom) { return engine::position_list{}; },
      [self](place_atom, engine::order& o) -> caf::result<order_ack> {
        ++*self->state.placed;
        return order_ack{"B-" + o.client_order_id, order_status::new_, {}};
      },
      [](cancel_atom, engine::order&) -> caf::result<order_ack> {
        return make_error(errc::order_not_cancelable, "never");
      },
      [](status_atom, engine::order&) -> caf::result<order_update> {
        return make_error(errc::not_found_at_broker, "never");
      },
  };
}

} // namespace

TEST_CASE("a connection that needs a new sign-in ends the orders waiting for it and refuses "
          "new ones, sending nothing",
          "[order_router]") {
  temp_dir dir;
  auto log = open_log(dir.sub("events"));
  core c{log, nullptr, {}};
  connection_spec spec;
  spec.id = "signin-1";
  spec.user = "alice";
  auto placed = std::make_shared<std::atomic<int>>(0);
  auto sup = c.connect(spec, [placed](caf::local_actor* parent, const connection_spec&,
                                      caf::actor supervisor, caf::actor) {
    return parent->spawn(obedient_session, std::move(supervisor), placed);
  });
  // Connecting: the order waits for the session.
  auto waiting = c.place(market("alice", "signin-1", "AAPL", "1"));
  REQUIRE(waiting.has_value());
  CHECK(waiting->order.status == order_status::pending_new);

  caf::anon_send(sup, state_atom_v, connection_state::auth_required,
                 std::string{"the login ended"});
  REQUIRE(wait_for_logged_status(*log, waiting->order.id, order_status::rejected));
  auto ended = c.get("alice", waiting->order.id);
  REQUIRE(ended.has_value());
  CHECK(ended->reason.find("needs a new sign-in") != std::string::npos);

  auto refused = c.place(market("alice", "signin-1", "AAPL", "2"));
  REQUIRE_FALSE(refused.has_value());
  CHECK(describe(refused.error()).code == errc::auth_required);
  CHECK(describe(refused.error()).message.find("signin-1") != std::string::npos);

  // Signed in again: new orders go out; the rejected one never does.
  caf::anon_send(sup, state_atom_v, connection_state::ready, std::string{});
  REQUIRE(wait_until([&] {
    auto again = c.place(market("alice", "signin-1", "AAPL", "3"));
    return again.has_value() && wait_for_logged_status(*log, again->order.id, order_status::new_);
  }));
  CHECK(placed->load() == 1);
  CHECK(transitions(events_of(*log, waiting->order.id)) ==
        std::vector<std::string>{"pending_new>rejected"});
}
