#pragma once

// The bounded Asio steps the simulators' test clients share: a CA-only trust store, one
// asynchronous operation run with a timeout, and a TLS connect to 127.0.0.1. Included by the
// clients' .cpp files only (it brings in Beast).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop

namespace brokerd::test {

using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// Makes `ctx` trust `ca` only (nothing when empty) and verify the peer.
void trust(boost::asio::ssl::context& ctx, const std::filesystem::path& ca);

/// Runs one asynchronous operation started by `start` on `io` for at most `timeout`; on
/// timeout `abort` runs (it closes the socket) and the operation is drained.
template <class Start, class Abort>
boost::system::error_code run_bounded(boost::asio::io_context& io,
                                      std::chrono::milliseconds timeout, Start start, Abort abort) {
  std::optional<boost::system::error_code> result;
  start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run_for(timeout);
  if (!result) {
    abort();
    io.restart();
    io.run();
    return boost::asio::error::timed_out;
  }
  return *result;
}

/// TCP connect to 127.0.0.1:`port` and the TLS handshake with host verification of
/// 127.0.0.1, 3 s each; throws std::runtime_error naming the step that failed.
void connect_tls(boost::asio::io_context& io, tls_stream& stream, std::uint16_t port);

} // namespace brokerd::test
