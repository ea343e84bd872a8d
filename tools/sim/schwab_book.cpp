#include "tools/sim/schwab_book.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <expected>

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "engine/order.hpp"

namespace brokerd::sim::schwab {

using engine::decimal;

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// The widest orders window (§3.4: 60 days is the limit every source allows).
constexpr std::chrono::hours max_window{60 * 24};
/// GET .../orders: maxResults when absent (§3.4).
constexpr std::size_t default_max_results = 3000;

constexpr std::array<std::string_view, 4> order_types{"MARKET", "LIMIT", "STOP", "STOP_LIMIT"};
constexpr std::array<std::string_view, 4> sessions{"NORMAL", "AM", "PM", "SEAMLESS"};
constexpr std::array<std::string_view, 7> durations{
    "DAY",         "GOOD_TILL_CANCEL", "FILL_OR_KILL",     "IMMEDIATE_OR_CANCEL",
    "END_OF_WEEK", "END_OF_MONTH",     "NEXT_END_OF_MONTH"};
constexpr std::array<std::string_view, 4> instructions{"BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER"};
/// §5.
constexpr std::array<std::string_view, 21> statuses{"AWAITING_PARENT_ORDER",
                                                    "AWAITING_CONDITION",
                                                    "AWAITING_STOP_CONDITION",
                                                    "AWAITING_MANUAL_REVIEW",
                                                    "ACCEPTED",
                                                    "AWAITING_UR_OUT",
                                                    "PENDING_ACTIVATION",
                                                    "QUEUED",
                                                    "WORKING",
                                                    "REJECTED",
                                                    "PENDING_CANCEL",
                                                    "CANCELED",
                                                    "PENDING_REPLACE",
                                                    "REPLACED",
                                                    "FILLED",
                                                    "EXPIRED",
                                                    "NEW",
                                                    "AWAITING_RELEASE_TIME",
                                                    "PENDING_ACKNOWLEDGEMENT",
                                                    "PENDING_RECALL",
                                                    "UNKNOWN"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& values, std::string_view v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

void key(json_writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void put(json_writer& w, std::string_view k, std::string_view v) {
  key(w, k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void put(json_writer& w, std::string_view k, const char* v) {
  put(w, k, std::string_view{v});
}

void put(json_writer& w, std::string_view k, const std::string& v) {
  put(w, k, std::string_view{v});
}

void put(json_writer& w, std::string_view k, bool v) {
  key(w, k);
  w.Bool(v);
}

void put(json_writer& w, std::string_view k, std::int64_t v) {
  key(w, k);
  w.Int64(v);
}

/// A decimal as a JSON number ("1.0", "187.25").
void put(json_writer& w, std::string_view k, decimal v) {
  key(w, k);
  auto text = json_number(v);
  w.RawValue(text.data(), text.size(), rapidjson::kNumberType);
}

std::string text_of(const rapidjson::StringBuffer& b) {
  return std::string{b.GetString(), b.GetSize()};
}

reply invalid_account() {
  return {400, message_body("Invalid account number"), {}};
}

reply bad_order(std::string_view why) {
  return {400, message_body("A validation error occurred while processing the request.", why), {}};
}

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

/// A stable 10-digit instrumentId for `symbol`.
std::int64_t instrument_id_of(std::string_view symbol) {
  return static_cast<std::int64_t>(1'000'000'000ull + fnv1a(symbol) % 9'000'000'000ull);
}

/// A member of a request object as text: strings as they are, numbers in their literal form
/// (the document is parsed with numbers as strings); nothing for an absent or null member, an
/// error text for another type.
std::expected<std::optional<std::string>, std::string> member_text(const rapidjson::Value& v,
                                                                   const char* name) {
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || it->value.IsNull())
    return std::nullopt;
  if (!it->value.IsString())
    return std::unexpected(std::string{name} + " must be a string or a number");
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

/// Schwab's price precision (§4): at most two decimals at $1 and above, four below.
bool precise_enough(decimal price) {
  return price >= decimal::from_units(decimal::one_units) ? price.fraction_digits() <= 2
                                                          : price.fraction_digits() <= 4;
}

constexpr std::string_view precision_rule = "Orders above $1 can be entered in no more than two "
                                            "decimals; orders below $1, no more than four "
                                            "decimals.";

} // namespace

std::string account_hash_of(std::string_view account_number) {
  std::string input = "brokerd-schwab-sim:" + std::string{account_number};
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(input.data(), input.size(), md.data(), &n, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

// -- book ----------------------------------------------------------------------------------------

book::book(const config& cfg, std::uint64_t seed)
    : cfg_(cfg), random_(seed), hash_(account_hash_of(cfg.account_number)),
      prices_(cfg.paths, cfg.default_price), cash_(cfg.cash),
      next_order_id_(
          static_cast<std::int64_t>(1'000'000'000'000ull + random_() % 8'000'000'000'000ull)),
      next_activity_id_(
          static_cast<std::int64_t>(10'000'000'000ull + random_() % 80'000'000'000ull)) {}

bool book::is_terminal(const order_rec& o) noexcept {
  return o.status == "FILLED" || o.status == "CANCELED" || o.status == "REJECTED";
}

bool book::is_buy(const order_rec& o) noexcept {
  return o.instruction == "BUY" || o.instruction == "BUY_TO_COVER";
}

std::optional<std::size_t> book::index_of(std::string_view id) const {
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  if (id.empty() || ec != std::errc{} || ptr != id.data() + id.size())
    return std::nullopt;
  // Ids count up in creation order.
  auto it = std::lower_bound(orders_.begin(), orders_.end(), n,
                             [](const order_rec& o, std::int64_t v) { return o.id < v; });
  if (it == orders_.end() || it->id != n)
    return std::nullopt;
  return static_cast<std::size_t>(it - orders_.begin());
}

decimal book::reserve_price(const order_rec& o) const {
  if (o.terms.limit_price)
    return *o.terms.limit_price;
  if (o.terms.stop_price)
    return *o.terms.stop_price;
  return prices_.price(o.symbol);
}

decimal book::cash_available() const {
  auto available = cash_;
  for (const auto& o : orders_)
    if (is_buy(o) && (o.status == "WORKING" || o.status == "PENDING_CANCEL"))
      available = available - multiply(o.quantity - o.filled, reserve_price(o));
  return available.is_negative() ? decimal{} : available;
}

decimal book::shares_available(const std::string& symbol) const {
  auto it = holdings_.find(symbol);
  auto qty = it == holdings_.end() ? decimal{} : it->second.quantity;
  for (const auto& o : orders_)
    if (!is_buy(o) && o.symbol == symbol && (o.status == "WORKING" || o.status == "PENDING_CANCEL"))
      qty = qty - (o.quantity - o.filled);
  return qty;
}

// -- rendering -----------------------------------------------------------------------------------

std::string book::order_json(const order_rec& o) const {
  bool terminal = is_terminal(o);
  bool cancelable = !terminal && o.status != "PENDING_CANCEL";
  // §5: CANCELED and REJECTED orders show remainingQuantity 0 whatever was filled.
  auto remaining =
      (o.status == "CANCELED" || o.status == "REJECTED") ? decimal{} : o.quantity - o.filled;
  auto instrument_id = instrument_id_of(o.symbol);
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "session", o.session);
  put(w, "duration", o.duration);
  put(w, "orderType", o.order_type);
  put(w, "complexOrderStrategyType", "NONE");
  put(w, "quantity", o.quantity);
  put(w, "filledQuantity", o.filled);
  put(w, "remainingQuantity", remaining);
  put(w, "requestedDestination", "AUTO");
  if (o.terms.limit_price)
    put(w, "price", *o.terms.limit_price);
  if (o.terms.stop_price)
    put(w, "stopPrice", *o.terms.stop_price);
  key(w, "orderLegCollection");
  w.StartArray();
  w.StartObject();
  put(w, "orderLegType", "EQUITY");
  put(w, "legId", std::int64_t{1});
  key(w, "instrument");
  w.StartObject();
  put(w, "assetType", "EQUITY");
  put(w, "symbol", o.symbol);
  put(w, "instrumentId", instrument_id);
  w.EndObject();
  put(w, "instruction", o.instruction);
  put(w, "positionEffect",
      o.instruction == "BUY" || o.instruction == "SELL_SHORT" ? "OPENING" : "CLOSING");
  put(w, "quantity", o.quantity);
  w.EndObject();
  w.EndArray();
  put(w, "orderStrategyType", "SINGLE");
  put(w, "orderId", o.id);
  put(w, "cancelable", cancelable);
  put(w, "editable", cancelable);
  put(w, "status", o.status);
  if (o.status_description)
    put(w, "statusDescription", *o.status_description);
  put(w, "enteredTime", format_time(o.entered));
  if (o.closed)
    put(w, "closeTime", format_time(*o.closed));
  // §5: a number here, although the account endpoints send a string.
  key(w, "accountNumber");
  w.RawValue(cfg_.account_number.data(), cfg_.account_number.size(), rapidjson::kNumberType);
  if (!o.activities.empty()) {
    key(w, "orderActivityCollection");
    w.StartArray();
    for (const auto& a : o.activities) {
      w.StartObject();
      put(w, "activityType", "EXECUTION");
      put(w, "activityId", a.id);
      put(w, "executionType", a.execution_type);
      put(w, "quantity", a.quantity);
      put(w, "orderRemainingQuantity", a.remaining);
      if (a.execution_type == "FILL") {
        key(w, "executionLegs");
        w.StartArray();
        w.StartObject();
        put(w, "legId", std::int64_t{1});
        put(w, "quantity", a.quantity);
        put(w, "mismarkedQuantity", decimal{});
        put(w, "price", a.price);
        put(w, "time", format_time(a.time));
        put(w, "instrumentId", instrument_id);
        w.EndObject();
        w.EndArray();
      }
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  return text_of(b);
}

std::string book::account_json(bool with_positions) const {
  decimal long_value;
  for (const auto& [symbol, h] : holdings_)
    if (h.quantity.is_positive())
      long_value = long_value + multiply(h.quantity, prices_.price(symbol));
  auto liquidation = cash_ + long_value;
  auto available = cash_available();
  auto zero = decimal{};
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  key(w, "securitiesAccount");
  w.StartObject();
  put(w, "type", "CASH");
  put(w, "accountNumber", cfg_.account_number);
  put(w, "roundTrips", std::int64_t{0});
  put(w, "isDayTrader", false);
  put(w, "isClosingOnlyRestricted", false);
  put(w, "pfcbFlag", false);
  bool any = std::any_of(holdings_.begin(), holdings_.end(),
                         [](const auto& entry) { return !entry.second.quantity.is_zero(); });
  if (with_positions && any) {
    key(w, "positions");
    w.StartArray();
    for (const auto& [symbol, h] : holdings_) {
      if (h.quantity.is_zero())
        continue;
      auto px = prices_.price(symbol);
      auto previous = prices_.opening_price(symbol);
      auto market_value = multiply(h.quantity, px);
      auto day_pl = multiply(h.quantity, px - previous);
      auto day_base = multiply(h.quantity, previous);
      auto open_pl = market_value - multiply(h.quantity, h.avg_cost);
      w.StartObject();
      put(w, "shortQuantity", zero);
      put(w, "averagePrice", h.avg_cost);
      put(w, "currentDayProfitLoss", day_pl);
      put(w, "currentDayProfitLossPercentage",
          round_to(multiply(divide(day_pl, absolute(day_base)),
                            decimal::from_units(100 * decimal::one_units)),
                   2));
      put(w, "longQuantity", h.quantity);
      put(w, "settledLongQuantity", zero);
      put(w, "settledShortQuantity", zero);
      key(w, "instrument");
      w.StartObject();
      put(w, "assetType", "EQUITY");
      put(w, "symbol", symbol);
      put(w, "instrumentId", instrument_id_of(symbol));
      put(w, "netChange", px - previous);
      w.EndObject();
      put(w, "marketValue", market_value);
      put(w, "maintenanceRequirement", zero);
      put(w, "averageLongPrice", h.avg_cost);
      put(w, "taxLotAverageLongPrice", h.avg_cost);
      put(w, "longOpenProfitLoss", open_pl);
      put(w, "previousSessionLongQuantity", zero);
      put(w, "currentDayCost", multiply(h.quantity, h.avg_cost));
      w.EndObject();
    }
    w.EndArray();
  }
  key(w, "initialBalances");
  w.StartObject();
  put(w, "accruedInterest", zero);
  put(w, "cashAvailableForTrading", cfg_.cash);
  put(w, "cashAvailableForWithdrawal", cfg_.cash);
  put(w, "cashBalance", cfg_.cash);
  put(w, "bondValue", zero);
  put(w, "liquidationValue", cfg_.cash);
  put(w, "longStockValue", zero);
  put(w, "moneyMarketFund", zero);
  put(w, "mutualFundValue", zero);
  put(w, "unsettledCash", zero);
  put(w, "pendingDeposits", zero);
  put(w, "accountValue", cfg_.cash);
  w.EndObject();
  key(w, "currentBalances");
  w.StartObject();
  put(w, "accruedInterest", zero);
  put(w, "cashBalance", cash_);
  put(w, "cashAvailableForTrading", available);
  put(w, "cashAvailableForWithdrawal", available);
  put(w, "totalCash", cash_);
  put(w, "unsettledCash", zero);
  put(w, "longMarketValue", long_value);
  put(w, "shortMarketValue", zero);
  put(w, "longNonMarginableMarketValue", long_value);
  put(w, "cashCall", zero);
  put(w, "pendingDeposits", zero);
  put(w, "savings", zero);
  put(w, "moneyMarketFund", zero);
  put(w, "mutualFundValue", zero);
  put(w, "bondValue", zero);
  put(w, "liquidationValue", liquidation);
  w.EndObject();
  key(w, "projectedBalances");
  w.StartObject();
  put(w, "cashAvailableForTrading", available);
  put(w, "cashAvailableForWithdrawal", available);
  w.EndObject();
  w.EndObject();
  key(w, "aggregatedBalance");
  w.StartObject();
  put(w, "currentLiquidationValue", liquidation);
  put(w, "liquidationValue", liquidation);
  w.EndObject();
  w.EndObject();
  return text_of(b);
}

// -- Trader API ----------------------------------------------------------------------------------

reply book::account_numbers() const {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartArray();
  w.StartObject();
  put(w, "accountNumber", cfg_.account_number);
  put(w, "hashValue", hash_);
  w.EndObject();
  w.EndArray();
  return {200, text_of(b), {}};
}

reply book::account(std::string_view hash, bool positions) const {
  if (hash != hash_)
    return invalid_account();
  return {200, account_json(positions), {}};
}

reply book::accounts(bool positions) const {
  return {200, "[" + account_json(positions) + "]", {}};
}

reply book::create(std::string_view hash, std::string_view body, time_point now) {
  if (hash != hash_)
    return invalid_account();
  rapidjson::Document d;
  d.Parse<rapidjson::kParseNumbersAsStringsFlag>(body.data(), body.size());
  if (d.HasParseError() || !d.IsObject())
    return bad_order("the request body is not a JSON object");

  order_rec o;
  std::map<std::string_view, std::optional<std::string>> m;
  for (const char* name :
       {"orderType", "session", "duration", "orderStrategyType", "price", "stopPrice"}) {
    auto v = member_text(d, name);
    if (!v)
      return bad_order(v.error());
    m[name] = std::move(*v);
  }
  if (!m["orderType"] || !one_of(order_types, *m["orderType"]))
    return bad_order("orderType must be MARKET, LIMIT, STOP or STOP_LIMIT");
  o.order_type = *m["orderType"];
  o.terms.kind = o.order_type == "MARKET"  ? order_kind::market
                 : o.order_type == "LIMIT" ? order_kind::limit
                 : o.order_type == "STOP"  ? order_kind::stop
                                           : order_kind::stop_limit;
  if (!m["session"] || !one_of(sessions, *m["session"]))
    return bad_order("session must be NORMAL, AM, PM or SEAMLESS");
  o.session = *m["session"];
  if (!m["duration"] || !one_of(durations, *m["duration"]))
    return bad_order("duration is missing or not a valid value");
  o.duration = *m["duration"];
  o.terms.rule = o.duration == "FILL_OR_KILL"          ? fill_rule::fill_or_kill
                 : o.duration == "IMMEDIATE_OR_CANCEL" ? fill_rule::immediate_or_cancel
                                                       : fill_rule::rest;
  if (!m["orderStrategyType"])
    return bad_order("orderStrategyType is required");
  if (*m["orderStrategyType"] != "SINGLE")
    return bad_order("orderStrategyType " + *m["orderStrategyType"] + " is not simulated");

  auto price_of = [&](std::string_view name) -> std::expected<std::optional<decimal>, reply> {
    if (!m[name])
      return std::nullopt;
    auto p = decimal::parse(*m[name]);
    if (!p || !p->is_positive())
      return std::unexpected(bad_order(std::string{name} + " must be a positive number"));
    return std::optional{*p};
  };
  auto limit = price_of("price");
  auto stop = price_of("stopPrice");
  if (!limit)
    return limit.error();
  if (!stop)
    return stop.error();
  if (has_limit(o.terms.kind) != limit->has_value())
    return bad_order(has_limit(o.terms.kind) ? "price is required for " + o.order_type
                                             : "price must not be given for " + o.order_type);
  if (has_stop(o.terms.kind) != stop->has_value())
    return bad_order(has_stop(o.terms.kind) ? "stopPrice is required for " + o.order_type
                                            : "stopPrice must not be given for " + o.order_type);
  o.terms.limit_price = *limit;
  o.terms.stop_price = *stop;

  auto legs = d.FindMember("orderLegCollection");
  if (legs == d.MemberEnd() || !legs->value.IsArray() || legs->value.Size() == 0)
    return bad_order("orderLegCollection must hold one leg");
  if (legs->value.Size() != 1)
    return bad_order("orders with more than one leg are not simulated");
  const auto& leg = legs->value[0];
  if (!leg.IsObject())
    return bad_order("a leg must be an object");
  auto instruction = member_text(leg, "instruction");
  if (!instruction || !*instruction || !one_of(instructions, **instruction))
    return bad_order("instruction must be BUY, SELL, SELL_SHORT or BUY_TO_COVER");
  o.instruction = **instruction;
  auto quantity = member_text(leg, "quantity");
  std::optional<decimal> qty;
  if (quantity && *quantity)
    if (auto parsed = decimal::parse(**quantity))
      qty = *parsed;
  if (!qty || !qty->is_positive())
    return bad_order("quantity must be a positive number");
  if (qty->fraction_digits() > 0)
    return bad_order("fractional quantities are not supported");
  o.quantity = *qty;
  auto instrument = leg.FindMember("instrument");
  if (instrument == leg.MemberEnd() || !instrument->value.IsObject())
    return bad_order("instrument is required");
  auto symbol = member_text(instrument->value, "symbol");
  auto asset_type = member_text(instrument->value, "assetType");
  if (!symbol || !*symbol || (*symbol)->empty())
    return bad_order("instrument.symbol is required");
  if (!asset_type || !*asset_type || **asset_type != "EQUITY")
    return bad_order("instrument.assetType must be EQUITY");
  o.symbol = **symbol;
  if (!engine::validate_symbol(o.symbol))
    return bad_order("instrument.symbol " + o.symbol + " is not valid");

  for (auto p : {o.terms.limit_price, o.terms.stop_price})
    if (p && !precise_enough(*p))
      o.rejection = std::string{precision_rule};
  o.terms.buy = is_buy(o);
  o.terms.remaining = o.quantity;
  o.id = next_order_id_++;
  o.status = "PENDING_ACTIVATION";
  // Whole seconds, as Schwab shows it: the list window filters on the time it shows.
  o.entered = std::chrono::floor<std::chrono::seconds>(now);

  auto fingerprint =
      o.instruction + " " + o.quantity.to_string() + " " + o.symbol + " " + o.order_type;
  if (o.terms.limit_price)
    fingerprint += " " + o.terms.limit_price->to_string();
  if (o.terms.stop_price)
    fingerprint += " stop " + o.terms.stop_price->to_string();
  fingerprint += " " + o.duration + " " + o.session;
  ++creates_[fingerprint];

  auto path = "/trader/v1/accounts/" + hash_ + "/orders/" + std::to_string(o.id);
  orders_.push_back(std::move(o));
  return {201, {}, {{"Location", path}}};
}

reply book::order(std::string_view hash, std::string_view id) const {
  if (hash != hash_)
    return invalid_account();
  auto at = index_of(id);
  if (!at)
    return {404, message_body("Order not found"), {}};
  return {200, order_json(orders_[*at]), {}};
}

reply book::orders(std::optional<std::string_view> hash, const form_fields& query,
                   time_point now) const {
  if (hash && *hash != hash_)
    return invalid_account();
  auto from_text = field(query, "fromEnteredTime");
  auto to_text = field(query, "toEnteredTime");
  if (!from_text || !to_text)
    return {400, message_body("fromEnteredTime and toEnteredTime are required"), {}};
  auto from = parse_time(*from_text);
  auto to = parse_time(*to_text);
  if (!from || !to)
    return {400,
            message_body("fromEnteredTime and toEnteredTime must be ISO-8601 date-times, e.g. "
                         "yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
            {}};
  if (*from > *to)
    return {400, message_body("fromEnteredTime must not be after toEnteredTime"), {}};
  if (*to - *from > max_window || *from < now - max_window)
    return {400, message_body("the window must lie within 60 days from today's date"), {}};
  auto status = field(query, "status");
  if (status && !one_of(statuses, *status))
    return {400, message_body("status is not a valid order status"), {}};
  std::size_t max_results = default_max_results;
  if (auto text = field(query, "maxResults")) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || ptr != text->data() + text->size() || n == 0)
      return {400, message_body("maxResults must be a positive integer"), {}};
    max_results = n;
  }
  std::string body = "[";
  std::size_t listed = 0;
  for (auto it = orders_.rbegin(); it != orders_.rend() && listed < max_results; ++it) {
    if (it->entered < *from || it->entered > *to || (status && it->status != *status))
      continue;
    if (listed++ > 0)
      body += ',';
    body += order_json(*it);
  }
  body += ']';
  return {200, std::move(body), {}};
}

reply book::cancel(std::string_view hash, std::string_view id) {
  if (hash != hash_)
    return invalid_account();
  auto at = index_of(id);
  if (!at)
    return {404, message_body("Order not found"), {}};
  auto* o = &orders_[*at];
  if (is_terminal(*o) || o->status == "PENDING_CANCEL")
    return {400,
            message_body("Order " + std::to_string(o->id) + " is " + o->status +
                         " and cannot be canceled"),
            {}};
  o->status = "PENDING_CANCEL";
  return {200, {}, {}};
}

// -- market --------------------------------------------------------------------------------------

void book::set_price(const std::string& symbol, decimal price) {
  prices_.set_price(symbol, price);
}

void book::clear_price(const std::string& symbol) {
  prices_.clear_price(symbol);
}

std::optional<std::string> book::activation_check(const order_rec& o) const {
  if (o.rejection)
    return o.rejection;
  if (o.instruction == "SELL_SHORT")
    return "Short selling is not allowed in a cash account.";
  if (o.instruction == "BUY_TO_COVER")
    return "There is no short position in " + o.symbol + " to cover.";
  if (o.instruction == "BUY") {
    if (multiply(o.quantity, reserve_price(o)) > cash_available())
      return std::string{"Insufficient funds: the order exceeds the cash available for trading."};
  } else if (o.quantity > shares_available(o.symbol)) {
    return "Insufficient shares: the account holds too few shares of " + o.symbol +
           " not already in open sell orders.";
  }
  return std::nullopt;
}

void book::close_canceled(order_rec& o, time_point now) {
  o.status = "CANCELED";
  o.closed = now;
  o.activities.push_back(
      {next_activity_id_++, "CANCELED", o.quantity - o.filled, decimal{}, decimal{}, now});
}

void book::tick(time_point now) {
  prices_.step();
  for (auto& o : orders_) {
    if (o.status == "PENDING_CANCEL") {
      close_canceled(o, now);
    } else if (o.status == "PENDING_ACTIVATION") {
      if (auto why = activation_check(o)) {
        o.status = "REJECTED";
        o.status_description = *why;
        o.closed = now;
      } else {
        o.status = "WORKING";
      }
    }
  }
  if (held_)
    return;
  for (auto& o : orders_) {
    if (o.status != "WORKING")
      continue;
    auto px = prices_.price(o.symbol);
    o.terms.remaining = o.quantity - o.filled;
    auto step = sim::match(o.terms, px, cfg_.fill_chunk);
    if (step.triggers)
      o.terms.triggered = true;
    if (step.quantity.is_positive())
      execute(o, step.quantity, px, now);
    if (step.cancel_rest && o.status == "WORKING")
      close_canceled(o, now);
  }
}

void book::execute(order_rec& o, decimal qty, decimal px, time_point now) {
  o.filled = o.filled + qty;
  auto remaining = o.quantity - o.filled;
  o.activities.push_back({next_activity_id_++, "FILL", qty, remaining, px, now});
  if (remaining.is_zero()) {
    o.status = "FILLED";
    o.closed = now;
  }
  auto notional = multiply(qty, px);
  bool buy = is_buy(o);
  cash_ = buy ? cash_ - notional : cash_ + notional;
  holdings_[o.symbol].apply(buy, qty, px, decimal{}); // commission-free
}

} // namespace brokerd::sim::schwab
