#include "tests/unit/sim/support/alpaca_test_client.hpp"

#include <cctype>
#include <stdexcept>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#pragma GCC diagnostic pop

#include <openssl/x509_vfy.h>

namespace brokerd::test::alpaca {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

sim::alpaca::config fast_config() {
  sim::alpaca::config cfg;
  cfg.tick = milliseconds{20};
  return cfg;
}

std::unique_ptr<sim::alpaca::server> start_server(sim::alpaca::config cfg) {
  cfg.bind = "127.0.0.1";
  cfg.port = 0;
  auto s = sim::alpaca::server::start(std::move(cfg));
  if (!s)
    throw std::runtime_error(s.error());
  return std::move(*s);
}

rapidjson::Document parse(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError())
    d.SetObject();
  return d;
}

namespace {

/// A TLS client context that trusts `ca` only (nothing when empty).
void trust(ssl::context& ctx, const std::filesystem::path& ca) {
  if (!ca.empty())
    ctx.load_verify_file(ca.string());
  ctx.set_verify_mode(ssl::verify_peer);
}

/// Runs one asynchronous operation started by `start` on `io` for at most `timeout`; on
/// timeout `abort` runs (it closes the socket) and the operation is drained.
template <class Start, class Abort>
error_code run_bounded(asio::io_context& io, milliseconds timeout, Start start, Abort abort) {
  std::optional<error_code> result;
  start([&result](error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run_for(timeout);
  if (!result) {
    abort();
    io.restart();
    io.run();
    return asio::error::timed_out;
  }
  return *result;
}

/// TCP connect and the TLS handshake with host verification of 127.0.0.1.
void connect_tls(asio::io_context& io, tls_stream& stream, std::uint16_t port) {
  auto abort = [&] {
    error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
  };
  tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), port};
  auto ec = run_bounded(
      io, milliseconds{3000},
      [&](auto handler) { beast::get_lowest_layer(stream).async_connect(ep, handler); }, abort);
  if (ec)
    throw std::runtime_error("connect: " + ec.message());
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.native_handle()), "127.0.0.1");
  ec = run_bounded(
      io, milliseconds{3000},
      [&](auto handler) { stream.async_handshake(ssl::stream_base::client, handler); }, abort);
  if (ec)
    throw std::runtime_error("tls handshake: " + ec.message());
}

} // namespace

// -- rest_client ---------------------------------------------------------------------------------

struct rest_client::impl {
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<tls_stream> stream;
  beast::flat_buffer buffer;
  bool broken = false;

  void abort() {
    error_code ignored;
    beast::get_lowest_layer(*stream).socket().close(ignored);
    broken = true;
  }
};

rest_client::rest_client(std::uint16_t port, const std::filesystem::path& ca)
    : impl_(std::make_unique<impl>()) {
  trust(impl_->ctx, ca);
  impl_->stream.emplace(impl_->io, impl_->ctx);
  connect_tls(impl_->io, *impl_->stream, port);
}

rest_client::~rest_client() = default;

http_reply rest_client::request(std::string_view method, std::string_view target,
                                std::string body, milliseconds timeout) {
  auto& p = *impl_;
  http_reply out;
  if (p.broken)
    return out;
  http::request<http::string_body> req{
      http::string_to_verb(beast::string_view{method.data(), method.size()}),
      beast::string_view{target.data(), target.size()}, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers)
    req.set(name, value);
  if (!body.empty())
    req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  auto abort = [&] { p.abort(); };
  auto ec = run_bounded(
      p.io, timeout, [&](auto handler) { http::async_write(*p.stream, req, handler); }, abort);
  if (ec) {
    p.abort();
    return out;
  }
  http::response<http::string_body> res;
  ec = run_bounded(
      p.io, timeout, [&](auto handler) { http::async_read(*p.stream, p.buffer, res, handler); },
      abort);
  if (ec) {
    p.abort();
    return out;
  }
  out.status = res.result_int();
  for (const auto& field : res) {
    std::string name{field.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string{field.value()};
  }
  out.body = std::move(res.body());
  if (!res.keep_alive())
    p.abort();
  return out;
}

// -- stream_client -------------------------------------------------------------------------------

struct stream_client::impl {
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<websocket::stream<tls_stream>> ws;
  beast::flat_buffer buffer;
  bool closed = false;

  void abort() {
    error_code ignored;
    beast::get_lowest_layer(*ws).socket().close(ignored);
    closed = true;
  }
};

stream_client::stream_client(std::uint16_t port, const std::filesystem::path& ca)
    : impl_(std::make_unique<impl>()) {
  auto& p = *impl_;
  trust(p.ctx, ca);
  p.ws.emplace(p.io, p.ctx);
  connect_tls(p.io, p.ws->next_layer(), port);
  auto ec = run_bounded(
      p.io, milliseconds{3000},
      [&](auto handler) { p.ws->async_handshake("127.0.0.1", "/stream", handler); },
      [&] { p.abort(); });
  if (ec)
    throw std::runtime_error("websocket handshake: " + ec.message());
}

stream_client::~stream_client() = default;

void stream_client::send(std::string_view text) {
  auto& p = *impl_;
  if (p.closed)
    return;
  p.ws->text(true);
  auto ec = run_bounded(
      p.io, milliseconds{2000},
      [&](auto handler) { p.ws->async_write(asio::buffer(text.data(), text.size()), handler); },
      [&] { p.abort(); });
  if (ec)
    p.abort();
}

std::optional<frame> stream_client::next(milliseconds timeout) {
  auto& p = *impl_;
  if (p.closed)
    return std::nullopt;
  // A websocket read cannot be resumed after a cancel: a timeout ends the connection.
  auto ec = run_bounded(
      p.io, timeout, [&](auto handler) { p.ws->async_read(p.buffer, handler); },
      [&] { p.abort(); });
  if (ec) {
    p.closed = true;
    return std::nullopt;
  }
  frame f;
  f.binary = p.ws->got_binary();
  f.text = beast::buffers_to_string(p.buffer.data());
  p.buffer.consume(p.buffer.size());
  return f;
}

bool stream_client::closed() const {
  return impl_->closed;
}

std::string stream_client::authenticate(const std::string& key, const std::string& secret,
                                        bool legacy) {
  send(legacy ? R"({"action":"authenticate","data":{"key_id":")" + key +
                    R"(","secret_key":")" + secret + R"("}})"
              : R"({"action":"auth","key":")" + key + R"(","secret":")" + secret + R"("})");
  auto f = next();
  if (!f)
    return {};
  auto d = parse(f->text);
  if (!d.HasMember("data") || !d["data"].IsObject() || !d["data"].HasMember("status"))
    return {};
  return d["data"]["status"].GetString();
}

bool stream_client::listen() {
  send(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  auto f = next();
  if (!f)
    return false;
  auto d = parse(f->text);
  return d.HasMember("stream") && std::string_view{d["stream"].GetString()} == "listening" &&
         d["data"]["streams"].Size() == 1;
}

std::optional<rapidjson::Document>
stream_client::next_event(const std::function<bool(const rapidjson::Value&)>& pred,
                          milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline -
                                                         std::chrono::steady_clock::now());
    if (left <= milliseconds::zero())
      return std::nullopt;
    auto f = next(left);
    if (!f)
      return std::nullopt;
    auto d = parse(f->text);
    if (!d.HasMember("stream") || std::string_view{d["stream"].GetString()} != "trade_updates")
      continue;
    if (!pred || pred(d["data"]))
      return d;
  }
}

} // namespace brokerd::test::alpaca
