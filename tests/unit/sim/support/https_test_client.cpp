#include "tests/unit/sim/support/https_test_client.hpp"
#include "tests/unit/sim/support/tls_test_io.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

#include <openssl/x509_vfy.h>

namespace brokerd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using std::chrono::milliseconds;

rapidjson::Document parse(std::string_view text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError())
    d.SetObject();
  return d;
}

std::string str(const rapidjson::Value& v, const char* name) {
  return v.IsObject() && v.HasMember(name) && v[name].IsString() ? v[name].GetString()
                                                                 : std::string{"<none>"};
}

int retry_after_seconds(const std::string& value) {
  int seconds = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  return ec == std::errc{} && ptr == value.data() + value.size() ? seconds : 0;
}

void trust(ssl::context& ctx, const std::filesystem::path& ca) {
  if (!ca.empty())
    ctx.load_verify_file(ca.string());
  ctx.set_verify_mode(ssl::verify_peer);
}

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

struct https_client::impl {
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

https_client::https_client(std::uint16_t port, const std::filesystem::path& ca)
    : impl_(std::make_unique<impl>()) {
  trust(impl_->ctx, ca);
  impl_->stream.emplace(impl_->io, impl_->ctx);
  connect_tls(impl_->io, *impl_->stream, port);
}

https_client::~https_client() = default;

http_reply https_client::request(std::string_view method, std::string_view target, std::string body,
                                 milliseconds timeout) {
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
  if (!body.empty() && req.find(http::field::content_type) == req.end())
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

} // namespace brokerd::test
