#include "actors/supervisor.hpp"

#include <catch2/catch.hpp>

#include <charconv>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/brokers/paper/session.hpp"
#include "actors/metrics.hpp"
#include "engine/backoff.hpp"
#include "tests/unit/actors/support/fixtures.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using namespace brokerd::actors::test_support;
using namespace std::chrono_literals;
using persistence::event_batch;

namespace {

/// The event log's interface over a vector: the supervisor's records without a database.
event_log_actor::behavior_type recording_log(event_log_actor::pointer,
                                             std::shared_ptr<event_batch> out) {
  auto keep = [out](event_batch& events) {
    for (auto& ev : events) {
      ev.seq = out->size() + 1;
      out->push_back(ev);
    }
    return static_cast<std::uint64_t>(out->size());
  };
  return {
      [keep](append_atom, event_batch& events, bool) { return keep(events); },
      [keep](append_atom, event_batch& events, bool, registry_writes&) { return keep(events); },
      [](flush_atom) {},
      [](read_atom, std::uint64_t, std::uint32_t) { return event_batch{}; },
      [](read_atom, const std::string&) { return event_batch{}; },
      [out](subscribe_atom, caf::actor&, std::uint64_t) {
        return static_cast<std::uint64_t>(out->size());
      },
      [out](subscribe_atom, caf::actor&, std::uint64_t, std::string&) {
        return static_cast<std::uint64_t>(out->size());
      },
      [](unsub_atom, const caf::actor&) {},
      [out](drain_atom) { return static_cast<std::uint64_t>(out->size()); },
  };
}

/// Stands in for the router: keeps the (state_atom, connection, state) reports.
caf::behavior router_probe(caf::event_based_actor*,
                           std::shared_ptr<std::vector<connection_state>> out) {
  return {
      [out](state_atom, const std::string&, connection_state s) { out->push_back(s); },
  };
}

/// What the scripted sessions share with the test.
struct session_script {
  /// Sessions started so far (the generation of the newest).
  int starts = 0;
  /// Addresses of the sessions started, oldest first.
  std::vector<caf::actor_addr> sessions;
};

/// A session that reports connected and ready at once, answers balance and status with its
/// generation, and dies (exit reason "socket exploded") on its first place request.
broker_session_actor::behavior_type crashing_session(broker_session_actor::pointer self,
                                                     caf::actor supervisor, int generation) {
  self->anon_send(supervisor, state_atom_v, connection_state::connected, std::string{});
  self->anon_send(supervisor, state_atom_v, connection_state::ready, std::string{});
  auto balance = [generation] {
    engine::balance b;
    b.cash = engine::decimal::from_units(generation * engine::decimal::one_units);
    return b;
  };
  return {
      [balance](connect_atom) { return balance(); },
      [balance](balance_atom) { return balance(); },
      [](positions_atom) { return engine::position_list{}; },
      [self](place_atom, engine::order&) -> caf::result<order_ack> {
        auto reason = make_error(errc::broker_rejected, "socket exploded");
        self->quit(reason);
        return reason;
      },
      [](cancel_atom, engine::order& o) -> caf::result<order_ack> {
        return order_ack{o.broker_order_id, engine::order_status::canceled, {}};
      },
      [generation](status_atom, engine::order& o) -> caf::result<order_update> {
        order_update u;
        u.order_id = o.id;
        u.broker_order_id = "gen-" + std::to_string(generation);
        return u;
      },
  };
}

session_factory crashing_factory(std::shared_ptr<session_script> script) {
  return [script](caf::local_actor* parent, const connection_spec&, caf::actor supervisor,
                  caf::actor) {
    auto h = parent->spawn(crashing_session, std::move(supervisor), ++script->starts);
    script->sessions.push_back(h.address());
    return h;
  };
}

/// Deterministic scheduler and virtual clock: nothing runs until the test says so.
struct supervised {
  supervised() {
    configure_deterministic(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
    sched = &dynamic_cast<caf::scheduler::test_coordinator&>(sys->scheduler());
    log = sys->spawn(recording_log, events);
    router = sys->spawn(router_probe, routed);
  }

  ~supervised() {
    if (supervisor)
      caf::anon_send(supervisor, stop_atom_v);
    caf::anon_send_exit(log, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    sched->run();
    // Helpers still waiting for a reply give up now, so that every actor has ended.
    sched->trigger_timeouts();
    sched->run();
    supervisor = nullptr;
    log = nullptr;
    router = nullptr;
    sys.reset();
  }

  void start(session_factory factory, supervisor_policy policy, std::string id = "conn-1") {
    connection_spec spec;
    spec.id = std::move(id);
    spec.user = "alice";
    supervisor = spawn_supervisor(*sys, spec, std::move(factory), log, router, policy);
    sched->run();
  }

  /// Sends a request from a helper actor; the outcome appears once the scheduler ran.
  template <class T, class... Ts>
  std::shared_ptr<std::optional<std::expected<T, caf::error>>> ask(Ts... xs) {
    auto out = std::make_shared<std::optional<std::expected<T, caf::error>>>();
    auto dest = supervisor;
    sys->spawn([out, dest, xs...](caf::event_based_actor* self) {
      self->request(dest, std::chrono::seconds{60}, xs...)
          .then([out](T& x) { *out = std::move(x); },
                [out](caf::error& err) { *out = std::unexpected(std::move(err)); });
    });
    sched->run();
    return out;
  }

  void advance(std::chrono::milliseconds d) {
    sched->advance_time(d);
    sched->run();
  }

  std::vector<std::string> states() const {
    std::vector<std::string> out;
    for (const auto& ev : *events)
      out.push_back(ev.state);
    return out;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::scheduler::test_coordinator* sched = nullptr;
  std::shared_ptr<event_batch> events = std::make_shared<event_batch>();
  std::shared_ptr<std::vector<connection_state>> routed =
      std::make_shared<std::vector<connection_state>>();
  event_log_actor log;
  caf::actor router;
  caf::actor supervisor;
};

supervisor_policy fast_policy() {
  supervisor_policy p;
  p.initial_backoff = 10ms;
  p.max_backoff = 1'000ms;
  p.stable_after = 10'000ms;
  p.seed = 7;
  return p;
}

/// The delay a backoff record announces ("... restarting in N ms").
std::optional<long> announced_delay(const std::string& reason) {
  auto at = reason.find("restarting in ");
  if (at == std::string::npos)
    return std::nullopt;
  auto begin = reason.data() + at + 14;
  long ms = 0;
  auto [end, ec] = std::from_chars(begin, reason.data() + reason.size(), ms);
  std::string_view rest{end, static_cast<std::size_t>(reason.data() + reason.size() - end)};
  if (ec != std::errc{} || !rest.starts_with(" ms"))
    return std::nullopt;
  return ms;
}

engine::order some_order() {
  return market("alice", "conn-1", "AAPL", "1");
}

} // namespace

TEST_CASE_METHOD(supervised,
                 "a started connection records connecting, connected and ready, and tells the "
                 "router",
                 "[supervisor]") {
  auto script = std::make_shared<session_script>();
  start(crashing_factory(script), fast_policy());
  CHECK(script->starts == 1);
  CHECK(states() == std::vector<std::string>{"connecting", "connected", "ready"});
  CHECK(*routed == std::vector<connection_state>{connection_state::connecting,
                                                 connection_state::connected,
                                                 connection_state::ready});
  for (const auto& ev : *events) {
    CHECK(ev.type == persistence::event_types::connection_state);
    CHECK(ev.connection == "conn-1");
    CHECK(ev.user == "alice");
  }
}

TEST_CASE_METHOD(supervised, "requests are forwarded to the live session", "[supervisor]") {
  auto script = std::make_shared<session_script>();
  start(crashing_factory(script), fast_policy());
  auto bal = ask<engine::balance>(balance_atom_v);
  REQUIRE(bal->has_value());
  REQUIRE((*bal)->has_value());
  CHECK((**bal)->cash == dec("1"));
  auto found = ask<order_update>(status_atom_v, some_order());
  REQUIRE(found->has_value());
  REQUIRE((*found)->has_value());
  CHECK((**found)->broker_order_id == "gen-1");
}

TEST_CASE_METHOD(supervised,
                 "a session that dies is restarted after the announced backoff and answers "
                 "session_unavailable meanwhile",
                 "[supervisor]") {
  auto script = std::make_shared<session_script>();
  auto policy = fast_policy();
  start(crashing_factory(script), policy);
  engine::backoff expected{policy.initial_backoff, policy.max_backoff, policy.seed};

  auto crash = ask<order_ack>(place_atom_v, some_order());
  REQUIRE(crash->has_value());
  REQUIRE_FALSE((*crash)->has_value());
  CHECK_THAT(message_of((*crash)->error()), Catch::Contains("socket exploded"));

  REQUIRE(states() == std::vector<std::string>{"connecting", "connected", "ready", "backoff"});
  const auto& backoff_ev = events->back();
  CHECK_THAT(backoff_ev.reason, Catch::Contains("session ended"));
  CHECK_THAT(backoff_ev.reason, Catch::Contains("socket exploded"));
  auto delay = announced_delay(backoff_ev.reason);
  REQUIRE(delay.has_value());
  CHECK(*delay == expected.next().count());
  CHECK(routed->back() == connection_state::backoff);

  auto refused = ask<engine::balance>(balance_atom_v);
  REQUIRE(refused->has_value());
  REQUIRE_FALSE((*refused)->has_value());
  CHECK(code_of((*refused)->error()) == errc::session_unavailable);
  CHECK_THAT(message_of((*refused)->error()), Catch::Contains("backoff"));

  advance(std::chrono::milliseconds{*delay - 1});
  CHECK(script->starts == 1);
  advance(1ms);
  CHECK(script->starts == 2);
  CHECK(states() == std::vector<std::string>{"connecting", "connected", "ready", "backoff",
                                             "connecting", "connected", "ready"});

  // The restarted session answers now.
  auto bal = ask<engine::balance>(balance_atom_v);
  REQUIRE(bal->has_value());
  REQUIRE((*bal)->has_value());
  CHECK((**bal)->cash == dec("2"));

  // A second crash waits longer: the backoff grows.
  ask<order_ack>(place_atom_v, some_order());
  auto second = announced_delay(events->back().reason);
  REQUIRE(second.has_value());
  CHECK(*second == expected.next().count());
  CHECK(*second >= 10);
  advance(std::chrono::milliseconds{*second});
  CHECK(script->starts == 3);
}

TEST_CASE_METHOD(supervised,
                 "the connection's state gauge follows its sessions and every restart counts as "
                 "a reconnect",
                 "[supervisor][metrics]") {
  const auto& m = metrics::for_connection("paper", "conn-gauges");
  auto is = [&m](std::string_view state) { return m.state(state).value(); };
  auto reconnects = m.reconnects->value();
  auto script = std::make_shared<session_script>();
  start(crashing_factory(script), fast_policy(), "conn-gauges");
  CHECK(is("ready") == 1);
  CHECK(is("connecting") == 0);
  CHECK(is("stopped") == 0);

  ask<order_ack>(place_atom_v, some_order());
  CHECK(is("backoff") == 1);
  CHECK(is("ready") == 0);
  CHECK(m.reconnects->value() == reconnects);
  advance(1'000ms);
  CHECK(script->starts == 2);
  CHECK(m.reconnects->value() == reconnects + 1);
  CHECK(is("ready") == 1);
  CHECK(is("backoff") == 0);

  caf::anon_send(supervisor, stop_atom_v);
  sched->run();
  supervisor = nullptr;
  CHECK(is("stopped") == 1);
  CHECK(is("ready") == 0);
  CHECK(m.reconnects->value() == reconnects + 1);
}

TEST_CASE_METHOD(supervised, "a session that stays up long enough resets the backoff",
                 "[supervisor]") {
  auto script = std::make_shared<session_script>();
  auto policy = fast_policy();
  policy.stable_after = 100ms;
  start(crashing_factory(script), policy);

  engine::backoff reset{policy.initial_backoff, policy.max_backoff, policy.seed};
  auto first_expected = reset.next();
  engine::backoff grown = reset;
  reset.reset();
  auto second_if_reset = reset.next();
  auto second_if_grown = grown.next();
  REQUIRE(second_if_reset != second_if_grown);

  ask<order_ack>(place_atom_v, some_order());
  auto first = announced_delay(events->back().reason);
  REQUIRE(first == first_expected.count());
  advance(std::chrono::milliseconds{*first});
  REQUIRE(script->starts == 2);
  advance(policy.stable_after);

  ask<order_ack>(place_atom_v, some_order());
  auto second = announced_delay(events->back().reason);
  REQUIRE(second.has_value());
  CHECK(*second == second_if_reset.count());
}

TEST_CASE_METHOD(supervised, "stop records stopped and ends the session and the supervisor",
                 "[supervisor]") {
  auto script = std::make_shared<session_script>();
  start(crashing_factory(script), fast_policy());
  auto downs = std::make_shared<std::vector<caf::actor_addr>>();
  auto watched = std::vector<caf::actor_addr>{supervisor.address(), script->sessions.front()};
  auto watcher = sys->spawn([downs, watched](caf::event_based_actor* self) -> caf::behavior {
    for (const auto& addr : watched)
      self->monitor(caf::actor_cast<caf::actor>(addr));
    self->set_down_handler([downs](caf::down_msg& dm) { downs->push_back(dm.source); });
    return {[](stop_atom) {}};
  });
  sched->run();

  caf::anon_send(supervisor, stop_atom_v);
  sched->run();
  CHECK(states().back() == "stopped");
  CHECK(events->back().reason == "connection stopped");
  CHECK(routed->back() == connection_state::stopped);
  CHECK(downs->size() == 2);

  // No restart follows.
  advance(10s);
  CHECK(script->starts == 1);
  CHECK(states().back() == "stopped");
  caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
  supervisor = nullptr;
}

TEST_CASE_METHOD(supervised,
                 "a paper session with a bad setting reports auth_required with the reason, "
                 "which stays while it is retried at the longest backoff",
                 "[supervisor][paper]") {
  auto starts = std::make_shared<int>(0);
  session_factory factory = [starts](caf::local_actor* parent, const connection_spec& spec,
                                     caf::actor sup, caf::actor sink) {
    ++*starts;
    return paper::spawn_session(parent, spec, std::move(sup), std::move(sink), nullptr);
  };
  connection_spec spec;
  spec.id = "conn-1";
  spec.user = "alice";
  spec.settings = {{"tick_ms", "0"}};
  auto policy = fast_policy();
  supervisor = spawn_supervisor(*sys, spec, std::move(factory), log, router, policy);
  sched->run();

  REQUIRE(states() == std::vector<std::string>{"connecting", "auth_required"});
  CHECK_THAT((*events)[1].reason, Catch::Contains("tick_ms"));
  advance(policy.max_backoff - std::chrono::milliseconds{1});
  CHECK(*starts == 1);
  advance(std::chrono::milliseconds{1});
  CHECK(*starts == 2);
  // Neither connecting nor backoff in between: the connection waits for new credentials.
  CHECK(states() == std::vector<std::string>{"connecting", "auth_required", "auth_required"});
}
