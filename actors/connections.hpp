#pragma once

#include <expected>
#include <memory>
#include <string>

#include "actors/brokers/paper/book.hpp"
#include "actors/supervisor.hpp"
#include "persistence/records.hpp"

namespace brokerd::actors {

/// What sessions of every broker may need to start (shared, process-wide).
struct broker_resources {
  std::shared_ptr<paper::book> paper_book;
};

/// The broker catalogue's session factories: the one place that maps a broker id to its
/// session actor. Fails for a broker this build cannot connect to, naming it.
std::expected<session_factory, std::string> factory_for(engine::broker_id broker,
                                                        const broker_resources& resources);

/// The session's view of a stored connection.
std::expected<connection_spec, std::string> to_spec(const persistence::connection_record& rec);

} // namespace brokerd::actors
