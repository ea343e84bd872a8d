// broker-sim: runs broker simulators (TWS, Alpaca, Schwab) on local ports until SIGINT/SIGTERM,
// then prints their statistics. Each simulator has its own `--<name>-port` flag; the market
// flags (--prices, --tick-ms, --fill-chunk, --cash) apply to every simulator started.

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <iostream>
#include <memory>
#include <optional>
#include <pthread.h>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sim/alpaca_server.hpp"
#include "tools/sim/price_paths.hpp"
#include "tools/sim/schwab_server.hpp"
#include "tools/sim/tws_server.hpp"

namespace {

namespace sim = brokerd::sim;
using brokerd::engine::decimal;

constexpr std::string_view usage =
    R"(usage: broker-sim [--tws-port N] [--alpaca-port N] [--schwab-port N] [options]

Simulated brokers on local ports, for tests and demos. Runs until SIGINT or SIGTERM, then
prints statistics and exits 0.

simulators (at least one):
  --tws-port N          IBKR TWS API socket simulator (server version 178); 0 = ephemeral port
  --alpaca-port N       Alpaca Trading API v2 simulator (REST and /stream over TLS); 0 = ephemeral
  --schwab-port N       Charles Schwab Trader API simulator (OAuth and /trader/v1 over TLS);
                        0 = ephemeral

common:
  --bind ADDR           address to listen on (default 127.0.0.1)
  --prices SPEC         price paths, one step per tick, e.g. "AAPL=187.25,187.5;MSFT=410"
  --tick-ms N           price step and matching period in ms (default 250)
  --fill-chunk Q        largest quantity filled per order and tick (default 500)
  --cash AMOUNT         starting cash in USD (default 100000)

tws:
  --tws-account ID      the managed account (default DU1234567)
  --pacing-limit N      inbound messages per second before error 100 (default 50)

alpaca:
  --alpaca-key ID       the accepted APCA-API-KEY-ID (default demo-key)
  --alpaca-secret S     the accepted APCA-API-SECRET-KEY (default demo-secret)
  --tls-dir DIR         where the generated CA (ca.pem) and server certificate are written
                        (default: a temporary directory removed at exit); shared with the
                        Schwab simulator (see below)
  --alpaca-requests-per-minute N
                        REST requests per key admitted within the rate window before 429
                        with Retry-After (default 200)
  --alpaca-rate-window-ms N
                        the length of the sliding rate window in ms (default 60000)

schwab:
  --schwab-app-key K    the app key (OAuth client_id) (default demo-app-key)
  --schwab-app-secret S the app secret (default demo-app-secret)
  --schwab-refresh-token T
                        a refresh token valid from the start, without a browser login
                        (default demo-refresh-token)
  --schwab-requests-per-minute N
                        Trader API requests admitted within the rate window before 429 with
                        Retry-After (default 120)
  --schwab-rate-window-ms N
                        the length of the sliding rate window in ms (default 60000)
  The CA goes to --tls-dir DIR, or to DIR/schwab when the Alpaca simulator runs as well (each
  simulator has its own CA); the listening line names it.

  --help                this text
)";

/// Everything the command line sets.
struct options {
  std::optional<std::uint16_t> tws_port;
  sim::tws::config tws;
  std::optional<std::uint16_t> alpaca_port;
  sim::alpaca::config alpaca;
  std::optional<std::uint16_t> schwab_port;
  sim::schwab::config schwab;
};

template <class T> std::optional<T> parse_number(std::string_view text) {
  T v{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size())
    return std::nullopt;
  return v;
}

/// Parses argv; an error text for a bad command line, nothing after --help was printed.
std::expected<std::optional<options>, std::string> parse(int argc, char** argv) {
  options o;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    std::string_view value;
    bool inline_value = false;
    if (auto eq = flag.find('='); flag.starts_with("--") && eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      inline_value = true;
    }
    if (flag == "--help" || flag == "-h") {
      std::cout << usage;
      return std::optional<options>{};
    }
    if (!inline_value) {
      if (i + 1 >= args.size())
        return std::unexpected(std::string{flag} + " needs a value");
      value = args[++i];
    }
    auto bad = [&](std::string_view what) {
      return std::unexpected(std::string{flag} + " '" + std::string{value} +
                             "': " + std::string{what});
    };
    if (flag == "--tws-port" || flag == "--alpaca-port" || flag == "--schwab-port") {
      auto port = parse_number<std::uint16_t>(value);
      if (!port)
        return bad("not a port number");
      (flag == "--tws-port"      ? o.tws_port
       : flag == "--alpaca-port" ? o.alpaca_port
                                 : o.schwab_port) = *port;
      o.tws.port = o.tws_port.value_or(0);
      o.alpaca.port = o.alpaca_port.value_or(0);
      o.schwab.port = o.schwab_port.value_or(0);
    } else if (flag == "--bind") {
      o.tws.bind = std::string{value};
      o.alpaca.bind = std::string{value};
      o.schwab.bind = std::string{value};
    } else if (flag == "--alpaca-key" || flag == "--alpaca-secret") {
      if (value.empty())
        return bad("must not be empty");
      (flag == "--alpaca-key" ? o.alpaca.key_id : o.alpaca.secret) = std::string{value};
    } else if (flag == "--tls-dir") {
      if (value.empty())
        return bad("must not be empty");
      o.alpaca.tls_dir = std::string{value};
      o.schwab.tls_dir = std::string{value};
    } else if (flag == "--alpaca-requests-per-minute") {
      auto n = parse_number<std::uint32_t>(value);
      if (!n || *n == 0)
        return bad("a positive integer expected");
      o.alpaca.requests_per_minute = *n;
    } else if (flag == "--alpaca-rate-window-ms") {
      auto ms = parse_number<std::uint32_t>(value);
      if (!ms || *ms == 0 || *ms > 3'600'000)
        return bad("1..3600000 expected");
      o.alpaca.rate_window = std::chrono::milliseconds{*ms};
    } else if (flag == "--schwab-app-key" || flag == "--schwab-app-secret" ||
               flag == "--schwab-refresh-token") {
      if (value.empty())
        return bad("must not be empty");
      if (flag == "--schwab-app-key" && value.find(':') != std::string_view::npos)
        return bad("must not contain ':'");
      (flag == "--schwab-app-key"      ? o.schwab.app_key
       : flag == "--schwab-app-secret" ? o.schwab.app_secret
                                       : o.schwab.refresh_token) = std::string{value};
    } else if (flag == "--schwab-requests-per-minute") {
      auto n = parse_number<std::uint32_t>(value);
      if (!n || *n == 0)
        return bad("a positive integer expected");
      o.schwab.requests_per_minute = *n;
    } else if (flag == "--schwab-rate-window-ms") {
      auto ms = parse_number<std::uint32_t>(value);
      if (!ms || *ms == 0 || *ms > 3'600'000)
        return bad("1..3600000 expected");
      o.schwab.rate_window = std::chrono::milliseconds{*ms};
    } else if (flag == "--tws-account") {
      if (value.empty() || value.find(',') != std::string_view::npos)
        return bad("one account code expected");
      o.tws.account = std::string{value};
    } else if (flag == "--prices") {
      auto paths = sim::parse_price_paths(value);
      if (!paths)
        return std::unexpected(paths.error());
      o.alpaca.paths = *paths;
      o.schwab.paths = *paths;
      o.tws.paths = std::move(*paths);
    } else if (flag == "--tick-ms") {
      auto ms = parse_number<std::uint32_t>(value);
      if (!ms || *ms == 0 || *ms > 60'000)
        return bad("1..60000 expected");
      o.tws.tick = std::chrono::milliseconds{*ms};
      o.alpaca.tick = o.tws.tick;
      o.schwab.tick = o.tws.tick;
    } else if (flag == "--fill-chunk" || flag == "--cash") {
      auto d = decimal::parse(value);
      if (!d || !d->is_positive())
        return bad("a positive decimal expected");
      (flag == "--cash" ? o.tws.cash : o.tws.fill_chunk) = *d;
      (flag == "--cash" ? o.alpaca.cash : o.alpaca.fill_chunk) = *d;
      (flag == "--cash" ? o.schwab.cash : o.schwab.fill_chunk) = *d;
    } else if (flag == "--pacing-limit") {
      auto n = parse_number<std::uint32_t>(value);
      if (!n || *n == 0)
        return bad("a positive integer expected");
      o.tws.pacing_limit = *n;
    } else {
      return std::unexpected("unknown flag " + std::string{flag} + " (see --help)");
    }
  }
  if (!o.tws_port && !o.alpaca_port && !o.schwab_port)
    return std::unexpected(std::string{
        "no simulator to run: give --tws-port, --alpaca-port and/or --schwab-port (see --help)"});
  // Each TLS simulator writes its own CA: they must not overwrite each other's ca.pem.
  if (o.alpaca_port && o.schwab_port && !o.schwab.tls_dir.empty())
    o.schwab.tls_dir /= "schwab";
  return std::optional<options>{std::move(o)};
}

void print_stats(const sim::tws::stats& s) {
  std::cout << "broker-sim: tws stats: connections_accepted=" << s.connections_accepted
            << " connections_refused=" << s.connections_refused << " messages=" << s.messages
            << " pacing_violations=" << s.pacing_violations
            << " max_in_any_second=" << s.max_in_any_second << " decode_errors=" << s.decode_errors
            << " orders_placed=" << s.orders_placed
            << " duplicate_order_ids=" << s.duplicate_order_ids << "\n";
  for (const auto& c : s.clients)
    std::cout << "broker-sim: tws client " << c.client_id << ": messages=" << c.messages
              << " violations=" << c.violations << " max_in_any_second=" << c.max_in_any_second
              << "\n";
  for (const auto& [ref, n] : s.placements_by_order_ref)
    if (n > 1)
      std::cout << "broker-sim: tws orderRef " << ref << " placed " << n << " times\n";
  std::cout.flush();
}

void print_stats(const sim::alpaca::stats& s) {
  std::cout << "broker-sim: alpaca stats: requests=" << s.requests
            << " rate_limited=" << s.rate_limited << " early_retries=" << s.early_retries
            << " orders_created=" << s.orders_created
            << " max_in_any_minute=" << s.max_in_any_minute
            << " stream_connections=" << s.stream_connections << " events_sent=" << s.events_sent
            << "\n";
  std::cout.flush();
}

void print_stats(const sim::schwab::stats& s) {
  auto grants = [&](const char* type) {
    auto it = s.token_grants.find(type);
    return it == s.token_grants.end() ? std::uint64_t{0} : it->second;
  };
  std::cout << "broker-sim: schwab stats: requests=" << s.requests
            << " rate_limited=" << s.rate_limited << " early_retries=" << s.early_retries
            << " orders_created=" << s.orders_created
            << " max_in_any_minute=" << s.max_in_any_minute
            << " code_grants=" << grants("authorization_code")
            << " refresh_grants=" << grants("refresh_token")
            << " token_refusals=" << s.token_refusals
            << " refresh_tokens_issued=" << s.refresh_tokens_issued
            << " unauthorized=" << s.unauthorized << "\n";
  for (const auto& [fingerprint, n] : s.creates_by_fingerprint)
    if (n > 1)
      std::cout << "broker-sim: schwab order \"" << fingerprint << "\" created " << n << " times\n";
  std::cout.flush();
}

} // namespace

int main(int argc, char** argv) {
  auto parsed = parse(argc, argv);
  if (!parsed) {
    std::cerr << "broker-sim: " << parsed.error() << "\n";
    return 2;
  }
  if (!*parsed)
    return 0;
  auto& o = **parsed;

  // Block the stop signals before any thread starts, so that only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<sim::tws::server> tws;
  if (o.tws_port) {
    auto started = sim::tws::server::start(o.tws);
    if (!started) {
      std::cerr << "broker-sim: " << started.error() << "\n";
      return 1;
    }
    tws = std::move(*started);
    std::cout << "broker-sim: tws listening on " << o.tws.bind << ":" << tws->port() << std::endl;
  }

  std::unique_ptr<sim::alpaca::server> alpaca;
  if (o.alpaca_port) {
    auto started = sim::alpaca::server::start(o.alpaca);
    if (!started) {
      std::cerr << "broker-sim: " << started.error() << "\n";
      return 1;
    }
    alpaca = std::move(*started);
    std::cout << "broker-sim: alpaca listening on " << o.alpaca.bind << ":" << alpaca->port()
              << " (CA in " << alpaca->ca_file().string() << ")" << std::endl;
  }

  std::unique_ptr<sim::schwab::server> schwab;
  if (o.schwab_port) {
    auto started = sim::schwab::server::start(o.schwab);
    if (!started) {
      std::cerr << "broker-sim: " << started.error() << "\n";
      return 1;
    }
    schwab = std::move(*started);
    std::cout << "broker-sim: schwab listening on " << o.schwab.bind << ":" << schwab->port()
              << " (CA in " << schwab->ca_file().string() << ")" << std::endl;
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);

  if (tws) {
    tws->stop();
    print_stats(tws->statistics());
  }
  if (alpaca) {
    alpaca->stop();
    print_stats(alpaca->statistics());
  }
  if (schwab) {
    schwab->stop();
    print_stats(schwab->statistics());
  }
  return 0;
}
