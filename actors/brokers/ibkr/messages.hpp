#pragma once

// The TWS API messages brokerd uses, at server versions 166 to 178 (178 is what the client
// advertises and the simulator implements). One struct per message; its layout is written once
// and serves both `encode` and `decode`, so the client session (encodes requests, decodes server
// messages) and the simulator (the reverse) share every field position.
// Section numbers (§) refer to the IBKR TWS protocol reference (ibkr-tws-protocol.md);
// where it is silent, IB's Java client 10.32 (EClient, EDecoder, EOrderDecoder) decides.

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actors/brokers/ibkr/wire.hpp"
#include "engine/decimal.hpp"

namespace brokerd::actors::ibkr {

// -- shared parts ------------------------------------------------------------------------------

/// A tag/value pair (algo parameters, smart combo routing parameters).
struct tag_value {
  std::string tag;
  std::string value;
  friend bool operator==(const tag_value&, const tag_value&) = default;
};

/// Contract fields. Each message carries its own subset, in its own order; fields a message
/// lacks stay empty.
struct contract {
  /// IB's contract id; 0 when symbol, secType, exchange and currency identify it (§4.4).
  std::int32_t con_id = 0;
  std::string symbol;
  /// "STK" for the stocks brokerd trades; "BAG" switches on the combo blocks of placeOrder.
  std::string sec_type;
  std::string last_trade_date;
  /// 0 for stocks. A contract attribute, never an order price.
  double strike = 0;
  std::string right;
  std::string multiplier;
  std::string exchange;
  /// placeOrder only, e.g. "NASDAQ" to disambiguate a SMART-routed stock.
  std::string primary_exchange;
  std::string currency;
  std::string local_symbol;
  std::string trading_class;
  /// placeOrder only.
  std::string sec_id_type;
  std::string sec_id;

  friend bool operator==(const contract&, const contract&) = default;
};

/// An order condition: its type (1 price, 3 time, 4 margin, 5 execution, 6 volume, 7 percent
/// change) and its fields as text (6, 3, 3, 4, 5 and 5 of them; Java `OrderCondition` classes).
struct order_condition {
  std::int32_t type = 0;
  std::vector<std::string> fields;
  friend bool operator==(const order_condition&, const order_condition&) = default;
};

/// The parts of placeOrder and openOrder that only combo, delta-neutral, scale, hedge, algo,
/// pegged and conditional orders use (§4.4 and §4.7 "conditional blocks"). brokerd never sends
/// them; they are decoded so that a layout stays aligned and a simulator can refuse such orders.
/// Each optional block is present on the wire exactly when its driver field says so.
struct order_blocks {
  /// BAG only in placeOrder, always counted in openOrder: 8 fields per leg (conId, ratio,
  /// action, exchange, openClose, shortSaleSlot, designatedLocation, exemptCode).
  std::vector<std::array<std::string, 8>> combo_legs;
  /// One price per leg.
  std::vector<std::string> order_combo_leg_prices;
  std::vector<tag_value> smart_combo_routing_params;
  /// When non-empty (a real gateway sends "None" for none), 8 fields follow the aux price.
  std::string delta_neutral_order_type;
  std::vector<std::string> delta_neutral_fields;
  /// When above 0, 7 scale fields follow.
  std::optional<double> scale_price_increment;
  std::vector<std::string> scale_fields;
  /// When non-empty, hedgeParam follows.
  std::string hedge_type;
  std::string hedge_param;
  /// When true, conId, delta and price of the delta-neutral contract follow.
  bool has_delta_neutral_contract = false;
  std::vector<std::string> delta_neutral_contract;
  /// When non-empty, a count and tag/value pairs follow.
  std::string algo_strategy;
  std::vector<tag_value> algo_params;
  /// Five fields for PEG BENCH orders.
  std::vector<std::string> peg_bench_fields;
  /// When non-empty, conditionsIgnoreRth and conditionsCancelOrder follow.
  std::vector<order_condition> conditions;
  bool conditions_ignore_rth = false;
  bool conditions_cancel_order = false;
  /// From 170: always in openOrder; in placeOrder minTradeQty only for exchange IBKRATS,
  /// minCompeteSize and competeAgainstBestOffset only for PEG BEST, the mid offsets for PEG MID
  /// or when competeAgainstBestOffset is "Infinity" (up to mid).
  std::string min_trade_qty;
  std::string min_compete_size;
  std::string compete_against_best_offset;
  std::string mid_offset_at_whole;
  std::string mid_offset_at_half;

  /// True when any block a plain order leaves out is in use ("None" counts as no delta-neutral
  /// order type). A simulator refuses such orders.
  [[nodiscard]] bool uses_advanced_features() const noexcept;

  friend bool operator==(const order_blocks&, const order_blocks&) = default;
};

// -- handshake message (client → server) -------------------------------------------------------

/// startApi (out 71, §2.3): `71, 2, clientId, optionalCapabilities`, sent right after the
/// server answer.
struct start_api {
  static constexpr std::int32_t id = 71;
  static constexpr std::string_view name = "startApi";
  std::int32_t client_id = 0;
  std::string optional_capabilities;

  /// The framed message at `server_version`; `unsupported_version` outside 166..178,
  /// `invalid_argument` for a NUL inside text.
  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  /// Parses a frame payload (final NUL included) at `server_version`.
  static std::expected<start_api, error> decode(std::string_view payload,
                                                std::int32_t server_version = max_server_version);
  friend bool operator==(const start_api&, const start_api&) = default;
};

// -- requests (client → server) ----------------------------------------------------------------
// Every message below declares `encode` and `decode` with the contract of start_api's.

/// reqIds (out 8, §4.1): `8, 1, numIds`. TWS ignores numIds and answers nextValidId.
struct req_ids {
  static constexpr std::int32_t id = 8;
  static constexpr std::string_view name = "reqIds";
  std::int32_t num_ids = 1;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_ids, error> decode(std::string_view payload,
                                              std::int32_t server_version = max_server_version);
  friend bool operator==(const req_ids&, const req_ids&) = default;
};

/// reqCurrentTime (out 49, §4.1): `49, 1`.
struct req_current_time {
  static constexpr std::int32_t id = 49;
  static constexpr std::string_view name = "reqCurrentTime";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_current_time, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_current_time&, const req_current_time&) = default;
};

/// reqAccountSummary (out 62, §4.2): `62, 1, reqId, group, tags`.
struct req_account_summary {
  static constexpr std::int32_t id = 62;
  static constexpr std::string_view name = "reqAccountSummary";
  std::int32_t req_id = 0;
  /// "All" or an FA group name.
  std::string group = "All";
  /// A comma list such as "NetLiquidation,TotalCashValue,BuyingPower".
  std::string tags;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_account_summary, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_account_summary&, const req_account_summary&) = default;
};

/// cancelAccountSummary (out 63, §4.2): `63, 1, reqId`.
struct cancel_account_summary {
  static constexpr std::int32_t id = 63;
  static constexpr std::string_view name = "cancelAccountSummary";
  std::int32_t req_id = 0;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<cancel_account_summary, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const cancel_account_summary&, const cancel_account_summary&) = default;
};

/// reqPositions (out 61, §4.3): `61, 1`.
struct req_positions {
  static constexpr std::int32_t id = 61;
  static constexpr std::string_view name = "reqPositions";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_positions, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_positions&, const req_positions&) = default;
};

/// cancelPositions (out 64, §4.3): `64, 1`.
struct cancel_positions {
  static constexpr std::int32_t id = 64;
  static constexpr std::string_view name = "cancelPositions";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<cancel_positions, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const cancel_positions&, const cancel_positions&) = default;
};

/// placeOrder (out 3, §4.4): no version field; 114 fields at 178 for a plain STK order, 115 at
/// 169 to 176 (the empty faProfile is still there), 114 at 166 to 168 (no manualOrderTime yet).
/// Sending it again with the same orderId modifies the order.
///
/// Encoding follows the §4.4 sample column: unmodelled fields empty, transmit `1`, the
/// delta-neutral-contract flag and the conditions count `0`; outsideRth, hidden, eTradeOnly,
/// firmQuoteOnly and whatIf are `1` when set and empty otherwise. Decoding accepts "" and the
/// Java defaults alike.
struct place_order {
  static constexpr std::int32_t id = 3;
  static constexpr std::string_view name = "placeOrder";
  /// Above every id this client id used before, or TWS answers 103.
  std::int32_t order_id = 0;
  /// symbol, sec_type, exchange and currency are required (missing exchange gives 321).
  contract instrument;
  /// BUY, SELL (SSHORT for institutions).
  std::string action;
  engine::decimal total_quantity;
  /// MKT, LMT, STP, STP LMT.
  std::string order_type;
  /// Required for LMT and STP LMT, unset (empty) otherwise.
  std::optional<engine::decimal> limit_price;
  /// The stop trigger: required for STP and STP LMT, unset otherwise.
  std::optional<engine::decimal> aux_price;
  /// DAY, GTC, IOC, FOK, GTD, OPG...; empty means the TWS preset.
  std::string tif;
  std::string oca_group;
  /// Needed when the login manages several accounts.
  std::string account;
  /// Free text echoed in openOrder and execDetails: brokerd puts its client order id here.
  std::string order_ref;
  /// Must be true: with 0 the order is only staged in TWS.
  bool transmit = true;
  /// 0 means none (written empty).
  std::int32_t parent_id = 0;
  bool outside_rth = false;
  bool hidden = false;
  /// For GTD.
  std::string good_till_date;
  /// Deprecated; TWS refuses a set eTradeOnly with 10268.
  bool e_trade_only = false;
  bool firm_quote_only = false;
  /// A margin preview only.
  bool what_if = false;
  order_blocks blocks;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<place_order, error> decode(std::string_view payload,
                                                  std::int32_t server_version = max_server_version);
  friend bool operator==(const place_order&, const place_order&) = default;
};

/// cancelOrder (out 4, §4.5): `4, 1, orderId, manualOrderCancelTime` from 169 (the time is
/// absent at 166 to 168).
struct cancel_order {
  static constexpr std::int32_t id = 4;
  static constexpr std::string_view name = "cancelOrder";
  std::int32_t order_id = 0;
  /// Empty means now.
  std::string manual_order_cancel_time;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<cancel_order, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const cancel_order&, const cancel_order&) = default;
};

/// reqOpenOrders (out 5, §4.7): `5, 1`, this client's open orders, ended by openOrderEnd.
struct req_open_orders {
  static constexpr std::int32_t id = 5;
  static constexpr std::string_view name = "reqOpenOrders";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_open_orders, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_open_orders&, const req_open_orders&) = default;
};

/// reqAllOpenOrders (out 16, §4.7): `16, 1`, all API and TWS orders.
struct req_all_open_orders {
  static constexpr std::int32_t id = 16;
  static constexpr std::string_view name = "reqAllOpenOrders";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_all_open_orders, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_all_open_orders&, const req_all_open_orders&) = default;
};

/// reqExecutions (out 7, §4.8): `7, 3, reqId, clientId, acctCode, time, symbol, secType,
/// exchange, side`; the last seven are filters where empty or 0 means none.
struct req_executions {
  static constexpr std::int32_t id = 7;
  static constexpr std::string_view name = "reqExecutions";
  std::int32_t req_id = 0;
  std::int32_t client_id = 0;
  std::string account;
  /// "yyyymmdd-hh:mm:ss".
  std::string time;
  std::string symbol;
  std::string sec_type;
  std::string exchange;
  std::string side;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_executions, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_executions&, const req_executions&) = default;
};

/// reqAccountUpdates (out 6): `6, 2, subscribe, acctCode` (IB's Java client 10.32,
/// `EClient.reqAccountUpdates`). Subscribing starts the account-updates stream of one account
/// (TWS' Account Window): updateAccountValue rows, one updatePortfolio per position,
/// updateAccountTime, then accountDownloadEnd. After that, per IB's documentation, a position
/// change is sent at once and other values every 3 minutes, until a request with `subscribe`
/// false ends it. One account at a time: a new subscription replaces the previous one.
struct req_account_updates {
  static constexpr std::int32_t id = 6;
  static constexpr std::string_view name = "reqAccountUpdates";
  /// True starts (or restarts) the subscription, false ends it.
  bool subscribe = true;
  /// The account; may be empty for a single-account login. TWS answers an unknown one with
  /// 321 "Invalid account code".
  std::string account;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<req_account_updates, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const req_account_updates&, const req_account_updates&) = default;
};

// -- server messages (server → client) ---------------------------------------------------------

/// nextValidId (in 9, §4.1): `9, 1, orderId`; unsolicited after startApi and the answer to
/// reqIds. The lowest safe order id.
struct next_valid_id {
  static constexpr std::int32_t id = 9;
  static constexpr std::string_view name = "nextValidId";
  std::int32_t order_id = 0;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<next_valid_id, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const next_valid_id&, const next_valid_id&) = default;
};

/// managedAccounts (in 15, §4.1): `15, 1, "ACC1,ACC2"`.
struct managed_accounts {
  static constexpr std::int32_t id = 15;
  static constexpr std::string_view name = "managedAccounts";
  std::string accounts;

  /// The accounts, empty entries dropped (a trailing comma is tolerated).
  [[nodiscard]] std::vector<std::string> account_list() const;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<managed_accounts, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const managed_accounts&, const managed_accounts&) = default;
};

/// currentTime (in 49, §4.1): `49, 1, epochSeconds`.
struct current_time {
  static constexpr std::int32_t id = 49;
  static constexpr std::string_view name = "currentTime";
  std::int64_t epoch_seconds = 0;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<current_time, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const current_time&, const current_time&) = default;
};

/// accountSummary (in 63, §4.2): `63, 1, reqId, account, tag, value, currency`.
struct account_summary {
  static constexpr std::int32_t id = 63;
  static constexpr std::string_view name = "accountSummary";
  std::int32_t req_id = 0;
  std::string account;
  std::string tag;
  /// Text: most tags carry amounts such as "100000.00", some carry words.
  std::string value;
  std::string currency;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<account_summary, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const account_summary&, const account_summary&) = default;
};

/// accountSummaryEnd (in 64, §4.2): `64, 1, reqId`.
struct account_summary_end {
  static constexpr std::int32_t id = 64;
  static constexpr std::string_view name = "accountSummaryEnd";
  std::int32_t req_id = 0;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<account_summary_end, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const account_summary_end&, const account_summary_end&) = default;
};

/// position (in 61, §4.3): 16 fields, version 3 (decoding needs 3 or more).
struct position {
  static constexpr std::int32_t id = 61;
  static constexpr std::string_view name = "position";
  std::string account;
  /// conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
  /// localSymbol, tradingClass.
  contract instrument;
  /// 0 for a closed position.
  engine::decimal quantity;
  engine::decimal avg_cost;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<position, error> decode(std::string_view payload,
                                               std::int32_t server_version = max_server_version);
  friend bool operator==(const position&, const position&) = default;
};

/// positionEnd (in 62, §4.3): `62, 1`.
struct position_end {
  static constexpr std::int32_t id = 62;
  static constexpr std::string_view name = "positionEnd";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<position_end, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const position_end&, const position_end&) = default;
};

/// orderStatus (in 3, §4.6): 12 fields, no version field. Duplicates are common (§5).
struct order_status {
  static constexpr std::int32_t id = 3;
  static constexpr std::string_view name = "orderStatus";
  std::int32_t order_id = 0;
  /// See §5 and `map_order_status`.
  std::string status;
  engine::decimal filled;
  engine::decimal remaining;
  engine::decimal avg_fill_price;
  /// The TWS-wide order id.
  std::int64_t perm_id = 0;
  std::int32_t parent_id = 0;
  engine::decimal last_fill_price;
  std::int32_t client_id = 0;
  /// E.g. "locate" for short sales.
  std::string why_held;
  engine::decimal mkt_cap_price;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<order_status, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const order_status&, const order_status&) = default;
};

/// openOrder (in 5, §4.7): no version field; 127 fields at 178 for a plain order, 128 at 170 to
/// 176 (faProfile), 123 at 166 to 169 (no peg offsets); a real gateway's delta-neutral order
/// type "None" adds 8. Every field is consumed in order, the conditional blocks included.
///
/// Fields not modelled here are encoded with the values a real gateway puts there for a plain
/// stock order (exemptCode -1, displaySize 2147483647, clearingIntent IB, margins unset...).
struct open_order {
  static constexpr std::int32_t id = 5;
  static constexpr std::string_view name = "openOrder";
  std::int32_t order_id = 0;
  /// conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
  /// localSymbol, tradingClass (no primaryExch).
  contract instrument;
  std::string action;
  engine::decimal total_quantity;
  std::string order_type;
  /// A real gateway sends 0.0 rather than empty for a market order's prices.
  std::optional<engine::decimal> limit_price;
  std::optional<engine::decimal> aux_price;
  std::string tif;
  std::string oca_group;
  std::string account;
  std::string open_close;
  /// 0 customer, 1 firm.
  std::int32_t origin = 0;
  /// brokerd's client order id for orders it placed.
  std::string order_ref;
  std::int32_t client_id = 0;
  std::int64_t perm_id = 0;
  bool outside_rth = false;
  bool hidden = false;
  std::string good_till_date;
  std::int32_t parent_id = 0;
  bool what_if = false;
  /// orderState.status (§4.7 index 85 for a plain order); prefer orderStatus's.
  std::string status;
  std::optional<engine::decimal> commission;
  std::string commission_currency;
  std::string warning_text;
  order_blocks blocks;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<open_order, error> decode(std::string_view payload,
                                                 std::int32_t server_version = max_server_version);
  friend bool operator==(const open_order&, const open_order&) = default;
};

/// openOrderEnd (in 53, §4.7): `53, 1`.
struct open_order_end {
  static constexpr std::int32_t id = 53;
  static constexpr std::string_view name = "openOrderEnd";

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<open_order_end, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const open_order_end&, const open_order_end&) = default;
};

/// execDetails (in 11, §4.8): no version field; 32 fields at 178 (31 below, without
/// pendingPriceRevision). Keyed by exec_id.
struct exec_details {
  static constexpr std::int32_t id = 11;
  static constexpr std::string_view name = "execDetails";
  /// -1 for a live fill, the reqExecutions id otherwise.
  std::int32_t req_id = -1;
  std::int32_t order_id = 0;
  /// conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange, currency,
  /// localSymbol, tradingClass.
  contract instrument;
  std::string exec_id;
  /// E.g. "20240102 09:30:01 US/Eastern".
  std::string time;
  std::string account;
  /// The execution's exchange.
  std::string exchange;
  /// BOT or SLD.
  std::string side;
  engine::decimal shares;
  engine::decimal price;
  std::int64_t perm_id = 0;
  std::int32_t client_id = 0;
  std::int32_t liquidation = 0;
  engine::decimal cum_qty;
  engine::decimal avg_price;
  std::string order_ref;
  std::string ev_rule;
  std::optional<double> ev_multiplier;
  std::string model_code;
  std::int32_t last_liquidity = 0;
  /// From 178.
  bool pending_price_revision = false;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<exec_details, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const exec_details&, const exec_details&) = default;
};

/// execDetailsEnd (in 55, §4.8): `55, 1, reqId`.
struct exec_details_end {
  static constexpr std::int32_t id = 55;
  static constexpr std::string_view name = "execDetailsEnd";
  std::int32_t req_id = 0;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<exec_details_end, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const exec_details_end&, const exec_details_end&) = default;
};

/// commissionReport (in 59, §4.8): `59, 1, execId, commission, currency, realizedPNL, yield,
/// yieldRedemptionDate`. Unset realizedPNL and yield are sent as 1.7976931348623157E308.
struct commission_report {
  static constexpr std::int32_t id = 59;
  static constexpr std::string_view name = "commissionReport";
  std::string exec_id;
  engine::decimal commission;
  std::string currency;
  std::optional<engine::decimal> realized_pnl;
  /// A bond yield: not an order number.
  std::optional<double> yield;
  /// yyyymmdd; 0 for none (sent empty).
  std::int32_t yield_redemption_date = 0;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<commission_report, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const commission_report&, const commission_report&) = default;
};

/// error (in 4, §4.9): `4, 2, id, code, message, advancedOrderRejectJson`. Texts are
/// `\uXXXX`-unescaped when decoded and escaped when encoded (§2.4).
struct error_message {
  static constexpr std::int32_t id = 4;
  static constexpr std::string_view name = "error";
  /// The reqId or orderId concerned; -1 for connection-level notices.
  std::int32_t request_id = -1;
  /// IB's code, kept as is (see `classify_error`).
  std::int32_t code = 0;
  std::string message;
  /// Usually empty.
  std::string advanced_order_reject_json;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<error_message, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const error_message&, const error_message&) = default;
};

/// updateAccountValue (in 6): `6, 2, key, value, currency, accountName` (Java
/// `EDecoder.processAcctValueMsg`; version 2 brings accountName, so decoding needs 2 or more).
/// One row of the account-updates stream (see req_account_updates).
struct update_account_value {
  static constexpr std::int32_t id = 6;
  static constexpr std::string_view name = "updateAccountValue";
  /// E.g. "NetLiquidation", "TotalCashValue", "BuyingPower", "AccountCode".
  std::string key;
  /// Text: most keys carry amounts such as "100000.00", some carry words or the account code.
  std::string value;
  /// "USD" for amounts, empty for keys without one; TWS also sends per-currency rows.
  std::string currency;
  std::string account;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<update_account_value, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const update_account_value&, const update_account_value&) = default;
};

/// updatePortfolio (in 7): version 8, 20 fields: `7, 8, conId, symbol, secType,
/// lastTradeDateOrContractMonth, strike, right, multiplier, primaryExch, currency, localSymbol,
/// tradingClass, position, marketPrice, marketValue, averageCost, unrealizedPNL, realizedPNL,
/// accountName` (Java `EDecoder.processPortfolioValueMsg`; 6 brings conId, 7 multiplier and
/// primaryExch, 8 tradingClass, so decoding needs 8). One position of the account-updates
/// stream with its market value, which reqPositions does not carry.
///
/// position is a decimal and the five amounts doubles on the wire (Java `readDecimal`,
/// `readDouble`); the amounts are read as decimals, with "" and the unset sentinels as 0.
struct update_portfolio {
  static constexpr std::int32_t id = 7;
  static constexpr std::string_view name = "updatePortfolio";
  /// conId, symbol, secType, lastTradeDate, strike, right, multiplier, primaryExch, currency,
  /// localSymbol, tradingClass (no exchange).
  contract instrument;
  /// The wire's position; 0 for a position closed during the subscription.
  engine::decimal quantity;
  /// The price the value is marked at.
  engine::decimal market_price;
  /// position × marketPrice (× multiplier), in the contract's currency.
  engine::decimal market_value;
  /// The wire's averageCost, as reqPositions' avgCost (commissions included).
  engine::decimal avg_cost;
  engine::decimal unrealized_pnl;
  engine::decimal realized_pnl;
  std::string account;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<update_portfolio, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const update_portfolio&, const update_portfolio&) = default;
};

/// updateAccountTime (in 8): `8, 1, timeStamp` (Java `EDecoder.processAcctUpdateTimeMsg`); the
/// time of the account-updates stream's last update.
struct update_account_time {
  static constexpr std::int32_t id = 8;
  static constexpr std::string_view name = "updateAccountTime";
  /// "HH:mm", e.g. "09:30".
  std::string time_stamp;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<update_account_time, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const update_account_time&, const update_account_time&) = default;
};

/// accountDownloadEnd (in 54): `54, 1, accountName` (Java `EDecoder.processAcctDownloadEndMsg`);
/// ends the first download of the account-updates stream. Later changes come without it.
struct account_download_end {
  static constexpr std::int32_t id = 54;
  static constexpr std::string_view name = "accountDownloadEnd";
  std::string account;

  [[nodiscard]] std::expected<std::string, error>
  encode(std::int32_t server_version = max_server_version) const;
  static std::expected<account_download_end, error>
  decode(std::string_view payload, std::int32_t server_version = max_server_version);
  friend bool operator==(const account_download_end&, const account_download_end&) = default;
};

// -- dispatch ----------------------------------------------------------------------------------

/// Everything a client sends after the hello.
using client_message =
    std::variant<start_api, req_ids, req_current_time, req_account_summary, cancel_account_summary,
                 req_positions, cancel_positions, place_order, cancel_order, req_open_orders,
                 req_all_open_orders, req_executions, req_account_updates>;

/// Everything a server sends after its answer to the hello.
using server_message =
    std::variant<next_valid_id, managed_accounts, current_time, account_summary,
                 account_summary_end, position, position_end, order_status, open_order,
                 open_order_end, exec_details, exec_details_end, commission_report, error_message,
                 update_account_value, update_portfolio, update_account_time, account_download_end>;

/// The message id (field 0) of a payload; `missing_field` or `bad_field` if it has none.
std::expected<std::int32_t, error> message_id(std::string_view payload);

/// Simulator side: decodes a client's payload by its id. `unknown_message` for ids not listed
/// in `client_message` (the frame is intact; the simulator answers 320 or ignores it).
std::expected<client_message, error> decode_client_message(std::string_view payload,
                                                           std::int32_t server_version);

/// Client side: decodes a server's payload by its id. `unknown_message` for ids not listed in
/// `server_message` (the frame is intact; the session logs and skips it).
std::expected<server_message, error> decode_server_message(std::string_view payload,
                                                           std::int32_t server_version);

/// Encodes any client message (calls its `encode`).
std::expected<std::string, error> encode(const client_message& m, std::int32_t server_version);
/// Encodes any server message (calls its `encode`).
std::expected<std::string, error> encode(const server_message& m, std::int32_t server_version);

} // namespace brokerd::actors::ibkr
