#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/decimal.hpp"
#include "engine/order.hpp"

namespace brokerd::actors::paper {

/// An order as the paper broker keeps it in its own book.
struct book_order {
  std::string order_id;
  std::string client_order_id;
  std::string broker_order_id;
  std::string symbol;
  engine::side order_side = engine::side::buy;
  engine::order_type type = engine::order_type::market;
  engine::time_in_force tif = engine::time_in_force::day;
  engine::decimal quantity;
  std::optional<engine::decimal> limit_price;
  std::optional<engine::decimal> stop_price;
  engine::order_status status = engine::order_status::new_;
  engine::decimal filled_quantity;
  engine::decimal avg_fill_price;
  /// A stop order whose stop price was crossed (now working as market/limit).
  bool triggered = false;
  /// How many place requests carried this client order id. More than one means a client
  /// sent the order twice; the book still holds it once.
  std::uint32_t submissions = 1;
  std::uint32_t executions = 0;
  std::string reason;
};

/// One simulated account: cash and positions (signed quantity with average cost).
struct book_account {
  engine::decimal cash;
  struct holding {
    engine::decimal quantity;
    engine::decimal avg_cost;
  };
  std::map<std::string, holding> positions;
  std::uint64_t next_order_number = 1;
};

/// The paper broker's durable book: a RocksDB database of its own (apart from the event
/// log), so a restarted brokerd finds the broker's state as it would find a real broker's.
/// Keys are scoped by connection id. Thread-safe (RocksDB); each connection's keys are
/// written only by that connection's session actor. Writes go to the WAL without fsync: they
/// survive a killed process, like a broker's acknowledged state.
class book {
public:
  /// Opens or creates the book at `dir`; an error names the directory and RocksDB's reason.
  static std::expected<std::shared_ptr<book>, std::string> open(const std::string& dir);
  ~book();
  book(const book&) = delete;
  book& operator=(const book&) = delete;

  std::expected<std::optional<book_order>, std::string> find(const std::string& connection,
                                                             const std::string& client_order_id) const;
  std::expected<std::vector<book_order>, std::string> orders(const std::string& connection) const;
  /// The account, or a fresh one holding `initial_cash` when none is stored yet.
  std::expected<book_account, std::string> account(const std::string& connection,
                                                   engine::decimal initial_cash) const;
  /// Stores an order and the account in one atomic write.
  std::expected<void, std::string> store(const std::string& connection, const book_order& o,
                                         const book_account& acct);

private:
  struct impl;
  explicit book(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::actors::paper
