#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace brokerd::test {

/// A blocking HTTP/1.1 client for tests: one keep-alive connection to host:port, every step
/// (connect, write, read) bounded by the timeout. Not thread-safe: one client per thread.
class http_client {
public:
  using header_list = std::vector<std::pair<std::string, std::string>>;

  /// One response as received.
  struct response {
    unsigned status = 0;
    header_list headers;
    std::string body;
    /// The server left the connection open for the next request.
    bool keep_alive = false;

    /// The first header named `name` (case-insensitive), or nullopt.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
  };

  explicit http_client(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds{10},
                       std::string host = "127.0.0.1");
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends one request and reads its response. Sets Host, and Content-Length when `body` is
  /// not empty or the method is POST, PUT or PATCH. Connects when not connected. When a reused
  /// connection turns out to be closed by the server before any response byte arrived, it
  /// reconnects and sends once more (so do not rely on it for exactly-once POSTs).
  /// Throws std::runtime_error naming the step on timeout or connection failure.
  response request(std::string_view method, std::string_view target, std::string_view body = {},
                   const header_list& headers = {});

  /// Closes the connection; the next request reconnects.
  void close();

  /// How many TCP connections this client has opened so far.
  [[nodiscard]] std::size_t connect_count() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A raw TCP connection for protocol tests: send arbitrary bytes (garbage, pipelined
/// requests) and read responses one by one. Every call is bounded by the timeout and throws
/// std::runtime_error on timeout or failure.
class raw_connection {
public:
  explicit raw_connection(std::uint16_t port,
                          std::chrono::milliseconds timeout = std::chrono::seconds{10},
                          std::string host = "127.0.0.1");
  ~raw_connection();
  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Writes all of `bytes`.
  void send(std::string_view bytes);

  /// Reads the next response; pass `head_request` when it answers a HEAD (no body follows).
  http_client::response read_response(bool head_request = false);

  /// Reads until the peer closes (end of stream or reset) and returns the bytes not consumed
  /// by read_response before. Throws when the peer keeps the connection open past the timeout.
  std::string read_until_closed();

  /// Closes the socket now (an abrupt client).
  void close();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::test
