#pragma once

// A WebSocket-over-TLS client for broker streams (Alpaca trade_updates). Like https_client, it
// runs on its own strand and reports through callbacks invoked on that strand; the owning actor
// turns them into messages with anon_send through a weak handle (caf-017.md §9). TLS is
// verified exactly as in https_client (tls_endpoint).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/net/https_client.hpp"

namespace boost::asio {
class io_context;
}

namespace brokerd::actors::net {

/// Why a stream ended.
enum class wss_errc : std::uint8_t {
  /// Resolving or the TCP connect failed or timed out.
  connect = 1,
  /// The TLS handshake failed (untrusted certificate, wrong host name) or timed out.
  tls,
  /// The HTTP upgrade was refused or timed out (the message carries the reason).
  handshake,
  /// Nothing, not even a pong, arrived within the idle timeout: the connection is dead.
  timeout,
  /// The server closed the stream (with a close frame: `close_code` says which) or the
  /// connection dropped.
  closed,
  /// The send queue is full: the server does not read.
  queue_full,
  /// A frame broke the protocol or exceeded the message size limit.
  protocol,
};

/// The stable text form of `x`, e.g. "timeout".
std::string_view to_string(wss_errc x) noexcept;

/// The end of a stream.
struct wss_failure {
  wss_errc code;
  std::string message;
  /// The close code of the server's close frame (1000 normal, 1006 none...); 0 without one.
  std::uint16_t close_code = 0;

  /// Renders "code: message".
  [[nodiscard]] std::string to_string() const;
};

/// One message received: the payload of a text or a binary frame (Alpaca's paper server sends
/// JSON in binary frames).
struct wss_message {
  std::string data;
  bool binary = false;
};

/// What the client reports; each callback runs on the client's strand and must not block.
struct wss_handlers {
  /// The upgrade succeeded; sending is possible.
  std::function<void()> on_open;
  /// One message, in order.
  std::function<void(wss_message)> on_message;
  /// The stream ended; called at most once, and nothing is reported after it. Not called
  /// when the owner closes the client.
  std::function<void(wss_failure)> on_close;
};

/// Settings of one stream.
struct wss_options {
  tls_endpoint endpoint;
  /// The request target of the upgrade, e.g. "/stream".
  std::string target = "/stream";
  /// Extra upgrade request headers (sensitive ones are never logged).
  std::vector<http_header> headers;
  /// Liveness: after half of it without any frame from the server, a ping is sent; after all
  /// of it, the connection is declared dead (wss_errc::timeout). Default 20 s: a ping after
  /// 10 s of silence, as the official SDKs do.
  std::chrono::milliseconds idle_timeout{20'000};
  /// Bounds the HTTP upgrade (connect and TLS are bounded by endpoint.connect_timeout).
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Largest accepted message.
  std::size_t max_message_bytes = 1024 * 1024;
  /// Messages waiting to be written; beyond that the stream fails with queue_full.
  std::size_t max_queued = 256;
};

/// One WebSocket connection. Thread-safe: members may be called from any thread.
class wss_client {
public:
  /// A client that connects when told to. Fails (with a message) only when the TLS context
  /// cannot be built, e.g. an unreadable CA file.
  static std::expected<std::shared_ptr<wss_client>, std::string>
  create(boost::asio::io_context& io, wss_options options, wss_handlers handlers);
  virtual ~wss_client() = default;

  /// Connects, upgrades, then reads until the stream ends. Call once; a new connection is a
  /// new client.
  virtual void connect() = 0;
  /// Queues a text frame; frames sent before on_open wait for it. Ignored after the end.
  virtual void send_text(std::string text) = 0;
  /// Closes with a close frame (1000) if open, then the socket; nothing more is reported.
  virtual void close() = 0;
};

} // namespace brokerd::actors::net
