#include "api/json_io.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace brokerd;
using api::api_error;
using api::parse_order_request;

namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

/// A valid limit order request, as JSON member texts.
field_list base_fields() {
  return {{"connectionId", R"("conn-1")"}, {"symbol", R"("AAPL")"},   {"side", R"("buy")"},
          {"quantity", R"("10")"},          {"type", R"("limit")"},    {"limitPrice", R"("187.25")"}};
}

std::string to_body(const field_list& fields) {
  std::string out = "{";
  for (const auto& [k, v] : fields) {
    if (out.size() > 1)
      out += ',';
    out += '"' + k + "\":" + v;
  }
  return out + "}";
}

/// The base request with `field` set to the JSON text `value` (added when absent).
std::string body_with(const std::string& field, const std::string& value) {
  auto fields = base_fields();
  bool found = false;
  for (auto& [k, v] : fields)
    if (k == field) {
      v = value;
      found = true;
    }
  if (!found)
    fields.emplace_back(field, value);
  return to_body(fields);
}

std::string body_without(const std::string& field) {
  auto fields = base_fields();
  std::erase_if(fields, [&](const auto& kv) { return kv.first == field; });
  return to_body(fields);
}

api_error parse_error(const std::string& body) {
  auto r = parse_order_request(body);
  INFO("body: " << body);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().status == 400);
  return r.error();
}

engine::order parse_ok(const std::string& body) {
  auto r = parse_order_request(body);
  INFO("body: " << body);
  if (!r)
    FAIL(r.error().error << ": " << r.error().message);
  return *r;
}

engine::decimal dec(std::string_view s) { return engine::decimal::parse(s).value(); }

engine::order full_order() {
  engine::order o;
  o.id = "ord-42";
  o.client_order_id = "my-1";
  o.broker_order_id = "B-9";
  o.user = "alice";
  o.connection = "conn-1";
  o.broker = engine::broker_id::alpaca;
  o.symbol = "BRK.B";
  o.order_side = engine::side::sell;
  o.quantity = dec("12.5");
  o.type = engine::order_type::stop_limit;
  o.limit_price = dec("187.25");
  o.stop_price = dec("186");
  o.tif = engine::time_in_force::gtc;
  o.status = engine::order_status::partially_filled;
  o.filled_quantity = dec("2.5");
  o.avg_fill_price = dec("187.1");
  o.created_ns = 1709303400123456789;
  o.updated_ns = 1709303401000000000;
  o.reason = "";
  return o;
}

} // namespace

TEST_CASE("a complete limit order request becomes a pending_new order on its connection") {
  auto o = parse_ok(to_body({{"connectionId", R"("conn-1")"},
                             {"symbol", R"("AAPL")"},
                             {"side", R"("sell")"},
                             {"quantity", R"("10")"},
                             {"type", R"("limit")"},
                             {"limitPrice", R"("187.25")"},
                             {"timeInForce", R"("gtc")"},
                             {"clientOrderId", R"("strat-7:001")"}}));
  CHECK(o.connection == "conn-1");
  CHECK(o.symbol == "AAPL");
  CHECK(o.order_side == engine::side::sell);
  CHECK(o.quantity == dec("10"));
  CHECK(o.type == engine::order_type::limit);
  REQUIRE(o.limit_price);
  CHECK(o.limit_price->to_string() == "187.25");
  CHECK_FALSE(o.stop_price);
  CHECK(o.tif == engine::time_in_force::gtc);
  CHECK(o.client_order_id == "strat-7:001");
  CHECK(o.status == engine::order_status::pending_new);
  CHECK(o.id.empty());
  CHECK(o.user.empty());
  CHECK(o.broker_order_id.empty());
}

TEST_CASE("timeInForce defaults to day and clientOrderId to none") {
  auto o = parse_ok(to_body(base_fields()));
  CHECK(o.tif == engine::time_in_force::day);
  CHECK(o.client_order_id.empty());
}

TEST_CASE("optional members given as null count as absent") {
  auto o = parse_ok(to_body({{"connectionId", R"("c")"},
                             {"symbol", R"("AAPL")"},
                             {"side", R"("buy")"},
                             {"quantity", R"("1")"},
                             {"type", R"("market")"},
                             {"limitPrice", "null"},
                             {"stopPrice", "null"},
                             {"timeInForce", "null"},
                             {"clientOrderId", "null"}}));
  CHECK_FALSE(o.limit_price);
  CHECK_FALSE(o.stop_price);
  CHECK(o.tif == engine::time_in_force::day);
  CHECK(o.client_order_id.empty());
}

TEST_CASE("a decimal given as a JSON string keeps its exact value") {
  auto o = parse_ok(body_with("quantity", R"("0.1")"));
  CHECK(o.quantity.to_string() == "0.1");
  CHECK(o.quantity.units() == 10'000'000);
}

TEST_CASE("a decimal given as a JSON number is read from its source text, not through double") {
  auto o = parse_ok(body_with("quantity", "123.456"));
  CHECK(o.quantity.to_string() == "123.456");
  CHECK(o.quantity.units() == 12'345'600'000);

  // 0.1 has no exact double; the text does.
  o = parse_ok(body_with("quantity", "0.1"));
  CHECK(o.quantity.units() == 10'000'000);

  // 20 significant digits: a double keeps about 16.
  o = parse_ok(body_with("quantity", "12345678901.12345678"));
  CHECK(o.quantity.to_string() == "12345678901.12345678");

  o = parse_ok(body_with("limitPrice", "187.2500"));
  REQUIRE(o.limit_price);
  CHECK(o.limit_price->to_string() == "187.25");
}

TEST_CASE("malformed JSON is refused with the offset of the problem") {
  auto e = parse_error(R"({"symbol": )");
  CHECK(e.error == "malformed_json");
  CHECK_THAT(e.message, Catch::Contains("offset 11"));

  CHECK(parse_error("").error == "malformed_json");
  CHECK(parse_error(to_body(base_fields()) + " x").error == "malformed_json");
  CHECK(parse_error(body_with("symbol", "\"AA\xff\"")).error == "malformed_json");
  e = parse_error(to_body(base_fields()) + std::string(1, '\0'));
  CHECK(e.error == "malformed_json");
  CHECK_THAT(e.message, Catch::Contains("NUL"));
}

TEST_CASE("a body that is valid JSON but not an object is refused") {
  for (std::string body : {"[]", R"("order")", "42", "null", "true", R"([{"symbol":"AAPL"}])"}) {
    INFO(body);
    auto e = parse_error(body);
    CHECK(e.error == "invalid_body");
    CHECK_THAT(e.message, Catch::Contains("JSON object"));
  }
}

TEST_CASE("an unknown member is refused by name") {
  auto e = parse_error(body_with("price", R"("1")"));
  CHECK(e.error == "unknown_field");
  CHECK_THAT(e.message, Catch::Contains("price"));

  e = parse_error(body_with("userId", R"("bob")"));
  CHECK(e.error == "unknown_field");
  CHECK_THAT(e.message, Catch::Contains("userId"));
}

TEST_CASE("a member given twice is refused") {
  auto e = parse_error(to_body(base_fields()).insert(1, R"("symbol":"MSFT",)"));
  CHECK(e.error == "duplicate_field");
  CHECK_THAT(e.message, Catch::Contains("symbol"));
}

TEST_CASE("a member of the wrong JSON type is refused naming the member and the type") {
  struct row {
    std::string field, value, expected;
  };
  std::vector<row> rows{
      {"connectionId", "1", "connectionId must be a string, got a number"},
      {"symbol", "5", "symbol must be a string, got a number"},
      {"side", "true", "side must be a string, got a boolean"},
      {"quantity", "true", "quantity must be a decimal string or number, got a boolean"},
      {"quantity", "{}", "quantity must be a decimal string or number, got an object"},
      {"quantity", "null", "quantity must be a decimal string or number, got null"},
      {"limitPrice", "[1]", "limitPrice must be a decimal string or number, got an array"},
      {"stopPrice", "false", "stopPrice must be a decimal string or number, got a boolean"},
      {"type", "null", "type must be a string, got null"},
      {"timeInForce", "1", "timeInForce must be a string, got a number"},
      {"clientOrderId", "7", "clientOrderId must be a string, got a number"},
  };
  for (const auto& r : rows) {
    auto e = parse_error(body_with(r.field, r.value));
    CHECK(e.error == "invalid_field");
    CHECK(e.message == r.expected);
  }
}

TEST_CASE("each missing required member is named") {
  for (std::string field : {"connectionId", "symbol", "side", "quantity", "type"}) {
    auto e = parse_error(body_without(field));
    CHECK(e.error == "missing_field");
    CHECK(e.message == "missing required field " + field);
  }
}

TEST_CASE("values outside their domain are invalid_field with the reason") {
  struct row {
    std::string field, value, contains;
  };
  std::vector<row> rows{
      {"side", R"("hold")", "side must be one of buy, sell"},
      {"type", R"("iceberg")", "type must be one of market, limit, stop, stop_limit"},
      {"timeInForce", R"("week")", "timeInForce must be one of day, gtc, ioc, fok"},
      {"quantity", R"("1e3")", "quantity: '1e3' is not a plain decimal number"},
      {"quantity", "1e3", "quantity: '1e3' is not a plain decimal number"},
      {"quantity", "1.5E-2", "quantity"},
      {"quantity", R"("abc")", "quantity"},
      {"quantity", R"(" 10")", "quantity"},
      {"quantity", R"("")", "quantity"},
      {"quantity", R"("0.000000001")", "more than 8 decimal places"},
      {"quantity", "99999999999999999999", "out of range"},
      {"limitPrice", R"("-")", "limitPrice"},
      {"connectionId", R"("")", "connectionId must be 1 to 128 characters"},
      {"connectionId", '"' + std::string(129, 'c') + '"', "connectionId must be 1 to 128"},
  };
  for (const auto& r : rows) {
    auto e = parse_error(body_with(r.field, r.value));
    CHECK(e.error == "invalid_field");
    CHECK_THAT(e.message, Catch::Contains(r.contains));
  }
}

TEST_CASE("domain rules are reported as invalid_symbol, invalid_client_order_id, invalid_order") {
  auto e = parse_error(body_with("symbol", R"("aapl")"));
  CHECK(e.error == "invalid_symbol");
  CHECK_THAT(e.message, Catch::Contains("symbol"));

  e = parse_error(body_with("clientOrderId", R"("has space")"));
  CHECK(e.error == "invalid_client_order_id");
  CHECK_THAT(e.message, Catch::Contains("clientOrderId"));

  struct row {
    field_list changes;
    std::string contains;
  };
  std::vector<row> rows{
      {{{"quantity", R"("0")"}}, "quantity must be greater than 0"},
      {{{"quantity", "-5"}}, "quantity must be greater than 0"},
      {{{"type", R"("market")"}}, "market order must not carry limitPrice"},
      {{{"limitPrice", "null"}}, "limit order needs limitPrice"},
      {{{"limitPrice", R"("1.23456")"}}, "limitPrice has more than 4 decimal places"},
      {{{"limitPrice", "0"}}, "limitPrice must be greater than 0"},
      {{{"type", R"("stop")"}, {"limitPrice", "null"}}, "stop order needs stopPrice"},
      {{{"type", R"("stop")"}, {"limitPrice", "null"}, {"stopPrice", "10"},
        {"timeInForce", R"("ioc")"}},
       "stop orders accept timeInForce day or gtc only"},
  };
  for (const auto& r : rows) {
    auto fields = base_fields();
    for (const auto& [k, v] : r.changes) {
      bool found = false;
      for (auto& [fk, fv] : fields)
        if (fk == k) {
          fv = v;
          found = true;
        }
      if (!found)
        fields.emplace_back(k, v);
    }
    auto err = parse_error(to_body(fields));
    CHECK(err.error == "invalid_order");
    CHECK_THAT(err.message, Catch::Contains(r.contains));
  }
}

TEST_CASE("error_body escapes quotes, backslashes and control characters") {
  CHECK(api::error_body({400, "bad\"code", "line\nbreak \\ \t end"}) ==
        R"({"error":"bad\"code","message":"line\nbreak \\ \t end"})");
  CHECK(api::error_body({404, "not_found", ""}) == R"({"error":"not_found","message":""})");
}

TEST_CASE("order_json renders every member in camelCase with exact decimal strings") {
  CHECK(api::order_json(full_order()) ==
        R"({"id":"ord-42","clientOrderId":"my-1","brokerOrderId":"B-9","connectionId":"conn-1",)"
        R"("broker":"alpaca","symbol":"BRK.B","side":"sell","quantity":"12.5","type":"stop_limit",)"
        R"("limitPrice":"187.25","stopPrice":"186","timeInForce":"gtc","status":"partially_filled",)"
        R"("filledQuantity":"2.5","avgFillPrice":"187.1","createdAt":"2024-03-01T14:30:00.123Z",)"
        R"("updatedAt":"2024-03-01T14:30:01.000Z","reason":""})");
}

TEST_CASE("order_json omits absent prices and never shows the user") {
  auto o = full_order();
  o.type = engine::order_type::market;
  o.limit_price.reset();
  o.stop_price.reset();
  o.status = engine::order_status::new_;
  auto json = api::order_json(o);
  CHECK_THAT(json, !Catch::Contains("limitPrice"));
  CHECK_THAT(json, !Catch::Contains("stopPrice"));
  CHECK_THAT(json, !Catch::Contains("alice"));
  CHECK_THAT(json, Catch::Contains(R"("status":"new")"));
}

TEST_CASE("order_json keeps the document valid when a reason is not UTF-8") {
  auto o = full_order();
  o.reason = "r\xe9jected \"now\"";
  CHECK_THAT(api::order_json(o),
             Catch::EndsWith(R"("reason":"r)" "\xEF\xBF\xBD" R"(jected \"now\""})"));
  o.reason = "caf\xc3\xa9 \xf0\x9f\x93\x88";
  CHECK_THAT(api::order_json(o), Catch::EndsWith("\"reason\":\"caf\xc3\xa9 \xf0\x9f\x93\x88\"}"));
}

TEST_CASE("timestamps are ISO-8601 UTC with milliseconds, truncated toward the past") {
  CHECK(api::iso8601_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(api::iso8601_ms(1'700'000'000'999'999'999) == "2023-11-14T22:13:20.999Z");
  CHECK(api::iso8601_ms(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(api::iso8601_ms(951'782'400'000'000'000) == "2000-02-29T00:00:00.000Z");
}

TEST_CASE("orders_json wraps the orders in an array") {
  CHECK(api::orders_json({}) == R"({"orders":[]})");
  auto o = full_order();
  CHECK(api::orders_json({o, o}) ==
        "{\"orders\":[" + api::order_json(o) + "," + api::order_json(o) + "]}");
}

TEST_CASE("balance_json and positions_json render decimals as strings") {
  engine::balance b{dec("1000.5"), dec("2500"), dec("-3.25"), "USD"};
  CHECK(api::balance_json(b) ==
        R"({"cash":"1000.5","equity":"2500","buyingPower":"-3.25","currency":"USD"})");
  engine::position_list ps{{"AAPL", dec("-10"), dec("187.25"), dec("-1872.5")},
                           {"BTC/USD", dec("0.00000001"), dec("60000"), dec("0.0006")}};
  CHECK(api::positions_json(ps) ==
        R"({"positions":[{"symbol":"AAPL","quantity":"-10","avgCost":"187.25","marketValue":"-1872.5"},)"
        R"({"symbol":"BTC/USD","quantity":"0.00000001","avgCost":"60000","marketValue":"0.0006"}]})");
  CHECK(api::positions_json({}) == R"({"positions":[]})");
}

TEST_CASE("route_match captures named segments and refuses everything else") {
  auto m = api::route_match("/api/orders/:id", "/api/orders/ord-42");
  REQUIRE(m);
  CHECK(m->size() == 1);
  CHECK(m->at("id") == "ord-42");

  m = api::route_match("/api/connections/:conn/orders/:id", "/api/connections/c%201/orders/7");
  REQUIRE(m);
  CHECK(m->at("conn") == "c 1");
  CHECK(m->at("id") == "7");

  m = api::route_match("/api/orders", "/api/orders");
  REQUIRE(m);
  CHECK(m->empty());

  CHECK_FALSE(api::route_match("/api/orders/:id", "/api/orders"));
  CHECK_FALSE(api::route_match("/api/orders/:id", "/api/orders/"));
  CHECK_FALSE(api::route_match("/api/orders/:id", "/api/orders/1/cancel"));
  CHECK_FALSE(api::route_match("/api/orders/:id", "/api/order/1"));
  CHECK_FALSE(api::route_match("/api/orders", "/api/orders/"));
  CHECK_FALSE(api::route_match("/api/orders/:id", "/api/orders/%zz"));
  CHECK_FALSE(api::route_match("/api/orders/:id", "/api/orders/%00"));
  CHECK_FALSE(api::route_match("/api/orders/:id", "api/orders/1"));
}

TEST_CASE("query strings are split and percent-decoded") {
  auto q = api::parse_query("since=10&q=a%20b+c&flag&&empty=&x=%2B%26");
  REQUIRE(q);
  std::vector<std::pair<std::string, std::string>> want{
      {"since", "10"}, {"q", "a b c"}, {"flag", ""}, {"empty", ""}, {"x", "+&"}};
  CHECK(*q == want);
  CHECK(api::parse_query("")->empty());
  CHECK_FALSE(api::parse_query("a=%zz"));
  CHECK_FALSE(api::parse_query("a=%2"));
  CHECK_FALSE(api::parse_query("a=%"));
  CHECK_FALSE(api::parse_query("a%00=1"));

  CHECK(api::percent_decode("a+b", false) == "a+b");
  CHECK(api::percent_decode("a+b", true) == "a b");
  CHECK(api::percent_decode("%41%62", false) == "Ab");
}

TEST_CASE("query_uint accepts plain digits only and names the parameter otherwise") {
  std::vector<std::pair<std::string, std::string>> q{
      {"since", "42"}, {"limit", "1001"}, {"max", "18446744073709551615"}, {"zero", "007"}};
  auto ok = [&](std::string_view name) {
    auto r = api::query_uint(q, name);
    REQUIRE(r.has_value());
    return *r;
  };
  CHECK(ok("since") == std::optional<std::uint64_t>{42});
  CHECK(ok("absent") == std::optional<std::uint64_t>{});
  CHECK(ok("max") == std::optional<std::uint64_t>{18446744073709551615ULL});
  CHECK(ok("zero") == std::optional<std::uint64_t>{7});
  CHECK(api::query_value(q, "limit") == "1001");
  CHECK_FALSE(api::query_value(q, "nope"));

  auto e = api::query_uint(q, "limit", 1000);
  REQUIRE_FALSE(e);
  CHECK(e.error().status == 400);
  CHECK(e.error().error == "invalid_query");
  CHECK(e.error().message == "limit must be at most 1000");

  for (std::string bad : {"abc", "-1", "+1", " 1", "1 ", "", "1.0", "0x10",
                          "18446744073709551616", "99999999999999999999999"}) {
    INFO("value: '" << bad << "'");
    std::vector<std::pair<std::string, std::string>> one{{"since", bad}};
    auto r = api::query_uint(one, "since");
    REQUIRE_FALSE(r);
    CHECK(r.error().error == "invalid_query");
    CHECK_THAT(r.error().message, Catch::StartsWith("since "));
  }

  std::vector<std::pair<std::string, std::string>> twice{{"since", "1"}, {"since", "2"}};
  auto r = api::query_uint(twice, "since");
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "since is given more than once");
}
