#include "actors/brokers/ibkr/messages.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/actors/brokers/ibkr/tws_vectors.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

using namespace std::string_view_literals;
using brokerd::engine::decimal;
namespace ibkr = brokerd::actors::ibkr;
using ibkr::errc;

using namespace tws_test;

namespace {

/// Checks encode → decode gives `m` back at `version`.
template <class M> void check_round_trip(const M& m, std::int32_t version) {
  INFO(M::name << " at " << version);
  auto bytes = m.encode(version);
  if (!bytes)
    FAIL(bytes.error().to_string());
  auto back = M::decode(std::string_view{*bytes}.substr(4), version);
  if (!back)
    FAIL(back.error().to_string());
  CHECK(*back == m);
}

/// §4.4's sample, `LMT BUY 1 AAPL SMART USD @100.5 DAY transmit`, all 114 fields at 178.
std::vector<std::string> sample_place_order_fields() {
  std::vector<std::string> f(114);
  f[0] = "3";      // msgId
  f[1] = "1001";   // orderId
  f[3] = "AAPL";   // symbol
  f[4] = "STK";    // secType
  f[9] = "SMART";  // exchange
  f[11] = "USD";   // currency
  f[16] = "BUY";   // action
  f[17] = "1";     // totalQuantity
  f[18] = "LMT";   // orderType
  f[19] = "100.5"; // lmtPrice
  f[21] = "DAY";   // tif
  f[27] = "1";     // transmit
  f[81] = "0";     // deltaNeutralContract present
  f[89] = "0";     // conditions count
  return f;
}

ibkr::place_order sample_place_order() {
  ibkr::place_order m;
  m.order_id = 1001;
  m.instrument.symbol = "AAPL";
  m.instrument.sec_type = "STK";
  m.instrument.exchange = "SMART";
  m.instrument.currency = "USD";
  m.action = "BUY";
  m.total_quantity = dec("1");
  m.order_type = "LMT";
  m.limit_price = dec("100.5");
  m.tif = "DAY";
  return m;
}

/// A plain order as the simulator sends it, all 127 fields at 178 (§4.7), with the values a
/// real gateway puts in the fields brokerd does not model.
std::vector<std::string> simulator_open_order_fields() {
  const std::string unset = "1.7976931348623157E308";
  return {
      "5",          "1001",       "265598",     "AAPL",  "STK",   "",     // 0-5
      "0.0",        "",           "",           "SMART", "USD",   "AAPL", // 6-11
      "NMS",        "BUY",        "1",          "LMT",   "100.5", "",     // 12-17
      "DAY",        "",           "DU1234567",  "",      "0",     "C-1",  // 18-23
      "7",          "1351823369", "0",          "0",     "0",     "",     // 24-29
      "",           "",           "",           "",      "",      "",     // 30-35
      "",           "",           "",           "0",     "",      "-1",   // 36-41
      "0",          "",           "",           "",      "",      "",     // 42-47
      "2147483647", "0",          "0",          "0",     "",      "3",    // 48-53
      "0",          "0",          "",           "0",     "0",     "",     // 54-59
      "0",          "",           "",           "0",     "0",     "",     // 60-65
      "",           "",           "",           "",      "0",     "0",    // 66-71
      "0",          "2147483647", "2147483647", "",      "",      "0",    // 72-77
      "",           "IB",         "0",          "0",     "",      "0",    // 78-83
      "0",          "Submitted",  unset,        unset,   unset,   unset,  // 84-89
      unset,        unset,        unset,        unset,   unset,   "",     // 90-95
      "",           "",           "",           "",      "0",     "0",    // 96-101
      "0",          "None",       unset,        unset,   unset,   unset,  // 102-107
      unset,        unset,        "0",          "",      "",      "",     // 108-113
      "0",          "1",          "0",          "0",     "0",     "",     // 114-119
      "",           "0",          "",           "",      "",      "",     // 120-125
      "",                                                                 // 126
  };
}

ibkr::open_order simulator_open_order() {
  ibkr::open_order m;
  m.order_id = 1001;
  m.instrument.con_id = 265598;
  m.instrument.symbol = "AAPL";
  m.instrument.sec_type = "STK";
  m.instrument.exchange = "SMART";
  m.instrument.currency = "USD";
  m.instrument.local_symbol = "AAPL";
  m.instrument.trading_class = "NMS";
  m.action = "BUY";
  m.total_quantity = dec("1");
  m.order_type = "LMT";
  m.limit_price = dec("100.5");
  m.tif = "DAY";
  m.account = "DU1234567";
  m.order_ref = "C-1";
  m.client_id = 7;
  m.perm_id = 1351823369;
  m.status = "Submitted";
  return m;
}

/// An order using every conditional block of placeOrder and openOrder.
ibkr::order_blocks every_block() {
  ibkr::order_blocks b;
  b.combo_legs = {{"1", "2", "BUY", "SMART", "0", "0", "", "-1"},
                  {"3", "1", "SELL", "SMART", "0", "0", "", "-1"}};
  b.order_combo_leg_prices = {"1.5", ""};
  b.smart_combo_routing_params = {{"NonGuaranteed", "1"}};
  b.delta_neutral_order_type = "LMT";
  b.delta_neutral_fields = {"12087792", "", "", "", "O", "0", "0", ""};
  b.scale_price_increment = 0.05;
  b.scale_fields = {"", "", "", "0", "", "", "0"};
  b.hedge_type = "D";
  b.hedge_param = "0.5";
  b.has_delta_neutral_contract = true;
  b.delta_neutral_contract = {"265598", "0.5", "187.25"};
  b.algo_strategy = "Adaptive";
  b.algo_params = {{"adaptivePriority", "Normal"}, {"x", "y"}};
  b.peg_bench_fields = {"756733", "0", "0.5", "1.0", "SMART"};
  b.conditions = {{1, {"a", "1", "187.5", "265598", "SMART", "0"}},
                  {3, {"o", "0", "20240102 09:30:00"}},
                  {5, {"a", "STK", "SMART", "AAPL"}}};
  b.conditions_ignore_rth = true;
  b.conditions_cancel_order = false;
  b.min_trade_qty = "100";
  b.min_compete_size = "100";
  b.compete_against_best_offset = "Infinity";
  b.mid_offset_at_whole = "0.01";
  b.mid_offset_at_half = "0.005";
  return b;
}

} // namespace

// -- byte-exact vectors: requests --------------------------------------------------------------

TEST_CASE("startApi is 71, version 2, the client id and empty capabilities", "[ibkr]") {
  check_vector(ibkr::start_api{7, ""}, {"71", "2", "7", ""});
  auto bytes = ibkr::start_api{7, ""}.encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) == "00 00 00 08 37 31 00 32 00 37 00 00");
}

TEST_CASE("the small requests match their §4 layouts byte for byte", "[ibkr]") {
  check_vector(ibkr::req_ids{1}, {"8", "1", "1"});
  check_vector(ibkr::req_current_time{}, {"49", "1"});
  check_vector(ibkr::req_account_summary{9001, "All", "NetLiquidation,TotalCashValue,BuyingPower"},
               {"62", "1", "9001", "All", "NetLiquidation,TotalCashValue,BuyingPower"});
  check_vector(ibkr::cancel_account_summary{9001}, {"63", "1", "9001"});
  check_vector(ibkr::req_positions{}, {"61", "1"});
  check_vector(ibkr::cancel_positions{}, {"64", "1"});
  check_vector(ibkr::req_open_orders{}, {"5", "1"});
  check_vector(ibkr::req_all_open_orders{}, {"16", "1"});
}

TEST_CASE("cancelOrder carries manualOrderCancelTime from 169 only", "[ibkr]") {
  check_vector(ibkr::cancel_order{1001, ""}, {"4", "1", "1001", ""});
  check_vector(ibkr::cancel_order{1001, ""}, {"4", "1", "1001", ""}, 169);
  check_vector(ibkr::cancel_order{1001, ""}, {"4", "1", "1001"}, 168);
}

TEST_CASE("reqExecutions sends version 3 and its seven filters", "[ibkr]") {
  check_vector(ibkr::req_executions{42, 0, "", "", "", "", "", ""},
               {"7", "3", "42", "0", "", "", "", "", "", ""});
  check_vector(
      ibkr::req_executions{42, 7, "DU1234567", "20240102-09:30:00", "AAPL", "STK", "SMART", "BUY"},
      {"7", "3", "42", "7", "DU1234567", "20240102-09:30:00", "AAPL", "STK", "SMART", "BUY"});
}

TEST_CASE("placeOrder for the §4.4 sample is 114 fields at 178, byte for byte", "[ibkr]") {
  auto fields = sample_place_order_fields();
  REQUIRE(fields.size() == 114);
  check_vector(sample_place_order(), fields);
}

TEST_CASE("placeOrder carries the empty faProfile below 177: 115 fields at 176", "[ibkr]") {
  auto fields = sample_place_order_fields();
  fields.insert(fields.begin() + 42, ""); // after faPercentage (41)
  REQUIRE(fields.size() == 115);
  check_vector(sample_place_order(), fields, 176);
  // 166 to 168 have no manualOrderTime: the last field goes.
  fields.pop_back();
  check_vector(sample_place_order(), fields, 168);
}

TEST_CASE("placeOrder's modelled fields land at their §4.4 indexes", "[ibkr]") {
  auto m = sample_place_order();
  m.instrument.con_id = 265598;
  m.instrument.primary_exchange = "NASDAQ";
  m.order_type = "STP LMT";
  m.aux_price = dec("99.75");
  m.tif = "GTC";
  m.oca_group = "G1";
  m.account = "DU1234567";
  m.order_ref = "client-order-7";
  m.parent_id = 1000;
  m.outside_rth = true;
  m.hidden = true;
  m.good_till_date = "20240102 16:00:00";
  m.what_if = true;
  auto f = sample_place_order_fields();
  f[2] = "265598";
  f[10] = "NASDAQ";
  f[18] = "STP LMT";
  f[20] = "99.75";
  f[21] = "GTC";
  f[22] = "G1";
  f[23] = "DU1234567";
  f[26] = "client-order-7";
  f[28] = "1000";
  f[33] = "1";
  f[34] = "1";
  f[38] = "20240102 16:00:00";
  f[84] = "1";
  check_vector(m, f);
}

TEST_CASE("placeOrder decodes the Java client's explicit defaults like empty fields", "[ibkr]") {
  const std::string max_double = "1.7976931348623157E308";
  auto f = sample_place_order_fields();
  f[2] = "0";            // conId
  f[6] = "0.0";          // strike
  f[25] = "0";           // origin
  f[28] = "0";           // parentId
  f[29] = "0";           // blockOrder
  f[30] = "0";           // sweepToFill
  f[31] = "0";           // displaySize
  f[32] = "0";           // triggerMethod
  f[33] = "0";           // outsideRth
  f[34] = "0";           // hidden
  f[36] = max_double;    // discretionaryAmt
  f[43] = "0";           // shortSaleSlot
  f[45] = "-1";          // exemptCode
  f[46] = "0";           // ocaType
  f[49] = "0";           // allOrNone
  f[52] = "0";           // eTradeOnly
  f[53] = "0";           // firmQuoteOnly
  f[61] = "0";           // overridePercentageConstraints
  f[63] = "2147483647";  // volatilityType
  f[66] = "0";           // continuousUpdate
  f[67] = "2147483647";  // referencePriceType
  f[77] = "0";           // optOutSmartRouting
  f[80] = "0";           // notHeld
  f[84] = "0";           // whatIf
  f[86] = "0";           // solicited
  f[87] = "0";           // randomizeSize
  f[88] = "0";           // randomizePrice
  f[91] = max_double;    // triggerPrice
  f[96] = "0";           // adjustableTrailingUnit
  f[105] = "0";          // dontUseAutoPriceForHedge
  f[106] = "0";          // isOmsContainer
  f[107] = "0";          // discretionaryUpToLimitPrice
  f[109] = "2147483647"; // duration
  f[110] = "2147483647"; // postToAts
  f[111] = "0";          // autoCancelParent
  auto m = ibkr::place_order::decode(payload(f));
  if (!m)
    FAIL(m.error().to_string());
  CHECK(*m == sample_place_order());
}

// -- byte-exact vectors: server messages -------------------------------------------------------

TEST_CASE("the messages a gateway sends after startApi match the captured fields", "[ibkr]") {
  check_vector(ibkr::managed_accounts{"DU1234567"}, {"15", "1", "DU1234567"});
  check_vector(ibkr::next_valid_id{117}, {"9", "1", "117"});
  check_vector(ibkr::error_message{-1, 2104, "Market data farm connection is OK:usfarm.nj", ""},
               {"4", "2", "-1", "2104", "Market data farm connection is OK:usfarm.nj", ""});
}

TEST_CASE("managedAccounts lists accounts and tolerates a trailing comma", "[ibkr]") {
  CHECK(ibkr::managed_accounts{"DU1,DU2,"}.account_list() ==
        std::vector<std::string>{"DU1", "DU2"});
  CHECK(ibkr::managed_accounts{""}.account_list().empty());
  CHECK(ibkr::managed_accounts{",DU3,,"}.account_list() == std::vector<std::string>{"DU3"});
}

TEST_CASE("time, account summary and their ends match §4.1 and §4.2", "[ibkr]") {
  check_vector(ibkr::current_time{1700000000}, {"49", "1", "1700000000"});
  check_vector(ibkr::account_summary{10001, "DU1234567", "NetLiquidation", "1057315.32", "USD"},
               {"63", "1", "10001", "DU1234567", "NetLiquidation", "1057315.32", "USD"});
  check_vector(ibkr::account_summary_end{10001}, {"64", "1", "10001"});
}

TEST_CASE("position is 16 fields at version 3 and positionEnd two", "[ibkr]") {
  ibkr::position p;
  p.account = "DU1234567";
  p.instrument.con_id = 265598;
  p.instrument.symbol = "AAPL";
  p.instrument.sec_type = "STK";
  p.instrument.exchange = "NASDAQ";
  p.instrument.currency = "USD";
  p.instrument.local_symbol = "AAPL";
  p.instrument.trading_class = "NMS";
  p.quantity = dec("100");
  p.avg_cost = dec("187.25");
  check_vector(p, {"61", "3", "DU1234567", "265598", "AAPL", "STK", "", "0.0", "", "", "NASDAQ",
                   "USD", "AAPL", "NMS", "100", "187.25"});
  check_vector(ibkr::position_end{}, {"62", "1"});
}

TEST_CASE("a position below version 3 is refused: avgCost would be missing", "[ibkr]") {
  auto old = ibkr::position::decode(payload(
      {"61", "2", "DU1", "1", "AAPL", "STK", "", "0", "", "", "SMART", "USD", "AAPL", "NMS", "1"}));
  REQUIRE_FALSE(old);
  CHECK(old.error().code == errc::bad_field);
  CHECK(old.error().message == "position field 1 (version): 2 is below 3");
}

TEST_CASE("orderStatus is 12 fields without a version, as a gateway sent it", "[ibkr]") {
  ibkr::order_status s;
  s.order_id = 216;
  s.status = "Filled";
  s.filled = dec("3000");
  s.remaining = dec("0");
  s.avg_fill_price = dec("1.08725");
  s.perm_id = 1351823369;
  s.parent_id = 0;
  s.last_fill_price = dec("1.08725");
  s.client_id = 2;
  check_vector(s, {"3", "216", "Filled", "3000", "0", "1.08725", "1351823369", "0", "1.08725", "2",
                   "", "0"});
}

TEST_CASE("openOrder for a plain order is 127 fields at 178, byte for byte", "[ibkr]") {
  auto fields = simulator_open_order_fields();
  REQUIRE(fields.size() == 127);
  check_vector(simulator_open_order(), fields);
  check_vector(ibkr::open_order_end{}, {"53", "1"});
}

TEST_CASE("openOrder below 177 carries faProfile and below 170 no peg offsets", "[ibkr]") {
  auto fields = simulator_open_order_fields();
  fields.insert(fields.begin() + 34, ""); // after faPercentage (33)
  REQUIRE(fields.size() == 128);
  check_vector(simulator_open_order(), fields, 176);
  fields.resize(fields.size() - 5);
  check_vector(simulator_open_order(), fields, 169);
}

TEST_CASE("openOrder as a real gateway sent it at 176 decodes, None block and all", "[ibkr]") {
  // 136 fields: faProfile, and deltaNeutralOrderType "None" followed by its 8 fields.
  const std::string unset = "1.7976931348623157E308";
  std::vector<std::string> f = {"5",
                                "190",
                                "756733",
                                "SPY",
                                "STK",
                                "",
                                "0",
                                "?",
                                "",
                                "SMART",
                                "USD",
                                "SPY",
                                "SPY",
                                "BUY",
                                "1000",
                                "MKT",
                                "0.0",
                                "0.0",
                                "IOC",
                                "",
                                "DU1234567",
                                "",
                                "0",
                                "O-20231203-1921-001-000-2:190",
                                "2",
                                "1351823328",
                                "0",
                                "0",
                                "0",
                                "",
                                "1351823328.0/DU1234567/100",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "0",
                                "",
                                "-1",
                                "0",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "2147483647",
                                "0",
                                "0",
                                "0",
                                "",
                                "3",
                                "0",
                                "0",
                                "",
                                "0",
                                "0",
                                "",
                                "0",
                                "None",
                                "",
                                "0",
                                "",
                                "",
                                "",
                                "?",
                                "0",
                                "0",
                                "",
                                "0",
                                "0",
                                "",
                                "",
                                "",
                                "",
                                "",
                                "0",
                                "0",
                                "0",
                                "2147483647",
                                "2147483647",
                                "",
                                "",
                                "0",
                                "",
                                "IB",
                                "0",
                                "0",
                                "",
                                "0",
                                "0",
                                "PendingCancel",
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                "",
                                "",
                                "",
                                "",
                                "",
                                "0",
                                "0",
                                "0",
                                "None",
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                unset,
                                "0",
                                "",
                                "",
                                "",
                                "0",
                                "1",
                                "0",
                                "0",
                                "0",
                                "",
                                "",
                                "0",
                                "",
                                "",
                                "",
                                "",
                                ""};
  REQUIRE(f.size() == 136);
  auto m = ibkr::open_order::decode(payload(f), 176);
  if (!m)
    FAIL(m.error().to_string());
  CHECK(m->order_id == 190);
  CHECK(m->instrument.con_id == 756733);
  CHECK(m->instrument.symbol == "SPY");
  CHECK(m->instrument.right == "?");
  CHECK(m->action == "BUY");
  CHECK(m->total_quantity == dec("1000"));
  CHECK(m->order_type == "MKT");
  CHECK(m->limit_price == dec("0"));
  CHECK(m->tif == "IOC");
  CHECK(m->account == "DU1234567");
  CHECK(m->order_ref == "O-20231203-1921-001-000-2:190");
  CHECK(m->client_id == 2);
  CHECK(m->perm_id == 1351823328);
  CHECK(m->status == "PendingCancel");
  CHECK(m->blocks.delta_neutral_order_type == "None");
  CHECK(m->blocks.delta_neutral_fields ==
        std::vector<std::string>{"0", "", "", "", "?", "0", "0", ""});
  CHECK_FALSE(m->blocks.uses_advanced_features());
  // At 178, where faProfile is gone, the same fields are misaligned and refused.
  CHECK_FALSE(ibkr::open_order::decode(payload(f), 178));
}

TEST_CASE("execDetails is 32 fields at 178 with pendingPriceRevision last", "[ibkr]") {
  ibkr::exec_details e;
  e.req_id = -1;
  e.order_id = 1001;
  e.instrument.con_id = 265598;
  e.instrument.symbol = "AAPL";
  e.instrument.sec_type = "STK";
  e.instrument.exchange = "SMART";
  e.instrument.currency = "USD";
  e.instrument.local_symbol = "AAPL";
  e.instrument.trading_class = "NMS";
  e.exec_id = "0000e0d5.6576a1b2.01.01";
  e.time = "20240102 09:30:01 US/Eastern";
  e.account = "DU1234567";
  e.exchange = "ISLAND";
  e.side = "BOT";
  e.shares = dec("100");
  e.price = dec("187.25");
  e.perm_id = 1351823369;
  e.client_id = 7;
  e.cum_qty = dec("100");
  e.avg_price = dec("187.25");
  e.order_ref = "C-1";
  e.last_liquidity = 2;
  std::vector<std::string> f = {"11",
                                "-1",
                                "1001",
                                "265598",
                                "AAPL",
                                "STK",
                                "",
                                "0.0",
                                "",
                                "",
                                "SMART",
                                "USD",
                                "AAPL",
                                "NMS",
                                "0000e0d5.6576a1b2.01.01",
                                "20240102 09:30:01 US/Eastern",
                                "DU1234567",
                                "ISLAND",
                                "BOT",
                                "100",
                                "187.25",
                                "1351823369",
                                "7",
                                "0",
                                "100",
                                "187.25",
                                "C-1",
                                "",
                                "",
                                "",
                                "2",
                                "0"};
  REQUIRE(f.size() == 32);
  check_vector(e, f);
  check_vector(ibkr::exec_details_end{42}, {"55", "1", "42"});
}

TEST_CASE("execDetails as a real gateway sent it at 176 is 31 fields", "[ibkr]") {
  ibkr::exec_details e;
  e.req_id = -1;
  e.order_id = 215;
  e.instrument.con_id = 12087792;
  e.instrument.symbol = "EUR";
  e.instrument.sec_type = "CASH";
  e.instrument.exchange = "IDEALPRO";
  e.instrument.currency = "USD";
  e.instrument.local_symbol = "EUR.USD";
  e.instrument.trading_class = "EUR.USD";
  e.exec_id = "0000e215.656d0000.01.01";
  e.time = "20231203 20:15:20 US/Eastern";
  e.account = "DU5524716";
  e.exchange = "IDEALPRO";
  e.side = "BOT";
  e.shares = dec("1000");
  e.price = dec("1.08735");
  e.perm_id = 1351823368;
  e.client_id = 2;
  e.cum_qty = dec("1000");
  e.avg_price = dec("1.08735");
  e.order_ref = "O-20231204-0115-001-000-3:215";
  e.last_liquidity = 2;
  check_vector(e,
               {"11",
                "-1",
                "215",
                "12087792",
                "EUR",
                "CASH",
                "",
                "0.0",
                "",
                "",
                "IDEALPRO",
                "USD",
                "EUR.USD",
                "EUR.USD",
                "0000e215.656d0000.01.01",
                "20231203 20:15:20 US/Eastern",
                "DU5524716",
                "IDEALPRO",
                "BOT",
                "1000",
                "1.08735",
                "1351823368",
                "2",
                "0",
                "1000",
                "1.08735",
                "O-20231204-0115-001-000-3:215",
                "",
                "",
                "",
                "2"},
               176);
}

TEST_CASE("commissionReport sends unset PnL and yield as the double sentinel", "[ibkr]") {
  ibkr::commission_report c;
  c.exec_id = "0000e215.656d0002.01.01";
  c.commission = dec("2.5");
  c.currency = "USD";
  check_vector(c, {"59", "1", "0000e215.656d0002.01.01", "2.5", "USD", "1.7976931348623157E308",
                   "1.7976931348623157E308", ""});
  c.realized_pnl = dec("-12.34");
  c.yield = 0.25;
  c.yield_redemption_date = 20300101;
  check_vector(c,
               {"59", "1", "0000e215.656d0002.01.01", "2.5", "USD", "-12.34", "0.25", "20300101"});
}

TEST_CASE("error carries the advancedOrderRejectJson field and unescapes texts", "[ibkr]") {
  check_vector(ibkr::error_message{1, 103, "Duplicate order id", ""},
               {"4", "2", "1", "103", "Duplicate order id", ""});
  check_vector(ibkr::error_message{1001, 201, "Order rejected - reason:caf\xc3\xa9",
                                   "{\"rejectReason\":\"\xe2\x82\xac\"}"},
               {"4", "2", "1001", "201", "Order rejected - reason:caf\\u00e9",
                "{\"rejectReason\":\"\\u20ac\"}"});
  auto old = ibkr::error_message::decode(payload({"4", "1", "some text"}));
  REQUIRE_FALSE(old);
  CHECK(old.error().message == "error field 1 (version): 1 is below 2");
}

// -- round trips -------------------------------------------------------------------------------

TEST_CASE("every message survives encode then decode at 166, 176 and 178", "[ibkr]") {
  auto order = sample_place_order();
  order.account = "DU1234567";
  order.order_ref = "client-7";
  order.outside_rth = true;
  ibkr::exec_details exec;
  exec.req_id = 9;
  exec.order_id = 1001;
  exec.instrument.symbol = "AAPL";
  exec.instrument.strike = 12.5;
  exec.exec_id = "e.1";
  exec.shares = dec("0.5");
  exec.price = dec("187.123456");
  exec.ev_multiplier = 1.5;
  exec.pending_price_revision = true;
  ibkr::order_status status;
  status.order_id = 1001;
  status.status = "Submitted";
  status.filled = dec("0.25");
  status.remaining = dec("0.75");
  status.avg_fill_price = dec("187.25");
  status.perm_id = 9'000'000'000;
  status.why_held = "locate";
  for (std::int32_t v : {166, 176, 178}) {
    check_round_trip(ibkr::start_api{12, "cap"}, v);
    check_round_trip(ibkr::req_ids{0}, v);
    check_round_trip(ibkr::req_current_time{}, v);
    check_round_trip(ibkr::req_account_summary{3, "All", "NetLiquidation"}, v);
    check_round_trip(ibkr::cancel_account_summary{3}, v);
    check_round_trip(ibkr::req_positions{}, v);
    check_round_trip(ibkr::cancel_positions{}, v);
    check_round_trip(order, v);
    check_round_trip(ibkr::cancel_order{1001, v >= 169 ? "20240102 09:30:00" : ""}, v);
    check_round_trip(ibkr::req_open_orders{}, v);
    check_round_trip(ibkr::req_all_open_orders{}, v);
    check_round_trip(ibkr::req_executions{1, 2, "A", "t", "AAPL", "STK", "SMART", "SELL"}, v);
    check_round_trip(ibkr::next_valid_id{2147483647}, v);
    check_round_trip(ibkr::managed_accounts{"DU1,DU2"}, v);
    check_round_trip(ibkr::current_time{-1}, v);
    check_round_trip(ibkr::account_summary{1, "DU1", "AccountType", "INDIVIDUAL", ""}, v);
    check_round_trip(ibkr::account_summary_end{1}, v);
    check_round_trip(ibkr::position{"DU1", {}, dec("-5"), dec("10.5")}, v);
    check_round_trip(ibkr::position_end{}, v);
    check_round_trip(status, v);
    check_round_trip(simulator_open_order(), v);
    check_round_trip(ibkr::open_order_end{}, v);
    exec.pending_price_revision = v >= 178;
    check_round_trip(exec, v);
    check_round_trip(ibkr::exec_details_end{-1}, v);
    check_round_trip(ibkr::commission_report{"e.1", dec("1"), "USD", dec("0"), 1.0, 0}, v);
    check_round_trip(ibkr::error_message{-1, 1100, "Connectivity \\ lost", "{}"}, v);
  }
}

TEST_CASE("placeOrder with every conditional block round-trips and stays aligned", "[ibkr]") {
  auto m = sample_place_order();
  m.instrument.sec_type = "BAG";
  m.instrument.exchange = "IBKRATS";
  m.order_type = "PEG BEST";
  m.blocks = every_block();
  m.blocks.peg_bench_fields.clear(); // PEG BENCH only
  m.account = "DU1";
  for (std::int32_t v : {170, 176, 178})
    check_round_trip(m, v);
  CHECK(m.blocks.uses_advanced_features());
  // Below 170 the peg offsets are not on the wire.
  auto old = m;
  old.blocks.min_trade_qty.clear();
  old.blocks.min_compete_size.clear();
  old.blocks.compete_against_best_offset.clear();
  old.blocks.mid_offset_at_whole.clear();
  old.blocks.mid_offset_at_half.clear();
  check_round_trip(old, 166);
  // PEG BENCH brings its five fields; PEG MID its two offsets.
  m.order_type = "PEG BENCH";
  m.blocks = every_block();
  m.blocks.min_compete_size.clear();
  m.blocks.compete_against_best_offset.clear();
  m.blocks.mid_offset_at_whole.clear();
  m.blocks.mid_offset_at_half.clear();
  check_round_trip(m, 178);
  m.order_type = "PEG MID";
  m.blocks = every_block();
  m.blocks.peg_bench_fields.clear();
  m.blocks.min_compete_size.clear();
  m.blocks.compete_against_best_offset.clear();
  check_round_trip(m, 178);
}

TEST_CASE("openOrder with every conditional block round-trips", "[ibkr]") {
  auto m = simulator_open_order();
  m.order_type = "PEG BENCH";
  m.blocks = every_block();
  m.commission = dec("1.25");
  m.commission_currency = "USD";
  m.warning_text = "warning";
  m.what_if = true;
  for (std::int32_t v : {166, 170, 176, 178}) {
    auto copy = m;
    if (v < 170) {
      copy.blocks.min_trade_qty.clear();
      copy.blocks.min_compete_size.clear();
      copy.blocks.compete_against_best_offset.clear();
      copy.blocks.mid_offset_at_whole.clear();
      copy.blocks.mid_offset_at_half.clear();
    }
    check_round_trip(copy, v);
  }
}

TEST_CASE("an unknown order condition type is an error in both directions", "[ibkr]") {
  auto m = sample_place_order();
  m.blocks.conditions = {{2, {"a"}}};
  auto bytes = m.encode();
  REQUIRE_FALSE(bytes);
  CHECK(bytes.error().code == errc::invalid_argument);
  auto f = sample_place_order_fields();
  f[89] = "1";
  f.insert(f.begin() + 90, {"2", "a", "b", "c"});
  auto decoded = ibkr::place_order::decode(payload(f));
  REQUIRE_FALSE(decoded);
  CHECK(decoded.error().code == errc::bad_field);
  CHECK(decoded.error().message ==
        "placeOrder field 90 (conditionType): unknown order condition type 2");
}

TEST_CASE("a block with more values than its layout cannot be encoded", "[ibkr]") {
  auto m = sample_place_order();
  m.blocks.hedge_type = "";
  m.blocks.delta_neutral_order_type = "LMT";
  m.blocks.delta_neutral_fields = std::vector<std::string>(9, "x");
  CHECK(m.encode().error().code == errc::invalid_argument);
}

// -- dispatch ----------------------------------------------------------------------------------

TEST_CASE("server payloads dispatch on their id to the right message", "[ibkr]") {
  auto m = ibkr::decode_server_message(payload({"9", "1", "117"}), 178);
  REQUIRE(m);
  REQUIRE(std::holds_alternative<ibkr::next_valid_id>(*m));
  CHECK(std::get<ibkr::next_valid_id>(*m).order_id == 117);
  // Outgoing 3 is placeOrder but incoming 3 is orderStatus (§2.4).
  auto status = ibkr::decode_server_message(
      payload({"3", "1", "Submitted", "0", "1", "0", "5", "0", "0", "7", "", "0"}), 178);
  REQUIRE(status);
  CHECK(std::holds_alternative<ibkr::order_status>(*status));
  auto encoded = ibkr::encode(ibkr::server_message{ibkr::position_end{}}, 178);
  REQUIRE(encoded);
  CHECK(*encoded == framed("62\0001\0"sv));
}

TEST_CASE("client payloads dispatch on their id to the right message", "[ibkr]") {
  auto cancel = ibkr::decode_client_message(payload({"4", "1", "1001", ""}), 178);
  REQUIRE(cancel);
  REQUIRE(std::holds_alternative<ibkr::cancel_order>(*cancel));
  CHECK(std::get<ibkr::cancel_order>(*cancel).order_id == 1001);
  auto place = ibkr::decode_client_message(payload(sample_place_order_fields()), 178);
  REQUIRE(place);
  CHECK(std::get<ibkr::place_order>(*place) == sample_place_order());
  auto encoded = ibkr::encode(ibkr::client_message{ibkr::req_ids{1}}, 178);
  REQUIRE(encoded);
  CHECK(*encoded == framed("8\0001\0001\0"sv));
}

TEST_CASE("an unknown message id is its own error and names the id", "[ibkr]") {
  auto server = ibkr::decode_server_message(payload({"1", "6", "1", "1", "187.25"}), 178);
  REQUIRE_FALSE(server);
  CHECK(server.error().code == errc::unknown_message);
  CHECK(server.error().message == "incoming message id 1 is not handled");
  auto client = ibkr::decode_client_message(payload({"58", "1"}), 178);
  REQUIRE_FALSE(client);
  CHECK(client.error().code == errc::unknown_message);
  CHECK(ibkr::message_id(payload({"x"})).error().code == errc::bad_field);
  CHECK(ibkr::message_id("").error().code == errc::missing_field);
}

TEST_CASE("layouts exist only between 166 and 178", "[ibkr]") {
  CHECK(ibkr::req_ids{}.encode(165).error().code == errc::unsupported_version);
  CHECK(ibkr::req_ids{}.encode(179).error().code == errc::unsupported_version);
  CHECK(ibkr::req_ids::decode(payload({"8", "1", "1"}), 193).error().code ==
        errc::unsupported_version);
}
