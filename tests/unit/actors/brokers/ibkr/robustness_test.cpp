#include "actors/brokers/ibkr/codec.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

using namespace std::string_view_literals;
namespace ibkr = brokerd::actors::ibkr;
using ibkr::errc;

namespace {

std::string payload(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out += f;
    out += '\0';
  }
  return out;
}

/// Field texts that stress the typed readers: sentinels, signs, exponents, overflow, words.
const std::vector<std::string> vocabulary = {"",
                                             "0",
                                             "1",
                                             "-1",
                                             "2",
                                             "7",
                                             "2147483647",
                                             "-2147483648",
                                             "2147483648",
                                             "9223372036854775807",
                                             "1.7976931348623157E308",
                                             "0.0",
                                             "100.5",
                                             "1e5",
                                             "1E-9",
                                             "Infinity",
                                             "NaN",
                                             "None",
                                             "abc",
                                             "BAG",
                                             "PEG BENCH",
                                             "PEG BEST",
                                             "PEG MID",
                                             "IBKRATS",
                                             "LMT",
                                             "\\u00e9",
                                             "\\ud83d",
                                             "3",
                                             "5",
                                             "6",
                                             "8",
                                             "99999999999999999999",
                                             "+4",
                                             "--1",
                                             " 1",
                                             "1.2.3",
                                             "0.000000005"};

const std::vector<std::int32_t> known_ids = {1,  3,  4,  5,  7,  8,  9,  11, 15, 16,
                                             49, 53, 55, 59, 61, 62, 63, 64, 71, 99};

/// Every message once, with non-default values, as a base for mutations.
std::vector<std::string> valid_payloads() {
  std::vector<std::string> out;
  auto add = [&](const auto& m) {
    auto bytes = m.encode();
    REQUIRE(bytes);
    out.push_back(bytes->substr(4));
  };
  auto order = ibkr::place_order{};
  order.order_id = 5;
  order.instrument.symbol = "AAPL";
  order.instrument.sec_type = "BAG";
  order.action = "BUY";
  order.total_quantity = brokerd::engine::decimal::from_units(100'000'000);
  order.order_type = "PEG BENCH";
  order.blocks.combo_legs = {{"1", "1", "BUY", "SMART", "0", "0", "", "-1"}};
  order.blocks.algo_strategy = "Adaptive";
  order.blocks.algo_params = {{"a", "b"}};
  order.blocks.conditions = {{1, {"a", "1", "2", "3", "SMART", "0"}}};
  add(order);
  add(ibkr::start_api{1, ""});
  add(ibkr::req_ids{1});
  add(ibkr::req_current_time{});
  add(ibkr::req_account_summary{1, "All", "NetLiquidation"});
  add(ibkr::cancel_account_summary{1});
  add(ibkr::req_positions{});
  add(ibkr::cancel_positions{});
  add(ibkr::cancel_order{5, ""});
  add(ibkr::req_open_orders{});
  add(ibkr::req_all_open_orders{});
  add(ibkr::req_executions{1, 0, "", "", "", "", "", ""});
  add(ibkr::next_valid_id{1});
  add(ibkr::managed_accounts{"DU1"});
  add(ibkr::current_time{1});
  add(ibkr::account_summary{1, "DU1", "NetLiquidation", "1", "USD"});
  add(ibkr::account_summary_end{1});
  add(ibkr::position{});
  add(ibkr::position_end{});
  add(ibkr::order_status{});
  auto open = ibkr::open_order{};
  open.order_type = "PEG BENCH";
  open.blocks.delta_neutral_order_type = "None";
  open.blocks.scale_price_increment = 1.0;
  open.blocks.hedge_type = "D";
  open.blocks.has_delta_neutral_contract = true;
  add(open);
  add(ibkr::open_order_end{});
  add(ibkr::exec_details{});
  add(ibkr::exec_details_end{1});
  add(ibkr::commission_report{});
  add(ibkr::error_message{-1, 2104, "ok", ""});
  return out;
}

/// Decodes `p` in both directions and at several versions. A message that decodes must encode
/// again and decode to the same value. Returns the number of such checks that failed.
int decode_everything(std::string_view p) {
  int failures = 0;
  for (std::int32_t v : {166, 176, 178}) {
    if (auto m = ibkr::decode_server_message(p, v)) {
      auto again = ibkr::encode(*m, v);
      if (!again) {
        ++failures;
        continue;
      }
      auto back = ibkr::decode_server_message(std::string_view{*again}.substr(4), v);
      if (!back || !(*back == *m))
        ++failures;
    }
    if (auto m = ibkr::decode_client_message(p, v)) {
      auto again = ibkr::encode(*m, v);
      if (!again) {
        ++failures;
        continue;
      }
      auto back = ibkr::decode_client_message(std::string_view{*again}.substr(4), v);
      if (!back || !(*back == *m))
        ++failures;
    }
  }
  (void)ibkr::server_hello::decode(p);
  (void)ibkr::message_id(p);
  return failures;
}

} // namespace

// -- malformed messages ------------------------------------------------------------------------

TEST_CASE("a non-numeric int field names the message, index and field", "[ibkr]") {
  auto r = ibkr::order_status::decode(
      payload({"3", "1001", "Submitted", "0", "1", "0", "x5", "0", "0", "7", "", "0"}));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::bad_field);
  CHECK(r.error().message == "orderStatus field 6 (permId): 'x5' is not a 64-bit integer");
  auto q = ibkr::order_status::decode(
      payload({"3", "1001", "Submitted", "lots", "1", "0", "5", "0", "0", "7", "", "0"}));
  REQUIRE_FALSE(q);
  CHECK(q.error().message == "orderStatus field 3 (filled): 'lots' is not a number");
}

TEST_CASE("a message with too few fields names the first missing one", "[ibkr]") {
  auto r = ibkr::order_status::decode(
      payload({"3", "1001", "Submitted", "0", "1", "0", "5", "0", "0", "7", ""}));
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::missing_field);
  CHECK(r.error().message ==
        "orderStatus field 11 (mktCapPrice): missing: the message has only 11 fields");
  auto e = ibkr::error_message::decode(payload({"4", "2", "-1", "2104", "ok"}));
  REQUIRE_FALSE(e);
  CHECK(e.error().message ==
        "error field 5 (advancedOrderRejectJson): missing: the message has only 5 fields");
  CHECK(ibkr::next_valid_id::decode("").error().code == errc::missing_field);
}

TEST_CASE("a payload given for the wrong message is refused at its id", "[ibkr]") {
  auto r = ibkr::next_valid_id::decode(payload({"15", "1", "DU1"}));
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "nextValidId field 0 (msgId): 15 is not 9");
}

TEST_CASE("a hostile count is refused before anything is allocated", "[ibkr]") {
  auto good = ibkr::open_order{}.encode();
  REQUIRE(good);
  std::string p = good->substr(4);
  // Field 70 is the combo legs count of a plain openOrder.
  std::vector<std::string> split;
  std::string cur;
  for (char c : p) {
    if (c == '\0') {
      split.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  REQUIRE(split.size() == 127);
  split[70] = "2147483647";
  auto huge = ibkr::open_order::decode(payload(split));
  REQUIRE_FALSE(huge);
  CHECK(huge.error().code == errc::missing_field);
  CHECK(huge.error().message.rfind("openOrder field 70 (comboLegsCount)", 0) == 0);
  split[70] = "-1";
  auto negative = ibkr::open_order::decode(payload(split));
  REQUIRE_FALSE(negative);
  CHECK(negative.error().code == errc::bad_field);
}

TEST_CASE("a payload cut inside its last field is refused as unterminated", "[ibkr]") {
  auto r = ibkr::next_valid_id::decode("9\0001\000117"sv);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::missing_field);
  auto s = ibkr::position_end::decode("62\0001\0x"sv);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == errc::unterminated_frame);
}

// -- random input ------------------------------------------------------------------------------

TEST_CASE("10,000 random byte strings never crash, throw or over-read", "[ibkr][fuzz]") {
  std::mt19937 rng{20240102};
  std::uniform_int_distribution<int> byte{0, 255};
  std::uniform_int_distribution<std::size_t> length{0, 96};
  int exceptions = 0;
  int fixpoint_failures = 0;
  std::size_t frames = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::string bytes;
    // Half of the inputs start with a plausible small frame header.
    if (i % 2 == 0) {
      bytes += std::string{"\0\0\0"sv};
      bytes += static_cast<char>(length(rng));
    }
    std::size_t n = length(rng);
    for (std::size_t k = 0; k < n; ++k) {
      int b = byte(rng);
      bytes += static_cast<char>(b < 64 ? 0 : b); // NUL-rich, so fields appear
    }
    try {
      ibkr::frame_decoder d;
      std::size_t at = 0;
      while (at < bytes.size()) {
        std::size_t chunk = std::min<std::size_t>(bytes.size() - at, 1 + length(rng) % 17);
        auto r = d.feed(std::string_view{bytes}.substr(at, chunk), [&](std::string_view p) {
          ++frames;
          fixpoint_failures += decode_everything(p);
        });
        at += chunk;
        if (!r)
          break;
      }
      fixpoint_failures += decode_everything(bytes);
      (void)ibkr::client_hello::decode(bytes);
    } catch (...) {
      ++exceptions;
    }
  }
  CHECK(exceptions == 0);
  CHECK(fixpoint_failures == 0);
  CHECK(frames > 100);
}

TEST_CASE("10,000 random field sequences behind known ids decode or fail cleanly", "[ibkr][fuzz]") {
  std::mt19937 rng{178};
  std::uniform_int_distribution<std::size_t> pick_word{0, vocabulary.size() - 1};
  std::uniform_int_distribution<std::size_t> pick_id{0, known_ids.size() - 1};
  std::uniform_int_distribution<std::size_t> count{0, 160};
  int exceptions = 0;
  int fixpoint_failures = 0;
  int decoded = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::vector<std::string> fields{std::to_string(known_ids[pick_id(rng)])};
    std::size_t n = count(rng);
    for (std::size_t k = 0; k < n; ++k)
      fields.push_back(vocabulary[pick_word(rng)]);
    try {
      auto p = payload(fields);
      fixpoint_failures += decode_everything(p);
      if (ibkr::decode_server_message(p, 178) || ibkr::decode_client_message(p, 178))
        ++decoded;
    } catch (...) {
      ++exceptions;
    }
  }
  CHECK(exceptions == 0);
  CHECK(fixpoint_failures == 0);
  CHECK(decoded > 0);
}

TEST_CASE("mutated valid messages decode or fail cleanly, and what decodes re-encodes",
          "[ibkr][fuzz]") {
  auto bases = valid_payloads();
  std::mt19937 rng{4711};
  std::uniform_int_distribution<std::size_t> pick_base{0, bases.size() - 1};
  std::uniform_int_distribution<std::size_t> pick_word{0, vocabulary.size() - 1};
  std::uniform_int_distribution<int> pick_op{0, 4};
  std::uniform_int_distribution<int> pick_mutations{1, 3};
  int exceptions = 0;
  int fixpoint_failures = 0;
  int decoded = 0;
  for (int i = 0; i < 10'000; ++i) {
    std::vector<std::string> fields;
    {
      std::string cur;
      for (char c : bases[pick_base(rng)]) {
        if (c == '\0') {
          fields.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
    }
    for (int m = pick_mutations(rng); m > 0; --m) {
      std::uniform_int_distribution<std::size_t> at{1, fields.size()};
      std::size_t k = at(rng);
      switch (pick_op(rng)) {
      case 0: // replace a field
        if (k < fields.size())
          fields[k] = vocabulary[pick_word(rng)];
        break;
      case 1: // insert a field
        fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(k), vocabulary[pick_word(rng)]);
        break;
      case 2: // drop a field
        if (k < fields.size())
          fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(k));
        break;
      case 3: // cut the tail
        fields.resize(k);
        break;
      default: // leave as is
        break;
      }
    }
    try {
      auto p = payload(fields);
      fixpoint_failures += decode_everything(p);
      if (ibkr::decode_server_message(p, 178) || ibkr::decode_client_message(p, 178))
        ++decoded;
      // The same bytes cut anywhere must not over-read either.
      fixpoint_failures += decode_everything(std::string_view{p}.substr(0, p.size() / 2));
    } catch (...) {
      ++exceptions;
    }
  }
  CHECK(exceptions == 0);
  CHECK(fixpoint_failures == 0);
  CHECK(decoded >= 2000);
}
