#include "tests/unit/sim/support/alpaca_test_client.hpp"
#include "tests/unit/sim/support/tls_test_io.hpp"

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

rest_client::rest_client(std::uint16_t port, const std::filesystem::path& ca)
    : https_client(port, ca) {
  headers = {{"APCA-API-KEY-ID", "demo-key"}, {"APCA-API-SECRET-KEY", "demo-secret"}};
}

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
