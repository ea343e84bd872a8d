// brokerd trading through the Alpaca Trading API v2: a brokerd process connects over HTTPS and
// the trade_updates websocket to the Alpaca simulator running in this test process, on
// loopback, trusting the simulator's generated CA.

#include <algorithm>
#include <cctype>
#include <map>
#include <thread>

#include <catch2/catch.hpp>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/alpaca_connect.hpp"
#include "tests/support/events.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"
#include "tools/sim/alpaca_server.hpp"

using namespace brokerd::test;
using brokerd::engine::decimal;
namespace alpaca = brokerd::sim::alpaca;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

decimal dec(const char* text) {
  return *decimal::parse(text);
}

/// Prices that only change when a test sets them: AAPL at 100, MSFT at 400, a tick of 20 ms.
alpaca::config sim_config() {
  alpaca::config cfg;
  cfg.tick = milliseconds{20};
  cfg.paths["AAPL"] = {dec("100")};
  cfg.paths["MSFT"] = {dec("400")};
  return cfg;
}

std::unique_ptr<alpaca::server> start_sim(alpaca::config cfg) {
  auto sim = alpaca::server::start(std::move(cfg));
  if (!sim)
    throw std::runtime_error(sim.error());
  return std::move(*sim);
}

/// A simulator and a brokerd child. Members are destroyed in reverse: brokerd stops before the
/// simulator it talks to.
struct gateway {
  temp_dir dir{"brokerd-alpaca"};
  std::unique_ptr<alpaca::server> sim;
  brokerd_instance server{dir.path() / "data"};
  // Longer than the front's 15 s request timeout, so that a slow connect answers rather than
  // throws.
  http_client client{server.port(), seconds{30}};
  std::string conn;

  explicit gateway(alpaca::config cfg) : sim{start_sim(std::move(cfg))} {}

  http_client::response get(const std::string& target) {
    return client.request("GET", target, {}, server.auth());
  }
  http_client::response post(const std::string& target, const std::string& body) {
    return client.request("POST", target, body, server.auth());
  }
  http_client::response del(const std::string& target) {
    return client.request("DELETE", target, {}, server.auth());
  }
  /// Credentials for this simulator: its port and CA, the pair it accepts, and a periodic
  /// reconciliation far beyond any test so that only the stream and the gap-fill after a
  /// reconnect report statuses.
  alpaca_connect settings() const {
    alpaca_connect s;
    s.port = sim->port();
    s.ca_file = sim->ca_file();
    s.reconcile_interval_ms = 600'000;
    return s;
  }
  void connect(const alpaca_connect& s) {
    auto r = post("/api/brokers/alpaca/connect", s.body());
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto doc = parse_json(r.body);
    conn = json_string(doc, "connectionId");
    CHECK(json_string(json_member(doc, "balance"), "cash") == "100000");
  }
  std::string place(const std::string& fields) {
    auto r = post("/api/orders", R"({"connectionId":")" + conn + R"(",)" + fields + "}");
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_string(parse_json(r.body), "id");
  }
  std::string status_of(const std::string& id) {
    return json_string(parse_json(get("/api/orders/" + id).body), "status");
  }
  /// Polls the order until its status is `want` (bounded); returns the last order body.
  std::string wait_status(const std::string& id, const std::string& want,
                          milliseconds limit = seconds{20}) {
    std::string body;
    wait_until(
        [&] {
          body = get("/api/orders/" + id).body;
          return json_string(parse_json(body), "status") == want;
        },
        limit, milliseconds{20});
    return body;
  }
  rapidjson::Document events() { return read_events(client, server.auth()); }
  std::vector<std::string> connection_ids() {
    std::vector<std::string> ids;
    auto doc = parse_json(get("/api/brokers/user/configured").body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      ids.push_back(json_string(c, "id"));
    return ids;
  }
};

struct fixture : gateway {
  fixture() : gateway{sim_config()} {}
};

/// The statuses an order went through according to its order.status events, each checked to
/// start where the previous one ended (the first from pending_new).
std::vector<std::string> transitions(const std::vector<const rapidjson::Value*>& events) {
  std::vector<std::string> out;
  std::string at = "pending_new";
  for (const auto* ev : events) {
    auto type = json_string(*ev, "type");
    CHECK(type != "order.anomaly");
    if (type != "order.status")
      continue;
    CHECK(json_string(*ev, "from") == at);
    at = json_string(*ev, "to");
    out.push_back(at);
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// True when an error text says the broker refused the credentials (Alpaca's 40110000, its
/// "request is not authorized", or brokerd's own wording of it).
bool says_credentials_refused(const std::string& text) {
  auto t = lower(text);
  for (const char* word : {"40110000", "not authorized", "unauthorized", "credential"})
    if (t.find(word) != std::string::npos)
      return true;
  return false;
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "Alpaca: market, limit, stop and stop-limit orders fill on the price path, a "
                 "resting limit cancels, balance and positions follow the fills",
                 "[integration][alpaca]") {
  connect(settings());
  auto market = place(
      R"("symbol":"AAPL","side":"buy","quantity":"10","type":"market","timeInForce":"day","clientOrderId":"alp-mkt")");
  auto mkt = parse_json(wait_status(market, "filled"));
  CHECK(json_string(mkt, "status") == "filled");
  CHECK(json_string(mkt, "filledQuantity") == "10");
  CHECK(json_string(mkt, "avgFillPrice") == "100");
  CHECK_FALSE(json_string(mkt, "brokerOrderId").empty());

  auto limit = place(
      R"("symbol":"MSFT","side":"buy","quantity":"5","type":"limit","limitPrice":"390","timeInForce":"gtc","clientOrderId":"alp-lmt")");
  auto stop = place(
      R"("symbol":"MSFT","side":"buy","quantity":"5","type":"stop","stopPrice":"405","timeInForce":"gtc","clientOrderId":"alp-stp")");
  auto stop_limit = place(
      R"("symbol":"AAPL","side":"sell","quantity":"4","type":"stop_limit","stopPrice":"95","limitPrice":"94","timeInForce":"gtc","clientOrderId":"alp-stl")");
  auto resting = place(
      R"("symbol":"AAPL","side":"buy","quantity":"1","type":"limit","limitPrice":"50","timeInForce":"day","clientOrderId":"alp-cxl")");
  for (const auto& id : {limit, stop, stop_limit, resting})
    CHECK(json_string(parse_json(wait_status(id, "new")), "status") == "new");

  auto r = del("/api/orders/" + resting);
  CHECK(r.status == 202);
  CHECK(json_string(parse_json(wait_status(resting, "canceled")), "status") == "canceled");

  sim->set_price("MSFT", dec("406")); // the buy stop triggers and fills at the market
  auto stp = parse_json(wait_status(stop, "filled"));
  CHECK(json_string(stp, "status") == "filled");
  CHECK(json_string(stp, "avgFillPrice") == "406");
  CHECK(status_of(limit) == "new");
  sim->set_price("MSFT", dec("389")); // the buy limit at 390 is marketable
  auto lmt = parse_json(wait_status(limit, "filled"));
  CHECK(json_string(lmt, "status") == "filled");
  CHECK(json_string(lmt, "avgFillPrice") == "389");

  // At 93.5 the sell stop (95) triggers but its 94 limit is not reached: it keeps working.
  sim->set_price("AAPL", dec("93.5"));
  CHECK_FALSE(wait_until([&] { return status_of(stop_limit) != "new"; }, milliseconds{300},
                         milliseconds{20}));
  sim->set_price("AAPL", dec("94"));
  auto stl = parse_json(wait_status(stop_limit, "filled"));
  CHECK(json_string(stl, "status") == "filled");
  CHECK(json_string(stl, "filledQuantity") == "4");
  CHECK(json_string(stl, "avgFillPrice") == "94");

  // Cash: 100000 - 10*100 - 5*406 - 5*389 + 4*94 = 95401, nothing reserved by open orders;
  // equity adds AAPL 6*94 and MSFT 10*389.
  auto balance = parse_json(get("/api/connections/" + conn + "/balance").body);
  CHECK(json_string(balance, "cash") == "95401");
  CHECK(json_string(balance, "equity") == "99855");
  CHECK(json_string(balance, "buyingPower") == "95401");
  CHECK(json_string(balance, "currency") == "USD");

  auto positions = parse_json(get("/api/connections/" + conn + "/positions").body);
  std::map<std::string, const rapidjson::Value*> by_symbol;
  for (const auto& p : json_member(positions, "positions").GetArray())
    by_symbol[json_string(p, "symbol")] = &p;
  REQUIRE(by_symbol.size() == 2);
  REQUIRE(by_symbol.contains("AAPL"));
  REQUIRE(by_symbol.contains("MSFT"));
  CHECK(json_string(*by_symbol["AAPL"], "quantity") == "6");
  CHECK(json_string(*by_symbol["AAPL"], "avgCost") == "100");
  CHECK(json_string(*by_symbol["AAPL"], "marketValue") == "564");
  CHECK(json_string(*by_symbol["MSFT"], "quantity") == "10");
  CHECK(json_string(*by_symbol["MSFT"], "avgCost") == "397.5");
  CHECK(json_string(*by_symbol["MSFT"], "marketValue") == "3890");

  // The stop-limit's history: submitted, acknowledged, filled, all from the stream.
  auto all = events();
  auto history = events_of_order(all, stop_limit);
  REQUIRE(history.size() >= 3);
  CHECK(json_string(*history.front(), "type") == "order.submitted");
  CHECK(transitions(history) == std::vector<std::string>{"new", "filled"});
  for (const auto* ev : history)
    if (json_string(*ev, "type") == "order.status")
      CHECK(json_string(*ev, "source") == "broker");
  const auto& last = *history.back();
  CHECK(json_string(last, "to") == "filled");
  CHECK(json_string(last, "filledQuantity") == "4");
  CHECK(json_string(last, "avgFillPrice") == "94");
  CHECK(transitions(events_of_order(all, resting)).back() == "canceled");

  auto stats = sim->statistics();
  CHECK(stats.orders_created == 5);
  for (const char* coid : {"alp-mkt", "alp-lmt", "alp-stp", "alp-stl", "alp-cxl"})
    CHECK(stats.creates_by_client_order_id.at(coid) == 1);
}

TEST_CASE_METHOD(fixture,
                 "Alpaca: a fill the stream withheld reaches the log once, through the gap-fill "
                 "after the stream reconnects",
                 "[integration][alpaca]") {
  connect(settings());
  sim->hold_fills(true);
  auto id = place(
      R"("symbol":"AAPL","side":"buy","quantity":"20","type":"limit","limitPrice":"101","timeInForce":"gtc","clientOrderId":"alp-gap")");
  CHECK(json_string(parse_json(wait_status(id, "new")), "status") == "new");
  auto streams_before = sim->statistics().stream_connections;

  sim->drop_events(1); // the fill's event
  sim->hold_fills(false);
  // The fill happened at the broker (the account paid for it) ...
  REQUIRE(wait_until(
      [&] {
        auto b = get("/api/connections/" + conn + "/balance");
        return b.status == 200 && json_string(parse_json(b.body), "cash") == "98000";
      },
      seconds{5}, milliseconds{50}));
  // ... and brokerd did not hear of it.
  CHECK(status_of(id) == "new");

  sim->drop_streams();
  auto filled = parse_json(wait_status(id, "filled", seconds{30}));
  CHECK(json_string(filled, "status") == "filled");
  CHECK(json_string(filled, "filledQuantity") == "20");
  CHECK(json_string(filled, "avgFillPrice") == "100");
  CHECK(sim->statistics().stream_connections > streams_before);

  auto all = events();
  auto history = events_of_order(all, id);
  int to_filled = 0;
  for (const auto* ev : history)
    if (json_has(*ev, "to") && json_string(*ev, "to") == "filled") {
      ++to_filled;
      CHECK(json_string(*ev, "source") == "reconcile");
    }
  CHECK(to_filled == 1);
  CHECK(transitions(history) == std::vector<std::string>{"new", "filled"});

  // The reconnected stream reports again.
  auto after = place(
      R"("symbol":"AAPL","side":"buy","quantity":"1","type":"market","timeInForce":"day","clientOrderId":"alp-after-gap")");
  CHECK(json_string(parse_json(wait_status(after, "filled")), "status") == "filled");
  auto after_history = events_of_order(events(), after);
  REQUIRE_FALSE(after_history.empty());
  CHECK(json_string(*after_history.back(), "source") == "broker");

  auto stats = sim->statistics();
  CHECK(stats.creates_by_client_order_id.at("alp-gap") == 1);
  CHECK(stats.orders_created == 2);
}

TEST_CASE_METHOD(fixture,
                 "Alpaca: a create that timed out after the broker accepted it is found by its "
                 "client order id and never posted again",
                 "[integration][alpaca]") {
  auto s = settings();
  s.request_timeout_ms = 1000;
  connect(s);
  auto created_before = sim->statistics().orders_created;

  sim->delay_responses(milliseconds{1500});
  // The stream says nothing of it either (its `new` and `fill`): only REST can tell.
  sim->drop_events(2);
  auto id = place(
      R"("symbol":"AAPL","side":"buy","quantity":"3","type":"market","timeInForce":"day","clientOrderId":"alp-slow")");
  // brokerd gives up on the POST's answer after 1 s; the broker has the order by then.
  std::this_thread::sleep_for(milliseconds{1200});
  CHECK(status_of(id) != "filled");
  sim->delay_responses(milliseconds{0});

  auto done = parse_json(wait_status(id, "filled", seconds{30}));
  CHECK(json_string(done, "status") == "filled");
  CHECK(json_string(done, "filledQuantity") == "3");
  CHECK(json_string(done, "avgFillPrice") == "100");
  CHECK_FALSE(json_string(done, "brokerOrderId").empty());
  auto path = transitions(events_of_order(events(), id));
  for (const auto& p : path)
    UNSCOPED_INFO("-> " << p);
  REQUIRE_FALSE(path.empty());
  CHECK(path.back() == "filled");
  CHECK(std::find(path.begin(), path.end(), "rejected") == path.end());

  auto stats = sim->statistics();
  CHECK(stats.creates_by_client_order_id.at("alp-slow") == 1);
  CHECK(stats.orders_created == created_before + 1);
}

TEST_CASE("Alpaca: a 429 storm delays orders but sends each once and never retries early",
          "[integration][alpaca]") {
  auto cfg = sim_config();
  cfg.requests_per_minute = 20;
  cfg.rate_window = seconds{3};
  gateway g{cfg};
  auto s = g.settings();
  s.requests_per_minute = 1000;
  g.connect(s);

  constexpr int orders = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < orders; ++i)
    ids.push_back(g.place(
        R"("symbol":"AAPL","side":"buy","quantity":"1","type":"market","timeInForce":"day","clientOrderId":"storm-)" +
        std::to_string(i) + R"(")"));

  bool all_created = wait_until([&] { return g.sim->statistics().orders_created >= orders; },
                                seconds{40}, milliseconds{50});
  std::map<std::string, int> statuses;
  wait_until(
      [&] {
        statuses.clear();
        auto doc = parse_json(g.get("/api/orders?connectionId=" + g.conn).body);
        for (const auto& o : json_member(doc, "orders").GetArray())
          ++statuses[json_string(o, "status")];
        return statuses["filled"] == orders;
      },
      seconds{20}, milliseconds{100});
  auto stats = g.sim->statistics();
  INFO("created " << stats.orders_created << ", requests " << stats.requests << ", 429s "
                  << stats.rate_limited << ", early retries " << stats.early_retries << ", filled "
                  << statuses["filled"] << ", new " << statuses["new"] << ", unknown "
                  << statuses["unknown"] << ", rejected " << statuses["rejected"]);
  REQUIRE(all_created);
  CHECK(stats.orders_created == orders);
  CHECK(stats.creates_by_client_order_id.size() == orders);
  for (int i = 0; i < orders; ++i)
    CHECK(stats.creates_by_client_order_id["storm-" + std::to_string(i)] == 1);
  for (const auto& id : ids) {
    auto st = g.status_of(id);
    INFO(id);
    CHECK((st == "filled" || st == "new" || st == "partially_filled"));
  }
  CHECK(statuses["filled"] == orders);
  CHECK(stats.rate_limited > 0);
  CHECK(stats.early_retries == 0);
  CHECK(stats.max_in_any_minute <= 20);
}

TEST_CASE("Alpaca: refused keys answer an error naming the refusal, and a secret is never "
          "shown or logged",
          "[integration][alpaca]") {
  const std::string good_secret = "sim-Secret-3b7e91d4";
  const std::string bad_secret = "wrong-Secret-9c41e7a2";
  auto cfg = sim_config();
  cfg.secret = good_secret;
  gateway g{cfg};
  auto bad = g.settings();
  bad.api_secret = bad_secret;

  auto connections_before = g.connection_ids();
  auto refused = g.post("/api/brokers/alpaca/connect", bad.body());
  INFO(refused.status << " " << refused.body);
  CHECK(((refused.status >= 400 && refused.status < 500) || refused.status == 502));
  CHECK(refused.status != 400); // the body itself is valid
  CHECK(refused.status != 404);
  CHECK(says_credentials_refused(refused.body));
  CHECK(refused.body.find(bad_secret) == std::string::npos);

  auto probe = g.post("/api/brokers/alpaca/test", bad.body());
  INFO(probe.status << " " << probe.body);
  CHECK(probe.body.find(bad_secret) == std::string::npos);
  CHECK(says_credentials_refused(probe.body));
  if (probe.status == 200)
    CHECK_FALSE(json_member(parse_json(probe.body), "ok").GetBool());

  CHECK(g.connection_ids() == connections_before); // nothing was stored

  auto good = g.settings();
  good.api_secret = good_secret;
  g.connect(good);
  auto id = g.place(
      R"("symbol":"AAPL","side":"buy","quantity":"1","type":"market","timeInForce":"day","clientOrderId":"alp-keys")");
  CHECK(json_string(parse_json(g.wait_status(id, "filled")), "status") == "filled");

  auto configured = g.get("/api/brokers/user/configured").body;
  CHECK(configured.find(g.conn) != std::string::npos);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  g.events().Accept(w);
  std::string events{buf.GetString(), buf.GetSize()};
  CHECK(events.find(g.conn) != std::string::npos);
  auto exit_status = g.server.stop();
  INFO("brokerd says:\n" << g.server.process().output());
  REQUIRE(exit_status.has_value());
  CHECK(*exit_status == 0); // and the log is complete, shutdown included
  auto log = g.server.process().output();
  CHECK_FALSE(log.empty());
  for (const auto& secret : {good_secret, bad_secret}) {
    INFO("secret " << secret);
    CHECK(configured.find(secret) == std::string::npos);
    CHECK(events.find(secret) == std::string::npos);
    CHECK(log.find(secret) == std::string::npos);
  }
}
