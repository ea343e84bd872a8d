#include "engine/order.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/engine/support/engine_string_makers.hpp"

using namespace brokerd::engine;

namespace {

decimal dec(std::string_view text) {
  return decimal::parse(text).value();
}

/// A valid market order; each test changes what it is about.
order market_order() {
  order o;
  o.client_order_id = "strat-1:0001";
  o.symbol = "AAPL";
  o.order_side = side::buy;
  o.quantity = dec("10");
  o.type = order_type::market;
  o.tif = time_in_force::day;
  return o;
}

order limit_order() {
  auto o = market_order();
  o.type = order_type::limit;
  o.limit_price = dec("187.25");
  return o;
}

order stop_order() {
  auto o = market_order();
  o.type = order_type::stop;
  o.stop_price = dec("180");
  return o;
}

order stop_limit_order() {
  auto o = market_order();
  o.type = order_type::stop_limit;
  o.limit_price = dec("179.5");
  o.stop_price = dec("180");
  return o;
}

/// Asserts that `o` is rejected as invalid_order with a message naming `field`.
void require_rejected_naming(const order& o, std::string_view field) {
  auto r = validate_new_order(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::invalid_order);
  INFO("message: " << r.error().message);
  CHECK(r.error().message.find(field) != std::string::npos);
}

/// Round trip and error checks shared by every enum.
template <class Enum, class Parse>
void check_enum(std::string_view field, const std::vector<std::pair<Enum, std::string_view>>& all,
                Parse parse) {
  for (const auto& [value, text] : all) {
    INFO(text);
    CHECK(to_string(value) == text);
    auto parsed = parse(text);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == value);
  }
  for (std::string_view bad : {"", "bogus", " "}) {
    auto parsed = parse(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code == errc::unknown_enum_value);
    const auto& msg = parsed.error().message;
    INFO("message: " << msg);
    CHECK(msg.starts_with(std::string{field} + " must be one of"));
    for (const auto& entry : all)
      CHECK(msg.find(entry.second) != std::string::npos);
  }
  // Text forms are exact: no case folding, no surrounding spaces.
  for (const auto& [value, text] : all) {
    std::string upper{text};
    for (auto& c : upper)
      c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    CHECK_FALSE(parse(upper).has_value());
    CHECK_FALSE(parse(std::string{text} + " ").has_value());
  }
}

} // namespace

TEST_CASE("broker ids round-trip and an unknown one lists the accepted values", "[order]") {
  check_enum<broker_id>("broker",
                        {{broker_id::paper, "paper"},
                         {broker_id::alpaca, "alpaca"},
                         {broker_id::ibkr, "ibkr"},
                         {broker_id::schwab, "schwab"}},
                        parse_broker_id);
  CHECK(parse_broker_id("tradestation").error().message ==
        "broker must be one of paper, alpaca, ibkr, schwab");
}

TEST_CASE("sides round-trip and an unknown one lists the accepted values", "[order]") {
  check_enum<side>("side", {{side::buy, "buy"}, {side::sell, "sell"}}, parse_side);
  CHECK(parse_side("short").error().to_string() ==
        "unknown_enum_value: side must be one of buy, sell");
}

TEST_CASE("order types round-trip and an unknown one lists the accepted values", "[order]") {
  check_enum<order_type>("type",
                         {{order_type::market, "market"},
                          {order_type::limit, "limit"},
                          {order_type::stop, "stop"},
                          {order_type::stop_limit, "stop_limit"}},
                         parse_order_type);
  CHECK_FALSE(parse_order_type("trailing_stop").has_value());
}

TEST_CASE("times in force round-trip and an unknown one lists the accepted values", "[order]") {
  check_enum<time_in_force>("timeInForce",
                            {{time_in_force::day, "day"},
                             {time_in_force::gtc, "gtc"},
                             {time_in_force::ioc, "ioc"},
                             {time_in_force::fok, "fok"}},
                            parse_time_in_force);
  CHECK_FALSE(parse_time_in_force("opg").has_value());
}

TEST_CASE("order statuses round-trip, new_ is spelled new, and an unknown one lists all",
          "[order]") {
  check_enum<order_status>("status",
                           {{order_status::pending_new, "pending_new"},
                            {order_status::new_, "new"},
                            {order_status::partially_filled, "partially_filled"},
                            {order_status::filled, "filled"},
                            {order_status::pending_cancel, "pending_cancel"},
                            {order_status::canceled, "canceled"},
                            {order_status::rejected, "rejected"},
                            {order_status::expired, "expired"},
                            {order_status::unknown, "unknown"}},
                           parse_order_status);
  CHECK_FALSE(parse_order_status("new_").has_value());
  CHECK_FALSE(parse_order_status("cancelled").has_value());
}

TEST_CASE("an enum value outside its range prints as invalid", "[order]") {
  CHECK(to_string(static_cast<order_status>(200)) == "invalid");
  CHECK(to_string(static_cast<side>(7)) == "invalid");
}

TEST_CASE("a well-formed order of every type passes validation", "[order]") {
  CHECK(validate_new_order(market_order()).has_value());
  CHECK(validate_new_order(limit_order()).has_value());
  CHECK(validate_new_order(stop_order()).has_value());
  CHECK(validate_new_order(stop_limit_order()).has_value());
  for (auto tif :
       {time_in_force::day, time_in_force::gtc, time_in_force::ioc, time_in_force::fok}) {
    auto o = limit_order();
    o.tif = tif;
    CHECK(validate_new_order(o).has_value());
  }
  auto fractional = market_order();
  fractional.quantity = dec("0.00000001");
  CHECK(validate_new_order(fractional).has_value());
  auto sell = limit_order();
  sell.order_side = side::sell;
  CHECK(validate_new_order(sell).has_value());
}

TEST_CASE("a quantity that is zero or negative is rejected naming quantity", "[order]") {
  for (auto qty : {"0", "-1", "-0.00000001"}) {
    INFO(qty);
    auto o = market_order();
    o.quantity = dec(qty);
    require_rejected_naming(o, "quantity");
  }
}

TEST_CASE("a limit order without a limit price is rejected naming limitPrice", "[order]") {
  auto o = limit_order();
  o.limit_price.reset();
  require_rejected_naming(o, "limitPrice");
}

TEST_CASE("a stop order without a stop price is rejected naming stopPrice", "[order]") {
  auto o = stop_order();
  o.stop_price.reset();
  require_rejected_naming(o, "stopPrice");
}

TEST_CASE("a stop limit order needs both prices, naming the missing one", "[order]") {
  auto no_limit = stop_limit_order();
  no_limit.limit_price.reset();
  require_rejected_naming(no_limit, "limitPrice");
  auto no_stop = stop_limit_order();
  no_stop.stop_price.reset();
  require_rejected_naming(no_stop, "stopPrice");
  auto neither = stop_limit_order();
  neither.limit_price.reset();
  neither.stop_price.reset();
  CHECK_FALSE(validate_new_order(neither).has_value());
}

TEST_CASE("a market order carrying a price is rejected naming the price", "[order]") {
  auto with_limit = market_order();
  with_limit.limit_price = dec("1");
  require_rejected_naming(with_limit, "limitPrice");
  auto with_stop = market_order();
  with_stop.stop_price = dec("1");
  require_rejected_naming(with_stop, "stopPrice");
}

TEST_CASE("a limit order carrying a stop price and a stop order carrying a limit price are "
          "rejected",
          "[order]") {
  auto limit_with_stop = limit_order();
  limit_with_stop.stop_price = dec("180");
  require_rejected_naming(limit_with_stop, "stopPrice");
  auto stop_with_limit = stop_order();
  stop_with_limit.limit_price = dec("180");
  require_rejected_naming(stop_with_limit, "limitPrice");
}

TEST_CASE("a price that is zero or negative is rejected naming the price", "[order]") {
  for (auto price : {"0", "-187.25"}) {
    INFO(price);
    auto limit = limit_order();
    limit.limit_price = dec(price);
    require_rejected_naming(limit, "limitPrice");
    auto stop = stop_order();
    stop.stop_price = dec(price);
    require_rejected_naming(stop, "stopPrice");
  }
}

TEST_CASE("a price with more than 4 decimals is rejected naming the price", "[order]") {
  auto four = limit_order();
  four.limit_price = dec("187.2501");
  CHECK(validate_new_order(four).has_value());
  auto five = limit_order();
  five.limit_price = dec("187.25001");
  require_rejected_naming(five, "limitPrice");
  auto eight = stop_order();
  eight.stop_price = dec("0.00000001");
  require_rejected_naming(eight, "stopPrice");
  auto stop_limit = stop_limit_order();
  stop_limit.stop_price = dec("180.00005");
  require_rejected_naming(stop_limit, "stopPrice");
}

TEST_CASE("ioc and fok on stop orders are rejected naming timeInForce", "[order]") {
  for (auto tif : {time_in_force::ioc, time_in_force::fok}) {
    auto stop = stop_order();
    stop.tif = tif;
    require_rejected_naming(stop, "timeInForce");
    auto stop_limit = stop_limit_order();
    stop_limit.tif = tif;
    require_rejected_naming(stop_limit, "timeInForce");
  }
  for (auto tif : {time_in_force::day, time_in_force::gtc}) {
    auto stop = stop_order();
    stop.tif = tif;
    CHECK(validate_new_order(stop).has_value());
  }
  auto market_ioc = market_order();
  market_ioc.tif = time_in_force::ioc;
  CHECK(validate_new_order(market_ioc).has_value());
}

TEST_CASE("a new order that does not start as pending_new is rejected naming status", "[order]") {
  auto o = market_order();
  o.status = order_status::new_;
  require_rejected_naming(o, "status");
}

TEST_CASE("symbols of letters, digits, dot, slash and dash are accepted", "[order]") {
  for (std::string_view s :
       {"AAPL", "A", "BRK.B", "BF-B", "BTC/USD", "ES2503", "X1", "ABCDEFGHIJKLMNOPQRSTU"}) {
    INFO(s);
    CHECK(validate_symbol(s).has_value());
    auto o = market_order();
    o.symbol = std::string{s};
    CHECK(validate_new_order(o).has_value());
  }
}

TEST_CASE("a malformed symbol is rejected naming symbol", "[order]") {
  for (std::string_view s : {"", "aapl", "Aapl", "1AAPL", ".B", "/USD", "-B", "AAPL ", " AAPL",
                             "BRK_B", "BRK B", "AAPL\n", "ABCDEFGHIJKLMNOPQRSTUV"}) {
    INFO("'" << s << "'");
    auto r = validate_symbol(s);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_order);
    auto o = market_order();
    o.symbol = std::string{s};
    require_rejected_naming(o, "symbol");
  }
  CHECK(std::string_view{"ABCDEFGHIJKLMNOPQRSTUV"}.size() == 22);
}

TEST_CASE("client order ids of 1 to 64 safe characters are accepted", "[order]") {
  for (std::string_view id : {"a", "Z", "0", "strat-1:0001", "abc.DEF_123:x-y",
                              "0123456789012345678901234567890123456789012345678901234567890123"}) {
    INFO(id);
    CHECK(validate_client_id(id).has_value());
    auto o = market_order();
    o.client_order_id = std::string{id};
    CHECK(validate_new_order(o).has_value());
  }
}

TEST_CASE("a malformed client order id is rejected naming clientOrderId", "[order]") {
  std::string too_long(65, 'a');
  for (std::string_view id :
       {std::string_view{too_long}, std::string_view{"a b"}, std::string_view{"a/b"},
        std::string_view{"a#1"}, std::string_view{"ünï"}, std::string_view{"id\n"},
        std::string_view{"a\0b", 3}}) {
    INFO("'" << id << "'");
    auto r = validate_client_id(id);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_order);
    auto o = market_order();
    o.client_order_id = std::string{id};
    require_rejected_naming(o, "clientOrderId");
  }
  auto empty = validate_client_id("");
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().message.find("clientOrderId") != std::string::npos);
}

TEST_CASE("an order without a client order id is still valid", "[order]") {
  auto o = market_order();
  o.client_order_id.clear();
  CHECK(validate_new_order(o).has_value());
}
