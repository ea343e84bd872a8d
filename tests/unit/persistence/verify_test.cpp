#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "persistence/event_log.hpp"
#include "persistence/rocksdb_access.hpp"
#include "persistence/verify.hpp"
#include "support/persistence_fixtures.hpp"

using namespace brokerd;
using namespace brokerd::persistence;
using engine::order_status;
using persistence::testing::fill_event;
using persistence::testing::sample_order;
using persistence::testing::status_event;
using persistence::testing::temp_dir;

namespace {

/// Feeds `events` to a verifier, numbering them 1, 2, 3, ...
verify_report verify_events(std::vector<event> events) {
  log_verifier v;
  std::uint64_t seq = 0;
  for (auto& e : events) {
    e.seq = ++seq;
    v.check(read_record{seq, e});
  }
  return v.report();
}

event submitted(const std::string& id) {
  return make_submitted_event(sample_order(id));
}

/// The one fault of `report`, which must have exactly one.
fault only_fault(const verify_report& report) {
  std::string listing;
  for (const auto& f : report.faults)
    listing += "seq " + std::to_string(f.seq) + " " + f.order_id + ": " + f.what + "\n";
  INFO("faults:\n" << listing);
  REQUIRE(report.faults.size() == 1);
  return report.faults[0];
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a well-formed order history has no faults") {
  auto report = verify_events({
      submitted("o-1"),
      submitted("o-2"),
      status_event("o-1", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::new_, order_status::partially_filled, "40", "187.25"),
      fill_event("o-1", "70", "187.2"),
      status_event("o-1", order_status::partially_filled, order_status::pending_cancel),
      status_event("o-1", order_status::pending_cancel, order_status::partially_filled, "90",
                   "187.2"),
      status_event("o-1", order_status::partially_filled, order_status::filled, "100", "187.2"),
      status_event("o-2", order_status::pending_new, order_status::unknown),
      status_event("o-2", order_status::unknown, order_status::rejected),
  });
  CHECK(report.ok());
  CHECK(report.records == 10);
  CHECK(report.orders == 2);
}

TEST_CASE("anomalies may follow a terminal status") {
  event anomaly = status_event("o-1", order_status::filled, order_status::new_);
  anomaly.type = event_types::order_anomaly;
  auto report = verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::filled, "100", "1"),
      anomaly,
  });
  CHECK(report.ok());
}

TEST_CASE("connection events need no order") {
  event conn;
  conn.type = event_types::connection_state;
  conn.connection = "c1";
  conn.state = "backoff";
  CHECK(verify_events({conn}).ok());
}

TEST_CASE("a log that does not start at seq 1 is a fault") {
  log_verifier v;
  v.check(read_record{3, submitted("o-1")});
  auto f = only_fault(v.report());
  CHECK(f.seq == 3);
  CHECK(f.what == "the log starts at seq 3, not 1");
}

TEST_CASE("a gap in the sequence numbers is a fault naming the missing range") {
  log_verifier v;
  event a = submitted("o-1");
  a.seq = 1;
  event b = submitted("o-2");
  b.seq = 5;
  v.check(read_record{1, a});
  v.check(read_record{5, b});
  auto f = only_fault(v.report());
  CHECK(f.seq == 5);
  CHECK(f.what == "gap: seq 2..4 missing");
}

TEST_CASE("an undecodable record is a fault with its seq") {
  log_verifier v;
  v.check(read_record{1, std::unexpected(error{errc::corrupt_record, "not valid JSON"})});
  auto f = only_fault(v.report());
  CHECK(f.seq == 1);
  CHECK(f.what == "undecodable record: corrupt_record: not valid JSON");
}

TEST_CASE("an order whose first event is not order.submitted is a fault") {
  auto f = only_fault(verify_events({
      status_event("o-1", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::new_, order_status::canceled),
  }));
  CHECK(f.seq == 1);
  CHECK(f.order_id == "o-1");
  CHECK(f.what == "the order's first event is order.status, not order.submitted");
}

TEST_CASE("an order submitted twice is a fault") {
  auto f = only_fault(verify_events({submitted("o-1"), submitted("o-1")}));
  CHECK(f.seq == 2);
  CHECK(f.what == "order.submitted for an order that already exists");
}

TEST_CASE("order.submitted that does not go to pending_new or lacks a quantity is a fault") {
  event to_new = submitted("o-1");
  to_new.to = order_status::new_;
  CHECK(only_fault(verify_events({to_new})).what ==
        "order.submitted must go to pending_new, not new");
  event with_from = submitted("o-1");
  with_from.from = order_status::new_;
  CHECK(contains(only_fault(verify_events({with_from})).what, "must not have a from status"));
  event no_qty = submitted("o-1");
  no_qty.quantity.reset();
  CHECK(only_fault(verify_events({no_qty})).what == "order.submitted without a positive quantity");
}

TEST_CASE("an order.status whose from is not the current status is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::pending_new, order_status::canceled),
  }));
  CHECK(f.seq == 3);
  CHECK(f.what == "from pending_new but the order is new");
}

TEST_CASE("an illegal transition is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::new_, order_status::pending_new),
  }));
  CHECK(f.seq == 3);
  CHECK(f.what == "new -> pending_new is not a legal transition");
}

TEST_CASE("an order.status without from or to is a fault") {
  event no_from = status_event("o-1", order_status::pending_new, order_status::new_);
  no_from.from.reset();
  CHECK(only_fault(verify_events({submitted("o-1"), no_from})).what ==
        "order.status without a from status");
  event no_to = status_event("o-1", order_status::pending_new, order_status::new_);
  no_to.to.reset();
  CHECK(only_fault(verify_events({submitted("o-1"), no_to})).what ==
        "order.status without a to status");
}

TEST_CASE("a filled quantity that goes back is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::partially_filled, "50", "1"),
      fill_event("o-1", "40", "1"),
  }));
  CHECK(f.seq == 3);
  CHECK(f.what == "filled quantity goes back from 50 to 40");
}

TEST_CASE("a filled quantity above the order quantity is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::partially_filled, "50", "1"),
      fill_event("o-1", "100.5", "1"),
  }));
  CHECK(f.what == "filled quantity 100.5 exceeds the quantity 100");
}

TEST_CASE("a transition to filled with less than the whole quantity is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::filled, "60", "1"),
  }));
  CHECK(f.what == "filled with 60 of 100");
}

TEST_CASE("order.fill outside partially_filled is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::new_),
      fill_event("o-1", "10", "1"),
  }));
  CHECK(f.seq == 3);
  CHECK(contains(f.what, "order.fill while new"));
}

TEST_CASE("an order.fill without a filled quantity is a fault") {
  event fill = fill_event("o-1", "10", "1");
  fill.filled_quantity.reset();
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::partially_filled, "5", "1"),
      fill,
  }));
  CHECK(f.what == "order.fill without filledQuantity");
}

TEST_CASE("an event after a terminal status is a fault") {
  auto f = only_fault(verify_events({
      submitted("o-1"),
      status_event("o-1", order_status::pending_new, order_status::canceled),
      status_event("o-1", order_status::canceled, order_status::new_),
  }));
  CHECK(f.seq == 3);
  CHECK(f.what == "order.status after the terminal status canceled");
}

TEST_CASE("an unknown event type and an order event without an order id are faults") {
  event future = submitted("o-1");
  future.type = "order.split";
  CHECK(only_fault(verify_events({future})).what == "unknown event type 'order.split'");
  event anonymous = submitted("");
  CHECK(only_fault(verify_events({anonymous})).what == "order.submitted without an orderId");
}

TEST_CASE("faults of different orders are all reported") {
  auto report = verify_events({
      submitted("a"),
      submitted("b"),
      status_event("a", order_status::new_, order_status::filled),
      status_event("b", order_status::pending_new, order_status::pending_new),
  });
  REQUIRE(report.faults.size() == 2);
  CHECK(report.faults[0].order_id == "a");
  CHECK(report.faults[1].order_id == "b");
}

TEST_CASE("verify_log checks a stored log, damaged records included") {
  temp_dir tmp;
  auto log = event_log::open(tmp.path(), open_mode::read_write).value();
  event_batch batch{submitted("o-1"),
                    status_event("o-1", order_status::pending_new, order_status::new_),
                    status_event("o-1", order_status::new_, order_status::filled, "100", "2")};
  REQUIRE(log.append(batch, false).has_value());

  auto clean = verify_log(log).value();
  CHECK(clean.ok());
  CHECK(clean.records == 3);
  CHECK(clean.orders == 1);

  auto& d = log.db().internals();
  REQUIRE(d.db->Put(rocksdb::WriteOptions{}, d.events, seq_key(2), "\x01\x02").ok());
  REQUIRE(d.db->Delete(rocksdb::WriteOptions{}, d.events, seq_key(3)).ok());
  event_batch later{submitted("o-2")};
  REQUIRE(log.append(later, false).value() == 4);

  auto report = verify_log(log).value();
  CHECK(report.records == 3);
  REQUIRE(report.faults.size() == 2);
  CHECK(report.faults[0].seq == 2);
  CHECK(contains(report.faults[0].what, "undecodable record"));
  CHECK(report.faults[1].seq == 4);
  CHECK(report.faults[1].what == "gap: seq 3 missing");
}
