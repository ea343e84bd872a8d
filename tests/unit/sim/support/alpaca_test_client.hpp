#pragma once

// Small blocking clients for the Alpaca simulator in tests: HTTPS requests on one keep-alive
// connection and a /stream websocket, both over TLS verified against a given CA. Every
// operation has a timeout; nothing blocks forever. Beast stays inside the .cpp.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "tools/sim/alpaca_server.hpp"

namespace brokerd::test::alpaca {

using std::chrono::milliseconds;

/// The defaults with a 20 ms tick, so that fills come quickly.
sim::alpaca::config fast_config();

/// Starts a simulator on an ephemeral loopback port; throws std::runtime_error on failure.
std::unique_ptr<sim::alpaca::server> start_server(sim::alpaca::config cfg = fast_config());

/// Parses JSON (an empty document for text that is not JSON).
rapidjson::Document parse(std::string_view text);

/// A status, the response headers (names lower-cased) and the body.
struct http_reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  [[nodiscard]] rapidjson::Document json() const { return parse(body); }
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

/// One HTTPS keep-alive connection to 127.0.0.1:port. Not thread-safe.
class rest_client {
public:
  /// Connects and completes the TLS handshake, verifying the server against `ca` for the
  /// address 127.0.0.1 (an empty `ca` trusts nothing); throws std::runtime_error with the
  /// reason when that fails.
  rest_client(std::uint16_t port, const std::filesystem::path& ca);
  ~rest_client();
  rest_client(const rest_client&) = delete;
  rest_client& operator=(const rest_client&) = delete;

  /// Sent with every request; the APCA pair of the simulator's defaults unless changed.
  std::vector<std::pair<std::string, std::string>> headers{
      {"APCA-API-KEY-ID", "demo-key"}, {"APCA-API-SECRET-KEY", "demo-secret"}};

  /// One request; status 0 when it timed out or the connection failed (the client is then
  /// closed).
  http_reply request(std::string_view method, std::string_view target, std::string body = {},
                     milliseconds timeout = milliseconds{3000});
  http_reply get(std::string_view target) { return request("GET", target); }
  http_reply post(std::string_view target, std::string body) {
    return request("POST", target, std::move(body));
  }
  http_reply del(std::string_view target) { return request("DELETE", target); }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// One websocket frame.
struct frame {
  bool binary = false;
  std::string text;
};

/// A /stream websocket connection. Not thread-safe.
class stream_client {
public:
  /// TLS (verified against `ca`) and the websocket handshake; throws std::runtime_error.
  stream_client(std::uint16_t port, const std::filesystem::path& ca);
  ~stream_client();
  stream_client(const stream_client&) = delete;
  stream_client& operator=(const stream_client&) = delete;

  void send(std::string_view text);
  /// The next frame within `timeout`; nothing on timeout or close. A timeout closes the
  /// connection (a websocket read cannot be resumed after a cancel).
  std::optional<frame> next(milliseconds timeout = milliseconds{2000});
  /// True once a read failed because the connection ended.
  [[nodiscard]] bool closed() const;
  /// Sends the auth message (the docs form, or the SDKs' "authenticate" form when `legacy`)
  /// and returns the reply's data.status ("authorized", "unauthorized"), empty on timeout.
  std::string authenticate(const std::string& key = "demo-key",
                           const std::string& secret = "demo-secret", bool legacy = false);
  /// Sends listen for trade_updates; true when the acknowledgement lists it.
  bool listen();
  /// Reads until a trade_updates frame whose data satisfies `pred` (any when empty) arrives
  /// within `timeout`; its whole document.
  std::optional<rapidjson::Document>
  next_event(const std::function<bool(const rapidjson::Value& data)>& pred = {},
             milliseconds timeout = milliseconds{3000});

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::test::alpaca
