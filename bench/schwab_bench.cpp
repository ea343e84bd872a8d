// Schwab gateway figures against the Schwab simulator (tools/sim), brokerd running as a child
// process and the simulator in this process, on loopback over TLS.
//
// Rate-limit utilisation: the simulator admits 120 Trader API requests of the app in any
// sliding 60 s window, as Schwab does (OAuth requests are not throttled), and answers 429
// beyond that. brokerd connects through its OAuth sign-in (POST .../oauth/start, the login page
// at the simulator followed like a browser, GET .../oauth/callback), with the session's default
// of 120 requests a minute. Then a burst of limit orders (400 by default: over three minutes of
// creates; buys limited at 50 and up against a market at 100, so every order rests and stays
// polled) is posted to brokerd at t = 0. Over exactly the window (120 s by default) the bench
// counts the Trader API requests the simulator admitted (requests - 429s - OAuth requests,
// sampled at the start, half-way and at the end) and reports
//   - admitted requests per minute ÷ 120 (goal >= 0.95), and how many of them were creates,
//   - the simulator's 429s (goal 0), its early retries (requests sent before a Retry-After ran
//     out; goal 0) and the most requests it admitted in any 60 s (at most 120).
// Then brokerd is stopped with SIGTERM and the time it takes to exit is reported.
//
//   build/bin/bench_schwab [--orders N] [--window-s N]
//
// A little over 2 minutes with the defaults, bounded: every wait has a limit. Prints figures
// only: timing never fails it; it exits non-zero only when a step does not work at all. brokerd
// is the one built beside it (building this target builds it).

#include <utility>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>


#include "bench/order_burst.hpp"
#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/integration/support/schwab_sign_in.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json.hpp"
#include "tools/sim/schwab_server.hpp"

namespace {

namespace bench = brokerd::bench;
namespace schwab = brokerd::sim::schwab;
namespace test = brokerd::test;
using bench::clock_type;
using bench::seconds_between;
using std::chrono::milliseconds;

constexpr std::uint32_t sim_limit = 120; // Trader API requests per app in any 60 s, Schwab's

std::unique_ptr<schwab::server> start_sim() {
  schwab::config cfg;
  cfg.requests_per_minute = sim_limit;
  cfg.rate_window = std::chrono::seconds{60};
  cfg.tick = milliseconds{250};
  cfg.paths["AAPL"] = {*brokerd::engine::decimal::parse("100")};
  auto sim = schwab::server::start(cfg);
  if (!sim)
    throw std::runtime_error("cannot start the Schwab simulator: " + sim.error());
  return std::move(*sim);
}

/// OAuth requests the simulator answered: authorize (codes issued) and token (grants and
/// refusals). They are not throttled and are not Trader API calls.
std::uint64_t oauth_requests(const schwab::stats& s) {
  std::uint64_t n = s.codes_issued + s.token_refusals;
  for (const auto& [grant, count] : s.token_grants)
    n += count;
  return n;
}

/// Trader API requests the simulator let through (answered as requested, not 429).
std::uint64_t admitted(const schwab::stats& s) {
  return s.requests - s.rate_limited - oauth_requests(s);
}


/// brokerd's whole Schwab sign-in: start, the login page, the callback. Returns the new
/// connection's id; throws when a step is refused.
std::string connect(test::http_client& control, const test::brokerd_instance& gw,
                    const schwab::server& sim) {
  auto credentials = R"({"isPaperTrading":false,"credentials":{"appKey":"demo-app-key",)"
                     R"("appSecret":"demo-app-secret","redirectUri":"https://127.0.0.1/callback",)"
                     R"("baseUrl":"https://127.0.0.1:)" +
                     std::to_string(sim.port()) + R"(","caFile":")" + sim.ca_file().string() +
                     R"("}})";
  auto started = control.request("POST", "/api/brokers/schwab/oauth/start", credentials, gw.auth());
  if (started.status != 200)
    throw std::runtime_error("oauth/start answered " + std::to_string(started.status) + ": " +
                             started.body);
  auto callback =
      test::schwab_sign_in(test::json_string(test::parse_json(started.body), "authorizeUrl"), sim.ca_file());
  // https://127.0.0.1/callback?code=...&state=... : the browser goes to brokerd's callback.
  auto query = callback.find('?');
  if (query == std::string::npos)
    throw std::runtime_error("the login redirect carries no code: " + callback);
  auto connected =
      control.request("GET", "/api/brokers/schwab/oauth/callback" + callback.substr(query));
  if (connected.status != 201)
    throw std::runtime_error("oauth/callback answered " + std::to_string(connected.status) + ": " +
                             connected.body);
  return test::json_string(test::parse_json(connected.body), "connectionId");
}

void bench_rate_limit(int orders, double window_s) {
  test::temp_dir dir{"brokerd-bench-schwab"};
  test::brokerd_instance gw{dir.path() / "data"};
  auto sim = start_sim();
  test::http_client control{gw.port(), std::chrono::seconds{30}};

  auto c0 = clock_type::now();
  auto conn = connect(control, gw, *sim);
  auto connect_ms = seconds_between(c0, clock_type::now()) * 1000;
  auto s_connect = sim->statistics();

  // t = 0: three posters submit the whole burst as fast as brokerd takes it. The limit prices
  // differ by a cent so that every order has its own fingerprint at the simulator.
  auto s0 = sim->statistics();
  bench::order_burst burst{gw.port(), gw.auth(), orders, [&conn](int, int i) {
                             auto cents = 5000 + i;
                             return R"({"connectionId":")" + conn +
                                    R"(","symbol":"AAPL","side":"buy","quantity":"1",)"
                                    R"("type":"limit","limitPrice":")" +
                                    std::to_string(cents / 100) + "." +
                                    std::to_string(cents % 100 / 10) + std::to_string(cents % 10) +
                                    R"(","timeInForce":"gtc"})";
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
  auto creates = s1.orders_created - s0.orders_created;
  std::uint64_t sent_twice = 0;
  for (const auto& [fingerprint, n] : s_end.creates_by_fingerprint)
    sent_twice += n > 1 ? n - 1 : 0;

  std::printf("rate-limit utilisation (simulator: %u Trader API requests per app in any 60 s; "
              "brokerd's Schwab session at its default of %u a minute; orders rest)\n",
              sim_limit, sim_limit);
  std::printf("   OAuth sign-in and connect %.0f ms (%lu Trader API and %lu OAuth requests by "
              "then)\n",
              connect_ms, static_cast<unsigned long>(admitted(s_connect)),
              static_cast<unsigned long>(oauth_requests(s_connect)));
  std::printf("   orders posted at t=0: %d; accepted by brokerd %ld, refused %ld; all posted "
              "after %ld ms\n",
              orders, burst.accepted(), burst.refused(), burst.posting_done_ms());
  std::printf("   window %.2f s: admitted Trader API requests %lu (%lu in the first %.1f s, %lu "
              "in the rest)\n",
              secs, static_cast<unsigned long>(in_window), static_cast<unsigned long>(first_half),
              half_s, static_cast<unsigned long>(second_half));
  std::printf("   of them: order creates %lu, other calls (polls, lookups) %lu; OAuth requests "
              "%lu\n",
              static_cast<unsigned long>(creates), static_cast<unsigned long>(in_window - creates),
              static_cast<unsigned long>(oauth_requests(s1) - oauth_requests(s0)));
  std::printf("   orders created at the simulator in all  %lu (%lu created twice)\n",
              static_cast<unsigned long>(s_end.orders_created),
              static_cast<unsigned long>(sent_twice));
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
  int orders = 400;
  double window_s = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--orders")
      orders = std::clamp(std::stoi(argv[i + 1]), 1, 900);
    else if (a == "--window-s")
      window_s = std::clamp(std::stod(argv[i + 1]), 10.0, 120.0);
  }
  std::printf("Schwab gateway against the Schwab simulator: brokerd %s\n\n",
              brokerd::test::program("brokerd").c_str());
  try {
    bench_rate_limit(orders, window_s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_schwab: %s\n", e.what());
    return 1;
  }
  return 0;
}
