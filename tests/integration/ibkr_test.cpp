// brokerd trading through the TWS protocol: a brokerd process connects over HTTP to the TWS
// simulator running in this test process, on loopback.

#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"
#include "tools/sim/tws_server.hpp"

using namespace brokerd::test;
using brokerd::engine::decimal;
namespace tws = brokerd::sim::tws;

namespace {

decimal dec(const char* text) { return *decimal::parse(text); }

std::unique_ptr<tws::server> start_sim(std::uint16_t port = 0) {
  tws::config cfg;
  cfg.port = port;
  cfg.tick = std::chrono::milliseconds{20};
  cfg.paths["AAPL"] = {dec("100")};
  cfg.paths["MSFT"] = {dec("400")};
  auto sim = tws::server::start(cfg);
  if (!sim)
    throw std::runtime_error(sim.error());
  return std::move(*sim);
}

struct fixture {
  temp_dir dir{"brokerd-ibkr"};
  std::unique_ptr<tws::server> sim = start_sim();
  brokerd_instance server{dir.path() / "data"};
  http_client client{server.port()};
  std::string conn;

  http_client::response get(const std::string& target) {
    return client.request("GET", target, {}, server.auth());
  }
  http_client::response post(const std::string& target, const std::string& body) {
    return client.request("POST", target, body, server.auth());
  }
  http_client::response del(const std::string& target) {
    return client.request("DELETE", target, {}, server.auth());
  }
  std::string credentials(int client_id = 7) const {
    return R"({"isPaperTrading":true,"credentials":{"host":"127.0.0.1","port":)" +
           std::to_string(sim->port()) + R"(,"clientId":)" + std::to_string(client_id) + "}}";
  }
  void connect(int client_id = 7) {
    auto r = post("/api/brokers/ibkr/connect", credentials(client_id));
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
  /// Polls the order until its status is `want` (bounded); returns the last order body.
  std::string wait_status(const std::string& id, const std::string& want,
                          std::chrono::milliseconds limit = std::chrono::seconds{20}) {
    std::string body;
    wait_until(
        [&] {
          body = get("/api/orders/" + id).body;
          return json_string(parse_json(body), "status") == want;
        },
        limit, std::chrono::milliseconds{20});
    return body;
  }
  std::string state_of_connection() {
    auto doc = parse_json(get("/api/brokers/user/configured").body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      if (json_string(c, "id") == conn)
        return json_string(c, "state");
    return {};
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "IBKR: connect, a market order fills and moves position and balance",
                 "[integration][ibkr]") {
  connect();
  auto id = place(R"("symbol":"AAPL","side":"buy","quantity":10,"type":"market","clientOrderId":"ib-mkt-1")");
  auto body = parse_json(wait_status(id, "filled"));
  CHECK(json_string(body, "filledQuantity") == "10");
  CHECK(json_string(body, "avgFillPrice") == "100");
  CHECK_FALSE(json_string(body, "brokerOrderId").empty());

  auto positions = parse_json(get("/api/connections/" + conn + "/positions").body);
  REQUIRE(json_member(positions, "positions").Size() == 1);
  const auto& p = json_member(positions, "positions")[0];
  CHECK(json_string(p, "symbol") == "AAPL");
  CHECK(json_string(p, "quantity") == "10");
  auto avg_cost = decimal::parse(json_string(p, "avgCost"));
  REQUIRE(avg_cost);
  CHECK(*avg_cost >= dec("100")); // IB's avgCost includes the commission
  CHECK(*avg_cost < dec("100.2"));
  CHECK(json_string(p, "marketValue") == "1000"); // TWS' portfolio value at the price of 100

  auto balance = parse_json(get("/api/connections/" + conn + "/balance").body);
  auto cash = decimal::parse(json_string(balance, "cash"));
  REQUIRE(cash);
  CHECK(*cash < dec("99000.01")); // 1,000 spent plus commission
  CHECK(*cash > dec("98990"));

  auto stats = sim->statistics();
  CHECK(stats.placements_by_order_ref.at("ib-mkt-1") == 1);
  CHECK(stats.pacing_violations == 0);
  CHECK(stats.decode_errors == 0);
}

TEST_CASE_METHOD(fixture, "IBKR: limit, stop and stop-limit orders trigger on the price path; a cancel",
                 "[integration][ibkr]") {
  connect();
  auto limit = place(R"("symbol":"MSFT","side":"buy","quantity":5,"type":"limit","limitPrice":"390","clientOrderId":"ib-lmt")");
  auto stop = place(R"("symbol":"MSFT","side":"buy","quantity":5,"type":"stop","stopPrice":"405","clientOrderId":"ib-stp")");
  auto stop_limit = place(R"("symbol":"MSFT","side":"sell","quantity":5,"type":"stop_limit","stopPrice":"395","limitPrice":"394","clientOrderId":"ib-stl")");
  auto cancel_me = place(R"("symbol":"AAPL","side":"buy","quantity":1,"type":"limit","limitPrice":"50","clientOrderId":"ib-cxl")");
  for (const auto& id : {limit, stop, stop_limit, cancel_me})
    CHECK(json_string(parse_json(wait_status(id, "new")), "status") == "new");

  auto r = del("/api/orders/" + cancel_me);
  CHECK(r.status == 202);
  CHECK(json_string(parse_json(wait_status(cancel_me, "canceled")), "status") == "canceled");

  sim->set_price("MSFT", dec("406")); // the buy stop triggers and fills at the market
  auto stp = parse_json(wait_status(stop, "filled"));
  CHECK(json_string(stp, "avgFillPrice") == "406");
  sim->set_price("MSFT", dec("389")); // the limit buy fills; the sell stop triggers below 395
                                      // but its 394 limit is not reached
  auto lmt = parse_json(wait_status(limit, "filled"));
  CHECK(json_string(lmt, "avgFillPrice") == "389");
  CHECK(json_string(parse_json(get("/api/orders/" + stop_limit).body), "status") == "new");
  sim->set_price("MSFT", dec("394.5"));
  auto stl = parse_json(wait_status(stop_limit, "filled"));
  CHECK(json_string(stl, "avgFillPrice") == "394.5");

  for (const char* ref : {"ib-lmt", "ib-stp", "ib-stl", "ib-cxl"})
    CHECK(sim->statistics().placements_by_order_ref.at(ref) == 1);
}

TEST_CASE_METHOD(fixture, "IBKR: a fill while the connection is down reaches the log once after reconnect",
                 "[integration][ibkr]") {
  connect();
  sim->hold_fills(true);
  auto id = place(R"("symbol":"AAPL","side":"buy","quantity":20,"type":"limit","limitPrice":"101","clientOrderId":"ib-gap")");
  auto working = parse_json(wait_status(id, "new"));
  auto broker_id = std::stoi(json_string(working, "brokerOrderId"));

  sim->refuse_connections(true);
  sim->drop_connections();
  REQUIRE(wait_until([&] { return state_of_connection() != "ready"; }, std::chrono::seconds{10},
                     std::chrono::milliseconds{10}));
  sim->fill_now(broker_id, dec("20"), dec("100.5"));
  sim->refuse_connections(false);

  auto filled = parse_json(wait_status(id, "filled", std::chrono::seconds{30}));
  CHECK(json_string(filled, "filledQuantity") == "20");
  CHECK(json_string(filled, "avgFillPrice") == "100.5");
  CHECK(sim->statistics().placements_by_order_ref.at("ib-gap") == 1);

  // The fill came through reconciliation, exactly once.
  auto events = parse_json(get("/api/events?since=1&limit=1000").body);
  int reconcile_fills = 0;
  for (const auto& ev : json_member(events, "events").GetArray())
    if (json_has(ev, "orderId") && json_string(ev, "orderId") == id && json_has(ev, "to") &&
        json_string(ev, "to") == "filled") {
      ++reconcile_fills;
      CHECK(json_string(ev, "source") == "reconcile");
    }
  CHECK(reconcile_fills == 1);

  REQUIRE(server.stop() == 0);
  auto verify = run_program({program("brokerctl").string(), "verify", "--data-dir", (dir.path() / "data").string()},
                            dir.path() / "verify.log");
  INFO(verify.output);
  CHECK(verify.status == 0);
}

TEST_CASE_METHOD(fixture, "IBKR: a burst of 500 orders never breaks the 50 msg/s pacing and all are sent",
                 "[integration][ibkr][pacing]") {
  connect();
  sim->hold_fills(true);
  std::vector<std::string> ids;
  for (int i = 0; i < 500; ++i)
    ids.push_back(place(R"("symbol":"AAPL","side":"buy","quantity":1,"type":"limit","limitPrice":"90","clientOrderId":"burst-)" +
                        std::to_string(i) + R"(")"));
  bool all_sent = wait_until([&] { return sim->statistics().orders_placed >= 500; },
                             std::chrono::seconds{40}, std::chrono::milliseconds{50});
  auto stats = sim->statistics();
  INFO("placed " << stats.orders_placed << ", messages " << stats.messages << ", violations "
                 << stats.pacing_violations << ", duplicate ids " << stats.duplicate_order_ids
                 << "; brokerd says:\n"
                 << server.process().output());
  REQUIRE(all_sent);
  CHECK(stats.orders_placed == 500);
  CHECK(stats.pacing_violations == 0);
  CHECK(stats.max_in_any_second <= 50);
  CHECK(stats.placements_by_order_ref.size() == 500);
  for (const auto& [ref, n] : stats.placements_by_order_ref)
    CHECK(n == 1);
  CHECK(json_string(parse_json(wait_status(ids.back(), "new")), "status") == "new");
}

TEST_CASE_METHOD(fixture, "IBKR: the test endpoint reports reachability and stores nothing",
                 "[integration][ibkr]") {
  auto connection_ids = [this] {
    std::vector<std::string> ids;
    auto doc = parse_json(get("/api/brokers/user/configured").body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      ids.push_back(json_string(c, "id"));
    return ids;
  };
  auto before = connection_ids();
  auto ok = post("/api/brokers/ibkr/test", credentials(11));
  REQUIRE(ok.status == 200);
  auto doc = parse_json(ok.body);
  CHECK(json_member(doc, "ok").GetBool());
  CHECK(json_string(json_member(doc, "balance"), "equity") == "100000");

  // A port held bound but not listening, so nothing else can take it meanwhile.
  refusing_port refusing;
  auto port = refusing.port();
  auto bad = post("/api/brokers/ibkr/test",
                  R"({"credentials":{"host":"127.0.0.1","port":)" + std::to_string(port) +
                      R"(,"clientId":1}})");
  REQUIRE(bad.status == 200);
  auto bad_doc = parse_json(bad.body);
  CHECK_FALSE(json_member(bad_doc, "ok").GetBool());
  CHECK(json_string(bad_doc, "error").find("cannot connect") != std::string::npos);

  auto refused = post("/api/brokers/ibkr/connect",
                      R"({"credentials":{"host":"127.0.0.1","port":)" + std::to_string(port) +
                          R"(,"clientId":1}})");
  CHECK(refused.status == 502);
  CHECK(json_string(parse_json(refused.body), "error") == "connection_failed");

  for (const char* body :
       {R"({"credentials":{"host":"127.0.0.1","port":0,"clientId":1}})",
        R"({"credentials":{"host":"127.0.0.1","port":4001}})",
        R"({"credentials":{"host":"127.0.0.1","port":4001,"clientId":1,"password":"x"}})",
        R"({"credentials":{"host":"bad host!","port":4001,"clientId":1}})",
        R"({"credentials":"127.0.0.1:4001"})", R"([1,2])", R"({"credentials":)"}) {
    auto r = post("/api/brokers/ibkr/connect", body);
    INFO(body << " -> " << r.body);
    CHECK(r.status == 400);
  }
  CHECK(post("/api/brokers/nasdaq/connect", credentials()).status == 404);
  CHECK(connection_ids() == before);
}

TEST_CASE_METHOD(fixture, "IBKR: partial fills count each execution once, duplicates and late statuses change nothing",
                 "[integration][ibkr]") {
  connect();
  sim->hold_fills(true);
  auto id = place(R"("symbol":"AAPL","side":"buy","quantity":100,"type":"limit","limitPrice":"95","clientOrderId":"ib-part")");
  auto broker_id = std::stoi(json_string(parse_json(wait_status(id, "new")), "brokerOrderId"));
  sim->duplicate_order_status(true);
  sim->fill_now(broker_id, dec("30"), dec("95"));
  auto part = parse_json(wait_status(id, "partially_filled"));
  CHECK(json_string(part, "filledQuantity") == "30");
  sim->delay_order_status(std::chrono::milliseconds{200});
  sim->fill_now(broker_id, dec("70"), dec("94"));
  auto done = parse_json(wait_status(id, "filled"));
  CHECK(json_string(done, "filledQuantity") == "100");
  CHECK(json_string(done, "avgFillPrice") == "94.3");
  std::this_thread::sleep_for(std::chrono::milliseconds{400}); // let the late statuses arrive

  auto events = parse_json(get("/api/events?since=1&limit=1000").body);
  int changes = 0;
  for (const auto& ev : json_member(events, "events").GetArray()) {
    if (!json_has(ev, "orderId") || json_string(ev, "orderId") != id)
      continue;
    CHECK(json_string(ev, "type") != "order.anomaly");
    if (json_string(ev, "type") == "order.status" || json_string(ev, "type") == "order.fill")
      ++changes;
  }
  CHECK(changes == 3); // new, partially_filled (30), filled (100)
}

TEST_CASE_METHOD(fixture, "IBKR: orders wait through a 1100 outage and go out after 1102",
                 "[integration][ibkr]") {
  connect();
  sim->hold_fills(true);
  sim->send_notice(1100, "Connectivity between IB and Trader Workstation has been lost.");
  REQUIRE(wait_until([&] { return state_of_connection() == "connected"; },
                     std::chrono::seconds{5}, std::chrono::milliseconds{5}));
  auto id = place(R"("symbol":"AAPL","side":"buy","quantity":1,"type":"limit","limitPrice":"90","clientOrderId":"ib-outage")");
  std::this_thread::sleep_for(std::chrono::milliseconds{300});
  CHECK(sim->statistics().placements_by_order_ref.count("ib-outage") == 0);
  sim->send_notice(1102, "Connectivity between IB and Trader Workstation has been restored - data maintained.");
  CHECK(json_string(parse_json(wait_status(id, "new")), "status") == "new");
  CHECK(state_of_connection() == "ready");
  CHECK(sim->statistics().placements_by_order_ref.at("ib-outage") == 1);
}

TEST_CASE_METHOD(fixture, "IBKR: client id in use (326) is retried with backoff until it connects",
                 "[integration][ibkr]") {
  connect();
  sim->client_id_in_use(2);
  sim->drop_connections();
  REQUIRE(wait_until([&] { return state_of_connection() != "ready"; }, std::chrono::seconds{5},
                     std::chrono::milliseconds{5}));
  REQUIRE(wait_until([&] { return state_of_connection() == "ready"; }, std::chrono::seconds{30},
                     std::chrono::milliseconds{20}));
  auto events = parse_json(get("/api/events?since=1&limit=1000").body);
  int in_use = 0;
  for (const auto& ev : json_member(events, "events").GetArray())
    if (json_has(ev, "reason") && json_string(ev, "reason").find("already in use") != std::string::npos)
      ++in_use;
  CHECK(in_use >= 2);
  auto id = place(R"("symbol":"AAPL","side":"buy","quantity":1,"type":"market","clientOrderId":"ib-after-326")");
  CHECK(json_string(parse_json(wait_status(id, "filled")), "status") == "filled");
}

TEST_CASE("IBKR: order ids are never reused across a brokerd restart, even when TWS rolls them back",
          "[integration][ibkr]") {
  temp_dir dir{"brokerd-ibkr-ids"};
  auto sim = start_sim();
  std::string conn;
  std::string first_broker_id;
  auto credentials = R"({"credentials":{"host":"127.0.0.1","port":)" + std::to_string(sim->port()) +
                     R"(,"clientId":9}})";
  auto order = [&](const std::string& ref) {
    return R"({"connectionId":")" + conn +
           R"(","symbol":"AAPL","side":"buy","quantity":1,"type":"market","clientOrderId":")" + ref +
           R"("})";
  };
  auto wait_broker_id = [](http_client& c, const http_client::header_list& auth, const std::string& id) {
    std::string bid;
    wait_until(
        [&] {
          auto doc = parse_json(c.request("GET", "/api/orders/" + id, {}, auth).body);
          bid = json_string(doc, "brokerOrderId");
          return json_string(doc, "status") == "filled";
        },
        std::chrono::seconds{20}, std::chrono::milliseconds{20});
    return bid;
  };
  {
    brokerd_instance first{dir.path() / "data"};
    http_client c{first.port()};
    auto r = c.request("POST", "/api/brokers/ibkr/connect", credentials, first.auth());
    REQUIRE(r.status == 201);
    conn = json_string(parse_json(r.body), "connectionId");
    auto placed = c.request("POST", "/api/orders", order("ids-1"), first.auth());
    REQUIRE(placed.status == 201);
    first_broker_id = wait_broker_id(c, first.auth(), json_string(parse_json(placed.body), "id"));
    REQUIRE(first.stop() == 0);
  }
  sim->rollback_next_valid_id(9, 1);
  brokerd_instance second{dir.path() / "data"};
  http_client c{second.port()};
  REQUIRE(wait_until(
      [&] {
        auto doc = parse_json(c.request("GET", "/api/brokers/user/configured", {}, second.auth()).body);
        for (const auto& x : json_member(doc, "connections").GetArray())
          if (json_string(x, "id") == conn)
            return json_string(x, "state") == "ready";
        return false;
      },
      std::chrono::seconds{20}, std::chrono::milliseconds{20}));
  auto placed = c.request("POST", "/api/orders", order("ids-2"), second.auth());
  REQUIRE(placed.status == 201);
  auto second_broker_id = wait_broker_id(c, second.auth(), json_string(parse_json(placed.body), "id"));
  CHECK(std::stoi(second_broker_id) > std::stoi(first_broker_id));
  CHECK(sim->statistics().duplicate_order_ids == 0);
  CHECK(sim->statistics().placements_by_order_ref.at("ids-1") == 1);
}

TEST_CASE_METHOD(fixture, "IBKR: removing a connection stops its session and frees its client id",
                 "[integration][ibkr]") {
  connect(21);
  auto removed = del("/api/brokers/" + conn);
  REQUIRE(removed.status == 200);
  CHECK(state_of_connection().empty());
  CHECK(get("/api/connections/" + conn + "/balance").status == 404);
  // The session is gone from TWS: the same client id connects again at once.
  auto again = post("/api/brokers/ibkr/connect", credentials(21));
  INFO(again.body);
  CHECK(again.status == 201);
}
