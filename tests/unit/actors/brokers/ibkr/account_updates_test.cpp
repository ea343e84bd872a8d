// The account-updates messages of the TWS codec: reqAccountUpdates (out 6), updateAccountValue
// (in 6), updatePortfolio (in 7), updateAccountTime (in 8) and accountDownloadEnd (in 54), as
// IB's Java client 10.32 writes and reads them (EClient.reqAccountUpdates, EDecoder.process*).

#include "actors/brokers/ibkr/messages.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/actors/brokers/ibkr/tws_vectors.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

using namespace std::string_view_literals;
using brokerd::engine::decimal;
namespace ibkr = brokerd::actors::ibkr;
using ibkr::errc;

using namespace tws_test;

namespace {

/// Checks that every proper prefix of `fields` (message id kept) fails with missing_field and
/// that one field more fails with extra_fields.
template <class M> void check_truncated_and_extra(const std::vector<std::string>& fields) {
  INFO(M::name);
  for (std::size_t n = 1; n < fields.size(); ++n) {
    INFO("first " << n << " fields");
    auto cut = M::decode(payload({fields.begin(), fields.begin() + static_cast<long>(n)}));
    REQUIRE_FALSE(cut);
    CHECK(cut.error().code == errc::missing_field);
  }
  auto longer = fields;
  longer.emplace_back("x");
  auto extra = M::decode(payload(longer));
  REQUIRE_FALSE(extra);
  CHECK(extra.error().code == errc::extra_fields);
}

/// 100 AAPL as a gateway reports it in the account-updates stream.
ibkr::update_portfolio aapl_row() {
  ibkr::update_portfolio p;
  p.instrument.con_id = 265598;
  p.instrument.symbol = "AAPL";
  p.instrument.sec_type = "STK";
  p.instrument.primary_exchange = "NASDAQ";
  p.instrument.currency = "USD";
  p.instrument.local_symbol = "AAPL";
  p.instrument.trading_class = "NMS";
  p.quantity = dec("100");
  p.market_price = dec("189.5");
  p.market_value = dec("18950");
  p.avg_cost = dec("187.25");
  p.unrealized_pnl = dec("225");
  p.realized_pnl = dec("-12.34");
  p.account = "DU1234567";
  return p;
}

const std::vector<std::string> aapl_fields = {
    "7",   "8",    "265598", "AAPL", "STK",   "",      "0.0",    "",    "",       "NASDAQ",
    "USD", "AAPL", "NMS",    "100",  "189.5", "18950", "187.25", "225", "-12.34", "DU1234567"};

} // namespace

// -- reqAccountUpdates (out 6) -----------------------------------------------------------------

TEST_CASE("reqAccountUpdates is 6, version 2, the subscribe flag and the account code", "[ibkr]") {
  check_vector(ibkr::req_account_updates{true, "DU1234567"}, {"6", "2", "1", "DU1234567"});
  check_vector(ibkr::req_account_updates{false, "DU1234567"}, {"6", "2", "0", "DU1234567"});
  check_vector(ibkr::req_account_updates{true, ""}, {"6", "2", "1", ""});
  auto bytes = ibkr::req_account_updates{true, "DU1"}.encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) == "00 00 00 0a 36 00 32 00 31 00 44 55 31 00");
  // The same layout at the codec's lowest version.
  check_vector(ibkr::req_account_updates{true, "DU1"}, {"6", "2", "1", "DU1"}, 166);
}

TEST_CASE("reqAccountUpdates reads the flag as TWS does and refuses a wrong field count",
          "[ibkr]") {
  // Java's boolean reader: "" and 0 are false, any other int true.
  auto empty_flag = ibkr::req_account_updates::decode(payload({"6", "2", "", "DU1"}));
  REQUIRE(empty_flag);
  CHECK_FALSE(empty_flag->subscribe);
  auto bad_flag = ibkr::req_account_updates::decode(payload({"6", "2", "yes", "DU1"}));
  REQUIRE_FALSE(bad_flag);
  CHECK(bad_flag.error().code == errc::bad_field);
  check_truncated_and_extra<ibkr::req_account_updates>({"6", "2", "1", "DU1"});
}

// -- updateAccountValue (in 6) -----------------------------------------------------------------

TEST_CASE("updateAccountValue is 6, version 2, key, value, currency and account", "[ibkr]") {
  check_vector(ibkr::update_account_value{"NetLiquidation", "100000.00", "USD", "DU1234567"},
               {"6", "2", "NetLiquidation", "100000.00", "USD", "DU1234567"});
  check_vector(ibkr::update_account_value{"AccountCode", "DU1234567", "", "DU1234567"},
               {"6", "2", "AccountCode", "DU1234567", "", "DU1234567"});
  auto bytes = ibkr::update_account_value{"K", "1", "USD", "A"}.encode(166);
  REQUIRE(bytes);
  CHECK(hex(*bytes) == "00 00 00 0e 36 00 32 00 4b 00 31 00 55 53 44 00 41 00");
}

TEST_CASE("updateAccountValue below version 2 is refused: the account would be missing", "[ibkr]") {
  auto old = ibkr::update_account_value::decode(payload({"6", "1", "NetLiquidation", "1", "USD"}));
  REQUIRE_FALSE(old);
  CHECK(old.error().code == errc::bad_field);
  CHECK(old.error().message == "updateAccountValue field 1 (version): 1 is below 2");
  check_truncated_and_extra<ibkr::update_account_value>(
      {"6", "2", "NetLiquidation", "100000.00", "USD", "DU1234567"});
}

// -- updatePortfolio (in 7) --------------------------------------------------------------------

TEST_CASE("updatePortfolio is 20 fields at version 8 with the contract, position, prices and "
          "account",
          "[ibkr]") {
  REQUIRE(aapl_fields.size() == 20);
  check_vector(aapl_row(), aapl_fields);
  check_vector(aapl_row(), aapl_fields, 166);
  // A closed position: 0 shares, no value.
  auto closed = aapl_row();
  closed.quantity = dec("0");
  closed.market_value = dec("0");
  closed.avg_cost = dec("0");
  closed.unrealized_pnl = dec("0");
  auto f = aapl_fields;
  f[13] = "0";
  f[15] = "0";
  f[16] = "0";
  f[17] = "0";
  check_vector(closed, f);
}

TEST_CASE("updatePortfolio reads the doubles TWS prints, fractional positions and unset "
          "amounts",
          "[ibkr]") {
  auto f = aapl_fields;
  f[6] = "0";                       // strike
  f[13] = "0.5";                    // a fractional position (a decimal at 163 and up)
  f[14] = "189.50000305";           // marketPrice as a Java double
  f[15] = "1.2345678E7";            // marketValue in Java's exponent form
  f[16] = "187.2500000000000001";   // more digits than the decimal keeps: rounded
  f[17] = "";                       // Java's readDouble reads "" as 0
  f[18] = "1.7976931348623157E308"; // the unset sentinel
  auto m = ibkr::update_portfolio::decode(payload(f));
  if (!m)
    FAIL(m.error().to_string());
  CHECK(m->instrument.strike == 0.0);
  CHECK(m->quantity == dec("0.5"));
  CHECK(m->market_price == dec("189.50000305"));
  CHECK(m->market_value == dec("12345678"));
  CHECK(m->avg_cost == dec("187.25"));
  CHECK(m->unrealized_pnl == dec("0"));
  CHECK(m->realized_pnl == dec("0"));
  CHECK(m->account == "DU1234567");
}

TEST_CASE("updatePortfolio below version 8 is refused and a bad position names its field",
          "[ibkr]") {
  auto f = aapl_fields;
  f[1] = "7";
  auto old = ibkr::update_portfolio::decode(payload(f));
  REQUIRE_FALSE(old);
  CHECK(old.error().message == "updatePortfolio field 1 (version): 7 is below 8");
  f = aapl_fields;
  f[13] = "";
  auto unset = ibkr::update_portfolio::decode(payload(f));
  REQUIRE_FALSE(unset);
  CHECK(unset.error().code == errc::bad_field);
  CHECK(unset.error().message.starts_with("updatePortfolio field 13 (position)"));
  f = aapl_fields;
  f[14] = "abc";
  auto bad_price = ibkr::update_portfolio::decode(payload(f));
  REQUIRE_FALSE(bad_price);
  CHECK(bad_price.error().message.starts_with("updatePortfolio field 14 (marketPrice)"));
  check_truncated_and_extra<ibkr::update_portfolio>(aapl_fields);
}

// -- updateAccountTime (in 8) and accountDownloadEnd (in 54) ------------------------------------

TEST_CASE("updateAccountTime is 8, version 1, HH:mm and accountDownloadEnd 54, version 1, the "
          "account",
          "[ibkr]") {
  check_vector(ibkr::update_account_time{"09:30"}, {"8", "1", "09:30"});
  check_vector(ibkr::account_download_end{"DU1234567"}, {"54", "1", "DU1234567"});
  auto time = ibkr::update_account_time{"09:30"}.encode();
  REQUIRE(time);
  CHECK(hex(*time) == "00 00 00 0a 38 00 31 00 30 39 3a 33 30 00");
  auto end = ibkr::account_download_end{"DU1"}.encode(166);
  REQUIRE(end);
  CHECK(hex(*end) == "00 00 00 09 35 34 00 31 00 44 55 31 00");
  check_truncated_and_extra<ibkr::update_account_time>({"8", "1", "09:30"});
  check_truncated_and_extra<ibkr::account_download_end>({"54", "1", "DU1234567"});
}

// -- dispatch and round trips ------------------------------------------------------------------

TEST_CASE("account-updates payloads dispatch on their id in each direction", "[ibkr]") {
  // Incoming 6 is updateAccountValue, outgoing 6 reqAccountUpdates (§2.4: separate id spaces).
  auto value =
      ibkr::decode_server_message(payload({"6", "2", "TotalCashValue", "1.00", "USD", "DU1"}), 178);
  REQUIRE(value);
  REQUIRE(std::holds_alternative<ibkr::update_account_value>(*value));
  CHECK(std::get<ibkr::update_account_value>(*value).key == "TotalCashValue");
  auto request = ibkr::decode_client_message(payload({"6", "2", "1", "DU1"}), 178);
  REQUIRE(request);
  CHECK(std::get<ibkr::req_account_updates>(*request) == ibkr::req_account_updates{true, "DU1"});

  auto row = ibkr::decode_server_message(payload(aapl_fields), 178);
  REQUIRE(row);
  CHECK(std::get<ibkr::update_portfolio>(*row) == aapl_row());
  auto time = ibkr::decode_server_message(payload({"8", "1", "17:05"}), 178);
  REQUIRE(time);
  CHECK(std::get<ibkr::update_account_time>(*time).time_stamp == "17:05");
  auto end = ibkr::decode_server_message(payload({"54", "1", "DU1"}), 178);
  REQUIRE(end);
  CHECK(std::get<ibkr::account_download_end>(*end).account == "DU1");

  auto encoded = ibkr::encode(ibkr::server_message{ibkr::account_download_end{"DU1"}}, 178);
  REQUIRE(encoded);
  CHECK(*encoded == framed("54\0001\0DU1\0"sv));
  auto sent = ibkr::encode(ibkr::client_message{ibkr::req_account_updates{false, "DU1"}}, 178);
  REQUIRE(sent);
  CHECK(*sent == framed("6\0002\0000\0DU1\0"sv));
}

TEST_CASE("the account-updates messages survive encode then decode at 166, 176 and 178", "[ibkr]") {
  auto row = aapl_row();
  row.instrument.strike = 12.5;
  row.instrument.right = "C";
  row.instrument.multiplier = "100";
  row.instrument.last_trade_date = "20250117";
  row.quantity = dec("-0.25");
  for (std::int32_t v : {166, 176, 178}) {
    INFO("version " << v);
    auto check = [v](const auto& m) {
      using M = std::decay_t<decltype(m)>;
      auto bytes = m.encode(v);
      REQUIRE(bytes);
      auto back = M::decode(std::string_view{*bytes}.substr(4), v);
      REQUIRE(back);
      CHECK(*back == m);
    };
    check(ibkr::req_account_updates{true, "DU1"});
    check(ibkr::req_account_updates{false, ""});
    check(ibkr::update_account_value{"BuyingPower", "400000.00", "USD", "DU1"});
    check(row);
    check(ibkr::update_account_time{"23:59"});
    check(ibkr::account_download_end{"DU1"});
  }
  CHECK(ibkr::update_portfolio{}.encode(165).error().code == errc::unsupported_version);
  CHECK(ibkr::req_account_updates::decode(payload({"6", "2", "1", ""}), 179).error().code ==
        errc::unsupported_version);
}
