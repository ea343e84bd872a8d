#include "actors/brokers/ibkr/codec.hpp"

namespace brokerd::actors::ibkr {

std::string_view to_tws(engine::order_type x) noexcept {
  switch (x) {
  case engine::order_type::market:
    return "MKT";
  case engine::order_type::limit:
    return "LMT";
  case engine::order_type::stop:
    return "STP";
  case engine::order_type::stop_limit:
    return "STP LMT";
  }
  return "";
}

std::string_view to_tws(engine::time_in_force x) noexcept {
  switch (x) {
  case engine::time_in_force::day:
    return "DAY";
  case engine::time_in_force::gtc:
    return "GTC";
  case engine::time_in_force::ioc:
    return "IOC";
  case engine::time_in_force::fok:
    return "FOK";
  }
  return "";
}

std::string_view to_tws(engine::side x) noexcept {
  switch (x) {
  case engine::side::buy:
    return "BUY";
  case engine::side::sell:
    return "SELL";
  }
  return "";
}

std::optional<engine::order_type> parse_tws_order_type(std::string_view text) noexcept {
  if (text == "MKT")
    return engine::order_type::market;
  if (text == "LMT")
    return engine::order_type::limit;
  if (text == "STP")
    return engine::order_type::stop;
  if (text == "STP LMT")
    return engine::order_type::stop_limit;
  return std::nullopt;
}

std::optional<engine::time_in_force> parse_tws_tif(std::string_view text) noexcept {
  if (text == "DAY")
    return engine::time_in_force::day;
  if (text == "GTC")
    return engine::time_in_force::gtc;
  if (text == "IOC")
    return engine::time_in_force::ioc;
  if (text == "FOK")
    return engine::time_in_force::fok;
  return std::nullopt;
}

std::optional<engine::side> parse_tws_action(std::string_view text) noexcept {
  if (text == "BUY")
    return engine::side::buy;
  if (text == "SELL" || text == "SSHORT")
    return engine::side::sell;
  return std::nullopt;
}

std::optional<engine::side> parse_tws_execution_side(std::string_view text) noexcept {
  if (text == "BOT")
    return engine::side::buy;
  if (text == "SLD")
    return engine::side::sell;
  return std::nullopt;
}

std::expected<place_order, error> make_place_order(std::int32_t order_id, const engine::order& o,
                                                   std::string_view account,
                                                   const stock_route& route) {
  auto invalid = [](std::string why) {
    return std::unexpected(error{errc::invalid_argument, "placeOrder: " + std::move(why)});
  };
  if (o.symbol.empty())
    return invalid("the symbol is empty");
  if (o.client_order_id.empty())
    return invalid("the client order id (orderRef) is empty");
  if (!o.quantity.is_positive())
    return invalid("the quantity " + o.quantity.to_string() + " is not positive");
  bool needs_limit =
      o.type == engine::order_type::limit || o.type == engine::order_type::stop_limit;
  bool needs_stop = o.type == engine::order_type::stop || o.type == engine::order_type::stop_limit;
  if (needs_limit && !o.limit_price)
    return invalid("a " + std::string{engine::to_string(o.type)} + " order needs a limit price");
  if (needs_stop && !o.stop_price)
    return invalid("a " + std::string{engine::to_string(o.type)} + " order needs a stop price");
  place_order m;
  m.order_id = order_id;
  m.instrument.symbol = o.symbol;
  m.instrument.sec_type = "STK";
  m.instrument.exchange = route.exchange;
  m.instrument.primary_exchange = route.primary_exchange;
  m.instrument.currency = route.currency;
  m.action = std::string{to_tws(o.order_side)};
  m.total_quantity = o.quantity;
  m.order_type = std::string{to_tws(o.type)};
  if (needs_limit)
    m.limit_price = o.limit_price;
  if (needs_stop)
    m.aux_price = o.stop_price;
  m.tif = std::string{to_tws(o.tif)};
  m.account = std::string{account};
  m.order_ref = o.client_order_id;
  m.transmit = true;
  return m;
}

std::optional<engine::order_status> map_order_status(std::string_view tws_status,
                                                     engine::decimal filled) noexcept {
  using engine::order_status;
  if (tws_status == "ApiPending" || tws_status == "PendingSubmit")
    return order_status::pending_new;
  if (tws_status == "PreSubmitted" || tws_status == "Submitted")
    return filled.is_positive() ? order_status::partially_filled : order_status::new_;
  if (tws_status == "PendingCancel")
    return order_status::pending_cancel;
  if (tws_status == "ApiCancelled" || tws_status == "Cancelled")
    return order_status::canceled;
  if (tws_status == "Filled")
    return order_status::filled;
  if (tws_status == "Inactive")
    return order_status::rejected;
  return std::nullopt;
}

std::string_view to_string(error_category x) noexcept {
  switch (x) {
  case error_category::connectivity_lost:
    return "connectivity_lost";
  case error_category::connectivity_restored_data_lost:
    return "connectivity_restored_data_lost";
  case error_category::connectivity_restored:
    return "connectivity_restored";
  case error_category::socket_port_reset:
    return "socket_port_reset";
  case error_category::farm_ok:
    return "farm_ok";
  case error_category::farm_broken:
    return "farm_broken";
  case error_category::system_warning:
    return "system_warning";
  case error_category::client_id_in_use:
    return "client_id_in_use";
  case error_category::pacing_violation:
    return "pacing_violation";
  case error_category::request_failed:
    return "request_failed";
  case error_category::duplicate_order_id:
    return "duplicate_order_id";
  case error_category::order_rejected:
    return "order_rejected";
  case error_category::order_canceled:
    return "order_canceled";
  case error_category::cancel_rejected:
    return "cancel_rejected";
  case error_category::unknown_order:
    return "unknown_order";
  case error_category::order_warning:
    return "order_warning";
  case error_category::other:
    return "other";
  }
  return "other";
}

error_category classify_error(std::int32_t code) noexcept {
  switch (code) {
  case 1100:
    return error_category::connectivity_lost;
  case 1101:
    return error_category::connectivity_restored_data_lost;
  case 1102:
    return error_category::connectivity_restored;
  case 1300:
    return error_category::socket_port_reset;
  case 2104:
  case 2106:
  case 2107:
  case 2108:
  case 2119:
  case 2158:
    return error_category::farm_ok;
  case 2103:
  case 2105:
  case 2157:
    return error_category::farm_broken;
  case 326:
    return error_category::client_id_in_use;
  case 100:
    return error_category::pacing_violation;
  case 200:
  case 320:
  case 321:
  case 322:
    return error_category::request_failed;
  case 103:
    return error_category::duplicate_order_id;
  case 104:
  case 105:
  case 110:
  case 201:
  case 10268:
  case 10269:
    return error_category::order_rejected;
  case 202:
    return error_category::order_canceled;
  case 161:
  case 10147:
  case 10148:
    return error_category::cancel_rejected;
  case 135:
    return error_category::unknown_order;
  case 399:
    return error_category::order_warning;
  default:
    break;
  }
  if (code >= 2100 && code <= 2199)
    return error_category::system_warning;
  return error_category::other;
}

bool is_order_related(error_category x) noexcept {
  switch (x) {
  case error_category::duplicate_order_id:
  case error_category::order_rejected:
  case error_category::order_canceled:
  case error_category::cancel_rejected:
  case error_category::unknown_order:
  case error_category::order_warning:
    return true;
  default:
    return false;
  }
}

} // namespace brokerd::actors::ibkr
