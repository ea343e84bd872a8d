// brokerd trading through Charles Schwab's Trader API: the OAuth sign-in through brokerd's HTTP
// API against the Schwab simulator running in this test process, on loopback TLS.

#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/integration/support/schwab_sign_in.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"
#include "tools/sim/schwab_server.hpp"

using namespace brokerd::test;
using brokerd::engine::decimal;
namespace ssim = brokerd::sim::schwab;
using namespace std::chrono_literals;

namespace {

decimal dec(const char* text) { return *decimal::parse(text); }


std::unique_ptr<ssim::server> start_sim() {
  ssim::config cfg;
  cfg.tick = 20ms;
  cfg.paths["AAPL"] = {dec("100")};
  auto s = ssim::server::start(cfg);
  if (!s)
    throw std::runtime_error(s.error());
  return std::move(*s);
}

struct fixture {
  temp_dir dir{"brokerd-schwab"};
  std::unique_ptr<ssim::server> sim = start_sim();
  std::unique_ptr<brokerd_instance> server =
      std::make_unique<brokerd_instance>(dir.path() / "data");
  std::unique_ptr<http_client> client = std::make_unique<http_client>(server->port());

  http_client::response post(const std::string& target, const std::string& body) {
    return client->request("POST", target, body, server->auth());
  }
  http_client::response get(const std::string& target) {
    return client->request("GET", target, {}, server->auth());
  }
  std::string credentials() const {
    return R"({"isPaperTrading":false,"credentials":{"appKey":"demo-app-key",)"
           R"("appSecret":"demo-app-secret","redirectUri":"https://127.0.0.1/callback",)"
           R"("baseUrl":"https://127.0.0.1:)" +
           std::to_string(sim->port()) + R"(","caFile":")" + sim->ca_file().string() + R"("}})";
  }
  /// The whole sign-in: start, the login page, the callback. Returns the callback's answer.
  http_client::response sign_in_and_connect() {
    auto started = post("/api/brokers/schwab/oauth/start", credentials());
    INFO(started.body);
    REQUIRE(started.status == 200);
    auto doc = parse_json(started.body);
    auto url = json_string(doc, "authorizeUrl");
    CHECK(url.find("client_id=demo-app-key") != std::string::npos);
    CHECK(url.find("demo-app-secret") == std::string::npos);
    auto callback = schwab_sign_in(url, sim->ca_file());
    // https://127.0.0.1/callback?code=...&state=... : the browser goes to brokerd's callback.
    auto query = callback.substr(callback.find('?'));
    return client->request("GET", "/api/brokers/schwab/oauth/callback" + query);
  }
  std::string place(const std::string& conn, const std::string& fields) {
    auto r = post("/api/orders", R"({"connectionId":")" + conn + R"(",)" + fields + "}");
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_string(parse_json(r.body), "id");
  }
  std::string wait_status(const std::string& id, const std::string& want) {
    std::string body;
    wait_until(
        [&] {
          body = get("/api/orders/" + id).body;
          return json_string(parse_json(body), "status") == want;
        },
        20s, 50ms);
    return body;
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "Schwab: the OAuth sign-in through brokerd, then orders, and the login "
                          "survives a restart",
                 "[integration][schwab]") {
  auto connected = sign_in_and_connect();
  INFO(connected.body);
  REQUIRE(connected.status == 201);
  auto doc = parse_json(connected.body);
  auto conn = json_string(doc, "connectionId");
  CHECK(json_string(json_member(doc, "balance"), "cash") == "100000");
  CHECK(sim->statistics().token_grants["authorization_code"] == 1);
  CHECK(connected.body.find("demo-app-secret") == std::string::npos);

  auto market = place(conn, R"("symbol":"AAPL","side":"buy","type":"market","quantity":"5")");
  auto filled = wait_status(market, "filled");
  CHECK(json_string(parse_json(filled), "filledQuantity") == "5");
  auto limit = place(conn, R"("symbol":"AAPL","side":"buy","type":"limit","quantity":"2","limitPrice":"50")");
  wait_status(limit, "new");
  auto canceled = client->request("DELETE", "/api/orders/" + limit, {}, server->auth());
  CHECK(canceled.status == 202);
  wait_status(limit, "canceled");
  // The state is single use: the same callback again is refused.
  // Stops above the market trigger at once and fill at it; a create whose answer lacks the
  // Location header is found by its fingerprint and never sent twice.
  auto stop = place(conn, R"("symbol":"AAPL","side":"buy","type":"stop","quantity":"1","stopPrice":"99")");
  wait_status(stop, "filled");
  sim->omit_location(1);
  auto stop_limit = place(
      conn,
      R"("symbol":"AAPL","side":"buy","type":"stop_limit","quantity":"2","stopPrice":"99","limitPrice":"101")");
  auto body = wait_status(stop_limit, "filled");
  CHECK(json_string(parse_json(body), "avgFillPrice") == "100");
  for (const auto& [fingerprint, n] : sim->statistics().creates_by_fingerprint) {
    INFO(fingerprint);
    CHECK(n == 1);
  }
  auto positions = get("/api/connections/" + conn + "/positions");
  CHECK(positions.body.find(R"("quantity":"8")") != std::string::npos);

  // A restart resumes with the stored login: no new sign-in, the connection is ready again.
  client.reset();
  REQUIRE(server->stop() == 0);
  auto codes = sim->statistics().token_grants["authorization_code"];
  server = std::make_unique<brokerd_instance>(dir.path() / "data");
  client = std::make_unique<http_client>(server->port());
  std::string balance;
  REQUIRE(wait_until(
      [&] {
        auto r = get("/api/connections/" + conn + "/balance");
        balance = r.body;
        return r.status == 200;
      },
      20s, 100ms));
  CHECK(balance.find(R"("cash")") != std::string::npos);
  CHECK(sim->statistics().token_grants["authorization_code"] == codes);
  CHECK(sim->statistics().orders_created == 4);
}

TEST_CASE_METHOD(fixture, "Schwab: a sign-in with an unknown state or a refused code stores "
                          "nothing",
                 "[integration][schwab]") {
  auto unknown = client->request("GET", "/api/brokers/schwab/oauth/callback?code=abc&state=nope");
  CHECK(unknown.status == 400);
  CHECK(json_string(parse_json(unknown.body), "error") == "invalid_state");

  auto started = post("/api/brokers/schwab/oauth/start", credentials());
  REQUIRE(started.status == 200);
  auto state = json_string(parse_json(started.body), "state");
  auto refused = client->request("GET", "/api/brokers/schwab/oauth/callback?code=forged%40&state=" + state);
  INFO(refused.body);
  CHECK(refused.status == 400);
  CHECK(json_string(parse_json(refused.body), "error") == "sign_in_refused");
  // The state was used up.
  auto again = client->request("GET", "/api/brokers/schwab/oauth/callback?code=forged%40&state=" + state);
  CHECK(again.status == 400);
  auto listed = get("/api/brokers/user/configured");
  CHECK(listed.body.find("conn_schwab_") != std::string::npos); // the demo's only
  CHECK(listed.body.find("demo-app-secret") == std::string::npos);
  std::size_t schwab_connections = 0;
  for (auto at = listed.body.find("\"broker\":\"schwab\""); at != std::string::npos;
       at = listed.body.find("\"broker\":\"schwab\"", at + 1))
    ++schwab_connections;
  CHECK(schwab_connections == 1);
}

TEST_CASE_METHOD(fixture, "Schwab: a 401 refreshes once with a rotated token that survives a "
                          "restart, and a refused login ends in auth_required",
                 "[integration][schwab]") {
  // A simulator whose refresh grants rotate the refresh token and revoke the old one.
  ssim::config cfg;
  cfg.tick = 20ms;
  cfg.paths["AAPL"] = {dec("100")};
  cfg.rotation = ssim::refresh_rotation::rotate_and_revoke;
  sim.reset();
  sim = std::move(*ssim::server::start(cfg));
  auto connected = sign_in_and_connect();
  INFO(connected.body);
  REQUIRE(connected.status == 201);
  auto conn = json_string(parse_json(connected.body), "connectionId");

  // Every access token expires at Schwab: the next call gets 401, the session refreshes once
  // (rotating the refresh token) and the call goes through.
  sim->expire_all_access_tokens();
  auto balance = get("/api/connections/" + conn + "/balance");
  CHECK(balance.status == 200);
  CHECK(sim->statistics().token_grants["refresh_token"] == 1);

  // After a restart the stored (rotated) refresh token is the one that works.
  client.reset();
  REQUIRE(server->stop() == 0);
  server = std::make_unique<brokerd_instance>(dir.path() / "data");
  client = std::make_unique<http_client>(server->port());
  sim->expire_all_access_tokens();
  REQUIRE(wait_until([&] { return get("/api/connections/" + conn + "/balance").status == 200; },
                     20s, 100ms));
  CHECK(sim->statistics().token_refusals == 0);
  CHECK(sim->statistics().token_grants["refresh_token"] == 2);

  // Schwab ends the login: the connection says why, and is not retried in a loop.
  sim->revoke_refresh_tokens();
  sim->expire_all_access_tokens();
  get("/api/connections/" + conn + "/balance");
  std::string listed;
  REQUIRE(wait_until(
      [&] {
        listed = get("/api/brokers/user/configured").body;
        auto at = listed.find(conn);
        return at != std::string::npos &&
               listed.find("auth_required", at) < listed.find('}', at);
      },
      20s, 100ms));
  auto refusals = sim->statistics().token_refusals;
  std::this_thread::sleep_for(3s);
  CHECK(sim->statistics().token_refusals == refusals);
}
