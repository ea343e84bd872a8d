// Users and access through a running brokerd's HTTP API: passwords and sessions, the admin's
// user management, per-user isolation, tiers, the primary broker, the broker comparison, the
// per-user rate limit, admin statistics, and brokerctl's user commands.

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"

using namespace brokerd::test;

namespace {

const std::string password = "correct horse battery staple";

struct created_user {
  std::string id;
  std::string token;
};

struct fixture {
  temp_dir dir{"brokerd-users"};
  brokerd_instance server{dir.path() / "data"};
  http_client client{server.port()};

  static http_client::header_list bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  http_client::response as(const std::string& token, const std::string& method,
                           const std::string& target, const std::string& body = {}) {
    return client.request(method, target, body, bearer(token));
  }
  http_client::response admin(const std::string& method, const std::string& target,
                              const std::string& body = {}) {
    return as(server.token(), method, target, body);
  }
  created_user create(const std::string& email, const std::string& tier = "free") {
    auto r = admin("POST", "/api/admin/users",
                   R"({"email":")" + email + R"(","password":")" + password + R"(","tier":")" +
                       tier + R"("})");
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto doc = parse_json(r.body);
    return {json_string(doc, "userId"), json_string(doc, "token")};
  }
  http_client::response login(const std::string& email, const std::string& pw) {
    return client.request("POST", "/api/auth/login",
                          R"({"email":")" + email + R"(","password":")" + pw + R"("})");
  }
  /// The connection `id` as its owner lists it (null object when not listed).
  std::string listed(const std::string& token, const std::string& id, const std::string& field) {
    auto doc = parse_json(as(token, "GET", "/api/brokers/user/configured").body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      if (json_string(c, "id") == id) {
        if (!json_has(c, field))
          return {};
        const auto& v = json_member(c, field);
        return v.IsString() ? std::string{v.GetString()}
               : v.IsBool() ? (v.GetBool() ? "true" : "false")
                            : "?";
      }
    return "<absent>";
  }
  std::string connection_of(const std::string& broker) {
    auto doc = parse_json(admin("GET", "/api/brokers/user/configured").body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      if (json_string(c, "broker") == broker)
        return json_string(c, "id");
    return {};
  }
  std::string connect_paper(const std::string& token) {
    auto r = as(token, "POST", "/api/brokers/paper/connect", R"({"isPaperTrading":true})");
    INFO(r.body);
    REQUIRE(r.status == 201);
    return json_string(parse_json(r.body), "connectionId");
  }
};

std::string error_of(const http_client::response& r) {
  return json_string(parse_json(r.body), "error");
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "a user logs in with their password, works through the session cookie and "
                 "logs out; wrong credentials get one answer",
                 "[integration][users]") {
  auto bob = create("bob@example.com");

  auto wrong = login("bob@example.com", "not the password at all");
  auto unknown = login("nobody@example.com", password);
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);
  CHECK(error_of(wrong) == "invalid_credentials");
  // The bootstrapped admin has no password: it cannot log in with one.
  CHECK(login("admin@localhost", password).status == 401);

  auto ok = login("Bob@Example.com", password);
  REQUIRE(ok.status == 200);
  auto doc = parse_json(ok.body);
  auto session = json_string(doc, "token");
  CHECK(json_string(doc, "userId") == bob.id);
  CHECK(json_string(doc, "tier") == "free");
  CHECK_FALSE(json_string(doc, "expiresAt").empty());
  auto cookie = ok.header("Set-Cookie").value_or("");
  CHECK(cookie.starts_with("brokerd_session=" + session + ";"));
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("Max-Age=43200") != std::string::npos);

  // The cookie authenticates; a state-changing request by cookie needs X-Requested-With.
  http_client::header_list by_cookie{{"Cookie", "theme=dark; brokerd_session=" + session}};
  CHECK(client.request("GET", "/api/brokers/user/configured", {}, by_cookie).status == 200);
  auto forged = client.request("POST", "/api/brokers/paper/connect", "{}", by_cookie);
  CHECK(forged.status == 403);
  CHECK(error_of(forged) == "csrf_check_failed");
  auto with_header = by_cookie;
  with_header.emplace_back("X-Requested-With", "XMLHttpRequest");
  CHECK(client.request("POST", "/api/brokers/paper/connect", "{}", with_header).status == 201);
  CHECK(as(session, "GET", "/api/brokers/user/configured").status == 200);

  CHECK(client.request("GET", "/api/auth/login").status == 405);
  CHECK(as(session, "GET", "/api/auth/logout").status == 405);
  auto out = client.request("POST", "/api/auth/logout", {}, with_header);
  CHECK(out.status == 200);
  CHECK(out.header("Set-Cookie").value_or("").find("Max-Age=0") != std::string::npos);
  CHECK(client.request("GET", "/api/brokers/user/configured", {}, by_cookie).status == 401);
  CHECK(as(session, "GET", "/api/brokers/user/configured").status == 401);
  // The API token of the user is not affected.
  CHECK(as(bob.token, "GET", "/api/brokers/user/configured").status == 200);

  // Neither the password nor any token appears in brokerd's log.
  auto log = server.process().output();
  CHECK(log.find(password) == std::string::npos);
  CHECK(log.find(session) == std::string::npos);
  CHECK(log.find(bob.token) == std::string::npos);
  CHECK(log.find("not the password at all") == std::string::npos);
}

TEST_CASE_METHOD(fixture,
                 "the admin's user routes validate strictly, store nothing on error and are "
                 "forbidden to other users",
                 "[integration][users]") {
  auto carol = create("carol@example.com", "premium");
  for (
      const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
          {"{", "malformed_json"},
          {"[]", "invalid_body"},
          {R"({"email":"x@example.com","password":"long enough password","admin":true})",
           "unknown_field"},
          {R"({"email":"x@example.com","email":"y@example.com","password":"long enough password"})",
           "duplicate_field"},
          {R"({"password":"long enough password"})", "missing_field"},
          {R"({"email":"not-an-email","password":"long enough password"})", "invalid_field"},
          {R"({"email":"x@example.com","password":"short"})", "invalid_field"},
          {R"({"email":"x@example.com","password":")" + std::string(257, 'p') + R"("})",
           "invalid_field"},
          {R"({"email":"x@example.com","password":"long enough password","tier":"gold"})",
           "invalid_field"},
          {R"({"email":"x@example.com","password":12345678901234})", "invalid_field"},
      }) {
    INFO(body);
    auto r = admin("POST", "/api/admin/users", body);
    CHECK(r.status == 400);
    CHECK(error_of(r) == code);
    CHECK_FALSE(json_string(parse_json(r.body), "message").empty());
  }
  auto dup = admin("POST", "/api/admin/users",
                   R"({"email":"CAROL@example.com","password":"another long password"})");
  CHECK(dup.status == 409);
  CHECK(error_of(dup) == "email_taken");

  auto list = admin("GET", "/api/admin/users");
  REQUIRE(list.status == 200);
  CHECK(list.body.find("x@example.com") == std::string::npos);
  CHECK(list.body.find("scrypt") == std::string::npos);
  CHECK(list.body.find("passwordHash") == std::string::npos);
  CHECK(json_member(parse_json(list.body), "users").Size() == 2);

  auto patch = admin("PATCH", "/api/admin/users/" + carol.id, R"({"tier":"free"})");
  REQUIRE(patch.status == 200);
  CHECK(json_string(parse_json(patch.body), "tier") == "free");
  CHECK(admin("PATCH", "/api/admin/users/" + carol.id, R"({"tier":"gold"})").status == 400);
  CHECK(admin("PATCH", "/api/admin/users/" + carol.id, R"({})").status == 400);
  CHECK(admin("PATCH", "/api/admin/users/" + carol.id, R"({"admin":true})").status == 400);
  CHECK(admin("PATCH", "/api/admin/users/usr_nobody", R"({"tier":"free"})").status == 404);
  CHECK(admin("DELETE", "/api/admin/users").status == 405);
  CHECK(admin("GET", "/api/admin/users/" + carol.id).status == 405);
  CHECK(admin("POST", "/api/admin/stats").status == 405);

  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/admin/users"},
           {"POST", "/api/admin/users"},
           {"PATCH", "/api/admin/users/" + carol.id},
           {"POST", "/api/admin/users/" + carol.id + "/tokens"},
           {"GET", "/api/admin/stats"},
       }) {
    INFO(method << " " << target);
    auto r = as(carol.token, method, target, R"({"tier":"premium"})");
    CHECK(r.status == 403);
    CHECK(error_of(r) == "forbidden");
  }
  CHECK(client.request("GET", "/api/admin/users").status == 401);
  // Nothing refused was stored.
  CHECK(json_member(parse_json(admin("GET", "/api/admin/users").body), "users").Size() == 2);
}

TEST_CASE_METHOD(fixture, "API tokens are issued by the admin and revocable",
                 "[integration][users]") {
  auto dave = create("dave@example.com");
  auto issued = admin("POST", "/api/admin/users/" + dave.id + "/tokens");
  REQUIRE(issued.status == 201);
  auto second = json_string(parse_json(issued.body), "token");
  CHECK(second != dave.token);
  CHECK(as(second, "GET", "/api/brokers/user/configured").status == 200);
  CHECK(admin("POST", "/api/admin/users/usr_nobody/tokens").status == 404);

  // A token revokes itself.
  CHECK(as(second, "POST", "/api/auth/tokens/current").status == 405);
  CHECK(as(second, "DELETE", "/api/auth/tokens/current").status == 200);
  CHECK(as(second, "GET", "/api/brokers/user/configured").status == 401);
  CHECK(as(dave.token, "GET", "/api/brokers/user/configured").status == 200);

  // The admin revokes all of a user's tokens, sessions included.
  REQUIRE(login("dave@example.com", password).status == 200);
  auto all = admin("DELETE", "/api/admin/users/" + dave.id + "/tokens");
  REQUIRE(all.status == 200);
  CHECK(json_uint(parse_json(all.body), "revoked") == 2);
  CHECK(as(dave.token, "GET", "/api/brokers/user/configured").status == 401);
  CHECK(admin("GET", "/api/brokers/user/configured").status == 200);
}

TEST_CASE_METHOD(fixture, "a user sees and deletes only their own connections and orders",
                 "[integration][users]") {
  auto erin = create("erin@example.com");
  auto admin_conn = server.connection();
  auto placed = admin(
      "POST", "/api/orders",
      R"({"connectionId":")" + admin_conn +
          R"(","symbol":"AAPL","side":"buy","quantity":"1","type":"limit","limitPrice":"1","timeInForce":"gtc"})");
  REQUIRE(placed.status == 201);
  auto order = json_string(parse_json(placed.body), "id");

  CHECK(listed(erin.token, admin_conn, "id") == "<absent>");
  CHECK(as(erin.token, "GET", "/api/orders/" + order).status == 404);
  CHECK(as(erin.token, "DELETE", "/api/orders/" + order).status == 404);
  CHECK(as(erin.token, "GET", "/api/orders").body.find(order) == std::string::npos);
  CHECK(as(erin.token, "GET", "/api/orders?connectionId=" + admin_conn).status == 404);
  CHECK(as(erin.token, "GET", "/api/orders?connectionId=conn_paper_nobody").status == 404);
  CHECK(admin("GET", "/api/orders?connectionId=" + admin_conn).body.find(order) !=
        std::string::npos);
  CHECK(as(erin.token, "DELETE", "/api/brokers/" + admin_conn).status == 404);
  CHECK(as(erin.token, "GET", "/api/connections/" + admin_conn + "/balance").status == 404);
  CHECK(as(erin.token, "POST", "/api/brokers/" + admin_conn + "/primary").status == 404);
  auto foreign = as(erin.token, "POST", "/api/orders",
                    R"({"connectionId":")" + admin_conn +
                        R"(","symbol":"AAPL","side":"buy","quantity":"1","type":"market"})");
  CHECK(foreign.status == 404);
  // Still there for its owner.
  CHECK(admin("GET", "/api/orders/" + order).status == 200);
  CHECK(listed(server.token(), admin_conn, "status") == "connected");
}

TEST_CASE_METHOD(fixture, "a free user gets 403 premium_required for IBKR and Schwab",
                 "[integration][users]") {
  auto frank = create("frank@example.com");
  const std::string ibkr = R"({"credentials":{"host":"127.0.0.1","port":7497,"clientId":1}})";
  const std::string schwab = R"({"credentials":{"appKey":"key","appSecret":"secret"}})";
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/api/brokers/ibkr/test", ibkr},
           {"/api/brokers/ibkr/connect", ibkr},
           {"/api/brokers/schwab/test", schwab},
           {"/api/brokers/schwab/connect", schwab},
       }) {
    INFO(target);
    auto r = as(frank.token, "POST", target, body);
    CHECK(r.status == 403);
    CHECK(error_of(r) == "premium_required");
  }
  CHECK(listed(frank.token, "none", "id") == "<absent>");
}

TEST_CASE_METHOD(fixture,
                 "a user moved to free has their premium connections stopped, and restarted "
                 "when moved back to premium",
                 "[integration][users]") {
  auto me = parse_json(admin("GET", "/api/admin/users").body);
  std::string admin_id;
  for (const auto& u : json_member(me, "users").GetArray())
    if (u["admin"].GetBool())
      admin_id = json_string(u, "id");
  auto ibkr = connection_of("ibkr");
  auto paper = connection_of("paper");
  REQUIRE_FALSE(ibkr.empty());

  REQUIRE(admin("PATCH", "/api/admin/users/" + admin_id, R"({"tier":"free"})").status == 200);
  CHECK(wait_until([&] { return listed(server.token(), ibkr, "status") == "disconnected"; },
                   std::chrono::seconds{5}, std::chrono::milliseconds{20}));
  CHECK(listed(server.token(), ibkr, "isActive") == "false");
  CHECK(listed(server.token(), connection_of("schwab"), "status") == "disconnected");
  CHECK(listed(server.token(), paper, "status") == "connected");
  auto order = admin("POST", "/api/orders",
                     R"({"connectionId":")" + ibkr +
                         R"(","symbol":"AAPL","side":"buy","quantity":"1","type":"market"})");
  CHECK(order.status == 403);
  CHECK(error_of(order) == "premium_required");

  REQUIRE(admin("PATCH", "/api/admin/users/" + admin_id, R"({"tier":"premium"})").status == 200);
  CHECK(wait_until([&] { return listed(server.token(), ibkr, "status") == "connected"; },
                   std::chrono::seconds{10}, std::chrono::milliseconds{20}));
  CHECK(listed(server.token(), ibkr, "isActive") == "true");
}

TEST_CASE_METHOD(fixture,
                 "a user sets a primary connection, shown in the listing and cleared when "
                 "the connection is removed",
                 "[integration][users]") {
  auto gina = create("gina@example.com");
  auto first = connect_paper(gina.token);
  auto second = connect_paper(gina.token);
  auto configured = parse_json(as(gina.token, "GET", "/api/brokers/user/configured").body);
  CHECK(json_member(configured, "primaryConnectionId").IsNull());

  CHECK(as(gina.token, "GET", "/api/brokers/" + second + "/primary").status == 405);
  CHECK(as(gina.token, "POST", "/api/brokers/conn_none/primary").status == 404);
  REQUIRE(as(gina.token, "POST", "/api/brokers/" + second + "/primary").status == 200);
  configured = parse_json(as(gina.token, "GET", "/api/brokers/user/configured").body);
  CHECK(json_string(configured, "primaryConnectionId") == second);
  CHECK(listed(gina.token, second, "primary") == "true");
  CHECK(listed(gina.token, first, "primary") == "false");

  REQUIRE(as(gina.token, "DELETE", "/api/brokers/" + second).status == 200);
  configured = parse_json(as(gina.token, "GET", "/api/brokers/user/configured").body);
  CHECK(json_member(configured, "primaryConnectionId").IsNull());
  CHECK(listed(gina.token, first, "primary") == "false");
}

TEST_CASE_METHOD(fixture, "the broker comparison lists every broker with its tier",
                 "[integration][users]") {
  auto r = admin("GET", "/api/brokers/compare");
  REQUIRE(r.status == 200);
  auto doc = parse_json(r.body);
  std::map<std::string, std::string> tiers;
  for (const auto& b : json_member(doc, "brokers").GetArray()) {
    tiers[json_string(b, "broker")] = json_string(b, "tier");
    CHECK_FALSE(json_string(b, "fees").empty());
    CHECK_FALSE(json_string(b, "rateLimit").empty());
    CHECK(json_member(b, "orderTypes").Size() == 4);
    CHECK(json_member(b, "assetClasses").Size() >= 1);
  }
  CHECK(tiers ==
        std::map<std::string, std::string>{
            {"alpaca", "free"}, {"ibkr", "premium"}, {"schwab", "premium"}, {"paper", "free"}});
  CHECK(admin("POST", "/api/brokers/compare").status == 405);
  CHECK(client.request("GET", "/api/brokers/compare").status == 401);
}

TEST_CASE_METHOD(fixture, "a burst beyond a user's rate limit gets 429 with Retry-After",
                 "[integration][users]") {
  auto hank = create("hank@example.com");
  int ok = 0;
  int limited = 0;
  std::string retry_after;
  for (int i = 0; i < 80; ++i) {
    auto r = as(hank.token, "GET", "/api/brokers/user/configured");
    if (r.status == 200) {
      ++ok;
    } else {
      REQUIRE(r.status == 429);
      CHECK(error_of(r) == "rate_limited");
      retry_after = r.header("Retry-After").value_or("");
      ++limited;
    }
  }
  // A burst of 40, then 20 per second: 80 quick requests cannot all pass.
  CHECK(ok >= 40);
  CHECK(limited >= 1);
  CHECK(retry_after == "1");
  // Other users are not slowed by hank; the admin is not limited.
  for (int i = 0; i < 60; ++i)
    REQUIRE(admin("GET", "/api/brokers/user/configured").status == 200);
}

TEST_CASE("brokerd's --api-rate-limit and --rate-limit-admins set the limit, the admin's too",
          "[integration][users]") {
  temp_dir dir{"brokerd-rate-flags"};
  brokerd_instance server{dir.path() / "data", {"--api-rate-limit", "2/3", "--rate-limit-admins"}};
  http_client client{server.port()};
  // Starting the instance took the admin's tokens (it reads the connections): let the bucket
  // fill up again (3 at 2 a second).
  std::this_thread::sleep_for(std::chrono::milliseconds{2'000});
  int ok = 0;
  int limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = client.request("GET", "/api/brokers/user/configured", {}, server.auth());
    if (r.status == 200) {
      ++ok;
    } else {
      REQUIRE(r.status == 429);
      CHECK(error_of(r) == "rate_limited");
      ++limited;
    }
  }
  // A burst of 3 and 2 a second: ten quick requests cannot pass more than a few.
  CHECK(ok >= 3);
  CHECK(ok <= 5);
  CHECK(limited == 10 - ok);
}

TEST_CASE_METHOD(fixture, "the admin's statistics count users, connections, tests and orders",
                 "[integration][users]") {
  create("ivy@example.com", "premium");
  create("jack@example.com");
  auto test = admin("POST", "/api/brokers/paper/test", "{}");
  REQUIRE(test.status == 200);
  REQUIRE(admin("POST", "/api/orders",
                R"({"connectionId":")" + server.connection() +
                    R"(","symbol":"AAPL","side":"buy","quantity":"1","type":"market"})")
              .status == 201);
  auto r = admin("GET", "/api/admin/stats");
  REQUIRE(r.status == 200);
  auto doc = parse_json(r.body);
  CHECK(json_uint(doc, "users") == 3);
  CHECK(json_uint(doc, "premiumUsers") == 2);
  const auto& conns = json_member(doc, "connectionsByBroker");
  CHECK(json_uint(conns, "paper") == 1);
  CHECK(json_uint(conns, "ibkr") == 1);
  const auto& tests = json_member(doc, "connectionTests");
  CHECK(json_uint(tests, "run") == 1);
  CHECK(json_uint(tests, "succeeded") == 1);
  CHECK(json_member(tests, "successRate").GetDouble() == 1.0);
  CHECK(json_uint(json_member(doc, "ordersByBroker"), "paper") == 1);
}

TEST_CASE_METHOD(fixture,
                 "the new routes refuse a missing token with 401 and a bad login body with 400",
                 "[integration][users]") {
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/api/auth/logout"},
           {"DELETE", "/api/auth/tokens/current"},
           {"GET", "/api/admin/users"},
           {"POST", "/api/admin/users"},
           {"PATCH", "/api/admin/users/usr_x"},
           {"POST", "/api/admin/users/usr_x/tokens"},
           {"DELETE", "/api/admin/users/usr_x/tokens"},
           {"GET", "/api/admin/stats"},
           {"POST", "/api/brokers/conn_x/primary"},
           {"GET", "/api/brokers/compare"},
       }) {
    INFO(method << " " << target);
    auto r = client.request(method, target, "{}");
    CHECK(r.status == 401);
    CHECK(error_of(r) == "unauthorized");
    CHECK(client.request(method, target, "{}", bearer("revoked-or-unknown-token-0000")).status ==
          401);
  }
  for (const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
           {"", "malformed_json"},
           {"email=a&password=b", "malformed_json"},
           {R"({"email":"a@b.co"})", "missing_field"},
           {R"({"email":"a@b.co","password":"x","remember":true})", "unknown_field"},
           {R"({"email":1,"password":"x"})", "invalid_field"},
       }) {
    INFO(body);
    auto r = client.request("POST", "/api/auth/login", body);
    CHECK(r.status == 400);
    CHECK(error_of(r) == code);
  }
  CHECK(admin("POST", "/api/admin/users/" + server.connection() + "/tokens", "{}").status == 404);
}

TEST_CASE_METHOD(fixture, "a password set by the admin replaces the old one and logs in",
                 "[integration][users]") {
  auto lena = create("lena@example.com");
  CHECK(admin("POST", "/api/admin/users/" + lena.id + "/tokens", "{}").status == 400);

  // The admin gives itself a password, then logs in with it; the old one of lena changes too.
  auto users = parse_json(admin("GET", "/api/admin/users").body);
  std::string admin_id;
  for (const auto& u : json_member(users, "users").GetArray())
    if (u["admin"].GetBool())
      admin_id = json_string(u, "id");
  const std::string admin_password = "the admin's own passphrase";
  auto set =
      admin("PATCH", "/api/admin/users/" + admin_id, R"({"password":")" + admin_password + R"("})");
  REQUIRE(set.status == 200);
  CHECK(set.body.find(admin_password) == std::string::npos);
  CHECK(set.body.find(R"("hasPassword":true)") != std::string::npos);
  CHECK(login("admin@localhost", admin_password).status == 200);
  REQUIRE(admin("PATCH", "/api/admin/users/" + lena.id, R"({"password":"a brand new passphrase"})")
              .status == 200);
  CHECK(login("lena@example.com", password).status == 401);
  CHECK(login("lena@example.com", "a brand new passphrase").status == 200);
  CHECK(server.process().output().find(admin_password) == std::string::npos);
}

TEST_CASE("a premium connection stopped by a move to free stays stopped across a restart and "
          "starts again when its owner is premium",
          "[integration][users]") {
  temp_dir dir{"brokerd-users-restart"};
  auto data = dir.path() / "data";
  auto bearer = [](const std::string& t) {
    return http_client::header_list{{"Authorization", "Bearer " + t}};
  };
  auto listed = [&](http_client& c, const std::string& token, const std::string& id,
                    const std::string& field) -> std::string {
    auto doc = parse_json(c.request("GET", "/api/brokers/user/configured", {}, bearer(token)).body);
    for (const auto& conn : json_member(doc, "connections").GetArray())
      if (json_string(conn, "id") == id) {
        const auto& v = json_member(conn, field);
        return v.IsString() ? std::string{v.GetString()} : (v.GetBool() ? "true" : "false");
      }
    return "<absent>";
  };
  std::string pat_id;
  std::string pat_token;
  std::string conn;
  {
    brokerd_instance first{data};
    http_client c{first.port()};
    auto made = c.request("POST", "/api/admin/users",
                          R"({"email":"pat@example.com","password":")" + password +
                              R"(","tier":"premium"})",
                          first.auth());
    REQUIRE(made.status == 201);
    pat_id = json_string(parse_json(made.body), "userId");
    pat_token = json_string(parse_json(made.body), "token");
    // The demo's TWS simulator, as brokerd announces it.
    auto out = first.process().output();
    const std::string marker = "TWS simulator listening on 127.0.0.1:";
    auto at = out.find(marker);
    REQUIRE(at != std::string::npos);
    auto port = std::stoi(out.substr(at + marker.size(), 5));
    auto connected = c.request("POST", "/api/brokers/ibkr/connect",
                               R"({"credentials":{"host":"127.0.0.1","port":)" +
                                   std::to_string(port) + R"(,"clientId":77}})",
                               bearer(pat_token));
    INFO(connected.body);
    REQUIRE(connected.status == 201);
    conn = json_string(parse_json(connected.body), "connectionId");
    REQUIRE(c.request("PATCH", "/api/admin/users/" + pat_id, R"({"tier":"free"})", first.auth())
                .status == 200);
    CHECK(wait_until([&] { return listed(c, pat_token, conn, "status") == "disconnected"; },
                     std::chrono::seconds{5}, std::chrono::milliseconds{20}));
    REQUIRE(first.stop() == 0);
  }
  brokerd_instance second{data};
  http_client c{second.port()};
  CHECK(listed(c, pat_token, conn, "status") == "disconnected");
  CHECK(listed(c, pat_token, conn, "isActive") == "false");
  auto balance = c.request("GET", "/api/connections/" + conn + "/balance", {}, bearer(pat_token));
  CHECK(balance.status == 403);
  REQUIRE(c.request("PATCH", "/api/admin/users/" + pat_id, R"({"tier":"premium"})", second.auth())
              .status == 200);
  CHECK(listed(c, pat_token, conn, "isActive") == "true");
  // Its session runs again (the simulator moved to another port, so it may not reach ready).
  CHECK(wait_until([&] { return listed(c, pat_token, conn, "status") != "disconnected"; },
                   std::chrono::seconds{5}, std::chrono::milliseconds{20}));
  CHECK(c.request("DELETE", "/api/brokers/" + conn, {}, bearer(pat_token)).status == 200);
  CHECK(listed(c, pat_token, conn, "status") == "<absent>");
}

TEST_CASE_METHOD(fixture, "brokerctl adds, lists and re-tiers users through the running brokerd",
                 "[integration][users][brokerctl]") {
  auto ctl = program("brokerctl").string();
  auto url = "http://127.0.0.1:" + std::to_string(server.port());
  auto token_file = (dir.path() / "data" / "admin-token").string();
  auto pw_file = dir.path() / "password";
  write_file(pw_file, password + "\n");
  auto logs = dir.path();

  auto add = run_program({ctl, "user", "add", "--url", url, "--token-file", token_file, "--email",
                          "kim@example.com", "--password-file", pw_file.string(), "--tier", "free"},
                         logs / "ctl-add.log", std::chrono::seconds{10});
  INFO(add.output);
  REQUIRE(add.status == 0);
  CHECK(add.output.find("api token: ") != std::string::npos);
  CHECK(login("kim@example.com", password).status == 200);

  auto again = run_program({ctl, "user", "add", "--url", url, "--token-file", token_file, "--email",
                            "kim@example.com", "--password-file", pw_file.string()},
                           logs / "ctl-again.log", std::chrono::seconds{10});
  CHECK(again.status == 1);
  CHECK(again.output.find("409 email_taken") != std::string::npos);

  auto set = run_program({ctl, "user", "set-tier", "--url", url, "--token", server.token(),
                          "--email", "kim@example.com", "--tier", "premium"},
                         logs / "ctl-set.log", std::chrono::seconds{10});
  INFO(set.output);
  REQUIRE(set.status == 0);

  auto list = run_program({ctl, "user", "list", "--url", url, "--token-file", token_file},
                          logs / "ctl-list.log", std::chrono::seconds{10});
  REQUIRE(list.status == 0);
  CHECK(list.output.find("kim@example.com") != std::string::npos);
  CHECK(list.output.find("premium") != std::string::npos);
  CHECK(list.output.find("admin@localhost") != std::string::npos);

  auto refused =
      run_program({ctl, "user", "list", "--url", url, "--token", "not-a-valid-token-at-all"},
                  logs / "ctl-refused.log", std::chrono::seconds{10});
  CHECK(refused.status == 77);
  auto unreachable = run_program(
      {ctl, "user", "list", "--url", "http://127.0.0.1:1", "--token", "whatever-token-1234"},
      logs / "ctl-down.log", std::chrono::seconds{10});
  CHECK(unreachable.status == 69);
  auto usage = run_program(
      {ctl, "user", "set-tier", "--url", url, "--token", "t", "--tier", "gold", "--id", "x"},
      logs / "ctl-usage.log", std::chrono::seconds{10});
  CHECK(usage.status == 64);
  CHECK(server.process().output().find(password) == std::string::npos);
}
