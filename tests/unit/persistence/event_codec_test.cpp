#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "persistence/event_codec.hpp"
#include "support/persistence_fixtures.hpp"

using namespace brokerd;
using namespace brokerd::persistence;
using persistence::testing::dec;
using persistence::testing::full_event;

namespace {

/// The encoding of `full_event()`, byte for byte.
constexpr std::string_view full_event_json =
    R"({"v":1,"seq":18446744073709551615,"ts":1714566896123456789,"type":"order.status",)"
    R"("user":"user-7","connection":"conn-3","broker":"ibkr","orderId":"o-42",)"
    R"("clientOrderId":"cl:42","brokerOrderId":"90017","from":"new","to":"partially_filled",)"
    R"("symbol":"BRK.B","side":"sell","orderType":"stop_limit","timeInForce":"gtc",)"
    R"("quantity":"250.5","limitPrice":"412.1234","stopPrice":"410",)"
    R"("filledQuantity":"100.00000001","avgFillPrice":"-0.5","lastQuantity":"40",)"
    R"("lastPrice":"412.12","execId":"0001f4e8.65a1b2c3.01.01","source":"reconcile",)"
    R"("state":"ready","reason":"IBKR 201: \"Order rejected\" \\ reason\n"})";

event minimal_event() {
  event e;
  e.seq = 1;
  e.ts_ns = 5;
  e.type = "connection.state";
  return e;
}

std::string with_fields(std::string_view extra) {
  std::string json = R"({"v":1,"seq":3,"ts":9,"type":"order.status","source":"broker")";
  if (!extra.empty()) {
    json += ',';
    json += extra;
  }
  json += '}';
  return json;
}

std::string random_text(std::mt19937_64& rng) {
  static constexpr std::string_view alphabet =
      "abcXYZ019 .:_-/\"\\\n\t\x01\x7f\xc3\xa9\xe2\x82\xac{}[],";
  std::uniform_int_distribution<std::size_t> length{0, 24};
  std::uniform_int_distribution<std::size_t> pick{0, alphabet.size() - 1};
  std::string s(length(rng), ' ');
  for (auto& c : s)
    c = alphabet[pick(rng)];
  if (length(rng) == 0)
    s.push_back('\0');
  return s;
}

template <class T, class Pick> std::optional<T> maybe(std::mt19937_64& rng, Pick pick) {
  if (std::uniform_int_distribution<int>{0, 3}(rng) == 0)
    return std::nullopt;
  return pick();
}

event random_event(std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint64_t> any_u64;
  std::uniform_int_distribution<std::int64_t> any_i64;
  std::uniform_int_distribution<std::int64_t> units{-92'233'720'368'54775807LL,
                                                    92'233'720'368'54775807LL};
  std::uniform_int_distribution<unsigned> small{0, 100};
  auto decimal = [&] { return engine::decimal::from_units(units(rng)); };
  auto status = [&] {
    return static_cast<engine::order_status>(small(rng) % engine::order_status_count);
  };
  event e;
  e.seq = any_u64(rng);
  e.ts_ns = any_i64(rng);
  e.type = "t" + random_text(rng);
  e.user = random_text(rng);
  e.connection = random_text(rng);
  e.broker =
      maybe<engine::broker_id>(rng, [&] { return static_cast<engine::broker_id>(small(rng) % 4); });
  e.order_id = random_text(rng);
  e.client_order_id = random_text(rng);
  e.broker_order_id = random_text(rng);
  e.from = maybe<engine::order_status>(rng, status);
  e.to = maybe<engine::order_status>(rng, status);
  e.symbol = random_text(rng);
  e.order_side =
      maybe<engine::side>(rng, [&] { return static_cast<engine::side>(small(rng) % 2); });
  e.type_of_order = maybe<engine::order_type>(
      rng, [&] { return static_cast<engine::order_type>(small(rng) % 4); });
  e.tif = maybe<engine::time_in_force>(
      rng, [&] { return static_cast<engine::time_in_force>(small(rng) % 4); });
  e.quantity = maybe<engine::decimal>(rng, decimal);
  e.limit_price = maybe<engine::decimal>(rng, decimal);
  e.stop_price = maybe<engine::decimal>(rng, decimal);
  e.filled_quantity = maybe<engine::decimal>(rng, decimal);
  e.avg_fill_price = maybe<engine::decimal>(rng, decimal);
  e.last_quantity = maybe<engine::decimal>(rng, decimal);
  e.last_price = maybe<engine::decimal>(rng, decimal);
  e.exec_id = random_text(rng);
  e.source = static_cast<event_source>(small(rng) % 3);
  e.state = random_text(rng);
  e.reason = random_text(rng);
  return e;
}

void require_decode_error(std::string_view json, errc code, std::string_view message_part) {
  INFO("json: " << json);
  auto decoded = decode_event(json);
  REQUIRE_FALSE(decoded.has_value());
  INFO("error: " << decoded.error().to_string());
  CHECK(decoded.error().code == code);
  CHECK(decoded.error().message.find(message_part) != std::string::npos);
}

} // namespace

TEST_CASE("an event with every field set encodes to the documented bytes") {
  CHECK(encode_event(full_event()) == full_event_json);
}

TEST_CASE("an event with every field set decodes back to the same event") {
  auto decoded = decode_event(full_event_json);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == full_event());
}

TEST_CASE("empty strings and absent optionals are omitted from the encoding") {
  CHECK(encode_event(minimal_event()) ==
        R"({"v":1,"seq":1,"ts":5,"type":"connection.state","source":"local"})");
}

TEST_CASE("a minimal document decodes to an event with every other field empty") {
  auto decoded =
      decode_event(R"({"v":1,"seq":1,"ts":5,"type":"connection.state","source":"local"})");
  REQUIRE(decoded.has_value());
  CHECK(*decoded == minimal_event());
}

TEST_CASE("decimals are written as exact strings in their shortest form") {
  event e = minimal_event();
  e.quantity = dec("100.10000000");
  e.limit_price = dec("0.00000001");
  e.stop_price = dec("-92233720368.54775807");
  std::string json = encode_event(e);
  CHECK(json.find(R"("quantity":"100.1")") != std::string::npos);
  CHECK(json.find(R"("limitPrice":"0.00000001")") != std::string::npos);
  CHECK(json.find(R"("stopPrice":"-92233720368.54775807")") != std::string::npos);
  auto decoded = decode_event(json);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == e);
}

TEST_CASE("every broker id round-trips through the codec by its text") {
  for (auto b : {engine::broker_id::paper, engine::broker_id::alpaca, engine::broker_id::ibkr,
                 engine::broker_id::schwab}) {
    event e = minimal_event();
    e.broker = b;
    std::string json = encode_event(e);
    CHECK(json.find("\"broker\":\"" + std::string{engine::to_string(b)} + "\"") !=
          std::string::npos);
    auto decoded = decode_event(json);
    REQUIRE(decoded.has_value());
    CHECK(decoded->broker == b);
  }
}

TEST_CASE("every side, order type and time in force round-trips through the codec") {
  for (auto s : {engine::side::buy, engine::side::sell}) {
    event e = minimal_event();
    e.order_side = s;
    auto decoded = decode_event(encode_event(e));
    REQUIRE(decoded.has_value());
    CHECK(decoded->order_side == s);
  }
  for (auto t : {engine::order_type::market, engine::order_type::limit, engine::order_type::stop,
                 engine::order_type::stop_limit}) {
    event e = minimal_event();
    e.type_of_order = t;
    std::string json = encode_event(e);
    CHECK(json.find("\"orderType\":\"" + std::string{engine::to_string(t)} + "\"") !=
          std::string::npos);
    auto decoded = decode_event(json);
    REQUIRE(decoded.has_value());
    CHECK(decoded->type_of_order == t);
  }
  for (auto t : {engine::time_in_force::day, engine::time_in_force::gtc, engine::time_in_force::ioc,
                 engine::time_in_force::fok}) {
    event e = minimal_event();
    e.tif = t;
    auto decoded = decode_event(encode_event(e));
    REQUIRE(decoded.has_value());
    CHECK(decoded->tif == t);
  }
}

TEST_CASE("every order status round-trips as from and as to") {
  for (std::size_t i = 0; i < engine::order_status_count; ++i) {
    auto s = static_cast<engine::order_status>(i);
    event e = minimal_event();
    e.from = s;
    e.to = s;
    std::string json = encode_event(e);
    std::string text{engine::to_string(s)};
    CHECK(json.find("\"from\":\"" + text + "\",\"to\":\"" + text + "\"") != std::string::npos);
    auto decoded = decode_event(json);
    REQUIRE(decoded.has_value());
    CHECK(decoded->from == s);
    CHECK(decoded->to == s);
  }
}

TEST_CASE("every event source round-trips by its text") {
  for (auto [source, text] :
       {std::pair{event_source::broker, "broker"}, std::pair{event_source::reconcile, "reconcile"},
        std::pair{event_source::local, "local"}}) {
    event e = minimal_event();
    e.source = source;
    std::string json = encode_event(e);
    CHECK(json.find(std::string{"\"source\":\""} + text + "\"") != std::string::npos);
    auto decoded = decode_event(json);
    REQUIRE(decoded.has_value());
    CHECK(decoded->source == source);
  }
}

TEST_CASE("random events survive encode and decode unchanged") {
  std::mt19937_64 rng{20240501};
  for (int i = 0; i < 2000; ++i) {
    event e = random_event(rng);
    std::string json = encode_event(e);
    auto decoded = decode_event(json);
    INFO("iteration " << i << ": " << json);
    REQUIRE(decoded.has_value());
    REQUIRE(*decoded == e);
  }
}

TEST_CASE("encode_event_into replaces the buffer's contents") {
  std::string buffer = "left over from before";
  encode_event_into(minimal_event(), buffer);
  CHECK(buffer == encode_event(minimal_event()));
}

TEST_CASE("decoding into a reused slot leaves nothing of the previous event") {
  std::expected<event, error> slot{full_event()};
  decode_event_reusing(encode_event(minimal_event()), slot);
  REQUIRE(slot.has_value());
  CHECK(*slot == minimal_event());

  decode_event_reusing("not json", slot);
  REQUIRE_FALSE(slot.has_value());
  CHECK(slot.error().code == errc::corrupt_record);

  decode_event_reusing(full_event_json, slot);
  REQUIRE(slot.has_value());
  CHECK(*slot == full_event());
}

TEST_CASE("unknown keys are ignored, whatever their value") {
  auto decoded = decode_event(with_fields(R"("futureField":{"a":[1,2,{"b":null}]},"x":1.5)"));
  REQUIRE(decoded.has_value());
  CHECK(decoded->seq == 3);
  CHECK(decoded->ts_ns == 9);
  CHECK(decoded->source == event_source::broker);
}

TEST_CASE("a negative timestamp decodes") {
  auto decoded = decode_event(R"({"v":1,"seq":0,"ts":-1,"type":"x","source":"local"})");
  REQUIRE(decoded.has_value());
  CHECK(decoded->ts_ns == -1);
}

TEST_CASE("text that is not a JSON object is rejected") {
  require_decode_error("", errc::corrupt_record, "not valid JSON");
  require_decode_error("{\"v\":1", errc::corrupt_record, "not valid JSON");
  require_decode_error("\xff\xfe garbage", errc::corrupt_record, "not valid JSON");
  require_decode_error("[1,2]", errc::corrupt_record, "must be a JSON object");
  require_decode_error("42", errc::corrupt_record, "must be a JSON object");
  require_decode_error("\"text\"", errc::corrupt_record, "must be a JSON object");
  require_decode_error("null", errc::corrupt_record, "must be a JSON object");
  require_decode_error(with_fields("") + " trailing", errc::corrupt_record, "not valid JSON");
  require_decode_error(with_fields("") + std::string{"\0junk", 5}, errc::corrupt_record,
                       "a NUL byte after the document");
  require_decode_error(R"({"v":1,"seq":1,"ts":1,"type":"a)" + std::string{"\0", 1} + R"(b"})",
                       errc::corrupt_record, "not valid JSON");
}

TEST_CASE("a document longer than the parser's inline buffer decodes") {
  event e = minimal_event();
  e.reason = std::string(5000, 'r');
  e.reason += "\"\\\u00e9";
  auto decoded = decode_event(encode_event(e));
  REQUIRE(decoded.has_value());
  CHECK(*decoded == e);
}

TEST_CASE("each required field missing is rejected by name") {
  require_decode_error(R"({"seq":1,"ts":1,"type":"x","source":"local"})", errc::corrupt_record,
                       "missing field v");
  require_decode_error(R"({"v":1,"ts":1,"type":"x","source":"local"})", errc::corrupt_record,
                       "missing field seq");
  require_decode_error(R"({"v":1,"seq":1,"type":"x","source":"local"})", errc::corrupt_record,
                       "missing field ts");
  require_decode_error(R"({"v":1,"seq":1,"ts":1,"source":"local"})", errc::corrupt_record,
                       "missing field type");
  require_decode_error(R"({"v":1,"seq":1,"ts":1,"type":"x"})", errc::corrupt_record,
                       "missing field source");
}

TEST_CASE("a version newer than this build is unsupported even when other fields are bad") {
  require_decode_error(R"({"v":2,"seq":1,"ts":1,"type":"x","source":"local"})",
                       errc::unsupported_version, "version 2 is newer");
  require_decode_error(R"({"side":"short","broker":"etrade","v":7,"seq":1,"ts":1})",
                       errc::unsupported_version, "version 7");
}

TEST_CASE("a version of zero or below is rejected") {
  require_decode_error(R"({"v":0,"seq":1,"ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record, "field v: 0 is not a version");
  require_decode_error(R"({"v":-1,"seq":1,"ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record, "field v: expected an unsigned integer");
}

TEST_CASE("numeric fields of the wrong JSON type are rejected by name") {
  require_decode_error(R"({"v":"1","seq":1,"ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record,
                       "field v: expected an unsigned integer, found a string");
  require_decode_error(R"({"v":1,"seq":"1","ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record, "field seq: expected an unsigned integer");
  require_decode_error(R"({"v":1,"seq":-4,"ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record, "field seq: expected an unsigned integer, found -4");
  require_decode_error(R"({"v":1,"seq":1.5,"ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record,
                       "field seq: expected an unsigned integer, found a floating-point number");
  require_decode_error(R"({"v":1,"seq":1,"ts":true,"type":"x","source":"local"})",
                       errc::corrupt_record, "field ts: expected an integer, found a boolean");
  require_decode_error(R"({"v":1,"seq":1,"ts":18446744073709551615,"type":"x","source":"local"})",
                       errc::corrupt_record, "field ts: 18446744073709551615 is out of range");
}

TEST_CASE("text fields of the wrong JSON type are rejected by name") {
  require_decode_error(R"({"v":1,"seq":1,"ts":1,"type":7,"source":"local"})", errc::corrupt_record,
                       "field type: expected a string, found a number");
  require_decode_error(with_fields(R"("user":null)"), errc::corrupt_record,
                       "field user: expected a string, found null");
  require_decode_error(with_fields(R"("orderId":{"id":1})"), errc::corrupt_record,
                       "field orderId: expected a string, found an object");
  require_decode_error(with_fields(R"("reason":["a"])"), errc::corrupt_record,
                       "field reason: expected a string, found an array");
  require_decode_error(with_fields(R"("quantity":100)"), errc::corrupt_record,
                       "field quantity: expected a decimal string, found a number");
  require_decode_error(with_fields(R"("lastPrice":1.5)"), errc::corrupt_record,
                       "field lastPrice: expected a decimal string, found a floating-point number");
  require_decode_error(R"({"v":1,"seq":1,"ts":1,"type":"","source":"local"})", errc::corrupt_record,
                       "field type: must not be empty");
}

TEST_CASE("a bad decimal is rejected naming its field") {
  for (std::string_view key : {"quantity", "limitPrice", "stopPrice", "filledQuantity",
                               "avgFillPrice", "lastQuantity", "lastPrice"}) {
    std::string field = "\"" + std::string{key} + "\":\"12.3.4\"";
    require_decode_error(with_fields(field), errc::corrupt_record,
                         "field " + std::string{key} + ": '12.3.4'");
  }
  require_decode_error(with_fields(R"("quantity":"1e3")"), errc::corrupt_record,
                       "field quantity: '1e3' is not a plain decimal number");
  require_decode_error(with_fields(R"("quantity":"0.000000001")"), errc::corrupt_record,
                       "more than 8 decimal places");
}

TEST_CASE("a bad enum text is rejected naming its field") {
  require_decode_error(with_fields(R"("broker":"etrade")"), errc::corrupt_record,
                       "field broker: 'etrade' is not a known value");
  require_decode_error(with_fields(R"("from":"done")"), errc::corrupt_record,
                       "field from: 'done' is not a known value");
  require_decode_error(with_fields(R"("to":"New")"), errc::corrupt_record,
                       "field to: 'New' is not a known value");
  require_decode_error(with_fields(R"("side":"short")"), errc::corrupt_record,
                       "field side: 'short' is not a known value");
  require_decode_error(with_fields(R"("orderType":"trailing")"), errc::corrupt_record,
                       "field orderType: 'trailing' is not a known value");
  require_decode_error(with_fields(R"("timeInForce":"opg")"), errc::corrupt_record,
                       "field timeInForce: 'opg' is not a known value");
  require_decode_error(R"({"v":1,"seq":1,"ts":1,"type":"x","source":"me"})", errc::corrupt_record,
                       "field source: 'me' is not a known value");
}

TEST_CASE("a repeated key is rejected") {
  require_decode_error(R"({"v":1,"seq":1,"seq":2,"ts":1,"type":"x","source":"local"})",
                       errc::corrupt_record, "repeats key 'seq'");
}

TEST_CASE("the first problem in a document is the one reported") {
  require_decode_error(with_fields(R"("side":"short","broker":"etrade")"), errc::corrupt_record,
                       "field side");
}
