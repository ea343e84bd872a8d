// brokerd trading through Charles Schwab's Trader API: the OAuth sign-in through brokerd's HTTP
// API against the Schwab simulator running in this test process, on loopback TLS.

#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/integration/support/schwab_sign_in.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"
#include "actors/brokers/schwab/tokens.hpp"
#include "persistence/event_log.hpp"
#include "persistence/records.hpp"
#include "persistence/vault.hpp"
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

std::int64_t unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Moves the end of a stored Schwab login to `deadline_ns` (brokerd stopped): the clock cannot
/// be moved on by days, so the deadline is moved towards it instead.
void move_login_deadline(const std::filesystem::path& data_dir, const std::string& conn,
                         std::int64_t deadline_ns) {
  namespace p = brokerd::persistence;
  namespace sw = brokerd::actors::schwab;
  auto v = p::vault::from_key_file(data_dir / "master.key");
  REQUIRE(v.has_value());
  auto log = p::event_log::open(data_dir / "events", p::open_mode::read_write);
  REQUIRE(log.has_value());
  auto record = log->get(std::string{p::registry_keys::connection} + conn);
  REQUIRE(record.has_value());
  REQUIRE(record->has_value());
  auto c = p::decode_connection(**record, *v);
  REQUIRE(c.has_value());
  auto sealed = log->get(sw::token_key(conn));
  REQUIRE(sealed.has_value());
  REQUIRE(sealed->has_value());
  auto tokens = sw::open_tokens(**sealed, *v, c->user, conn);
  REQUIRE(tokens.has_value());
  tokens->refresh_expires_ns = deadline_ns;
  auto resealed = sw::seal_tokens(*tokens, *v, c->user, conn);
  REQUIRE(resealed.has_value());
  REQUIRE(log->put(sw::token_key(conn), *resealed).has_value());
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
  // Credentials alone cannot make a Schwab connection: the API says how to sign in.
  for (const char* action : {"test", "connect"}) {
    auto direct = post(std::string{"/api/brokers/schwab/"} + action, credentials());
    CHECK(direct.status == 400);
    CHECK(json_string(parse_json(direct.body), "error") == "sign_in_required");
    CHECK(json_string(parse_json(direct.body), "message").find("oauth/start") != std::string::npos);
  }
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

TEST_CASE_METHOD(fixture, "Schwab: the API warns a day and an hour before the login ends, then "
                          "the connection is auth_required and takes no new orders",
                 "[integration][schwab]") {
  auto connected = sign_in_and_connect();
  INFO(connected.body);
  REQUIRE(connected.status == 201);
  auto conn = json_string(parse_json(connected.body), "connectionId");
  auto data = dir.path() / "data";
  auto restart_with_deadline = [&](std::int64_t deadline_ns) {
    client.reset();
    REQUIRE(server->stop() == 0);
    move_login_deadline(data, conn, deadline_ns);
    server = std::make_unique<brokerd_instance>(data);
    client = std::make_unique<http_client>(server->port());
  };
  // The connection's entry in GET /api/brokers/user/configured.
  auto entry = [&] {
    auto doc = parse_json(get("/api/brokers/user/configured").body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      if (json_string(c, "id") == conn)
        return std::make_pair(json_string(c, "status"),
                              c.HasMember("reason") ? json_string(c, "reason") : std::string{});
    return std::make_pair(std::string{"missing"}, std::string{});
  };
  // The reasons of the connection's state events, oldest first.
  auto state_events = [&] {
    std::vector<std::pair<std::string, std::string>> out;
    for (std::uint64_t since = 1;;) {
      auto doc = parse_json(get("/api/events?limit=1000&since=" + std::to_string(since)).body);
      const auto& events = json_member(doc, "events").GetArray();
      for (const auto& ev : events)
        if (json_string(ev, "type") == "connection.state" && json_string(ev, "connection") == conn)
          out.emplace_back(json_string(ev, "state"),
                           ev.HasMember("reason") ? json_string(ev, "reason") : std::string{});
      auto next = json_member(doc, "nextSeq").GetUint64();
      if (events.Empty() || next == since)
        return out;
      since = next;
    }
  };
  auto events_with = [&](const std::string& state, const std::string& text) {
    std::size_t n = 0;
    for (const auto& [s, reason] : state_events())
      if (s == state && reason.find(text) != std::string::npos)
        ++n;
    return n;
  };

  // Six days and 23 hours on: a day's warning at once, the hour's when the last hour begins.
  restart_with_deadline(unix_ns() + 3'600'000'000'000LL + 4'000'000'000LL);
  REQUIRE(wait_until([&] { return entry().first == "connected"; }, 20s, 100ms));
  REQUIRE(wait_until([&] { return events_with("ready", "expires in 1 h 0 min") == 1; }, 20s,
                     100ms));
  REQUIRE(wait_until(
      [&] {
        auto [status, reason] = entry();
        return status == "connected" && reason.find("expires in 0 h 59 min") != std::string::npos;
      },
      20s, 100ms));
  CHECK(events_with("ready", "expires in 0 h 59 min") == 1);
  CHECK(entry().second.find("sign in again") != std::string::npos);
  // Orders still go through while the login lasts.
  auto before = sim->statistics().orders_created;
  auto market = place(conn, R"("symbol":"AAPL","side":"buy","type":"market","quantity":"1")");
  wait_status(market, "filled");
  CHECK(sim->statistics().orders_created == before + 1);

  // The last seconds of the login: the hour's warning, then auth_required when it ends.
  restart_with_deadline(unix_ns() + 5'000'000'000LL);
  REQUIRE(wait_until([&] { return entry().first == "auth_required"; }, 20s, 100ms));
  auto [status, reason] = entry();
  CHECK(reason.find("the Schwab login expired at") != std::string::npos);
  CHECK(reason.find("sign in again") != std::string::npos);
  CHECK(events_with("auth_required", "the Schwab login expired at") >= 1);
  auto refreshes = sim->statistics().token_grants["refresh_token"];
  auto refusals = sim->statistics().token_refusals;

  // No new orders: the API says why, and nothing reaches Schwab.
  before = sim->statistics().orders_created;
  auto refused = post("/api/orders", R"({"connectionId":")" + conn +
                                         R"(","symbol":"AAPL","side":"buy","type":"market","quantity":"1"})");
  INFO(refused.body);
  CHECK(refused.status == 409);
  CHECK(json_string(parse_json(refused.body), "error") == "auth_required");
  CHECK(json_string(parse_json(refused.body), "message").find("sign-in") != std::string::npos);
  CHECK(sim->statistics().orders_created == before);
  // Not a loop of refresh attempts with a login that is over.
  std::this_thread::sleep_for(2s);
  CHECK(sim->statistics().token_grants["refresh_token"] == refreshes);
  CHECK(sim->statistics().token_refusals == refusals);
  CHECK(entry().first == "auth_required");
}
