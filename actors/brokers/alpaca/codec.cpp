#include "actors/brokers/alpaca/codec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::actors::alpaca {

namespace {

using engine::decimal;
using json_value = rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Numbers are kept as their text: amounts never pass through a double.
constexpr unsigned parse_flags = rapidjson::kParseNumbersAsStringsFlag;

error make_error(errc code, std::string message) {
  return error{code, std::move(message)};
}

std::string_view type_name(const json_value& v) {
  switch (v.GetType()) {
  case rapidjson::kNullType:
    return "null";
  case rapidjson::kFalseType:
  case rapidjson::kTrueType:
    return "a boolean";
  case rapidjson::kObjectType:
    return "an object";
  case rapidjson::kArrayType:
    return "an array";
  case rapidjson::kStringType:
  case rapidjson::kNumberType: // numbers are parsed as their text: they look like strings
    return "a string or number";
  }
  return "a value";
}

std::string_view view(const json_value& v) {
  return {v.GetString(), v.GetStringLength()};
}

std::expected<rapidjson::Document, error> parse_json(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse<parse_flags>(text.data(), text.size());
  if (doc.HasParseError())
    return std::unexpected(
        make_error(errc::malformed_json, std::string{what} + ": not JSON (error at offset " +
                                             std::to_string(doc.GetErrorOffset()) + ")"));
  return doc;
}

/// Field lookup on an object; `path` prefixes field names in messages ("order.qty").
class fields {
public:
  fields(const json_value& object, std::string path) : object_(object), path_(std::move(path)) {}

  [[nodiscard]] std::string name(std::string_view key) const {
    return path_.empty() ? std::string{key} : path_ + "." + std::string{key};
  }

  /// The member, or nullptr when absent or null.
  [[nodiscard]] const json_value* find(std::string_view key) const {
    auto it =
        object_.FindMember(json_value{key.data(), static_cast<rapidjson::SizeType>(key.size())});
    if (it == object_.MemberEnd() || it->value.IsNull())
      return nullptr;
    return &it->value;
  }

  [[nodiscard]] std::expected<std::string, error> required_string(std::string_view key) const {
    const auto* v = find(key);
    if (!v)
      return std::unexpected(make_error(errc::missing_field, name(key) + " is missing"));
    if (!v->IsString())
      return std::unexpected(bad_type(key, *v, "a string"));
    return std::string{view(*v)};
  }

  [[nodiscard]] std::expected<std::string, error> optional_string(std::string_view key) const {
    const auto* v = find(key);
    if (!v)
      return std::string{};
    if (!v->IsString())
      return std::unexpected(bad_type(key, *v, "a string"));
    return std::string{view(*v)};
  }

  /// A decimal sent as a string or a number. With `round`, more than 8 fraction digits are
  /// rounded half-even (money values); without, they are an error (quantities).
  [[nodiscard]] std::expected<std::optional<decimal>, error>
  optional_decimal(std::string_view key, bool round = false) const;

  [[nodiscard]] std::expected<decimal, error> required_decimal(std::string_view key,
                                                               bool round = false) const {
    auto d = optional_decimal(key, round);
    if (!d)
      return std::unexpected(d.error());
    if (!*d)
      return std::unexpected(make_error(errc::missing_field, name(key) + " is missing"));
    return **d;
  }

  [[nodiscard]] error bad_type(std::string_view key, const json_value& v,
                               std::string_view expected) const {
    return make_error(errc::bad_field, name(key) + " is " + std::string{type_name(v)} +
                                           ", expected " + std::string{expected});
  }

private:
  const json_value& object_;
  std::string path_;
};

/// Rounds a plain decimal text to 8 fraction digits, half-even, in text (no floating point).
std::string round_fraction(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos || text.size() - dot - 1 <= 8)
    return std::string{text};
  for (char c : text.substr(dot + 1))
    if (c < '0' || c > '9')
      return std::string{text}; // let decimal::parse report it
  std::string kept{text.substr(0, dot + 9)};
  auto rest = text.substr(dot + 9);
  bool above_half = rest[0] > '5' || (rest[0] == '5' && rest.substr(1).find_first_not_of('0') !=
                                                            std::string_view::npos);
  bool exactly_half = rest[0] == '5' && !above_half;
  bool last_odd = ((kept.back() - '0') % 2) != 0;
  if (!(above_half || (exactly_half && last_odd)))
    return kept;
  // Add one unit in the last place, carrying leftwards over the dot.
  std::size_t i = kept.size();
  while (i > 0) {
    --i;
    char& c = kept[i];
    if (c == '.')
      continue;
    if (c < '0' || c > '9') { // the sign: a carry out of the leading digit
      kept.insert(i + 1, "1");
      return kept;
    }
    if (c == '9') {
      c = '0';
      continue;
    }
    ++c;
    return kept;
  }
  kept.insert(0, "1");
  return kept;
}

std::expected<std::optional<decimal>, error> fields::optional_decimal(std::string_view key,
                                                                      bool round) const {
  const auto* v = find(key);
  if (!v)
    return std::optional<decimal>{};
  // With kParseNumbersAsStringsFlag, JSON numbers arrive as strings too.
  if (!v->IsString())
    return std::unexpected(bad_type(key, *v, "a decimal string or number"));
  auto text = view(*v);
  auto parsed = round ? decimal::parse(round_fraction(text)) : decimal::parse(text);
  if (!parsed)
    return std::unexpected(make_error(errc::bad_field, name(key) + " is not a decimal: \"" +
                                                           std::string{text.substr(0, 64)} + "\""));
  return std::optional<decimal>{*parsed};
}

template <class T> std::unexpected<error> fail(const std::expected<T, error>& x) {
  return std::unexpected(x.error());
}

std::expected<order_info, error> read_order(const json_value& v, const std::string& path) {
  if (!v.IsObject())
    return std::unexpected(make_error(path.empty() ? errc::malformed_json : errc::bad_field,
                                      (path.empty() ? std::string{"order"} : path) + " is " +
                                          std::string{type_name(v)} + ", expected an object"));
  fields f{v, path};
  order_info o;
#define BROKERD_ALPACA_TAKE(target, expr)                                                          \
  do {                                                                                             \
    auto taken = (expr);                                                                           \
    if (!taken)                                                                                    \
      return fail(taken);                                                                          \
    target = std::move(*taken);                                                                    \
  } while (false)
  BROKERD_ALPACA_TAKE(o.id, f.required_string("id"));
  BROKERD_ALPACA_TAKE(o.client_order_id, f.optional_string("client_order_id"));
  BROKERD_ALPACA_TAKE(o.symbol, f.required_string("symbol"));
  BROKERD_ALPACA_TAKE(o.alpaca_status, f.required_string("status"));
  BROKERD_ALPACA_TAKE(o.side, f.optional_string("side"));
  BROKERD_ALPACA_TAKE(o.type, f.optional_string("type"));
  if (o.type.empty())
    BROKERD_ALPACA_TAKE(o.type, f.optional_string("order_type"));
  BROKERD_ALPACA_TAKE(o.time_in_force, f.optional_string("time_in_force"));
  BROKERD_ALPACA_TAKE(o.quantity, f.optional_decimal("qty"));
  BROKERD_ALPACA_TAKE(o.notional, f.optional_decimal("notional", true));
  BROKERD_ALPACA_TAKE(o.filled_quantity, f.required_decimal("filled_qty"));
  BROKERD_ALPACA_TAKE(o.filled_avg_price, f.optional_decimal("filled_avg_price", true));
  BROKERD_ALPACA_TAKE(o.limit_price, f.optional_decimal("limit_price"));
  BROKERD_ALPACA_TAKE(o.stop_price, f.optional_decimal("stop_price"));
  BROKERD_ALPACA_TAKE(o.created_at, f.optional_string("created_at"));
  BROKERD_ALPACA_TAKE(o.updated_at, f.optional_string("updated_at"));
  BROKERD_ALPACA_TAKE(o.filled_at, f.optional_string("filled_at"));
  BROKERD_ALPACA_TAKE(o.replaced_by, f.optional_string("replaced_by"));
  BROKERD_ALPACA_TAKE(o.replaces, f.optional_string("replaces"));
  o.status = map_order_status(o.alpaca_status, o.filled_quantity, o.quantity)
                 .value_or(engine::order_status::unknown);
  return o;
}

void put(writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

constexpr std::array<std::string_view, 20> trade_event_names{
    "new",
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
    "trade_correct",
};

} // namespace

std::string_view to_string(errc x) noexcept {
  switch (x) {
  case errc::malformed_json:
    return "malformed_json";
  case errc::missing_field:
    return "missing_field";
  case errc::bad_field:
    return "bad_field";
  case errc::unknown_stream:
    return "unknown_stream";
  case errc::invalid_order:
    return "invalid_order";
  }
  return "unknown";
}

std::string error::to_string() const {
  return std::string{alpaca::to_string(code)} + ": " + message;
}

std::string_view to_alpaca(engine::order_type x) noexcept {
  return engine::to_string(x);
}
std::string_view to_alpaca(engine::time_in_force x) noexcept {
  return engine::to_string(x);
}
std::string_view to_alpaca(engine::side x) noexcept {
  return engine::to_string(x);
}

std::expected<std::string, error> encode_new_order(const engine::order& o) {
  using engine::order_type;
  auto invalid = [](std::string message) {
    return std::unexpected(make_error(errc::invalid_order, std::move(message)));
  };
  if (o.symbol.empty())
    return invalid("symbol is empty");
  if (!o.quantity.is_positive())
    return invalid("qty must be positive, got " + o.quantity.to_string());
  bool wants_limit = o.type == order_type::limit || o.type == order_type::stop_limit;
  bool wants_stop = o.type == order_type::stop || o.type == order_type::stop_limit;
  auto check_price = [&](const std::optional<decimal>& price, bool wanted,
                         std::string_view field) -> std::optional<std::string> {
    if (wanted && !price)
      return std::string{field} + " is required for a " + std::string{to_alpaca(o.type)} + " order";
    if (!wanted && price)
      return std::string{field} + " is not allowed on a " + std::string{to_alpaca(o.type)} +
             " order";
    if (price && !price->is_positive())
      return std::string{field} + " must be positive, got " + price->to_string();
    return std::nullopt;
  };
  if (auto problem = check_price(o.limit_price, wants_limit, "limit_price"))
    return invalid(*problem);
  if (auto problem = check_price(o.stop_price, wants_stop, "stop_price"))
    return invalid(*problem);
  if (o.quantity.fraction_digits() > 0 &&
      !(o.type == order_type::market && o.tif == engine::time_in_force::day))
    return invalid("qty " + o.quantity.to_string() +
                   " is fractional: Alpaca takes fractional quantities on market day orders only");
  if (o.client_order_id.empty() || o.client_order_id.size() > 128)
    return invalid("client_order_id must have 1 to 128 characters, got " +
                   std::to_string(o.client_order_id.size()));

  rapidjson::StringBuffer buffer;
  writer w{buffer};
  w.StartObject();
  put(w, "symbol", o.symbol);
  put(w, "qty", o.quantity.to_string());
  put(w, "side", to_alpaca(o.order_side));
  put(w, "type", to_alpaca(o.type));
  put(w, "time_in_force", to_alpaca(o.tif));
  if (o.limit_price)
    put(w, "limit_price", o.limit_price->to_string());
  if (o.stop_price)
    put(w, "stop_price", o.stop_price->to_string());
  put(w, "client_order_id", o.client_order_id);
  w.EndObject();
  return std::string{buffer.GetString(), buffer.GetSize()};
}

std::optional<engine::order_status> map_order_status(std::string_view status, decimal filled,
                                                     std::optional<decimal> quantity) noexcept {
  using engine::order_status;
  auto working = filled.is_positive() ? order_status::partially_filled : order_status::new_;
  if (status == "accepted" || status == "pending_new" || status == "accepted_for_bidding" ||
      status == "held")
    return order_status::pending_new;
  if (status == "new" || status == "pending_replace" || status == "stopped" ||
      status == "suspended" || status == "done_for_day")
    return working;
  if (status == "partially_filled")
    return order_status::partially_filled;
  if (status == "filled")
    return order_status::filled;
  if (status == "calculated")
    return quantity && filled.is_positive() && filled >= *quantity ? order_status::filled : working;
  if (status == "pending_cancel")
    return order_status::pending_cancel;
  if (status == "canceled" || status == "replaced")
    return order_status::canceled;
  if (status == "expired")
    return order_status::expired;
  if (status == "rejected")
    return order_status::rejected;
  return std::nullopt;
}

std::expected<order_info, error> parse_order(std::string_view json) {
  auto doc = parse_json(json, "order");
  if (!doc)
    return fail(doc);
  return read_order(*doc, "");
}

std::expected<std::vector<order_info>, error> parse_orders(std::string_view json) {
  auto doc = parse_json(json, "orders");
  if (!doc)
    return fail(doc);
  if (!doc->IsArray())
    return std::unexpected(make_error(
        errc::malformed_json, "orders is " + std::string{type_name(*doc)} + ", expected an array"));
  std::vector<order_info> out;
  out.reserve(doc->Size());
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    auto o = read_order((*doc)[i], "orders[" + std::to_string(i) + "]");
    if (!o)
      return fail(o);
    out.push_back(std::move(*o));
  }
  return out;
}

std::expected<engine::balance, error> parse_account(std::string_view json) {
  auto doc = parse_json(json, "account");
  if (!doc)
    return fail(doc);
  if (!doc->IsObject())
    return std::unexpected(
        make_error(errc::malformed_json,
                   "account is " + std::string{type_name(*doc)} + ", expected an object"));
  fields f{*doc, ""};
  engine::balance b;
  BROKERD_ALPACA_TAKE(b.cash, f.required_decimal("cash", true));
  BROKERD_ALPACA_TAKE(b.equity, f.required_decimal("equity", true));
  BROKERD_ALPACA_TAKE(b.buying_power, f.required_decimal("buying_power", true));
  std::string currency;
  BROKERD_ALPACA_TAKE(currency, f.optional_string("currency"));
  if (!currency.empty())
    b.currency = std::move(currency);
  return b;
}

std::expected<engine::position_list, error> parse_positions(std::string_view json) {
  auto doc = parse_json(json, "positions");
  if (!doc)
    return fail(doc);
  if (!doc->IsArray())
    return std::unexpected(
        make_error(errc::malformed_json,
                   "positions is " + std::string{type_name(*doc)} + ", expected an array"));
  engine::position_list out;
  out.reserve(doc->Size());
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    const auto& item = (*doc)[i];
    std::string path = "positions[" + std::to_string(i) + "]";
    if (!item.IsObject())
      return std::unexpected(make_error(
          errc::bad_field, path + " is " + std::string{type_name(item)} + ", expected an object"));
    fields f{item, path};
    engine::position p;
    std::string side;
    BROKERD_ALPACA_TAKE(p.symbol, f.required_string("symbol"));
    BROKERD_ALPACA_TAKE(p.quantity, f.required_decimal("qty"));
    BROKERD_ALPACA_TAKE(p.avg_cost, f.required_decimal("avg_entry_price", true));
    BROKERD_ALPACA_TAKE(p.market_value, f.required_decimal("market_value", true));
    BROKERD_ALPACA_TAKE(side, f.optional_string("side"));
    if (side == "short" && p.quantity.is_positive())
      p.quantity = -p.quantity;
    out.push_back(std::move(p));
  }
  return out;
}

std::string api_error::to_string() const {
  std::string out = "HTTP " + std::to_string(http_status);
  if (code)
    out += ", Alpaca " + std::to_string(*code);
  if (!message.empty())
    out += ": " + message;
  return out;
}

api_error parse_api_error(unsigned http_status, std::string_view body) {
  api_error out;
  out.http_status = http_status;
  auto raw = [&] {
    auto first = body.find_first_not_of(" \t\r\n");
    auto text = first == std::string_view::npos ? std::string_view{} : body.substr(first);
    auto last = text.find_last_not_of(" \t\r\n");
    text = last == std::string_view::npos ? std::string_view{} : text.substr(0, last + 1);
    return std::string{text.substr(0, 200)};
  };
  rapidjson::Document doc;
  doc.Parse<parse_flags>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    out.message = raw();
    return out;
  }
  if (auto it = doc.FindMember("code"); it != doc.MemberEnd() && it->value.IsString()) {
    auto text = view(it->value);
    std::int64_t code = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
    if (ec == std::errc{} && end == text.data() + text.size())
      out.code = code;
  }
  if (auto it = doc.FindMember("message"); it != doc.MemberEnd() && it->value.IsString())
    out.message = std::string{view(it->value)};
  else
    out.message = raw();
  return out;
}

std::string encode_auth(std::string_view key_id, std::string_view secret_key, auth_form form) {
  rapidjson::StringBuffer buffer;
  writer w{buffer};
  w.StartObject();
  if (form == auth_form::legacy) {
    put(w, "action", "authenticate");
    w.Key("data");
    w.StartObject();
    put(w, "key_id", key_id);
    put(w, "secret_key", secret_key);
    w.EndObject();
  } else {
    put(w, "action", "auth");
    put(w, "key", key_id);
    put(w, "secret", secret_key);
  }
  w.EndObject();
  return std::string{buffer.GetString(), buffer.GetSize()};
}

std::string encode_listen(const std::vector<std::string>& streams) {
  rapidjson::StringBuffer buffer;
  writer w{buffer};
  w.StartObject();
  put(w, "action", "listen");
  w.Key("data");
  w.StartObject();
  w.Key("streams");
  w.StartArray();
  for (const auto& s : streams)
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return std::string{buffer.GetString(), buffer.GetSize()};
}

std::string_view to_string(trade_event x) noexcept {
  auto i = static_cast<std::size_t>(x);
  return i < trade_event_names.size() ? trade_event_names[i] : std::string_view{"unknown"};
}

trade_event parse_trade_event(std::string_view text) noexcept {
  auto it = std::find(trade_event_names.begin(), trade_event_names.end(), text);
  if (it == trade_event_names.end())
    return trade_event::unknown;
  return static_cast<trade_event>(it - trade_event_names.begin());
}

std::expected<stream_message, error> parse_stream_message(std::string_view frame) {
  if (frame == std::string_view{"\x01", 1})
    return heartbeat{};
  auto doc = parse_json(frame, "stream frame");
  if (!doc)
    return fail(doc);
  if (!doc->IsObject())
    return std::unexpected(
        make_error(errc::malformed_json,
                   "stream frame is " + std::string{type_name(*doc)} + ", expected an object"));
  fields top{*doc, ""};
  std::string stream;
  BROKERD_ALPACA_TAKE(stream, top.required_string("stream"));
  const auto* data = top.find("data");
  if (!data)
    return std::unexpected(make_error(errc::missing_field, "data is missing"));
  if (!data->IsObject())
    return std::unexpected(top.bad_type("data", *data, "an object"));
  fields f{*data, "data"};

  if (stream == "authorization") {
    authorization a;
    BROKERD_ALPACA_TAKE(a.status, f.required_string("status"));
    BROKERD_ALPACA_TAKE(a.message, f.optional_string("message"));
    a.authorized = a.status == "authorized";
    return a;
  }
  if (stream == "listening") {
    listening l;
    if (const auto* streams = f.find("streams")) {
      if (!streams->IsArray())
        return std::unexpected(f.bad_type("streams", *streams, "an array"));
      for (rapidjson::SizeType i = 0; i < streams->Size(); ++i) {
        const auto& s = (*streams)[i];
        if (!s.IsString())
          return std::unexpected(
              make_error(errc::bad_field, "data.streams[" + std::to_string(i) + "] is " +
                                              std::string{type_name(s)} + ", expected a string"));
        l.streams.emplace_back(view(s));
      }
    }
    return l;
  }
  if (stream == "trade_updates") {
    trade_update u;
    BROKERD_ALPACA_TAKE(u.event_text, f.required_string("event"));
    u.event = parse_trade_event(u.event_text);
    BROKERD_ALPACA_TAKE(u.execution_id, f.optional_string("execution_id"));
    BROKERD_ALPACA_TAKE(u.timestamp, f.optional_string("timestamp"));
    BROKERD_ALPACA_TAKE(u.price, f.optional_decimal("price", true));
    BROKERD_ALPACA_TAKE(u.quantity, f.optional_decimal("qty"));
    BROKERD_ALPACA_TAKE(u.position_quantity, f.optional_decimal("position_qty"));
    const auto* order = f.find("order");
    if (!order)
      return std::unexpected(make_error(errc::missing_field, "data.order is missing"));
    BROKERD_ALPACA_TAKE(u.order, read_order(*order, "data.order"));
    return u;
  }
  return std::unexpected(
      make_error(errc::unknown_stream, "stream \"" + stream.substr(0, 64) + "\" is not handled"));
}

#undef BROKERD_ALPACA_TAKE

} // namespace brokerd::actors::alpaca
