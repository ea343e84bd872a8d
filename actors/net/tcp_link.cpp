#include "actors/net/tcp_link.hpp"

#include <deque>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop

#include "actors/messages.hpp"

namespace brokerd::actors::net {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class link_impl final : public tcp_link, public std::enable_shared_from_this<link_impl> {
public:
  link_impl(asio::io_context& io, caf::actor owner, std::uint64_t id)
      : strand_(asio::make_strand(io)), resolver_(strand_), socket_(strand_), timer_(strand_),
        owner_(caf::actor_cast<caf::weak_actor_ptr>(owner)), id_(id) {}

  void connect(std::string host, std::uint16_t port, std::chrono::milliseconds timeout) override {
    asio::post(strand_, [self = shared_from_this(), host = std::move(host), port, timeout] {
      self->start_connect(host, port, timeout);
    });
  }

  void write(std::string bytes) override {
    asio::post(strand_, [self = shared_from_this(), b = std::move(bytes)]() mutable {
      if (self->closed_)
        return;
      self->outbox_.push_back(std::move(b));
      if (self->outbox_.size() == 1 && self->connected_)
        self->flush();
    });
  }

  void close() override {
    asio::post(strand_, [self = shared_from_this()] { self->shutdown(); });
  }

  [[nodiscard]] std::uint64_t bytes_written() const noexcept override {
    return written_.load(std::memory_order_relaxed);
  }

private:
  template <class... Ts> void tell(Ts&&... xs) {
    if (auto h = caf::actor_cast<caf::actor>(owner_.lock()))
      caf::anon_send(h, std::forward<Ts>(xs)...);
    else
      shutdown(); // the owner is gone: nobody reads this link any more
  }

  void fail(const std::string& reason) {
    if (closed_)
      return;
    shutdown();
    if (auto h = caf::actor_cast<caf::actor>(owner_.lock()))
      caf::anon_send(h, net_down_atom_v, id_, reason);
  }

  void shutdown() {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    outbox_.clear();
  }

  void start_connect(const std::string& host, std::uint16_t port,
                     std::chrono::milliseconds timeout) {
    if (closed_)
      return;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), timeout](boost::system::error_code ec) {
      if (!ec && !self->connected_)
        self->fail("connect timed out after " + std::to_string(timeout.count()) + " ms");
    });
    resolver_.async_resolve(
        host, std::to_string(port),
        [self = shared_from_this(), host, port](boost::system::error_code ec,
                                                tcp::resolver::results_type results) {
          if (self->closed_)
            return;
          if (ec)
            return self->fail("cannot resolve " + host + ": " + ec.message());
          asio::async_connect(self->socket_, results,
                              [self, host, port](boost::system::error_code cec, const tcp::endpoint&) {
                                if (self->closed_)
                                  return;
                                if (cec)
                                  return self->fail("cannot connect to " + host + ":" +
                                                    std::to_string(port) + ": " + cec.message());
                                self->timer_.cancel();
                                self->connected_ = true;
                                boost::system::error_code ignored;
                                self->socket_.set_option(tcp::no_delay{true}, ignored);
                                self->tell(net_up_atom_v, self->id_);
                                self->read();
                                if (!self->outbox_.empty())
                                  self->flush();
                              });
        });
  }

  void read() {
    socket_.async_read_some(asio::buffer(buffer_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                              if (self->closed_)
                                return;
                              if (n > 0)
                                self->tell(net_data_atom_v, self->id_,
                                           std::string{self->buffer_.data(), n});
                              if (ec)
                                return self->fail(ec == asio::error::eof
                                                      ? std::string{"connection closed by peer"}
                                                      : "connection lost: " + ec.message());
                              self->read();
                            });
  }

  void flush() {
    asio::async_write(socket_, asio::buffer(outbox_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                        if (self->closed_)
                          return;
                        self->written_.fetch_add(n, std::memory_order_relaxed);
                        if (ec)
                          return self->fail("write failed: " + ec.message());
                        self->outbox_.pop_front();
                        if (!self->outbox_.empty())
                          self->flush();
                      });
  }

  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  caf::weak_actor_ptr owner_;
  std::uint64_t id_;
  std::array<char, 16384> buffer_{};
  std::deque<std::string> outbox_;
  std::atomic<std::uint64_t> written_{0};
  bool connected_ = false;
  bool closed_ = false;
};

} // namespace

std::shared_ptr<tcp_link> tcp_link::create(boost::asio::io_context& io, caf::actor owner,
                                           std::uint64_t id) {
  return std::make_shared<link_impl>(io, std::move(owner), id);
}

} // namespace brokerd::actors::net
