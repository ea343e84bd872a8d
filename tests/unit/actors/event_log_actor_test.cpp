#include "actors/event_log_actor.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/actors/support/fixtures.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using namespace brokerd::actors::test_support;
using persistence::event;
using persistence::event_batch;

namespace {

/// A log event that belongs to order `order_id`.
event order_event(const std::string& order_id, std::string_view type = "order.fill") {
  event ev;
  ev.type = std::string{type};
  ev.user = "alice";
  ev.connection = "paper-1";
  ev.order_id = order_id;
  return ev;
}

event_batch batch_of(std::size_t n, const std::string& order_id) {
  event_batch out;
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(order_event(order_id));
  return out;
}

/// A wall clock that counts its calls (the log reads it once per write) and holds the
/// first call until the test opens the gate, so that appends queue up behind that write.
struct gated_clock {
  std::mutex mtx;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> calls = 0;

  std::int64_t tick() {
    auto n = ++calls;
    if (n == 1) {
      std::unique_lock guard{mtx};
      cv.wait_for(guard, std::chrono::seconds{5}, [this] { return open; });
    }
    return std::int64_t{n} * 1'000;
  }

  void release() {
    {
      std::lock_guard guard{mtx};
      open = true;
    }
    cv.notify_all();
  }
};

/// A threaded actor system with the event log actor over a fresh database.
struct log_fixture {
  explicit log_fixture(persistence::wall_clock clock = {})
      : log(open_log(dir.sub("events"), std::move(clock))) {
    configure_threaded(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    self = std::make_unique<caf::scoped_actor>(*sys);
    actor = spawn_event_log(*sys, log);
  }

  ~log_fixture() {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    actor = nullptr;
    self.reset();
    sys.reset();
  }

  std::expected<std::uint64_t, caf::error> append(event_batch events, bool sync = false) {
    return call<std::uint64_t>(*self, actor, append_atom_v, std::move(events), sync);
  }

  temp_dir dir;
  std::shared_ptr<persistence::event_log> log;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<caf::scoped_actor> self;
  event_log_actor actor;
};

std::vector<std::uint64_t> seqs(const event_batch& events) {
  std::vector<std::uint64_t> out;
  for (const auto& ev : events)
    out.push_back(ev.seq);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s)
    out.push_back(s);
  return out;
}

} // namespace

TEST_CASE("appends get gap-free sequence numbers and each reply is the caller's last one",
          "[event_log_actor]") {
  log_fixture f;
  auto first = f.append(batch_of(3, "o-1"), true);
  REQUIRE(first.has_value());
  CHECK(*first == 3);
  auto second = f.append(batch_of(2, "o-2"));
  REQUIRE(second.has_value());
  CHECK(*second == 5);
  auto third = f.append(batch_of(1, "o-3"));
  REQUIRE(third.has_value());
  CHECK(*third == 6);

  CHECK(f.log->last_seq() == 6);
  auto stored = all_events(*f.log);
  CHECK(seqs(stored) == range(1, 6));
  CHECK(stored[2].order_id == "o-1");
  CHECK(stored[4].order_id == "o-2");
  CHECK(stored[5].order_id == "o-3");
}

TEST_CASE("appends queued behind a write are group-committed in one write", "[event_log_actor]") {
  auto clock = std::make_shared<gated_clock>();
  log_fixture f{[clock] { return clock->tick(); }};
  constexpr int count = 200;

  using handle_type =
      decltype((*f.self)->request(f.actor, reply_timeout, append_atom_v, event_batch{}, true));
  std::vector<handle_type> pending;
  pending.reserve(count);
  for (int i = 0; i < count; ++i)
    pending.push_back((*f.self)->request(f.actor, reply_timeout, append_atom_v,
                                         event_batch{order_event("o-" + std::to_string(i))}, true));
  // Every append is queued now; the first write may proceed.
  clock->release();

  std::vector<std::uint64_t> replies(count, 0);
  int failures = 0;
  for (int i = 0; i < count; ++i)
    pending[static_cast<std::size_t>(i)].receive(
        [&](std::uint64_t seq) { replies[static_cast<std::size_t>(i)] = seq; },
        [&](caf::error&) { ++failures; });
  REQUIRE(failures == 0);

  // Each caller got the sequence number of its own event, and together they are 1..200.
  auto stored = all_events(*f.log);
  REQUIRE(stored.size() == count);
  CHECK(seqs(stored) == range(1, count));
  for (int i = 0; i < count; ++i) {
    auto seq = replies[static_cast<std::size_t>(i)];
    REQUIRE(seq >= 1);
    REQUIRE(seq <= count);
    CHECK(stored[seq - 1].order_id == "o-" + std::to_string(i));
  }
  std::set<std::uint64_t> distinct(replies.begin(), replies.end());
  CHECK(distinct.size() == count);
  CHECK(f.log->last_seq() == count);

  // The first write held everything else back: at most one more write took the rest.
  CHECK(clock->calls.load() <= 2);
  std::set<std::int64_t> stamps;
  for (const auto& ev : stored)
    stamps.insert(ev.ts_ns);
  CHECK(stamps.size() == static_cast<std::size_t>(clock->calls.load()));
}

TEST_CASE("an append with registry writes lands the events and the registry changes together",
          "[event_log_actor]") {
  log_fixture f;
  REQUIRE(f.log->put("token/old", "t0").has_value());
  registry_writes writes{
      persistence::registry_write{"user/alice", std::string{R"({"name":"alice"})"}},
      persistence::registry_write{"token/old", std::nullopt},
  };
  auto seq = call<std::uint64_t>(*f.self, f.actor, append_atom_v, batch_of(2, "o-1"), true, writes);
  REQUIRE(seq.has_value());
  CHECK(*seq == 2);

  auto alice = f.log->get("user/alice");
  REQUIRE(alice.has_value());
  CHECK(*alice == std::optional<std::string>{R"({"name":"alice"})"});
  auto old = f.log->get("token/old");
  REQUIRE(old.has_value());
  CHECK_FALSE(old->has_value());
  CHECK(seqs(all_events(*f.log)) == range(1, 2));
}

TEST_CASE("an append the log refuses answers log_write_failed and consumes no sequence number",
          "[event_log_actor]") {
  log_fixture f;
  REQUIRE(f.append(batch_of(1, "o-1")).has_value());

  event untyped = order_event("o-2");
  untyped.type.clear();
  auto refused = f.append(event_batch{untyped});
  REQUIRE_FALSE(refused.has_value());
  CHECK(code_of(refused.error()) == errc::log_write_failed);

  auto next = f.append(batch_of(1, "o-3"));
  REQUIRE(next.has_value());
  CHECK(*next == 2);
  CHECK(seqs(all_events(*f.log)) == range(1, 2));
}

TEST_CASE("a subscriber gets the history from its sequence number, then live events, in order "
          "without gap or duplicate",
          "[event_log_actor]") {
  log_fixture f;
  for (int i = 0; i < 10; ++i)
    REQUIRE(f.append(batch_of(2, "o-" + std::to_string(i))).has_value());
  REQUIRE(f.log->last_seq() == 20);

  caf::scoped_actor sub{*f.sys};
  auto sub_handle = caf::actor_cast<caf::actor>(sub);
  auto& self = *f.self;

  // Appends before and after the subscription, all in flight while it is made.
  using append_handle =
      decltype(self->request(f.actor, reply_timeout, append_atom_v, event_batch{}, false));
  std::vector<append_handle> before;
  std::vector<append_handle> after;
  for (int i = 0; i < 15; ++i)
    before.push_back(self->request(f.actor, reply_timeout, append_atom_v,
                                   batch_of(1, "live-" + std::to_string(i)), false));
  auto subscribed =
      self->request(f.actor, reply_timeout, subscribe_atom_v, sub_handle, std::uint64_t{5});
  for (int i = 15; i < 30; ++i)
    after.push_back(self->request(f.actor, reply_timeout, append_atom_v,
                                  batch_of(1, "live-" + std::to_string(i)), false));

  int failures = 0;
  for (auto& h : before)
    h.receive([](std::uint64_t) {}, [&](caf::error&) { ++failures; });
  std::uint64_t at_subscribe = 0;
  subscribed.receive([&](std::uint64_t last) { at_subscribe = last; },
                     [&](caf::error&) { ++failures; });
  for (auto& h : after)
    h.receive([](std::uint64_t) {}, [&](caf::error&) { ++failures; });
  REQUIRE(failures == 0);
  CHECK(at_subscribe >= 20);
  CHECK(at_subscribe <= 50);

  std::vector<std::uint64_t> seen;
  bool timed_out = false;
  while (!timed_out && (seen.empty() || seen.back() < 50))
    sub->receive([&](event_atom, const event& ev) { seen.push_back(ev.seq); },
                 caf::after(std::chrono::seconds{5}) >> [&] { timed_out = true; });
  CHECK_FALSE(timed_out);
  CHECK(seen == range(5, 50));

  // Nothing else is on its way: a drain answers only after every notification was sent.
  auto drained = call<std::uint64_t>(self, f.actor, drain_atom_v);
  REQUIRE(drained == 50u);
  bool extra = false;
  sub->receive([&](event_atom, const event&) { extra = true; },
               caf::after(std::chrono::milliseconds{0}) >> [] {});
  CHECK_FALSE(extra);
}

TEST_CASE("an unsubscribed actor gets no further events", "[event_log_actor]") {
  log_fixture f;
  caf::scoped_actor sub{*f.sys};
  auto sub_handle = caf::actor_cast<caf::actor>(sub);
  auto& self = *f.self;
  REQUIRE(call<std::uint64_t>(self, f.actor, subscribe_atom_v, sub_handle, std::uint64_t{1}) == 0u);

  REQUIRE(f.append(batch_of(1, "o-1")).has_value());
  std::uint64_t got = 0;
  sub->receive([&](event_atom, const event& ev) { got = ev.seq; },
               caf::after(std::chrono::seconds{5}) >> [] {});
  CHECK(got == 1);

  self->send(f.actor, unsub_atom_v, sub_handle);
  REQUIRE(f.append(batch_of(1, "o-2")).has_value());
  REQUIRE(call<std::uint64_t>(self, f.actor, drain_atom_v) == 2u);
  bool extra = false;
  sub->receive([&](event_atom, const event&) { extra = true; },
               caf::after(std::chrono::milliseconds{0}) >> [] {});
  CHECK_FALSE(extra);
}

TEST_CASE("a subscriber with a type prefix gets only those events, history and live",
          "[event_log_actor]") {
  log_fixture f;
  auto connection_event = [](std::string state) {
    event ev;
    ev.type = std::string{persistence::event_types::connection_state};
    ev.user = "alice";
    ev.connection = "paper-1";
    ev.state = std::move(state);
    return ev;
  };
  // History: two order events around one connection event.
  REQUIRE(f.append(batch_of(1, "o-1")).has_value());
  REQUIRE(f.append(event_batch{connection_event("ready")}).has_value());
  REQUIRE(f.append(batch_of(1, "o-2")).has_value());

  caf::scoped_actor sub{*f.sys};
  auto& self = *f.self;
  REQUIRE(call<std::uint64_t>(self, f.actor, subscribe_atom_v, caf::actor_cast<caf::actor>(sub),
                              std::uint64_t{1},
                              std::string{persistence::event_types::connection_prefix}) == 3u);
  // Live: an order event, then a connection event, in one group.
  event_batch live = batch_of(1, "o-3");
  live.push_back(connection_event("backoff"));
  REQUIRE(f.append(std::move(live)).has_value());
  REQUIRE(call<std::uint64_t>(self, f.actor, drain_atom_v) == 5u);

  std::vector<std::pair<std::uint64_t, std::string>> seen;
  bool more = true;
  while (more)
    sub->receive([&](event_atom, const event& ev) { seen.emplace_back(ev.seq, ev.state); },
                 caf::after(std::chrono::milliseconds{200}) >> [&] { more = false; });
  CHECK(seen == std::vector<std::pair<std::uint64_t, std::string>>{{2, "ready"}, {5, "backoff"}});
}

TEST_CASE("a subscriber that dies is dropped by the log", "[event_log_actor]") {
  log_fixture f;
  auto& self = *f.self;
  auto received = std::make_shared<std::atomic<int>>(0);
  auto sub = f.sys->spawn([received](caf::event_based_actor*) -> caf::behavior {
    return {[received](event_atom, const event&) { ++*received; }};
  });
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(sub);
  REQUIRE(call<std::uint64_t>(self, f.actor, subscribe_atom_v, sub, std::uint64_t{1}) == 0u);
  REQUIRE(f.append(batch_of(1, "o-1")).has_value());
  REQUIRE(wait_until([&] { return received->load() == 1; }));

  // Only the log still holds the subscriber once it is dead; dropping it frees the actor.
  caf::anon_send_exit(sub, caf::exit_reason::kill);
  sub = nullptr;
  CHECK(wait_until([&] { return weak.lock() == nullptr; }));

  // The log goes on serving the others.
  caf::scoped_actor other{*f.sys};
  REQUIRE(call<std::uint64_t>(self, f.actor, subscribe_atom_v, caf::actor_cast<caf::actor>(other),
                              std::uint64_t{2}) == 1u);
  REQUIRE(f.append(batch_of(1, "o-2")).has_value());
  std::uint64_t got = 0;
  other->receive([&](event_atom, const event& ev) { got = ev.seq; },
                 caf::after(std::chrono::seconds{5}) >> [] {});
  CHECK(got == 2);
}

TEST_CASE("reads return events by sequence range and by order id", "[event_log_actor]") {
  log_fixture f;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.append(event_batch{order_event("a")}).has_value());
    REQUIRE(f.append(event_batch{order_event("b")}).has_value());
  }
  auto& self = *f.self;
  auto window = call<event_batch>(self, f.actor, read_atom_v, std::uint64_t{2}, std::uint32_t{3});
  REQUIRE(window.has_value());
  CHECK(seqs(*window) == std::vector<std::uint64_t>{2, 3, 4});
  CHECK((*window)[0].order_id == "b");

  auto of_a = call<event_batch>(self, f.actor, read_atom_v, std::string{"a"});
  REQUIRE(of_a.has_value());
  CHECK(seqs(*of_a) == std::vector<std::uint64_t>{1, 3, 5});
  auto of_none = call<event_batch>(self, f.actor, read_atom_v, std::string{"nobody"});
  REQUIRE(of_none.has_value());
  CHECK(of_none->empty());
}

TEST_CASE("drain writes everything pending and answers with the last sequence number",
          "[event_log_actor]") {
  log_fixture f;
  auto& self = *f.self;
  for (int i = 0; i < 10; ++i)
    self->send(f.actor, append_atom_v, batch_of(1, "o-" + std::to_string(i)), false);
  auto drained = call<std::uint64_t>(self, f.actor, drain_atom_v);
  REQUIRE(drained.has_value());
  CHECK(*drained == 10);
  CHECK(f.log->last_seq() == 10);
  CHECK(seqs(all_events(*f.log)) == range(1, 10));
}
