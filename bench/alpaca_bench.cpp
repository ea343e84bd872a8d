// Alpaca gateway figures against the Alpaca simulator (tools/sim), brokerd running as a child
// process and the simulator in this process, on loopback over TLS.
//
// Rate-limit utilisation: the simulator admits 200 requests per API key in any sliding 60 s
// window, as Alpaca does, and answers 429 beyond that. brokerd connects with requestsPerMinute
// 200, then a burst of limit orders (600 by default: three times what a minute allows; fills
// held, so every order rests) is posted to brokerd at t = 0. Over exactly the window (120 s by
// default) the bench counts the requests the simulator admitted (requests - 429s, sampled at
// the start, half-way and at the end) and reports
//   - admitted requests per minute ÷ 200 (goal >= 0.95),
//   - the simulator's 429s (goal 0), its early retries (requests sent before a Retry-After ran
//     out; goal 0) and the most requests it admitted in any 60 s (at most 200).
// Then brokerd is stopped with SIGTERM and the time it takes to exit is reported.
//
//   build/bin/bench_alpaca [--orders N] [--window-s N]
//
// A little over 2 minutes with the defaults, bounded: every wait has a limit. Prints figures
// only: timing never fails it; it exits non-zero only when a step does not work at all. brokerd
// is the one built beside it (building this target builds it).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "bench/order_burst.hpp"
#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/alpaca_connect.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json.hpp"
#include "tools/sim/alpaca_server.hpp"

namespace {

namespace alpaca = brokerd::sim::alpaca;
namespace bench = brokerd::bench;
namespace test = brokerd::test;
using bench::clock_type;
using bench::seconds_between;
using std::chrono::milliseconds;

constexpr std::uint32_t sim_limit = 200; // requests per key in any 60 s, Alpaca's limit

std::unique_ptr<alpaca::server> start_sim() {
  alpaca::config cfg;
  cfg.requests_per_minute = sim_limit;
  cfg.rate_window = std::chrono::seconds{60};
  cfg.tick = milliseconds{50};
  cfg.paths["AAPL"] = {*brokerd::engine::decimal::parse("100")};
  auto sim = alpaca::server::start(cfg);
  if (!sim)
    throw std::runtime_error("cannot start the Alpaca simulator: " + sim.error());
  (*sim)->hold_fills(true);
  return std::move(*sim);
}

/// Requests the simulator let through (answered as requested, not 429).
std::uint64_t admitted(const alpaca::stats& s) {
  return s.requests - s.rate_limited;
}

void bench_rate_limit(int orders, double window_s) {
  test::temp_dir dir{"brokerd-bench-alpaca"};
  test::brokerd_instance gw{dir.path() / "data"};
  auto sim = start_sim();
  test::http_client control{gw.port(), std::chrono::seconds{30}};

  test::alpaca_connect settings;
  settings.port = sim->port();
  settings.ca_file = sim->ca_file();
  settings.requests_per_minute = sim_limit;
  auto c0 = clock_type::now();
  auto r = control.request("POST", "/api/brokers/alpaca/connect", settings.body(), gw.auth());
  auto connect_ms = seconds_between(c0, clock_type::now()) * 1000;
  if (r.status != 201)
    throw std::runtime_error("connect answered " + std::to_string(r.status) + ": " + r.body);
  auto conn = test::json_string(test::parse_json(r.body), "connectionId");
  auto s_connect = sim->statistics();

  // t = 0: three posters submit the whole burst as fast as brokerd takes it.
  auto s0 = sim->statistics();
  bench::order_burst burst{gw.port(), gw.auth(), orders, [&conn](int poster, int i) {
                             return R"({"connectionId":")" + conn +
                                    R"(","symbol":"AAPL","side":"buy","quantity":"1",)"
                                    R"("type":"limit","limitPrice":"90","timeInForce":"gtc",)"
                                    R"("clientOrderId":"bench-)" +
                                    std::to_string(poster) + "-" + std::to_string(i) + R"("})";
                           }};
  auto t0 = burst.start();

  auto window =
      std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>{window_s});
  std::this_thread::sleep_until(t0 + window / 2);
  auto s_half = sim->statistics();
  auto t_half = clock_type::now();
  std::this_thread::sleep_until(t0 + window);
  auto s1 = sim->statistics();
  auto t1 = clock_type::now();
  burst.join();
  auto statuses = bench::order_statuses(control, gw.auth(), conn);

  auto stop_start = clock_type::now();
  auto exit_status = gw.stop(std::chrono::seconds{15});
  auto stop_ms = seconds_between(stop_start, clock_type::now()) * 1000;
  auto s_end = sim->statistics();

  double secs = seconds_between(t0, t1);
  auto in_window = admitted(s1) - admitted(s0);
  auto first_half = admitted(s_half) - admitted(s0);
  auto second_half = admitted(s1) - admitted(s_half);
  double half_s = seconds_between(t0, t_half);

  std::printf("rate-limit utilisation (simulator: %u requests per key in any 60 s; brokerd "
              "requestsPerMinute %u; fills held)\n",
              sim_limit, sim_limit);
  std::printf("   connect %.0f ms (%lu requests admitted by then)\n", connect_ms,
              static_cast<unsigned long>(admitted(s_connect)));
  std::printf("   orders posted at t=0: %d; accepted by brokerd %ld, refused %ld; all posted "
              "after %ld ms\n",
              orders, burst.accepted(), burst.refused(), burst.posting_done_ms());
  std::printf("   window %.2f s: admitted requests %lu (%lu in the first %.1f s, %lu in the "
              "rest)\n",
              secs, static_cast<unsigned long>(in_window), static_cast<unsigned long>(first_half),
              half_s, static_cast<unsigned long>(second_half));
  std::printf("   orders created at the simulator in the window  %lu\n",
              static_cast<unsigned long>(s1.orders_created - s0.orders_created));
  bench::print_rate_figures({.limit = sim_limit,
                             .window_s = secs,
                             .admitted = in_window,
                             .rate_limited_in_window = s1.rate_limited - s0.rate_limited,
                             .rate_limited_in_all = s_end.rate_limited,
                             .early_retries = s_end.early_retries,
                             .max_in_any_minute = s_end.max_in_any_minute});
  bench::print_end(statuses, exit_status, stop_ms);
  sim->stop();
}

} // namespace

int main(int argc, char** argv) {
  int orders = 600;
  double window_s = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--orders")
      orders = std::clamp(std::stoi(argv[i + 1]), 1, 900);
    else if (a == "--window-s")
      window_s = std::clamp(std::stod(argv[i + 1]), 10.0, 120.0);
  }
  std::printf("Alpaca gateway against the Alpaca simulator: brokerd %s\n\n",
              brokerd::test::program("brokerd").c_str());
  try {
    bench_rate_limit(orders, window_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_alpaca: %s\n", e.what());
    return 1;
  }
  return 0;
}
