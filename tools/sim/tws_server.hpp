#pragma once

// A TWS / IB Gateway simulator that speaks the API socket protocol at server version 178
// through brokerd's own codec (actors/brokers/ibkr/), with a simulated broker behind it
// (tws_book.hpp) and hooks for fault injection. Used by unit and integration tests, by
// `brokerd --demo` and by the `broker-sim` program. Section numbers (§) refer to the IBKR TWS
// protocol reference (ibkr-tws-protocol.md).

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "engine/decimal.hpp"
#include "tools/sim/tws_config.hpp"

namespace brokerd::sim::tws {

/// A running simulated TWS: a listening socket and one io thread of its own that serves every
/// client connection, runs the ticks and owns all state.
///
/// Every public member may be called from any thread except the io thread (there is no
/// callback that runs on it); each one runs on the io thread and returns when it has taken
/// effect, so that a control call is ordered before anything a test sends afterwards. After
/// `stop` the queries still answer (with the final state) and the controls do nothing.
///
/// Orders, executions, the account and the order ids of every client id live as long as the
/// server, not as long as a connection: an order keeps working and filling while its client is
/// disconnected, and the client sees it again through reqOpenOrders and reqExecutions.
class server {
public:
  /// Validates `cfg`, binds and listens (errors name the address), then starts the io thread.
  static std::expected<std::unique_ptr<server>, std::string> start(config cfg);

  /// Stops (see `stop`).
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// The port listened on (the ephemeral one when config::port was 0).
  [[nodiscard]] std::uint16_t port() const;

  /// Stops accepting, closes every connection abruptly, ends the ticks and joins the io thread.
  /// Idempotent.
  void stop();

  /// The counters so far.
  [[nodiscard]] stats statistics() const;
  /// Every order the broker holds, in placement order.
  [[nodiscard]] std::vector<order_view> orders() const;

  // -- market control (deterministic tests) -----------------------------------------------------

  /// Overrides the price path of `symbol` until `clear_price`.
  void set_price(const std::string& symbol, engine::decimal price);
  /// Returns `symbol` to its path (or the default price).
  void clear_price(const std::string& symbol);
  /// While on, nothing executes and no stop triggers: orders stay working.
  void hold_fills(bool on);

  // -- fault injection --------------------------------------------------------------------------

  /// Closes every client socket at once with a reset (no orderly shutdown). Orders stay at the
  /// "broker" and keep working and filling; client ids become free.
  void drop_connections();
  /// While on, new connections are accepted and closed at once, before the hello is answered.
  void refuse_connections(bool on);
  /// Sends error `code` with id -1 and `text` to every client past startApi (1100, 1101, 1102,
  /// 2103, 2104...).
  void send_notice(std::int32_t code, std::string text);
  /// The next `next_n` startApi calls are answered 326 and their connections closed.
  void client_id_in_use(std::uint32_t next_n);
  /// Delays every orderStatus by `d` (0: off); the order of the delayed messages is kept.
  /// orderStatus messages still waiting when their connection closes are lost.
  void delay_order_status(std::chrono::milliseconds d);
  /// While on, every orderStatus is sent twice.
  void duplicate_order_status(bool on);
  /// Executes `quantity` (capped at what remains) of the open order `order_id` at `price` now,
  /// even while fills are held or its client is disconnected. When several client ids have an
  /// open order with that id, the most recently placed one fills. Nothing for no such order.
  void fill_now(std::int32_t order_id, engine::decimal quantity, engine::decimal price);
  /// A "restart" that forgot ids: nextValidId of `client_id` becomes `next` from now on (also
  /// in answer to reqIds); a placeOrder reusing the id of one of its open orders modifies it.
  void rollback_next_valid_id(std::int32_t client_id, std::int32_t next);

private:
  struct impl;
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::sim::tws
