#include "engine/order.hpp"

#include <array>
#include <utility>

namespace brokerd::engine {

namespace {

template <class Enum, std::size_t N>
std::expected<Enum, error> parse_enum(std::string_view field, std::string_view text,
                                      const std::array<std::pair<std::string_view, Enum>, N>& all) {
  for (const auto& [name, value] : all)
    if (name == text)
      return value;
  std::string msg{field};
  msg += " must be one of";
  const char* sep = " ";
  for (const auto& entry : all) {
    msg += sep;
    msg += entry.first;
    sep = ", ";
  }
  return std::unexpected(error{errc::unknown_enum_value, std::move(msg)});
}

constexpr std::array<std::pair<std::string_view, broker_id>, 4> broker_names{{
    {"paper", broker_id::paper},
    {"alpaca", broker_id::alpaca},
    {"ibkr", broker_id::ibkr},
    {"schwab", broker_id::schwab},
}};
constexpr std::array<std::pair<std::string_view, side>, 2> side_names{{
    {"buy", side::buy},
    {"sell", side::sell},
}};
constexpr std::array<std::pair<std::string_view, order_type>, 4> type_names{{
    {"market", order_type::market},
    {"limit", order_type::limit},
    {"stop", order_type::stop},
    {"stop_limit", order_type::stop_limit},
}};
constexpr std::array<std::pair<std::string_view, time_in_force>, 4> tif_names{{
    {"day", time_in_force::day},
    {"gtc", time_in_force::gtc},
    {"ioc", time_in_force::ioc},
    {"fok", time_in_force::fok},
}};
constexpr std::array<std::pair<std::string_view, order_status>, order_status_count> status_names{{
    {"pending_new", order_status::pending_new},
    {"new", order_status::new_},
    {"partially_filled", order_status::partially_filled},
    {"filled", order_status::filled},
    {"pending_cancel", order_status::pending_cancel},
    {"canceled", order_status::canceled},
    {"rejected", order_status::rejected},
    {"expired", order_status::expired},
    {"unknown", order_status::unknown},
}};

template <class Enum, std::size_t N>
std::string_view name_of(Enum x, const std::array<std::pair<std::string_view, Enum>, N>& all) {
  for (const auto& [name, value] : all)
    if (value == x)
      return name;
  return "invalid";
}

error invalid(std::string msg) { return error{errc::invalid_order, std::move(msg)}; }

bool is_upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

} // namespace

std::string_view to_string(broker_id x) noexcept { return name_of(x, broker_names); }
std::string_view to_string(side x) noexcept { return name_of(x, side_names); }
std::string_view to_string(order_type x) noexcept { return name_of(x, type_names); }
std::string_view to_string(time_in_force x) noexcept { return name_of(x, tif_names); }
std::string_view to_string(order_status x) noexcept { return name_of(x, status_names); }

std::expected<broker_id, error> parse_broker_id(std::string_view text) {
  return parse_enum("broker", text, broker_names);
}
std::expected<side, error> parse_side(std::string_view text) {
  return parse_enum("side", text, side_names);
}
std::expected<order_type, error> parse_order_type(std::string_view text) {
  return parse_enum("type", text, type_names);
}
std::expected<time_in_force, error> parse_time_in_force(std::string_view text) {
  return parse_enum("timeInForce", text, tif_names);
}
std::expected<order_status, error> parse_order_status(std::string_view text) {
  return parse_enum("status", text, status_names);
}

std::expected<void, error> validate_symbol(std::string_view symbol) {
  if (symbol.empty() || symbol.size() > 21)
    return std::unexpected(invalid("symbol must be 1 to 21 characters"));
  if (symbol[0] < 'A' || symbol[0] > 'Z')
    return std::unexpected(invalid("symbol must start with an upper-case letter"));
  for (char c : symbol)
    if (!is_upper_or_digit(c) && c != '.' && c != '/' && c != '-')
      return std::unexpected(invalid("symbol may hold only A-Z, 0-9, '.', '/' and '-'"));
  return {};
}

std::expected<void, error> validate_client_id(std::string_view id) {
  if (id.empty() || id.size() > 64)
    return std::unexpected(invalid("clientOrderId must be 1 to 64 characters"));
  for (char c : id) {
    bool ok = is_upper_or_digit(c) || (c >= 'a' && c <= 'z') || c == '.' || c == '_' ||
              c == ':' || c == '-';
    if (!ok)
      return std::unexpected(invalid("clientOrderId may hold only A-Z, a-z, 0-9, '.', '_', ':', '-'"));
  }
  return {};
}

std::expected<void, error> validate_new_order(const order& o) {
  if (auto ok = validate_symbol(o.symbol); !ok)
    return ok;
  if (!o.client_order_id.empty())
    if (auto ok = validate_client_id(o.client_order_id); !ok)
      return ok;
  if (!o.quantity.is_positive())
    return std::unexpected(invalid("quantity must be greater than 0"));
  bool needs_limit = o.type == order_type::limit || o.type == order_type::stop_limit;
  bool needs_stop = o.type == order_type::stop || o.type == order_type::stop_limit;
  if (needs_limit && !o.limit_price)
    return std::unexpected(invalid(std::string{to_string(o.type)} + " order needs limitPrice"));
  if (!needs_limit && o.limit_price)
    return std::unexpected(
        invalid(std::string{to_string(o.type)} + " order must not carry limitPrice"));
  if (needs_stop && !o.stop_price)
    return std::unexpected(invalid(std::string{to_string(o.type)} + " order needs stopPrice"));
  if (!needs_stop && o.stop_price)
    return std::unexpected(
        invalid(std::string{to_string(o.type)} + " order must not carry stopPrice"));
  for (auto [name, price] : {std::pair{"limitPrice", o.limit_price},
                             std::pair{"stopPrice", o.stop_price}}) {
    if (!price)
      continue;
    if (!price->is_positive())
      return std::unexpected(invalid(std::string{name} + " must be greater than 0"));
    if (price->fraction_digits() > 4)
      return std::unexpected(invalid(std::string{name} + " has more than 4 decimal places"));
  }
  if (needs_stop && (o.tif == time_in_force::ioc || o.tif == time_in_force::fok))
    return std::unexpected(invalid("stop orders accept timeInForce day or gtc only"));
  if (o.status != order_status::pending_new)
    return std::unexpected(invalid("status of a new order must be pending_new"));
  return {};
}

} // namespace brokerd::engine
