#pragma once

// The simulated broker behind the Schwab simulator: one CASH account (no short selling), its
// positions, its orders and their matching on the shared market core, answering the Trader API
// calls with Schwab's JSON (§3 to §6). Pure: no I/O, no threads, no clock of its own (callers
// pass the time). Section numbers (§) refer to the Charles Schwab Trader API reference
// (schwab-api.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decimal.hpp"
#include "tools/sim/market.hpp"
#include "tools/sim/schwab_config.hpp"
#include "tools/sim/schwab_wire.hpp"

namespace brokerd::sim::schwab {

/// The simulated account. Not thread-safe: the server uses it from its io thread only.
///
/// An order's life: POST puts it in PENDING_ACTIVATION; the next tick makes it WORKING, or
/// REJECTED with a statusDescription when it breaks a rule Schwab checks after accepting the
/// order (price precision, cash, shares held, short selling in a cash account, §4); working
/// orders fill on ticks at most `fill_chunk` at a time (WORKING with filledQuantity > 0 is a
/// partial fill, there is no partial status, §5) until FILLED. DELETE puts a cancelable order
/// in PENDING_CANCEL and the next tick makes it CANCELED, before any matching. The rest of an
/// IMMEDIATE_OR_CANCEL order and an unfillable FILL_OR_KILL order are CANCELED on their first
/// matching tick.
class book {
public:
  using time_point = std::chrono::system_clock::time_point;

  /// `seed` picks the first order id (13 digits; later ones count up).
  book(const config& cfg, std::uint64_t seed);

  /// The hashValue of the account: 64 uppercase hex characters derived from its number.
  [[nodiscard]] const std::string& account_hash() const noexcept { return hash_; }

  // -- Trader API (§3) -----------------------------------------------------------------------

  /// GET /trader/v1/accounts/accountNumbers: [{"accountNumber":"…","hashValue":"…"}].
  [[nodiscard]] reply account_numbers() const;
  /// GET /trader/v1/accounts/{hash}[?fields=positions]: 400 {"message":"Invalid account
  /// number"} for any other hash (the plain number included, §3.1).
  [[nodiscard]] reply account(std::string_view hash, bool positions) const;
  /// GET /trader/v1/accounts[?fields=positions]: an array of the one account.
  [[nodiscard]] reply accounts(bool positions) const;
  /// POST /trader/v1/accounts/{hash}/orders with `body` (§4): 201, no body and a `Location`
  /// header holding the path /trader/v1/accounts/{hash}/orders/{id} (the caller prefixes the
  /// origin); 400 with a message body for JSON that is not an order this simulator takes.
  reply create(std::string_view hash, std::string_view body, time_point now);
  /// GET /trader/v1/accounts/{hash}/orders/{id}: 404 for an unknown id.
  [[nodiscard]] reply order(std::string_view hash, std::string_view id) const;
  /// GET /trader/v1/accounts/{hash}/orders (or /trader/v1/orders when `hash` is empty) with
  /// fromEnteredTime and toEnteredTime (both required, ISO-8601, from ≤ to, at most 60 days
  /// apart and from no earlier than 60 days before `now`, §3.4), optional status (one value of
  /// §5) and maxResults (default 3000): the orders entered in the window, newest first.
  [[nodiscard]] reply orders(std::optional<std::string_view> hash, const form_fields& query,
                             time_point now) const;
  /// DELETE /trader/v1/accounts/{hash}/orders/{id}: 200 and no body, the order PENDING_CANCEL;
  /// 400 {"message":…} for an order that is not cancelable (terminal or already
  /// PENDING_CANCEL), 404 for an unknown id.
  reply cancel(std::string_view hash, std::string_view id);

  // -- market --------------------------------------------------------------------------------

  /// One tick: the prices step, pending cancels finish, pending orders are activated or
  /// rejected, then (unless fills are held) every working order is matched at its symbol's
  /// price.
  void tick(time_point now);
  void set_price(const std::string& symbol, engine::decimal price);
  void clear_price(const std::string& symbol);
  /// While on, ticks execute nothing (stops do not trigger either); activations, rejections
  /// and cancels go on.
  void hold_fills(bool on) { held_ = on; }

  // -- inspection ----------------------------------------------------------------------------

  [[nodiscard]] std::uint64_t orders_created() const noexcept { return orders_.size(); }
  [[nodiscard]] const std::map<std::string, std::uint32_t>& creates_by_fingerprint() const {
    return creates_;
  }

private:
  struct activity {
    std::int64_t id = 0;
    /// "FILL" or "CANCELED".
    std::string execution_type;
    engine::decimal quantity;
    engine::decimal remaining;
    engine::decimal price;
    time_point time;
  };

  struct order_rec {
    std::int64_t id = 0;
    std::string symbol;
    std::string instruction;
    std::string order_type;
    std::string session;
    std::string duration;
    working_order terms;
    engine::decimal quantity;
    engine::decimal filled;
    std::string status;
    std::optional<std::string> status_description;
    /// A rule the order breaks, found at POST and applied on activation.
    std::optional<std::string> rejection;
    time_point entered;
    std::optional<time_point> closed;
    std::vector<activity> activities;
  };

  [[nodiscard]] static bool is_terminal(const order_rec& o) noexcept;
  [[nodiscard]] static bool is_buy(const order_rec& o) noexcept;
  [[nodiscard]] std::string order_json(const order_rec& o) const;
  [[nodiscard]] std::string account_json(bool positions) const;
  /// The index in orders_ of the order with decimal id `id`.
  [[nodiscard]] std::optional<std::size_t> index_of(std::string_view id) const;
  /// Cash less what working buy orders may still spend.
  [[nodiscard]] engine::decimal cash_available() const;
  /// The long position of `symbol` less what working sell orders may still sell.
  [[nodiscard]] engine::decimal shares_available(const std::string& symbol) const;
  /// The price an order's remaining quantity is valued at (limit, stop, or market).
  [[nodiscard]] engine::decimal reserve_price(const order_rec& o) const;
  /// The reason an order is rejected on activation, if any.
  [[nodiscard]] std::optional<std::string> activation_check(const order_rec& o) const;
  void execute(order_rec& o, engine::decimal qty, engine::decimal price, time_point now);
  void close_canceled(order_rec& o, time_point now);

  config cfg_;
  std::mt19937_64 random_;
  std::string hash_;
  price_board prices_;
  bool held_ = false;
  engine::decimal cash_;
  std::map<std::string, holding> holdings_;
  std::vector<order_rec> orders_;
  std::int64_t next_order_id_;
  std::int64_t next_activity_id_;
  std::map<std::string, std::uint32_t> creates_;
};

/// The hashValue of `account_number`: SHA-256 of a fixed salt and the number, as 64 uppercase
/// hex characters (opaque and different from the number, as Schwab's are, §3.1).
std::string account_hash_of(std::string_view account_number);

} // namespace brokerd::sim::schwab
