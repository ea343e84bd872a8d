// The Alpaca codec (actors/brokers/alpaca/codec.*) against JSON vectors shaped as in the Alpaca
// reference (alpaca-api.md §2–§5): exact bodies out, exact decimals in, errors naming fields.

#include <catch2/catch.hpp>

#include "actors/brokers/alpaca/codec.hpp"

using namespace brokerd;
using namespace brokerd::actors::alpaca;
using engine::decimal;
using engine::order_status;

namespace {

decimal dec(const char* text) {
  return *decimal::parse(text);
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

// An order object as §4.2 shows it: every timestamp key present, nulls included.
std::string order_json(std::string_view status, std::string_view filled_qty = "0",
                       std::string_view filled_avg_price = "null") {
  return std::string{
             R"({"id":"61e69015-8549-4bfd-b9c3-01e75843f47d","client_order_id":"c-1",)"
             R"("created_at":"2019-06-22T01:02:57.66207875Z",)"
             R"("updated_at":"2019-06-22T01:02:58.1Z","submitted_at":"2019-06-22T01:02:57.6Z",)"
             R"("filled_at":null,"expired_at":null,"canceled_at":null,"failed_at":null,)"
             R"("replaced_at":null,"replaced_by":null,"replaces":null,)"
             R"("asset_id":"b0b6dd9d-8b9b-48a9-ba46-b9d54906e415","symbol":"AAPL",)"
             R"("asset_class":"us_equity","notional":null,"qty":"10","filled_qty":")"} +
         std::string{filled_qty} + R"(","filled_avg_price":)" + std::string{filled_avg_price} +
         R"(,"order_class":"","order_type":"limit","type":"limit","side":"buy",)"
         R"("time_in_force":"day","limit_price":"187.25","stop_price":null,"status":")" +
         std::string{status} +
         R"(","extended_hours":false,"legs":null,"trail_percent":null,"trail_price":null,"hwm":null})";
}

} // namespace

TEST_CASE("a limit order is encoded with decimal strings in a fixed key order") {
  auto o = make_order(engine::order_type::limit);
  o.limit_price = dec("187.25");
  auto body = encode_new_order(o);
  REQUIRE(body.has_value());
  CHECK(*body == R"({"symbol":"AAPL","qty":"10","side":"buy","type":"limit",)"
                 R"("time_in_force":"day","limit_price":"187.25","client_order_id":"c-1"})");
}

TEST_CASE("market, stop and stop_limit orders are encoded with the prices their type takes") {
  auto m = make_order(engine::order_type::market, engine::time_in_force::ioc);
  m.order_side = engine::side::sell;
  CHECK(encode_new_order(m).value() ==
        R"({"symbol":"AAPL","qty":"10","side":"sell","type":"market",)"
        R"("time_in_force":"ioc","client_order_id":"c-1"})");
  auto s = make_order(engine::order_type::stop, engine::time_in_force::gtc);
  s.stop_price = dec("180.5");
  CHECK(encode_new_order(s).value() ==
        R"({"symbol":"AAPL","qty":"10","side":"buy","type":"stop",)"
        R"("time_in_force":"gtc","stop_price":"180.5","client_order_id":"c-1"})");
  auto sl = make_order(engine::order_type::stop_limit, engine::time_in_force::fok);
  sl.stop_price = dec("180.5");
  sl.limit_price = dec("181.0001");
  CHECK(encode_new_order(sl).value() ==
        R"({"symbol":"AAPL","qty":"10","side":"buy","type":"stop_limit","time_in_force":"fok",)"
        R"("limit_price":"181.0001","stop_price":"180.5","client_order_id":"c-1"})");
}

TEST_CASE("a fractional quantity is encoded exactly on a market day order") {
  auto o = make_order(engine::order_type::market);
  o.quantity = dec("0.12345678");
  o.client_order_id = "a\"b";
  CHECK(encode_new_order(o).value() ==
        R"({"symbol":"AAPL","qty":"0.12345678","side":"buy","type":"market",)"
        R"("time_in_force":"day","client_order_id":"a\"b"})");
}

TEST_CASE("orders Alpaca would refuse are not encoded, and the error names the field") {
  auto expect_invalid = [](const engine::order& o, std::string_view field) {
    auto body = encode_new_order(o);
    REQUIRE_FALSE(body.has_value());
    CHECK(body.error().code == errc::invalid_order);
    CHECK(body.error().message.find(field) != std::string::npos);
  };
  auto limit_without_price = make_order(engine::order_type::limit);
  expect_invalid(limit_without_price, "limit_price");
  auto market_with_price = make_order(engine::order_type::market);
  market_with_price.limit_price = dec("1");
  expect_invalid(market_with_price, "limit_price");
  auto stop_without_stop = make_order(engine::order_type::stop_limit);
  stop_without_stop.limit_price = dec("1");
  expect_invalid(stop_without_stop, "stop_price");
  auto zero_qty = make_order(engine::order_type::market);
  zero_qty.quantity = decimal{};
  expect_invalid(zero_qty, "qty");
  auto fractional_limit = make_order(engine::order_type::limit);
  fractional_limit.limit_price = dec("10");
  fractional_limit.quantity = dec("1.5");
  expect_invalid(fractional_limit, "fractional");
  auto fractional_gtc = make_order(engine::order_type::market, engine::time_in_force::gtc);
  fractional_gtc.quantity = dec("1.5");
  expect_invalid(fractional_gtc, "fractional");
  auto no_symbol = make_order(engine::order_type::market);
  no_symbol.symbol.clear();
  expect_invalid(no_symbol, "symbol");
  auto long_id = make_order(engine::order_type::market);
  long_id.client_order_id = std::string(129, 'x');
  expect_invalid(long_id, "client_order_id");
  long_id.client_order_id = std::string(128, 'x');
  CHECK(encode_new_order(long_id).has_value());
  auto negative_price = make_order(engine::order_type::limit);
  negative_price.limit_price = dec("-1");
  expect_invalid(negative_price, "limit_price");
}

TEST_CASE("every Alpaca order status maps to a brokerd status") {
  struct row {
    const char* alpaca;
    order_status unfilled;
    order_status part_filled;
  };
  using enum order_status;
  const row rows[] = {
      {"new", new_, partially_filled},
      {"partially_filled", partially_filled, partially_filled},
      {"filled", filled, filled},
      {"done_for_day", new_, partially_filled},
      {"canceled", canceled, canceled},
      {"expired", expired, expired},
      {"replaced", canceled, canceled},
      {"pending_cancel", pending_cancel, pending_cancel},
      {"pending_replace", new_, partially_filled},
      {"pending_new", pending_new, pending_new},
      {"accepted", pending_new, pending_new},
      {"accepted_for_bidding", pending_new, pending_new},
      {"stopped", new_, partially_filled},
      {"rejected", rejected, rejected},
      {"suspended", new_, partially_filled},
      {"calculated", new_, partially_filled},
      {"held", pending_new, pending_new},
  };
  STATIC_REQUIRE(std::size(rows) == 17);
  for (const auto& r : rows) {
    INFO(r.alpaca);
    CHECK(map_order_status(r.alpaca) == r.unfilled);
    CHECK(map_order_status(r.alpaca, dec("3"), dec("10")) == r.part_filled);
    // The same status inside an order object.
    auto o = parse_order(order_json(r.alpaca, "3", "\"187.2\""));
    REQUIRE(o.has_value());
    CHECK(o->status == r.part_filled);
    CHECK(o->alpaca_status == r.alpaca);
  }
  CHECK(map_order_status("calculated", dec("10"), dec("10")) == filled);
  CHECK_FALSE(map_order_status("New").has_value());
  CHECK_FALSE(map_order_status("").has_value());
}

TEST_CASE("an order object is parsed with exact decimals and null fields left empty") {
  auto o = parse_order(order_json("partially_filled", "3.5", "\"187.12345678\""));
  REQUIRE(o.has_value());
  CHECK(o->id == "61e69015-8549-4bfd-b9c3-01e75843f47d");
  CHECK(o->client_order_id == "c-1");
  CHECK(o->symbol == "AAPL");
  CHECK(o->side == "buy");
  CHECK(o->type == "limit");
  CHECK(o->time_in_force == "day");
  CHECK(o->quantity == dec("10"));
  CHECK_FALSE(o->notional.has_value());
  CHECK(o->filled_quantity.units() == 350'000'000);
  CHECK(o->filled_avg_price->units() == 18'712'345'678);
  CHECK(o->limit_price == dec("187.25"));
  CHECK_FALSE(o->stop_price.has_value());
  CHECK(o->created_at == "2019-06-22T01:02:57.66207875Z");
  CHECK(o->filled_at.empty());
  CHECK(o->replaced_by.empty());
  CHECK(o->status == order_status::partially_filled);
}

TEST_CASE("amounts sent as JSON numbers are read exactly, without floating point") {
  auto o = parse_order(R"({"id":"x","symbol":"AAPL","status":"filled","qty":10,)"
                       R"("filled_qty":10,"filled_avg_price":0.1,"limit_price":187.2500})");
  REQUIRE(o.has_value());
  CHECK(o->filled_avg_price->units() == 10'000'000);
  CHECK(o->limit_price == dec("187.25"));
  CHECK(o->quantity == dec("10"));
}

TEST_CASE("an average price with more than 8 fraction digits is rounded half-even") {
  auto round = [](const char* price) {
    return parse_order(std::string{R"({"id":"x","symbol":"A","status":"filled","filled_qty":"3",)"
                                   R"("filled_avg_price":")"} +
                       price + "\"}")
        .value()
        .filled_avg_price.value()
        .to_string();
  };
  CHECK(round("100.333333333333") == "100.33333333");
  CHECK(round("100.666666666666") == "100.66666667");
  CHECK(round("1.000000005") == "1");
  CHECK(round("1.000000015") == "1.00000002");
  CHECK(round("1.0000000051") == "1.00000001");
  CHECK(round("9.999999999") == "10");
  CHECK(round("-9.999999999") == "-10");
}

TEST_CASE("a malformed order names the field at fault and never throws") {
  auto expect = [](std::string_view json, errc code, std::string_view needle) {
    auto o = parse_order(json);
    REQUIRE_FALSE(o.has_value());
    CHECK(o.error().code == code);
    INFO(o.error().message);
    CHECK(o.error().message.find(needle) != std::string::npos);
  };
  expect("", errc::malformed_json, "not JSON");
  expect("{\"id\":", errc::malformed_json, "not JSON");
  expect("[]", errc::malformed_json, "expected an object");
  expect(R"({"symbol":"A","status":"new","filled_qty":"0"})", errc::missing_field, "id");
  expect(R"({"id":null,"symbol":"A","status":"new","filled_qty":"0"})", errc::missing_field, "id");
  expect(R"({"id":"x","symbol":"A","filled_qty":"0"})", errc::missing_field, "status");
  expect(R"({"id":"x","symbol":"A","status":"new"})", errc::missing_field, "filled_qty");
  expect(R"({"id":{},"symbol":"A","status":"new","filled_qty":"0"})", errc::bad_field,
         "id is an object, expected a string");
  expect(R"({"id":"x","symbol":"A","status":"new","filled_qty":"1,5"})", errc::bad_field,
         "filled_qty");
  expect(R"({"id":"x","symbol":"A","status":"new","filled_qty":"0","qty":"1e3"})", errc::bad_field,
         "qty");
  expect(R"({"id":"x","symbol":"A","status":"new","filled_qty":"0","qty":"0.000000001"})",
         errc::bad_field, "qty");
  expect(R"({"id":"x","symbol":"A","status":"new","filled_qty":"0","limit_price":true})",
         errc::bad_field, "limit_price");
  expect(R"({"id":"x","symbol":"A","status":"new","filled_qty":"99999999999999"})", errc::bad_field,
         "filled_qty");
}

TEST_CASE("an unknown order status is kept as text and normalized to unknown") {
  auto o = parse_order(R"({"id":"x","symbol":"A","status":"frozen","filled_qty":"0"})");
  REQUIRE(o.has_value());
  CHECK(o->status == order_status::unknown);
  CHECK(o->alpaca_status == "frozen");
}

TEST_CASE("an order list is parsed, and an error inside names the index") {
  auto list =
      parse_orders("[" + order_json("new") + "," + order_json("filled", "10", "\"1\"") + "]");
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 2);
  CHECK((*list)[1].status == order_status::filled);
  CHECK(parse_orders("[]").value().empty());
  auto bad = parse_orders("[" + order_json("new") + R"(,{"id":"y"}])");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "orders[1].symbol is missing");
  CHECK(parse_orders("{}").error().code == errc::malformed_json);
}

TEST_CASE("the account gives cash, equity and buying power as exact decimals") {
  auto b = parse_account(
      R"({"id":"904837e3-3b76-47ec-b432-046db621571b","account_number":"PA3717PJAYWN","status":"ACTIVE",)"
      R"("currency":"USD","cash":"-23140.2","portfolio_value":"103820.56","equity":"103820.56",)"
      R"("buying_power":"262113.632","regt_buying_power":"262113.632","multiplier":"4",)"
      R"("pattern_day_trader":false,"daytrade_count":0,"shorting_enabled":true})");
  REQUIRE(b.has_value());
  CHECK(b->cash == dec("-23140.2"));
  CHECK(b->equity == dec("103820.56"));
  CHECK(b->buying_power == dec("262113.632"));
  CHECK(b->currency == "USD");
  auto missing = parse_account(R"({"cash":"1","equity":"1"})");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message == "buying_power is missing");
  CHECK(parse_account("<html>403</html>").error().code == errc::malformed_json);
  CHECK(parse_account(R"({"cash":"x","equity":"1","buying_power":"1"})").error().code ==
        errc::bad_field);
}

TEST_CASE("positions keep their sign: a short is negative") {
  auto p = parse_positions(
      R"([{"asset_id":"904837e3-3b76-47ec-b432-046db621571b","symbol":"AAPL","exchange":"NASDAQ",)"
      R"("asset_class":"us_equity","qty":"5","side":"long","avg_entry_price":"100.1",)"
      R"("market_value":"600","cost_basis":"500.5","unrealized_pl":"99.5","unrealized_plpc":"0.198801198801198801"},)"
      R"({"symbol":"TSLA","qty":"-3","side":"short","avg_entry_price":"200","market_value":"-630.75"},)"
      R"({"symbol":"F","qty":"2","side":"short","avg_entry_price":"10","market_value":"-20"}])");
  REQUIRE(p.has_value());
  REQUIRE(p->size() == 3);
  CHECK((*p)[0] == engine::position{"AAPL", dec("5"), dec("100.1"), dec("600")});
  CHECK((*p)[1] == engine::position{"TSLA", dec("-3"), dec("200"), dec("-630.75")});
  CHECK((*p)[2].quantity == dec("-2"));
  CHECK(parse_positions("[]").value().empty());
  auto bad = parse_positions(R"([{"symbol":"AAPL","qty":"5","avg_entry_price":"1"}])");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "positions[0].market_value is missing");
  CHECK(parse_positions("[1]").error().message ==
        "positions[0] is a string or number, expected an object");
}

TEST_CASE("error bodies keep Alpaca's code and message and any other body is kept as text") {
  auto e = parse_api_error(
      403,
      R"({"buying_power":"0","code":40310000,"cost_basis":"1","message":"insufficient buying power"})");
  CHECK(e.http_status == 403);
  CHECK(e.code == 40310000);
  CHECK(e.message == "insufficient buying power");
  CHECK(e.to_string() == "HTTP 403, Alpaca 40310000: insufficient buying power");

  auto bare = parse_api_error(403, R"({"message": "forbidden."})");
  CHECK_FALSE(bare.code.has_value());
  CHECK(bare.message == "forbidden.");
  CHECK(bare.to_string() == "HTTP 403: forbidden.");

  auto html = parse_api_error(403, "  <html><head><title>403 Forbidden</title></head></html>\r\n");
  CHECK_FALSE(html.code.has_value());
  CHECK(html.message == "<html><head><title>403 Forbidden</title></head></html>");

  auto empty = parse_api_error(429, "");
  CHECK(empty.message.empty());
  CHECK(empty.to_string() == "HTTP 429");

  CHECK(parse_api_error(500, std::string(1000, 'x')).message.size() == 200);
  CHECK(parse_api_error(422, R"({"code":"40010001","message":"client_order_id must be unique"})")
            .code == 40010001);
  CHECK_FALSE(parse_api_error(422, R"({"code":1.5,"message":"m"})").code.has_value());
}

TEST_CASE("both auth forms and listen are encoded byte for byte") {
  CHECK(encode_auth("AK1", "s\"2") ==
        R"({"action":"authenticate","data":{"key_id":"AK1","secret_key":"s\"2"}})");
  CHECK(encode_auth("AK1", "S2", auth_form::current) ==
        R"({"action":"auth","key":"AK1","secret":"S2"})");
  CHECK(encode_listen() == R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  CHECK(encode_listen({}) == R"({"action":"listen","data":{"streams":[]}})");
}

TEST_CASE("authorization and listening replies are decoded") {
  auto ok = parse_stream_message(
      R"({"stream":"authorization","data":{"action":"authenticate","status":"authorized"}})");
  REQUIRE(ok.has_value());
  CHECK(std::get<authorization>(*ok) == authorization{true, "authorized", ""});
  auto no = parse_stream_message(
      R"({"stream":"authorization","data":{"action":"authenticate","status":"unauthorized",)"
      R"("message":"must provide key_id and secret_key or oauth_token"}})");
  REQUIRE(no.has_value());
  CHECK_FALSE(std::get<authorization>(*no).authorized);
  CHECK(std::get<authorization>(*no).message ==
        "must provide key_id and secret_key or oauth_token");
  auto l = parse_stream_message(R"({"stream":"listening","data":{"streams":["trade_updates"]}})");
  REQUIRE(l.has_value());
  CHECK(std::get<listening>(*l).streams == std::vector<std::string>{"trade_updates"});
  auto none = parse_stream_message(R"({"stream":"listening","data":{"streams":[]}})");
  CHECK(std::get<listening>(none.value()).streams.empty());
  CHECK(
      std::holds_alternative<heartbeat>(parse_stream_message(std::string_view{"\x01", 1}).value()));
}

TEST_CASE("a fill event carries fill price, fill quantity, position and execution id exactly") {
  auto frame = std::string{R"({"stream":"trade_updates","data":{"event":"partial_fill",)"
                           R"("execution_id":"7e5a8c34-1c3b-4c3e-9a7b-2f0c2b2d9c11",)"
                           R"("timestamp":"2024-05-01T14:30:00.123456789Z","price":"187.21",)"
                           R"("qty":"3","position_qty":"-7","order":)"} +
               order_json("partially_filled", "3", "\"187.21\"") + "}}";
  auto m = parse_stream_message(frame);
  REQUIRE(m.has_value());
  const auto& u = std::get<trade_update>(*m);
  CHECK(u.event == trade_event::partial_fill);
  CHECK(u.execution_id == "7e5a8c34-1c3b-4c3e-9a7b-2f0c2b2d9c11");
  CHECK(u.timestamp == "2024-05-01T14:30:00.123456789Z");
  CHECK(u.price == dec("187.21"));
  CHECK(u.quantity == dec("3"));
  CHECK(u.position_quantity == dec("-7"));
  CHECK(u.order.status == order_status::partially_filled);
  CHECK(u.order.filled_avg_price == dec("187.21"));
}

TEST_CASE("every trade event type is decoded, with null fill fields left empty") {
  const char* events[] = {"new",
                          "fill",
                          "partial_fill",
                          "canceled",
                          "expired",
                          "done_for_day",
                          "replaced",
                          "rejected",
                          "pending_new",
                          "accepted",
                          "pending_cancel",
                          "pending_replace",
                          "stopped",
                          "calculated",
                          "suspended",
                          "order_cancel_rejected",
                          "order_replace_rejected",
                          "restated",
                          "trade_bust",
                          "trade_correct"};
  STATIC_REQUIRE(std::size(events) == 20);
  for (const char* e : events) {
    INFO(e);
    auto frame =
        std::string{R"({"stream":"trade_updates","data":{"event":")"} + e +
        R"(","timestamp":"2024-05-01T14:30:00Z","price":null,"qty":null,"position_qty":null,)"
        R"("reason":"CORPORATE_ACTION","order":)" +
        order_json("new") + "}}";
    auto m = parse_stream_message(frame);
    REQUIRE(m.has_value());
    const auto& u = std::get<trade_update>(*m);
    CHECK(to_string(u.event) == e);
    CHECK(u.event != trade_event::unknown);
    CHECK(parse_trade_event(e) == u.event);
    CHECK_FALSE(u.price.has_value());
    CHECK_FALSE(u.quantity.has_value());
    CHECK(u.execution_id.empty());
  }
  auto odd = parse_stream_message(
      std::string{R"({"stream":"trade_updates","data":{"event":"margin_call","order":)"} +
      order_json("new") + "}}");
  REQUIRE(odd.has_value());
  CHECK(std::get<trade_update>(*odd).event == trade_event::unknown);
  CHECK(std::get<trade_update>(*odd).event_text == "margin_call");
}

TEST_CASE("a malformed stream frame is an error naming what is wrong") {
  auto expect = [](std::string_view frame, errc code, std::string_view message) {
    auto m = parse_stream_message(frame);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().code == code);
    CHECK(m.error().message == message);
  };
  expect(R"({"data":{}})", errc::missing_field, "stream is missing");
  expect(R"({"stream":"trade_updates"})", errc::missing_field, "data is missing");
  expect(R"({"stream":"trade_updates","data":[]})", errc::bad_field,
         "data is an array, expected an object");
  expect(R"({"stream":"trade_updates","data":{"order":{}}})", errc::missing_field,
         "data.event is missing");
  expect(R"({"stream":"trade_updates","data":{"event":"fill"}})", errc::missing_field,
         "data.order is missing");
  expect(R"({"stream":"trade_updates","data":{"event":"fill","order":"x"}})", errc::bad_field,
         "data.order is a string or number, expected an object");
  expect(R"({"stream":"trade_updates","data":{"event":"fill","order":{"symbol":"A"}}})",
         errc::missing_field, "data.order.id is missing");
  expect(R"({"stream":"trade_updates","data":{"event":"fill","price":"abc","order":{}}})",
         errc::bad_field, "data.price is not a decimal: \"abc\"");
  expect(R"({"stream":"bars","data":{}})", errc::unknown_stream, "stream \"bars\" is not handled");
  expect(R"({"stream":"authorization","data":{"action":"authenticate"}})", errc::missing_field,
         "data.status is missing");
  expect(R"({"stream":"listening","data":{"streams":[true]}})", errc::bad_field,
         "data.streams[0] is a boolean, expected a string");
  expect("\x02", errc::malformed_json, "stream frame: not JSON (error at offset 0)");
  expect("[1]", errc::malformed_json, "stream frame is an array, expected an object");
}
