#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "persistence/event_codec.hpp"
#include "persistence/event_log.hpp"
#include "persistence/rocksdb_access.hpp"
#include "support/persistence_fixtures.hpp"

using namespace brokerd;
using namespace brokerd::persistence;
using engine::order_status;
using persistence::testing::fill_event;
using persistence::testing::sample_order;
using persistence::testing::status_event;
using persistence::testing::temp_dir;

namespace {

/// A clock that advances by 1 µs at every reading, from a fixed start.
wall_clock stepping_clock(std::int64_t start = 1'700'000'000'000'000'000) {
  return [now = start]() mutable {
    auto t = now;
    now += 1000;
    return t;
  };
}

event_log open_log(const std::filesystem::path& dir, open_mode mode = open_mode::read_write) {
  auto log = event_log::open(dir, mode, stepping_clock());
  if (!log)
    FAIL("cannot open the log: " << log.error().to_string());
  return std::move(*log);
}

event_batch submitted(const std::string& order_id) {
  return event_batch{make_submitted_event(sample_order(order_id))};
}

std::vector<std::uint64_t> seqs_of(const std::vector<read_record>& records) {
  std::vector<std::uint64_t> out;
  for (const auto& r : records)
    out.push_back(r.seq);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s)
    out.push_back(s);
  return out;
}

std::vector<read_record> read_all(const event_log& log) {
  return log.read_range(0, 1'000'000).value();
}

void put_raw_event(event_log& log, std::uint64_t seq, std::string_view bytes) {
  auto& d = log.db().internals();
  REQUIRE(d.db->Put(rocksdb::WriteOptions{}, d.events, seq_key(seq),
                    rocksdb::Slice{bytes.data(), bytes.size()})
              .ok());
}

} // namespace

TEST_CASE("a new log is empty") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  CHECK(log.last_seq() == 0);
  CHECK(read_all(log).empty());
}

TEST_CASE("appends assign gap-free sequence numbers starting at 1") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  std::uint64_t expected_last = 0;
  for (int i = 0; i < 200; ++i) {
    event_batch batch;
    for (int k = 0; k <= i % 4; ++k)
      batch.push_back(
          status_event("o-" + std::to_string(i), order_status::new_, order_status::canceled));
    auto last = log.append(batch, false);
    REQUIRE(last.has_value());
    for (std::size_t k = 0; k < batch.size(); ++k)
      CHECK(batch[k].seq == expected_last + k + 1);
    expected_last += batch.size();
    CHECK(*last == expected_last);
    CHECK(log.last_seq() == expected_last);
  }
  auto records = read_all(log);
  CHECK(seqs_of(records) == range(1, expected_last));
  for (const auto& r : records) {
    REQUIRE(r.value.has_value());
    CHECK(r.value->seq == r.seq);
  }
}

TEST_CASE("sequence numbers continue after close and reopen") {
  temp_dir tmp;
  {
    auto log = open_log(tmp.path());
    for (int i = 0; i < 5; ++i) {
      auto batch = submitted("o-" + std::to_string(i));
      REQUIRE(log.append(batch, i % 2 == 0).has_value());
    }
    CHECK(log.last_seq() == 5);
  }
  {
    auto log = open_log(tmp.path());
    CHECK(log.last_seq() == 5);
    auto batch = submitted("o-5");
    CHECK(log.append(batch, true).value() == 6);
  }
  auto log = open_log(tmp.path(), open_mode::read_only);
  CHECK(log.last_seq() == 6);
  CHECK(seqs_of(read_all(log)) == range(1, 6));
}

TEST_CASE("an append stamps every event of the batch with the clock's time") {
  temp_dir tmp;
  auto log = event_log::open(tmp.path(), open_mode::read_write,
                             [] { return std::int64_t{1'714'566'896'123'456'789}; });
  REQUIRE(log.has_value());
  event_batch batch{status_event("o-1", order_status::pending_new, order_status::new_),
                    status_event("o-1", order_status::new_, order_status::canceled)};
  REQUIRE(log->append(batch, false).has_value());
  CHECK(batch[0].ts_ns == 1'714'566'896'123'456'789);
  CHECK(batch[1].ts_ns == 1'714'566'896'123'456'789);
  auto records = read_all(*log);
  REQUIRE(records.size() == 2);
  CHECK(records[1].value->ts_ns == 1'714'566'896'123'456'789);
}

TEST_CASE("the stored event equals the appended one, seq and time included") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto batch = submitted("o-1");
  batch.push_back(fill_event("o-1", "10", "187.2"));
  REQUIRE(log.append(batch, false).has_value());
  auto records = read_all(log);
  REQUIRE(records.size() == 2);
  CHECK(*records[0].value == batch[0]);
  CHECK(*records[1].value == batch[1]);
}

TEST_CASE("an append through a read-only handle fails and consumes no sequence number") {
  temp_dir tmp;
  {
    auto log = open_log(tmp.path());
    auto batch = submitted("o-1");
    REQUIRE(log.append(batch, true).value() == 1);
  }
  {
    auto reader = open_log(tmp.path(), open_mode::read_only);
    auto batch = submitted("o-2");
    auto result = reader.append(batch, true);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == errc::read_only);
    CHECK(batch[0].seq == 0);
    CHECK(reader.last_seq() == 1);
  }
  auto log = open_log(tmp.path());
  auto batch = submitted("o-2");
  CHECK(log.append(batch, true).value() == 2);
  CHECK(seqs_of(read_all(log)) == range(1, 2));
}

TEST_CASE("an invalid event fails the whole batch, writes nothing and consumes no seq") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto first = submitted("o-1");
  REQUIRE(log.append(first, false).value() == 1);

  event_batch batch{status_event("o-1", order_status::pending_new, order_status::new_),
                    status_event("o-1", order_status::new_, order_status::canceled), event{}};
  auto result = log.append(batch, false);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == errc::invalid_argument);
  CHECK(result.error().message == "an event needs a type");
  CHECK(batch[0].seq == 0);
  CHECK(batch[1].seq == 0);
  CHECK(log.last_seq() == 1);
  CHECK(seqs_of(read_all(log)) == range(1, 1));
  CHECK(log.read_order("o-1").value().size() == 1);

  auto next = submitted("o-2");
  CHECK(log.append(next, false).value() == 2);
}

TEST_CASE("events with a bad version or an order id holding NUL are refused") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event_batch bad_version{status_event("o-1", order_status::new_, order_status::filled)};
  bad_version[0].version = event_version + 1;
  CHECK(log.append(bad_version, false).error().code == errc::invalid_argument);
  event_batch bad_id{
      status_event(std::string{"o\0x", 3}, order_status::new_, order_status::filled)};
  CHECK(log.append(bad_id, false).error().message.find("NUL") != std::string::npos);
  CHECK(log.last_seq() == 0);
}

TEST_CASE("an empty append writes nothing and returns the last seq") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto batch = submitted("o-1");
  REQUIRE(log.append(batch, false).has_value());
  CHECK(log.append(std::span<event>{}, true).value() == 1);
  CHECK(log.last_seq() == 1);
}

TEST_CASE("a group commit numbers the batches in order, skipping null batches") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event_batch a{status_event("a", order_status::new_, order_status::filled)};
  event_batch b{status_event("b", order_status::new_, order_status::filled),
                status_event("b", order_status::new_, order_status::filled)};
  event_batch c{status_event("c", order_status::new_, order_status::filled)};
  std::vector<event_batch*> batches{&a, nullptr, &b, &c};
  CHECK(log.append_batches(batches, true).value() == 4);
  CHECK(a[0].seq == 1);
  CHECK(b[0].seq == 2);
  CHECK(b[1].seq == 3);
  CHECK(c[0].seq == 4);
  auto records = read_all(log);
  REQUIRE(records.size() == 4);
  CHECK(records[0].value->order_id == "a");
  CHECK(records[2].value->order_id == "b");
  CHECK(records[3].value->order_id == "c");
}

TEST_CASE("a group commit with one bad batch writes none of the batches") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event_batch good{status_event("a", order_status::new_, order_status::filled)};
  event_batch bad{event{}};
  std::vector<event_batch*> batches{&good, &bad};
  CHECK(log.append_batches(batches, false).error().code == errc::invalid_argument);
  CHECK(good[0].seq == 0);
  CHECK(log.last_seq() == 0);
  CHECK(read_all(log).empty());
  CHECK(log.read_order("a").value().empty());
}

TEST_CASE("an order's events are read by order id in sequence order") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  // "o-1" is a prefix of "o-10": the index must not mix them.
  for (const char* id : {"o-1", "o-10", "o-2"}) {
    auto b = submitted(id);
    REQUIRE(log.append(b, false).has_value());
  }
  event_batch more{
      status_event("o-10", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::pending_new, order_status::new_),
      status_event("o-1", order_status::new_, order_status::partially_filled, "40", "187")};
  REQUIRE(log.append(more, false).has_value());
  event_batch last{
      status_event("o-1", order_status::partially_filled, order_status::filled, "100", "187.1")};
  REQUIRE(log.append(last, false).has_value());

  auto records = log.read_order("o-1").value();
  CHECK(seqs_of(records) == std::vector<std::uint64_t>{1, 5, 6, 7});
  REQUIRE(records.size() == 4);
  CHECK(records[0].value->type == event_types::order_submitted);
  CHECK(records[3].value->to == order_status::filled);
  for (const auto& r : records)
    CHECK(r.value->order_id == "o-1");
  CHECK(seqs_of(log.read_order("o-10").value()) == std::vector<std::uint64_t>{2, 4});
  CHECK(seqs_of(log.read_order("o-2").value()) == std::vector<std::uint64_t>{3});
  CHECK(log.read_order("o-3").value().empty());
}

TEST_CASE("events without an order id get no index entry") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event e;
  e.type = event_types::connection_state;
  e.connection = "c1";
  e.state = "ready";
  event_batch batch{e};
  REQUIRE(log.append(batch, false).has_value());
  CHECK(log.read_order("").value().empty());
  auto& d = log.db().internals();
  std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(rocksdb::ReadOptions{}, d.order_index)};
  it->SeekToFirst();
  CHECK_FALSE(it->Valid());
}

TEST_CASE("read_range starts at from_seq and stops at limit") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event_batch batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(
        status_event("o-" + std::to_string(i), order_status::new_, order_status::canceled));
  REQUIRE(log.append(batch, false).value() == 10);
  CHECK(seqs_of(log.read_range(4, 3).value()) == range(4, 6));
  CHECK(seqs_of(log.read_range(9, 100).value()) == range(9, 10));
  CHECK(seqs_of(log.read_range(0, 2).value()) == range(1, 2));
  CHECK(log.read_range(11, 100).value().empty());
  CHECK(log.read_range(1, 0).value().empty());
}

TEST_CASE("scan visits the records between two sequence numbers and stops on request") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event_batch batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(status_event("o", order_status::new_, order_status::canceled));
  REQUIRE(log.append(batch, false).has_value());
  std::vector<std::uint64_t> seen;
  REQUIRE(log.scan(3, 7,
                   [&](read_record& r) {
                     seen.push_back(r.seq);
                     return true;
                   })
              .has_value());
  CHECK(seen == range(3, 7));
  seen.clear();
  REQUIRE(log.scan(1, 10,
                   [&](read_record& r) {
                     seen.push_back(r.seq);
                     return r.seq < 2;
                   })
              .has_value());
  CHECK(seen == range(1, 2));
}

TEST_CASE("a damaged record is reported with its seq and the records around it still read") {
  temp_dir tmp;
  {
    auto log = open_log(tmp.path());
    event_batch batch{make_submitted_event(sample_order("o-1")),
                      status_event("o-1", order_status::pending_new, order_status::new_),
                      status_event("o-1", order_status::new_, order_status::canceled)};
    REQUIRE(log.append(batch, true).value() == 3);
    put_raw_event(log, 2, "\x93garbage{\xff");
  }
  auto log = open_log(tmp.path());
  CHECK(log.last_seq() == 3);

  auto records = read_all(log);
  REQUIRE(seqs_of(records) == range(1, 3));
  CHECK(records[0].value.has_value());
  REQUIRE_FALSE(records[1].value.has_value());
  CHECK(records[1].value.error().code == errc::corrupt_record);
  CHECK(records[1].value.error().message.find("not valid JSON") != std::string::npos);
  REQUIRE(records[2].value.has_value());
  CHECK(records[2].value->to == order_status::canceled);

  auto by_order = log.read_order("o-1").value();
  REQUIRE(seqs_of(by_order) == range(1, 3));
  CHECK_FALSE(by_order[1].value.has_value());
  CHECK(by_order[2].value.has_value());

  auto batch = submitted("o-2");
  CHECK(log.append(batch, false).value() == 4);
}

TEST_CASE("a record whose seq differs from its key is reported as corrupt") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto batch = submitted("o-1");
  REQUIRE(log.append(batch, false).has_value());
  event copy = batch[0];
  copy.seq = 9;
  put_raw_event(log, 2, encode_event(copy));
  auto records = read_all(log);
  REQUIRE(records.size() == 2);
  REQUIRE_FALSE(records[1].value.has_value());
  CHECK(records[1].seq == 2);
  CHECK(records[1].value.error().message.find("holds seq 9") != std::string::npos);
}

TEST_CASE("a record from a newer version is reported as unsupported, not lost") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  put_raw_event(log, 1, R"({"v":99,"seq":1,"ts":1,"type":"order.future","source":"local"})");
  auto records = read_all(log);
  REQUIRE(records.size() == 1);
  CHECK(records[0].seq == 1);
  CHECK(records[0].value.error().code == errc::unsupported_version);
}

TEST_CASE("an index entry whose event is missing is reported with its seq") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto& d = log.db().internals();
  REQUIRE(d.db->Put(rocksdb::WriteOptions{}, d.order_index, order_index_key("o-1", 7), "").ok());
  auto records = log.read_order("o-1").value();
  REQUIRE(records.size() == 1);
  CHECK(records[0].seq == 7);
  CHECK(records[0].value.error().message.find("missing") != std::string::npos);
}

TEST_CASE("a read-only handle of a stopped database reads every event, unflushed ones too") {
  temp_dir tmp;
  {
    auto log = open_log(tmp.path());
    for (int i = 1; i <= 20; ++i) {
      auto batch = submitted("o-" + std::to_string(i));
      REQUIRE(log.append(batch, false).has_value());
    }
  }
  auto reader = open_log(tmp.path(), open_mode::read_only);
  CHECK(reader.last_seq() == 20);
  auto records = read_all(reader);
  CHECK(seqs_of(records) == range(1, 20));
  CHECK(records[19].value->order_id == "o-20");
  CHECK(seqs_of(reader.read_order("o-7").value()) == std::vector<std::uint64_t>{7});
  CHECK(seqs_of(reader.poll_after(18, 10).value()) == range(19, 20));
}

TEST_CASE("a secondary follows a running writer after catching up") {
  temp_dir tmp;
  auto writer = open_log(tmp.path());
  auto first = submitted("o-1");
  REQUIRE(writer.append(first, true).has_value());

  auto follower = open_log(tmp.path(), open_mode::secondary);
  CHECK(follower.last_seq() == 1);
  CHECK(seqs_of(follower.poll_after(0, 100).value()) == range(1, 1));

  event_batch more{status_event("o-1", order_status::pending_new, order_status::new_),
                   status_event("o-1", order_status::new_, order_status::filled, "100", "187")};
  REQUIRE(writer.append(more, false).value() == 3);
  CHECK(follower.read_range(2, 100).value().empty());

  auto fresh = follower.poll_after(1, 100).value();
  CHECK(seqs_of(fresh) == range(2, 3));
  CHECK(fresh[1].value->to == order_status::filled);
  CHECK(follower.last_seq() == 3);
  CHECK(follower.poll_after(3, 100).value().empty());

  auto refused = follower.append(more, false);
  CHECK(refused.error().code == errc::read_only);
}

TEST_CASE("registry values are put, read, erased and scanned by prefix") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  REQUIRE(log.put("user/alice", "{\"premium\":true}").has_value());
  REQUIRE(log.put("user/bob", "{}", false).has_value());
  REQUIRE(log.put("connection/c1", "alpaca").has_value());
  REQUIRE(log.put("user/alice", "{\"premium\":false}").has_value());

  CHECK(log.get("user/alice").value() == std::optional<std::string>{"{\"premium\":false}"});
  CHECK(log.get("user/carol").value() == std::nullopt);

  auto users = log.scan_prefix("user/").value();
  CHECK(users ==
        std::vector<registry_entry>{{"user/alice", "{\"premium\":false}"}, {"user/bob", "{}"}});
  CHECK(log.scan_prefix("").value().size() == 3);
  CHECK(log.scan_prefix("token/").value().empty());

  REQUIRE(log.erase("user/alice").has_value());
  REQUIRE(log.erase("user/nobody").has_value());
  CHECK(log.get("user/alice").value() == std::nullopt);
  CHECK(log.scan_prefix("user/").value().size() == 1);
  CHECK(log.last_seq() == 0);
}

TEST_CASE("registry values survive reopen and are readable read-only") {
  temp_dir tmp;
  {
    auto log = open_log(tmp.path());
    REQUIRE(log.put("token/abc", std::string{"\0bin\xff", 5}).has_value());
  }
  auto reader = open_log(tmp.path(), open_mode::read_only);
  CHECK(reader.get("token/abc").value() == std::optional<std::string>{std::string{"\0bin\xff", 5}});
  CHECK(reader.put("token/x", "y").error().code == errc::read_only);
  CHECK(reader.erase("token/abc").error().code == errc::read_only);
}

TEST_CASE("registry writes committed with events land together") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  REQUIRE(log.put("connection/c1", "connecting").has_value());
  REQUIRE(log.put("connection/old", "stopped").has_value());

  event state;
  state.type = event_types::connection_state;
  state.connection = "c1";
  state.state = "ready";
  event_batch batch{state};
  std::vector<registry_write> writes{{"connection/c1", std::string{"ready"}},
                                     {"connection/old", std::nullopt}};
  CHECK(log.append(batch, true, writes).value() == 1);
  CHECK(log.get("connection/c1").value() == std::optional<std::string>{"ready"});
  CHECK(log.get("connection/old").value() == std::nullopt);
  CHECK(read_all(log).size() == 1);
}

TEST_CASE("a refused combined write changes neither the log nor the registry") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  REQUIRE(log.put("connection/c1", "connecting").has_value());
  event_batch batch{event{}};
  std::vector<registry_write> writes{{"connection/c1", std::string{"ready"}}};
  CHECK(log.append(batch, true, writes).error().code == errc::invalid_argument);
  CHECK(log.get("connection/c1").value() == std::optional<std::string>{"connecting"});
  CHECK(log.last_seq() == 0);

  std::vector<registry_write> empty_key{{"", std::string{"x"}}};
  event_batch good{status_event("o", order_status::new_, order_status::filled)};
  CHECK(log.append(good, true, empty_key).error().code == errc::invalid_argument);
  CHECK(log.last_seq() == 0);
}

TEST_CASE("a group commit carries each caller's registry writes") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  event_batch a{status_event("a", order_status::new_, order_status::filled)};
  event_batch b{status_event("b", order_status::new_, order_status::filled)};
  std::vector<registry_write> wa{{"k/a", std::string{"1"}}};
  std::vector<registry_write> wb{{"k/b", std::string{"2"}}};
  std::vector<append_group> groups{{a, wa}, {b, wb}};
  CHECK(log.commit(groups, false).value() == 2);
  CHECK(log.scan_prefix("k/").value() == std::vector<registry_entry>{{"k/a", "1"}, {"k/b", "2"}});
}

TEST_CASE("sync_wal succeeds on the writer's handle") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto batch = submitted("o-1");
  REQUIRE(log.append(batch, false).has_value());
  CHECK(log.sync_wal().has_value());
}

TEST_CASE("the log keeps working after being moved") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto batch = submitted("o-1");
  REQUIRE(log.append(batch, false).has_value());
  event_log moved = std::move(log);
  auto next = submitted("o-2");
  CHECK(moved.append(next, false).value() == 2);
  CHECK(moved.last_seq() == 2);
}

TEST_CASE("the registry generation changes with every stored registry write, not with events") {
  temp_dir tmp;
  auto log = open_log(tmp.path());
  auto g0 = log.registry_generation();
  event_batch events{status_event("o", order_status::new_, order_status::filled)};
  REQUIRE(log.append(events, false).has_value());
  CHECK(log.registry_generation() == g0);
  REQUIRE(log.put("user/alice", "{}").has_value());
  auto g1 = log.registry_generation();
  CHECK(g1 != g0);
  REQUIRE(log.erase("user/alice").has_value());
  auto g2 = log.registry_generation();
  CHECK(g2 != g1);
  // A refused write stores nothing and changes nothing.
  std::vector<registry_write> empty_key{{"", std::string{"x"}}};
  CHECK_FALSE(log.append({}, true, empty_key).has_value());
  CHECK(log.registry_generation() == g2);
}
