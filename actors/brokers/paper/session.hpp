#pragma once

#include <chrono>
#include <expected>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/brokers/paper/book.hpp"
#include "actors/messages.hpp"

namespace brokerd::actors::paper {

/// Settings of a paper connection (connection_spec::settings keys in brackets).
struct config {
  /// Starting cash of a new account [cash].
  engine::decimal cash = engine::decimal::from_units(100'000 * engine::decimal::one_units);
  /// Price path per symbol, one step per tick, repeating [prices: "AAPL=187.25,186,188;MSFT=410"].
  std::map<std::string, std::vector<engine::decimal>> paths;
  /// Price of a symbol without a path [default_price].
  engine::decimal default_price = engine::decimal::from_units(100 * engine::decimal::one_units);
  /// Time between price steps [tick_ms].
  std::chrono::milliseconds tick{250};
  /// Largest quantity filled per tick; larger orders fill partially over several ticks
  /// [fill_chunk].
  engine::decimal fill_chunk = engine::decimal::from_units(500 * engine::decimal::one_units);
  /// Requests per second the simulated broker accepts [rate_per_s], with a burst [burst]:
  /// place, cancel and queries pass the rate-limit mailbox (cancels first).
  std::uint32_t rate_per_s = 200;
  std::uint32_t burst = 20;
};

/// Parses a paper connection's settings; unknown keys and bad values are errors naming them.
std::expected<config, std::string>
parse_config(const std::vector<std::pair<std::string, std::string>>& settings);

/// The paper session adds its own timer messages to the session interface.
using paper_session_actor = broker_session_actor::extend<caf::reacts_to<tick_atom, std::uint64_t>,
                                                         caf::reacts_to<match_atom, std::string>,
                                                         caf::reacts_to<drain_atom, std::uint64_t>>;

/// Spawns an in-process simulated broker session for `spec`, keeping its orders and account
/// in `book`. Market orders fill at the symbol's current price; limit orders when the price
/// path reaches the limit; stop orders trigger when it crosses the stop; orders above
/// `fill_chunk` fill in parts, one per tick; ioc fills what it can at once and cancels the
/// rest, fok fills all at once or cancels. A client order id seen twice is answered with the
/// existing order (and counted in `submissions`), never booked twice. Buy orders beyond the
/// cash are rejected.
broker_session_actor spawn_session(caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink,
                                   std::shared_ptr<book> store);

} // namespace brokerd::actors::paper
