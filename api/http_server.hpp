#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Asio's scheduler trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#pragma GCC diagnostic pop

namespace brokerd::api {

namespace asio = boost::asio;

/// One parsed HTTP request as the handler sees it.
struct http_request {
  /// The method as sent, e.g. "GET", "POST", "HEAD".
  std::string method;
  /// The request target as sent, e.g. "/api/orders?since=10".
  std::string target;
  /// The target up to '?', not decoded (route_match decodes the segments it captures).
  std::string path;
  /// The query string split into name/value pairs, percent-decoded ('+' is a space), in order.
  std::vector<std::pair<std::string, std::string>> query;
  /// The Authorization header, empty when absent.
  std::string authorization;
  /// The Content-Type header, empty when absent.
  std::string content_type;
  std::string body;
  /// The peer's IP address without the port, e.g. "127.0.0.1".
  std::string remote_address;
  /// Every header field in arrival order, names as sent.
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first header named `name` (case-insensitive), or nullopt. The view points into
  /// this request.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// The answer to one request. The server adds Content-Type (from `content_type`),
/// Content-Length, `Cache-Control: no-store`, `Server: brokerd` and Connection when needed.
struct http_response {
  /// 200..599; anything else is sent as 500.
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  /// Extra header fields (Location, Retry-After, Set-Cookie...). Fields the server manages
  /// (Content-Length, Content-Type, Connection, Transfer-Encoding, Server) and fields whose
  /// name or value holds CR, LF or NUL are dropped.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Delivers the response to one request. May be called from any thread; the first call wins
/// and later calls are ignored. It only posts to the connection's strand: it never blocks and
/// never touches the socket itself. When the client is gone the response is dropped.
/// Dropping every copy without calling it answers 500 `{"error":"no_response",...}`, so a
/// client never waits for a handler that lost its request. Copies keep the connection object
/// (not the socket) alive until they are destroyed.
using responder = std::function<void(http_response)>;

/// Handles one request; runs on the io thread (the connection's strand) and must not block.
/// Responses of one connection are written in request order, whatever order the responders
/// are called in. An exception thrown by the handler answers 500.
using request_handler = std::function<void(http_request, responder)>;

struct upgraded_connection;

/// What to do with a request that asks for a WebSocket upgrade: answer it over HTTP
/// (`refuse`: unknown path, no valid token...) or take the connection over (`accept`, called
/// on the connection's strand with the socket and the request; the HTTP server forgets the
/// connection). Exactly one of the two is set.
struct upgrade_answer {
  std::optional<http_response> refuse;
  std::function<void(std::unique_ptr<upgraded_connection>)> accept;
};

/// Decides on an upgrade request; runs on the io thread and must not block.
using upgrade_handler = std::function<upgrade_answer(const http_request&)>;

/// Per-server limits; each says what happens when it is exceeded.
struct http_limits {
  /// Largest request body; a larger one gets 413 `payload_too_large` without reaching the
  /// handler, and the connection is closed after the answer.
  std::size_t max_body = 64 * 1024;
  /// Largest request line plus header fields; larger gets 431 `headers_too_large` and close.
  std::size_t max_header = 8 * 1024;
  /// A connection with no request in flight that receives no complete request within this
  /// time is closed; a response the client does not read within it closes the connection too.
  /// A handler taking longer is not affected: its response is still sent.
  std::chrono::seconds idle_timeout{30};
  /// Requests read but not yet answered on one connection. When full the server stops
  /// reading from that connection until a response has been written (TCP backpressure).
  std::size_t max_pipelined = 8;
  /// Open connections; one more is accepted and closed at once.
  std::size_t max_connections = 1024;
};

class http_listener;

/// An HTTP/1.1 server on an io_context: keep-alive, pipelining with ordered responses, one
/// strand per connection. Safe with an io_context run by one or more threads.
class http_server {
public:
  /// Binds `bind_address` (a numeric IPv4 or IPv6 address) at `port` (0 = an ephemeral port)
  /// and starts accepting on `ioc`. Call from any thread; nothing is served until `ioc` runs.
  /// Fails with a message naming the address when it is invalid or cannot be bound.
  static std::expected<std::unique_ptr<http_server>, std::string>
  start(asio::io_context& ioc, std::string bind_address, std::uint16_t port,
        request_handler handler, http_limits limits = {}, upgrade_handler upgrade = {});

  /// Calls `stop()`. The io_context must outlive the server's connections: destroy or stop
  /// it after this object only when nothing else still holds a responder.
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (the chosen one when started with port 0).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  /// Stops accepting and closes idle connections; a connection with requests in flight is
  /// closed after their responses are written, and requests it reads meanwhile get 503
  /// `shutting_down`. Idempotent; call from any thread. Takes effect on the io thread.
  void stop();

private:
  http_server(std::shared_ptr<http_listener> listener, std::uint16_t port);

  std::shared_ptr<http_listener> listener_;
  std::uint16_t port_;
};

} // namespace brokerd::api
