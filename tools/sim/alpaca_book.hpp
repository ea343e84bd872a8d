#pragma once

// The simulated broker behind the Alpaca simulator: one cash account (multiplier 1, no
// shorting), its positions, its orders and the matching, answering the REST v2 calls with
// their JSON and producing the trade_updates events to stream. Pure: no I/O, no threads, no
// clock of its own (callers pass the time). Section numbers (§) refer to the Alpaca Trading API
// v2 reference (alpaca-api.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decimal.hpp"
#include "tools/sim/alpaca_config.hpp"
#include "tools/sim/market.hpp"

namespace brokerd::sim::alpaca {

/// A REST answer: the HTTP status and its JSON body (empty for 204).
struct reply {
  unsigned status = 200;
  std::string body;
};

/// One trade_updates event (§5.4): its name and the whole frame as sent.
struct trade_update {
  std::string event;
  std::string frame;
};

/// A REST answer and the events the call caused, in order.
struct outcome {
  reply answer;
  std::vector<trade_update> events;
};

/// The query of GET /v2/orders (§4.3), already split into its parameters.
using query_params = std::map<std::string, std::string, std::less<>>;

/// The simulated account. Not thread-safe: the server uses it from its io thread only.
class book {
public:
  using time_point = std::chrono::system_clock::time_point;

  /// `start` is the account's creation time; `seed` drives every generated uuid.
  book(const config& cfg, time_point start, std::uint64_t seed);

  // -- REST (§2, §3, §4) ---------------------------------------------------------------------

  /// GET /v2/account.
  [[nodiscard]] reply account() const;
  /// GET /v2/positions: the non-zero positions by symbol.
  [[nodiscard]] reply positions() const;
  /// GET /v2/positions/{symbol}: 404 40410000 when there is none.
  [[nodiscard]] reply position(std::string_view symbol) const;
  /// POST /v2/orders with `body`: 200 and the order in `pending_new` (acknowledged as `new` on
  /// the next tick); 400 for a body that is not a JSON object; 422 40010001 for a request the
  /// rules refuse (§4.1) or a client_order_id used before; 403 40310000 for too little buying
  /// power (buys) or qty available (sells).
  outcome create(std::string_view body, time_point now);
  /// GET /v2/orders/{id}: 422 for an id that is not a uuid, 404 for an unknown one.
  [[nodiscard]] reply order(std::string_view id) const;
  /// GET /v2/orders:by_client_order_id?client_order_id=.
  [[nodiscard]] reply order_by_client_id(std::string_view client_order_id) const;
  /// GET /v2/orders with status (open|closed|all, default open), limit (default 50, at most
  /// 500), direction (asc|desc by creation, default desc), symbols (comma list) and side.
  [[nodiscard]] reply orders(const query_params& query) const;
  /// DELETE /v2/orders/{id}: 204 and a `canceled` event; 422 42210000 for an order already
  /// final, 404 for an unknown id.
  outcome cancel(std::string_view id, time_point now);
  /// DELETE /v2/orders: 207 with {id, status} per open order (200 each), every one cancelled.
  outcome cancel_all(time_point now);

  // -- market --------------------------------------------------------------------------------

  /// One tick: the prices step, orders still `pending_new` become `new`, then (unless fills
  /// are held) every working order is matched (market.hpp) at its symbol's price.
  std::vector<trade_update> tick(time_point now);
  [[nodiscard]] engine::decimal price(const std::string& symbol) const;
  void set_price(const std::string& symbol, engine::decimal price);
  void clear_price(const std::string& symbol);
  /// While on, ticks execute nothing (stops do not trigger either); acknowledgements go on.
  void hold_fills(bool on) { held_ = on; }

  // -- inspection ----------------------------------------------------------------------------

  [[nodiscard]] std::uint64_t orders_created() const noexcept { return orders_.size(); }
  [[nodiscard]] const std::map<std::string, std::uint32_t>& creates_by_client_order_id() const {
    return creates_;
  }

private:
  struct order_rec {
    std::string id;
    std::string client_order_id;
    std::string symbol;
    bool buy = true;
    std::string type;
    std::string time_in_force;
    working_order terms;
    engine::decimal qty;
    bool extended_hours = false;
    std::optional<std::string> position_intent;
    std::string status;
    engine::decimal filled;
    engine::decimal avg_price;
    time_point created_at;
    time_point updated_at;
    std::optional<time_point> filled_at;
    std::optional<time_point> canceled_at;
  };

  [[nodiscard]] static bool is_open(const order_rec& o) noexcept;
  [[nodiscard]] std::string new_uuid();
  [[nodiscard]] std::string order_json(const order_rec& o) const;
  [[nodiscard]] std::string position_json(const std::string& symbol, const holding& h) const;
  [[nodiscard]] const order_rec* find(std::string_view id) const;
  /// Cash less what open buy orders may still spend.
  [[nodiscard]] engine::decimal buying_power() const;
  /// The position of `symbol` less what open sell orders may still sell.
  [[nodiscard]] engine::decimal qty_available(const std::string& symbol) const;
  /// The price an open order's remaining quantity is valued at (limit, stop, or market).
  [[nodiscard]] engine::decimal reserve_price(const order_rec& o) const;
  struct execution {
    engine::decimal quantity;
    engine::decimal price;
  };
  /// The frame of event `name` for `o`; a fill carries its execution, position_qty and an
  /// execution_id, `new` carries an execution_id and nulls (§5.4).
  trade_update event(const order_rec& o, std::string_view name, time_point now,
                     std::optional<execution> fill = std::nullopt);
  void execute(order_rec& o, engine::decimal qty, engine::decimal price, time_point now,
               std::vector<trade_update>& out);
  void finish_cancel(order_rec& o, time_point now, std::vector<trade_update>& out);

  config cfg_;
  time_point created_;
  std::mt19937_64 random_;
  std::string account_id_;
  std::string account_number_;
  price_board prices_;
  bool held_ = false;
  engine::decimal cash_;
  std::map<std::string, holding> holdings_;
  std::vector<order_rec> orders_;
  /// Indexes of the orders that may still be open, in creation order (pruned on ticks).
  std::vector<std::size_t> working_;
  std::map<std::string, std::size_t, std::less<>> by_id_;
  std::map<std::string, std::size_t, std::less<>> by_client_id_;
  std::map<std::string, std::uint32_t> creates_;
};

/// RFC-3339 in UTC with nanoseconds, e.g. "2019-06-22T01:02:57.662078750Z" (§4.2).
std::string format_timestamp(std::chrono::system_clock::time_point t);

/// True for the 8-4-4-4-12 hex form of a uuid.
bool is_uuid(std::string_view text);

/// A stable uuid-shaped asset id for `symbol`.
std::string asset_id_of(std::string_view symbol);

} // namespace brokerd::sim::alpaca
