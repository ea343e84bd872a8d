#pragma once

#include <expected>
#include <memory>
#include <string>

#include "actors/brokers/ibkr/session.hpp"
#include "actors/brokers/paper/book.hpp"
#include "actors/supervisor.hpp"
#include "persistence/records.hpp"

namespace brokerd::actors {

/// What sessions of every broker may need to start (shared, process-wide).
struct broker_resources {
  std::shared_ptr<paper::book> paper_book;
  /// The socket thread (every networked session's), the event log and its reader (IBKR's
  /// order-id reservations).
  ibkr::environment ibkr;
  /// Seals what sessions store (Schwab's OAuth tokens).
  std::shared_ptr<const persistence::vault> vault;
};

/// True for the brokers only premium users may connect to and trade through (IBKR, Schwab).
bool requires_premium(engine::broker_id broker) noexcept;

/// The broker catalogue's session factories: the one place that maps a broker id to its
/// session actor. Fails for a broker this build cannot connect to, naming it.
std::expected<session_factory, std::string> factory_for(engine::broker_id broker,
                                                        const broker_resources& resources);

/// Starts the supervised session of connection `rec` (its supervisor is the connection's
/// stable address). The caller attaches it to the router and the front. Fails, naming the
/// reason, for a record that cannot be turned into a session.
std::expected<caf::actor, std::string> start_connection(caf::actor_system& sys,
                                                        const persistence::connection_record& rec,
                                                        const broker_resources& resources,
                                                        event_log_actor log, caf::actor router,
                                                        supervisor_policy policy = {});

/// The session's view of a stored connection.
std::expected<connection_spec, std::string> to_spec(const persistence::connection_record& rec);

} // namespace brokerd::actors
