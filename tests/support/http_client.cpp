#include "tests/support/http_client.hpp"

#include <stdexcept>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace brokerd::test {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

/// One TCP stream on a private io_context; each operation runs the context until it
/// completes, bounded by the stream's expiry.
class stream_core {
public:
  stream_core(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}

  [[nodiscard]] bool is_open() const { return stream_.socket().is_open(); }
  [[nodiscard]] std::string where() const { return host_ + ":" + std::to_string(port_); }
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] const std::string& host() const noexcept { return host_; }

  void connect() {
    error_code ec;
    auto addr = asio::ip::make_address(host_, ec);
    if (ec)
      throw std::runtime_error("invalid address " + host_ + ": " + ec.message());
    close();
    buffer_.clear();
    ec = run([&](auto handler) { stream_.async_connect(tcp::endpoint{addr, port_}, handler); });
    if (ec)
      fail("connect to", ec);
  }

  error_code write(const http::request<http::string_body>& req) {
    return run([&](auto handler) { http::async_write(stream_, req, handler); });
  }

  error_code write_raw(std::string_view bytes) {
    return run([&](auto handler) {
      asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()), handler);
    });
  }

  error_code read(http::response_parser<http::string_body>& parser) {
    return run([&](auto handler) { http::async_read(stream_, buffer_, parser, handler); });
  }

  std::string read_to_end() {
    for (;;) {
      auto space = buffer_.prepare(4096);
      std::size_t got = 0;
      auto ec = run([&](auto handler) {
        stream_.async_read_some(space, [&got, handler](error_code e, std::size_t n) mutable {
          got = n;
          handler(e, n);
        });
      });
      buffer_.commit(got);
      if (ec == asio::error::eof || ec == asio::error::connection_reset)
        break;
      if (ec)
        fail("read to end from", ec);
    }
    std::string out = beast::buffers_to_string(buffer_.data());
    buffer_.clear();
    close();
    return out;
  }

  void close() {
    error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  [[noreturn]] void fail(std::string_view step, error_code ec) {
    close();
    std::string why = ec == beast::error::timeout
                          ? "timed out after " + std::to_string(timeout_.count()) + " ms"
                          : ec.message();
    throw std::runtime_error(std::string{step} + " " + where() + " failed: " + why);
  }

private:
  template <class Start>
  error_code run(Start start) {
    error_code result = asio::error::timed_out;
    stream_.expires_after(timeout_);
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  std::string host_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  asio::io_context ioc_;
  beast::tcp_stream stream_{ioc_};

public:
  beast::flat_buffer buffer_;
};

http_client::response to_response(http::response<http::string_body>&& res) {
  http_client::response out;
  out.status = res.result_int();
  for (const auto& field : res)
    out.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
  out.keep_alive = res.keep_alive();
  out.body = std::move(res.body());
  return out;
}

bool is_stale_connection(error_code ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

} // namespace

std::optional<std::string> http_client::response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name))
      return v;
  return std::nullopt;
}

struct http_client::impl {
  impl(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
      : core(std::move(host), port, timeout) {}
  stream_core core;
  std::size_t connects = 0;
};

http_client::http_client(std::uint16_t port, std::chrono::milliseconds timeout, std::string host)
    : impl_(std::make_unique<impl>(std::move(host), port, timeout)) {}

http_client::~http_client() = default;

void http_client::close() { impl_->core.close(); }

std::size_t http_client::connect_count() const noexcept { return impl_->connects; }

http_client::response http_client::request(std::string_view method, std::string_view target,
                                           std::string_view body, const header_list& headers) {
  auto& core = impl_->core;
  http::request<http::string_body> req;
  req.method_string(beast::string_view{method.data(), method.size()});
  req.target(beast::string_view{target.data(), target.size()});
  req.version(11);
  req.set(http::field::host, core.host() + ":" + std::to_string(core.port()));
  for (const auto& [name, value] : headers)
    req.insert(name, value);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.body() = std::string{body};
    req.prepare_payload();
  }
  for (int attempt = 0;; ++attempt) {
    bool reused = core.is_open();
    if (!reused) {
      core.connect();
      ++impl_->connects;
    }
    bool may_retry = reused && attempt == 0;
    if (auto ec = core.write(req)) {
      if (may_retry && is_stale_connection(ec)) {
        core.close();
        continue;
      }
      core.fail("write to", ec);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (method == "HEAD")
      parser.skip(true);
    if (auto ec = core.read(parser)) {
      if (may_retry && !parser.got_some() && is_stale_connection(ec)) {
        core.close();
        continue;
      }
      core.fail("read a response from", ec);
    }
    auto res = to_response(parser.release());
    if (!res.keep_alive)
      core.close();
    return res;
  }
}

struct raw_connection::impl {
  impl(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
      : core(std::move(host), port, timeout) {}
  stream_core core;
};

raw_connection::raw_connection(std::uint16_t port, std::chrono::milliseconds timeout,
                               std::string host)
    : impl_(std::make_unique<impl>(std::move(host), port, timeout)) {
  impl_->core.connect();
}

raw_connection::~raw_connection() = default;

void raw_connection::send(std::string_view bytes) {
  if (auto ec = impl_->core.write_raw(bytes))
    impl_->core.fail("send to", ec);
}

http_client::response raw_connection::read_response(bool head_request) {
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (head_request)
    parser.skip(true);
  if (auto ec = impl_->core.read(parser))
    impl_->core.fail("read a response from", ec);
  return to_response(parser.release());
}

std::string raw_connection::read_until_closed() { return impl_->core.read_to_end(); }

void raw_connection::close() { impl_->core.close(); }

} // namespace brokerd::test
