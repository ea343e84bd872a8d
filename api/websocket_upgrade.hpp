#pragma once

// The connection of a WebSocket upgrade request, handed over by the HTTP server to whoever
// accepted the upgrade. Kept apart from http_server.hpp so that only the code that speaks
// WebSocket includes Beast's HTTP types.

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

namespace brokerd::api {

/// A socket whose last request asked for `Upgrade: websocket`, with that request: the
/// receiver answers the handshake (`websocket::stream::async_accept(request)`). The socket's
/// executor is the connection's strand; the HTTP server no longer touches it.
struct upgraded_connection {
  boost::asio::ip::tcp::socket socket;
  boost::beast::http::request<boost::beast::http::string_body> request;
};

} // namespace brokerd::api
