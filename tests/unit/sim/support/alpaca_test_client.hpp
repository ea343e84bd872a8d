#pragma once

// Small blocking clients for the Alpaca simulator in tests: HTTPS requests with the APCA key
// pair (https_test_client.hpp) and a /stream websocket over TLS verified against a given CA.
// Every operation has a timeout; nothing blocks forever. Beast stays inside the .cpp.

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

#include "tests/unit/sim/support/https_test_client.hpp"
#include "tools/sim/alpaca_server.hpp"

namespace brokerd::test::alpaca {

using std::chrono::milliseconds;

/// The defaults with a 20 ms tick, so that fills come quickly.
sim::alpaca::config fast_config();

/// Starts a simulator on an ephemeral loopback port; throws std::runtime_error on failure.
std::unique_ptr<sim::alpaca::server> start_server(sim::alpaca::config cfg = fast_config());

using test::http_reply;
using test::parse;

/// An HTTPS client that sends the key pair of the simulator's defaults unless `headers` is
/// changed.
class rest_client : public https_client {
public:
  /// See https_client: connects and verifies the server against `ca`; throws on failure.
  rest_client(std::uint16_t port, const std::filesystem::path& ca);
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
