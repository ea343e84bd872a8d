#include "api/http_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <mutex>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#pragma GCC diagnostic pop

#include "api/http_metrics.hpp"
#include "api/json_io.hpp"
#include "api/websocket_upgrade.hpp"

namespace brokerd::api {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

std::optional<std::string_view> http_request::header(std::string_view name) const {
  auto same = [name](std::string_view other) {
    return other.size() == name.size() &&
           std::equal(other.begin(), other.end(), name.begin(), [](char a, char b) {
             auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
             return lower(a) == lower(b);
           });
  };
  for (const auto& [k, v] : headers)
    if (same(k))
      return std::string_view{v};
  return std::nullopt;
}

namespace http_internal {

class http_connection;

/// What the listener and its connections share: the handler, the limits, the count of open
/// connections and the registry `stop` walks. The registry is the only cross-thread part.
struct server_state {
  request_handler handler;
  http_limits limits;
  /// Empty: upgrade requests reach `handler` like any other.
  upgrade_handler upgrade;
  std::atomic<std::size_t> open{0};
  std::mutex mutex;
  std::vector<std::weak_ptr<http_connection>> connections;
};

/// How long a closing connection keeps reading (and discarding) after its last response, so
/// that unread request bytes do not turn the close into a reset that destroys the response.
constexpr std::chrono::seconds linger_time{2};
/// Bytes discarded while lingering before the connection is closed anyway.
constexpr std::size_t linger_bytes = 1024 * 1024;
/// Pause after an accept error (such as running out of file descriptors) before retrying.
constexpr std::chrono::milliseconds accept_retry{50};

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
    return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 8> reserved{
      "content-length", "content-type", "connection", "transfer-encoding",
      "server",         "cache-control", "keep-alive", "upgrade"};
  std::string lower{name};
  std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  });
  return std::find(reserved.begin(), reserved.end(), lower) != reserved.end();
}

bool is_safe_value(std::string_view v) {
  return v.find_first_of(std::string_view{"\r\n\0", 3}) == std::string_view::npos;
}

/// Turns a handler's response into the wire message. `head`: the request was HEAD, so the
/// body is left out but Content-Length still announces it.
http::response<http::string_body> build_response(http_response r, bool head, unsigned version) {
  if (r.status < 200 || r.status > 599) {
    r = http_response{500,
                      error_body({500, "internal_error", "the handler answered an invalid status"}),
                      "application/json",
                      {}};
  }
  http::response<http::string_body> res;
  res.version(version);
  res.result(r.status);
  res.set(http::field::server, "brokerd");
  res.set(http::field::cache_control, "no-store");
  bool type_ok = !r.content_type.empty() && is_safe_value(r.content_type);
  res.set(http::field::content_type, type_ok ? r.content_type : "application/octet-stream");
  for (auto& [name, value] : r.headers) {
    bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), is_tchar);
    if (name_ok && is_safe_value(value) && !is_reserved_header(name))
      res.insert(name, value);
  }
  if (r.status == 204 || r.status == 304)
    return res; // no body and no Content-Length (RFC 9110 §8.6)
  res.content_length(r.body.size());
  if (!head)
    res.body() = std::move(r.body);
  return res;
}

http_response error_response(unsigned status, std::string code, std::string message) {
  api_error e{status, std::move(code), std::move(message)};
  return http_response{status, error_body(e), "application/json", {}};
}

/// One accepted socket. Every member function runs on the connection's strand, except
/// `executor()` (immutable) and `stop()` (posts).
class http_connection : public std::enable_shared_from_this<http_connection> {
public:
  http_connection(tcp::socket socket, std::shared_ptr<server_state> state)
      : executor_(socket.get_executor()), socket_(std::move(socket)), timer_(executor_),
        state_(std::move(state)) {
    error_code ec;
    auto peer = socket_.remote_endpoint(ec);
    if (!ec) {
      auto addr = peer.address();
      if (addr.is_v6() && addr.to_v6().is_v4_mapped())
        addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
      remote_address_ = addr.to_string();
    }
  }

  ~http_connection() { release(); }

  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  [[nodiscard]] const asio::any_io_executor& executor() const noexcept { return executor_; }

  void start() {
    asio::dispatch(executor_, [self = shared_from_this()] {
      self->arm_timer();
      self->do_timer();
      self->do_read();
    });
  }

  void stop() {
    asio::post(executor_, [self = shared_from_this()] { self->on_stop(); });
  }

  /// Stores the response to request `index` and writes whatever is ready in order.
  void respond(std::uint64_t index, http_response r) {
    if (closed_ || index < first_index_ || index - first_index_ >= pending_.size())
      return;
    auto& p = pending_[static_cast<std::size_t>(index - first_index_)];
    if (p.res)
      return;
    p.res.emplace(build_response(std::move(r), p.head, p.version));
    if (!p.route.empty())
      observe_http_request(p.route, p.method, p.res->result_int(),
                           std::chrono::steady_clock::now() - p.started);
    do_write();
  }

private:
  /// A request read and not yet fully answered.
  struct pending {
    bool head = false;
    unsigned version = 11;
    bool keep_alive = true;
    /// The connection closes after this response (a protocol error or payload too large).
    bool close_after = false;
    std::optional<http::response<http::string_body>> res;
    /// For the latency histogram: the route pattern and method label of a request that was
    /// read (empty for one that could not be), and when it was read.
    std::string_view route;
    std::string_view method;
    std::chrono::steady_clock::time_point started;
  };

  void do_read() {
    if (closed_ || lingering_ || read_done_ || reading_)
      return;
    if (pending_.size() >= state_->limits.max_pipelined)
      return; // backpressure: on_write resumes reading
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(state_->limits.max_header, UINT32_MAX)));
    parser_->body_limit(state_->limits.max_body);
    reading_ = true;
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(error_code ec) {
    reading_ = false;
    if (closed_)
      return;
    if (lingering_) {
      if (ec)
        do_close();
      else
        do_drain();
      return;
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      // The client finished sending: answer what is in flight, then close.
      read_done_ = true;
      if (pending_.empty() && !writing_)
        do_close();
      return;
    }
    if (ec == asio::error::operation_aborted)
      return;
    if (ec == http::error::body_limit) {
      fail_request(413, "payload_too_large",
                   "request body exceeds " + std::to_string(state_->limits.max_body) + " bytes");
      return;
    }
    if (ec == http::error::header_limit) {
      fail_request(431, "headers_too_large",
                   "request header exceeds " + std::to_string(state_->limits.max_header) +
                       " bytes");
      return;
    }
    if (ec && ec.category() == http::make_error_code(http::error::bad_method).category()) {
      fail_request(400, "bad_request", "malformed HTTP request: " + ec.message());
      return;
    }
    if (ec) {
      do_close(); // reset or another transport error: nobody to answer
      return;
    }
    on_request(parser_->release());
    do_read();
  }

  /// Answers a request that could not be read (in order, after those before it) and stops
  /// reading: the rest of the stream cannot be trusted.
  void fail_request(unsigned status, std::string code, std::string message) {
    read_done_ = true;
    pending p;
    p.keep_alive = false;
    p.close_after = true;
    pending_.push_back(std::move(p));
    std::uint64_t index = next_index_++;
    arm_timer();
    respond(index, error_response(status, std::move(code), std::move(message)));
  }

  void on_request(http::request<http::string_body> req) {
    std::uint64_t index = next_index_++;
    pending p;
    p.head = req.method() == http::verb::head;
    p.version = req.version();
    p.keep_alive = req.keep_alive();
    p.started = std::chrono::steady_clock::now();
    auto raw_target = std::string_view{req.target().data(), req.target().size()};
    p.route = route_pattern(raw_target.substr(0, raw_target.find('?')));
    p.method = method_label({req.method_string().data(), req.method_string().size()});
    if (!p.keep_alive)
      read_done_ = true;
    pending_.push_back(std::move(p));
    arm_timer();
    if (stopping_) {
      pending_.back().close_after = true;
      read_done_ = true;
      respond(index, error_response(503, "shutting_down", "the server is shutting down"));
      return;
    }

    http_request r;
    r.method = std::string{req.method_string()};
    r.target = std::string{req.target()};
    std::string_view target = r.target;
    std::size_t q = target.find('?');
    r.path = std::string{target.substr(0, q)};
    if (q != std::string_view::npos) {
      auto query = parse_query(target.substr(q + 1));
      if (!query) {
        respond(index, error_response(400, "bad_request", "malformed query string"));
        return;
      }
      r.query = std::move(*query);
    }
    for (const auto& field : req)
      r.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    r.authorization = std::string{req[http::field::authorization]};
    r.content_type = std::string{req[http::field::content_type]};
    r.body = std::move(req.body());
    r.remote_address = remote_address_;

    if (state_->upgrade && beast::websocket::is_upgrade(req)) {
      if (pending_.size() != 1) {
        // Responses to earlier pipelined requests are still owed on this socket.
        pending_.back().close_after = true;
        read_done_ = true;
        respond(index, error_response(400, "bad_request",
                                      "a WebSocket upgrade must not follow pipelined requests"));
        return;
      }
      upgrade_answer answer;
      try {
        answer = state_->upgrade(r);
      } catch (...) {
        answer.refuse = error_response(500, "internal_error", "upgrade handler failed");
      }
      if (answer.refuse || !answer.accept) {
        pending_.back().close_after = true;
        read_done_ = true;
        respond(index, answer.refuse ? std::move(*answer.refuse)
                                     : error_response(500, "internal_error", "upgrade not handled"));
        return;
      }
      // The socket leaves the HTTP server: no timer, no slot, no response of ours.
      closed_ = true;
      timer_.cancel();
      pending_.clear();
      release();
      auto taken = std::make_unique<upgraded_connection>(
          upgraded_connection{std::move(socket_), std::move(req)});
      answer.accept(std::move(taken));
      return;
    }

    auto slot = std::make_shared<reply_slot>(shared_from_this(), index);
    try {
      state_->handler(std::move(r), [slot](http_response res) { slot->reply(std::move(res)); });
    } catch (...) {
      slot->reply(error_response(500, "internal_error", "request handler failed"));
    }
  }

  void do_write() {
    if (writing_ || closed_ || lingering_ || pending_.empty() || !pending_.front().res)
      return;
    auto& p = pending_.front();
    write_closes_ = !p.keep_alive || p.close_after || (stopping_ && pending_.size() == 1);
    p.res->keep_alive(!write_closes_);
    writing_ = true;
    arm_timer();
    http::async_write(socket_, *p.res, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_write(ec);
    });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (closed_)
      return;
    if (ec) {
      do_close();
      return;
    }
    pending_.pop_front();
    ++first_index_;
    if (write_closes_ || (pending_.empty() && (read_done_ || stopping_))) {
      do_shutdown();
      return;
    }
    arm_timer();
    do_write();
    do_read();
  }

  void on_stop() {
    if (closed_)
      return;
    stopping_ = true;
    if (pending_.empty() && !writing_)
      do_close();
  }

  /// Sets the deadline for the current state: while idle (nothing in flight) and while
  /// writing, `idle_timeout` from now; while a handler works on a request, none.
  void arm_timer() {
    if (lingering_ || closed_)
      return;
    if (writing_ || pending_.empty())
      timer_.expires_after(state_->limits.idle_timeout);
    else
      timer_.expires_at(asio::steady_timer::time_point::max());
  }

  void do_timer() {
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->on_timer(ec); });
  }

  void on_timer(error_code ec) {
    if (closed_)
      return;
    bool expired = ec != asio::error::operation_aborted &&
                   timer_.expiry() <= asio::steady_timer::clock_type::now();
    if (expired && (lingering_ || writing_ || pending_.empty())) {
      do_close(); // idle, a client that does not read its responses, or linger over
      return;
    }
    do_timer();
  }

  /// Graceful close after the last response: half-close, then read and discard what the
  /// client still sends (bounded in time and bytes) before closing.
  void do_shutdown() {
    if (closed_ || lingering_)
      return;
    lingering_ = true;
    read_done_ = true;
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      do_close();
      return;
    }
    timer_.expires_after(linger_time);
    if (!reading_)
      do_drain();
  }

  void do_drain() {
    reading_ = true;
    socket_.async_read_some(asio::buffer(drain_),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              self->on_drain(ec, n);
                            });
  }

  void on_drain(error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_)
      return;
    drained_ += n;
    if (ec || drained_ > linger_bytes) {
      do_close();
      return;
    }
    do_drain();
  }

  void do_close() {
    if (closed_)
      return;
    closed_ = true;
    error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    release();
  }

  /// Gives the connection's slot back to the listener's count, once.
  void release() noexcept {
    if (!released_) {
      released_ = true;
      state_->open.fetch_sub(1);
    }
  }

  /// The shared core of one request's responder: first call wins, and dropping it unanswered
  /// answers 500.
  class reply_slot {
  public:
    reply_slot(std::shared_ptr<http_connection> c, std::uint64_t index)
        : conn_(std::move(c)), index_(index) {}
    reply_slot(const reply_slot&) = delete;
    reply_slot& operator=(const reply_slot&) = delete;

    ~reply_slot() {
      if (used_.exchange(true))
        return;
      try {
        deliver(error_response(500, "no_response", "the request was dropped without a response"));
      } catch (...) {
        // Out of memory while posting: the client's connection times out instead.
      }
    }

    void reply(http_response r) {
      if (used_.exchange(true))
        return;
      deliver(std::move(r));
    }

  private:
    void deliver(http_response r) {
      auto c = std::move(conn_);
      const auto& ex = c->executor();
      asio::post(ex, [c = std::move(c), i = index_, r = std::move(r)]() mutable {
        c->respond(i, std::move(r));
      });
    }

    std::atomic<bool> used_{false};
    std::shared_ptr<http_connection> conn_;
    std::uint64_t index_;
  };

  asio::any_io_executor executor_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::shared_ptr<server_state> state_;
  std::string remote_address_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<pending> pending_;
  /// Index of `pending_.front()`; indexes count requests on this connection from 0.
  std::uint64_t first_index_ = 0;
  std::uint64_t next_index_ = 0;
  std::array<char, 4096> drain_{};
  std::size_t drained_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool write_closes_ = false;
  /// No further request will be read (client finished, asked to close, or a read failed).
  bool read_done_ = false;
  bool stopping_ = false;
  bool lingering_ = false;
  bool closed_ = false;
  bool released_ = false;
};

} // namespace http_internal

/// Owns the acceptor; runs on its own strand.
class http_listener : public std::enable_shared_from_this<http_listener> {
public:
  http_listener(asio::io_context& ioc, std::shared_ptr<http_internal::server_state> state)
      : ioc_(ioc), strand_(asio::make_strand(ioc)), acceptor_(strand_), retry_(strand_),
        state_(std::move(state)) {}

  /// Opens, binds and listens synchronously; returns the bound port.
  std::expected<std::uint16_t, std::string> open(const std::string& address, std::uint16_t port) {
    error_code ec;
    auto addr = asio::ip::make_address(address, ec);
    if (ec)
      return std::unexpected("invalid bind address '" + address + "': " + ec.message());
    tcp::endpoint ep{addr, port};
    std::string where = address + ":" + std::to_string(port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec)
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec)
      return std::unexpected("cannot open a socket for " + where + ": " + ec.message());
    acceptor_.bind(ep, ec);
    if (ec)
      return std::unexpected("cannot bind " + where + ": " + ec.message());
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return std::unexpected("cannot listen on " + where + ": " + ec.message());
    auto local = acceptor_.local_endpoint(ec);
    if (ec)
      return std::unexpected("cannot read the bound port of " + where + ": " + ec.message());
    return local.port();
  }

  void run() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->do_accept(); });
  }

  void stop() {
    asio::post(strand_, [self = shared_from_this()] { self->on_stop(); });
  }

private:
  void do_accept() {
    if (stopped_)
      return;
    acceptor_.async_accept(asio::make_strand(ioc_),
                           [self = shared_from_this()](error_code ec, tcp::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(error_code ec, tcp::socket socket) {
    if (stopped_)
      return;
    if (ec) {
      if (ec == asio::error::operation_aborted)
        return;
      retry_.expires_after(http_internal::accept_retry);
      retry_.async_wait([self = shared_from_this()](error_code wait_ec) {
        if (!wait_ec)
          self->do_accept();
      });
      return;
    }
    if (state_->open.load() >= state_->limits.max_connections) {
      error_code ignored;
      socket.close(ignored);
    } else {
      state_->open.fetch_add(1);
      auto conn = std::make_shared<http_internal::http_connection>(std::move(socket), state_);
      {
        std::lock_guard lock{state_->mutex};
        auto& all = state_->connections;
        std::erase_if(all, [](const auto& w) { return w.expired(); });
        all.push_back(conn);
      }
      conn->start();
    }
    do_accept();
  }

  void on_stop() {
    if (stopped_)
      return;
    stopped_ = true;
    error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
    std::vector<std::weak_ptr<http_internal::http_connection>> all;
    {
      std::lock_guard lock{state_->mutex};
      all.swap(state_->connections);
    }
    for (const auto& w : all)
      if (auto c = w.lock())
        c->stop();
  }

  asio::io_context& ioc_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_;
  std::shared_ptr<http_internal::server_state> state_;
  bool stopped_ = false;
};

std::expected<std::unique_ptr<http_server>, std::string>
http_server::start(asio::io_context& ioc, std::string bind_address, std::uint16_t port,
                   request_handler handler, http_limits limits, upgrade_handler upgrade) {
  if (!handler)
    return std::unexpected(std::string{"http_server needs a request handler"});
  if (limits.max_pipelined == 0 || limits.max_connections == 0 ||
      limits.idle_timeout <= std::chrono::seconds::zero() || limits.max_header == 0)
    return std::unexpected(std::string{
        "http_limits: max_pipelined, max_connections, max_header and idle_timeout must be > 0"});
  auto state = std::make_shared<http_internal::server_state>();
  state->handler = std::move(handler);
  state->limits = limits;
  state->upgrade = std::move(upgrade);
  auto listener = std::make_shared<http_listener>(ioc, std::move(state));
  auto bound = listener->open(bind_address, port);
  if (!bound)
    return std::unexpected(std::move(bound.error()));
  listener->run();
  return std::unique_ptr<http_server>(new http_server(std::move(listener), *bound));
}

http_server::http_server(std::shared_ptr<http_listener> listener, std::uint16_t port)
    : listener_(std::move(listener)), port_(port) {}

http_server::~http_server() { stop(); }

void http_server::stop() {
  if (listener_)
    listener_->stop();
}

} // namespace brokerd::api
