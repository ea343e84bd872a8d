#include "persistence_fixtures.hpp"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace brokerd::persistence::testing {

namespace fs = std::filesystem;

temp_dir::temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "brokerd-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::system_error{errno, std::generic_category(), "mkdtemp " + pattern};
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path temp_dir::operator/(std::string_view name) const {
  return path_ / name;
}

engine::decimal dec(std::string_view text) {
  auto d = engine::decimal::parse(text);
  if (!d)
    throw std::invalid_argument{"bad decimal in a test: " + std::string{text}};
  return *d;
}

engine::order sample_order(std::string id) {
  engine::order o;
  o.id = std::move(id);
  o.client_order_id = "cl-" + o.id;
  o.user = "u1";
  o.connection = "c1";
  o.broker = engine::broker_id::alpaca;
  o.symbol = "AAPL";
  o.order_side = engine::side::buy;
  o.quantity = dec("100");
  o.type = engine::order_type::limit;
  o.limit_price = dec("187.25");
  o.tif = engine::time_in_force::day;
  return o;
}

event status_event(std::string order_id, engine::order_status from, engine::order_status to,
                   std::optional<std::string_view> filled, std::optional<std::string_view> avg) {
  event e;
  e.type = event_types::order_status;
  e.order_id = std::move(order_id);
  e.from = from;
  e.to = to;
  if (filled)
    e.filled_quantity = dec(*filled);
  if (avg)
    e.avg_fill_price = dec(*avg);
  e.source = event_source::broker;
  return e;
}

event fill_event(std::string order_id, std::string_view filled, std::string_view avg) {
  event e;
  e.type = event_types::order_fill;
  e.order_id = std::move(order_id);
  e.filled_quantity = dec(filled);
  e.avg_fill_price = dec(avg);
  e.source = event_source::broker;
  return e;
}

event full_event() {
  event e;
  e.seq = 18'446'744'073'709'551'615ULL;
  e.ts_ns = 1'714'566'896'123'456'789;
  e.type = "order.status";
  e.user = "user-7";
  e.connection = "conn-3";
  e.broker = engine::broker_id::ibkr;
  e.order_id = "o-42";
  e.client_order_id = "cl:42";
  e.broker_order_id = "90017";
  e.from = engine::order_status::new_;
  e.to = engine::order_status::partially_filled;
  e.symbol = "BRK.B";
  e.order_side = engine::side::sell;
  e.type_of_order = engine::order_type::stop_limit;
  e.tif = engine::time_in_force::gtc;
  e.quantity = dec("250.5");
  e.limit_price = dec("412.1234");
  e.stop_price = dec("410");
  e.filled_quantity = dec("100.00000001");
  e.avg_fill_price = dec("-0.5");
  e.last_quantity = dec("40");
  e.last_price = dec("412.12");
  e.exec_id = "0001f4e8.65a1b2c3.01.01";
  e.source = event_source::reconcile;
  e.state = "ready";
  e.reason = "IBKR 201: \"Order rejected\" \\ reason\n";
  return e;
}

} // namespace brokerd::persistence::testing
