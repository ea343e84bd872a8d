#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

namespace brokerd::config {

/// brokerd's command line. Every option has a default that is safe on a workstation: bound
/// to loopback, data in ./brokerd-data, status events fsynced.
struct options {
  /// --data-dir: the RocksDB event log, the paper book and the admin token live here.
  std::filesystem::path data_dir = "brokerd-data";
  /// --bind: address of the HTTP front (loopback unless told otherwise).
  std::string bind_address = "127.0.0.1";
  /// --http-port: port of the HTTP front; 0 picks a free one (printed at start).
  std::uint16_t http_port = 8080;
  /// --demo: create a paper connection for the admin user if none exists.
  bool demo = false;
  /// --allow-custom-hosts: connections may name their own broker hosts (Alpaca baseUrl and
  /// streamUrl, an IBKR host beyond loopback, a CA file). Off by default, so that a user
  /// cannot aim brokerd at other services; on with --demo (its simulators are such hosts).
  bool allow_custom_hosts = false;
  /// --sync-status-events=true|false: fsync every order status event (the intent is always
  /// fsynced).
  bool sync_status_events = true;
  /// --scheduler-threads: CAF worker threads (the machine has 2 cores; CAF would start 4+).
  std::uint32_t scheduler_threads = 2;
  /// --scheduler-policy sharing|stealing: CAF's scheduler. `sharing` wakes a worker for each
  /// message from another thread (socket, event log) faster; bench/order_path measures both.
  std::string scheduler_policy = "sharing";
  /// --paper-tick-ms: price step of demo paper connections.
  std::uint32_t paper_tick_ms = 250;
  /// --metrics: answer GET /metrics (Prometheus text format) on the HTTP port without a token.
  /// Off by default: the counts show which connections exist and how busy they are. The page
  /// holds no token, secret, user id or e-mail; connection ids, broker names and route
  /// patterns only.
  bool metrics = false;
  /// --master-key-file: the vault's key file (mode 0600, one base64 key per line, the first
  /// one current); empty: DATA_DIR/master.key. BROKERD_MASTER_KEY, when set, is used instead.
  std::filesystem::path master_key_file;
  /// --api-rate-limit R[/B]: each user's API requests per second sustained (R, 0 turns the
  /// limit off) and the burst saved up (B, default 2 R); beyond it 429 with Retry-After.
  std::uint32_t api_rate_per_second = 20;
  std::uint32_t api_rate_burst = 40;
  /// --rate-limit-admins: administrators are limited too (they are not by default: the
  /// operator's own tools run as the admin).
  bool rate_limit_admins = false;
  bool help = false;
};

/// The usage text printed by --help and on errors.
std::string usage();

/// Parses `--name value` and `--name=value` forms. An unknown option, a missing or bad value
/// is an error naming the option.
std::expected<options, std::string> parse(const std::vector<std::string>& args);

} // namespace brokerd::config
