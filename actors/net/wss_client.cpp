#include "actors/net/wss_client.hpp"

#include <deque>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#pragma GCC diagnostic pop

namespace brokerd::actors::net {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

class wss_impl final : public wss_client, public std::enable_shared_from_this<wss_impl> {
public:
  wss_impl(asio::io_context& io, wss_options options, wss_handlers handlers,
           std::shared_ptr<ssl::context> tls)
      : strand_(asio::make_strand(io)), resolver_(strand_), timer_(strand_), tls_(std::move(tls)),
        ws_(strand_, *tls_), options_(std::move(options)), handlers_(std::move(handlers)) {}

  void connect() override {
    asio::post(strand_, [self = shared_from_this()] { self->do_resolve(); });
  }

  void send_text(std::string text) override {
    asio::post(strand_, [self = shared_from_this(), t = std::move(text)]() mutable {
      self->enqueue(std::move(t));
    });
  }

  void close() override {
    asio::post(strand_, [self = shared_from_this()] { self->shutdown(); });
  }

private:
  [[nodiscard]] std::string where() const {
    const auto& ep = options_.endpoint;
    return (ep.address.empty() ? ep.host : ep.address) + ":" + std::to_string(ep.port);
  }

  void do_resolve() {
    if (ended_ || started_)
      return;
    started_ = true;
    const auto& ep = options_.endpoint;
    timer_.expires_after(ep.connect_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->ended_ || self->connected_)
        return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      error_code ignored;
      beast::get_lowest_layer(self->ws_).close(ignored);
    });
    resolver_.async_resolve(
        ep.address.empty() ? ep.host : ep.address, std::to_string(ep.port),
        [self = shared_from_this()](error_code ec, tcp::resolver::results_type r) {
          self->on_resolve(ec, std::move(r));
        });
  }

  std::string timed_out_text(std::string_view step) const {
    return std::string{step} + " " + where() + " timed out after " +
           std::to_string(options_.endpoint.connect_timeout.count()) + " ms";
  }

  void on_resolve(error_code ec, tcp::resolver::results_type results) {
    if (ended_)
      return;
    if (timed_out_)
      return fail({wss_errc::connect, timed_out_text("resolving"), 0});
    if (ec)
      return fail({wss_errc::connect, "cannot resolve " + where() + ": " + ec.message(), 0});
    if (auto prepared =
            detail::prepare_tls_session(ws_.next_layer().native_handle(), options_.endpoint.host);
        !prepared)
      return fail({wss_errc::tls, prepared.error(), 0});
    asio::async_connect(beast::get_lowest_layer(ws_), results,
                        [self = shared_from_this()](error_code cec, const tcp::endpoint&) {
                          self->on_connect(cec);
                        });
  }

  void on_connect(error_code ec) {
    if (ended_)
      return;
    if (timed_out_)
      return fail({wss_errc::connect, timed_out_text("connecting to"), 0});
    if (ec)
      return fail({wss_errc::connect, "cannot connect to " + where() + ": " + ec.message(), 0});
    error_code ignored;
    beast::get_lowest_layer(ws_).set_option(tcp::no_delay{true}, ignored);
    ws_.next_layer().async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this()](error_code hec) { self->on_tls_handshake(hec); });
  }

  void on_tls_handshake(error_code ec) {
    if (ended_)
      return;
    if (timed_out_)
      return fail({wss_errc::tls, timed_out_text("TLS handshake with"), 0});
    if (ec)
      return fail({wss_errc::tls,
                   "TLS handshake with " + options_.endpoint.host + " failed: " +
                       detail::describe_tls_failure(ws_.next_layer().native_handle(), ec.message()),
                   0});
    connected_ = true;
    timer_.cancel();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = options_.handshake_timeout;
    timeouts.idle_timeout = options_.idle_timeout;
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(options_.max_message_bytes);
    ws_.set_option(websocket::stream_base::decorator(
        [headers = options_.headers](websocket::request_type& req) {
          req.set(http::field::user_agent, "brokerd");
          for (const auto& h : headers)
            req.insert(h.name, h.value);
        }));
    const auto& ep = options_.endpoint;
    ws_.async_handshake(
        upgrade_response_, ep.port == 443 ? ep.host : ep.host + ":" + std::to_string(ep.port),
        options_.target, [self = shared_from_this()](error_code wec) { self->on_upgrade(wec); });
  }

  void on_upgrade(error_code ec) {
    if (ended_)
      return;
    if (ec) {
      auto status = upgrade_response_.result_int();
      auto detail_text =
          status != 0 && status != 101 ? "HTTP " + std::to_string(status) : ec.message();
      return fail({wss_errc::handshake,
                   "websocket upgrade at " + where() + options_.target + " failed: " + detail_text,
                   0});
    }
    open_ = true;
    if (handlers_.on_open)
      handlers_.on_open();
    if (ended_)
      return;
    do_read();
    if (!outbox_.empty())
      do_write();
  }

  void do_read() {
    ws_.async_read(buffer_,
                   [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ended_)
      return;
    if (ec)
      return fail_read(ec);
    wss_message m{beast::buffers_to_string(buffer_.data()), ws_.got_binary()};
    buffer_.consume(buffer_.size());
    if (handlers_.on_message)
      handlers_.on_message(std::move(m));
    if (!ended_)
      do_read();
  }

  void fail_read(error_code ec) {
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      auto code = static_cast<std::uint16_t>(reason.code);
      std::string text = "closed by the server with code " + std::to_string(code);
      if (!reason.reason.empty())
        text += " (" + std::string{reason.reason.data(), reason.reason.size()} + ")";
      return fail({wss_errc::closed, std::move(text), code});
    }
    if (ec == beast::error::timeout)
      return fail({wss_errc::timeout,
                   "nothing received for " + std::to_string(options_.idle_timeout.count()) +
                       " ms, not even a pong",
                   0});
    if (ec.category() == websocket::make_error_code(websocket::error::closed).category())
      return fail({wss_errc::protocol, "protocol error: " + ec.message(), 0});
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
      return fail({wss_errc::closed, "connection closed by the server without a close frame", 0});
    fail({wss_errc::closed, "connection lost: " + ec.message(), 0});
  }

  void enqueue(std::string text) {
    if (ended_)
      return;
    if (outbox_.size() >= options_.max_queued)
      return fail({wss_errc::queue_full,
                   "send queue full (" + std::to_string(options_.max_queued) + " messages)", 0});
    outbox_.push_back(std::move(text));
    if (open_ && outbox_.size() == 1)
      do_write();
  }

  void do_write() {
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front()),
                    [self = shared_from_this()](error_code ec, std::size_t) {
                      if (self->ended_)
                        return;
                      if (ec)
                        return self->fail({wss_errc::closed, "write failed: " + ec.message(), 0});
                      self->outbox_.pop_front();
                      if (!self->outbox_.empty())
                        self->do_write();
                    });
  }

  /// Ends the stream and reports it once.
  void fail(wss_failure failure) {
    if (ended_)
      return;
    end_socket();
    if (handlers_.on_close)
      handlers_.on_close(std::move(failure));
    release_handlers();
  }

  void end_socket() {
    ended_ = true;
    open_ = false;
    outbox_.clear();
    timer_.cancel();
    resolver_.cancel();
    error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }

  /// Drops the callbacks: they may hold the owner, and nothing is reported any more.
  void release_handlers() { handlers_ = {}; }

  void shutdown() {
    if (ended_)
      return;
    release_handlers();
    if (!open_)
      return end_socket();
    ended_ = true;
    open_ = false;
    outbox_.clear();
    // A close frame, bounded by the handshake timeout (Beast applies it to closing), then the
    // socket goes in any case.
    ws_.async_close(websocket::close_code::normal, [self = shared_from_this()](error_code) {
      error_code ignored;
      beast::get_lowest_layer(self->ws_).close(ignored);
    });
  }

  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::shared_ptr<ssl::context> tls_;
  websocket::stream<ssl::stream<tcp::socket>> ws_;
  wss_options options_;
  wss_handlers handlers_;
  websocket::response_type upgrade_response_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool started_ = false;
  bool timed_out_ = false;
  bool connected_ = false;
  bool open_ = false;
  bool ended_ = false;
};

} // namespace

std::string_view to_string(wss_errc x) noexcept {
  switch (x) {
  case wss_errc::connect:
    return "connect";
  case wss_errc::tls:
    return "tls";
  case wss_errc::handshake:
    return "handshake";
  case wss_errc::timeout:
    return "timeout";
  case wss_errc::closed:
    return "closed";
  case wss_errc::queue_full:
    return "queue_full";
  case wss_errc::protocol:
    return "protocol";
  }
  return "unknown";
}

std::string wss_failure::to_string() const {
  return std::string{net::to_string(code)} + ": " + message;
}

std::expected<std::shared_ptr<wss_client>, std::string>
wss_client::create(boost::asio::io_context& io, wss_options options, wss_handlers handlers) {
  auto tls = detail::make_tls_context(options.endpoint.ca_file);
  if (!tls)
    return std::unexpected(tls.error());
  return std::make_shared<wss_impl>(io, std::move(options), std::move(handlers), std::move(*tls));
}

} // namespace brokerd::actors::net
