#include "actors/brokers/ibkr/codec.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/actors/brokers/ibkr/tws_vectors.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using brokerd::engine::decimal;
using brokerd::engine::order_status;
using brokerd::engine::order_type;
using brokerd::engine::side;
using brokerd::engine::time_in_force;
namespace engine = brokerd::engine;
namespace ibkr = brokerd::actors::ibkr;
using ibkr::error_category;

using namespace tws_test;

namespace {

engine::order stock_order(order_type type, side s, time_in_force tif) {
  engine::order o;
  o.client_order_id = "client-42";
  o.symbol = "AAPL";
  o.order_side = s;
  o.quantity = dec("10");
  o.type = type;
  o.tif = tif;
  if (type == order_type::limit || type == order_type::stop_limit)
    o.limit_price = dec("187.25");
  if (type == order_type::stop || type == order_type::stop_limit)
    o.stop_price = dec("186.5");
  return o;
}

/// The 114 fields §4.4 gives for a plain STK order at 178, with the values that vary.
std::vector<std::string> stk_order_fields(std::string_view action, std::string_view type,
                                          std::string_view lmt, std::string_view aux,
                                          std::string_view tif) {
  std::vector<std::string> f(114);
  f[0] = "3";
  f[1] = "1001";
  f[3] = "AAPL";
  f[4] = "STK";
  f[9] = "SMART";
  f[11] = "USD";
  f[16] = action;
  f[17] = "10";
  f[18] = type;
  f[19] = lmt;
  f[20] = aux;
  f[21] = tif;
  f[23] = "DU1234567";
  f[26] = "client-42";
  f[27] = "1";
  f[81] = "0";
  f[89] = "0";
  return f;
}

} // namespace

TEST_CASE("engine order types, sides and tifs map to TWS words and back", "[ibkr]") {
  const std::vector<std::pair<order_type, std::string_view>> types = {
      {order_type::market, "MKT"},
      {order_type::limit, "LMT"},
      {order_type::stop, "STP"},
      {order_type::stop_limit, "STP LMT"}};
  for (auto [t, text] : types) {
    CHECK(ibkr::to_tws(t) == text);
    CHECK(ibkr::parse_tws_order_type(text) == t);
  }
  const std::vector<std::pair<time_in_force, std::string_view>> tifs = {
      {time_in_force::day, "DAY"},
      {time_in_force::gtc, "GTC"},
      {time_in_force::ioc, "IOC"},
      {time_in_force::fok, "FOK"}};
  for (auto [t, text] : tifs) {
    CHECK(ibkr::to_tws(t) == text);
    CHECK(ibkr::parse_tws_tif(text) == t);
  }
  CHECK(ibkr::to_tws(side::buy) == "BUY");
  CHECK(ibkr::to_tws(side::sell) == "SELL");
  CHECK(ibkr::parse_tws_action("SSHORT") == side::sell);
  CHECK(ibkr::parse_tws_execution_side("BOT") == side::buy);
  CHECK(ibkr::parse_tws_execution_side("SLD") == side::sell);
  CHECK_FALSE(ibkr::parse_tws_order_type("TRAIL"));
  CHECK_FALSE(ibkr::parse_tws_order_type("STPLMT"));
  CHECK_FALSE(ibkr::parse_tws_tif("GTD"));
  CHECK_FALSE(ibkr::parse_tws_action("buy"));
  CHECK_FALSE(ibkr::parse_tws_execution_side("BUY"));
}

TEST_CASE("a market order becomes placeOrder MKT with both prices empty", "[ibkr]") {
  auto m = ibkr::make_place_order(
      1001, stock_order(order_type::market, side::buy, time_in_force::day), "DU1234567");
  REQUIRE(m);
  auto bytes = m->encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) == hex(framed_fields(stk_order_fields("BUY", "MKT", "", "", "DAY"))));
}

TEST_CASE("a limit order becomes placeOrder LMT with lmtPrice only", "[ibkr]") {
  auto m = ibkr::make_place_order(
      1001, stock_order(order_type::limit, side::sell, time_in_force::gtc), "DU1234567");
  REQUIRE(m);
  auto bytes = m->encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) == hex(framed_fields(stk_order_fields("SELL", "LMT", "187.25", "", "GTC"))));
}

TEST_CASE("a stop order becomes placeOrder STP with the stop in auxPrice", "[ibkr]") {
  auto m = ibkr::make_place_order(
      1001, stock_order(order_type::stop, side::sell, time_in_force::day), "DU1234567");
  REQUIRE(m);
  auto bytes = m->encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) == hex(framed_fields(stk_order_fields("SELL", "STP", "", "186.5", "DAY"))));
}

TEST_CASE("a stop-limit order becomes placeOrder STP LMT with both prices", "[ibkr]") {
  auto m = ibkr::make_place_order(
      1001, stock_order(order_type::stop_limit, side::buy, time_in_force::ioc), "DU1234567");
  REQUIRE(m);
  auto bytes = m->encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) ==
        hex(framed_fields(stk_order_fields("BUY", "STP LMT", "187.25", "186.5", "IOC"))));
  auto fok = ibkr::make_place_order(
      1001, stock_order(order_type::limit, side::buy, time_in_force::fok), "DU1234567");
  REQUIRE(fok);
  CHECK(fok->tif == "FOK");
}

TEST_CASE("make_place_order carries the route and never sends a price the type lacks", "[ibkr]") {
  auto o = stock_order(order_type::market, side::buy, time_in_force::day);
  o.limit_price = dec("1");
  o.stop_price = dec("2");
  auto m = ibkr::make_place_order(7, o, "", {"ISLAND", "NASDAQ", "USD"});
  REQUIRE(m);
  CHECK_FALSE(m->limit_price);
  CHECK_FALSE(m->aux_price);
  CHECK(m->instrument.exchange == "ISLAND");
  CHECK(m->instrument.primary_exchange == "NASDAQ");
  CHECK(m->transmit);
  CHECK_FALSE(m->outside_rth);
  CHECK(m->order_ref == "client-42");
}

TEST_CASE("make_place_order refuses orders TWS would reject", "[ibkr]") {
  auto no_limit = stock_order(order_type::limit, side::buy, time_in_force::day);
  no_limit.limit_price.reset();
  CHECK(ibkr::make_place_order(1, no_limit, "").error().code == ibkr::errc::invalid_argument);
  auto no_stop = stock_order(order_type::stop_limit, side::buy, time_in_force::day);
  no_stop.stop_price.reset();
  CHECK(ibkr::make_place_order(1, no_stop, "").error().code == ibkr::errc::invalid_argument);
  auto zero = stock_order(order_type::market, side::buy, time_in_force::day);
  zero.quantity = decimal{};
  CHECK(ibkr::make_place_order(1, zero, "").error().code == ibkr::errc::invalid_argument);
  auto no_ref = stock_order(order_type::market, side::buy, time_in_force::day);
  no_ref.client_order_id.clear();
  CHECK(ibkr::make_place_order(1, no_ref, "").error().code == ibkr::errc::invalid_argument);
  auto no_symbol = stock_order(order_type::market, side::buy, time_in_force::day);
  no_symbol.symbol.clear();
  CHECK(ibkr::make_place_order(1, no_symbol, "").error().code == ibkr::errc::invalid_argument);
}

TEST_CASE("TWS order statuses map to brokerd's as §5 describes", "[ibkr]") {
  const std::vector<std::pair<std::string_view, order_status>> table = {
      {"ApiPending", order_status::pending_new},
      {"PendingSubmit", order_status::pending_new},
      {"PreSubmitted", order_status::new_},
      {"Submitted", order_status::new_},
      {"PendingCancel", order_status::pending_cancel},
      {"ApiCancelled", order_status::canceled},
      {"Cancelled", order_status::canceled},
      {"Filled", order_status::filled},
      {"Inactive", order_status::rejected}};
  for (auto [text, expected] : table) {
    INFO(text);
    CHECK(ibkr::map_order_status(text) == expected);
  }
}

TEST_CASE("a working order with fills is partially filled, other statuses ignore fills", "[ibkr]") {
  CHECK(ibkr::map_order_status("Submitted", dec("5")) == order_status::partially_filled);
  CHECK(ibkr::map_order_status("PreSubmitted", dec("0.5")) == order_status::partially_filled);
  CHECK(ibkr::map_order_status("Cancelled", dec("5")) == order_status::canceled);
  CHECK(ibkr::map_order_status("PendingCancel", dec("5")) == order_status::pending_cancel);
  CHECK(ibkr::map_order_status("Filled", dec("5")) == order_status::filled);
}

TEST_CASE("an unknown status string maps to nothing", "[ibkr]") {
  CHECK_FALSE(ibkr::map_order_status(""));
  CHECK_FALSE(ibkr::map_order_status("submitted"));
  CHECK_FALSE(ibkr::map_order_status("Unknown"));
}

TEST_CASE("error codes are classified as §6 describes", "[ibkr]") {
  const std::vector<std::pair<std::int32_t, error_category>> table = {
      {1100, error_category::connectivity_lost},
      {1101, error_category::connectivity_restored_data_lost},
      {1102, error_category::connectivity_restored},
      {1300, error_category::socket_port_reset},
      {2104, error_category::farm_ok},
      {2106, error_category::farm_ok},
      {2158, error_category::farm_ok},
      {2107, error_category::farm_ok},
      {2108, error_category::farm_ok},
      {2119, error_category::farm_ok},
      {2103, error_category::farm_broken},
      {2105, error_category::farm_broken},
      {2157, error_category::farm_broken},
      {2100, error_category::system_warning},
      {2150, error_category::system_warning},
      {326, error_category::client_id_in_use},
      {100, error_category::pacing_violation},
      {200, error_category::request_failed},
      {320, error_category::request_failed},
      {321, error_category::request_failed},
      {322, error_category::request_failed},
      {103, error_category::duplicate_order_id},
      {201, error_category::order_rejected},
      {104, error_category::order_rejected},
      {105, error_category::order_rejected},
      {110, error_category::order_rejected},
      {10268, error_category::order_rejected},
      {202, error_category::order_canceled},
      {161, error_category::cancel_rejected},
      {10147, error_category::cancel_rejected},
      {10148, error_category::cancel_rejected},
      {135, error_category::unknown_order},
      {399, error_category::order_warning},
      {502, error_category::other},
      {0, error_category::other},
      {-1, error_category::other}};
  for (auto [code, expected] : table) {
    INFO(code);
    CHECK(ibkr::classify_error(code) == expected);
  }
}

TEST_CASE("farm notices and connectivity are system matters, rejects and cancels order ones",
          "[ibkr]") {
  for (std::int32_t code : {2104, 2106, 2158, 1100, 1101, 1102, 326, 100, 320, 502})
    CHECK_FALSE(ibkr::is_order_related(ibkr::classify_error(code)));
  for (std::int32_t code : {103, 201, 202, 161, 10147, 10148, 135, 399})
    CHECK(ibkr::is_order_related(ibkr::classify_error(code)));
  CHECK(ibkr::to_string(error_category::farm_ok) == "farm_ok");
  CHECK(ibkr::to_string(error_category::connectivity_restored_data_lost) ==
        "connectivity_restored_data_lost");
}

TEST_CASE("every error category and order word has its stable text", "[ibkr]") {
  const std::vector<std::pair<error_category, std::string_view>> names{
      {error_category::connectivity_lost, "connectivity_lost"},
      {error_category::connectivity_restored_data_lost, "connectivity_restored_data_lost"},
      {error_category::connectivity_restored, "connectivity_restored"},
      {error_category::socket_port_reset, "socket_port_reset"},
      {error_category::farm_ok, "farm_ok"},
      {error_category::farm_broken, "farm_broken"},
      {error_category::system_warning, "system_warning"},
      {error_category::client_id_in_use, "client_id_in_use"},
      {error_category::pacing_violation, "pacing_violation"},
      {error_category::request_failed, "request_failed"},
      {error_category::duplicate_order_id, "duplicate_order_id"},
      {error_category::order_rejected, "order_rejected"},
      {error_category::order_canceled, "order_canceled"},
      {error_category::cancel_rejected, "cancel_rejected"},
      {error_category::unknown_order, "unknown_order"},
      {error_category::order_warning, "order_warning"},
      {error_category::other, "other"},
  };
  for (const auto& [category, text] : names)
    CHECK(ibkr::to_string(category) == text);
  CHECK(ibkr::to_string(static_cast<error_category>(200)) == "other");
  CHECK(ibkr::to_tws(static_cast<order_type>(9)).empty());
  CHECK(ibkr::to_tws(static_cast<time_in_force>(9)).empty());
  CHECK(ibkr::to_tws(static_cast<side>(9)).empty());
  CHECK_FALSE(ibkr::parse_tws_order_type("TRAIL").has_value());
  CHECK_FALSE(ibkr::parse_tws_tif("GTD").has_value());
  CHECK_FALSE(ibkr::parse_tws_action("HOLD").has_value());
  CHECK(ibkr::parse_tws_action("SSHORT") == side::sell);
  CHECK_FALSE(ibkr::parse_tws_execution_side("BUY").has_value());
}
