#pragma once

// An HTTPS/1.1 client with one keep-alive connection, for REST brokers (Alpaca). Like tcp_link
// (caf-017.md §9) every socket call runs on the client's strand; unlike tcp_link it knows no
// actor: each request completes through a callback, invoked on the strand, which the owning
// actor turns into a message with anon_send through a weak handle, e.g.
//
//   client->request(std::move(req), [weak = caf::actor_cast<caf::weak_actor_ptr>(self)](auto r) {
//     if (auto h = caf::actor_cast<caf::actor>(weak.lock()))
//       caf::anon_send(h, http_atom_v, std::move(r));
//   });
//
// so this header stays free of Beast and CAF. Callbacks must not block: they run on the Asio
// thread.

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

#include "actors/logging.hpp"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
} // namespace boost::asio
struct ssl_st;

namespace brokerd::actors::net {

/// Where to connect and whom to trust; shared by https_client and wss_client.
struct tls_endpoint {
  /// The server's name: sent as SNI (unless an IP literal), in the Host header, and checked
  /// against the certificate (DNS name or IP address).
  std::string host;
  std::uint16_t port = 443;
  /// Where to connect when not `host` itself (a simulator on 127.0.0.1 with a certificate for
  /// "localhost"); empty means resolve `host`.
  std::string address;
  /// A PEM file of trusted CA certificates; empty means the system store. Verification is
  /// always on: a certificate that does not chain to a trusted CA or does not match `host`
  /// fails the connection.
  std::string ca_file;
  /// Bounds resolving, connecting and the TLS handshake together.
  std::chrono::milliseconds connect_timeout{10'000};
};

/// A request header whose value may be a secret (an API key): `describe` prints "***".
struct http_header {
  std::string name;
  std::string value;
  bool sensitive = false;
};

/// One HTTP request.
struct https_request {
  /// "GET", "POST", "DELETE", "PATCH", "PUT".
  std::string method = "GET";
  /// Path and query, e.g. "/v2/orders?status=open".
  std::string target;
  /// Sent after the client's default headers. Host, Content-Length and User-Agent are set by
  /// the client.
  std::vector<http_header> headers;
  std::string body;
  /// Content-Type when `body` is not empty.
  std::string content_type = "application/json";
  /// True when sending the request twice has the effect of sending it once (GET, DELETE of an
  /// order). Only such a request is resent, once, when a reused keep-alive connection turns out
  /// closed before any response byte. Any other request is resent only when none of its bytes
  /// were written (the write itself failed at once); once written, it is never resent.
  bool idempotent = false;
  /// Bounds writing the request and reading the whole response (connecting not included).
  std::chrono::milliseconds timeout{30'000};
};

/// "POST /v2/orders" plus headers, sensitive values as "***"; the body only as its length.
/// Safe to log.
std::string describe(const https_request& request);

/// A complete response, whatever its status.
struct https_response {
  unsigned status = 0;
  /// Every header as received, in order (Retry-After, X-RateLimit-*, Location, X-Request-ID...).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// 1, or 2 when the request was resent on a new connection.
  int attempts = 1;

  /// The first header named `name` (case-insensitive), if any.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

/// Why a request failed. Each value says whether the server may have acted on it.
enum class https_errc : std::uint8_t {
  /// Resolving or the TCP connect failed or timed out. Nothing was sent.
  connect = 1,
  /// The TLS handshake failed: untrusted certificate, wrong host name, protocol error. Nothing
  /// was sent.
  tls,
  /// No complete response within the request's timeout. The request may have been executed.
  timeout,
  /// The connection closed or broke while an idempotent request was in flight (after its one
  /// resend, if allowed), or before any byte of a non-idempotent one was written. Check
  /// `request_sent`: when set, the (idempotent) request may have been executed.
  closed,
  /// The connection closed or broke after a non-idempotent request was (partly) written and
  /// before its response: the server may or may not have executed it. Never resent: reconcile
  /// (Alpaca: look the order up by client_order_id).
  outcome_unknown,
  /// The response is not valid HTTP, or larger than the body limit.
  protocol,
  /// The request queue is full; nothing was sent.
  queue_full,
  /// The client was closed before the request completed. The request may have been executed
  /// if it was already being written.
  cancelled,
};

/// The stable text form of `x`, e.g. "outcome_unknown".
std::string_view to_string(https_errc x) noexcept;

/// A failed request: the reason plus context (never a header value or a body).
struct https_failure {
  https_errc code;
  std::string message;
  /// True when bytes of the request were written: the server may have acted on it.
  bool request_sent = false;

  /// Renders "code: message".
  [[nodiscard]] std::string to_string() const;
};

using https_result = std::expected<https_response, https_failure>;

/// Completion of one request, called exactly once, on the client's strand.
using https_callback = std::function<void(https_result)>;

/// Settings of one client.
struct https_options {
  tls_endpoint endpoint;
  /// Sent with every request, before the request's own (the API key headers).
  std::vector<http_header> default_headers;
  /// Requests waiting behind the one in flight; when full, `request` fails with queue_full.
  std::size_t max_queued = 64;
  /// Largest accepted response body.
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  /// An idle connection older than this is replaced before the next request, so that a
  /// non-idempotent request is not written into a connection the server is about to drop.
  std::chrono::milliseconds max_idle{30'000};
};

/// One HTTPS connection, opened on the first request, kept alive, reopened when needed.
/// Requests run one at a time in call order. Thread-safe: every member may be called from any
/// thread (work is posted to the strand).
class https_client {
public:
  /// A client that connects on its first request. Fails (with a message) only when the TLS
  /// context cannot be built, e.g. an unreadable CA file.
  static std::expected<std::shared_ptr<https_client>, std::string>
  create(boost::asio::io_context& io, https_options options);
  virtual ~https_client() = default;

  /// Queues `request`; `done` gets the response or the failure.
  virtual void request(https_request request, https_callback done) = 0;
  /// Closes the connection; the request in flight and those queued fail with `cancelled`.
  /// Later requests fail with `cancelled` too.
  virtual void close() = 0;
  /// TCP connections opened so far (for tests and metrics).
  [[nodiscard]] virtual std::uint64_t connections_opened() const noexcept = 0;
};

/// TLS pieces shared by https_client and wss_client (not for other callers).
namespace detail {
/// A client TLS context (TLS 1.2 or later) that verifies peers against `ca_file` (PEM) or, when
/// empty, the system store. The error names the file.
std::expected<std::shared_ptr<boost::asio::ssl::context>, std::string>
make_tls_context(const std::string& ca_file);
/// Prepares one TLS session before its handshake: SNI (for a host name) and the check that the
/// certificate is for `host` (DNS name or IP address).
std::expected<void, std::string> prepare_tls_session(ssl_st* ssl, const std::string& host);
/// Explains a failed handshake: the certificate verification error when there is one (wrong
/// host, unknown CA, expired), else `fallback`.
std::string describe_tls_failure(ssl_st* ssl, const std::string& fallback);
} // namespace detail

} // namespace brokerd::actors::net
