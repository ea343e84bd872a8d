// HTTP API under load: 100 concurrent keep-alive clients (wrk, from Debian) against brokerd's
// `GET /api/brokers/user/configured` and `POST /api/orders` (the demo's paper connection), and,
// as the baseline in the same run, the same HTTP server (api::http_server, one io thread as in
// brokerd) with a handler that answers at once — what the front, the router and the event log
// add is the difference. Prints requests/s and p50/p95/p99 per target and the ratios.
//
//   build/bin/bench_api [--seconds N] [--connections N]
//
// Bounded: each of the four runs lasts --seconds (default 10, at most 60) with --connections
// clients (default 100, at most 1000). Needs `wrk` on PATH.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "api/http_server.hpp"
#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"

namespace {

using namespace brokerd;

struct options {
  int seconds = 10;
  int connections = 100;
};

struct figures {
  double requests_per_s = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  long requests = 0;
  /// Socket errors, timeouts and answers outside 2xx.
  long errors = 0;
};

// wrk's script: the method, body and headers of every request, and its figures in a form
// this program reads (latencies in microseconds).
constexpr const char* wrk_script = R"(
wrk.method = os.getenv("BENCH_METHOD")
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("bench-requests %d\n", summary.requests))
  io.write(string.format("bench-errors %d\n",
    e.connect + e.read + e.write + e.status + e.timeout))
  io.write(string.format("bench-rate %f\n", summary.requests / (summary.duration / 1e6)))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("bench-p%d %d\n", p, latency:percentile(p)))
  end
end
)";

figures run_wrk(const options& o, const std::filesystem::path& script, std::uint16_t port,
                const std::string& path, const std::string& method, const std::string& body,
                const std::string& token) {
  auto out = script.parent_path() / "wrk.out";
  std::string cmd = "BENCH_METHOD='" + method + "' BENCH_BODY='" + body + "' BENCH_TOKEN='" +
                    token + "' wrk -t2 -c" + std::to_string(o.connections) + " -d" +
                    std::to_string(o.seconds) + "s --timeout 5s -s '" + script.string() +
                    "' 'http://127.0.0.1:" + std::to_string(port) + path + "' > '" +
                    out.string() + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::ifstream in{out};
    std::cerr << "wrk failed:\n" << in.rdbuf() << "\n";
    std::exit(1);
  }
  figures f;
  std::ifstream in{out};
  std::string key;
  double value = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls{line};
    if (!(ls >> key >> value))
      continue;
    if (key == "bench-requests")
      f.requests = static_cast<long>(value);
    else if (key == "bench-errors")
      f.errors = static_cast<long>(value);
    else if (key == "bench-rate")
      f.requests_per_s = value;
    else if (key == "bench-p50")
      f.p50_ms = value / 1000.0;
    else if (key == "bench-p95")
      f.p95_ms = value / 1000.0;
    else if (key == "bench-p99")
      f.p99_ms = value / 1000.0;
  }
  return f;
}

/// CPU time and context switches of a process's threads, summed by thread name, from
/// /proc/PID/task (Linux).
struct thread_use {
  double cpu_s = 0;
  long switches = 0;
};
using usage = std::map<std::string, thread_use>;

usage sample_threads(pid_t pid) {
  usage out;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::error_code ec;
  auto dir = std::filesystem::path{"/proc"} / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator{dir, ec}) {
    std::string comm;
    std::getline(std::ifstream{task.path() / "comm"}, comm);
    // utime and stime are fields 14 and 15 of stat, counted after the ")" that ends comm.
    std::string stat;
    std::getline(std::ifstream{task.path() / "stat"}, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream fields{stat.substr(close + 2)};
    std::string skip;
    for (int i = 3; i < 14; ++i)
      fields >> skip;
    long utime = 0;
    long stime = 0;
    fields >> utime >> stime;
    auto& use = out[comm];
    use.cpu_s += static_cast<double>(utime + stime) / tick;
    std::ifstream status{task.path() / "status"};
    std::string line;
    while (std::getline(status, line))
      if (line.starts_with("voluntary_ctxt_switches:") ||
          line.starts_with("nonvoluntary_ctxt_switches:"))
        use.switches += std::stol(line.substr(line.find(':') + 1));
  }
  return out;
}

/// Prints what each thread group spent per request between two samples.
void print_breakdown(const usage& before, const usage& after, long requests, const char* who) {
  if (requests <= 0)
    return;
  double total_us = 0;
  long total_switches = 0;
  std::printf("  %s threads, per request (CPU from /proc):\n", who);
  for (const auto& [name, end] : after) {
    auto it = before.find(name);
    thread_use start = it == before.end() ? thread_use{} : it->second;
    double us = (end.cpu_s - start.cpu_s) * 1e6 / static_cast<double>(requests);
    long sw = end.switches - start.switches;
    if (us < 0.05 && sw == 0)
      continue;
    total_us += us;
    total_switches += sw;
    std::printf("    %-18s %7.1f us CPU  %5.2f context switches\n", name.c_str(), us,
                static_cast<double>(sw) / static_cast<double>(requests));
  }
  std::printf("    %-18s %7.1f us CPU  %5.2f context switches\n", "all", total_us,
              static_cast<double>(total_switches) / static_cast<double>(requests));
}

void print(const char* name, const figures& f) {
  std::printf("%-44s %9.0f req/s  p50 %6.2f ms  p95 %6.2f ms  p99 %6.2f ms  (%ld requests, "
              "%ld errors)\n",
              name, f.requests_per_s, f.p50_ms, f.p95_ms, f.p99_ms, f.requests, f.errors);
}

int parse_bounded(const char* text, int lo, int hi, const char* what) {
  char* end = nullptr;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < lo || v > hi) {
    std::cerr << "bench_api: " << what << " must be " << lo << ".." << hi << "\n";
    std::exit(2);
  }
  return static_cast<int>(v);
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      o.seconds = parse_bounded(argv[++i], 1, 60, "--seconds");
    else if (a == "--connections" && i + 1 < argc)
      o.connections = parse_bounded(argv[++i], 1, 1000, "--connections");
    else {
      std::cerr << "usage: bench_api [--seconds N] [--connections N]\n";
      return 2;
    }
  }
  if (std::system("command -v wrk > /dev/null") != 0) {
    std::cerr << "bench_api: wrk is not installed (apt-get install wrk)\n";
    return 1;
  }
  test::temp_dir dir{"brokerd-bench-api"};
  auto script = dir.path() / "bench.lua";
  std::ofstream{script} << wrk_script;

  // The baseline: the same HTTP server, a handler that answers at once.
  boost::asio::io_context ioc{1};
  const std::string configured_like =
      R"({"connections":[{"id":"conn_paper_0123456789ab","broker":"paper","status":"connected"}]})";
  auto bare = api::http_server::start(
      ioc, "127.0.0.1", 0,
      [&configured_like](api::http_request req, api::responder respond) {
        api::http_response r;
        r.status = req.method == "POST" ? 201 : 200;
        r.body = configured_like;
        respond(std::move(r));
      },
      api::http_limits{.max_connections = 4096});
  if (!bare) {
    std::cerr << "bench_api: " << bare.error() << "\n";
    return 1;
  }
  std::thread io{[&ioc] { ioc.run(); }};

  // brokerd --demo, driven with the admin's token: the per-user request limit does not apply
  // to administrators (unless configured to), so the bench measures the gateway, not its
  // throttle.
  test::brokerd_instance server{dir.path() / "data"};
  const std::string order_body = R"({"connectionId":")" + server.connection() +
                                 R"(","symbol":"AAPL","side":"buy","type":"limit",)"
                                 R"("quantity":"1","limitPrice":"1"})";

  std::printf("%d keep-alive connections, %d s per run, wrk -t2, loopback\n\n", o.connections,
              o.seconds);
  auto base_get = run_wrk(o, script, (*bare)->port(), "/api/brokers/user/configured", "GET", "", "");
  print("baseline: bare handler, GET", base_get);
  auto get = run_wrk(o, script, server.port(), "/api/brokers/user/configured", "GET", "",
                     server.token());
  print("brokerd: GET /api/brokers/user/configured", get);
  auto bare_before = sample_threads(::getpid());
  auto base_post = run_wrk(o, script, (*bare)->port(), "/api/orders", "POST", order_body, "");
  auto bare_after = sample_threads(::getpid());
  print("baseline: bare handler, POST", base_post);
  print_breakdown(bare_before, bare_after, base_post.requests, "bare server");
  auto before = sample_threads(server.process().pid());
  auto post = run_wrk(o, script, server.port(), "/api/orders", "POST", order_body, server.token());
  auto after = sample_threads(server.process().pid());
  print("brokerd: POST /api/orders (paper, limit)", post);
  print_breakdown(before, after, post.requests, "brokerd");

  std::printf("\nratio to the baseline (requests/s): GET %.3f, POST %.3f (goal >= 0.5)\n",
              get.requests_per_s / base_get.requests_per_s,
              post.requests_per_s / base_post.requests_per_s);
  std::printf("p95: GET %.2f ms, POST %.2f ms (goal < 5 ms)\n", get.p95_ms, post.p95_ms);

  (*bare)->stop();
  ioc.stop();
  io.join();
  return 0;
}
