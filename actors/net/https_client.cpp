#include "actors/net/https_client.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>

#include <sys/socket.h>
#include <sys/types.h>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace brokerd::actors::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

using tls_stream = ssl::stream<tcp::socket>;
using clock = std::chrono::steady_clock;

/// One TCP+TLS connection. Shared with every pending operation on it, so that replacing the
/// client's connection never frees a stream an operation still uses.
struct connection {
  connection(asio::strand<asio::io_context::executor_type>& strand, ssl::context& tls)
      : stream(strand, tls) {}
  tls_stream stream;
  beast::flat_buffer buffer;
  bool open = false;
  clock::time_point idle_since = clock::now();

  void close() {
    open = false;
    error_code ignored;
    stream.lowest_layer().close(ignored);
  }

  /// True when the idle connection looks alive: nothing to read and no end of file. Data
  /// arriving on an idle connection (a TLS close_notify) means the server is closing it.
  bool looks_alive() {
    if (!open || !stream.lowest_layer().is_open())
      return false;
    char byte = 0;
    auto n = ::recv(stream.lowest_layer().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
};

/// One attempt of one request: the wire request, the response parser, and what happened.
struct attempt {
  std::shared_ptr<connection> conn;
  http::request<http::string_body> wire;
  std::optional<http::response_parser<http::string_body>> parser;
  bool reused = false;
  bool timed_out = false;
  bool sent = false;
  /// The write was started: bytes may be on the wire even before its completion runs.
  bool writing = false;
};

struct pending {
  https_request request;
  https_callback done;
};

bool is_closure(const error_code& ec) {
  return ec == asio::error::eof || ec == http::error::end_of_stream ||
         ec == http::error::partial_message || ec == ssl::error::stream_truncated ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::error::operation_aborted;
}

bool is_protocol_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::body_limit).category() &&
         !is_closure(ec);
}

std::string describe_closure(const error_code& ec) {
  if (ec == asio::error::eof || ec == http::error::end_of_stream)
    return "connection closed by the server";
  if (ec == ssl::error::stream_truncated)
    return "connection closed by the server without TLS close_notify";
  if (ec == http::error::partial_message)
    return "connection closed by the server in the middle of the response";
  return "connection lost: " + ec.message();
}

class client_impl final : public https_client, public std::enable_shared_from_this<client_impl> {
public:
  client_impl(asio::io_context& io, https_options options, std::shared_ptr<ssl::context> tls)
      : strand_(asio::make_strand(io)), resolver_(strand_), timer_(strand_),
        options_(std::move(options)), tls_(std::move(tls)) {}

  void request(https_request request, https_callback done) override {
    asio::post(strand_,
               [self = shared_from_this(), r = std::move(request), d = std::move(done)]() mutable {
                 self->enqueue(std::move(r), std::move(d));
               });
  }

  void close() override {
    asio::post(strand_, [self = shared_from_this()] { self->shutdown(); });
  }

  [[nodiscard]] std::uint64_t connections_opened() const noexcept override {
    return opened_.load(std::memory_order_relaxed);
  }

private:
  void enqueue(https_request request, https_callback done) {
    if (closed_)
      return done(std::unexpected(https_failure{https_errc::cancelled, "client closed", false}));
    if (queue_.size() >= options_.max_queued)
      return done(std::unexpected(https_failure{
          https_errc::queue_full,
          "request queue full (" + std::to_string(options_.max_queued) + " waiting)", false}));
    queue_.push_back(pending{std::move(request), std::move(done)});
    if (!current_)
      next();
  }

  void next() {
    if (closed_ || queue_.empty())
      return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    tries_ = 1;
    start_attempt();
  }

  void start_attempt() {
    auto a = std::make_shared<attempt>();
    attempt_ = a;
    bool fresh = conn_ && clock::now() - conn_->idle_since < options_.max_idle;
    if (fresh && conn_->looks_alive()) {
      a->conn = conn_;
      a->reused = true;
      return send(a);
    }
    if (conn_)
      conn_->close();
    conn_.reset();
    do_resolve(a);
  }

  void arm_timer(const std::shared_ptr<attempt>& a, std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), a](error_code ec) {
      if (ec || a != self->attempt_)
        return;
      a->timed_out = true;
      self->resolver_.cancel();
      if (a->conn)
        a->conn->close();
    });
  }

  void do_resolve(const std::shared_ptr<attempt>& a) {
    const auto& ep = options_.endpoint;
    arm_timer(a, ep.connect_timeout);
    resolver_.async_resolve(
        ep.address.empty() ? ep.host : ep.address, std::to_string(ep.port),
        [self = shared_from_this(), a](error_code ec, tcp::resolver::results_type r) {
          self->on_resolve(a, ec, std::move(r));
        });
  }

  void on_resolve(const std::shared_ptr<attempt>& a, error_code ec,
                  tcp::resolver::results_type results) {
    if (a != attempt_)
      return;
    const auto& ep = options_.endpoint;
    auto where = ep.address.empty() ? ep.host : ep.address;
    if (a->timed_out)
      return fail_connect(https_errc::connect, "resolving " + where + " timed out after " +
                                                   std::to_string(ep.connect_timeout.count()) +
                                                   " ms");
    if (ec)
      return fail_connect(https_errc::connect, "cannot resolve " + where + ": " + ec.message());
    a->conn = std::make_shared<connection>(strand_, *tls_);
    if (auto prepared = detail::prepare_tls_session(a->conn->stream.native_handle(), ep.host);
        !prepared)
      return fail_connect(https_errc::tls, prepared.error());
    asio::async_connect(a->conn->stream.lowest_layer(), results,
                        [self = shared_from_this(), a](error_code cec, const tcp::endpoint&) {
                          self->on_connect(a, cec);
                        });
  }

  void on_connect(const std::shared_ptr<attempt>& a, error_code ec) {
    if (a != attempt_)
      return;
    const auto& ep = options_.endpoint;
    auto where = (ep.address.empty() ? ep.host : ep.address) + ":" + std::to_string(ep.port);
    if (a->timed_out)
      return fail_connect(https_errc::connect, "connecting to " + where + " timed out after " +
                                                   std::to_string(ep.connect_timeout.count()) +
                                                   " ms");
    if (ec)
      return fail_connect(https_errc::connect, "cannot connect to " + where + ": " + ec.message());
    error_code ignored;
    a->conn->stream.lowest_layer().set_option(tcp::no_delay{true}, ignored);
    opened_.fetch_add(1, std::memory_order_relaxed);
    a->conn->stream.async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this(), a](error_code hec) { self->on_handshake(a, hec); });
  }

  void on_handshake(const std::shared_ptr<attempt>& a, error_code ec) {
    if (a != attempt_)
      return;
    if (a->timed_out)
      return fail_connect(https_errc::tls,
                          "TLS handshake with " + options_.endpoint.host + " timed out after " +
                              std::to_string(options_.endpoint.connect_timeout.count()) + " ms");
    if (ec)
      return fail_connect(
          https_errc::tls,
          "TLS handshake with " + options_.endpoint.host + " failed: " +
              detail::describe_tls_failure(a->conn->stream.native_handle(), ec.message()));
    a->conn->open = true;
    conn_ = a->conn;
    send(a);
  }

  void send(const std::shared_ptr<attempt>& a) {
    const auto& r = current_->request;
    arm_timer(a, r.timeout);
    auto verb = http::string_to_verb(r.method);
    a->wire.version(11);
    if (verb == http::verb::unknown)
      a->wire.method_string(r.method);
    else
      a->wire.method(verb);
    a->wire.target(r.target);
    const auto& ep = options_.endpoint;
    a->wire.set(http::field::host,
                ep.port == 443 ? ep.host : ep.host + ":" + std::to_string(ep.port));
    a->wire.set(http::field::user_agent, "brokerd");
    for (const auto& h : options_.default_headers)
      a->wire.insert(h.name, h.value);
    for (const auto& h : r.headers)
      a->wire.insert(h.name, h.value);
    if (!r.body.empty()) {
      a->wire.set(http::field::content_type, r.content_type);
      a->wire.body() = r.body;
    }
    a->wire.prepare_payload();
    a->writing = true;
    http::async_write(
        a->conn->stream, a->wire,
        [self = shared_from_this(), a](error_code ec, std::size_t n) { self->on_write(a, ec, n); });
  }

  void on_write(const std::shared_ptr<attempt>& a, error_code ec, std::size_t written) {
    if (a != attempt_)
      return;
    if (written > 0)
      a->sent = true;
    if (ec)
      return fail_exchange(a, ec, 0);
    a->sent = true;
    a->parser.emplace();
    a->parser->body_limit(options_.max_body_bytes);
    http::async_read(a->conn->stream, a->conn->buffer, *a->parser,
                     [self = shared_from_this(), a](error_code rec, std::size_t n) {
                       self->on_read(a, rec, n);
                     });
  }

  void on_read(const std::shared_ptr<attempt>& a, error_code ec, std::size_t received) {
    if (a != attempt_)
      return;
    if (ec)
      return fail_exchange(a, ec, received);
    timer_.cancel();
    auto& msg = a->parser->get();
    https_response response;
    response.status = msg.result_int();
    for (const auto& field : msg)
      response.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    response.body = std::move(msg.body());
    response.attempts = tries_;
    if (msg.keep_alive()) {
      a->conn->idle_since = clock::now();
    } else {
      a->conn->close();
      conn_.reset();
    }
    finish(std::move(response));
  }

  void fail_connect(https_errc code, std::string message) {
    timer_.cancel();
    if (attempt_ && attempt_->conn)
      attempt_->conn->close();
    conn_.reset();
    finish(std::unexpected(https_failure{code, std::move(message), false}));
  }

  void fail_exchange(const std::shared_ptr<attempt>& a, error_code ec, std::size_t received) {
    timer_.cancel();
    a->conn->close();
    if (conn_ == a->conn)
      conn_.reset();
    const auto& r = current_->request;
    auto what = r.method + " " + r.target;
    if (a->timed_out)
      return finish(std::unexpected(https_failure{https_errc::timeout,
                                                  what + ": no complete response within " +
                                                      std::to_string(r.timeout.count()) + " ms",
                                                  a->sent}));
    if (is_protocol_error(ec))
      return finish(std::unexpected(
          https_failure{https_errc::protocol, what + ": bad response: " + ec.message(), a->sent}));
    // A keep-alive connection the server closed under us: resend once what is safe to resend.
    bool safe_to_resend = !a->sent || r.idempotent;
    if (a->reused && tries_ == 1 && received == 0 && safe_to_resend) {
      ++tries_;
      return start_attempt();
    }
    if (a->sent && !r.idempotent)
      return finish(std::unexpected(
          https_failure{https_errc::outcome_unknown,
                        what + ": " + describe_closure(ec) +
                            " after the request was sent; it may have been executed",
                        true}));
    finish(std::unexpected(
        https_failure{https_errc::closed, what + ": " + describe_closure(ec), a->sent}));
  }

  void finish(https_result result) {
    attempt_.reset();
    auto p = std::move(*current_);
    current_.reset();
    p.done(std::move(result));
    next();
  }

  void shutdown() {
    if (closed_)
      return;
    closed_ = true;
    timer_.cancel();
    resolver_.cancel();
    if (conn_)
      conn_->close();
    bool sent = false;
    if (attempt_) {
      // A write under way may already have reached the server: closing cannot take it back.
      sent = attempt_->sent || attempt_->writing;
      if (attempt_->conn)
        attempt_->conn->close();
    }
    attempt_.reset();
    conn_.reset();
    if (current_) {
      auto p = std::move(*current_);
      current_.reset();
      p.done(std::unexpected(https_failure{https_errc::cancelled, "client closed", sent}));
    }
    auto waiting = std::move(queue_);
    queue_.clear();
    for (auto& p : waiting)
      p.done(std::unexpected(https_failure{https_errc::cancelled, "client closed", false}));
  }

  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  https_options options_;
  std::shared_ptr<ssl::context> tls_;
  std::shared_ptr<connection> conn_;
  std::shared_ptr<attempt> attempt_;
  std::optional<pending> current_;
  std::deque<pending> queue_;
  int tries_ = 1;
  bool closed_ = false;
  std::atomic<std::uint64_t> opened_{0};
};

} // namespace

std::string_view to_string(https_errc x) noexcept {
  switch (x) {
  case https_errc::connect:
    return "connect";
  case https_errc::tls:
    return "tls";
  case https_errc::timeout:
    return "timeout";
  case https_errc::closed:
    return "closed";
  case https_errc::outcome_unknown:
    return "outcome_unknown";
  case https_errc::protocol:
    return "protocol";
  case https_errc::queue_full:
    return "queue_full";
  case https_errc::cancelled:
    return "cancelled";
  }
  return "unknown";
}

std::string https_failure::to_string() const {
  return std::string{net::to_string(code)} + ": " + message;
}

std::optional<std::string_view> https_response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (same_name(k, name))
      return std::string_view{v};
  return std::nullopt;
}

std::string describe(const https_request& request) {
  std::string out = request.method + " " + request.target;
  for (const auto& h : request.headers)
    out += "; " + h.name + ": " + (h.sensitive ? std::string{secret::redacted()} : h.value);
  if (!request.body.empty())
    out += "; body " + std::to_string(request.body.size()) + " bytes";
  return out;
}

std::expected<std::shared_ptr<https_client>, std::string>
https_client::create(boost::asio::io_context& io, https_options options) {
  auto tls = detail::make_tls_context(options.endpoint.ca_file);
  if (!tls)
    return std::unexpected(tls.error());
  return std::make_shared<client_impl>(io, std::move(options), std::move(*tls));
}

namespace detail {

std::expected<std::shared_ptr<ssl::context>, std::string>
make_tls_context(const std::string& ca_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (!ec)
    ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ec)
    return std::unexpected("cannot set up TLS: " + ec.message());
  if (ca_file.empty())
    ctx->set_default_verify_paths(ec);
  else
    ctx->load_verify_file(ca_file, ec);
  if (ec)
    return std::unexpected(ca_file.empty()
                               ? "cannot load the system CA store: " + ec.message()
                               : "cannot load CA file " + ca_file + ": " + ec.message());
  return ctx;
}

std::expected<void, std::string> prepare_tls_session(ssl_st* ssl_handle, const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  bool is_ip = !ec;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), host.c_str()) != 1)
      return std::unexpected("cannot check certificates for address " + host);
    return {};
  }
  // SSL_set_tlsext_host_name, spelled out: the macro's C cast trips -Wold-style-cast.
  if (SSL_ctrl(ssl_handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               static_cast<void*>(const_cast<char*>(host.c_str()))) != 1)
    return std::unexpected("cannot set the TLS server name " + host);
  SSL_set_hostflags(ssl_handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl_handle, host.c_str()) != 1)
    return std::unexpected("cannot check certificates for host " + host);
  return {};
}

std::string describe_tls_failure(ssl_st* ssl_handle, const std::string& fallback) {
  auto result = SSL_get_verify_result(ssl_handle);
  if (result == X509_V_OK)
    return fallback;
  return std::string{"certificate verification failed: "} + X509_verify_cert_error_string(result);
}

} // namespace detail

} // namespace brokerd::actors::net
