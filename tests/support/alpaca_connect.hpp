#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace brokerd::test {

/// The credentials of POST /api/brokers/alpaca/connect (and /test) for brokerd trading through
/// an Alpaca simulator on loopback. An unset option is left out of the body, so brokerd applies
/// its default.
struct alpaca_connect {
  std::string api_key = "demo-key";
  std::string api_secret = "demo-secret";
  /// The simulator's port: baseUrl is https://127.0.0.1:PORT.
  std::uint16_t port = 0;
  /// The simulator's CA certificate (server::ca_file); empty: left out.
  std::filesystem::path ca_file;
  bool paper = true;
  std::optional<std::int64_t> requests_per_minute;
  std::optional<std::int64_t> request_timeout_ms;
  std::optional<std::int64_t> reconcile_interval_ms;

  /// The JSON body: {"isPaperTrading":…,"credentials":{"apiKey":…,"apiSecret":…,"baseUrl":…,
  /// "caFile":…,"requestsPerMinute":…,"requestTimeoutMs":…,"reconcileIntervalMs":…}}.
  [[nodiscard]] std::string body() const;
};

} // namespace brokerd::test
