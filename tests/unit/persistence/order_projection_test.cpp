#include <catch2/catch.hpp>

#include <string>

#include "persistence/event_log.hpp"
#include "persistence/order_projection.hpp"
#include "persistence/rocksdb_access.hpp"
#include "support/persistence_fixtures.hpp"

using namespace brokerd;
using namespace brokerd::persistence;
using engine::order_status;
using persistence::testing::dec;
using persistence::testing::fill_event;
using persistence::testing::sample_order;
using persistence::testing::status_event;
using persistence::testing::temp_dir;

namespace {

event stamped(event e, std::uint64_t seq) {
  e.seq = seq;
  e.ts_ns = static_cast<std::int64_t>(seq) * 1000;
  return e;
}

} // namespace

TEST_CASE("a submitted order is rebuilt with every field of the order") {
  engine::order o = sample_order("o-1");
  o.broker_order_id = "b-9";
  o.stop_price = dec("180");
  o.type = engine::order_type::stop_limit;
  o.tif = engine::time_in_force::gtc;
  o.order_side = engine::side::sell;
  order_projection p;
  p.apply(stamped(make_submitted_event(o), 1));

  const projected_order* got = p.find("o-1");
  REQUIRE(got != nullptr);
  engine::order expected = o;
  expected.created_ns = 1000;
  expected.updated_ns = 1000;
  CHECK(got->order == expected);
  CHECK(got->last_seq == 1);
  CHECK(p.last_seq() == 1);
}

TEST_CASE("status and fill events move the status and the fill state") {
  order_projection p;
  p.apply(stamped(make_submitted_event(sample_order("o-1")), 1));
  event ack = status_event("o-1", order_status::pending_new, order_status::new_);
  ack.broker_order_id = "b-1";
  p.apply(stamped(ack, 2));
  p.apply(stamped(
      status_event("o-1", order_status::new_, order_status::partially_filled, "40", "187.25"), 3));
  p.apply(stamped(fill_event("o-1", "70", "187.2"), 4));

  const auto& o = p.find("o-1")->order;
  CHECK(o.status == order_status::partially_filled);
  CHECK(o.filled_quantity == dec("70"));
  CHECK(o.avg_fill_price == dec("187.2"));
  CHECK(o.broker_order_id == "b-1");
  CHECK(o.created_ns == 1000);
  CHECK(o.updated_ns == 4000);
  CHECK(p.find("o-1")->last_seq == 4);

  event cancel = status_event("o-1", order_status::partially_filled, order_status::canceled);
  cancel.reason = "canceled by user";
  p.apply(stamped(cancel, 5));
  CHECK(p.find("o-1")->order.status == order_status::canceled);
  CHECK(p.find("o-1")->order.reason == "canceled by user");
  CHECK(p.find("o-1")->order.filled_quantity == dec("70"));
}

TEST_CASE("anomalies, connection events and unknown types change no order") {
  order_projection p;
  p.apply(stamped(make_submitted_event(sample_order("o-1")), 1));
  event anomaly = status_event("o-1", order_status::filled, order_status::new_, "999");
  anomaly.type = event_types::order_anomaly;
  p.apply(stamped(anomaly, 2));
  event conn;
  conn.type = event_types::connection_state;
  conn.connection = "c1";
  conn.state = "ready";
  p.apply(stamped(conn, 3));
  event future = status_event("o-1", order_status::pending_new, order_status::filled);
  future.type = "order.split";
  p.apply(stamped(future, 4));

  const auto* got = p.find("o-1");
  CHECK(got->order.status == order_status::pending_new);
  CHECK(got->order.filled_quantity == dec("0"));
  CHECK(got->last_seq == 1);
  CHECK(p.orders().size() == 1);
  CHECK(p.last_seq() == 4);
}

TEST_CASE("a second order.submitted for the same id is ignored") {
  order_projection p;
  p.apply(stamped(make_submitted_event(sample_order("o-1")), 1));
  engine::order other = sample_order("o-1");
  other.symbol = "MSFT";
  p.apply(stamped(make_submitted_event(other), 2));
  CHECK(p.find("o-1")->order.symbol == "AAPL");
  CHECK(p.find("o-1")->last_seq == 1);
}

TEST_CASE("an order first seen in a status event is created from that event") {
  order_projection p;
  event found = status_event("o-9", order_status::unknown, order_status::filled, "5", "10");
  found.user = "u2";
  found.symbol = "MSFT";
  found.broker = engine::broker_id::schwab;
  found.source = event_source::reconcile;
  p.apply(stamped(found, 7));
  const auto* got = p.find("o-9");
  REQUIRE(got != nullptr);
  CHECK(got->order.status == order_status::filled);
  CHECK(got->order.user == "u2");
  CHECK(got->order.symbol == "MSFT");
  CHECK(got->order.broker == engine::broker_id::schwab);
  CHECK(got->order.filled_quantity == dec("5"));

  p.apply(stamped(fill_event("o-8", "3", "2"), 8));
  CHECK(p.find("o-8")->order.status == order_status::partially_filled);
}

TEST_CASE("rebuilding up to a seq gives the orders as they were at that seq") {
  temp_dir tmp;
  auto log = event_log::open(tmp.path(), open_mode::read_write).value();
  event_batch batch{
      make_submitted_event(sample_order("o-1")),
      make_submitted_event(sample_order("o-2")),
      status_event("o-1", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::new_, order_status::filled, "100", "187.25"),
      status_event("o-2", order_status::pending_new, order_status::rejected),
  };
  REQUIRE(log.append(batch, false).value() == 5);

  auto at3 = rebuild_orders(log, 3).value();
  CHECK(at3.records == 3);
  CHECK(at3.projection.orders().size() == 2);
  CHECK(at3.projection.find("o-1")->order.status == order_status::new_);
  CHECK(at3.projection.find("o-2")->order.status == order_status::pending_new);
  CHECK(at3.projection.last_seq() == 3);

  auto all = rebuild_orders(log).value();
  CHECK(all.records == 5);
  CHECK(all.damaged.empty());
  CHECK(all.projection.find("o-1")->order.status == order_status::filled);
  CHECK(all.projection.find("o-1")->order.filled_quantity == dec("100"));
  CHECK(all.projection.find("o-2")->order.status == order_status::rejected);
  CHECK(all.projection.find("o-2")->last_seq == 5);
}

TEST_CASE("rebuilding lists damaged records with their seq and folds the rest") {
  temp_dir tmp;
  auto log = event_log::open(tmp.path(), open_mode::read_write).value();
  event_batch batch{make_submitted_event(sample_order("o-1")),
                    status_event("o-1", order_status::pending_new, order_status::new_),
                    status_event("o-1", order_status::new_, order_status::canceled)};
  REQUIRE(log.append(batch, false).has_value());
  auto& d = log.db().internals();
  REQUIRE(d.db->Put(rocksdb::WriteOptions{}, d.events, seq_key(2), "{not json").ok());

  auto result = rebuild_orders(log).value();
  CHECK(result.records == 3);
  REQUIRE(result.damaged.size() == 1);
  CHECK(result.damaged[0].seq == 2);
  CHECK(result.damaged[0].problem.code == errc::corrupt_record);
  CHECK(result.projection.find("o-1")->order.status == order_status::canceled);
}
