// The IBKR session actor on its own, against the TWS simulator over loopback: the paths the
// HTTP-level tests (tests/integration/ibkr_test.cpp) cannot reach, such as settings the API does
// not expose, broker refusals, timeouts and protocol faults.

#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "actors/brokers/ibkr/session.hpp"
#include "actors/event_log_actor.hpp"
#include "actors/metrics.hpp"
#include "persistence/event_log.hpp"
#include "tests/support/files.hpp"
#include "tests/support/session_harness.hpp"
#include "tools/sim/tws_server.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using engine::decimal;
namespace tws = brokerd::sim::tws;

namespace {

decimal dec(const char* text) { return *decimal::parse(text); }

struct harness : test::session_harness {
  test::temp_dir dir{"brokerd-ibkr-session"};
  std::unique_ptr<tws::server> sim;
  std::shared_ptr<persistence::event_log> db;
  event_log_actor log_actor;

  explicit harness(tws::config sim_cfg = {}) {
    sim_cfg.tick = std::chrono::milliseconds{20};
    if (sim_cfg.paths.empty())
      sim_cfg.paths["AAPL"] = {dec("100")};
    auto started = tws::server::start(sim_cfg);
    REQUIRE(started.has_value());
    sim = std::move(*started);
    auto opened = persistence::event_log::open(dir.path() / "events", persistence::open_mode::read_write);
    REQUIRE(opened.has_value());
    db = std::make_shared<persistence::event_log>(std::move(*opened));
    log_actor = spawn_event_log(system(), db);
  }

  ~harness() override {
    // The sessions first (the base class), then the log they write to.
    stop_sessions();
    self()->send_exit(log_actor, caf::exit_reason::user_shutdown);
    log_actor = nullptr;
  }

  connection_spec spec(std::vector<std::pair<std::string, std::string>> extra = {}) {
    connection_spec s;
    s.id = "conn_ibkr_unit";
    s.user = "usr_unit";
    s.broker = engine::broker_id::ibkr;
    s.settings = {{"host", "127.0.0.1"}, {"port", std::to_string(sim->port())}, {"client_id", "5"}};
    for (auto& kv : extra)
      s.settings.push_back(std::move(kv));
    return s;
  }

  /// Spawns a session whose supervisor and sink are this test's scoped actor.
  broker_session_actor start(const connection_spec& s) {
    ibkr::environment env{&io(), log_actor, db};
    return adopt(ibkr::spawn_session(self().ptr(), s, me(), me(), env));
  }

  engine::order order(engine::order_type type, const char* qty, std::optional<decimal> limit = {},
                      std::optional<decimal> stop = {}) {
    return session_harness::order(engine::broker_id::ibkr, "conn_ibkr_unit", type, dec(qty), limit,
                                  stop);
  }
};

} // namespace

TEST_CASE("ibkr::parse_config checks every setting", "[unit][ibkr]") {
  auto base = std::vector<std::pair<std::string, std::string>>{{"port", "4002"}};
  auto ok = ibkr::parse_config(base);
  REQUIRE(ok.has_value());
  CHECK(ok->host == "127.0.0.1");
  CHECK(ok->pacing_per_s == 48);
  auto all = base;
  all.insert(all.end(), {{"host", "gw.example"}, {"client_id", "12"}, {"account", "DU1"},
                         {"pacing_per_s", "40"}, {"connect_timeout_ms", "500"},
                         {"outage_grace_ms", "600"}, {"request_timeout_ms", "700"},
                         {"id_block", "10"}, {"exchange", "ISLAND"},
                         {"primary_exchange", "NASDAQ"}, {"currency", "EUR"}});
  auto full = ibkr::parse_config(all);
  REQUIRE(full.has_value());
  CHECK(full->client_id == 12);
  CHECK(full->outage_grace == std::chrono::milliseconds{600});
  CHECK(full->route.primary_exchange == "NASDAQ");
  for (auto bad : std::vector<std::pair<std::string, std::string>>{
           {"port", "0"}, {"port", "x"}, {"client_id", "-1"}, {"pacing_per_s", "51"},
           {"host", ""}, {"host", "a b"}, {"account", "DU-1"}, {"id_block", "0"},
           {"exchange", ""}, {"currency", "U$D"}, {"exchange", "ABCDEFGHIJKLMNOPQ"},
           {"connect_timeout_ms", "0"}, {"colour", "red"}}) {
    INFO(bad.first << "=" << bad.second);
    auto with = base;
    with.push_back(bad);
    auto r = ibkr::parse_config(with);
    REQUIRE_FALSE(r.has_value());
    CHECK_FALSE(r.error().empty());
  }
  CHECK_FALSE(ibkr::parse_config({{"host", "127.0.0.1"}}).has_value()); // no port
}

TEST_CASE("ibkr session: balance, positions and status at TWS", "[unit][ibkr]") {
  harness h;
  auto s = h.start(h.spec());
  auto balance = h.ask<engine::balance>(s, connect_atom_v);
  REQUIRE(balance);
  CHECK(balance->cash == dec("100000"));
  auto o = h.order(engine::order_type::market, "3");
  auto ack = h.ask<order_ack>(s, place_atom_v, o);
  REQUIRE(ack);
  CHECK(ack->status == engine::order_status::new_);
  REQUIRE(h.wait_update(o.client_order_id, engine::order_status::filled));
  auto status = h.ask<order_update>(s, status_atom_v, o);
  REQUIRE(status);
  CHECK(status->status == engine::order_status::filled);
  CHECK(status->filled_quantity == dec("3"));
  // Placing the same client order id again answers with the order TWS has.
  auto again = h.ask<order_ack>(s, place_atom_v, o);
  REQUIRE(again);
  CHECK(again->broker_order_id == ack->broker_order_id);
  CHECK(h.sim->statistics().placements_by_order_ref.at(o.client_order_id) == 1);
  auto positions = h.ask<engine::position_list>(s, positions_atom_v);
  REQUIRE(positions);
  REQUIRE(positions->size() == 1);
  CHECK(positions->front().quantity == dec("3"));
  CHECK(positions->front().market_value == dec("300"));
  // A second request while none is in flight works the same (the subscriptions were ended).
  auto again_positions = h.ask<engine::position_list>(s, positions_atom_v);
  REQUIRE(again_positions);
  CHECK(*again_positions == *positions);
  auto unknown = h.order(engine::order_type::market, "1");
  auto missing = h.ask<order_update>(s, status_atom_v, unknown);
  REQUIRE_FALSE(missing);
  CHECK(describe(missing.error()).code == errc::not_found_at_broker);
  auto cancel_filled = h.ask<order_ack>(s, cancel_atom_v, o);
  REQUIRE_FALSE(cancel_filled);
  CHECK(describe(cancel_filled.error()).code == errc::order_not_cancelable);
  auto cancel_unknown = h.ask<order_ack>(s, cancel_atom_v, unknown);
  REQUIRE_FALSE(cancel_unknown);
  CHECK(describe(cancel_unknown.error()).code == errc::not_found_at_broker);
}

TEST_CASE("ibkr session: TWS refusing an order (201) rejects it with IB's reason", "[unit][ibkr]") {
  harness h;
  auto s = h.start(h.spec({{"currency", "EUR"}}));
  REQUIRE(h.ask<engine::balance>(s, connect_atom_v));
  auto o = h.order(engine::order_type::limit, "1", dec("90"));
  auto ack = h.ask<order_ack>(s, place_atom_v, o);
  REQUIRE(ack);
  CHECK(ack->status == engine::order_status::rejected);
  CHECK(ack->reason.find("201") != std::string::npos);
  CHECK(ack->reason.find("USD") != std::string::npos);
}

TEST_CASE("ibkr session: an account the login does not manage is auth_required", "[unit][ibkr]") {
  harness h;
  auto s = h.start(h.spec({{"account", "U9999999"}}));
  auto reason = h.wait_state(connection_state::auth_required);
  REQUIRE(reason);
  CHECK(reason->find("U9999999") != std::string::npos);
  CHECK(h.wait_down(s).find("not among the managed accounts") != std::string::npos);
}

TEST_CASE("ibkr session: an outage (1100) longer than the grace ends the session", "[unit][ibkr]") {
  harness h;
  auto s = h.start(h.spec({{"outage_grace_ms", "200"}}));
  REQUIRE(h.ask<engine::balance>(s, connect_atom_v));
  h.sim->send_notice(1100, "Connectivity between IB and Trader Workstation has been lost.");
  REQUIRE(h.wait_state(connection_state::connected));
  CHECK(h.wait_down(s).find("stayed disconnected") != std::string::npos);
}

TEST_CASE("ibkr session: a socket port reset (1300) ends the session", "[unit][ibkr]") {
  harness h;
  auto s = h.start(h.spec());
  REQUIRE(h.ask<engine::balance>(s, connect_atom_v));
  h.sim->send_notice(1300, "TWS socket port has been reset and this connection is being dropped.");
  CHECK(h.wait_down(s).find("reset its socket port") != std::string::npos);
}

TEST_CASE("ibkr session: data lost (1101) resyncs and fills that happened meanwhile show up", "[unit][ibkr]") {
  harness h;
  auto s = h.start(h.spec());
  REQUIRE(h.ask<engine::balance>(s, connect_atom_v));
  h.sim->hold_fills(true);
  auto o = h.order(engine::order_type::limit, "4", dec("99"));
  auto ack = h.ask<order_ack>(s, place_atom_v, o);
  REQUIRE(ack);
  h.sim->send_notice(1100, "Connectivity between IB and Trader Workstation has been lost.");
  REQUIRE(h.wait_state(connection_state::connected));
  h.sim->send_notice(1101, "Connectivity between IB and TWS has been restored - data lost.");
  REQUIRE(h.wait_state(connection_state::ready));
  h.sim->fill_now(std::stoi(ack->broker_order_id), dec("4"), dec("98.5"));
  auto filled = h.wait_update(o.client_order_id, engine::order_status::filled);
  REQUIRE(filled);
  CHECK(filled->avg_fill_price == dec("98.5"));
  CHECK(filled->exec_id.size() > 0);
}

TEST_CASE("ibkr session: pacing violations (100) slow the session down, lost answers time out",
          "[unit][ibkr]") {
  tws::config cfg;
  cfg.pacing_limit = 5;
  harness h{cfg};
  auto s = h.start(h.spec({{"request_timeout_ms", "300"}}));
  REQUIRE(h.ask<engine::balance>(s, connect_atom_v));
  const auto& m = metrics::for_connection("ibkr", "conn_ibkr_unit");
  auto& code_100 = metrics::default_registry().counter_series(
      "brokerd_broker_errors_total", "",
      {{"broker", "ibkr"}, {"connection", "conn_ibkr_unit"}, {"code", "100"}});
  auto limited_before = m.rate_limited->value();
  auto code_100_before = code_100.value();
  // Positions and balances, one after the other: the simulator refuses beyond 5 msg/s and
  // drops what it refuses, so some answers never come and time out; the session keeps going.
  int answered = 0;
  int failed = 0;
  for (int i = 0; i < 4; ++i) {
    auto p = h.ask<engine::position_list>(s, positions_atom_v);
    auto b = h.ask<engine::balance>(s, balance_atom_v);
    (p ? answered : failed) += 1;
    (b ? answered : failed) += 1;
  }
  CHECK(answered > 0);
  CHECK(h.sim->statistics().pacing_violations > 0);
  // After the violations the session paces itself below the simulator's limit: the answers
  // come again and the violations stop.
  std::this_thread::sleep_for(std::chrono::milliseconds{1200});
  auto before = h.sim->statistics().pacing_violations;
  int later = 0;
  for (int i = 0; i < 3; ++i)
    later += h.ask<engine::balance>(s, balance_atom_v) ? 1 : 0;
  CHECK(later == 3);
  CHECK(h.sim->statistics().pacing_violations == before);
  // Each violation TWS reported is counted, also under its error code.
  auto counted = m.rate_limited->value() - limited_before;
  CHECK(counted > 0);
  CHECK(counted <= before);
  CHECK(code_100.value() - code_100_before == counted);
}

TEST_CASE("ibkr session: a peer that closes before the API is ready names the client id", "[unit][ibkr]") {
  harness h;
  h.sim->refuse_connections(true);
  auto s = h.start(h.spec());
  CHECK(h.wait_down(s).find("client id 5") != std::string::npos);
}
