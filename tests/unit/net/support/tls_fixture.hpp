#pragma once

// Test doubles for the TLS clients of actors/net: a throw-away PKI generated with OpenSSL, and
// small blocking HTTPS and WSS servers on 127.0.0.1 whose behaviour each test scripts. Each
// connection is served by its own thread; destructors shut every socket down and join.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/files.hpp"

namespace brokerd::test {

/// A CA, a server certificate it signed for "localhost" and 127.0.0.1, and an unrelated CA,
/// written as PEM files into a temporary directory.
struct test_pki {
  temp_dir dir{"brokerd-tls"};
  std::string ca_file;
  std::string other_ca_file;
  std::string server_cert_pem;
  std::string server_key_pem;

  /// Generates the keys (P-256) and certificates; throws std::runtime_error on failure.
  test_pki();
};

using header_list = std::vector<std::pair<std::string, std::string>>;

/// A request as the HTTPS test server received it.
struct received_request {
  std::string method;
  std::string target;
  header_list headers;
  std::string body;
  /// 1 for the server's first connection, and so on.
  int connection = 0;
};

/// What the HTTPS test server does with a request.
struct scripted_reply {
  enum class action {
    /// Send the response, keep the connection.
    respond,
    /// Send the response (no "Connection: close"), then close the connection.
    respond_then_close,
    /// Close the connection without answering.
    close,
    /// Never answer; hold the connection until the server stops.
    stall,
  };
  action what = action::respond;
  unsigned status = 200;
  header_list headers;
  std::string body;
};

class https_test_server {
public:
  using handler = std::function<scripted_reply(const received_request&)>;
  https_test_server(const test_pki& pki, handler h);
  ~https_test_server();
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::vector<received_request> requests() const;
  /// Connections closed by the server so far.
  [[nodiscard]] int closed_connections() const noexcept { return closed_.load(); }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<int> closed_{0};
};

/// What the WSS test server does, on a connection's start or after a message.
struct ws_step {
  enum class action { send_text, send_binary, close, go_silent };
  action what = action::send_text;
  std::string data;
  std::uint16_t close_code = 1000;
};

/// A frame the WSS test server received.
struct received_frame {
  std::string data;
  bool binary = false;
};

class wss_test_server {
public:
  using handler = std::function<std::vector<ws_step>(const received_frame&)>;
  /// `on_open` runs after each websocket handshake; `on_frame` after each frame received.
  wss_test_server(const test_pki& pki, std::vector<ws_step> on_open, handler on_frame);
  ~wss_test_server();
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::vector<received_frame> frames() const;
  /// Headers of the last websocket upgrade request.
  [[nodiscard]] header_list upgrade_headers() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::uint16_t port_ = 0;
};

} // namespace brokerd::test
