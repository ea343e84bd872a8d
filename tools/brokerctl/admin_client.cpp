#include <utility>

#include "tools/brokerctl/admin_client.hpp"

#include <charconv>
#include <chrono>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#pragma GCC diagnostic pop

namespace brokerd::brokerctl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::expected<server_url, std::string> parse_server_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    return std::unexpected("--url must start with http:// (plain HTTP), not '" + std::string{url} +
                           "'");
  auto rest = url.substr(scheme.size());
  if (rest.ends_with('/'))
    rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos)
    return std::unexpected("--url must be http://HOST[:PORT]");
  server_url out;
  // HOST, HOST:PORT, [IPV6] or [IPV6]:PORT.
  auto host_end = rest.starts_with('[') ? rest.find(']') : rest.rfind(':');
  if (rest.starts_with('[') && host_end == std::string_view::npos)
    return std::unexpected("--url has an unclosed '['");
  auto colon = rest.starts_with('[')
                   ? (host_end + 1 < rest.size() ? host_end + 1 : std::string_view::npos)
                   : host_end;
  if (colon != std::string_view::npos) {
    if (rest[colon] != ':')
      return std::unexpected("--url must be http://HOST[:PORT]");
    auto port_text = rest.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535)
      return std::unexpected("--url has an invalid port '" + std::string{port_text} + "'");
    out.port = static_cast<std::uint16_t>(port);
    rest = rest.substr(0, colon);
  }
  if (rest.starts_with('[') && rest.ends_with(']'))
    rest = rest.substr(1, rest.size() - 2);
  if (rest.empty())
    return std::unexpected("--url has no host");
  out.host = std::string{rest};
  return out;
}

std::expected<api_answer, std::string> call_api(const server_url& server, std::string_view method,
                                                std::string_view target, std::string_view token,
                                                std::string_view body, int timeout_s) {
  auto where = server.host + ":" + std::to_string(server.port);
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver{ioc};
    beast::tcp_stream stream{ioc};
    stream.expires_after(std::chrono::seconds{timeout_s});
    auto endpoints = resolver.resolve(server.host, std::to_string(server.port));
    stream.connect(endpoints);
    http::request<http::string_body> req{
        http::string_to_verb(beast::string_view{method.data(), method.size()}), std::string{target},
        11};
    req.set(http::field::host, where);
    req.set(http::field::user_agent, "brokerctl");
    req.set(http::field::authorization, "Bearer " + std::string{token});
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::string{body};
    }
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return api_answer{res.result_int(), std::move(res.body())};
  } catch (const std::exception& e) {
    return std::unexpected("cannot reach brokerd at " + where + ": " + e.what());
  }
}

} // namespace brokerd::brokerctl
