// The Schwab simulator's account endpoints and bearer check over real TLS sockets: account
// numbers and hashes, balances, positions after a fill, 401 bodies.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <thread>

#include <unistd.h>

#include "tests/unit/sim/support/schwab_test_client.hpp"

using brokerd::engine::decimal;
using brokerd::test::https_client;
using brokerd::test::str;
using brokerd::test::schwab::equity_order;
using brokerd::test::schwab::fast_config;
using brokerd::test::schwab::order_id_of;
using brokerd::test::schwab::refresh_form;
using brokerd::test::schwab::start_server;
using brokerd::test::schwab::token_request;
using brokerd::test::schwab::trader_client;
using std::chrono::milliseconds;

namespace {

/// True for a JSON number written with a fraction ("1.0"), as Schwab writes its doubles.
bool is_double(const rapidjson::Value& v) {
  return v.IsDouble();
}

void check_unauthorized(const brokerd::test::http_reply& r) {
  CHECK(r.status == 401);
  auto d = r.json();
  REQUIRE(d.HasMember("errors"));
  REQUIRE(d["errors"].IsArray());
  const auto& e = d["errors"][0];
  CHECK(e["status"].IsInt());
  CHECK(e["status"].GetInt() == 401);
  CHECK(str(e, "title") == "Unauthorized");
  CHECK(str(e, "detail") == "Client not authorized");
  CHECK(str(e, "id").size() == 36);
}

} // namespace

TEST_CASE(
    "the Schwab simulator writes its CA to tls_dir and an untrusting client fails the handshake",
    "[sim][schwab]") {
  auto dir =
      std::filesystem::temp_directory_path() / ("schwab-sim-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto cfg = fast_config();
  cfg.tls_dir = dir;
  {
    auto s = start_server(cfg);
    CHECK(s->ca_file() == dir / "ca.pem");
    CHECK(std::filesystem::exists(dir / "server.pem"));
    CHECK_THROWS_WITH(https_client(s->port(), {}), Catch::Contains("tls handshake"));
    trader_client t{*s};
    CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
  }
  CHECK(std::filesystem::exists(dir / "ca.pem")); // a given directory is kept
  std::filesystem::remove_all(dir);
  {
    auto s = start_server();
    auto temporary = s->ca_file().parent_path();
    CHECK(std::filesystem::exists(temporary));
    s.reset();
    CHECK(!std::filesystem::exists(temporary)); // a temporary one is removed
  }
}

TEST_CASE("accountNumbers pairs the plain number with an opaque hash", "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  auto r = t.get("/trader/v1/accounts/accountNumbers");
  REQUIRE(r.status == 200);
  auto d = r.json();
  REQUIRE(d.IsArray());
  REQUIRE(d.Size() == 1);
  CHECK(str(d[0], "accountNumber") == "12345678");
  auto hash = str(d[0], "hashValue");
  CHECK(hash.size() == 64);
  CHECK(hash == s->account_hash());
  CHECK(hash.find("12345678") == std::string::npos);
}

TEST_CASE("the account shows CASH balances as numbers and no positions key while flat",
          "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  auto r = t.get("/trader/v1/accounts/" + t.hash + "?fields=positions");
  REQUIRE(r.status == 200);
  auto d = r.json();
  const auto& a = d["securitiesAccount"];
  CHECK(str(a, "type") == "CASH");
  CHECK(str(a, "accountNumber") == "12345678"); // a string here (§5 vs §6)
  CHECK(!a.HasMember("positions"));
  const auto& current = a["currentBalances"];
  CHECK(is_double(current["cashBalance"]));
  CHECK(current["cashBalance"].GetDouble() == 100000.0);
  CHECK(current["cashAvailableForTrading"].GetDouble() == 100000.0);
  CHECK(current["liquidationValue"].GetDouble() == 100000.0);
  CHECK(a["initialBalances"]["cashBalance"].GetDouble() == 100000.0);
  CHECK(a["projectedBalances"].HasMember("cashAvailableForTrading"));
  CHECK(d["aggregatedBalance"]["liquidationValue"].GetDouble() == 100000.0);
  CHECK(d["aggregatedBalance"]["currentLiquidationValue"].GetDouble() == 100000.0);
}

TEST_CASE("the account holds the position after a fill, listed only with fields=positions",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.paths["AAPL"] = {decimal::parse("187.25").value()};
  auto s = start_server(cfg);
  trader_client t{*s};
  auto created = t.place(equity_order("BUY", 10, "AAPL", "MARKET"));
  REQUIRE(created.status == 201);
  REQUIRE(t.wait_status(order_id_of(created), "FILLED"));

  auto with = t.get("/trader/v1/accounts/" + t.hash + "?fields=positions").json();
  const auto& a = with["securitiesAccount"];
  REQUIRE(a.HasMember("positions"));
  REQUIRE(a["positions"].Size() == 1);
  const auto& p = a["positions"][0];
  CHECK(str(p["instrument"], "symbol") == "AAPL");
  CHECK(str(p["instrument"], "assetType") == "EQUITY");
  CHECK(p["longQuantity"].GetDouble() == 10.0);
  CHECK(p["shortQuantity"].GetDouble() == 0.0);
  CHECK(p["averagePrice"].GetDouble() == 187.25);
  CHECK(p["marketValue"].GetDouble() == 1872.5);
  CHECK(a["currentBalances"]["cashBalance"].GetDouble() == 100000.0 - 1872.5);
  CHECK(a["currentBalances"]["longMarketValue"].GetDouble() == 1872.5);
  CHECK(with["aggregatedBalance"]["liquidationValue"].GetDouble() == 100000.0);

  auto without = t.get("/trader/v1/accounts/" + t.hash).json();
  CHECK(!without["securitiesAccount"].HasMember("positions"));

  for (const char* target :
       {"/trader/v1/accounts?fields=positions", "/trader/v1/accounts/?fields=positions"}) {
    auto all = t.get(target);
    REQUIRE(all.status == 200);
    auto list = all.json();
    REQUIRE(list.IsArray());
    REQUIRE(list.Size() == 1);
    CHECK(list[0]["securitiesAccount"]["positions"].Size() == 1);
    CHECK(!list[0].HasMember("hashValue"));
  }
}

TEST_CASE("a plain account number or a foreign hash in the path is an invalid account",
          "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  for (const char* target :
       {"/trader/v1/accounts/12345678", "/trader/v1/accounts/ABCDEF/orders/1"}) {
    auto r = t.get(target);
    CHECK(r.status == 400);
    CHECK(str(r.json(), "message") == "Invalid account number");
  }
}

TEST_CASE("Trader calls without a valid bearer token are answered 401 Client not authorized",
          "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  check_unauthorized(c.get("/trader/v1/accounts/accountNumbers"));
  c.headers = {{"Authorization", "Bearer not-a-token"}};
  check_unauthorized(c.get("/trader/v1/accounts/accountNumbers"));
  // The refresh token is not an access token.
  c.headers = {{"Authorization", "Bearer demo-refresh-token"}};
  check_unauthorized(c.get("/trader/v1/accounts/accountNumbers"));
  CHECK(s->statistics().unauthorized == 3);
}

TEST_CASE("an access token stops working after its lifetime and a refresh gives a new one",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.access_token_lifetime = milliseconds{700};
  auto s = start_server(cfg);
  trader_client t{*s};
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
  std::this_thread::sleep_for(milliseconds{750});
  check_unauthorized(t.get("/trader/v1/accounts/accountNumbers"));
  auto r = token_request(t, refresh_form());
  REQUIRE(r.status == 200);
  CHECK(r.json()["expires_in"].GetInt() == 1); // 700 ms, rounded up to whole seconds
  t.use_token(str(r.json(), "access_token"));
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
}

TEST_CASE("unknown paths are 404 and known paths with another method 405", "[sim][schwab]") {
  auto s = start_server();
  trader_client t{*s};
  CHECK(t.get("/trader/v1/nothing").status == 404);
  CHECK(t.get("/marketdata/v1/quotes").status == 404);
  CHECK(t.post("/trader/v1/accounts/accountNumbers", "{}").status == 405);
  auto put = t.request("PUT", t.orders_path() + "/1", "{}");
  CHECK(put.status == 405);
}

TEST_CASE("the Schwab simulator refuses a configuration it cannot serve", "[sim][schwab]") {
  auto refused = [](brokerd::sim::schwab::config cfg, const std::string& words) {
    auto s = brokerd::sim::schwab::server::start(std::move(cfg));
    REQUIRE(!s);
    CHECK(s.error().find(words) != std::string::npos);
  };
  auto cfg = fast_config();
  cfg.account_number = "01234";
  refused(cfg, "account_number");
  cfg = fast_config();
  cfg.app_key = "a:b";
  refused(cfg, "app_key");
  cfg = fast_config();
  cfg.refresh_token.clear();
  refused(cfg, "refresh_token");
  cfg = fast_config();
  cfg.code_lifetime = milliseconds{0};
  refused(cfg, "lifetimes");
  cfg = fast_config();
  cfg.requests_per_minute = 0;
  refused(cfg, "requests_per_minute");
}
