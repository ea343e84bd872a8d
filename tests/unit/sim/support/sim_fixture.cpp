#include "tests/unit/sim/support/sim_fixture.hpp"

#include <stdexcept>

namespace brokerd::test::tws {

sim::tws::config fast_config() {
  sim::tws::config cfg;
  cfg.tick = std::chrono::milliseconds{20};
  return cfg;
}

std::unique_ptr<sim::tws::server> start_server(sim::tws::config cfg) {
  cfg.bind = "127.0.0.1";
  cfg.port = 0;
  auto s = sim::tws::server::start(std::move(cfg));
  if (!s)
    throw std::runtime_error(s.error());
  return std::move(*s);
}

} // namespace brokerd::test::tws
