#include "actors/brokers/ibkr/messages.hpp"

#include <algorithm>
#include <concepts>
#include <type_traits>
#include <utility>

namespace brokerd::actors::ibkr {

namespace {

// -- the two inspectors ------------------------------------------------------------------------
//
// A message's layout is one function template over an inspector `Io` and the message `M`
// (const when encoding). `writer_io` puts each field on the wire; `reader_io` reads it back
// with the same call. Conditional blocks test a field the layout has already passed, so the
// condition holds the same value in both directions.

/// How a field is typed on the wire, after Java's readers (§2.4): what a skipped field must
/// parse as.
enum class wire : std::uint8_t {
  text,     // readStr
  int32,    // readInt: "" is 0
  int_max,  // readIntMax: "" and 2147483647 unset
  int64,    // readLong
  real,     // readDouble: "" is 0
  real_max, // readDoubleMax: "" and 1.797...E308 unset
  flag,     // readBoolFromInt
};

/// How an unset optional number is written.
enum class unset_as : std::uint8_t { empty, int_max, double_max };

/// Whether a zero int or double is written as an empty field (the §4.4 sample style).
enum class zero_as : std::uint8_t { number, empty };

/// How a false flag is written: `0`, or empty (the §4.4 sample style; true is always `1`).
enum class false_as : std::uint8_t { zero, empty };

class writer_io {
public:
  writer_io(std::string_view message, std::int32_t version) : w_(message), version_(version) {}

  [[nodiscard]] std::int32_t version() const noexcept { return version_; }

  void message_id(std::int32_t id) { w_.put_int(id); }
  void msg_version(std::int32_t sent, std::int32_t /*min_accepted*/) { w_.put_int(sent); }

  void text(const std::string& v, std::string_view field) { w_.put_text(v, field); }
  void escaped_text(const std::string& v, std::string_view field) {
    w_.put_text(encode_unicode_escapes(v), field);
  }
  void int32(const std::int32_t& v, std::string_view /*field*/, zero_as z = zero_as::number) {
    if (z == zero_as::empty && v == 0)
      w_.put_empty();
    else
      w_.put_int(v);
  }
  void int64(const std::int64_t& v, std::string_view /*field*/) { w_.put_int(v); }
  void flag(const bool& v, std::string_view /*field*/, false_as f = false_as::zero) {
    if (!v && f == false_as::empty)
      w_.put_empty();
    else
      w_.put_bool(v);
  }
  void quantity(const engine::decimal& v, std::string_view /*field*/) { w_.put_decimal(v); }
  void amount(const engine::decimal& v, std::string_view /*field*/) { w_.put_decimal(v); }
  void price(const std::optional<engine::decimal>& v, std::string_view /*field*/,
             unset_as u = unset_as::empty) {
    if (v)
      w_.put_decimal(*v);
    else
      put_unset(u);
  }
  void real(const double& v, std::string_view /*field*/, zero_as z = zero_as::number) {
    if (z == zero_as::empty && v == 0.0)
      w_.put_empty();
    else
      w_.put_double(v);
  }
  void real_max(const std::optional<double>& v, std::string_view /*field*/,
                unset_as u = unset_as::empty) {
    if (v)
      w_.put_double(*v);
    else
      put_unset(u);
  }
  /// An unmodelled field: written as `sent`, read and type-checked as `kind`, then dropped.
  void skip(wire /*kind*/, std::string_view sent, std::string_view field) {
    w_.put_text(sent, field);
  }
  /// `n` opaque text fields (a conditional block); missing ones are written empty.
  void fields(const std::vector<std::string>& v, std::size_t n, std::string_view field) {
    if (v.size() > n) {
      reject(field, std::to_string(v.size()) + " values for a block of " + std::to_string(n));
      return;
    }
    for (std::size_t i = 0; i < n; ++i)
      w_.put_text(i < v.size() ? std::string_view{v[i]} : std::string_view{}, field);
  }
  /// A count, then `each` for every element.
  template <class T, class F>
  void list(const std::vector<T>& v, std::size_t /*min_fields*/, std::string_view /*field*/,
            F&& each) {
    w_.put_int(static_cast<std::int64_t>(v.size()));
    for (const auto& item : v)
      each(item);
  }
  void reject(std::string_view field, std::string why) {
    if (!failure_)
      failure_ = error{errc::invalid_argument,
                       std::string{field} + " cannot be encoded: " + std::move(why)};
  }

  std::expected<std::string, error> finish() const {
    if (failure_)
      return std::unexpected(*failure_);
    return w_.finish();
  }

private:
  void put_unset(unset_as u) {
    switch (u) {
    case unset_as::empty:
      w_.put_empty();
      break;
    case unset_as::int_max:
      w_.put_text(unset_int_text);
      break;
    case unset_as::double_max:
      w_.put_text(unset_double_text);
      break;
    }
  }

  field_writer w_;
  std::int32_t version_;
  std::optional<error> failure_;
};

class reader_io {
public:
  reader_io(std::string_view payload, std::string_view message, std::int32_t version)
      : r_(payload, message), version_(version) {}

  [[nodiscard]] std::int32_t version() const noexcept { return version_; }

  void message_id(std::int32_t id) {
    std::int32_t got = 0;
    if (take(r_.read_int("msgId"), got) && got != id)
      failure_ = r_.field_error(errc::bad_field, "msgId",
                                std::to_string(got) + " is not " + std::to_string(id));
  }
  void msg_version(std::int32_t /*sent*/, std::int32_t min_accepted) {
    std::int32_t got = 0;
    if (take(r_.read_int("version"), got) && got < min_accepted)
      failure_ = r_.field_error(errc::bad_field, "version",
                                std::to_string(got) + " is below " + std::to_string(min_accepted));
  }

  void text(std::string& v, std::string_view field) {
    std::string_view got;
    if (take(r_.read_text(field), got))
      v.assign(got);
  }
  void escaped_text(std::string& v, std::string_view field) {
    std::string_view got;
    if (take(r_.read_text(field), got))
      v = decode_unicode_escapes(got);
  }
  void int32(std::int32_t& v, std::string_view field, zero_as = zero_as::number) {
    take(r_.read_int(field), v);
  }
  void int64(std::int64_t& v, std::string_view field) { take(r_.read_long(field), v); }
  void flag(bool& v, std::string_view field, false_as = false_as::zero) {
    take(r_.read_bool(field), v);
  }
  void quantity(engine::decimal& v, std::string_view field) { take(r_.read_decimal(field), v); }
  void amount(engine::decimal& v, std::string_view field) {
    take(r_.read_decimal_or_zero(field), v);
  }
  void price(std::optional<engine::decimal>& v, std::string_view field,
             unset_as = unset_as::empty) {
    take(r_.read_decimal_max(field), v);
  }
  void real(double& v, std::string_view field, zero_as = zero_as::number) {
    take(r_.read_double(field), v);
  }
  void real_max(std::optional<double>& v, std::string_view field, unset_as = unset_as::empty) {
    take(r_.read_double_max(field), v);
  }
  void skip(wire kind, std::string_view /*sent*/, std::string_view field) {
    if (failure_)
      return;
    switch (kind) {
    case wire::text:
      check(r_.read_text(field));
      break;
    case wire::int32:
      check(r_.read_int(field));
      break;
    case wire::int_max:
      check(r_.read_int_max(field));
      break;
    case wire::int64:
      check(r_.read_long(field));
      break;
    case wire::real:
      check(r_.read_double(field));
      break;
    case wire::real_max:
      check(r_.read_double_max(field));
      break;
    case wire::flag:
      check(r_.read_bool(field));
      break;
    }
  }
  void fields(std::vector<std::string>& v, std::size_t n, std::string_view field) {
    v.clear();
    for (std::size_t i = 0; i < n && !failure_; ++i) {
      std::string_view got;
      if (take(r_.read_text(field), got))
        v.emplace_back(got);
    }
  }
  template <class T, class F>
  void list(std::vector<T>& v, std::size_t min_fields, std::string_view field, F&& each) {
    v.clear();
    std::int32_t n = 0;
    if (!take(r_.read_int(field), n))
      return;
    if (n < 0) {
      failure_ = r_.field_error(errc::bad_field, field, "count " + std::to_string(n) + " < 0");
      return;
    }
    // A hostile count must not allocate: every element needs `min_fields` fields still unread.
    auto count = static_cast<std::size_t>(n);
    if (count > r_.remaining() / std::max<std::size_t>(min_fields, 1)) {
      failure_ = r_.field_error_at(r_.index() - 1, errc::missing_field, field,
                                   "count " + std::to_string(n) + " needs at least " +
                                       std::to_string(count * min_fields) + " more fields, " +
                                       std::to_string(r_.remaining()) + " remain");
      return;
    }
    v.resize(count);
    for (auto& item : v) {
      if (failure_)
        return;
      each(item);
    }
  }
  void reject(std::string_view field, std::string why) {
    if (!failure_)
      failure_ = r_.field_error(errc::bad_field, field, why);
  }

  std::expected<void, error> finish() const {
    if (failure_)
      return std::unexpected(*failure_);
    return r_.expect_end();
  }

private:
  template <class T, class U> bool take(std::expected<T, error>&& got, U& out) {
    if (failure_)
      return false;
    if (!got) {
      failure_ = std::move(got.error());
      return false;
    }
    out = std::move(*got);
    return true;
  }
  template <class T> void check(std::expected<T, error>&& got) {
    if (!got)
      failure_ = std::move(got.error());
  }

  field_reader r_;
  std::int32_t version_;
  std::optional<error> failure_;
};

template <class M, class T>
concept message_of = std::same_as<std::remove_const_t<M>, T>;

std::expected<void, error> check_version(std::int32_t version, std::string_view message) {
  if (version < min_server_version || version > max_server_version)
    return std::unexpected(error{errc::unsupported_version,
                                 std::string{message} + " has no layout at server version " +
                                     std::to_string(version) + " (implemented: 166..178)"});
  return {};
}

/// Number of fields after the type of an order condition (Java `OrderCondition.readFrom`):
/// conjunction; operator conditions add isMore and value; contract conditions add conId and
/// exchange; price adds triggerMethod; execution adds secType, exchange and symbol. 0 for an
/// unknown type.
std::size_t condition_field_count(std::int32_t type) noexcept {
  switch (type) {
  case 1: // price
    return 6;
  case 3: // time
  case 4: // margin
    return 3;
  case 5: // execution
    return 4;
  case 6: // volume
  case 7: // percent change
    return 5;
  default:
    return 0;
  }
}

bool is_peg_bench(std::string_view order_type) noexcept {
  return order_type == "PEG BENCH" || order_type == "PEGBENCH";
}
bool is_peg_best(std::string_view order_type) noexcept {
  return order_type == "PEG BEST" || order_type == "PEGBEST";
}
bool is_peg_mid(std::string_view order_type) noexcept {
  return order_type == "PEG MID" || order_type == "PEGMID";
}

// -- blocks shared by placeOrder and openOrder --------------------------------------------------

template <class Io, class B> void combo_legs_block(Io& io, B& b) {
  io.list(b.combo_legs, 8, "comboLegsCount", [&](auto& leg) {
    for (auto& f : leg)
      io.text(f, "comboLeg");
  });
  io.list(b.order_combo_leg_prices, 1, "orderComboLegsCount",
          [&](auto& p) { io.text(p, "orderComboLegPrice"); });
  io.list(b.smart_combo_routing_params, 2, "smartComboRoutingParamsCount", [&](auto& tv) {
    io.text(tv.tag, "tag");
    io.text(tv.value, "value");
  });
}

/// deltaNeutralOrderType, deltaNeutralAuxPrice and, when the type is set, 8 more fields.
template <class Io, class B> void delta_neutral_block(Io& io, B& b) {
  io.text(b.delta_neutral_order_type, "deltaNeutralOrderType");
  io.skip(wire::real_max, "", "deltaNeutralAuxPrice");
  if (!b.delta_neutral_order_type.empty())
    io.fields(b.delta_neutral_fields, 8, "deltaNeutral");
}

/// scalePriceIncrement and, when above 0, 7 more fields.
template <class Io, class B> void scale_increment_block(Io& io, B& b) {
  io.real_max(b.scale_price_increment, "scalePriceIncrement");
  if (b.scale_price_increment && *b.scale_price_increment > 0.0)
    io.fields(b.scale_fields, 7, "scale");
}

template <class Io, class B> void hedge_block(Io& io, B& b) {
  io.text(b.hedge_type, "hedgeType");
  if (!b.hedge_type.empty())
    io.text(b.hedge_param, "hedgeParam");
}

template <class Io, class B> void delta_neutral_contract_block(Io& io, B& b) {
  io.flag(b.has_delta_neutral_contract, "deltaNeutralContract");
  if (b.has_delta_neutral_contract)
    io.fields(b.delta_neutral_contract, 3, "deltaNeutralContract");
}

template <class Io, class B> void algo_block(Io& io, B& b) {
  io.text(b.algo_strategy, "algoStrategy");
  if (!b.algo_strategy.empty())
    io.list(b.algo_params, 2, "algoParamsCount", [&](auto& tv) {
      io.text(tv.tag, "tag");
      io.text(tv.value, "value");
    });
}

template <class Io, class B> void peg_bench_block(Io& io, B& b, std::string_view order_type) {
  if (is_peg_bench(order_type))
    io.fields(b.peg_bench_fields, 5, "pegBench");
}

template <class Io, class B> void conditions_block(Io& io, B& b) {
  io.list(b.conditions, 4, "conditionsCount", [&](auto& c) {
    io.int32(c.type, "conditionType");
    std::size_t n = condition_field_count(c.type);
    if (n == 0) {
      io.reject("conditionType", "unknown order condition type " + std::to_string(c.type));
      return;
    }
    io.fields(c.fields, n, "condition");
  });
  if (!b.conditions.empty()) {
    io.flag(b.conditions_ignore_rth, "conditionsIgnoreRth");
    io.flag(b.conditions_cancel_order, "conditionsCancelOrder");
  }
}

// -- layouts: requests -------------------------------------------------------------------------

template <class Io, message_of<start_api> M> void layout(Io& io, M& m) {
  io.msg_version(2, 1);
  io.int32(m.client_id, "clientId");
  io.text(m.optional_capabilities, "optionalCapabilities");
}

template <class Io, message_of<req_ids> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.num_ids, "numIds");
}

template <class Io, message_of<req_current_time> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

template <class Io, message_of<req_account_summary> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.req_id, "reqId");
  io.text(m.group, "group");
  io.text(m.tags, "tags");
}

template <class Io, message_of<cancel_account_summary> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.req_id, "reqId");
}

template <class Io, message_of<req_positions> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

template <class Io, message_of<cancel_positions> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

/// §4.4, field by field; indexes are those of a plain STK order at 178.
template <class Io, message_of<place_order> M> void layout(Io& io, M& m) {
  auto& c = m.instrument;
  auto& b = m.blocks;
  io.int32(m.order_id, "orderId");                            // 1
  io.int32(c.con_id, "conId", zero_as::empty);                // 2
  io.text(c.symbol, "symbol");                                // 3
  io.text(c.sec_type, "secType");                             // 4
  io.text(c.last_trade_date, "lastTradeDateOrContractMonth"); // 5
  io.real(c.strike, "strike", zero_as::empty);                // 6
  io.text(c.right, "right");                                  // 7
  io.text(c.multiplier, "multiplier");                        // 8
  io.text(c.exchange, "exchange");                            // 9
  io.text(c.primary_exchange, "primaryExch");                 // 10
  io.text(c.currency, "currency");                            // 11
  io.text(c.local_symbol, "localSymbol");                     // 12
  io.text(c.trading_class, "tradingClass");                   // 13
  io.text(c.sec_id_type, "secIdType");                        // 14
  io.text(c.sec_id, "secId");                                 // 15
  io.text(m.action, "action");                                // 16
  io.quantity(m.total_quantity, "totalQuantity");             // 17
  io.text(m.order_type, "orderType");                         // 18
  io.price(m.limit_price, "lmtPrice");                        // 19
  io.price(m.aux_price, "auxPrice");                          // 20
  io.text(m.tif, "tif");                                      // 21
  io.text(m.oca_group, "ocaGroup");                           // 22
  io.text(m.account, "account");                              // 23
  io.skip(wire::text, "", "openClose");                       // 24
  io.skip(wire::int32, "", "origin");                         // 25
  io.text(m.order_ref, "orderRef");                           // 26
  io.flag(m.transmit, "transmit");                            // 27
  io.int32(m.parent_id, "parentId", zero_as::empty);          // 28
  io.skip(wire::flag, "", "blockOrder");                      // 29
  io.skip(wire::flag, "", "sweepToFill");                     // 30
  io.skip(wire::int32, "", "displaySize");                    // 31
  io.skip(wire::int32, "", "triggerMethod");                  // 32
  io.flag(m.outside_rth, "outsideRth", false_as::empty);      // 33
  io.flag(m.hidden, "hidden", false_as::empty);               // 34
  if (c.sec_type == "BAG")
    combo_legs_block(io, b);
  io.skip(wire::text, "", "sharesAllocation"); // 35
  io.skip(wire::real, "", "discretionaryAmt"); // 36
  io.skip(wire::text, "", "goodAfterTime");    // 37
  io.text(m.good_till_date, "goodTillDate");   // 38
  io.skip(wire::text, "", "faGroup");          // 39
  io.skip(wire::text, "", "faMethod");         // 40
  io.skip(wire::text, "", "faPercentage");     // 41
  if (io.version() < 177)
    io.skip(wire::text, "", "faProfile");
  io.skip(wire::text, "", "modelCode");                         // 42
  io.skip(wire::int32, "", "shortSaleSlot");                    // 43
  io.skip(wire::text, "", "designatedLocation");                // 44
  io.skip(wire::int32, "", "exemptCode");                       // 45
  io.skip(wire::int32, "", "ocaType");                          // 46
  io.skip(wire::text, "", "rule80A");                           // 47
  io.skip(wire::text, "", "settlingFirm");                      // 48
  io.skip(wire::flag, "", "allOrNone");                         // 49
  io.skip(wire::int_max, "", "minQty");                         // 50
  io.skip(wire::real_max, "", "percentOffset");                 // 51
  io.flag(m.e_trade_only, "eTradeOnly", false_as::empty);       // 52
  io.flag(m.firm_quote_only, "firmQuoteOnly", false_as::empty); // 53
  io.skip(wire::real_max, "", "nbboPriceCap");                  // 54
  io.skip(wire::int_max, "", "auctionStrategy");                // 55
  io.skip(wire::real_max, "", "startingPrice");                 // 56
  io.skip(wire::real_max, "", "stockRefPrice");                 // 57
  io.skip(wire::real_max, "", "delta");                         // 58
  io.skip(wire::real_max, "", "stockRangeLower");               // 59
  io.skip(wire::real_max, "", "stockRangeUpper");               // 60
  io.skip(wire::flag, "", "overridePercentageConstraints");     // 61
  io.skip(wire::real_max, "", "volatility");                    // 62
  io.skip(wire::int_max, "", "volatilityType");                 // 63
  delta_neutral_block(io, b);                                   // 64, 65 (+8)
  io.skip(wire::int32, "", "continuousUpdate");                 // 66
  io.skip(wire::int_max, "", "referencePriceType");             // 67
  io.skip(wire::real_max, "", "trailStopPrice");                // 68
  io.skip(wire::real_max, "", "trailingPercent");               // 69
  io.skip(wire::int_max, "", "scaleInitLevelSize");             // 70
  io.skip(wire::int_max, "", "scaleSubsLevelSize");             // 71
  scale_increment_block(io, b);                                 // 72 (+7)
  io.skip(wire::text, "", "scaleTable");                        // 73
  io.skip(wire::text, "", "activeStartTime");                   // 74
  io.skip(wire::text, "", "activeStopTime");                    // 75
  hedge_block(io, b);                                           // 76 (+1)
  io.skip(wire::flag, "", "optOutSmartRouting");                // 77
  io.skip(wire::text, "", "clearingAccount");                   // 78
  io.skip(wire::text, "", "clearingIntent");                    // 79
  io.skip(wire::flag, "", "notHeld");                           // 80
  delta_neutral_contract_block(io, b);                          // 81 (+3)
  algo_block(io, b);                                            // 82 (+1+2n)
  io.skip(wire::text, "", "algoId");                            // 83
  io.flag(m.what_if, "whatIf", false_as::empty);                // 84
  io.skip(wire::text, "", "orderMiscOptions");                  // 85
  io.skip(wire::flag, "", "solicited");                         // 86
  io.skip(wire::flag, "", "randomizeSize");                     // 87
  io.skip(wire::flag, "", "randomizePrice");                    // 88
  peg_bench_block(io, b, m.order_type);                         // (+5)
  conditions_block(io, b);                                      // 89 (+...)
  io.skip(wire::text, "", "adjustedOrderType");                 // 90
  io.skip(wire::real_max, "", "triggerPrice");                  // 91
  io.skip(wire::real_max, "", "lmtPriceOffset");                // 92
  io.skip(wire::real_max, "", "adjustedStopPrice");             // 93
  io.skip(wire::real_max, "", "adjustedStopLimitPrice");        // 94
  io.skip(wire::real_max, "", "adjustedTrailingAmount");        // 95
  io.skip(wire::int32, "", "adjustableTrailingUnit");           // 96
  io.skip(wire::text, "", "extOperator");                       // 97
  io.skip(wire::text, "", "softDollarTierName");                // 98
  io.skip(wire::text, "", "softDollarTierValue");               // 99
  io.skip(wire::real_max, "", "cashQty");                       // 100
  io.skip(wire::text, "", "mifid2DecisionMaker");               // 101
  io.skip(wire::text, "", "mifid2DecisionAlgo");                // 102
  io.skip(wire::text, "", "mifid2ExecutionTrader");             // 103
  io.skip(wire::text, "", "mifid2ExecutionAlgo");               // 104
  io.skip(wire::flag, "", "dontUseAutoPriceForHedge");          // 105
  io.skip(wire::flag, "", "isOmsContainer");                    // 106
  io.skip(wire::flag, "", "discretionaryUpToLimitPrice");       // 107
  io.skip(wire::flag, "", "usePriceMgmtAlgo");                  // 108
  io.skip(wire::int_max, "", "duration");                       // 109
  io.skip(wire::int_max, "", "postToAts");                      // 110
  io.skip(wire::flag, "", "autoCancelParent");                  // 111
  io.skip(wire::text, "", "advancedErrorOverride");             // 112
  if (io.version() >= 169)
    io.skip(wire::text, "", "manualOrderTime"); // 113
  if (io.version() >= 170) {
    if (c.exchange == "IBKRATS")
      io.text(b.min_trade_qty, "minTradeQty");
    bool mid_offsets = is_peg_mid(m.order_type);
    if (is_peg_best(m.order_type)) {
      io.text(b.min_compete_size, "minCompeteSize");
      io.text(b.compete_against_best_offset, "competeAgainstBestOffset");
      mid_offsets = b.compete_against_best_offset == "Infinity";
    }
    if (mid_offsets) {
      io.text(b.mid_offset_at_whole, "midOffsetAtWhole");
      io.text(b.mid_offset_at_half, "midOffsetAtHalf");
    }
  }
}

template <class Io, message_of<cancel_order> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.order_id, "orderId");
  if (io.version() >= 169)
    io.text(m.manual_order_cancel_time, "manualOrderCancelTime");
}

template <class Io, message_of<req_open_orders> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

template <class Io, message_of<req_all_open_orders> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

template <class Io, message_of<req_executions> M> void layout(Io& io, M& m) {
  io.msg_version(3, 1);
  io.int32(m.req_id, "reqId");
  io.int32(m.client_id, "clientId");
  io.text(m.account, "acctCode");
  io.text(m.time, "time");
  io.text(m.symbol, "symbol");
  io.text(m.sec_type, "secType");
  io.text(m.exchange, "exchange");
  io.text(m.side, "side");
}

/// Java `EClient.reqAccountUpdates`: acctCode is sent from server version 9, so always here.
template <class Io, message_of<req_account_updates> M> void layout(Io& io, M& m) {
  io.msg_version(2, 1);
  io.flag(m.subscribe, "subscribe");
  io.text(m.account, "acctCode");
}

// -- layouts: server messages ------------------------------------------------------------------

template <class Io, message_of<next_valid_id> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.order_id, "orderId");
}

template <class Io, message_of<managed_accounts> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.text(m.accounts, "accountsList");
}

template <class Io, message_of<current_time> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int64(m.epoch_seconds, "time");
}

template <class Io, message_of<account_summary> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.req_id, "reqId");
  io.text(m.account, "account");
  io.text(m.tag, "tag");
  io.text(m.value, "value");
  io.text(m.currency, "currency");
}

template <class Io, message_of<account_summary_end> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.req_id, "reqId");
}

/// §4.3: ver must be 3 (2 brings tradingClass, 3 avgCost).
template <class Io, message_of<position> M> void layout(Io& io, M& m) {
  auto& c = m.instrument;
  io.msg_version(3, 3);
  io.text(m.account, "account");
  io.int32(c.con_id, "conId");
  io.text(c.symbol, "symbol");
  io.text(c.sec_type, "secType");
  io.text(c.last_trade_date, "lastTradeDateOrContractMonth");
  io.real(c.strike, "strike");
  io.text(c.right, "right");
  io.text(c.multiplier, "multiplier");
  io.text(c.exchange, "exchange");
  io.text(c.currency, "currency");
  io.text(c.local_symbol, "localSymbol");
  io.text(c.trading_class, "tradingClass");
  io.quantity(m.quantity, "position");
  io.amount(m.avg_cost, "avgCost");
}

template <class Io, message_of<position_end> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

/// §4.6: 12 fields, no version field from 131.
template <class Io, message_of<order_status> M> void layout(Io& io, M& m) {
  io.int32(m.order_id, "orderId");
  io.text(m.status, "status");
  io.quantity(m.filled, "filled");
  io.quantity(m.remaining, "remaining");
  io.amount(m.avg_fill_price, "avgFillPrice");
  io.int64(m.perm_id, "permId");
  io.int32(m.parent_id, "parentId");
  io.amount(m.last_fill_price, "lastFillPrice");
  io.int32(m.client_id, "clientId");
  io.text(m.why_held, "whyHeld");
  io.amount(m.mkt_cap_price, "mktCapPrice");
}

/// §4.7 (Java `EDecoder.processOpenOrderMsg`); indexes are those of a plain order at 178. The
/// `sent` texts of skipped fields are what a real gateway sends for a plain stock order.
template <class Io, message_of<open_order> M> void layout(Io& io, M& m) {
  auto& c = m.instrument;
  auto& b = m.blocks;
  constexpr std::string_view unset = unset_double_text;
  io.int32(m.order_id, "orderId");                            // 1
  io.int32(c.con_id, "conId");                                // 2
  io.text(c.symbol, "symbol");                                // 3
  io.text(c.sec_type, "secType");                             // 4
  io.text(c.last_trade_date, "lastTradeDateOrContractMonth"); // 5
  io.real(c.strike, "strike");                                // 6
  io.text(c.right, "right");                                  // 7
  io.text(c.multiplier, "multiplier");                        // 8
  io.text(c.exchange, "exchange");                            // 9
  io.text(c.currency, "currency");                            // 10
  io.text(c.local_symbol, "localSymbol");                     // 11
  io.text(c.trading_class, "tradingClass");                   // 12
  io.text(m.action, "action");                                // 13
  io.quantity(m.total_quantity, "totalQuantity");             // 14
  io.text(m.order_type, "orderType");                         // 15
  io.price(m.limit_price, "lmtPrice");                        // 16
  io.price(m.aux_price, "auxPrice");                          // 17
  io.text(m.tif, "tif");                                      // 18
  io.text(m.oca_group, "ocaGroup");                           // 19
  io.text(m.account, "account");                              // 20
  io.text(m.open_close, "openClose");                         // 21
  io.int32(m.origin, "origin");                               // 22
  io.text(m.order_ref, "orderRef");                           // 23
  io.int32(m.client_id, "clientId");                          // 24
  io.int64(m.perm_id, "permId");                              // 25
  io.flag(m.outside_rth, "outsideRth");                       // 26
  io.flag(m.hidden, "hidden");                                // 27
  io.skip(wire::real, "0", "discretionaryAmt");               // 28
  io.skip(wire::text, "", "goodAfterTime");                   // 29
  io.skip(wire::text, "", "sharesAllocation");                // 30
  io.skip(wire::text, "", "faGroup");                         // 31
  io.skip(wire::text, "", "faMethod");                        // 32
  io.skip(wire::text, "", "faPercentage");                    // 33
  if (io.version() < 177)
    io.skip(wire::text, "", "faProfile");
  io.skip(wire::text, "", "modelCode");                         // 34
  io.text(m.good_till_date, "goodTillDate");                    // 35
  io.skip(wire::text, "", "rule80A");                           // 36
  io.skip(wire::real_max, "", "percentOffset");                 // 37
  io.skip(wire::text, "", "settlingFirm");                      // 38
  io.skip(wire::int32, "0", "shortSaleSlot");                   // 39
  io.skip(wire::text, "", "designatedLocation");                // 40
  io.skip(wire::int32, "-1", "exemptCode");                     // 41
  io.skip(wire::int32, "0", "auctionStrategy");                 // 42
  io.skip(wire::real_max, "", "startingPrice");                 // 43
  io.skip(wire::real_max, "", "stockRefPrice");                 // 44
  io.skip(wire::real_max, "", "delta");                         // 45
  io.skip(wire::real_max, "", "stockRangeLower");               // 46
  io.skip(wire::real_max, "", "stockRangeUpper");               // 47
  io.skip(wire::int_max, unset_int_text, "displaySize");        // 48
  io.skip(wire::flag, "0", "blockOrder");                       // 49
  io.skip(wire::flag, "0", "sweepToFill");                      // 50
  io.skip(wire::flag, "0", "allOrNone");                        // 51
  io.skip(wire::int_max, "", "minQty");                         // 52
  io.skip(wire::int32, "3", "ocaType");                         // 53
  io.skip(wire::flag, "0", "eTradeOnly");                       // 54
  io.skip(wire::flag, "0", "firmQuoteOnly");                    // 55
  io.skip(wire::real_max, "", "nbboPriceCap");                  // 56
  io.int32(m.parent_id, "parentId");                            // 57
  io.skip(wire::int32, "0", "triggerMethod");                   // 58
  io.skip(wire::real_max, "", "volatility");                    // 59
  io.skip(wire::int32, "0", "volatilityType");                  // 60
  delta_neutral_block(io, b);                                   // 61, 62 (+8)
  io.skip(wire::int32, "0", "continuousUpdate");                // 63
  io.skip(wire::int32, "0", "referencePriceType");              // 64
  io.skip(wire::real_max, "", "trailStopPrice");                // 65
  io.skip(wire::real_max, "", "trailingPercent");               // 66
  io.skip(wire::real_max, "", "basisPoints");                   // 67
  io.skip(wire::int_max, "", "basisPointsType");                // 68
  io.skip(wire::text, "", "comboLegsDescrip");                  // 69
  combo_legs_block(io, b);                                      // 70 to 72 (+...)
  io.skip(wire::int_max, unset_int_text, "scaleInitLevelSize"); // 73
  io.skip(wire::int_max, unset_int_text, "scaleSubsLevelSize"); // 74
  scale_increment_block(io, b);                                 // 75 (+7)
  hedge_block(io, b);                                           // 76 (+1)
  io.skip(wire::flag, "0", "optOutSmartRouting");               // 77
  io.skip(wire::text, "", "clearingAccount");                   // 78
  io.skip(wire::text, "IB", "clearingIntent");                  // 79
  io.skip(wire::flag, "0", "notHeld");                          // 80
  delta_neutral_contract_block(io, b);                          // 81 (+3)
  algo_block(io, b);                                            // 82 (+1+2n)
  io.skip(wire::flag, "0", "solicited");                        // 83
  io.flag(m.what_if, "whatIf");                                 // 84
  io.text(m.status, "status");                                  // 85
  io.skip(wire::text, unset, "initMarginBefore");               // 86
  io.skip(wire::text, unset, "maintMarginBefore");              // 87
  io.skip(wire::text, unset, "equityWithLoanBefore");           // 88
  io.skip(wire::text, unset, "initMarginChange");               // 89
  io.skip(wire::text, unset, "maintMarginChange");              // 90
  io.skip(wire::text, unset, "equityWithLoanChange");           // 91
  io.skip(wire::text, unset, "initMarginAfter");                // 92
  io.skip(wire::text, unset, "maintMarginAfter");               // 93
  io.skip(wire::text, unset, "equityWithLoanAfter");            // 94
  io.price(m.commission, "commission");                         // 95
  io.skip(wire::real_max, "", "minCommission");                 // 96
  io.skip(wire::real_max, "", "maxCommission");                 // 97
  io.text(m.commission_currency, "commissionCurrency");         // 98
  io.text(m.warning_text, "warningText");                       // 99
  io.skip(wire::flag, "0", "randomizeSize");                    // 100
  io.skip(wire::flag, "0", "randomizePrice");                   // 101
  peg_bench_block(io, b, m.order_type);                         // (+5)
  conditions_block(io, b);                                      // 102 (+...)
  io.skip(wire::text, "None", "adjustedOrderType");             // 103
  io.skip(wire::real_max, unset, "triggerPrice");               // 104
  io.skip(wire::real_max, unset, "trailStopPrice");             // 105
  io.skip(wire::real_max, unset, "lmtPriceOffset");             // 106
  io.skip(wire::real_max, unset, "adjustedStopPrice");          // 107
  io.skip(wire::real_max, unset, "adjustedStopLimitPrice");     // 108
  io.skip(wire::real_max, unset, "adjustedTrailingAmount");     // 109
  io.skip(wire::int32, "0", "adjustableTrailingUnit");          // 110
  io.skip(wire::text, "", "softDollarTierName");                // 111
  io.skip(wire::text, "", "softDollarTierValue");               // 112
  io.skip(wire::text, "", "softDollarTierDisplayName");         // 113
  io.skip(wire::real_max, "0", "cashQty");                      // 114
  io.skip(wire::flag, "1", "dontUseAutoPriceForHedge");         // 115
  io.skip(wire::flag, "0", "isOmsContainer");                   // 116
  io.skip(wire::flag, "0", "discretionaryUpToLimitPrice");      // 117
  io.skip(wire::flag, "0", "usePriceMgmtAlgo");                 // 118
  io.skip(wire::int32, "", "duration");                         // 119
  io.skip(wire::int_max, "", "postToAts");                      // 120
  io.skip(wire::flag, "0", "autoCancelParent");                 // 121
  if (io.version() >= 170) {
    io.text(b.min_trade_qty, "minTradeQty");                            // 122
    io.text(b.min_compete_size, "minCompeteSize");                      // 123
    io.text(b.compete_against_best_offset, "competeAgainstBestOffset"); // 124
    io.text(b.mid_offset_at_whole, "midOffsetAtWhole");                 // 125
    io.text(b.mid_offset_at_half, "midOffsetAtHalf");                   // 126
  }
}

template <class Io, message_of<open_order_end> M> void layout(Io& io, M&) {
  io.msg_version(1, 1);
}

/// §4.8: 32 fields at 178, no version field from 136.
template <class Io, message_of<exec_details> M> void layout(Io& io, M& m) {
  auto& c = m.instrument;
  io.int32(m.req_id, "reqId");
  io.int32(m.order_id, "orderId");
  io.int32(c.con_id, "conId");
  io.text(c.symbol, "symbol");
  io.text(c.sec_type, "secType");
  io.text(c.last_trade_date, "lastTradeDateOrContractMonth");
  io.real(c.strike, "strike");
  io.text(c.right, "right");
  io.text(c.multiplier, "multiplier");
  io.text(c.exchange, "exchange");
  io.text(c.currency, "currency");
  io.text(c.local_symbol, "localSymbol");
  io.text(c.trading_class, "tradingClass");
  io.text(m.exec_id, "execId");
  io.text(m.time, "time");
  io.text(m.account, "acctNumber");
  io.text(m.exchange, "exchange");
  io.text(m.side, "side");
  io.quantity(m.shares, "shares");
  io.amount(m.price, "price");
  io.int64(m.perm_id, "permId");
  io.int32(m.client_id, "clientId");
  io.int32(m.liquidation, "liquidation");
  io.quantity(m.cum_qty, "cumQty");
  io.amount(m.avg_price, "avgPrice");
  io.text(m.order_ref, "orderRef");
  io.text(m.ev_rule, "evRule");
  io.real_max(m.ev_multiplier, "evMultiplier");
  io.text(m.model_code, "modelCode");
  io.int32(m.last_liquidity, "lastLiquidity");
  if (io.version() >= 178)
    io.flag(m.pending_price_revision, "pendingPriceRevision");
}

template <class Io, message_of<exec_details_end> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.int32(m.req_id, "reqId");
}

template <class Io, message_of<commission_report> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.text(m.exec_id, "execId");
  io.amount(m.commission, "commission");
  io.text(m.currency, "currency");
  io.price(m.realized_pnl, "realizedPNL", unset_as::double_max);
  io.real_max(m.yield, "yield", unset_as::double_max);
  io.int32(m.yield_redemption_date, "yieldRedemptionDate", zero_as::empty);
}

/// §4.9: the 6th field from 166 (always here, as min_server_version is 166).
template <class Io, message_of<error_message> M> void layout(Io& io, M& m) {
  io.msg_version(2, 2);
  io.int32(m.request_id, "id");
  io.int32(m.code, "errorCode");
  io.escaped_text(m.message, "errorMsg");
  io.escaped_text(m.advanced_order_reject_json, "advancedOrderRejectJson");
}

/// Java `EDecoder.processAcctValueMsg`: accountName from version 2.
template <class Io, message_of<update_account_value> M> void layout(Io& io, M& m) {
  io.msg_version(2, 2);
  io.text(m.key, "key");
  io.text(m.value, "value");
  io.text(m.currency, "currency");
  io.text(m.account, "accountName");
}

/// Java `EDecoder.processPortfolioValueMsg` at version 8 (the version-6 primaryExch quirk of
/// server version 39 does not apply).
template <class Io, message_of<update_portfolio> M> void layout(Io& io, M& m) {
  auto& c = m.instrument;
  io.msg_version(8, 8);
  io.int32(c.con_id, "conId");
  io.text(c.symbol, "symbol");
  io.text(c.sec_type, "secType");
  io.text(c.last_trade_date, "lastTradeDateOrContractMonth");
  io.real(c.strike, "strike");
  io.text(c.right, "right");
  io.text(c.multiplier, "multiplier");
  io.text(c.primary_exchange, "primaryExch");
  io.text(c.currency, "currency");
  io.text(c.local_symbol, "localSymbol");
  io.text(c.trading_class, "tradingClass");
  io.quantity(m.quantity, "position");
  io.amount(m.market_price, "marketPrice");
  io.amount(m.market_value, "marketValue");
  io.amount(m.avg_cost, "averageCost");
  io.amount(m.unrealized_pnl, "unrealizedPNL");
  io.amount(m.realized_pnl, "realizedPNL");
  io.text(m.account, "accountName");
}

template <class Io, message_of<update_account_time> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.text(m.time_stamp, "timeStamp");
}

template <class Io, message_of<account_download_end> M> void layout(Io& io, M& m) {
  io.msg_version(1, 1);
  io.text(m.account, "accountName");
}

// -- encode / decode ---------------------------------------------------------------------------

template <class M>
std::expected<std::string, error> encode_message(const M& m, std::int32_t version) {
  if (auto ok = check_version(version, M::name); !ok)
    return std::unexpected(std::move(ok.error()));
  writer_io io{M::name, version};
  io.message_id(M::id);
  layout(io, m);
  return io.finish();
}

template <class M>
std::expected<M, error> decode_message(std::string_view payload, std::int32_t version) {
  if (auto ok = check_version(version, M::name); !ok)
    return std::unexpected(std::move(ok.error()));
  reader_io io{payload, M::name, version};
  io.message_id(M::id);
  M m{};
  layout(io, m);
  if (auto end = io.finish(); !end)
    return std::unexpected(std::move(end.error()));
  return m;
}

template <class Variant, std::size_t I = 0>
std::expected<Variant, error> decode_by_id(std::int32_t id, std::string_view payload,
                                           std::int32_t version, std::string_view direction) {
  if constexpr (I == std::variant_size_v<Variant>) {
    return std::unexpected(
        error{errc::unknown_message,
              std::string{direction} + " message id " + std::to_string(id) + " is not handled"});
  } else {
    using M = std::variant_alternative_t<I, Variant>;
    if (M::id == id) {
      auto m = decode_message<M>(payload, version);
      if (!m)
        return std::unexpected(std::move(m.error()));
      return Variant{std::in_place_index<I>, std::move(*m)};
    }
    return decode_by_id<Variant, I + 1>(id, payload, version, direction);
  }
}

} // namespace

// -- members -----------------------------------------------------------------------------------

bool order_blocks::uses_advanced_features() const noexcept {
  return !combo_legs.empty() || !order_combo_leg_prices.empty() ||
         !smart_combo_routing_params.empty() ||
         (!delta_neutral_order_type.empty() && delta_neutral_order_type != "None") ||
         (scale_price_increment && *scale_price_increment > 0.0) || !hedge_type.empty() ||
         has_delta_neutral_contract || !algo_strategy.empty() || !peg_bench_fields.empty() ||
         !conditions.empty();
}

std::vector<std::string> managed_accounts::account_list() const {
  std::vector<std::string> out;
  std::string_view rest = accounts;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = rest.substr(0, comma);
    if (!item.empty())
      out.emplace_back(item);
    if (comma == std::string_view::npos)
      break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

#define BROKERD_IBKR_CODEC(T)                                                                      \
  std::expected<std::string, error> T::encode(std::int32_t server_version) const {                 \
    return encode_message(*this, server_version);                                                  \
  }                                                                                                \
  std::expected<T, error> T::decode(std::string_view payload, std::int32_t server_version) {       \
    return decode_message<T>(payload, server_version);                                             \
  }

BROKERD_IBKR_CODEC(start_api)
BROKERD_IBKR_CODEC(req_ids)
BROKERD_IBKR_CODEC(req_current_time)
BROKERD_IBKR_CODEC(req_account_summary)
BROKERD_IBKR_CODEC(cancel_account_summary)
BROKERD_IBKR_CODEC(req_positions)
BROKERD_IBKR_CODEC(cancel_positions)
BROKERD_IBKR_CODEC(place_order)
BROKERD_IBKR_CODEC(cancel_order)
BROKERD_IBKR_CODEC(req_open_orders)
BROKERD_IBKR_CODEC(req_all_open_orders)
BROKERD_IBKR_CODEC(req_executions)
BROKERD_IBKR_CODEC(req_account_updates)
BROKERD_IBKR_CODEC(next_valid_id)
BROKERD_IBKR_CODEC(managed_accounts)
BROKERD_IBKR_CODEC(current_time)
BROKERD_IBKR_CODEC(account_summary)
BROKERD_IBKR_CODEC(account_summary_end)
BROKERD_IBKR_CODEC(position)
BROKERD_IBKR_CODEC(position_end)
BROKERD_IBKR_CODEC(order_status)
BROKERD_IBKR_CODEC(open_order)
BROKERD_IBKR_CODEC(open_order_end)
BROKERD_IBKR_CODEC(exec_details)
BROKERD_IBKR_CODEC(exec_details_end)
BROKERD_IBKR_CODEC(commission_report)
BROKERD_IBKR_CODEC(error_message)
BROKERD_IBKR_CODEC(update_account_value)
BROKERD_IBKR_CODEC(update_portfolio)
BROKERD_IBKR_CODEC(update_account_time)
BROKERD_IBKR_CODEC(account_download_end)

#undef BROKERD_IBKR_CODEC

// -- dispatch ----------------------------------------------------------------------------------

std::expected<std::int32_t, error> message_id(std::string_view payload) {
  field_reader r{payload, "message"};
  return r.read_int("msgId");
}

std::expected<client_message, error> decode_client_message(std::string_view payload,
                                                           std::int32_t server_version) {
  auto id = message_id(payload);
  if (!id)
    return std::unexpected(std::move(id.error()));
  return decode_by_id<client_message>(*id, payload, server_version, "outgoing");
}

std::expected<server_message, error> decode_server_message(std::string_view payload,
                                                           std::int32_t server_version) {
  auto id = message_id(payload);
  if (!id)
    return std::unexpected(std::move(id.error()));
  return decode_by_id<server_message>(*id, payload, server_version, "incoming");
}

std::expected<std::string, error> encode(const client_message& m, std::int32_t server_version) {
  return std::visit([&](const auto& x) { return x.encode(server_version); }, m);
}

std::expected<std::string, error> encode(const server_message& m, std::int32_t server_version) {
  return std::visit([&](const auto& x) { return x.encode(server_version); }, m);
}

} // namespace brokerd::actors::ibkr
