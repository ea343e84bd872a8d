// The Schwab codec (actors/brokers/schwab/codec.*) against vectors shaped as in the Schwab
// reference (schwab-api.md §2–§7): exact bodies and URLs out, exact decimals in, errors naming
// fields and never a secret.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/brokers/schwab/codec.hpp"

using namespace brokerd;
using namespace brokerd::actors::schwab;
using actors::secret;
using engine::decimal;
using engine::order_status;

namespace {

decimal dec(const char* text) {
  return *decimal::parse(text);
}

bool contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

engine::order make_order(engine::order_type type,
                         engine::time_in_force tif = engine::time_in_force::day) {
  engine::order o;
  o.symbol = "AAPL";
  o.quantity = dec("10");
  o.order_side = engine::side::buy;
  o.type = type;
  o.tif = tif;
  o.client_order_id = "c-1";
  return o;
}

// An order as GET returns it (§5): numbers as JSON numbers, a numeric orderId and
// accountNumber, times with a +0000 offset. `activities` is the orderActivityCollection array.
std::string order_json(std::string_view status, std::string_view filled = "0.0",
                       std::string_view activities = "[]",
                       std::string_view entered = "2024-05-18T13:29:58+0000") {
  return std::string{R"({"session":"NORMAL","duration":"DAY","orderType":"LIMIT",)"
                     R"("complexOrderStrategyType":"NONE","quantity":7.0,"filledQuantity":)"} +
         std::string{filled} +
         R"(,"remainingQuantity":0.0,"requestedDestination":"AUTO",)"
         R"("destinationLinkName":"AutoRoute","price":187.3,)"
         R"("orderLegCollection":[{"orderLegType":"EQUITY","legId":1,"instrument":)"
         R"({"assetType":"EQUITY","cusip":"037833100","symbol":"AAPL","instrumentId":1973757747},)"
         R"("instruction":"BUY","positionEffect":"OPENING","quantity":7.0}],)"
         R"("orderStrategyType":"SINGLE","orderId":1000123456789,"cancelable":false,)"
         R"("editable":false,"status":")" +
         std::string{status} + R"(","enteredTime":")" + std::string{entered} +
         R"(","closeTime":"2024-05-18T13:30:01+0000","tag":"API_TOS","accountNumber":12345678,)"
         R"("orderActivityCollection":)" +
         std::string{activities} + "}";
}

// One EXECUTION activity with one leg.
std::string fill(std::string_view id, std::string_view quantity, std::string_view price,
                 std::string_view type = "FILL") {
  return std::string{R"({"activityType":"EXECUTION","activityId":)"} + std::string{id} +
         R"(,"executionType":")" + std::string{type} + R"(","quantity":)" + std::string{quantity} +
         R"(,"orderRemainingQuantity":0.0,"executionLegs":[{"legId":1,"quantity":)" +
         std::string{quantity} + R"(,"mismarkedQuantity":0.0,"price":)" + std::string{price} +
         R"(,"time":"2024-05-18T13:30:00+0000","instrumentId":1973757747}]})";
}

// A CASH account as endpoint 3 returns it (§6), with positions.
constexpr std::string_view cash_account =
    R"({"securitiesAccount":{"type":"CASH","accountNumber":"12345678","roundTrips":0,)"
    R"("isDayTrader":false,"isClosingOnlyRestricted":false,"pfcbFlag":false,"positions":[)"
    R"({"shortQuantity":0.0,"averagePrice":187.1234,"currentDayProfitLoss":1.5,)"
    R"("currentDayProfitLossPercentage":0.08,"longQuantity":10.0,"settledLongQuantity":10.0,)"
    R"("settledShortQuantity":0.0,"instrument":{"assetType":"EQUITY","cusip":"037833100",)"
    R"("symbol":"AAPL","instrumentId":1973757747,"netChange":1.2},"marketValue":1873.5,)"
    R"("maintenanceRequirement":0.0,"averageLongPrice":187.1234,"longOpenProfitLoss":2.27},)"
    R"({"shortQuantity":0.0,"averagePrice":1.25,"longQuantity":2.0,"instrument":)"
    R"({"assetType":"OPTION","symbol":"AAPL  240517P00190000","type":"PUT"},"marketValue":250.0}],)"
    R"("initialBalances":{"cashBalance":900.0,"liquidationValue":3000.0},)"
    R"("currentBalances":{"cashAvailableForTrading":1000.5,"cashAvailableForWithdrawal":1000.5,)"
    R"("cashBalance":1023.45,"totalCash":1023.45,"liquidationValue":3100.1,)"
    R"("longMarketValue":2123.5,"unsettledCash":0.0}},)"
    R"("aggregatedBalance":{"currentLiquidationValue":3146.95,"liquidationValue":3146.95}})";

// A MARGIN account (§6): currentBalances holds only margin fields, no positions key.
constexpr std::string_view margin_account =
    R"({"securitiesAccount":{"type":"MARGIN","accountNumber":"87654321","position":null,)"
    R"("initialBalances":{"cashBalance":-5000.25,"liquidationValue":20000.0,"isInCall":false},)"
    R"("currentBalances":{"availableFunds":12000.0,"buyingPower":24000.5,"equity":20150.75,)"
    R"("equityPercentage":100.0,"maintenanceRequirement":0.0,"marginBalance":0.0,"sma":12000.0}},)"
    R"("aggregatedBalance":{"currentLiquidationValue":20150.75,"liquidationValue":20150.75}})";

} // namespace

// -- OAuth2 (§2) -------------------------------------------------------------------------------

TEST_CASE("percent-encoding keeps only unreserved characters") {
  CHECK(percent_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(percent_encode("https://127.0.0.1:5556/cb?x=1&y=2") ==
        "https%3A%2F%2F127.0.0.1%3A5556%2Fcb%3Fx%3D1%26y%3D2");
  CHECK(percent_encode("a b+c@/%") == "a%20b%2Bc%40%2F%25");
  CHECK(percent_encode("\xC3\xA9\x01") == "%C3%A9%01");
  CHECK(percent_encode("").empty());
}

TEST_CASE("percent-decoding reads escapes in either case and keeps a plus sign") {
  CHECK(percent_decode("C0.b2F1dGg%40").value() == "C0.b2F1dGg@");
  CHECK(percent_decode("%2f%2F%3a").value() == "//:");
  CHECK(percent_decode("a+b").value() == "a+b");
  CHECK(percent_decode("").value().empty());
  for (const char* bad : {"%", "%4", "x%4", "%zz", "%g1", "%1g"}) {
    INFO(bad);
    auto d = percent_decode(bad);
    REQUIRE_FALSE(d.has_value());
    CHECK(d.error().code == errc::bad_callback);
    CHECK(contains(d.error().message, "bad percent-escape at offset"));
  }
  CHECK(percent_decode("ab%4").error().message == "bad percent-escape at offset 2");
}

TEST_CASE("the authorize URL encodes each value and leaves out an empty state") {
  CHECK(
      authorize_url("https://api.schwabapi.com", "AppKey0123", "https://127.0.0.1:5556", "st-1") ==
      "https://api.schwabapi.com/v1/oauth/authorize?response_type=code&client_id=AppKey0123"
      "&redirect_uri=https%3A%2F%2F127.0.0.1%3A5556&state=st-1");
  CHECK(authorize_url("https://127.0.0.1:8443/", "k", "https://127.0.0.1/cb/") ==
        "https://127.0.0.1:8443/v1/oauth/authorize?response_type=code&client_id=k"
        "&redirect_uri=https%3A%2F%2F127.0.0.1%2Fcb%2F");
  CHECK(authorize_url("https://h", "a&b=c", "https://x", "s p@c/e") ==
        "https://h/v1/oauth/authorize?response_type=code&client_id=a%26b%3Dc"
        "&redirect_uri=https%3A%2F%2Fx&state=s%20p%40c%2Fe");
}

TEST_CASE("the callback gives the decoded code, state and session") {
  auto cb = parse_callback("https://127.0.0.1:5556/?code=C0.b2F1dGgyLmNkYy5zY2h3YWIuY29t.xyz%40"
                           "&session=0c5b8c2e-1111-4a4a-9e9e-123456789abc&state=st%2F1");
  REQUIRE(cb.has_value());
  CHECK(cb->code.reveal() == "C0.b2F1dGgyLmNkYy5zY2h3YWIuY29t.xyz@");
  CHECK(cb->session == "0c5b8c2e-1111-4a4a-9e9e-123456789abc");
  CHECK(cb->state == "st/1");

  auto query = parse_callback("?code=a%2Bb+c&session=s");
  REQUIRE(query.has_value());
  CHECK(query->code.reveal() == "a+b+c");
  CHECK(query->state.empty());

  auto bare = parse_callback("  code=x%40&&other=%zz&flag#frag=1\r\n");
  REQUIRE(bare.has_value());
  CHECK(bare->code.reveal() == "x@");
  CHECK(bare->session.empty());

  auto encoded_key = parse_callback("https://127.0.0.1/cb?%63ode=abc");
  REQUIRE(encoded_key.has_value());
  CHECK(encoded_key->code.reveal() == "abc");
}

TEST_CASE("a callback without a usable code is an error that never shows the code") {
  auto expect = [](std::string_view url, std::string_view message) {
    auto cb = parse_callback(url);
    REQUIRE_FALSE(cb.has_value());
    CHECK(cb.error().code == errc::bad_callback);
    CHECK(cb.error().message == message);
  };
  expect("https://127.0.0.1:5556/", "the callback URL has no query: code is missing");
  expect("https://127.0.0.1:5556/#code=x", "the callback URL has no query: code is missing");
  expect("https://127.0.0.1/?session=s", "code is missing from the callback");
  expect("", "code is missing from the callback");
  expect("?code=&session=s", "code is empty in the callback");
  expect("?code", "code is empty in the callback");
  expect("?code=SECRETCODE&code=SECRETCODE", "code appears more than once in the callback");
  expect("?code=a&state=1&state=2", "state appears more than once in the callback");
  expect("?code=SECRET%4", "code has a bad percent-escape at offset 6");
  expect("?state=%x1&code=a", "state has a bad percent-escape at offset 0");
  expect("?session=%&code=a", "session has a bad percent-escape at offset 0");
  expect("?%zz=1&code=a", "a callback parameter name has a bad percent-escape at offset 0");
  expect("?error=access_denied&error_description=User+denied%20access",
         "the login was refused: access_denied: User denied access");
  expect("?error=server_error&code=abc", "the login was refused: server_error");
  expect("?error=%q", "error has a bad percent-escape at offset 0");
  expect("?error=x&error_description=%q", "error_description has a bad percent-escape at offset 0");
}

TEST_CASE("token request bodies are form-encoded byte for byte") {
  CHECK(encode_code_grant(secret{"C0.abc+/=@"}, "https://127.0.0.1:5556").reveal() ==
        "grant_type=authorization_code&code=C0.abc%2B%2F%3D%40"
        "&redirect_uri=https%3A%2F%2F127.0.0.1%3A5556");
  CHECK(encode_refresh_grant(secret{"rt/+x=="}).reveal() ==
        "grant_type=refresh_token&refresh_token=rt%2F%2Bx%3D%3D");
}

TEST_CASE("the Basic client authentication is base64 of key and secret") {
  CHECK(basic_authorization("AppKey0123456789", secret{"S3cret-Value"}).value().reveal() ==
        "Basic QXBwS2V5MDEyMzQ1Njc4OTpTM2NyZXQtVmFsdWU=");
  CHECK(basic_authorization("k", secret{"s"}).value().reveal() == "Basic azpz");
  CHECK(basic_authorization("k", secret{"ab"}).value().reveal() == "Basic azphYg==");
  auto expect = [](std::string_view key, const std::string& value, std::string_view message) {
    auto h = basic_authorization(key, secret{value});
    REQUIRE_FALSE(h.has_value());
    CHECK(h.error().code == errc::bad_argument);
    CHECK(h.error().message == message);
  };
  expect("", "TOPSECRET", "the app key is empty");
  expect("a:b", "TOPSECRET", "the app key contains ':'");
  expect("key", "", "the app secret is empty");
  expect("key", std::string(64 * 1024, 'S'), "the app key and secret are longer than 64 KiB");
}

TEST_CASE("a token response is parsed with its secrets kept as secrets") {
  auto t = parse_token_response(
      R"({"expires_in":1800,"token_type":"Bearer","scope":"api","refresh_token":"RT-abc@",)"
      R"("access_token":"I0.AT-xyz@","id_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig","extra":[1]})");
  REQUIRE(t.has_value());
  CHECK(t->access_token.reveal() == "I0.AT-xyz@");
  CHECK(t->refresh_token.reveal() == "RT-abc@");
  CHECK(t->id_token.reveal() == "eyJhbGciOiJSUzI1NiJ9.e30.sig");
  CHECK(t->expires_in == 1800);
  CHECK(t->token_type == "Bearer");
  CHECK(t->scope == "api");

  auto minimal = parse_token_response(R"({"access_token":"a","refresh_token":null})");
  REQUIRE(minimal.has_value());
  CHECK(minimal->expires_in == 1800);
  CHECK(minimal->token_type == "Bearer");
  CHECK(minimal->refresh_token.empty());
  CHECK(minimal->id_token.empty());
  CHECK(minimal->scope.empty());

  CHECK(parse_token_response(R"({"access_token":"a","expires_in":"900"})")->expires_in == 900);
  CHECK(parse_token_response(R"({"access_token":"a","expires_in":1.8E3})")->expires_in == 1800);
  CHECK(parse_token_response(R"({"access_token":"a","expires_in":600.0})")->expires_in == 600);
  CHECK(parse_token_response(R"({"access_token":"a","token_type":"bearer"})")->token_type ==
        "bearer");
}

TEST_CASE("a bad token response names the field and never a token value") {
  const std::string access = "I0.ACCESS-SECRET@";
  const std::string refresh = "REFRESH-SECRET";
  const std::string id = "ID-SECRET";
  auto with = [&](std::string_view fields) {
    return std::string{R"({"access_token":")"} + access + R"(","refresh_token":")" + refresh +
           R"(","id_token":")" + id + "\"," + std::string{fields} + "}";
  };
  auto expect = [&](const std::string& json, errc code, std::string_view message) {
    auto t = parse_token_response(json);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().code == code);
    CHECK(t.error().message == message);
    CHECK_FALSE(contains(t.error().to_string(), access));
    CHECK_FALSE(contains(t.error().to_string(), refresh));
    CHECK_FALSE(contains(t.error().to_string(), id));
  };
  expect(with(R"("expires_in":0)"), errc::bad_field,
         "expires_in is not a positive whole number of seconds: \"0\"");
  expect(with(R"("expires_in":-5)"), errc::bad_field,
         "expires_in is not a positive whole number of seconds: \"-5\"");
  expect(with(R"("expires_in":1.5)"), errc::bad_field,
         "expires_in is not a positive whole number of seconds: \"1.5\"");
  expect(with(R"("expires_in":"soon")"), errc::bad_field, "expires_in is not a decimal: \"soon\"");
  expect(with(R"("expires_in":true)"), errc::bad_field,
         "expires_in is a boolean, expected a decimal string or number");
  expect(with(R"("token_type":"MAC")"), errc::bad_field, "token_type is \"MAC\", expected Bearer");
  expect(with(R"("scope":["api"])"), errc::bad_field, "scope is an array, expected a string");
  expect(R"({"access_token":")" + access + R"(","refresh_token":{"v":")" + refresh + R"("}})",
         errc::bad_field, "refresh_token is an object, expected a string");
  expect(R"({"access_token":")" + access + R"(","id_token":false})", errc::bad_field,
         "id_token is a boolean, expected a string");
  expect(R"({"refresh_token":")" + refresh + R"("})", errc::missing_field,
         "access_token is missing");
  expect(R"({"access_token":null})", errc::missing_field, "access_token is missing");
  expect(R"({"access_token":""})", errc::missing_field, "access_token is empty");
  expect(R"({"access_token":true})", errc::bad_field,
         "access_token is a boolean, expected a string");
  expect(R"({"error":"invalid_grant","error_description":"bad code"})", errc::missing_field,
         "access_token is missing (the body carries error \"invalid_grant\")");
  expect(R"({"access_token":")" + access + R"(",)", errc::malformed_json,
         "token response: not JSON (error at offset 36)");
  expect("<html>Access Denied</html>", errc::malformed_json,
         "token response: not JSON (error at offset 0)");
  expect(R"([")" + access + R"("])", errc::malformed_json,
         "token response is an array, expected an object");
}

TEST_CASE("an expired refresh token gives the outer and the doubly encoded inner error") {
  auto e = parse_oauth_error(
      400,
      R"({"error":"unsupported_token_type","error_description":"400 Bad Request: \"{\"error_description\":\"Exception while authenticating refresh token [abc]\",\"error\":\"refresh_token_authentication_error\"}\""})");
  CHECK(e.http_status == 400);
  CHECK(e.error == "unsupported_token_type");
  CHECK(e.inner_error == "refresh_token_authentication_error");
  CHECK(contains(e.error_description, "Exception while authenticating refresh token"));
  CHECK(e.to_string() == "HTTP 400, unsupported_token_type (refresh_token_authentication_error): " +
                             e.error_description);

  // Escaped once more: the inner quotes arrive as \".
  auto twice = parse_oauth_error(
      400,
      R"({"error":"unsupported_token_type","error_description":"400: {\\\"error\\\":\\\"refresh_token_authentication_error\\\"}"})");
  CHECK(twice.inner_error == "refresh_token_authentication_error");
}

TEST_CASE("token endpoint errors of every shape keep the status and some text") {
  auto client = parse_oauth_error(401, R"({"error":"invalid_client"})");
  CHECK(client.error == "invalid_client");
  CHECK(client.error_description.empty());
  CHECK(client.inner_error.empty());
  CHECK(client.to_string() == "HTTP 401, invalid_client");

  auto described = parse_oauth_error(400, R"({"error_description":"refresh token invalid"})");
  CHECK(described.error.empty());
  CHECK(described.to_string() == "HTTP 400: refresh token invalid");

  auto braces = parse_oauth_error(400, R"({"error":"e","error_description":"a {not json} b"})");
  CHECK(braces.inner_error.empty());
  auto reversed = parse_oauth_error(400, R"({"error":"e","error_description":"} then {"})");
  CHECK(reversed.inner_error.empty());
  auto no_inner_error =
      parse_oauth_error(400, R"({"error":"e","error_description":"x {\"a\":1} y"})");
  CHECK(no_inner_error.inner_error.empty());

  auto html = parse_oauth_error(
      403, "\n<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>Reference #18</BODY></HTML>\n");
  CHECK(html.http_status == 403);
  CHECK(html.error.empty());
  CHECK(html.error_description ==
        "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>Reference #18</BODY></HTML>");

  auto empty = parse_oauth_error(500, "");
  CHECK(empty.error.empty());
  CHECK(empty.error_description.empty());
  CHECK(empty.to_string() == "HTTP 500");

  auto trader_shape = parse_oauth_error(
      401,
      R"({"errors":[{"status":401,"title":"Unauthorized","detail":"Client not authorized"}]})");
  CHECK(trader_shape.error.empty());
  CHECK(contains(trader_shape.error_description, "Client not authorized"));

  CHECK(parse_oauth_error(502, std::string(500, 'x')).error_description.size() == 200);
  CHECK(parse_oauth_error(400, R"(["invalid_client"])").error_description ==
        R"(["invalid_client"])");
  CHECK(parse_oauth_error(400, R"({"error":{"code":1}})").error_description ==
        R"({"error":{"code":1}})");
}

// -- accounts (§3.1, §6) -----------------------------------------------------------------------

TEST_CASE("account numbers map to their hashes") {
  auto a = parse_account_numbers(
      R"([{"accountNumber":"12345678","hashValue":"E5B2A1C4D3F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D2E3F4A5B6C7D8E9F0A1B2"},)"
      R"({"accountNumber":87654321,"hashValue":"0A1B"}])");
  REQUIRE(a.has_value());
  REQUIRE(a->size() == 2);
  CHECK((*a)[0] == linked_account{"12345678", "E5B2A1C4D3F6A7B8C9D0E1F2A3B4C5D6E7F8A9B0C1D2E3F4"
                                              "A5B6C7D8E9F0A1B2"});
  CHECK((*a)[1] == linked_account{"87654321", "0A1B"});
  CHECK(parse_account_numbers("[]").value().empty());

  auto message = [](std::string_view json) {
    return parse_account_numbers(json).error().to_string();
  };
  CHECK(message(R"([{"accountNumber":"1"}])") ==
        "missing_field: accountNumbers[0].hashValue is missing");
  CHECK(
      message(R"([{"accountNumber":"1","hashValue":"H"},{"accountNumber":"","hashValue":"H"}])") ==
      "missing_field: accountNumbers[1].accountNumber is empty");
  CHECK(message(R"([{"accountNumber":"1","hashValue":[]}])") ==
        "bad_field: accountNumbers[0].hashValue is an array, expected a string");
  CHECK(message(R"(["12345678"])") ==
        "bad_field: accountNumbers[0] is a string or number, expected an object");
  CHECK(message(R"({"accountNumber":"1"})") ==
        "malformed_json: accountNumbers is an object, expected an array");
  CHECK(message(R"({"message":"Invalid account number")") ==
        "malformed_json: accountNumbers: not JSON (error at offset 35)");
}

TEST_CASE("a CASH account takes cash, cash available for trading and liquidation value") {
  auto b = parse_account(cash_account);
  REQUIRE(b.has_value());
  CHECK(b->cash == dec("1023.45"));
  CHECK(b->buying_power == dec("1000.5"));
  CHECK(b->equity == dec("3146.95"));
  CHECK(b->currency == "USD");
}

TEST_CASE("a MARGIN account takes buying power and equity, and cash from initialBalances") {
  auto b = parse_account(margin_account);
  REQUIRE(b.has_value());
  CHECK(b->cash == dec("-5000.25"));
  CHECK(b->buying_power == dec("24000.5"));
  CHECK(b->equity == dec("20150.75"));
}

TEST_CASE("account balances fall back field by field as the reference orders them") {
  auto account = [](std::string_view type, std::string_view current, std::string_view initial,
                    std::string_view aggregated) {
    return std::string{R"({"securitiesAccount":{"type":")"} + std::string{type} +
           R"(","currentBalances":{)" + std::string{current} + R"(},"initialBalances":{)" +
           std::string{initial} + "}}" + std::string{aggregated} + "}";
  };
  // totalCash when cashBalance is absent; currentBalances.liquidationValue without aggregate.
  auto b = parse_account(
      account("CASH", R"("totalCash":5,"cashAvailableForTrading":4,"liquidationValue":7)", "", ""));
  REQUIRE(b.has_value());
  CHECK(b->cash == dec("5"));
  CHECK(b->equity == dec("7"));
  // aggregatedBalance.currentLiquidationValue when its liquidationValue is absent.
  b = parse_account(account("CASH", R"("cashBalance":1,"cashAvailableForTrading":1)", "",
                            R"(,"aggregatedBalance":{"currentLiquidationValue":9.5})"));
  CHECK(b.value().equity == dec("9.5"));
  // initialBalances.liquidationValue last.
  b = parse_account(account("CASH", R"("cashBalance":1,"cashAvailableForTrading":1)",
                            R"("liquidationValue":11)", R"(,"aggregatedBalance":null)"));
  CHECK(b.value().equity == dec("11"));
  // A MARGIN account without currentBalances.equity takes the liquidation value.
  b = parse_account(account("MARGIN", R"("cashBalance":1,"buyingPower":2)", "",
                            R"(,"aggregatedBalance":{"liquidationValue":12})"));
  CHECK(b.value().equity == dec("12"));
  // Another type takes buyingPower, else cashAvailableForTrading.
  b = parse_account(
      account("IRA", R"("cashBalance":1,"cashAvailableForTrading":3,"equity":4)", "", ""));
  CHECK(b.value().buying_power == dec("3"));
  CHECK(b.value().equity == dec("4"));
  b = parse_account(account("",
                            R"("cashBalance":1,"buyingPower":6,"cashAvailableForTrading":3,)"
                            R"("equity":4)",
                            "", ""));
  CHECK(b.value().buying_power == dec("6"));
  // A CASH account ignores a buyingPower field; a MARGIN account ignores cashAvailableForTrading.
  b = parse_account(account(
      "CASH", R"("cashBalance":1,"buyingPower":6,"cashAvailableForTrading":3,"equity":4)", "", ""));
  CHECK(b.value().buying_power == dec("3"));
  auto margin = parse_account(
      account("MARGIN", R"("cashBalance":1,"cashAvailableForTrading":3,"equity":4)", "", ""));
  REQUIRE_FALSE(margin.has_value());
  CHECK(margin.error().message ==
        "buying power is missing: none of securitiesAccount.currentBalances.buyingPower");
}

TEST_CASE("a broken account names the field at fault") {
  auto expect = [](std::string_view json, errc code, std::string_view message) {
    auto b = parse_account(json);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().code == code);
    CHECK(b.error().message == message);
  };
  expect(R"({"aggregatedBalance":{}})", errc::missing_field, "securitiesAccount is missing");
  expect(R"({"securitiesAccount":[]})", errc::bad_field,
         "securitiesAccount is an array, expected an object");
  expect(R"({"securitiesAccount":{},"aggregatedBalance":1})", errc::bad_field,
         "aggregatedBalance is a string or number, expected an object");
  expect(R"({"securitiesAccount":{"currentBalances":"x"}})", errc::bad_field,
         "securitiesAccount.currentBalances is a string or number, expected an object");
  expect(R"({"securitiesAccount":{"initialBalances":true}})", errc::bad_field,
         "securitiesAccount.initialBalances is a boolean, expected an object");
  expect(R"({"securitiesAccount":{"type":1.5e}})", errc::malformed_json,
         "account: not JSON (error at offset 33)");
  expect(R"({"securitiesAccount":{"type":{}}})", errc::bad_field,
         "securitiesAccount.type is an object, expected a string");
  expect(
      R"({"securitiesAccount":{"type":"CASH"}})", errc::missing_field,
      "cash is missing: none of securitiesAccount.currentBalances.cashBalance, "
      "securitiesAccount.currentBalances.totalCash, securitiesAccount.initialBalances.cashBalance");
  expect(R"({"securitiesAccount":{"type":"CASH","currentBalances":{"cashBalance":"n/a"}}})",
         errc::bad_field,
         "securitiesAccount.currentBalances.cashBalance is not a decimal: \"n/a\"");
  expect(R"({"securitiesAccount":{"type":"CASH","currentBalances":{"cashBalance":1}}})",
         errc::missing_field,
         "buying power is missing: none of "
         "securitiesAccount.currentBalances.cashAvailableForTrading");
  expect(R"({"securitiesAccount":{"type":"X","currentBalances":{"cashBalance":1}}})",
         errc::missing_field,
         "buying power is missing: none of securitiesAccount.currentBalances.buyingPower, "
         "securitiesAccount.currentBalances.cashAvailableForTrading");
  expect(R"({"securitiesAccount":{"type":"CASH","currentBalances":{"cashBalance":1,)"
         R"("cashAvailableForTrading":1}}})",
         errc::missing_field,
         "equity is missing: none of securitiesAccount.currentBalances.equity, "
         "aggregatedBalance.liquidationValue, aggregatedBalance.currentLiquidationValue, "
         "securitiesAccount.currentBalances.liquidationValue, "
         "securitiesAccount.initialBalances.liquidationValue");
  expect(R"({"securitiesAccount":{"type":"CASH","currentBalances":{"cashBalance":1,)"
         R"("cashAvailableForTrading":1}},"aggregatedBalance":{"liquidationValue":[]}})",
         errc::bad_field,
         "aggregatedBalance.liquidationValue is an array, expected a decimal string or number");
  expect("[]", errc::malformed_json, "account is an array, expected an object");
  expect("", errc::malformed_json, "account: not JSON (error at offset 0)");
}

TEST_CASE("big, exponent and floating-point-artefact amounts are read exactly in text") {
  auto equity = [](std::string_view value) {
    auto b = parse_account(
        std::string{R"({"securitiesAccount":{"type":"MARGIN","currentBalances":{"cashBalance":0,)"
                    R"("buyingPower":0,"equity":)"} +
        std::string{value} + "}}}");
    return b ? b->equity.to_string() : b.error().to_string();
  };
  CHECK(equity("92233720368.54775807") == "92233720368.54775807");
  CHECK(equity("-92233720368.54775807") == "-92233720368.54775807");
  CHECK(equity("1.2345678901E7") == "12345678.901");
  CHECK(equity("1.0E7") == "10000000");
  CHECK(equity("1E+2") == "100");
  CHECK(equity("-2.5e-3") == "-0.0025");
  CHECK(equity("1.5E-4") == "0.00015");
  CHECK(equity("0.0E0") == "0");
  CHECK(equity("0E5") == "0");
  CHECK(equity("\"-00.5E1\"") == "-5");
  CHECK(equity("0.5e1") == "5");
  CHECK(equity("\"1e2\"") == "100");
  CHECK(equity("187.24999999999997") == "187.25");
  CHECK(equity("0.1234567850") == "0.12345678");
  CHECK(equity("0.1234567750") == "0.12345678");
  CHECK(equity("0.12345678500001") == "0.12345679");
  CHECK(equity("9.999999999") == "10");
  CHECK(equity("-9.999999995") == "-10");
  CHECK(equity("0.000000001e0") == "0");
  CHECK(equity("1e-999") == "0");
  // Rounds up past the top of the range.
  CHECK(contains(equity("92233720368.547758075"), "not a decimal"));
  CHECK(equity("92233720368.547758065") == "92233720368.54775806");
  CHECK(equity("1e20") == "bad_field: securitiesAccount.currentBalances.equity is not a decimal: "
                          "\"1e20\"");
  CHECK(equity("\"1e\"") ==
        "bad_field: securitiesAccount.currentBalances.equity is not a decimal: \"1e\"");
  CHECK(contains(equity("\"1e1000\""), "not a decimal"));
  CHECK(contains(equity("\"e5\""), "not a decimal"));
  CHECK(contains(equity("\"1.e5\""), "not a decimal"));
  CHECK(contains(equity("\"1x.123456789\""), "not a decimal"));
  CHECK(contains(equity("\"1,5\""), "not a decimal"));
  CHECK(contains(equity(std::string(100, '9')), "...\""));
}

TEST_CASE("positions are net of short quantity with exact prices") {
  auto p = parse_positions(cash_account);
  REQUIRE(p.has_value());
  REQUIRE(p->size() == 2);
  CHECK((*p)[0] == engine::position{"AAPL", dec("10"), dec("187.1234"), dec("1873.5")});
  CHECK((*p)[1] == engine::position{"AAPL  240517P00190000", dec("2"), dec("1.25"), dec("250")});

  auto shorts = parse_positions(
      R"({"securitiesAccount":{"positions":[)"
      R"({"shortQuantity":3.0,"longQuantity":0.0,"averagePrice":200.5,"marketValue":-630.75,)"
      R"("instrument":{"symbol":"TSLA"}},)"
      R"({"shortQuantity":2,"averageShortPrice":50.125,"averageLongPrice":1,"marketValue":-100,)"
      R"("instrument":{"symbol":"F"}},)"
      R"({"longQuantity":0.5,"averageLongPrice":10.12345678901,"marketValue":5,)"
      R"("instrument":{"symbol":"X"}}]}})");
  REQUIRE(shorts.has_value());
  REQUIRE(shorts->size() == 3);
  CHECK((*shorts)[0] == engine::position{"TSLA", dec("-3"), dec("200.5"), dec("-630.75")});
  CHECK((*shorts)[1] == engine::position{"F", dec("-2"), dec("50.125"), dec("-100")});
  CHECK((*shorts)[2] == engine::position{"X", dec("0.5"), dec("10.12345679"), dec("5")});
}

TEST_CASE("an account without positions has an empty list") {
  CHECK(parse_positions(margin_account).value().empty());
  CHECK(parse_positions(R"({"securitiesAccount":{"positions":null}})").value().empty());
  CHECK(parse_positions(R"({"securitiesAccount":{"positions":[]}})").value().empty());
}

TEST_CASE("a broken position names its index and field") {
  auto expect = [](std::string_view positions, errc code, std::string_view message) {
    auto p = parse_positions(std::string{R"({"securitiesAccount":{"positions":)"} +
                             std::string{positions} + "}}");
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().code == code);
    CHECK(p.error().message == message);
  };
  expect("{}", errc::bad_field, "securitiesAccount.positions is an object, expected an array");
  expect("[1]", errc::bad_field,
         "securitiesAccount.positions[0] is a string or number, expected an object");
  expect(R"([{"longQuantity":1,"averagePrice":1,"marketValue":1}])", errc::missing_field,
         "securitiesAccount.positions[0].instrument is missing");
  expect(R"([{"instrument":"AAPL"}])", errc::bad_field,
         "securitiesAccount.positions[0].instrument is a string or number, expected an object");
  expect(R"([{"instrument":{"cusip":"037833100"}}])", errc::missing_field,
         "securitiesAccount.positions[0].instrument.symbol is missing");
  expect(R"([{"instrument":{"symbol":"A"},"averagePrice":1,"marketValue":1}])", errc::missing_field,
         "securitiesAccount.positions[0].longQuantity and "
         "securitiesAccount.positions[0].shortQuantity are missing");
  expect(R"([{"instrument":{"symbol":"A"},"longQuantity":"1.000000001"}])", errc::bad_field,
         "securitiesAccount.positions[0].longQuantity is not a decimal: \"1.000000001\"");
  expect(R"([{"instrument":{"symbol":"A"},"longQuantity":1,"shortQuantity":false}])",
         errc::bad_field,
         "securitiesAccount.positions[0].shortQuantity is a boolean, expected a decimal string "
         "or number");
  expect(R"([{"instrument":{"symbol":"A"},"longQuantity":92233720368,"shortQuantity":-1}])",
         errc::bad_field, "securitiesAccount.positions[0].longQuantity - shortQuantity overflows");
  expect(R"([{"instrument":{"symbol":"A"},"longQuantity":1,"marketValue":1}])", errc::missing_field,
         "average price is missing: none of securitiesAccount.positions[0].averagePrice, "
         "securitiesAccount.positions[0].averageLongPrice");
  expect(R"([{"instrument":{"symbol":"A"},"shortQuantity":1,"marketValue":1}])",
         errc::missing_field,
         "average price is missing: none of securitiesAccount.positions[0].averagePrice, "
         "securitiesAccount.positions[0].averageShortPrice");
  expect(R"([{"instrument":{"symbol":"A"},"longQuantity":1,"averagePrice":1}])",
         errc::missing_field, "securitiesAccount.positions[0].marketValue is missing");
  expect(R"([{"instrument":{"symbol":"A"},"longQuantity":1,"averagePrice":1,"marketValue":"-"}])",
         errc::bad_field, "securitiesAccount.positions[0].marketValue is not a decimal: \"-\"");
  CHECK(parse_positions(R"({"aggregatedBalance":{}})").error().message ==
        "securitiesAccount is missing");
}

// -- orders (§3.3, §4, §5) ---------------------------------------------------------------------

TEST_CASE("a limit order is encoded byte for byte with a string price and a number quantity") {
  auto o = make_order(engine::order_type::limit);
  o.limit_price = dec("187.25");
  CHECK(encode_order(o).value() ==
        R"({"orderType":"LIMIT","session":"NORMAL","duration":"DAY","price":"187.25",)"
        R"("orderStrategyType":"SINGLE","orderLegCollection":[{"instruction":"BUY","quantity":10,)"
        R"("instrument":{"symbol":"AAPL","assetType":"EQUITY"}}]})");
}

TEST_CASE("market, stop and stop-limit orders carry the prices their type takes") {
  auto m = make_order(engine::order_type::market, engine::time_in_force::ioc);
  m.order_side = engine::side::sell;
  m.quantity = dec("1000000");
  CHECK(encode_order(m).value() ==
        R"({"orderType":"MARKET","session":"NORMAL","duration":"IMMEDIATE_OR_CANCEL",)"
        R"("orderStrategyType":"SINGLE","orderLegCollection":[{"instruction":"SELL",)"
        R"("quantity":1000000,"instrument":{"symbol":"AAPL","assetType":"EQUITY"}}]})");
  auto s = make_order(engine::order_type::stop, engine::time_in_force::gtc);
  s.stop_price = dec("180");
  s.symbol = "BRK.B";
  CHECK(
      encode_order(s).value() ==
      R"({"orderType":"STOP","session":"NORMAL","duration":"GOOD_TILL_CANCEL",)"
      R"("stopPrice":"180.00","orderStrategyType":"SINGLE","orderLegCollection":[)"
      R"({"instruction":"BUY","quantity":10,"instrument":{"symbol":"BRK.B","assetType":"EQUITY"}}]})");
  auto sl = make_order(engine::order_type::stop_limit, engine::time_in_force::fok);
  sl.stop_price = dec("0.5");
  sl.limit_price = dec("0.1234");
  CHECK(encode_order(sl).value() ==
        R"({"orderType":"STOP_LIMIT","session":"NORMAL","duration":"FILL_OR_KILL",)"
        R"("price":"0.1234","stopPrice":"0.5000","orderStrategyType":"SINGLE",)"
        R"("orderLegCollection":[{"instruction":"BUY","quantity":10,)"
        R"("instrument":{"symbol":"AAPL","assetType":"EQUITY"}}]})");
}

TEST_CASE("prices are written with 2 decimals from one dollar and 4 below") {
  auto price_of = [](const char* price) {
    auto o = make_order(engine::order_type::limit);
    o.limit_price = dec(price);
    auto body = encode_order(o).value();
    auto start = body.find("\"price\":\"") + 9;
    return body.substr(start, body.find('"', start) - start);
  };
  CHECK(price_of("1") == "1.00");
  CHECK(price_of("1.5") == "1.50");
  CHECK(price_of("0.99") == "0.9900");
  CHECK(price_of("0.0001") == "0.0001");
  CHECK(price_of("12345678.91") == "12345678.91");
}

TEST_CASE("the brokerd vocabulary maps to Schwab's") {
  using engine::order_type;
  using engine::time_in_force;
  CHECK(to_schwab(order_type::market) == "MARKET");
  CHECK(to_schwab(order_type::limit) == "LIMIT");
  CHECK(to_schwab(order_type::stop) == "STOP");
  CHECK(to_schwab(order_type::stop_limit) == "STOP_LIMIT");
  CHECK(to_schwab(time_in_force::day) == "DAY");
  CHECK(to_schwab(time_in_force::gtc) == "GOOD_TILL_CANCEL");
  CHECK(to_schwab(time_in_force::ioc) == "IMMEDIATE_OR_CANCEL");
  CHECK(to_schwab(time_in_force::fok) == "FILL_OR_KILL");
  CHECK(to_schwab(engine::side::buy) == "BUY");
  CHECK(to_schwab(engine::side::sell) == "SELL");
  CHECK(to_schwab(static_cast<order_type>(9)).empty());
  CHECK(to_schwab(static_cast<time_in_force>(9)).empty());
}

TEST_CASE("orders Schwab cannot take are refused, and the error names the field") {
  auto expect = [](const engine::order& o, std::string_view message) {
    auto body = encode_order(o);
    REQUIRE_FALSE(body.has_value());
    CHECK(body.error().code == errc::invalid_order);
    CHECK(body.error().message == message);
  };
  using engine::order_type;
  auto o = make_order(order_type::market);
  o.symbol.clear();
  expect(o, "orderLegCollection[0].instrument.symbol (symbol) is empty");
  o = make_order(order_type::market);
  o.quantity = decimal{};
  expect(o, "orderLegCollection[0].quantity (quantity) must be positive, got 0");
  o.quantity = dec("-5");
  expect(o, "orderLegCollection[0].quantity (quantity) must be positive, got -5");
  o.quantity = dec("1.5");
  expect(o, "orderLegCollection[0].quantity (quantity) 1.5 is fractional: Schwab takes whole "
            "shares only");
  o = make_order(order_type::limit);
  expect(o, "price (limit_price) is required for a LIMIT order");
  o = make_order(order_type::market);
  o.limit_price = dec("1");
  expect(o, "price (limit_price) is not allowed on a MARKET order");
  o = make_order(order_type::stop_limit);
  o.limit_price = dec("1");
  expect(o, "stopPrice (stop_price) is required for a STOP_LIMIT order");
  o = make_order(order_type::limit);
  o.limit_price = dec("1");
  o.stop_price = dec("1");
  expect(o, "stopPrice (stop_price) is not allowed on a LIMIT order");
  o = make_order(order_type::limit);
  o.limit_price = decimal{};
  expect(o, "price (limit_price) must be positive, got 0");
  o.limit_price = dec("-1");
  expect(o, "price (limit_price) must be positive, got -1");
  o.limit_price = dec("187.255");
  expect(o, "price (limit_price) 187.255 has 3 decimals: Schwab takes at most 2 at or above $1 "
            "and 4 below");
  o.limit_price = dec("1.001");
  expect(o, "price (limit_price) 1.001 has 3 decimals: Schwab takes at most 2 at or above $1 and "
            "4 below");
  o.limit_price = dec("0.12345");
  expect(o, "price (limit_price) 0.12345 has 5 decimals: Schwab takes at most 2 at or above $1 "
            "and 4 below");
  o = make_order(order_type::stop);
  o.stop_price = dec("10.125");
  expect(o, "stopPrice (stop_price) 10.125 has 3 decimals: Schwab takes at most 2 at or above $1 "
            "and 4 below");
}

TEST_CASE("the order id is read from the end of the Location header") {
  const std::string good =
      "https://api.schwabapi.com/trader/v1/accounts/E5B2A1C4D3F6/orders/1000123456789";
  CHECK(order_id_from_location(good).value() == "1000123456789");
  CHECK(order_id_from_location(good, "E5B2A1C4D3F6").value() == "1000123456789");
  CHECK(order_id_from_location(good + "/").value() == "1000123456789");
  CHECK(order_id_from_location(good + "?x=1&y=/2").value() == "1000123456789");
  CHECK(order_id_from_location(good + "#frag").value() == "1000123456789");
  CHECK(order_id_from_location("  " + good + "\r\n").value() == "1000123456789");
  CHECK(order_id_from_location("https://127.0.0.1:8443/trader/v1/accounts/H/orders/7").value() ==
        "7");
  CHECK(order_id_from_location("/trader/v1/accounts/H/orders/9223372036854775807").value() ==
        "9223372036854775807");
  CHECK(order_id_from_location("accounts/H/orders/42").value() == "42");
}

TEST_CASE("a Location that does not name an order is refused") {
  auto expect = [](std::string_view header, std::string_view why) {
    auto id = order_id_from_location(header, "H");
    REQUIRE_FALSE(id.has_value());
    CHECK(id.error().code == errc::bad_location);
    INFO(id.error().message);
    CHECK(contains(id.error().message, why));
  };
  constexpr std::string_view shape = "does not end in /accounts/{hash}/orders/{id}";
  constexpr std::string_view numeric = "has no numeric order id at its end";
  auto empty = order_id_from_location("");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().message == "Location is empty");
  expect(" \t", "Location is empty");
  expect("garbage", shape);
  expect("https://api.schwabapi.com", shape);
  expect("https://api.schwabapi.com/", shape);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders/", shape);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders//", numeric);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/order/1", shape);
  expect("https://api.schwabapi.com/trader/v1/account/H/orders/1", shape);
  expect("https://api.schwabapi.com/trader/v1/accounts//orders/1", shape);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders/1/extra", shape);
  expect("?/accounts/H/orders/1", shape);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders/12a", numeric);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders/-1", numeric);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders/+1", numeric);
  expect("https://api.schwabapi.com/trader/v1/accounts/H/orders/9223372036854775808", numeric);
  expect("https://api.schwabapi.com/trader/v1/accounts/OTHER/orders/1",
         "names another account hash");
  auto long_header = order_id_from_location(std::string(300, 'x'));
  CHECK(long_header.error().message.size() < 150);
}

TEST_CASE("every Schwab order status maps to a brokerd status") {
  struct row {
    const char* schwab;
    order_status unfilled;
    order_status part_filled;
    order_status all_filled;
  };
  using enum order_status;
  const row rows[] = {
      {"AWAITING_PARENT_ORDER", pending_new, partially_filled, filled},
      {"AWAITING_CONDITION", pending_new, partially_filled, filled},
      {"AWAITING_STOP_CONDITION", pending_new, partially_filled, filled},
      {"AWAITING_MANUAL_REVIEW", pending_new, partially_filled, filled},
      {"ACCEPTED", pending_new, partially_filled, filled},
      {"AWAITING_UR_OUT", pending_cancel, pending_cancel, filled},
      {"PENDING_ACTIVATION", pending_new, partially_filled, filled},
      {"QUEUED", pending_new, partially_filled, filled},
      {"WORKING", new_, partially_filled, filled},
      {"REJECTED", rejected, rejected, rejected},
      {"PENDING_CANCEL", pending_cancel, pending_cancel, filled},
      {"CANCELED", canceled, canceled, canceled},
      {"PENDING_REPLACE", new_, partially_filled, filled},
      {"REPLACED", canceled, canceled, canceled},
      {"FILLED", filled, filled, filled},
      {"EXPIRED", expired, expired, expired},
      {"NEW", pending_new, partially_filled, filled},
      {"AWAITING_RELEASE_TIME", pending_new, partially_filled, filled},
      {"PENDING_ACKNOWLEDGEMENT", pending_new, partially_filled, filled},
      {"PENDING_RECALL", new_, partially_filled, filled},
      {"UNKNOWN", unknown, unknown, unknown},
  };
  STATIC_REQUIRE(std::size(rows) == 21);
  for (const auto& r : rows) {
    INFO(r.schwab);
    CHECK(map_order_status(r.schwab) == r.unfilled);
    CHECK(map_order_status(r.schwab, decimal{}, dec("7")) == r.unfilled);
    CHECK(map_order_status(r.schwab, dec("3"), dec("7")) == r.part_filled);
    CHECK(map_order_status(r.schwab, dec("3")) == r.part_filled);
    CHECK(map_order_status(r.schwab, dec("7"), dec("7")) == r.all_filled);
    // The same status inside an order object (quantity 7).
    auto o = parse_order(order_json(r.schwab, "3.0"));
    REQUIRE(o.has_value());
    CHECK(o->status == r.part_filled);
    CHECK(o->schwab_status == r.schwab);
  }
  CHECK_FALSE(map_order_status("working").has_value());
  CHECK_FALSE(map_order_status("PARTIALLY_FILLED").has_value());
  CHECK_FALSE(map_order_status("").has_value());
}

TEST_CASE("a filled order is parsed with an exact average over three execution legs") {
  auto activities = "[" + fill("501", "2.0", "187.2") + "," + fill("502", "3.0", "187.21") + "," +
                    fill("503", "2.0", "187.25") + "]";
  auto o = parse_order(order_json("FILLED", "7.0", activities));
  REQUIRE(o.has_value());
  CHECK(o->order_id == "1000123456789");
  CHECK(o->account_number == "12345678");
  CHECK(o->schwab_status == "FILLED");
  CHECK(o->status == order_status::filled);
  CHECK(o->order_type == "LIMIT");
  CHECK(o->session == "NORMAL");
  CHECK(o->duration == "DAY");
  CHECK(o->order_strategy_type == "SINGLE");
  CHECK(o->quantity == dec("7"));
  CHECK(o->filled_quantity == dec("7"));
  CHECK(o->remaining_quantity == dec("0"));
  CHECK(o->price == dec("187.3"));
  CHECK_FALSE(o->stop_price.has_value());
  CHECK(o->entered_time == "2024-05-18T13:29:58+0000");
  CHECK(o->entered_ns == 1'716'038'998'000'000'000);
  CHECK(o->close_time == "2024-05-18T13:30:01+0000");
  CHECK(o->symbol == "AAPL");
  CHECK(o->instruction == "BUY");
  CHECK(o->asset_type == "EQUITY");
  CHECK(o->leg_count == 1);
  CHECK(o->cancelable == false);
  CHECK(o->editable == false);
  CHECK(o->status_description.empty());
  REQUIRE(o->executions.size() == 3);
  CHECK(o->executions[1] ==
        execution{"502", "1", dec("3"), dec("187.21"), "2024-05-18T13:30:00+0000"});
  // (2 × 187.2 + 3 × 187.21 + 2 × 187.25) / 7 = 1310.53 / 7 = 187.218571428571…
  CHECK(o->average_fill_price == dec("187.21857143"));
}

TEST_CASE("the average fill price is rounded once, not leg by leg") {
  auto activities = "[" + fill("1", "1", "0.00000001") + "," + fill("2", "1", "0.00000002") + "," +
                    fill("3", "1", "0.00000001") + "]";
  auto o = parse_order(order_json("FILLED", "3", activities));
  REQUIRE(o.has_value());
  // 0.00000004 / 3 = 0.0000000133… → 0.00000001; a running average would reach 0.00000002.
  CHECK(o->average_fill_price == dec("0.00000001"));
  auto first_two =
      decimal::weighted_average(dec("0.00000001"), dec("1"), dec("0.00000002"), dec("1")).value();
  auto running = decimal::weighted_average(first_two, dec("2"), dec("0.00000001"), dec("1"));
  CHECK(running.value() == dec("0.00000002"));

  // Negative prices round half-even too, away from zero on a tie with an odd last digit.
  auto negative = parse_order(
      order_json("FILLED", "2",
                 "[" + fill("1", "1", "-0.00000001") + "," + fill("2", "1", "-0.00000002") + "]"));
  CHECK(negative.value().average_fill_price == dec("-0.00000002"));
  CHECK(negative.value().average_fill_price ==
        decimal::weighted_average(dec("-0.00000001"), dec("1"), dec("-0.00000002"), dec("1"))
            .value());

  // Two legs: the same as weighted_average.
  auto two = parse_order(order_json(
      "FILLED", "3", "[" + fill("1", "1", "100") + "," + fill("2", "2", "100.01") + "]"));
  CHECK(two.value().average_fill_price ==
        decimal::weighted_average(dec("100"), dec("1"), dec("100.01"), dec("2")).value());
}

TEST_CASE("only FILL executions count toward the average, and empty legs are skipped") {
  auto activities =
      "[" + fill("1", "2", "10") + "," + fill("2", "5", "99", "CANCELED") + "," +
      R"({"activityType":"ORDER_ACTION","executionLegs":[{"quantity":1,"price":50}]},)" +
      R"({"executionLegs":[{"quantity":0.0,"price":70},{"quantity":1,"price":13}]},)" +
      R"({"activityType":"EXECUTION","executionType":"FILL"},)" +
      R"({"activityType":"EXECUTION","executionType":"FILL","executionLegs":null}])";
  auto o = parse_order(order_json("WORKING", "3.0", activities));
  REQUIRE(o.has_value());
  REQUIRE(o->executions.size() == 2);
  CHECK(o->executions[1] == execution{"", "", dec("1"), dec("13"), ""});
  CHECK(o->average_fill_price == dec("11"));
  CHECK(o->status == order_status::partially_filled);
}

TEST_CASE("an order without fills, legs or optional fields is parsed with empty values") {
  auto o = parse_order(R"({"orderId":42,"status":"WORKING","price":null,"stopPrice":null,)"
                       R"("cancelable":null,"orderLegCollection":null,"enteredTime":null,)"
                       R"("orderActivityCollection":null,"quantity":null})");
  REQUIRE(o.has_value());
  CHECK(o->order_id == "42");
  CHECK(o->status == order_status::new_);
  CHECK(o->quantity == decimal{});
  CHECK(o->filled_quantity == decimal{});
  CHECK_FALSE(o->remaining_quantity.has_value());
  CHECK_FALSE(o->price.has_value());
  CHECK_FALSE(o->stop_price.has_value());
  CHECK_FALSE(o->average_fill_price.has_value());
  CHECK_FALSE(o->entered_ns.has_value());
  CHECK_FALSE(o->cancelable.has_value());
  CHECK(o->executions.empty());
  CHECK(o->leg_count == 0);
  CHECK(o->symbol.empty());
  CHECK(o->account_number.empty());

  auto rejected = parse_order(
      R"({"orderId":"7","status":"REJECTED","statusDescription":"Orders above $1 can be entered in)"
      R"( no more than two decimals; orders below $1, no more than four decimals.","quantity":1.0,)"
      R"("filledQuantity":0.0,"remainingQuantity":0.0,"stopPrice":187.255,"orderType":"STOP",)"
      R"("orderLegCollection":[{"instruction":"SELL","instrument":{"symbol":"SPY",)"
      R"("assetType":"COLLECTIVE_INVESTMENT"}},{"instruction":"BUY"}],"orderStrategyType":"SINGLE"})");
  REQUIRE(rejected.has_value());
  CHECK(rejected->status == order_status::rejected);
  CHECK(contains(rejected->status_description, "no more than two decimals"));
  CHECK(rejected->stop_price == dec("187.255"));
  CHECK(rejected->asset_type == "COLLECTIVE_INVESTMENT");
  CHECK(rejected->leg_count == 2);
  CHECK(rejected->instruction == "SELL");

  auto no_instrument = parse_order(
      R"({"orderId":1,"status":"QUEUED","orderLegCollection":[{"instruction":"BUY"}]})");
  CHECK(no_instrument.value().symbol.empty());
  CHECK(no_instrument.value().instruction == "BUY");
  CHECK(parse_order(R"({"orderId":1,"status":"FROZEN"})").value().status == order_status::unknown);
}

TEST_CASE("a malformed order names the field at fault") {
  auto expect = [](std::string_view json, errc code, std::string_view message) {
    INFO(json);
    auto o = parse_order(json);
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().code == code);
    CHECK(o.error().message == message);
  };
  expect("", errc::malformed_json, "order: not JSON (error at offset 0)");
  expect("[]", errc::malformed_json, "order is an array, expected an object");
  expect(R"({"status":"WORKING"})", errc::missing_field, "orderId is missing");
  expect(R"({"orderId":null,"status":"WORKING"})", errc::missing_field, "orderId is missing");
  expect(R"({"orderId":"","status":"WORKING"})", errc::missing_field, "orderId is empty");
  expect(R"({"orderId":{},"status":"WORKING"})", errc::bad_field,
         "orderId is an object, expected a string");
  expect(R"({"orderId":1})", errc::missing_field, "status is missing");
  expect(R"({"orderId":1,"status":"WORKING","orderType":1.5e})", errc::malformed_json,
         "order: not JSON (error at offset 48)");
  expect(R"({"orderId":1,"status":"WORKING","duration":["DAY"]})", errc::bad_field,
         "duration is an array, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","quantity":"ten"})", errc::bad_field,
         "quantity is not a decimal: \"ten\"");
  expect(R"({"orderId":1,"status":"WORKING","filledQuantity":0.000000001})", errc::bad_field,
         "filledQuantity is not a decimal: \"0.000000001\"");
  expect(R"({"orderId":1,"status":"WORKING","remainingQuantity":true})", errc::bad_field,
         "remainingQuantity is a boolean, expected a decimal string or number");
  expect(R"({"orderId":1,"status":"WORKING","price":{}})", errc::bad_field,
         "price is an object, expected a decimal string or number");
  expect(R"({"orderId":1,"status":"WORKING","enteredTime":"2024-05-18 05:38:44+0000"})",
         errc::bad_field,
         "enteredTime is not a time: \"2024-05-18 05:38:44+0000\" is not "
         "yyyy-MM-ddTHH:mm:ss[.fraction] with Z, +hhmm or +hh:mm");
  expect(R"({"orderId":1,"status":"WORKING","cancelable":"true"})", errc::bad_field,
         "cancelable is a string or number, expected a boolean");
  expect(R"({"orderId":1,"status":"WORKING","orderLegCollection":{}})", errc::bad_field,
         "orderLegCollection is an object, expected an array");
  expect(R"({"orderId":1,"status":"WORKING","orderLegCollection":[{},7]})", errc::bad_field,
         "orderLegCollection[1] is a string or number, expected an object");
  expect(R"({"orderId":1,"status":"WORKING","orderLegCollection":[{"instrument":"AAPL"}]})",
         errc::bad_field,
         "orderLegCollection[0].instrument is a string or number, expected an object");
  expect(R"({"orderId":1,"status":"WORKING","orderLegCollection":[{"instruction":[]}]})",
         errc::bad_field, "orderLegCollection[0].instruction is an array, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderLegCollection":[{"instrument":{"symbol":{}}}]})",
         errc::bad_field,
         "orderLegCollection[0].instrument.symbol is an object, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":{}})", errc::bad_field,
         "orderActivityCollection is an object, expected an array");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[null]})", errc::bad_field,
         "orderActivityCollection[0] is null, expected an object");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"activityType":1.5e}]})",
         errc::malformed_json, "order: not JSON (error at offset 79)");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"activityType":[]}]})",
         errc::bad_field, "orderActivityCollection[0].activityType is an array, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionType":[]}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionType is an array, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"activityId":{}}]})",
         errc::bad_field, "orderActivityCollection[0].activityId is an object, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":{}}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionLegs is an object, expected an array");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":[1]}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionLegs[0] is a string or number, expected an object");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":)"
         R"([{"quantity":1}]}]})",
         errc::missing_field, "orderActivityCollection[0].executionLegs[0].price is missing");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":)"
         R"([{"quantity":1,"price":"1.2.3"}]}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionLegs[0].price is not a decimal: \"1.2.3\"");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":)"
         R"([{"price":1}]}]})",
         errc::missing_field, "orderActivityCollection[0].executionLegs[0].quantity is missing");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":)"
         R"([{"price":1,"quantity":1,"legId":[]}]}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionLegs[0].legId is an array, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":)"
         R"([{"price":1,"quantity":1,"time":{}}]}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionLegs[0].time is an object, expected a string");
  expect(R"({"orderId":1,"status":"WORKING","orderActivityCollection":[{"executionLegs":)"
         R"([{"price":1,"quantity":-1}]}]})",
         errc::bad_field,
         "orderActivityCollection[0].executionLegs[0].quantity is negative: \"-1\"");
  // Three legs at the top of the range overflow the 128-bit notional.
  std::string max_leg = R"({"price":92233720368.54775807,"quantity":92233720368.54775807})";
  expect(R"({"orderId":1,"status":"FILLED","orderActivityCollection":[{"executionLegs":[)" +
             max_leg + "," + max_leg + "," + max_leg + "]}]}",
         errc::bad_field, "orderActivityCollection: the average fill price overflows");
  expect(R"({"orderId":1,"status":"FILLED","editable":1})", errc::bad_field,
         "editable is a string or number, expected a boolean");
  expect(R"({"orderId":1,"status":"FILLED","closeTime":false})", errc::bad_field,
         "closeTime is a boolean, expected a string");
  expect(R"({"orderId":1,"status":"FILLED","statusDescription":{}})", errc::bad_field,
         "statusDescription is an object, expected a string");
  expect(R"({"orderId":1,"status":"FILLED","accountNumber":[]})", errc::bad_field,
         "accountNumber is an array, expected a string");
  expect(R"({"orderId":1,"status":"FILLED","session":[]})", errc::bad_field,
         "session is an array, expected a string");
  expect(R"({"orderId":1,"status":"FILLED","orderType":[]})", errc::bad_field,
         "orderType is an array, expected a string");
  expect(R"({"orderId":1,"status":"FILLED","orderStrategyType":[]})", errc::bad_field,
         "orderStrategyType is an array, expected a string");
  expect(R"({"orderId":1,"status":"FILLED","stopPrice":"x"})", errc::bad_field,
         "stopPrice is not a decimal: \"x\"");
  expect(R"({"orderId":1,"status":"FILLED","enteredTime":5})", errc::bad_field,
         "enteredTime is not a time: \"5\" is not yyyy-MM-ddTHH:mm:ss[.fraction] with Z, +hhmm "
         "or +hh:mm");
  expect(R"({"orderId":1,"status":{}})", errc::bad_field, "status is an object, expected a string");
  expect(
      R"({"orderId":1,"status":"FILLED","orderLegCollection":[{"instrument":{"assetType":[]}}]})",
      errc::bad_field, "orderLegCollection[0].instrument.assetType is an array, expected a string");
}

TEST_CASE("an order list is parsed, and an error inside names the index") {
  auto list = parse_orders("[" + order_json("WORKING") + "," +
                           order_json("FILLED", "7.0", "[" + fill("1", "7", "187.3") + "]") + "]");
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].status == order_status::new_);
  CHECK((*list)[1].status == order_status::filled);
  CHECK((*list)[1].average_fill_price == dec("187.3"));
  CHECK(parse_orders("[]").value().empty());
  auto bad = parse_orders("[" + order_json("WORKING") + R"(,{"orderId":2}])");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "orders[1].status is missing");
  CHECK(parse_orders(R"([{"orderId":2,"status":"NEW","orderActivityCollection":[1]}])")
            .error()
            .message == "orders[0].orderActivityCollection[0] is a string or number, expected an "
                        "object");
  CHECK(
      parse_orders(R"([{"orderId":2,"status":"NEW","orderLegCollection":[1]}])").error().message ==
      "orders[0].orderLegCollection[0] is a string or number, expected an object");
  CHECK(parse_orders("[1]").error().message ==
        "orders[0] is a string or number, expected an object");
  CHECK(parse_orders("{}").error().code == errc::malformed_json);
  CHECK(parse_orders("{").error().code == errc::malformed_json);
}

// -- time (§3.4, §5) ---------------------------------------------------------------------------

TEST_CASE("Schwab times are read with every offset form") {
  constexpr std::int64_t base = 1'716'010'724'000'000'000; // 2024-05-18T05:38:44Z
  CHECK(parse_time("2024-05-18T05:38:44+0000").value() == base);
  CHECK(parse_time("2024-05-18T05:38:44Z").value() == base);
  CHECK(parse_time("2024-05-18T07:38:44+02:00").value() == base);
  CHECK(parse_time("2024-05-18T00:38:44-0500").value() == base);
  CHECK(parse_time("2024-05-18T05:38:44.123Z").value() == base + 123'000'000);
  CHECK(parse_time("2024-05-18T05:38:44.000000001+0000").value() == base + 1);
  CHECK(parse_time("1970-01-01T00:00:00Z").value() == 0);
  CHECK(parse_time("1969-12-31T23:59:59Z").value() == -1'000'000'000);
  CHECK(parse_time("2024-02-29T00:00:00Z").has_value());
  for (const char* bad : {"",
                          "2024-05-18",
                          "2024-05-18T05:38:44",
                          "2024-05-18 05:38:44Z",
                          "2024/05/18T05:38:44Z",
                          "2024-05-18T05-38-44Z",
                          "2024-05-18T05:38:44+00",
                          "2024-05-18T05:38:44+0000x",
                          "2024-13-18T05:38:44Z",
                          "2023-02-29T00:00:00Z",
                          "2024-05-18T24:00:00Z",
                          "2024-05-18T05:60:00Z",
                          "2024-05-18T05:38:60Z",
                          "2024-05-18T05:38:44.Z",
                          "2024-05-18T05:38:44.1234567891Z",
                          "2024-05-18T05:38:44+2400",
                          "2024-05-18T05:38:44+0060",
                          "2024-05-18T05:38:44+ab00",
                          "1600-01-01T00:00:00Z",
                          "2300-01-01T00:00:00Z",
                          "2024-05-18t05:38:44Z",
                          "2024-05-18T05:38:44z",
                          "x024-05-18T05:38:44Z",
                          "2024-05-1xT05:38:44Z"}) {
    INFO(bad);
    auto t = parse_time(bad);
    REQUIRE_FALSE(t.has_value());
    CHECK(t.error().code == errc::bad_field);
  }
}

TEST_CASE("times are written in UTC with milliseconds and the order-list query encodes them") {
  CHECK(format_time(1'716'010'724'123'456'789) == "2024-05-18T05:38:44.123Z");
  CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(parse_time(format_time(1'716'010'724'123'000'000)).value() == 1'716'010'724'123'000'000);
  CHECK(orders_query(1'716'010'724'000'000'000, 1'716'014'324'500'000'000) ==
        "fromEnteredTime=2024-05-18T05%3A38%3A44.000Z&toEnteredTime=2024-05-18T06%3A38%3A44.500Z");
  CHECK(orders_query(0, 1'000'000, "WORKING") ==
        "fromEnteredTime=1970-01-01T00%3A00%3A00.000Z&toEnteredTime=1970-01-01T00%3A00%3A00.001Z"
        "&status=WORKING");
}

// -- matching a create whose id is unknown (§3.3) ----------------------------------------------

TEST_CASE("the fingerprint of a sent order equals that of its echo") {
  auto o = make_order(engine::order_type::limit);
  o.quantity = dec("7");
  o.limit_price = dec("187.3000");
  auto echo = parse_order(order_json("WORKING")).value();
  CHECK(fingerprint_of(o) == fingerprint_of(echo));
  CHECK(fingerprint_of(o) ==
        order_fingerprint{"AAPL", "BUY", dec("7"), "LIMIT", dec("187.3"), std::nullopt, "DAY"});
  // A price the type does not take is left out on both sides.
  auto market = make_order(engine::order_type::market);
  market.limit_price = dec("1");
  CHECK_FALSE(fingerprint_of(market).price.has_value());
  order_info stop_echo;
  stop_echo.order_type = "STOP";
  stop_echo.price = dec("5");
  stop_echo.stop_price = dec("6");
  CHECK_FALSE(fingerprint_of(stop_echo).price.has_value());
  CHECK(fingerprint_of(stop_echo).stop_price == dec("6"));
  stop_echo.order_type = "STOP_LIMIT";
  CHECK(fingerprint_of(stop_echo).price == dec("5"));
}

TEST_CASE("a create without an id is matched against orders entered after it, never guessed") {
  constexpr std::int64_t sent = 1'716'038'998'700'000'000; // 13:29:58.7
  auto o = make_order(engine::order_type::limit);
  o.quantity = dec("7");
  o.limit_price = dec("187.3");
  auto order_at = [](std::string_view id, std::string_view entered) {
    auto x = parse_order(order_json("WORKING", "0.0", "[]", entered)).value();
    x.order_id = std::string{id};
    return x;
  };
  // Entered in the same whole second as the send time: a candidate.
  auto same_second = order_at("1", "2024-05-18T13:29:58+0000");
  auto earlier = order_at("2", "2024-05-18T13:29:57+0000");
  auto later = order_at("3", "2024-05-18T15:30:05+0200");
  std::vector<order_info> orders{same_second, earlier};
  auto one = match_created(o, orders, sent);
  REQUIRE(one.size() == 1);
  CHECK(one[0].order_id == "1");

  // Two equal candidates: both are returned, in list order.
  orders.push_back(later);
  auto two = match_created(o, orders, sent);
  REQUIRE(two.size() == 2);
  CHECK(two[0].order_id == "1");
  CHECK(two[1].order_id == "3");

  // Anything that differs in a fingerprint key is not a candidate.
  auto differs = [&](auto change) {
    auto x = same_second;
    change(x);
    return match_created(o, {x}, sent).empty();
  };
  CHECK(differs([](order_info& x) { x.symbol = "MSFT"; }));
  CHECK(differs([](order_info& x) { x.instruction = "SELL"; }));
  CHECK(differs([](order_info& x) { x.quantity = dec("8"); }));
  CHECK(differs([](order_info& x) { x.order_type = "MARKET"; }));
  CHECK(differs([](order_info& x) { x.price = dec("187.31"); }));
  CHECK(differs([](order_info& x) { x.duration = "GOOD_TILL_CANCEL"; }));
  CHECK(differs([](order_info& x) { x.leg_count = 2; }));
  CHECK(differs([](order_info& x) { x.order_strategy_type = "OCO"; }));
  CHECK_FALSE(differs([](order_info& x) { x.order_strategy_type.clear(); }));
  CHECK_FALSE(differs([](order_info& x) { x.status = order_status::rejected; }));
  CHECK_FALSE(differs([](order_info& x) { x.stop_price = dec("1"); }));

  // Without enteredTime the order cannot be ruled out.
  auto undated = same_second;
  undated.entered_ns.reset();
  undated.entered_time.clear();
  CHECK(match_created(o, {earlier, undated}, sent).size() == 1);

  // Nothing entered after: no candidate.
  CHECK(match_created(o, {earlier}, sent).empty());
  CHECK(match_created(o, {}, sent).empty());

  // Before the epoch the send time still rounds down to its second.
  auto epoch = order_at("4", "1969-12-31T23:59:59+0000");
  CHECK(match_created(o, {epoch}, -500'000'000).size() == 1);
  CHECK(match_created(o, {epoch}, -1'000'000'000).size() == 1);
  CHECK(match_created(o, {epoch}, 0).empty());
}

// -- Trader API errors (§7.1) ------------------------------------------------------------------

TEST_CASE("Trader API errors of every shape keep the status and Schwab's text") {
  auto message = parse_api_error(400, R"({"message":"Invalid account number"})");
  CHECK(message.http_status == 400);
  CHECK(message.message == "Invalid account number");
  CHECK(message.errors.empty());
  CHECK(message.body.empty());
  CHECK(message.to_string() == "HTTP 400: Invalid account number");

  auto array = parse_api_error(
      401, R"({"errors":[{"id":"6f1c5e2a-0000-4000-8000-000000000001","status":401,)"
           R"("title":"Unauthorized","detail":"Client not authorized"}]})");
  REQUIRE(array.errors.size() == 1);
  CHECK(array.errors[0] == api_error_item{"6f1c5e2a-0000-4000-8000-000000000001", "401",
                                          "Unauthorized", "Client not authorized", ""});
  CHECK(array.text() == "Client not authorized");
  CHECK(array.to_string() == "HTTP 401: Client not authorized");

  auto both = parse_api_error(
      404, R"({"message":"Order not found","errors":[{"status":"404","title":"Not Found",)"
           R"("source":{"parameter":"orderId"}},"x",{"detail":"second",)"
           R"("source":{"pointer":"/orderId","header":""}},{"source":[]}]})");
  REQUIRE(both.errors.size() == 3);
  CHECK(both.errors[0].status == "404");
  CHECK(both.errors[0].source == "parameter orderId");
  CHECK(both.errors[1].source == "pointer /orderId");
  CHECK(both.errors[2].source.empty());
  CHECK(both.text() == "Order not found");
  auto title_only = parse_api_error(403, R"({"errors":[{"title":"Forbidden"}]})");
  CHECK(title_only.text() == "Forbidden");
  CHECK(parse_api_error(403, R"({"errors":[{}]})").to_string() == "HTTP 403");
  CHECK(parse_api_error(400, R"({"errors":{"detail":"x"},"message":"m"})").errors.empty());
}

TEST_CASE("an empty, HTML or unknown error body is kept as text and never rejected") {
  auto empty = parse_api_error(500, "");
  CHECK(empty.http_status == 500);
  CHECK(empty.text().empty());
  CHECK(empty.to_string() == "HTTP 500");
  auto html = parse_api_error(503, "  <html><body>Service Unavailable</body></html>\n");
  CHECK(html.body == "<html><body>Service Unavailable</body></html>");
  CHECK(html.to_string() == "HTTP 503: <html><body>Service Unavailable</body></html>");
  CHECK(parse_api_error(502, std::string(1000, 'x')).body.size() == 200);
  CHECK(parse_api_error(429, R"({"error":"too many"})").body == R"({"error":"too many"})");
  CHECK(parse_api_error(400, "[1,2]").body == "[1,2]");
  CHECK(parse_api_error(400, R"({"message":7})").message == "7");
  CHECK(parse_api_error(400, R"({"message":{}})").body == R"({"message":{}})");
}

TEST_CASE("every error code has a stable text") {
  CHECK(to_string(errc::malformed_json) == "malformed_json");
  CHECK(to_string(errc::missing_field) == "missing_field");
  CHECK(to_string(errc::bad_field) == "bad_field");
  CHECK(to_string(errc::invalid_order) == "invalid_order");
  CHECK(to_string(errc::bad_location) == "bad_location");
  CHECK(to_string(errc::bad_callback) == "bad_callback");
  CHECK(to_string(errc::bad_argument) == "bad_argument");
  CHECK(to_string(static_cast<errc>(0)) == "unknown");
  CHECK(error{errc::bad_field, "x is bad"}.to_string() == "bad_field: x is bad");
}
