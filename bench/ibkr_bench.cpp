// IBKR gateway figures against the TWS simulator (tools/sim), brokerd running as a child process
// and the simulator in this process, on loopback:
//
// 1. Pacing utilisation: with a backlog of limit orders kept queued in brokerd (fills held at
//    the simulator, so every order stays working), the messages per second the simulator
//    receives from brokerd's client id over a fixed window, against the simulator's limit of
//    50 msg/s. brokerd paces at 48 msg/s by default, so 0.96 is the ceiling.
// 2. Reconnect time: with the connection ready, the simulator stops and a new one starts on the
//    same port at once; the time until GET /api/brokers/user/configured shows `ready` again is
//    split into the backoff delay brokerd chose (from the connection.state `backoff` event) and
//    the overhead beyond it, against a first connect measured in the same run.
//
//   build/bin/bench_ibkr [--brokerd PATH] [--window-s N] [--orders N] [--restarts N]
//
// Every phase is bounded in count and time (about 35 s in all with the defaults). Prints
// figures only: timing never fails it; it exits non-zero only when a step does not work at all.
// brokerd is taken from the directory of this program unless --brokerd says otherwise, so build
// the whole tree (cmake --build) before running it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"
#include "tools/sim/tws_server.hpp"

namespace {

namespace tws = brokerd::sim::tws;
namespace test = brokerd::test;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::int32_t client_id = 7;
constexpr std::uint32_t sim_pacing_limit = 50;
constexpr std::uint32_t brokerd_pacing = 48; // session.hpp: ibkr_config::pacing_per_s

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::unique_ptr<tws::server> start_sim(std::uint16_t port) {
  tws::config cfg;
  cfg.port = port;
  cfg.pacing_limit = sim_pacing_limit;
  cfg.paths["AAPL"] = {*brokerd::engine::decimal::parse("100")};
  auto sim = tws::server::start(cfg);
  if (!sim)
    throw std::runtime_error("cannot start the TWS simulator: " + sim.error());
  (*sim)->hold_fills(true);
  return std::move(*sim);
}

tws::client_stats client_of(const tws::stats& s) {
  for (const auto& c : s.clients)
    if (c.client_id == client_id)
      return c;
  return {};
}

/// A `brokerd --demo` child process with its own data directory and HTTP port. Start it before
/// any simulator: the child inherits the listening sockets open at spawn time (Asio does not
/// mark them close-on-exec), and a simulator's port held by brokerd cannot be bound again.
class gateway {
public:
  gateway(const std::filesystem::path& program, const std::filesystem::path& dir)
      : port_{test::free_port()} {
    auto data = dir / "data";
    proc_ = std::make_unique<test::child_process>(
        std::vector<std::string>{program.string(), "--demo", "--data-dir", data.string(),
                                 "--http-port", std::to_string(port_)},
        dir / "brokerd.log");
    if (!test::wait_for_port(port_, std::chrono::seconds{60}))
      throw std::runtime_error("brokerd did not open its port; output:\n" + proc_->output());
    token_ = test::read_file(data / "admin-token");
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r'))
      token_.pop_back();
  }
  ~gateway() { stop(); }
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] test::http_client::header_list auth() const {
    return {{"Authorization", "Bearer " + token_}};
  }
  /// SIGTERM, a bounded wait, then the child_process destructor's SIGKILL.
  void stop() {
    if (!proc_)
      return;
    proc_->kill(SIGTERM);
    (void)proc_->wait_exit(std::chrono::seconds{10});
    proc_.reset();
  }

private:
  std::uint16_t port_;
  std::string token_;
  std::unique_ptr<test::child_process> proc_;
};

/// Connects brokerd to the simulator on `sim_port`; returns the connection id and the time the
/// POST took (handshake, resync and the balance query included).
std::pair<std::string, double> connect(test::http_client& client, const gateway& gw,
                                       std::uint16_t sim_port) {
  auto body = R"({"isPaperTrading":true,"credentials":{"host":"127.0.0.1","port":)" +
              std::to_string(sim_port) + R"(,"clientId":)" + std::to_string(client_id) + "}}";
  auto t0 = clock_type::now();
  auto r = client.request("POST", "/api/brokers/ibkr/connect", body, gw.auth());
  auto took = ms_between(t0, clock_type::now());
  if (r.status != 201)
    throw std::runtime_error("connect answered " + std::to_string(r.status) + ": " + r.body);
  return {test::json_string(test::parse_json(r.body), "connectionId"), took};
}

std::string state_of(test::http_client& client, const gateway& gw, const std::string& conn) {
  auto r = client.request("GET", "/api/brokers/user/configured", {}, gw.auth());
  if (r.status != 200)
    return {};
  auto doc = test::parse_json(r.body);
  for (const auto& c : test::json_member(doc, "connections").GetArray())
    if (test::json_string(c, "id") == conn)
      return test::json_string(c, "state");
  return {};
}

// -- 1. pacing utilisation ----------------------------------------------------------------------

void bench_pacing(const std::filesystem::path& program, double window_s, int max_orders) {
  test::temp_dir dir{"brokerd-bench-ibkr"};
  gateway gw{program, dir.path()};
  auto sim = start_sim(0);
  test::http_client control{gw.port()};
  auto [conn, connect_ms] = connect(control, gw, sim->port());

  // Posters keep the backlog (accepted by brokerd, not yet placed at the simulator) between
  // these bounds: enough that the pacer never idles, well under the 1,000-order lane and short
  // enough (about 8 s at 48/s) that no acknowledgement outlives the router's 10 s timeout.
  constexpr long backlog_high = 400;
  constexpr long window_start_backlog = 200;
  std::atomic<long> accepted{0};
  std::atomic<long> refused{0};
  std::atomic<long> placed{0};
  std::atomic<int> next_order{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> posters;
  for (int t = 0; t < 3; ++t)
    posters.emplace_back([&, t] {
      test::http_client client{gw.port()};
      while (!stop.load()) {
        if (accepted.load() - placed.load() >= backlog_high) {
          std::this_thread::sleep_for(milliseconds{5});
          continue;
        }
        int i = next_order.fetch_add(1);
        if (i >= max_orders)
          return;
        auto body = R"({"connectionId":")" + conn +
                    R"(","symbol":"AAPL","side":"buy","quantity":1,"type":"limit",)"
                    R"("limitPrice":"90","clientOrderId":"bench-)" +
                    std::to_string(t) + "-" + std::to_string(i) + R"("})";
        try {
          auto r = client.request("POST", "/api/orders", body, gw.auth());
          (r.status == 201 ? accepted : refused).fetch_add(1);
        } catch (const std::exception&) {
          refused.fetch_add(1);
        }
      }
    });
  auto refresh = [&] {
    auto s = sim->statistics();
    placed.store(static_cast<long>(s.orders_placed));
    return s;
  };

  auto ramp_start = clock_type::now();
  test::wait_until(
      [&] {
        refresh();
        return accepted.load() - placed.load() >= window_start_backlog;
      },
      std::chrono::seconds{10}, milliseconds{5});
  auto ramp_ms = ms_between(ramp_start, clock_type::now());

  auto s0 = refresh();
  auto t0 = clock_type::now();
  auto end = t0 + std::chrono::duration_cast<clock_type::duration>(
                      std::chrono::duration<double>{window_s});
  long min_backlog = accepted.load() - placed.load();
  while (clock_type::now() < end) {
    std::this_thread::sleep_for(milliseconds{10});
    refresh();
    min_backlog = std::min(min_backlog, accepted.load() - placed.load());
  }
  auto s1 = refresh();
  auto t1 = clock_type::now();
  stop.store(true);
  for (auto& p : posters)
    p.join();

  auto c0 = client_of(s0);
  auto c1 = client_of(s1);
  double secs = ms_between(t0, t1) / 1000.0;
  auto messages = c1.messages - c0.messages;
  double achieved = static_cast<double>(messages) / secs;
  std::printf("1. pacing utilisation (simulator limit %u msg/s per connection, fills held)\n",
              sim_pacing_limit);
  std::printf("   connect %.0f ms; backlog of %ld orders reached after %.0f ms; window %.2f s\n",
              connect_ms, window_start_backlog, ramp_ms, secs);
  std::printf("   orders posted %ld accepted, %ld refused; placed at the simulator %lu "
              "(%lu in the window); smallest backlog in the window %ld\n",
              accepted.load(), refused.load(), static_cast<unsigned long>(s1.orders_placed),
              static_cast<unsigned long>(s1.orders_placed - s0.orders_placed), min_backlog);
  std::printf("   messages from client %d in the window  %lu\n", client_id,
              static_cast<unsigned long>(messages));
  std::printf("   achieved msg/s                         %.2f\n", achieved);
  std::printf("   utilisation = achieved / %u            %.3f  (goal >= 0.95; ceiling %u/%u = "
              "%.2f)\n",
              sim_pacing_limit, achieved / sim_pacing_limit, brokerd_pacing, sim_pacing_limit,
              static_cast<double>(brokerd_pacing) / sim_pacing_limit);
  std::printf("   achieved / brokerd's own %u msg/s       %.3f\n", brokerd_pacing,
              achieved / brokerd_pacing);
  std::printf("   violations                             %lu in the window, %lu in all  (goal 0)\n",
              static_cast<unsigned long>(c1.violations - c0.violations),
              static_cast<unsigned long>(s1.pacing_violations));
  std::printf("   max in any 1 s window                  %u  (limit %u)\n\n", c1.max_in_any_second,
              sim_pacing_limit);
  gw.stop();
  sim->stop();
}

// -- 2. reconnect after a simulator restart -----------------------------------------------------

struct backoff_event {
  long delay_ms = -1;
  std::int64_t ts_ns = 0;
};

/// The newest connection.state `backoff` event of `conn` from sequence `since` on; advances
/// `since` past what it read.
std::optional<backoff_event> read_backoff(test::http_client& client, const gateway& gw,
                                          const std::string& conn, std::uint64_t& since) {
  std::optional<backoff_event> found;
  for (int page = 0; page < 20; ++page) {
    auto r = client.request("GET", "/api/events?since=" + std::to_string(since) + "&limit=1000", {},
                            gw.auth());
    if (r.status != 200)
      break;
    auto doc = test::parse_json(r.body);
    const auto& events = test::json_member(doc, "events");
    for (const auto& ev : events.GetArray()) {
      if (!test::json_has(ev, "type") || test::json_string(ev, "type") != "connection.state" ||
          !test::json_has(ev, "connection") || test::json_string(ev, "connection") != conn ||
          !test::json_has(ev, "state") || test::json_string(ev, "state") != "backoff" ||
          !test::json_has(ev, "reason"))
        continue;
      auto reason = test::json_string(ev, "reason");
      auto at = reason.find("restarting in ");
      if (at == std::string::npos)
        continue;
      backoff_event b;
      b.delay_ms = std::stol(reason.substr(at + 14));
      b.ts_ns = test::json_member(ev, "ts").GetInt64();
      found = b;
    }
    since = test::json_uint(doc, "nextSeq");
    if (events.Size() < 1000)
      break;
  }
  return found;
}

void bench_reconnect(const std::filesystem::path& program, int restarts) {
  test::temp_dir dir{"brokerd-bench-ibkr"};
  gateway gw{program, dir.path()};
  auto sim = start_sim(0);
  auto sim_port = sim->port();
  test::http_client client{gw.port()};
  auto [conn, connect_ms] = connect(client, gw, sim_port);
  std::uint64_t since = 1;
  (void)read_backoff(client, gw, conn, since);

  std::printf("2. reconnect after the simulator restarts on the same port (polled every 5 ms)\n");
  std::printf("   baseline: first connect (POST connect -> 201: handshake, resync, balance) "
              "%.0f ms\n",
              connect_ms);
  std::vector<double> overheads;
  for (int run = 1; run <= restarts; ++run) {
    if (!test::wait_until([&] { return state_of(client, gw, conn) == "ready"; },
                          std::chrono::seconds{30}, milliseconds{5}))
      throw std::runtime_error("the connection is not ready before restart " + std::to_string(run));
    auto stop_wall = std::chrono::system_clock::now();
    auto stopped = clock_type::now();
    sim->stop();
    sim.reset();
    sim = start_sim(sim_port);
    auto listening = clock_type::now();

    bool left_ready = false;
    std::optional<clock_type::time_point> ready_at;
    test::wait_until(
        [&] {
          auto s = state_of(client, gw, conn);
          auto now = clock_type::now();
          if (s != "ready")
            left_ready = true;
          else if (left_ready)
            ready_at = now;
          return ready_at.has_value();
        },
        std::chrono::seconds{90}, milliseconds{5});
    if (!ready_at)
      throw std::runtime_error("no ready within 90 s after restart " + std::to_string(run));
    auto backoff = read_backoff(client, gw, conn, since);
    if (!backoff)
      throw std::runtime_error("no backoff event after restart " + std::to_string(run));

    // The simulator listened before the backoff expired, so the overhead runs from that expiry,
    // estimated as stop + delay: it includes noticing the closed socket (a bound from above).
    // The event's timestamp (taken when the log wrote it, after the delay was chosen) gives
    // the bound from below.
    auto to_ready = ms_between(stopped, *ready_at);
    auto overhead = to_ready - static_cast<double>(backoff->delay_ms);
    auto stop_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(stop_wall.time_since_epoch()).count();
    auto logged_after = static_cast<double>(backoff->ts_ns - stop_ns) / 1e6;
    overheads.push_back(overhead);
    std::printf("   #%d reconnect = backoff %ld ms + %.1f ms   (listening -> ready %.1f ms; stop "
                "-> listening %.1f ms; backoff event logged %.1f ms after stop, so at least "
                "%.1f ms)\n",
                run, backoff->delay_ms, overhead, ms_between(listening, *ready_at),
                ms_between(stopped, listening), logged_after, overhead - logged_after);
  }
  auto sorted = overheads;
  std::sort(sorted.begin(), sorted.end());
  auto median = sorted[sorted.size() / 2];
  if (sorted.size() % 2 == 0)
    median = (median + sorted[sorted.size() / 2 - 1]) / 2;
  std::printf("   median overhead beyond the backoff     %.1f ms  (goal < 100 ms)\n", median);
  std::printf("   median overhead / first connect        %.2f\n", median / connect_ms);
  gw.stop();
  sim->stop();
}

std::filesystem::path default_brokerd() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{"brokerd"} : self.parent_path() / "brokerd";
}

} // namespace

int main(int argc, char** argv) {
  auto program = default_brokerd();
  double window_s = 20;
  int orders = 1200;
  int restarts = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--brokerd")
      program = argv[i + 1];
    else if (a == "--window-s")
      window_s = std::clamp(std::stod(argv[i + 1]), 1.0, 60.0);
    else if (a == "--orders")
      orders = std::clamp(std::stoi(argv[i + 1]), 50, 3000);
    else if (a == "--restarts")
      restarts = std::clamp(std::stoi(argv[i + 1]), 1, 8);
  }
  std::printf("IBKR gateway against the TWS simulator: brokerd %s\n\n", program.c_str());
  try {
    bench_pacing(program, window_s, orders);
    bench_reconnect(program, restarts);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ibkr: %s\n", e.what());
    return 1;
  }
  return 0;
}
