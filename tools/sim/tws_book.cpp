#include "tools/sim/tws_book.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <limits>

namespace brokerd::sim::tws {

using engine::decimal;
using sim::absolute;
using sim::divide;
using sim::multiply;
using sim::primary_exchange_of;
using sim::round_to;

namespace {

decimal units(std::int64_t whole, std::int64_t fraction_units = 0) {
  return decimal::from_units(whole * decimal::one_units + fraction_units);
}

/// "yyyymmdd hh:mm:ss UTC", the execution time as TWS prints it (§4.8), in UTC.
std::string format_exec_time(book::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 40> buf{};
  auto n = std::strftime(buf.data(), buf.size(), "%Y%m%d %H:%M:%S UTC", &tm);
  return std::string{buf.data(), n};
}

/// Parses "yyyymmdd hh:mm:ss" or "yyyymmdd-hh:mm:ss" (a trailing zone is ignored) as UTC.
std::optional<book::time_point> parse_filter_time(std::string_view text) {
  if (text.size() < 17 || (text[8] != ' ' && text[8] != '-') || text[11] != ':' || text[14] != ':')
    return std::nullopt;
  auto number = [&](std::size_t at, std::size_t len) -> std::optional<int> {
    int v = 0;
    auto [ptr, ec] = std::from_chars(text.data() + at, text.data() + at + len, v);
    if (ec != std::errc{} || ptr != text.data() + at + len)
      return std::nullopt;
    return v;
  };
  auto y = number(0, 4), mo = number(4, 2), d = number(6, 2);
  auto h = number(9, 2), mi = number(12, 2), s = number(15, 2);
  if (!y || !mo || !d || !h || !mi || !s)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *s;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::vector<std::string_view> split_tags(std::string_view tags) {
  std::vector<std::string_view> out;
  while (!tags.empty()) {
    auto comma = tags.find(',');
    auto item = tags.substr(0, comma);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end())
      out.push_back(item);
    if (comma == std::string_view::npos)
      break;
    tags.remove_prefix(comma + 1);
  }
  return out;
}

struct known_stock {
  std::string_view symbol;
  std::int32_t con_id;
};

constexpr std::array<known_stock, 10> known_stocks{{{"AAPL", 265598},
                                                    {"MSFT", 272093},
                                                    {"AMZN", 3691937},
                                                    {"GOOG", 208813720},
                                                    {"NVDA", 4815747},
                                                    {"TSLA", 76792991},
                                                    {"QQQ", 320227571},
                                                    {"SPY", 756733},
                                                    {"IBM", 8314},
                                                    {"JPM", 1520593}}};

/// The venue an execution reports (IB names the exchange, never SMART).
std::string_view venue_of(std::string_view symbol) {
  auto primary = primary_exchange_of(symbol);
  return primary == "NASDAQ" ? std::string_view{"ISLAND"} : primary;
}

ibkr::error_message order_error(std::int32_t id, std::int32_t code, std::string text) {
  ibkr::error_message e;
  e.request_id = id;
  e.code = code;
  e.message = std::move(text);
  return e;
}

bool is_stop(std::string_view type) {
  return type == "STP" || type == "STP LMT";
}
bool is_limit(std::string_view type) {
  return type == "LMT" || type == "STP LMT";
}

/// What the simulator refuses in a placeOrder: the code and text of the error, or nothing.
std::optional<std::pair<std::int32_t, std::string>> validate(const ibkr::place_order& r,
                                                             const config& cfg) {
  auto invalid = [](std::string why) {
    return std::pair<std::int32_t, std::string>{321, "Error validating request.-'bW' : cause - " +
                                                         std::move(why)};
  };
  auto rejected = [](std::string why) {
    return std::pair<std::int32_t, std::string>{201, "Order rejected - reason:" + std::move(why)};
  };
  const auto& c = r.instrument;
  if (c.symbol.empty())
    return invalid("The contract's symbol is missing");
  if (c.sec_type.empty())
    return invalid("The contract's security type is missing");
  if (c.exchange.empty())
    return invalid("Missing order exchange");
  if (c.currency.empty())
    return invalid("The contract's currency is missing");
  if (r.action != "BUY" && r.action != "SELL" && r.action != "SSHORT")
    return invalid("Invalid action '" + r.action + "'");
  if (!r.total_quantity.is_positive())
    return invalid("The order quantity must be positive");
  if (!r.transmit)
    return invalid("Orders with transmit=0 (staged in TWS) are not simulated");
  if (!r.account.empty() && r.account != cfg.account)
    return invalid("Account " + r.account + " is not managed by this login");
  if (r.e_trade_only)
    return std::pair<std::int32_t, std::string>{
        10268, "The 'EtradeOnly' order attribute is not supported."};
  if (r.firm_quote_only)
    return std::pair<std::int32_t, std::string>{
        10269, "The 'firmQuoteOnly' order attribute is not supported."};
  if (c.sec_type != "STK")
    return rejected("The simulator trades STK contracts only, not " + c.sec_type);
  if (c.currency != "USD")
    return rejected("The simulator trades USD stocks only");
  const auto& t = r.order_type;
  if (t != "MKT" && t != "LMT" && t != "STP" && t != "STP LMT")
    return rejected("Order type " + t + " is not simulated");
  if (is_limit(t) && (!r.limit_price || !r.limit_price->is_positive()))
    return invalid("The limit price is missing or not positive for a " + t + " order");
  if (is_stop(t) && (!r.aux_price || !r.aux_price->is_positive()))
    return invalid("The stop price (auxPrice) is missing or not positive for a " + t + " order");
  if (!r.tif.empty() && r.tif != "DAY" && r.tif != "GTC" && r.tif != "IOC" && r.tif != "FOK")
    return rejected("Time in force " + r.tif + " is not simulated");
  if (r.parent_id != 0)
    return rejected("Child orders (parentId) are not simulated");
  if (r.what_if)
    return rejected("What-if orders are not simulated");
  if (r.blocks.uses_advanced_features())
    return rejected("Combo, algo, scale, hedge, pegged and conditional orders are not simulated");
  return std::nullopt;
}

} // namespace

std::string format_account_time(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 16> buf{};
  auto n = std::strftime(buf.data(), buf.size(), "%H:%M", &tm);
  return std::string{buf.data(), n};
}

std::int32_t con_id_of(std::string_view symbol) {
  for (const auto& k : known_stocks)
    if (k.symbol == symbol)
      return k.con_id;
  std::uint32_t h = 2166136261u; // FNV-1a
  for (char c : symbol) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return static_cast<std::int32_t>(100'000'000u + h % 900'000'000u);
}

book::book(const config& cfg, time_point start)
    : cfg_(cfg), prices_(cfg.paths, cfg.default_price), cash_(cfg.cash) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(start.time_since_epoch()).count();
  exec_prefix_ = static_cast<std::uint32_t>(secs);
}

// -- ids -----------------------------------------------------------------------------------------

std::int32_t book::next_valid_id(std::int32_t client_id) const {
  auto it = highest_id_.find(client_id);
  if (it == highest_id_.end())
    return cfg_.first_order_id;
  return std::max(cfg_.first_order_id, it->second + 1);
}

void book::rollback_next_valid_id(std::int32_t client_id, std::int32_t next) {
  highest_id_[client_id] = next - 1;
}

// -- requests ------------------------------------------------------------------------------------

bool book::is_open(const order_rec& o) const noexcept {
  return o.status == "PreSubmitted" || o.status == "Submitted";
}

std::optional<std::size_t> book::find(std::int32_t client_id, std::int32_t order_id) const {
  auto it = index_.find({client_id, order_id});
  if (it == index_.end())
    return std::nullopt;
  return it->second;
}

deliveries book::place(std::int32_t client_id, const ibkr::place_order& request) {
  deliveries out;
  auto id = request.order_id;
  auto reply = [&](std::int32_t code, std::string text) {
    out.push_back({client_id, order_error(id, code, std::move(text))});
  };
  if (auto existing = find(client_id, id)) {
    const auto& o = orders_[*existing];
    if (is_open(o))
      return modify(*existing, request);
    if (o.status == "Filled") {
      reply(104, "Can't modify a filled order");
    } else {
      ++duplicates_;
      reply(103, "Duplicate order id");
    }
    return out;
  }
  auto highest = highest_id_.find(client_id);
  if (id <= 0 || (highest != highest_id_.end() && id <= highest->second) ||
      id < cfg_.first_order_id) {
    ++duplicates_;
    reply(103, "Duplicate order id");
    return out;
  }
  highest_id_[client_id] = id; // consumed, accepted or not (§8)
  if (auto refusal = validate(request, cfg_)) {
    reply(refusal->first, std::move(refusal->second));
    return out;
  }
  order_rec o;
  o.client_id = client_id;
  o.perm_id = next_perm_id_++;
  o.request = request;
  if (o.request.tif.empty())
    o.request.tif = "DAY";
  if (o.request.action == "SSHORT")
    o.request.action = "SELL";
  o.request.account = cfg_.account;
  o.status = is_stop(request.order_type) ? "PreSubmitted" : "Submitted";
  index_[{client_id, id}] = orders_.size();
  working_.push_back(orders_.size());
  orders_.push_back(std::move(o));
  ++orders_placed_;
  if (!request.order_ref.empty())
    ++placements_[request.order_ref];
  out.push_back({client_id, render_open_order(orders_.back())});
  out.push_back({client_id, render_status(orders_.back())});
  return out;
}

deliveries book::modify(std::size_t index, const ibkr::place_order& request) {
  deliveries out;
  auto& o = orders_[index];
  auto reply = [&](std::int32_t code, std::string text) {
    out.push_back({o.client_id, order_error(request.order_id, code, std::move(text))});
  };
  if (auto refusal = validate(request, cfg_)) {
    reply(refusal->first, std::move(refusal->second));
    return out;
  }
  auto action = request.action == "SSHORT" ? std::string{"SELL"} : request.action;
  if (request.instrument.symbol != o.request.instrument.symbol || action != o.request.action ||
      request.total_quantity <= o.filled) {
    reply(105, "Order being modified does not match original order");
    return out;
  }
  auto& r = o.request;
  r.total_quantity = request.total_quantity;
  r.order_type = request.order_type;
  r.limit_price = request.limit_price;
  r.aux_price = request.aux_price;
  r.tif = request.tif.empty() ? r.tif : request.tif;
  r.outside_rth = request.outside_rth;
  r.order_ref = request.order_ref;
  if (!is_stop(r.order_type))
    o.triggered = false;
  o.status = is_stop(r.order_type) && !o.triggered ? "PreSubmitted" : "Submitted";
  out.push_back({o.client_id, render_open_order(o)});
  out.push_back({o.client_id, render_status(o)});
  return out;
}

deliveries book::cancel(std::int32_t client_id, std::int32_t order_id) {
  deliveries out;
  auto index = find(client_id, order_id);
  if (!index) {
    out.push_back({client_id, order_error(order_id, 10147,
                                          "OrderId " + std::to_string(order_id) +
                                              " that needs to be cancelled is not found.")});
    return out;
  }
  auto& o = orders_[*index];
  if (!is_open(o)) {
    out.push_back(
        {client_id, order_error(order_id, 10148,
                                "OrderId " + std::to_string(order_id) +
                                    " that needs to be cancelled cannot be cancelled, state: " +
                                    o.status + ".")});
    return out;
  }
  finish_cancel(*index, out);
  out.push_back({client_id, order_error(order_id, 202, "Order Canceled - reason:")});
  return out;
}

void book::finish_cancel(std::size_t index, deliveries& out) {
  auto& o = orders_[index];
  o.status = "Cancelled";
  out.push_back({o.client_id, render_status(o)});
}

std::vector<ibkr::server_message> book::open_orders(std::optional<std::int32_t> client_id) const {
  std::vector<ibkr::server_message> out;
  for (const auto& o : orders_) {
    if (!is_open(o) || (client_id && o.client_id != *client_id))
      continue;
    out.emplace_back(render_open_order(o));
    out.emplace_back(render_status(o));
  }
  return out;
}

std::vector<ibkr::server_message> book::executions(const ibkr::req_executions& f) const {
  std::vector<ibkr::server_message> out;
  auto since = parse_filter_time(f.time);
  std::string side = f.side;
  if (side == "BUY")
    side = "BOT";
  else if (side == "SELL")
    side = "SLD";
  for (const auto& e : executions_) {
    const auto& d = e.details;
    if (f.client_id != 0 && d.client_id != f.client_id)
      continue;
    if (!f.account.empty() && d.account != f.account)
      continue;
    if (since && e.time < *since)
      continue;
    if (!f.symbol.empty() && d.instrument.symbol != f.symbol)
      continue;
    if (!f.sec_type.empty() && d.instrument.sec_type != f.sec_type)
      continue;
    if (!f.exchange.empty() && d.exchange != f.exchange &&
        orders_[e.order_index].request.instrument.exchange != f.exchange)
      continue;
    if (!side.empty() && d.side != side)
      continue;
    auto copy = d;
    copy.req_id = f.req_id;
    out.emplace_back(std::move(copy));
    out.emplace_back(e.commission);
  }
  ibkr::exec_details_end end;
  end.req_id = f.req_id;
  out.emplace_back(end);
  return out;
}

std::optional<std::pair<std::string, std::string>> book::summary_value(std::string_view tag) const {
  decimal stock_value, gross;
  for (const auto& [symbol, h] : holdings_) {
    auto value = multiply(h.quantity, price(symbol));
    stock_value = stock_value + value;
    gross = gross + absolute(value);
  }
  auto net_liq = cash_ + stock_value;
  auto margin = multiply(gross, units(0, 25'000'000)); // 25 % of the gross position value
  auto available = net_liq - margin;
  auto buying_power = multiply(available, units(4));
  if (buying_power.is_negative())
    buying_power = {};
  auto usd = [](decimal v) {
    return std::pair<std::string, std::string>{format_fixed(v, 2), "USD"};
  };
  if (tag == "AccountType")
    return std::pair<std::string, std::string>{"INDIVIDUAL", ""};
  if (tag == "NetLiquidation" || tag == "EquityWithLoanValue" ||
      tag == "PreviousEquityWithLoanValue" || tag == "RegTEquity")
    return usd(net_liq);
  if (tag == "TotalCashValue" || tag == "SettledCash" || tag == "SMA")
    return usd(cash_);
  if (tag == "AccruedCash")
    return usd({});
  if (tag == "BuyingPower")
    return usd(buying_power);
  if (tag == "GrossPositionValue")
    return usd(gross);
  if (tag == "InitMarginReq" || tag == "MaintMarginReq" || tag == "FullInitMarginReq" ||
      tag == "FullMaintMarginReq" || tag == "LookAheadInitMarginReq" ||
      tag == "LookAheadMaintMarginReq" || tag == "RegTMargin")
    return usd(margin);
  if (tag == "AvailableFunds" || tag == "ExcessLiquidity" || tag == "FullAvailableFunds" ||
      tag == "FullExcessLiquidity" || tag == "LookAheadAvailableFunds" ||
      tag == "LookAheadExcessLiquidity")
    return usd(available);
  if (tag == "Cushion")
    return std::pair<std::string, std::string>{
        format_fixed(net_liq.is_positive() ? divide(available, net_liq) : decimal{}, 6), ""};
  if (tag == "DayTradesRemaining")
    return std::pair<std::string, std::string>{"-1", ""};
  return std::nullopt;
}

std::vector<ibkr::server_message> book::account_summary(std::int32_t req_id,
                                                        std::string_view tags) const {
  std::vector<ibkr::server_message> out;
  for (auto tag : split_tags(tags)) {
    auto v = summary_value(tag);
    if (!v)
      continue;
    ibkr::account_summary row;
    row.req_id = req_id;
    row.account = cfg_.account;
    row.tag = std::string{tag};
    row.value = std::move(v->first);
    row.currency = std::move(v->second);
    out.emplace_back(std::move(row));
  }
  ibkr::account_summary_end end;
  end.req_id = req_id;
  out.emplace_back(end);
  return out;
}

ibkr::position book::position_of(const std::string& symbol) const {
  ibkr::position p;
  p.account = cfg_.account;
  p.instrument = contract_of(symbol);
  p.instrument.exchange = std::string{primary_exchange_of(symbol)};
  if (auto it = holdings_.find(symbol); it != holdings_.end()) {
    p.quantity = it->second.quantity;
    p.avg_cost = it->second.avg_cost;
  }
  return p;
}

ibkr::update_portfolio book::portfolio_of(const std::string& symbol) const {
  ibkr::update_portfolio p;
  p.instrument = contract_of(symbol);
  p.instrument.exchange.clear(); // updatePortfolio carries the primary exchange only
  p.instrument.primary_exchange = std::string{primary_exchange_of(symbol)};
  p.account = cfg_.account;
  p.market_price = price(symbol);
  if (auto it = holdings_.find(symbol); it != holdings_.end()) {
    const auto& h = it->second;
    p.quantity = h.quantity;
    p.avg_cost = h.avg_cost;
    p.market_value = multiply(h.quantity, p.market_price);
    p.unrealized_pnl = p.market_value - multiply(h.quantity, h.avg_cost);
    p.realized_pnl = h.realized;
  }
  return p;
}

std::vector<ibkr::update_account_value> book::account_values() const {
  std::vector<ibkr::update_account_value> out;
  out.push_back({"AccountCode", cfg_.account, "", cfg_.account});
  for (std::string_view key :
       {"AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "BuyingPower",
        "AvailableFunds", "ExcessLiquidity", "EquityWithLoanValue", "GrossPositionValue",
        "InitMarginReq", "MaintMarginReq", "Cushion"}) {
    auto v = summary_value(key);
    if (v)
      out.push_back({std::string{key}, std::move(v->first), std::move(v->second), cfg_.account});
  }
  return out;
}

std::vector<ibkr::server_message> book::account_updates(time_point now) const {
  std::vector<ibkr::server_message> out;
  for (auto& row : account_values())
    out.emplace_back(std::move(row));
  for (const auto& [symbol, h] : holdings_)
    if (!h.quantity.is_zero())
      out.emplace_back(portfolio_of(symbol));
  out.emplace_back(ibkr::update_account_time{format_account_time(now)});
  out.emplace_back(ibkr::account_download_end{cfg_.account});
  return out;
}

std::vector<ibkr::server_message> book::positions() const {
  std::vector<ibkr::server_message> out;
  for (const auto& [symbol, h] : holdings_)
    out.emplace_back(position_of(symbol));
  out.emplace_back(ibkr::position_end{});
  return out;
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

deliveries book::tick(time_point now) {
  prices_.step();
  deliveries out;
  if (held_)
    return out;
  for (auto i : working_)
    if (is_open(orders_[i]))
      match(i, now, out);
  std::erase_if(working_, [this](std::size_t i) { return !is_open(orders_[i]); });
  return out;
}

void book::match(std::size_t index, time_point now, deliveries& out) {
  auto& o = orders_[index];
  const auto& r = o.request;
  auto px = price(r.instrument.symbol);
  working_order w;
  w.buy = r.action == "BUY";
  w.kind = r.order_type == "MKT"   ? order_kind::market
           : r.order_type == "LMT" ? order_kind::limit
           : r.order_type == "STP" ? order_kind::stop
                                   : order_kind::stop_limit;
  w.limit_price = r.limit_price;
  w.stop_price = r.aux_price;
  w.rule = r.tif == "IOC"   ? fill_rule::immediate_or_cancel
           : r.tif == "FOK" ? fill_rule::fill_or_kill
                            : fill_rule::rest;
  w.remaining = r.total_quantity - o.filled;
  w.triggered = o.triggered;
  auto step = sim::match(w, px, cfg_.fill_chunk);
  if (step.triggers) {
    o.triggered = true;
    o.status = "Submitted";
    out.push_back({o.client_id, render_status(o)});
  }
  if (step.quantity.is_positive())
    execute(index, step.quantity, px, now, out);
  if (step.cancel_rest && is_open(orders_[index]))
    finish_cancel(index, out);
}

deliveries book::fill_now(std::int32_t order_id, decimal quantity, decimal price, time_point now) {
  deliveries out;
  for (std::size_t i = orders_.size(); i-- > 0;) {
    auto& o = orders_[i];
    if (o.request.order_id != order_id || !is_open(o))
      continue;
    auto q = std::min(quantity, o.request.total_quantity - o.filled);
    if (!q.is_positive() || !price.is_positive())
      return out;
    o.triggered = true;
    execute(i, q, price, now, out);
    return out;
  }
  return out;
}

void book::execute(std::size_t index, decimal qty, decimal px, time_point now, deliveries& out) {
  auto& o = orders_[index];
  const auto& r = o.request;
  const auto& symbol = r.instrument.symbol;
  bool buy = r.action == "BUY";

  o.avg_fill_price = o.filled.is_zero()
                         ? px
                         : decimal::weighted_average(o.avg_fill_price, o.filled, px, qty)
                               .value_or(o.avg_fill_price);
  o.filled = o.filled + qty;
  o.last_fill_price = px;
  o.status = o.filled >= r.total_quantity ? "Filled" : "Submitted";

  // IB's fixed US stock rate: 0.005 per share, at least 1.00, at most 1 % of the trade value.
  auto notional = multiply(qty, px);
  auto commission = std::max(multiply(qty, units(0, 500'000)), units(1));
  commission = round_to(std::min(commission, multiply(notional, units(0, 1'000'000))), 2);
  o.commission = o.commission + commission;
  cash_ = buy ? cash_ - notional - commission : cash_ + notional - commission;

  // The position: its average cost includes commissions, as IB's does.
  auto realized = holdings_[symbol].apply(buy, qty, px, commission);
  changed_.insert(symbol);

  execution e;
  e.order_index = index;
  e.time = now;
  auto& d = e.details;
  d.req_id = -1;
  d.order_id = r.order_id;
  d.instrument = contract_of(symbol);
  d.instrument.exchange = std::string{venue_of(symbol)};
  std::array<char, 32> id{};
  auto n = std::snprintf(id.data(), id.size(), "%08x.%08llx.01.01", exec_prefix_,
                         static_cast<unsigned long long>(++exec_seq_));
  d.exec_id.assign(id.data(), static_cast<std::size_t>(std::max(n, 0)));
  d.time = format_exec_time(now);
  d.account = cfg_.account;
  d.exchange = d.instrument.exchange;
  d.side = buy ? "BOT" : "SLD";
  d.shares = qty;
  d.price = px;
  d.perm_id = o.perm_id;
  d.client_id = o.client_id;
  d.cum_qty = o.filled;
  d.avg_price = o.avg_fill_price;
  d.order_ref = r.order_ref;
  d.last_liquidity = is_limit(r.order_type) ? 1 : 2;
  e.commission.exec_id = d.exec_id;
  e.commission.commission = commission;
  e.commission.currency = "USD";
  e.commission.realized_pnl = realized;
  executions_.push_back(e);

  out.push_back({o.client_id, e.details});
  out.push_back({o.client_id, render_status(o)});
  if (o.status == "Filled")
    out.push_back({o.client_id, render_open_order(o)});
  out.push_back({o.client_id, e.commission});
}

std::set<std::string> book::take_changed_symbols() {
  return std::exchange(changed_, {});
}

// -- rendering -----------------------------------------------------------------------------------

ibkr::contract book::contract_of(const std::string& symbol) const {
  ibkr::contract c;
  c.con_id = con_id_of(symbol);
  c.symbol = symbol;
  c.sec_type = "STK";
  c.exchange = "SMART";
  c.currency = "USD";
  c.local_symbol = symbol;
  c.trading_class = primary_exchange_of(symbol) == "NASDAQ" ? "NMS" : symbol;
  return c;
}

ibkr::open_order book::render_open_order(const order_rec& o) const {
  const auto& r = o.request;
  ibkr::open_order m;
  m.order_id = r.order_id;
  m.instrument = contract_of(r.instrument.symbol);
  m.instrument.exchange = r.instrument.exchange;
  m.action = r.action;
  m.total_quantity = r.total_quantity;
  m.order_type = r.order_type;
  // A gateway reports unused prices as 0.0.
  m.limit_price = r.limit_price.value_or(decimal{});
  m.aux_price = r.aux_price.value_or(decimal{});
  m.tif = r.tif;
  m.account = cfg_.account;
  m.order_ref = r.order_ref;
  m.client_id = o.client_id;
  m.perm_id = o.perm_id;
  m.outside_rth = r.outside_rth;
  m.hidden = r.hidden;
  m.good_till_date = r.good_till_date;
  m.status = o.status;
  if (o.status == "Filled") {
    m.commission = o.commission;
    m.commission_currency = "USD";
  }
  return m;
}

ibkr::order_status book::render_status(const order_rec& o) const {
  ibkr::order_status s;
  s.order_id = o.request.order_id;
  s.status = o.status;
  s.filled = o.filled;
  s.remaining = o.request.total_quantity - o.filled;
  s.avg_fill_price = o.avg_fill_price;
  s.perm_id = o.perm_id;
  s.last_fill_price = o.last_fill_price;
  s.client_id = o.client_id;
  return s;
}

std::vector<order_view> book::orders() const {
  std::vector<order_view> out;
  out.reserve(orders_.size());
  for (const auto& o : orders_) {
    order_view v;
    v.order_id = o.request.order_id;
    v.client_id = o.client_id;
    v.perm_id = o.perm_id;
    v.order_ref = o.request.order_ref;
    v.symbol = o.request.instrument.symbol;
    v.action = o.request.action;
    v.order_type = o.request.order_type;
    v.status = o.status;
    v.quantity = o.request.total_quantity;
    v.filled = o.filled;
    v.avg_fill_price = o.avg_fill_price;
    out.push_back(std::move(v));
  }
  return out;
}

} // namespace brokerd::sim::tws
