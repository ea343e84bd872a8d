#include "config/options.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

namespace brokerd::config {

namespace {

template <class T>
std::expected<T, std::string> parse_uint(const std::string& name, const std::string& text, T max) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty() || v > max)
    return std::unexpected("--" + name + " needs a number from 0 to " + std::to_string(max) +
                           ", got '" + text + "'");
  return static_cast<T>(v);
}

std::expected<bool, std::string> parse_bool(const std::string& name, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes")
    return true;
  if (text == "false" || text == "0" || text == "no")
    return false;
  return std::unexpected("--" + name + " needs true or false, got '" + text + "'");
}

/// "R" or "R/B": R 0..100000 requests per second, B 1..1000000 (default 2 R, at least 1).
std::expected<std::pair<std::uint32_t, std::uint32_t>, std::string>
parse_rate(const std::string& text) {
  auto slash = text.find('/');
  auto rate = parse_uint<std::uint32_t>("api-rate-limit", text.substr(0, slash), 100'000);
  if (!rate)
    return std::unexpected("--api-rate-limit needs R or R/B (requests per second and burst), " +
                           std::string{"got '"} + text + "'");
  std::uint32_t burst = std::max<std::uint32_t>(1, *rate * 2);
  if (slash != std::string::npos) {
    auto b = parse_uint<std::uint32_t>("api-rate-limit", text.substr(slash + 1), 1'000'000);
    if (!b || *b == 0)
      return std::unexpected("--api-rate-limit needs a burst from 1 to 1000000, got '" + text +
                             "'");
    burst = *b;
  }
  return std::pair{*rate, burst};
}

} // namespace

std::string usage() {
  return "usage: brokerd [options]\n"
         "  --data-dir DIR            event log, paper book and admin token (default "
         "./brokerd-data)\n"
         "  --bind ADDR               HTTP bind address (default 127.0.0.1)\n"
         "  --http-port N             HTTP port, 0 for any free port (default 8080)\n"
         "  --demo                    give the admin demo connections: paper, and IBKR, Alpaca and\n"
         "                            Schwab to simulators embedded on loopback ports\n"
         "  --sync-status-events B    fsync every status event (default true)\n"
         "  --scheduler-threads N     actor worker threads (default 2)\n"
         "  --scheduler-policy P      sharing or stealing (default sharing)\n"
         "  --paper-tick-ms N         price step of the demo paper connection (default 250)\n"
         "  --allow-custom-hosts      let connections name their own broker hosts and CA files\n"
         "                            (on with --demo; off: official hosts, IBKR on loopback)\n"
         "  --metrics                 serve GET /metrics (Prometheus text format) without a token\n"
         "  --master-key-file FILE    the credential vault's keys (default DATA_DIR/master.key,\n"
         "                            created 0600 on first start; BROKERD_MASTER_KEY overrides)\n"
         "  --api-rate-limit R[/B]    each user's API requests per second and burst (default\n"
         "                            20/40; 0 turns the limit off)\n"
         "  --rate-limit-admins       limit administrators too (they are exempt by default)\n"
         "  --help                    this text\n";
}

std::expected<options, std::string> parse(const std::vector<std::string>& args) {
  options opts;
  for (std::size_t i = 0; i < args.size(); ++i) {
    auto arg = args[i];
    if (!arg.starts_with("--"))
      return std::unexpected("unexpected argument '" + arg + "'");
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto flag = [&]() -> std::expected<void, std::string> {
      if (inline_value)
        return std::unexpected("--" + name + " takes no value");
      return {};
    };
    auto value = [&]() -> std::expected<std::string, std::string> {
      if (inline_value)
        return *inline_value;
      if (i + 1 >= args.size())
        return std::unexpected("--" + name + " needs a value");
      return args[++i];
    };
    if (name == "help") {
      if (auto ok = flag(); !ok)
        return std::unexpected(ok.error());
      opts.help = true;
    } else if (name == "demo") {
      if (auto ok = flag(); !ok)
        return std::unexpected(ok.error());
      opts.demo = true;
      opts.allow_custom_hosts = true;
    } else if (name == "metrics") {
      if (auto ok = flag(); !ok)
        return std::unexpected(ok.error());
      opts.metrics = true;
    } else if (name == "rate-limit-admins") {
      if (auto ok = flag(); !ok)
        return std::unexpected(ok.error());
      opts.rate_limit_admins = true;
    } else if (name == "api-rate-limit") {
      auto v = value();
      if (!v)
        return std::unexpected(v.error());
      auto rate = parse_rate(*v);
      if (!rate)
        return std::unexpected(rate.error());
      opts.api_rate_per_second = rate->first;
      opts.api_rate_burst = rate->second;
    } else if (name == "allow-custom-hosts") {
      if (auto ok = flag(); !ok)
        return std::unexpected(ok.error());
      opts.allow_custom_hosts = true;
    } else if (name == "data-dir" || name == "bind" || name == "http-port" ||
               name == "sync-status-events" || name == "scheduler-threads" ||
               name == "scheduler-policy" || name == "paper-tick-ms" ||
               name == "master-key-file") {
      auto v = value();
      if (!v)
        return std::unexpected(v.error());
      if (name == "data-dir") {
        if (v->empty())
          return std::unexpected(std::string{"--data-dir needs a directory"});
        opts.data_dir = *v;
      } else if (name == "bind") {
        opts.bind_address = *v;
      } else if (name == "master-key-file") {
        if (v->empty())
          return std::unexpected(std::string{"--master-key-file needs a file"});
        opts.master_key_file = *v;
      } else if (name == "http-port") {
        auto p = parse_uint<std::uint16_t>(name, *v, 65535);
        if (!p)
          return std::unexpected(p.error());
        opts.http_port = *p;
      } else if (name == "sync-status-events") {
        auto b = parse_bool(name, *v);
        if (!b)
          return std::unexpected(b.error());
        opts.sync_status_events = *b;
      } else if (name == "scheduler-policy") {
        if (*v != "sharing" && *v != "stealing")
          return std::unexpected("--scheduler-policy needs sharing or stealing, got '" + *v + "'");
        opts.scheduler_policy = *v;
      } else if (name == "scheduler-threads") {
        auto n = parse_uint<std::uint32_t>(name, *v, 64);
        if (!n || *n == 0)
          return std::unexpected(std::string{"--scheduler-threads needs 1..64"});
        opts.scheduler_threads = *n;
      } else {
        auto n = parse_uint<std::uint32_t>(name, *v, 60'000);
        if (!n || *n == 0)
          return std::unexpected(std::string{"--paper-tick-ms needs 1..60000"});
        opts.paper_tick_ms = *n;
      }
    } else {
      return std::unexpected("unknown option --" + name);
    }
  }
  return opts;
}

} // namespace brokerd::config
