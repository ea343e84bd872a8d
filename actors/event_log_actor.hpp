#pragma once

#include <memory>

#include "actors/messages.hpp"

namespace brokerd::persistence {
class event_log;
}

namespace brokerd::actors {

/// Spawns the event log actor (detached: its RocksDB writes block only its own thread).
/// It shares `log` with read-only users (the API's registry reads) but is its only writer.
event_log_actor spawn_event_log(caf::actor_system& sys, std::shared_ptr<persistence::event_log> log);

} // namespace brokerd::actors
