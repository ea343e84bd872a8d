#include "tools/sim/io_thread.hpp"

namespace brokerd::sim {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

io_thread::~io_thread() {
  if (thread_.joinable())
    thread_.join();
}

std::expected<void, std::string> io_thread::listen(tcp::acceptor& acceptor, const std::string& bind,
                                                   std::uint16_t port, std::string_view who) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(bind, ec);
  if (ec)
    return std::unexpected(std::string{who} + ": bad bind address '" + bind + "': " + ec.message());
  tcp::endpoint endpoint{address, port};
  std::string where = bind + ":" + std::to_string(port);
  if (acceptor.open(endpoint.protocol(), ec); ec)
    return std::unexpected(std::string{who} + ": cannot open a socket for " + where + ": " +
                           ec.message());
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec)
    return std::unexpected(std::string{who} + ": cannot bind " + where + ": " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    return std::unexpected(std::string{who} + ": cannot listen on " + where + ": " + ec.message());
  return {};
}

void io_thread::start() {
  std::unique_lock lock{control_};
  running_ = true;
  thread_ = std::thread{[this] { io_.run(); }};
}

void io_thread::stop(const std::function<void()>& shutdown) {
  std::unique_lock lock{control_};
  if (!running_)
    return;
  asio::post(io_, [this, &shutdown] {
    shutdown();
    io_.stop();
  });
  thread_.join();
  running_ = false;
  io_.restart();
  io_.run();
}

} // namespace brokerd::sim
