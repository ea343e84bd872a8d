#pragma once

// A small blocking TWS API client for tests, written with brokerd's codec: a loopback socket,
// the hello, startApi, typed sends and bounded reads. Every read has a timeout; nothing blocks
// forever.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "actors/brokers/ibkr/codec.hpp"
#include "actors/brokers/ibkr/messages.hpp"
#include "actors/brokers/ibkr/wire.hpp"

namespace brokerd::test::tws {

namespace ibkr = brokerd::actors::ibkr;
using std::chrono::milliseconds;

/// One client connection to 127.0.0.1:port. Not thread-safe.
class client {
public:
  /// Connects; throws std::runtime_error when the connection fails.
  explicit client(std::uint16_t port);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Writes raw bytes (hello, garbage, hand-made frames).
  void send_bytes(std::string_view bytes);
  /// Writes the hello offering `min_version..max_version`.
  void send_hello(std::int32_t min_version = 100, std::int32_t max_version = 178);
  /// Reads the server's answer to the hello; nothing on timeout or close.
  std::optional<ibkr::server_hello> read_server_hello(milliseconds timeout = milliseconds{2000});
  /// Hello, server answer, then startApi with `client_id`; the negotiated version, or nothing.
  std::optional<std::int32_t> handshake(std::int32_t client_id, std::int32_t max_version = 178);
  /// Handshake and the startup sequence up to the third farm notice (2158); the nextValidId
  /// received, or nothing when the sequence did not come.
  std::optional<std::int32_t> connect_api(std::int32_t client_id);

  /// Encodes `m` at the negotiated version and writes it.
  void send(const ibkr::client_message& m);
  /// Writes one frame holding `fields`, each NUL-terminated.
  void send_fields(const std::vector<std::string>& fields);

  /// The next message, waiting at most `timeout`; nothing on timeout or close. A frame the
  /// codec cannot decode is recorded in `decode_errors()` and skipped.
  std::optional<ibkr::server_message> next(milliseconds timeout = milliseconds{2000});

  /// Reads until a message of type T for which `pred` holds arrives (within `timeout`);
  /// messages passed over are kept in `skipped()`.
  template <class T>
  std::optional<T> expect(std::function<bool(const T&)> pred = {},
                          milliseconds timeout = milliseconds{3000}) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return std::nullopt;
      auto m = next(left);
      if (!m)
        return std::nullopt;
      if (auto* t = std::get_if<T>(&*m); t && (!pred || pred(*t)))
        return *t;
      skipped_.push_back(std::move(*m));
    }
  }

  /// An error message with this code (and id, when given).
  std::optional<ibkr::error_message> expect_error(std::int32_t code,
                                                  std::optional<std::int32_t> id = {},
                                                  milliseconds timeout = milliseconds{3000});
  /// An orderStatus of `order_id` with `status`.
  std::optional<ibkr::order_status> expect_status(std::int32_t order_id, std::string_view status,
                                                  milliseconds timeout = milliseconds{3000});

  /// Every message that arrives until none has for `quiet` (at most `limit` in all).
  std::vector<ibkr::server_message> drain(milliseconds quiet = milliseconds{150},
                                          milliseconds limit = milliseconds{3000});

  /// True once the server has closed the connection (data before the close is discarded).
  bool wait_closed(milliseconds timeout = milliseconds{3000});

  /// True after the peer closed or reset the connection.
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] std::int32_t version() const noexcept { return version_; }
  [[nodiscard]] const std::vector<std::string>& decode_errors() const noexcept {
    return decode_errors_;
  }
  [[nodiscard]] const std::vector<ibkr::server_message>& skipped() const noexcept {
    return skipped_;
  }

private:
  /// The next frame payload; nothing on timeout or close.
  std::optional<std::string> next_payload(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool closed_ = false;
  std::int32_t version_ = ibkr::max_server_version;
  ibkr::frame_decoder frames_;
  std::string pending_;
  std::vector<std::string> decode_errors_;
  std::vector<ibkr::server_message> skipped_;
};

/// A placeOrder for a plain STK order on SMART in USD.
ibkr::place_order stock_order(std::int32_t order_id, std::string symbol, std::string action,
                              std::string quantity, std::string type,
                              std::optional<std::string> limit = {},
                              std::optional<std::string> stop = {}, std::string tif = "DAY",
                              std::string order_ref = {});

/// decimal::parse that must succeed.
engine::decimal dec(std::string_view text);

} // namespace brokerd::test::tws
