// The Schwab simulator's OAuth side over real TLS sockets: the authorization-code flow, the
// refresh grant with and without rotation, dead refresh tokens, client authentication.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <thread>

#include "tests/unit/sim/support/schwab_test_client.hpp"

using brokerd::sim::schwab::refresh_rotation;
using brokerd::test::https_client;
using brokerd::test::str;
using brokerd::test::schwab::basic_auth;
using brokerd::test::schwab::fast_config;
using brokerd::test::schwab::form_encode;
using brokerd::test::schwab::query_value;
using brokerd::test::schwab::refresh_form;
using brokerd::test::schwab::start_server;
using brokerd::test::schwab::token_request;
using brokerd::test::schwab::trader_client;
using std::chrono::milliseconds;

namespace {

constexpr const char* callback = "https://127.0.0.1/callback";

std::string authorize_target(const std::string& state = "xyz-123",
                             const std::string& redirect = callback,
                             const std::string& client_id = "demo-app-key") {
  return "/v1/oauth/authorize?client_id=" + form_encode(client_id) +
         "&redirect_uri=" + form_encode(redirect) + "&response_type=code&state=" + state;
}

std::string code_form(const std::string& code, const std::string& redirect = callback) {
  return "grant_type=authorization_code&code=" + form_encode(code) +
         "&redirect_uri=" + form_encode(redirect);
}

/// Runs the authorize step and returns the (decoded) code from the redirect.
std::string authorize(https_client& c) {
  auto r = c.get(authorize_target());
  REQUIRE(r.status == 302);
  return query_value(r.header("location"), "code");
}

} // namespace

TEST_CASE("authorize redirects to the callback with a code and the state", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto r = c.get(authorize_target("state-42"));
  REQUIRE(r.status == 302);
  auto location = r.header("location");
  CHECK(location.starts_with(std::string{callback} + "?code="));
  CHECK(query_value(location, "state") == "state-42");
  CHECK(!query_value(location, "session").empty());
  auto code = query_value(location, "code");
  CHECK(code.ends_with("@"));
  // The code arrives percent-encoded, as Schwab's does (§2.3).
  CHECK(location.find("%40") != std::string::npos);
  CHECK(s->statistics().codes_issued == 1);
}

TEST_CASE("the code exchange returns the token response of the reference", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto code = authorize(c);
  auto r = token_request(c, code_form(code));
  REQUIRE(r.status == 200);
  auto d = r.json();
  CHECK(d["expires_in"].IsInt());
  CHECK(d["expires_in"].GetInt() == 1800);
  CHECK(str(d, "token_type") == "Bearer");
  CHECK(str(d, "scope") == "api");
  CHECK(str(d, "refresh_token") != "<none>");
  CHECK(str(d, "refresh_token") != "demo-refresh-token");
  CHECK(str(d, "access_token") != "<none>");
  auto id_token = str(d, "id_token");
  CHECK(std::count(id_token.begin(), id_token.end(), '.') == 2);
  // The fields in the order of §2.4.
  std::string order;
  for (const auto& m : d.GetObject())
    order += std::string{m.name.GetString()} + ",";
  CHECK(order == "expires_in,token_type,scope,refresh_token,access_token,id_token,");
  // The new tokens work.
  trader_client t{*s, str(d, "refresh_token")};
  CHECK(t.get("/trader/v1/accounts/accountNumbers").status == 200);
  https_client bearer{s->port(), s->ca_file()};
  bearer.headers = {{"Authorization", "Bearer " + str(d, "access_token")}};
  CHECK(bearer.get("/trader/v1/accounts/accountNumbers").status == 200);
  auto st = s->statistics();
  CHECK(st.token_grants["authorization_code"] == 1);
  CHECK(st.token_grants["refresh_token"] == 1);
  CHECK(st.refresh_tokens_issued == 1);
}

TEST_CASE("an authorization code works once", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto code = authorize(c);
  CHECK(token_request(c, code_form(code)).status == 200);
  auto again = token_request(c, code_form(code));
  CHECK(again.status == 400);
  CHECK(str(again.json(), "error") == "invalid_grant");
  CHECK(s->statistics().token_refusals == 1);
}

TEST_CASE("an authorization code expires after code_lifetime", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.code_lifetime = milliseconds{100};
  auto s = start_server(cfg);
  https_client c{s->port(), s->ca_file()};
  auto code = authorize(c);
  std::this_thread::sleep_for(milliseconds{150});
  auto r = token_request(c, code_form(code));
  CHECK(r.status == 400);
  CHECK(str(r.json(), "error") == "invalid_grant");
}

TEST_CASE("the code exchange needs the registered redirect_uri exactly", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto code = authorize(c);
  auto r = token_request(c, code_form(code, std::string{callback} + "/"));
  CHECK(r.status == 400);
  CHECK(str(r.json(), "error") == "invalid_grant");
  // A trailing slash at the authorize step is refused without a redirect (§2.7).
  auto slash = c.get(authorize_target("s", std::string{callback} + "/"));
  CHECK(slash.status == 400);
  CHECK(!slash.has_header("location"));
  auto unknown = c.get(authorize_target("s", callback, "other-app"));
  CHECK(unknown.status == 400);
  CHECK(str(unknown.json(), "error") == "invalid_client");
}

TEST_CASE("authorize with another response_type redirects with an error", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto r =
      c.get("/v1/oauth/authorize?client_id=demo-app-key&redirect_uri=" + form_encode(callback) +
            "&response_type=token&state=q");
  REQUIRE(r.status == 302);
  CHECK(query_value(r.header("location"), "error") == "unsupported_response_type");
  CHECK(query_value(r.header("location"), "state") == "q");
  CHECK(query_value(r.header("location"), "code").empty());
}

TEST_CASE("the token endpoint refuses a wrong or missing Basic authorization with 401",
          "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto wrong = token_request(c, refresh_form(), basic_auth("demo-app-key", "wrong"));
  CHECK(wrong.status == 401);
  CHECK(str(wrong.json(), "error") == "invalid_client");
  CHECK(token_request(c, refresh_form(), basic_auth("other", "demo-app-secret")).status == 401);
  CHECK(token_request(c, refresh_form(), "Bearer x").status == 401);
  CHECK(token_request(c, refresh_form(), "Basic not-base64!").status == 401);
  // schwab-py also sends client_id in the form: tolerated when it names the app.
  CHECK(token_request(c, refresh_form() + "&client_id=demo-app-key").status == 200);
  CHECK(token_request(c, refresh_form() + "&client_id=other").status == 401);
  auto st = s->statistics();
  CHECK(st.unauthorized == 5);
  CHECK(st.token_refusals == 5);
}

TEST_CASE("a refresh without rotation returns the same refresh token, which keeps working",
          "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto first = token_request(c, refresh_form());
  REQUIRE(first.status == 200);
  CHECK(str(first.json(), "refresh_token") == "demo-refresh-token");
  auto second = token_request(c, refresh_form());
  REQUIRE(second.status == 200);
  CHECK(str(second.json(), "access_token") != str(first.json(), "access_token"));
  auto st = s->statistics();
  CHECK(st.token_grants["refresh_token"] == 2);
  CHECK(st.refresh_tokens_issued == 0);
}

TEST_CASE("a rotating refresh returns a new refresh token and the old one keeps working",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.rotation = refresh_rotation::rotate;
  auto s = start_server(cfg);
  https_client c{s->port(), s->ca_file()};
  auto r = token_request(c, refresh_form());
  REQUIRE(r.status == 200);
  auto rotated = str(r.json(), "refresh_token");
  CHECK(rotated != "demo-refresh-token");
  CHECK(token_request(c, refresh_form()).status == 200);
  CHECK(token_request(c, refresh_form(rotated)).status == 200);
  CHECK(s->statistics().refresh_tokens_issued == 3);
}

TEST_CASE("a rotate-and-revoke refresh makes the old refresh token stop working", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.rotation = refresh_rotation::rotate_and_revoke;
  auto s = start_server(cfg);
  https_client c{s->port(), s->ca_file()};
  auto r = token_request(c, refresh_form());
  REQUIRE(r.status == 200);
  auto rotated = str(r.json(), "refresh_token");
  auto old = token_request(c, refresh_form());
  CHECK(old.status == 400);
  CHECK(str(old.json(), "error") == "unsupported_token_type");
  auto next = token_request(c, refresh_form(rotated));
  REQUIRE(next.status == 200);
  CHECK(str(next.json(), "refresh_token") != rotated);
  CHECK(token_request(c, refresh_form(rotated)).status == 400);
}

TEST_CASE("a rotated refresh token expires with the chain it came from", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.rotation = refresh_rotation::rotate;
  cfg.refresh_token_lifetime = milliseconds{1000};
  auto s = start_server(cfg);
  https_client c{s->port(), s->ca_file()};
  auto r = token_request(c, refresh_form());
  REQUIRE(r.status == 200);
  auto rotated = str(r.json(), "refresh_token");
  std::this_thread::sleep_for(milliseconds{1100});
  // Refreshing never extended the 7-day (here 1 s) lifetime (§2.5).
  CHECK(token_request(c, refresh_form(rotated)).status == 400);
  CHECK(token_request(c, refresh_form()).status == 400);
}

TEST_CASE("an expired refresh token is refused with the doubly encoded error of the reference",
          "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.refresh_token_lifetime = milliseconds{100};
  auto s = start_server(cfg);
  https_client c{s->port(), s->ca_file()};
  std::this_thread::sleep_for(milliseconds{150});
  auto r = token_request(c, refresh_form());
  REQUIRE(r.status == 400);
  auto d = r.json();
  CHECK(str(d, "error") == "unsupported_token_type");
  auto description = str(d, "error_description");
  CHECK(description.starts_with("400 Bad Request: \"{\"error_description\":\""));
  CHECK(description.find("refresh_token_authentication_error") != std::string::npos);
  CHECK(description.find("expired") != std::string::npos);
  // A new code flow gives a working chain again.
  auto code = authorize(c);
  CHECK(token_request(c, code_form(code)).status == 200);
}

TEST_CASE("an unknown refresh token is refused with unsupported_token_type", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto r = token_request(c, refresh_form("no-such-token"));
  CHECK(r.status == 400);
  CHECK(str(r.json(), "error") == "unsupported_token_type");
}

TEST_CASE("the token endpoint refuses other grant types and missing fields", "[sim][schwab]") {
  auto s = start_server();
  https_client c{s->port(), s->ca_file()};
  auto other = token_request(c, "grant_type=client_credentials");
  CHECK(other.status == 400);
  CHECK(str(other.json(), "error") == "unsupported_grant_type");
  auto none = token_request(c, "refresh_token=demo-refresh-token");
  CHECK(none.status == 400);
  CHECK(str(none.json(), "error") == "invalid_request");
  auto no_code = token_request(c, "grant_type=authorization_code&redirect_uri=x");
  CHECK(str(no_code.json(), "error") == "invalid_request");
  CHECK(c.get("/v1/oauth/token").status == 405);
}

TEST_CASE("the configured credentials replace the defaults", "[sim][schwab]") {
  auto cfg = fast_config();
  cfg.app_key = "key-1";
  cfg.app_secret = "secret-1";
  cfg.refresh_token = "refresh-1";
  auto s = start_server(cfg);
  https_client c{s->port(), s->ca_file()};
  CHECK(token_request(c, refresh_form()).status == 401);
  CHECK(token_request(c, refresh_form(), basic_auth("key-1", "secret-1")).status == 400);
  CHECK(token_request(c, refresh_form("refresh-1"), basic_auth("key-1", "secret-1")).status == 200);
}
