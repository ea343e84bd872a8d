#pragma once

// Starting a TWS simulator for a test.

#include <memory>

#include "tools/sim/tws_server.hpp"

namespace brokerd::test::tws {

/// The defaults with a 20 ms tick, so that fills come quickly.
sim::tws::config fast_config();

/// Starts a simulator on an ephemeral loopback port; throws std::runtime_error on failure.
std::unique_ptr<sim::tws::server> start_server(sim::tws::config cfg = fast_config());

} // namespace brokerd::test::tws
