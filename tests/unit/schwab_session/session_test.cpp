// The Schwab session actor on its own, against the Schwab simulator over loopback TLS, with a
// real event log for its sealed tokens.

#include <catch2/catch.hpp>

#include "actors/brokers/schwab/session.hpp"
#include "actors/brokers/schwab/tokens.hpp"
#include "actors/event_log_actor.hpp"
#include "persistence/event_log.hpp"
#include "tests/support/files.hpp"
#include "tests/support/session_harness.hpp"
#include "tools/sim/schwab_server.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using engine::decimal;
using ost = engine::order_status;
namespace ssim = brokerd::sim::schwab;
using namespace std::chrono_literals;

namespace {

decimal dec(const char* text) { return *decimal::parse(text); }

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using settings = std::vector<std::pair<std::string, std::string>>;

struct harness : test::session_harness {
  test::temp_dir dir{"brokerd-schwab-session"};
  std::unique_ptr<ssim::server> broker;
  std::shared_ptr<persistence::event_log> db;
  std::shared_ptr<const persistence::vault> vault = std::make_shared<const persistence::vault>(
      *persistence::vault::with_keys({persistence::master_key::generate()}));
  event_log_actor log_actor;

  explicit harness(ssim::config cfg = {}) {
    cfg.tick = 20ms;
    if (cfg.paths.empty())
      cfg.paths["AAPL"] = {dec("100")};
    auto started = ssim::server::start(cfg);
    REQUIRE(started.has_value());
    broker = std::move(*started);
    auto opened =
        persistence::event_log::open(dir.path() / "events", persistence::open_mode::read_write);
    REQUIRE(opened.has_value());
    db = std::make_shared<persistence::event_log>(std::move(*opened));
    log_actor = spawn_event_log(system(), db);
  }

  ~harness() override {
    stop_sessions();
    self()->send_exit(log_actor, caf::exit_reason::user_shutdown);
    log_actor = nullptr;
  }

  /// Stores a login whose access token is spent: the session refreshes first.
  void seed_login(const std::string& refresh = "demo-refresh-token",
                  std::int64_t refresh_left_ns = 7LL * 24 * 3600 * 1'000'000'000) {
    schwab::token_set t;
    t.access_token = secret{"spent"};
    t.access_expires_ns = 0;
    t.refresh_token = secret{refresh};
    t.refresh_expires_ns = now_ns() + refresh_left_ns;
    auto sealed = schwab::seal_tokens(t, *vault, "usr_unit", "conn_schwab_unit");
    REQUIRE(sealed);
    std::vector<persistence::registry_write> writes{
        {schwab::token_key("conn_schwab_unit"), *sealed}};
    REQUIRE(db->append({}, true, writes));
  }

  std::optional<schwab::token_set> stored_login() {
    auto v = db->get(schwab::token_key("conn_schwab_unit"));
    if (!v || !*v)
      return std::nullopt;
    auto t = schwab::open_tokens(**v, *vault, "usr_unit", "conn_schwab_unit");
    if (!t)
      return std::nullopt;
    return *t;
  }

  connection_spec spec(settings extra = {}) {
    connection_spec s;
    s.id = "conn_schwab_unit";
    s.user = "usr_unit";
    s.broker = engine::broker_id::schwab;
    s.settings = {{"app_key", "demo-app-key"},
                  {"app_secret", "demo-app-secret"},
                  {"base_url", "https://127.0.0.1:" + std::to_string(broker->port())},
                  {"ca_file", broker->ca_file().string()},
                  {"poll_ms", "250"}};
    for (auto& kv : extra) {
      auto same = std::find_if(s.settings.begin(), s.settings.end(),
                               [&](const auto& p) { return p.first == kv.first; });
      if (same != s.settings.end())
        same->second = kv.second;
      else
        s.settings.push_back(std::move(kv));
    }
    return s;
  }

  broker_session_actor start(const connection_spec& s) {
    schwab::environment env{&io(), log_actor, db, vault};
    return adopt(schwab::spawn_session(self().ptr(), s, me(), me(), env));
  }

  broker_session_actor ready(settings extra = {}) {
    auto s = start(spec(std::move(extra)));
    REQUIRE(wait_state(connection_state::ready, 15s).has_value());
    return s;
  }

  engine::order order(engine::order_type type, const char* qty, std::optional<decimal> limit = {},
                      std::optional<decimal> stop = {}) {
    auto o = session_harness::order(engine::broker_id::schwab, "conn_schwab_unit", type, dec(qty),
                                    limit, stop);
    o.created_ns = now_ns();
    return o;
  }
};

} // namespace

TEST_CASE("schwab::parse_config checks every setting and never echoes a value",
          "[unit][schwab]") {
  settings base{{"app_key", "K"}, {"app_secret", "s3cret-value"}};
  auto cfg = schwab::parse_config(base);
  REQUIRE(cfg.has_value());
  CHECK(cfg->api.host == "api.schwabapi.com");
  CHECK(cfg->requests_per_minute == 120);
  for (auto bad : settings{{"redirect_uri", "http://x"},
                           {"base_url", "http://x"},
                           {"base_url", "https://x/v1"},
                           {"ca_file", ""},
                           {"account", "12a"},
                           {"requests_per_minute", "121"},
                           {"poll_ms", "10"},
                           {"request_timeout_ms", "x"},
                           {"app_secret", "s3cret-value"},
                           {"colour", "red"}}) {
    INFO(bad.first << "=" << bad.second);
    auto with = base;
    with.push_back(bad);
    auto r = schwab::parse_config(with);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().find("s3cret-value") == std::string::npos);
  }
  CHECK_FALSE(schwab::parse_config({{"app_key", "K"}}).has_value());
}

TEST_CASE("schwab session: a stored login is refreshed, the account found, orders placed, "
          "polled and canceled",
          "[unit][schwab]") {
  harness h;
  h.seed_login();
  auto s = h.ready();
  // The spent access token was refreshed and the result stored sealed.
  auto login = h.stored_login();
  REQUIRE(login);
  CHECK(login->access_token != secret{"spent"});
  CHECK(h.broker->statistics().token_grants["refresh_token"] == 1);

  auto balance = h.ask<engine::balance>(s, balance_atom_v);
  REQUIRE(balance);
  CHECK(balance->cash == dec("100000"));

  auto market = h.order(engine::order_type::market, "3");
  auto ack = h.ask<order_ack>(s, place_atom_v, market);
  REQUIRE(ack);
  CHECK_FALSE(ack->broker_order_id.empty());
  auto filled = h.wait_update(market.client_order_id, ost::filled, 15s);
  REQUIRE(filled);
  CHECK(filled->filled_quantity == dec("3"));
  CHECK(filled->avg_fill_price == dec("100"));
  auto positions = h.ask<engine::position_list>(s, positions_atom_v);
  REQUIRE(positions);
  REQUIRE(positions->size() == 1);
  CHECK((*positions)[0].quantity == dec("3"));

  auto limit = h.order(engine::order_type::limit, "2", dec("50"));
  auto resting = h.ask<order_ack>(s, place_atom_v, limit);
  REQUIRE(resting);
  CHECK(resting->status == ost::new_);
  limit.broker_order_id = resting->broker_order_id;
  auto cancel = h.ask<order_ack>(s, cancel_atom_v, limit);
  REQUIRE(cancel);
  CHECK(cancel->status == ost::pending_cancel);
  REQUIRE(h.wait_update(limit.client_order_id, ost::canceled, 15s));
  auto again = h.ask<order_ack>(s, cancel_atom_v, limit);
  REQUIRE_FALSE(again);
  CHECK(describe(again.error()).code == errc::order_not_cancelable);

  // The router's reconciliation: by id, and by fingerprint for an order without one.
  market.broker_order_id = ack->broker_order_id;
  auto looked = h.ask<order_update>(s, status_atom_v, market);
  REQUIRE(looked);
  CHECK(looked->status == ost::filled);
  CHECK(h.broker->statistics().orders_created == 2);
}

TEST_CASE("schwab session: a create without Location is found by its fingerprint, once",
          "[unit][schwab]") {
  harness h;
  h.seed_login();
  auto s = h.ready();
  h.broker->omit_location(1);
  auto o = h.order(engine::order_type::limit, "7", dec("51"));
  auto ack = h.ask<order_ack>(s, place_atom_v, o);
  REQUIRE(ack);
  CHECK_FALSE(ack->broker_order_id.empty());
  h.drain_for(500ms);
  auto stats = h.broker->statistics();
  CHECK(stats.orders_created == 1);
  for (const auto& [fingerprint, n] : stats.creates_by_fingerprint)
    CHECK(n == 1);
}

TEST_CASE("schwab session: a 401 mid-session refreshes once and goes on", "[unit][schwab]") {
  harness h;
  h.seed_login();
  auto s = h.ready();
  auto grants = h.broker->statistics().token_grants["refresh_token"];
  h.broker->expire_access_tokens(1);
  auto balance = h.ask<engine::balance>(s, balance_atom_v);
  REQUIRE(balance);
  CHECK(h.broker->statistics().token_grants["refresh_token"] == grants + 1);
  // A create refused with 401 was not placed: the session says so (the router sends it again).
  h.broker->expire_access_tokens(1);
  auto o = h.order(engine::order_type::market, "1");
  auto refused = h.ask<order_ack>(s, place_atom_v, o);
  REQUIRE_FALSE(refused);
  CHECK(describe(refused.error()).code == errc::session_unavailable);
  CHECK(h.broker->statistics().orders_created == 0);
  auto retried = h.ask<order_ack>(s, place_atom_v, h.order(engine::order_type::market, "1"));
  CHECK(retried);
}

TEST_CASE("schwab session: a revoked or expired login ends in auth_required, stored as over",
          "[unit][schwab]") {
  SECTION("revoked at Schwab") {
    harness h;
    h.seed_login();
    h.broker->revoke_refresh_tokens();
    auto s = h.start(h.spec());
    auto why = h.wait_state(connection_state::auth_required, 15s);
    REQUIRE(why);
    CHECK(why->find("refused the refresh token") != std::string::npos);
    CHECK(h.wait_down(s) != "still running");
    auto login = h.stored_login();
    REQUIRE(login);
    CHECK(schwab::refresh_expired(*login, now_ns()));
    // The next session does not ask Schwab again.
    auto refusals = h.broker->statistics().token_refusals;
    auto next = h.start(h.spec());
    REQUIRE(h.wait_state(connection_state::auth_required, 15s));
    CHECK(h.broker->statistics().token_refusals == refusals);
  }
  SECTION("no login stored") {
    harness h;
    auto s = h.start(h.spec());
    auto why = h.wait_state(connection_state::auth_required);
    REQUIRE(why);
    CHECK(why->find("no Schwab login") != std::string::npos);
  }
  SECTION("a login in its last hour is announced") {
    harness h;
    h.seed_login("demo-refresh-token", 30LL * 60 * 1'000'000'000);
    auto s = h.start(h.spec());
    auto why = h.wait_state(connection_state::ready, 15s);
    REQUIRE(why);
    CHECK(why->find("expires in 0 h") != std::string::npos);
  }
  SECTION("a login that ends while the session runs") {
    harness h;
    h.seed_login("demo-refresh-token", 3LL * 1'000'000'000);
    auto s = h.start(h.spec());
    REQUIRE(h.wait_state(connection_state::ready, 15s));
    auto over = h.wait_state(connection_state::auth_required, 10s);
    REQUIRE(over);
    CHECK(over->find("expired") != std::string::npos);
    CHECK(h.wait_down(s) != "still running");
  }
}

TEST_CASE("schwab session: a 429 storm loses nothing and waits out Retry-After",
          "[unit][schwab]") {
  ssim::config cfg;
  cfg.requests_per_minute = 4;
  cfg.rate_window = 2s;
  harness h{cfg};
  h.seed_login();
  auto s = h.ready({{"requests_per_minute", "120"}, {"poll_ms", "600000"}});
  for (int i = 0; i < 6; ++i)
    h.self()->send(s, place_atom_v, h.order(engine::order_type::limit, "1", dec(i % 2 ? "50" : "49")));
  int acked = 0;
  for (int i = 0; i < 6; ++i)
    h.self()->receive([&](order_ack& a) { acked += a.broker_order_id.empty() ? 0 : 1; },
                      [&](caf::error& err) { FAIL(describe(err).message); },
                      caf::after(40s) >> [] { FAIL("an order got no answer"); });
  CHECK(acked == 6);
  auto stats = h.broker->statistics();
  CHECK(stats.orders_created == 6);
  CHECK(stats.early_retries == 0);
}

TEST_CASE("schwab session: a rotated refresh token is stored before use and carries the next "
          "session",
          "[unit][schwab]") {
  ssim::config cfg;
  cfg.rotation = ssim::refresh_rotation::rotate_and_revoke;
  harness h{cfg};
  h.seed_login();
  auto first = h.ready();
  auto login = h.stored_login();
  REQUIRE(login);
  CHECK(login->refresh_token != secret{"demo-refresh-token"});
  CHECK(h.broker->statistics().refresh_tokens_issued == 1);
  // As after a restart: a new session, whose stored access token Schwab no longer takes, must
  // refresh with the rotated token (the first one no longer works).
  h.stop_sessions();
  h.broker->expire_all_access_tokens();
  auto second = h.ready();
  auto balance = h.ask<engine::balance>(second, balance_atom_v);
  REQUIRE(balance);
  CHECK(h.broker->statistics().token_refusals == 0);
  CHECK(h.broker->statistics().refresh_tokens_issued == 2);
}

TEST_CASE("schwab session: reconciliation finds an order without its id by its fingerprint, "
          "and says when Schwab lists none",
          "[unit][schwab]") {
  harness h;
  h.seed_login();
  auto first = h.ready();
  h.broker->hold_fills(true);
  auto o = h.order(engine::order_type::limit, "4", dec("52"));
  auto ack = h.ask<order_ack>(first, place_atom_v, o);
  REQUIRE(ack);
  // A later session (after a restart) learns of the order from the router without an id.
  h.stop_sessions();
  auto second = h.ready();
  auto found = h.ask<order_update>(second, status_atom_v, o);
  REQUIRE(found);
  CHECK(found->broker_order_id == ack->broker_order_id);
  // Working (or, before the simulator's next tick, still being activated).
  CHECK((found->status == ost::new_ || found->status == ost::pending_new));
  auto never = h.order(engine::order_type::limit, "9", dec("53"));
  auto missing = h.ask<order_update>(second, status_atom_v, never);
  REQUIRE_FALSE(missing);
  CHECK(describe(missing.error()).code == errc::not_found_at_broker);
  // By an id Schwab does not know.
  never.broker_order_id = "999999";
  auto unknown = h.ask<order_update>(second, status_atom_v, never);
  REQUIRE_FALSE(unknown);
}
