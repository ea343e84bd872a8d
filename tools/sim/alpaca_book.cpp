#include "tools/sim/alpaca_book.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <expected>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "engine/order.hpp"

namespace brokerd::sim::alpaca {

using engine::decimal;

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Longest client_order_id Alpaca accepts (§4.1).
constexpr std::size_t max_client_order_id = 128;
/// GET /v2/orders: default and largest `limit` (§4.3).
constexpr std::size_t default_list_limit = 50;
constexpr std::size_t max_list_limit = 500;

void key(json_writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void put(json_writer& w, std::string_view k, std::string_view v) {
  key(w, k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

// Without it a string literal would pick the bool overload (a standard conversion).
void put(json_writer& w, std::string_view k, const char* v) {
  put(w, k, std::string_view{v});
}

void put(json_writer& w, std::string_view k, decimal v) {
  put(w, k, v.to_string());
}

void put(json_writer& w, std::string_view k, bool v) {
  key(w, k);
  w.Bool(v);
}

void put_null(json_writer& w, std::string_view k) {
  key(w, k);
  w.Null();
}

template <class T> void put(json_writer& w, std::string_view k, const std::optional<T>& v) {
  if (v)
    put(w, k, *v);
  else
    put_null(w, k);
}

void put(json_writer& w, std::string_view k, const std::optional<book::time_point>& v) {
  if (v)
    put(w, k, format_timestamp(*v));
  else
    put_null(w, k);
}

std::string text_of(const rapidjson::StringBuffer& b) {
  return std::string{b.GetString(), b.GetSize()};
}

/// The error envelope of §4.5.
reply error(unsigned status, std::int64_t code, std::string_view message) {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  key(w, "code");
  w.Int64(code);
  put(w, "message", message);
  w.EndObject();
  return {status, text_of(b)};
}

reply invalid(std::string_view message) {
  return error(422, 40010001, message);
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t h) {
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::string format_uuid(std::uint64_t hi, std::uint64_t lo) {
  hi = (hi & ~0xf000ull) | 0x4000ull;                        // version 4
  lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull; // RFC 4122 variant
  std::array<char, 40> buf{};
  auto n = std::snprintf(buf.data(), buf.size(), "%08llx-%04llx-%04llx-%04llx-%012llx",
                         static_cast<unsigned long long>(hi >> 32),
                         static_cast<unsigned long long>((hi >> 16) & 0xffff),
                         static_cast<unsigned long long>(hi & 0xffff),
                         static_cast<unsigned long long>(lo >> 48),
                         static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return std::string{buf.data(), static_cast<std::size_t>(std::max(n, 0))};
}

/// A member of a request body as text: strings as they are, numbers in their literal form
/// (the document is parsed with numbers as strings); nothing for an absent or null member, an
/// error text for another type.
std::expected<std::optional<std::string>, std::string> member_text(const rapidjson::Value& body,
                                                                   const char* name) {
  auto it = body.FindMember(name);
  if (it == body.MemberEnd() || it->value.IsNull())
    return std::nullopt;
  if (!it->value.IsString())
    return std::unexpected(std::string{name} + " must be a string or a number");
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto at = text.find(sep);
    if (auto item = text.substr(0, at); !item.empty())
      out.push_back(item);
    if (at == std::string_view::npos)
      break;
    text.remove_prefix(at + 1);
  }
  return out;
}

} // namespace

std::string format_timestamp(std::chrono::system_clock::time_point t) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ns / 1'000'000'000);
  auto frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 48> buf{};
  auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::array<char, 16> nanos{};
  std::snprintf(nanos.data(), nanos.size(), ".%09lldZ", static_cast<long long>(frac));
  return std::string{buf.data(), n} + nanos.data();
}

bool is_uuid(std::string_view text) {
  if (text.size() != 36)
    return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return true;
}

std::string asset_id_of(std::string_view symbol) {
  return format_uuid(fnv1a(symbol, 14695981039346656037ull), fnv1a(symbol, 0x9e3779b97f4a7c15ull));
}

// -- book ----------------------------------------------------------------------------------------

book::book(const config& cfg, time_point start, std::uint64_t seed)
    : cfg_(cfg), created_(start), random_(seed), prices_(cfg.paths, cfg.default_price),
      cash_(cfg.cash) {
  account_id_ = new_uuid();
  std::array<char, 16> number{};
  std::snprintf(number.data(), number.size(), "PA3%09llu",
                static_cast<unsigned long long>(random_() % 1'000'000'000ull));
  account_number_ = number.data();
}

std::string book::new_uuid() {
  auto hi = random_();
  auto lo = random_();
  return format_uuid(hi, lo);
}

bool book::is_open(const order_rec& o) noexcept {
  return o.status == "pending_new" || o.status == "new" || o.status == "partially_filled";
}

const book::order_rec* book::find(std::string_view id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &orders_[it->second];
}

decimal book::reserve_price(const order_rec& o) const {
  if (o.terms.limit_price)
    return *o.terms.limit_price;
  if (o.terms.stop_price)
    return *o.terms.stop_price;
  return prices_.price(o.symbol);
}

decimal book::buying_power() const {
  auto bp = cash_;
  for (const auto& o : orders_)
    if (o.buy && is_open(o))
      bp = bp - multiply(o.qty - o.filled, reserve_price(o));
  return bp.is_negative() ? decimal{} : bp;
}

decimal book::qty_available(const std::string& symbol) const {
  auto it = holdings_.find(symbol);
  auto qty = it == holdings_.end() ? decimal{} : it->second.quantity;
  for (const auto& o : orders_)
    if (!o.buy && is_open(o) && o.symbol == symbol)
      qty = qty - (o.qty - o.filled);
  return qty;
}

// -- rendering -----------------------------------------------------------------------------------

std::string book::order_json(const order_rec& o) const {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "id", o.id);
  put(w, "client_order_id", o.client_order_id);
  put(w, "created_at", format_timestamp(o.created_at));
  put(w, "updated_at", format_timestamp(o.updated_at));
  put(w, "submitted_at", format_timestamp(o.created_at));
  put(w, "filled_at", o.filled_at);
  put_null(w, "expired_at");
  put(w, "canceled_at", o.canceled_at);
  put_null(w, "failed_at");
  put_null(w, "replaced_at");
  put_null(w, "replaced_by");
  put_null(w, "replaces");
  put(w, "asset_id", asset_id_of(o.symbol));
  put(w, "symbol", o.symbol);
  put(w, "asset_class", "us_equity");
  put_null(w, "notional");
  put(w, "qty", o.qty);
  put(w, "filled_qty", o.filled);
  put(w, "filled_avg_price", o.filled.is_zero() ? std::nullopt : std::optional{o.avg_price});
  put(w, "order_class", "simple");
  put(w, "order_type", o.type);
  put(w, "type", o.type);
  put(w, "side", o.buy ? "buy" : "sell");
  put(w, "time_in_force", o.time_in_force);
  put(w, "limit_price", o.terms.limit_price);
  put(w, "stop_price", o.terms.stop_price);
  put_null(w, "trail_price");
  put_null(w, "trail_percent");
  put_null(w, "hwm");
  put(w, "status", o.status);
  put(w, "extended_hours", o.extended_hours);
  put_null(w, "legs");
  put(w, "position_intent", o.position_intent);
  put_null(w, "ratio_qty");
  put_null(w, "expires_at");
  w.EndObject();
  return text_of(b);
}

std::string book::position_json(const std::string& symbol, const holding& h) const {
  auto px = prices_.price(symbol);
  auto lastday = prices_.opening_price(symbol);
  auto market_value = multiply(h.quantity, px);
  auto cost_basis = multiply(h.quantity, h.avg_cost);
  auto pl = market_value - cost_basis;
  auto intraday_base = multiply(h.quantity, lastday);
  auto intraday_pl = market_value - intraday_base;
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "asset_id", asset_id_of(symbol));
  put(w, "symbol", symbol);
  put(w, "exchange", primary_exchange_of(symbol));
  put(w, "asset_class", "us_equity");
  put(w, "asset_marginable", true);
  put(w, "qty", h.quantity);
  put(w, "qty_available", qty_available(symbol));
  put(w, "side", h.quantity.is_negative() ? "short" : "long");
  put(w, "avg_entry_price", h.avg_cost);
  put(w, "market_value", market_value);
  put(w, "cost_basis", cost_basis);
  put(w, "unrealized_pl", pl);
  put(w, "unrealized_plpc", divide(pl, absolute(cost_basis)));
  put(w, "unrealized_intraday_pl", intraday_pl);
  put(w, "unrealized_intraday_plpc", divide(intraday_pl, absolute(intraday_base)));
  put(w, "current_price", px);
  put(w, "lastday_price", lastday);
  put(w, "change_today", divide(px - lastday, lastday));
  w.EndObject();
  return text_of(b);
}

trade_update book::event(const order_rec& o, std::string_view name, time_point now,
                         std::optional<execution> fill) {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "stream", "trade_updates");
  key(w, "data");
  w.StartObject();
  put(w, "event", name);
  if (fill || name == "new")
    put(w, "execution_id", new_uuid());
  auto order = order_json(o);
  key(w, "order");
  w.RawValue(order.data(), order.size(), rapidjson::kObjectType);
  if (fill) {
    auto it = holdings_.find(o.symbol);
    put(w, "position_qty", it == holdings_.end() ? decimal{} : it->second.quantity);
    put(w, "price", fill->price);
    put(w, "qty", fill->quantity);
  } else if (name == "new") {
    for (const char* k : {"position_qty", "price", "qty"})
      put_null(w, k);
  }
  put(w, "timestamp", format_timestamp(now));
  w.EndObject();
  w.EndObject();
  return {std::string{name}, text_of(b)};
}

// -- REST ----------------------------------------------------------------------------------------

reply book::account() const {
  decimal long_value, short_value;
  for (const auto& [symbol, h] : holdings_) {
    auto value = multiply(h.quantity, prices_.price(symbol));
    if (value.is_negative())
      short_value = short_value + value;
    else
      long_value = long_value + value;
  }
  auto equity = cash_ + long_value + short_value;
  auto bp = buying_power();
  auto zero = decimal{};
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "id", account_id_);
  put(w, "account_number", account_number_);
  put(w, "status", "ACTIVE");
  put(w, "crypto_status", "ACTIVE");
  put(w, "currency", "USD");
  put(w, "cash", cash_);
  put(w, "equity", equity);
  put(w, "buying_power", bp);
  put(w, "regt_buying_power", bp);
  put(w, "daytrading_buying_power", zero);
  put(w, "non_marginable_buying_power", bp);
  put(w, "options_buying_power", bp);
  put(w, "portfolio_value", equity);
  put(w, "long_market_value", long_value);
  put(w, "short_market_value", short_value);
  put(w, "initial_margin", zero);
  put(w, "maintenance_margin", zero);
  put(w, "last_maintenance_margin", zero);
  put(w, "sma", zero);
  put(w, "last_equity", cfg_.cash);
  put(w, "multiplier", "1");
  put(w, "pattern_day_trader", false);
  key(w, "daytrade_count");
  w.Int(0);
  put(w, "trading_blocked", false);
  put(w, "transfers_blocked", false);
  put(w, "account_blocked", false);
  put(w, "trade_suspended_by_user", false);
  put(w, "shorting_enabled", false);
  put(w, "created_at", format_timestamp(created_));
  put(w, "accrued_fees", zero);
  put(w, "pending_transfer_in", zero);
  put(w, "pending_transfer_out", zero);
  put(w, "pending_reg_taf_fees", zero);
  put(w, "intraday_adjustments", zero);
  put(w, "balance_asof", format_timestamp(created_).substr(0, 10));
  key(w, "options_approved_level");
  w.Int(0);
  key(w, "options_trading_level");
  w.Int(0);
  w.EndObject();
  return {200, text_of(b)};
}

reply book::positions() const {
  std::string body = "[";
  for (const auto& [symbol, h] : holdings_) {
    if (h.quantity.is_zero())
      continue;
    if (body.size() > 1)
      body += ',';
    body += position_json(symbol, h);
  }
  body += ']';
  return {200, std::move(body)};
}

reply book::position(std::string_view symbol) const {
  auto it = std::find_if(holdings_.begin(), holdings_.end(),
                         [&](const auto& entry) { return entry.first == symbol; });
  if (it == holdings_.end() || it->second.quantity.is_zero())
    return error(404, 40410000, "position does not exist");
  return {200, position_json(it->first, it->second)};
}

outcome book::create(std::string_view body, time_point now) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseNumbersAsStringsFlag>(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject())
    return {error(400, 40010000, "request body format is invalid"), {}};

  order_rec o;
  std::map<std::string_view, std::optional<std::string>> m;
  for (const char* name : {"symbol", "qty", "notional", "side", "type", "time_in_force",
                           "limit_price", "stop_price", "trail_price", "trail_percent",
                           "client_order_id", "order_class", "position_intent"}) {
    auto v = member_text(d, name);
    if (!v)
      return {invalid(v.error()), {}};
    m[name] = std::move(*v);
  }
  auto price_of = [&](std::string_view name) -> std::expected<std::optional<decimal>, reply> {
    if (!m[name])
      return std::nullopt;
    auto p = decimal::parse(*m[name]);
    if (!p || !p->is_positive())
      return std::unexpected(invalid("invalid " + std::string{name}));
    return std::optional{*p};
  };

  if (!m["symbol"] || m["symbol"]->empty())
    return {invalid("symbol is required"), {}};
  o.symbol = *m["symbol"];
  if (!engine::validate_symbol(o.symbol))
    return {invalid("asset \"" + o.symbol + "\" not found"), {}};
  if (m["notional"])
    return {invalid("notional orders are not simulated"), {}};
  if (!m["qty"])
    return {invalid("qty or notional is required"), {}};
  auto qty = decimal::parse(*m["qty"]);
  if (!qty)
    return {invalid("invalid qty"), {}};
  if (!qty->is_positive())
    return {invalid("qty must be > 0"), {}};
  o.qty = *qty;
  if (m["side"] != "buy" && m["side"] != "sell")
    return {invalid("invalid side"), {}};
  o.buy = m["side"] == "buy";

  if (!m["type"])
    return {invalid("type is required"), {}};
  o.type = *m["type"];
  if (o.type == "market")
    o.terms.kind = order_kind::market;
  else if (o.type == "limit")
    o.terms.kind = order_kind::limit;
  else if (o.type == "stop")
    o.terms.kind = order_kind::stop;
  else if (o.type == "stop_limit")
    o.terms.kind = order_kind::stop_limit;
  else if (o.type == "trailing_stop")
    return {invalid("trailing_stop orders are not simulated"), {}};
  else
    return {invalid("invalid order type"), {}};

  if (!m["time_in_force"])
    return {invalid("time_in_force is required"), {}};
  o.time_in_force = *m["time_in_force"];
  if (o.time_in_force == "day" || o.time_in_force == "gtc")
    o.terms.rule = fill_rule::rest;
  else if (o.time_in_force == "ioc")
    o.terms.rule = fill_rule::immediate_or_cancel;
  else if (o.time_in_force == "fok")
    o.terms.rule = fill_rule::fill_or_kill;
  else if (o.time_in_force == "opg" || o.time_in_force == "cls")
    return {invalid("time_in_force " + o.time_in_force + " is not simulated"), {}};
  else
    return {invalid("invalid time_in_force"), {}};

  auto limit = price_of("limit_price");
  auto stop = price_of("stop_price");
  if (!limit)
    return {limit.error(), {}};
  if (!stop)
    return {stop.error(), {}};
  if (has_limit(o.terms.kind) && !*limit)
    return {invalid("limit_price is required"), {}};
  if (!has_limit(o.terms.kind) && *limit)
    return {invalid("limit_price must not be given for " + o.type + " orders"), {}};
  if (has_stop(o.terms.kind) && !*stop)
    return {invalid("stop_price is required"), {}};
  if (!has_stop(o.terms.kind) && *stop)
    return {invalid("stop_price must not be given for " + o.type + " orders"), {}};
  if (m["trail_price"] || m["trail_percent"])
    return {invalid("trail_price and trail_percent are for trailing_stop orders only"), {}};
  o.terms.limit_price = *limit;
  o.terms.stop_price = *stop;
  if (o.qty.fraction_digits() > 0 &&
      (o.terms.kind != order_kind::market || o.time_in_force != "day"))
    return {invalid("fractional orders must be market orders with time_in_force day"), {}};

  if (m["order_class"] && !m["order_class"]->empty() && *m["order_class"] != "simple")
    return {invalid("order_class " + *m["order_class"] + " is not simulated"), {}};
  if (auto intent = m["position_intent"]) {
    if (*intent != "buy_to_open" && *intent != "buy_to_close" && *intent != "sell_to_open" &&
        *intent != "sell_to_close")
      return {invalid("invalid position_intent"), {}};
    o.position_intent = *intent;
  }
  if (auto ext = d.FindMember("extended_hours"); ext != d.MemberEnd() && !ext->value.IsNull()) {
    if (!ext->value.IsBool())
      return {invalid("extended_hours must be a boolean"), {}};
    o.extended_hours = ext->value.GetBool();
    if (o.extended_hours &&
        (o.terms.kind != order_kind::limit ||
         (o.time_in_force != "day" && o.time_in_force != "gtc")))
      return {invalid("extended hours orders must be limit orders with time_in_force day or gtc"),
              {}};
  }

  if (m["client_order_id"]) {
    o.client_order_id = *m["client_order_id"];
    if (o.client_order_id.size() > max_client_order_id)
      return {invalid("client_order_id must be no more than 128 characters"), {}};
    if (by_client_id_.contains(o.client_order_id))
      return {invalid("client_order_id must be unique"), {}};
  }

  o.terms.buy = o.buy;
  o.terms.remaining = o.qty;
  if (o.buy) {
    auto cost = multiply(o.qty, reserve_price(o));
    auto bp = buying_power();
    if (cost > bp) {
      rapidjson::StringBuffer b;
      json_writer w{b};
      w.StartObject();
      put(w, "buying_power", bp);
      key(w, "code");
      w.Int64(40310000);
      put(w, "cost_basis", cost);
      put(w, "message", "insufficient buying power");
      w.EndObject();
      return {{403, text_of(b)}, {}};
    }
  } else if (auto available = qty_available(o.symbol); o.qty > available) {
    if (available.is_negative())
      available = {};
    return {error(403, 40310000,
                  "insufficient qty available for order (requested: " + o.qty.to_string() +
                      ", available: " + available.to_string() + ")"),
            {}};
  }

  o.id = new_uuid();
  if (o.client_order_id.empty())
    o.client_order_id = new_uuid();
  o.status = "pending_new";
  o.created_at = o.updated_at = now;
  by_id_[o.id] = orders_.size();
  by_client_id_[o.client_order_id] = orders_.size();
  ++creates_[o.client_order_id];
  orders_.push_back(std::move(o));
  working_.push_back(orders_.size() - 1);
  return {{200, order_json(orders_.back())}, {}};
}

reply book::order(std::string_view id) const {
  if (!is_uuid(id))
    return invalid("order_id is missing");
  const auto* o = find(id);
  if (!o)
    return error(404, 40410000, "order not found");
  return {200, order_json(*o)};
}

reply book::order_by_client_id(std::string_view client_order_id) const {
  auto it = by_client_id_.find(client_order_id);
  if (it == by_client_id_.end())
    return error(404, 40410000, "order not found");
  return {200, order_json(orders_[it->second])};
}

reply book::orders(const query_params& query) const {
  auto get = [&](std::string_view k, std::string_view fallback) -> std::string_view {
    auto it = query.find(k);
    return it == query.end() || it->second.empty() ? fallback : std::string_view{it->second};
  };
  auto status = get("status", "open");
  if (status != "open" && status != "closed" && status != "all")
    return invalid("invalid status");
  auto direction = get("direction", "desc");
  if (direction != "asc" && direction != "desc")
    return invalid("invalid direction");
  std::size_t limit = default_list_limit;
  if (auto text = get("limit", ""); !text.empty()) {
    auto n = decimal::parse(text);
    if (!n || n->fraction_digits() > 0 || !n->is_positive())
      return invalid("invalid limit");
    limit = std::min<std::size_t>(
        static_cast<std::size_t>(n->units() / decimal::one_units), max_list_limit);
  }
  auto symbols = split(get("symbols", ""), ',');
  auto side = get("side", "");

  std::vector<const order_rec*> picked;
  for (const auto& o : orders_) {
    bool open = is_open(o);
    if ((status == "open" && !open) || (status == "closed" && open))
      continue;
    if (!symbols.empty() && std::find(symbols.begin(), symbols.end(), o.symbol) == symbols.end())
      continue;
    if (!side.empty() && side != (o.buy ? "buy" : "sell"))
      continue;
    picked.push_back(&o);
  }
  if (direction == "desc")
    std::reverse(picked.begin(), picked.end());
  if (picked.size() > limit)
    picked.resize(limit);
  std::string body = "[";
  for (const auto* o : picked) {
    if (body.size() > 1)
      body += ',';
    body += order_json(*o);
  }
  body += ']';
  return {200, std::move(body)};
}

outcome book::cancel(std::string_view id, time_point now) {
  if (!is_uuid(id))
    return {invalid("order_id is missing"), {}};
  auto it = by_id_.find(id);
  if (it == by_id_.end())
    return {error(404, 40410000, "order not found"), {}};
  auto& o = orders_[it->second];
  if (!is_open(o))
    return {error(422, 42210000, "order is already in \"" + o.status + "\" state"), {}};
  outcome out;
  out.answer = {204, {}};
  finish_cancel(o, now, out.events);
  return out;
}

outcome book::cancel_all(time_point now) {
  outcome out;
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartArray();
  for (auto& o : orders_) {
    if (!is_open(o))
      continue;
    finish_cancel(o, now, out.events);
    w.StartObject();
    put(w, "id", o.id);
    key(w, "status");
    w.Int(200);
    w.EndObject();
  }
  w.EndArray();
  out.answer = {207, text_of(b)};
  return out;
}

void book::finish_cancel(order_rec& o, time_point now, std::vector<trade_update>& out) {
  o.status = "canceled";
  o.canceled_at = now;
  o.updated_at = now;
  out.push_back(event(o, "canceled", now));
}

// -- market --------------------------------------------------------------------------------------

decimal book::price(const std::string& symbol) const {
  return prices_.price(symbol);
}

void book::set_price(const std::string& symbol, decimal price) {
  prices_.set_price(symbol, price);
}

void book::clear_price(const std::string& symbol) {
  prices_.clear_price(symbol);
}

std::vector<trade_update> book::tick(time_point now) {
  prices_.step();
  std::vector<trade_update> out;
  for (auto i : working_) {
    auto& o = orders_[i];
    if (o.status != "pending_new")
      continue;
    o.status = "new";
    o.updated_at = now;
    out.push_back(event(o, "new", now));
  }
  if (!held_) {
    for (auto i : working_) {
      auto& o = orders_[i];
      if (!is_open(o))
        continue;
      auto px = prices_.price(o.symbol);
      o.terms.remaining = o.qty - o.filled;
      auto step = sim::match(o.terms, px, cfg_.fill_chunk);
      if (step.triggers)
        o.terms.triggered = true;
      if (step.quantity.is_positive())
        execute(o, step.quantity, px, now, out);
      if (step.cancel_rest && is_open(o))
        finish_cancel(o, now, out);
    }
  }
  std::erase_if(working_, [this](std::size_t i) { return !is_open(orders_[i]); });
  return out;
}

void book::execute(order_rec& o, decimal qty, decimal px, time_point now,
                   std::vector<trade_update>& out) {
  o.avg_price = o.filled.is_zero()
                    ? px
                    : decimal::weighted_average(o.avg_price, o.filled, px, qty).value_or(px);
  o.filled = o.filled + qty;
  o.updated_at = now;
  if (o.filled >= o.qty) {
    o.status = "filled";
    o.filled_at = now;
  } else {
    o.status = "partially_filled";
  }
  auto notional = multiply(qty, px);
  cash_ = o.buy ? cash_ - notional : cash_ + notional;
  holdings_[o.symbol].apply(o.buy, qty, px, decimal{}); // commission-free
  out.push_back(event(o, o.status == "filled" ? "fill" : "partial_fill", now, execution{qty, px}));
}

} // namespace brokerd::sim::alpaca
