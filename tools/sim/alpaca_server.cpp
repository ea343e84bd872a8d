#include "tools/sim/alpaca_server.hpp"

#include "tools/sim/io_thread.hpp"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <thread>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#pragma GCC diagnostic pop

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tools/sim/alpaca_book.hpp"
#include "tools/sim/tls_identity.hpp"

namespace brokerd::sim::alpaca {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

/// Largest request body accepted (an order is a few hundred bytes).
constexpr std::uint64_t max_body_bytes = 64 * 1024;
/// A connection idle this long between requests (or stuck in a handshake) is closed.
constexpr std::chrono::seconds idle_timeout{60};
/// Bytes queued for one slow stream client before the simulator closes it.
constexpr std::size_t max_queued_bytes = 8 * 1024 * 1024;

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

std::optional<std::string> validate(const config& cfg) {
  if (cfg.tick <= std::chrono::milliseconds::zero())
    return "tick must be positive";
  if (!cfg.fill_chunk.is_positive())
    return "fill_chunk must be positive";
  if (!cfg.cash.is_positive())
    return "cash must be positive";
  if (!cfg.default_price.is_positive())
    return "default_price must be positive";
  if (cfg.requests_per_minute == 0)
    return "requests_per_minute must be positive";
  if (cfg.rate_window <= std::chrono::milliseconds::zero())
    return "rate_window must be positive";
  if (cfg.key_id.empty() || cfg.secret.empty())
    return "key_id and secret must not be empty";
  for (const auto& [symbol, path] : cfg.paths) {
    if (path.empty())
      return "the price path of " + symbol + " is empty";
    for (auto p : path)
      if (!p.is_positive())
        return "the price path of " + symbol + " has a price that is not positive";
  }
  return std::nullopt;
}

/// Decodes %XX escapes and '+' of a query component.
std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size()) {
      auto hex = std::string{text.substr(i + 1, 2)};
      char* end = nullptr;
      auto v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

query_params parse_query(std::string_view query) {
  query_params out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty())
      continue;
    auto eq = item.find('=');
    out[url_decode(item.substr(0, eq))] =
        eq == std::string_view::npos ? std::string{} : url_decode(item.substr(eq + 1));
  }
  return out;
}

std::string json_message(std::optional<std::int64_t> code, std::string_view message) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w{b};
  w.StartObject();
  if (code) {
    w.Key("code");
    w.Int64(*code);
  }
  w.Key("message");
  w.String(message.data(), static_cast<rapidjson::SizeType>(message.size()));
  w.EndObject();
  return std::string{b.GetString(), b.GetSize()};
}

/// A control frame of the stream (§5.2, §5.3).
std::string authorization_frame(std::string_view status, std::string_view action,
                                std::optional<std::string_view> message) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w{b};
  w.StartObject();
  w.Key("stream");
  w.String("authorization");
  w.Key("data");
  w.StartObject();
  w.Key("action");
  w.String(action.data(), static_cast<rapidjson::SizeType>(action.size()));
  w.Key("status");
  w.String(status.data(), static_cast<rapidjson::SizeType>(status.size()));
  if (message) {
    w.Key("message");
    w.String(message->data(), static_cast<rapidjson::SizeType>(message->size()));
  }
  w.EndObject();
  w.EndObject();
  return std::string{b.GetString(), b.GetSize()};
}

std::string listening_frame(bool trade_updates) {
  return trade_updates ? R"({"stream":"listening","data":{"streams":["trade_updates"]}})"
                       : R"({"stream":"listening","data":{"streams":[]}})";
}

std::string string_member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject())
    return {};
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString())
    return {};
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

} // namespace

// -- the io-thread state -------------------------------------------------------------------------

struct server::impl {
  struct http_session;
  struct stream_session;

  /// One /stream connection after the upgrade. Touched on the io thread only.
  struct stream_session : std::enable_shared_from_this<stream_session> {
    stream_session(impl& o, tls_stream s) : owner(o), ws(std::move(s)) {}

    impl& owner;
    websocket::stream<tls_stream> ws;
    beast::flat_buffer buffer;
    std::deque<std::string> out;
    std::size_t out_bytes = 0;
    bool writing = false;
    bool authorized = false;
    bool listening = false;
    bool close_after_flush = false;
    bool closed = false;

    void start(request req) {
      beast::get_lowest_layer(ws).expires_never();
      ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
      ws.binary(owner.cfg.paper);
      ws.async_accept(req, [self = shared_from_this()](error_code ec) { self->on_accept(ec); });
    }

    void on_accept(error_code ec) {
      if (ec || owner.stopping)
        return close();
      ++owner.counters.stream_connections;
      do_read();
    }

    void do_read() {
      ws.async_read(buffer, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_read(ec);
      });
    }

    void on_read(error_code ec) {
      if (ec || owner.stopping || closed)
        return close();
      std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      handle(text);
      if (!closed)
        do_read();
    }

    /// §5.2 and §5.3: auth (both forms), then listen.
    void handle(const std::string& text) {
      rapidjson::Document d;
      d.Parse(text.data(), text.size());
      auto action = d.HasParseError() ? std::string{} : string_member(d, "action");
      if (action == "auth" || action == "authenticate") {
        std::string key = string_member(d, "key");
        std::string secret = string_member(d, "secret");
        if (auto data = d.FindMember("data"); data != d.MemberEnd() && data->value.IsObject()) {
          key = string_member(data->value, "key_id");
          secret = string_member(data->value, "secret_key");
        }
        if (key.empty() || secret.empty()) {
          refuse("must provide key_id and secret_key or oauth_token");
        } else if (key != owner.cfg.key_id || secret != owner.cfg.secret) {
          refuse("access key verification failed");
        } else {
          authorized = true;
          send(authorization_frame("authorized", "authenticate", std::nullopt));
        }
        return;
      }
      if (action == "listen") {
        if (!authorized) {
          send(authorization_frame("unauthorized", "listen", "not authenticated"));
          return;
        }
        bool wants = false;
        if (auto data = d.FindMember("data"); data != d.MemberEnd() && data->value.IsObject())
          if (auto s = data->value.FindMember("streams");
              s != data->value.MemberEnd() && s->value.IsArray())
            for (const auto& item : s->value.GetArray())
              wants = wants || (item.IsString() && std::string_view{item.GetString()} ==
                                                       "trade_updates");
        listening = wants;
        send(listening_frame(wants));
        return;
      }
      // Anything else is answered with an error frame that keeps `data`, as every frame does.
      send(R"({"stream":"error","data":{"error_message":"unrecognized request"}})");
    }

    void refuse(std::string_view why) {
      send(authorization_frame("unauthorized", "authenticate", why));
      close_after_flush = true;
    }

    void send(std::string frame) {
      if (closed)
        return;
      out_bytes += frame.size();
      out.push_back(std::move(frame));
      if (out_bytes > max_queued_bytes)
        return close();
      if (!writing)
        do_write();
    }

    void do_write() {
      writing = true;
      ws.async_write(asio::buffer(out.front()),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
    }

    void on_write(error_code ec) {
      writing = false;
      if (ec || closed)
        return close();
      out_bytes -= out.front().size();
      out.pop_front();
      if (!out.empty())
        return do_write();
      if (close_after_flush) {
        closed = true;
        ws.async_close(websocket::close_code::policy_error,
                       [self = shared_from_this()](error_code) { self->close(); });
      }
    }

    /// Abrupt: the TCP socket closes under the TLS and websocket layers.
    void close() {
      closed = true;
      error_code ignored;
      auto& socket = beast::get_lowest_layer(ws).socket();
      if (socket.is_open()) {
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
      }
      owner.streams.erase(shared_from_this());
    }
  };

  /// One HTTPS connection: keep-alive requests in order until it closes or upgrades.
  struct http_session : std::enable_shared_from_this<http_session> {
    http_session(impl& o, tcp::socket s)
        : owner(o), stream(std::move(s), o.ssl_ctx), delay_timer(o.io) {}

    impl& owner;
    tls_stream stream;
    beast::flat_buffer buffer;
    std::optional<http::request_parser<http::string_body>> parser;
    response res;
    asio::steady_timer delay_timer;

    void start() {
      beast::get_lowest_layer(stream).expires_after(idle_timeout);
      stream.async_handshake(ssl::stream_base::server,
                             [self = shared_from_this()](error_code ec) {
                               self->on_handshake(ec);
                             });
    }

    void on_handshake(error_code ec) {
      if (ec || owner.stopping)
        return close();
      do_read();
    }

    void do_read() {
      parser.emplace();
      parser->body_limit(max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(idle_timeout);
      http::async_read(stream, buffer, *parser,
                       [self = shared_from_this()](error_code ec, std::size_t) {
                         self->on_read(ec);
                       });
    }

    void on_read(error_code ec) {
      if (ec || owner.stopping)
        return close();
      auto req = parser->release();
      if (websocket::is_upgrade(req)) {
        auto target = std::string_view{req.target().data(), req.target().size()};
        if (target.substr(0, target.find('?')) == "/stream") {
          auto s = std::make_shared<stream_session>(owner, std::move(stream));
          owner.streams.insert(s);
          owner.sessions.erase(shared_from_this());
          s->start(std::move(req));
          return;
        }
      }
      res = owner.handle(req);
      if (owner.response_delay > std::chrono::milliseconds::zero()) {
        delay_timer.expires_after(owner.response_delay);
        delay_timer.async_wait([self = shared_from_this()](error_code wait_ec) {
          if (wait_ec || self->owner.stopping)
            return self->close();
          self->do_write();
        });
        return;
      }
      do_write();
    }

    void do_write() {
      http::async_write(stream, res, [self = shared_from_this()](error_code ec, std::size_t) {
        self->on_write(ec);
      });
    }

    void on_write(error_code ec) {
      if (ec || owner.stopping || !res.keep_alive())
        return close();
      do_read();
    }

    void close() {
      error_code ignored;
      delay_timer.cancel();
      auto& socket = beast::get_lowest_layer(stream).socket();
      if (socket.is_open()) {
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
      }
      owner.sessions.erase(shared_from_this());
    }
  };

  explicit impl(config c)
      : cfg(std::move(c)),
        market(cfg, std::chrono::system_clock::now(),
               static_cast<std::uint64_t>(steady::now().time_since_epoch().count())),
        random(static_cast<std::uint64_t>(steady::now().time_since_epoch().count()) ^ 0x5bd1e995) {}

  // Declared first: destroyed last, after everything that refers to it.
  io_thread runner;
  asio::io_context& io = runner.context();
  ssl::context ssl_ctx{ssl::context::tls_server};
  config cfg;
  bool temporary_tls_dir = false;
  std::filesystem::path ca;
  tcp::acceptor acceptor{io};
  asio::steady_timer tick_timer{io};
  std::uint16_t bound_port = 0;

  // io-thread state
  bool stopping = false;
  book market;
  std::mt19937_64 random;
  std::set<std::shared_ptr<http_session>> sessions;
  std::set<std::shared_ptr<stream_session>> streams;
  stats counters;
  std::map<std::string, std::deque<steady::time_point>> windows;
  /// Per key: until when the last Retry-After given to it runs (for stats::early_retries).
  std::map<std::string, steady::time_point> retry_until;
  std::uint32_t events_to_drop = 0;
  bool duplicating = false;
  std::uint32_t failures_pending = 0;
  unsigned failure_status = 503;
  /// Replaces the failure's JSON message when set (answer_next).
  std::optional<std::string> failure_body;
  std::chrono::milliseconds response_delay{0};

  /// Runs `f` on the io thread and returns its result; runs it directly once stopped.
  template <class F> auto call(F&& f) -> decltype(f()) {
    return runner.call(std::forward<F>(f));
  }

  // -- accept and ticks ----------------------------------------------------------------------

  void do_accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket s) { on_accept(ec, std::move(s)); });
  }

  void on_accept(error_code ec, tcp::socket s) {
    if (stopping)
      return;
    if (!ec) {
      error_code ignored;
      s.set_option(tcp::no_delay(true), ignored);
      auto session = std::make_shared<http_session>(*this, std::move(s));
      sessions.insert(session);
      session->start();
    }
    do_accept();
  }

  void arm_tick(steady::time_point at) {
    tick_timer.expires_at(at);
    tick_timer.async_wait([this, at](error_code ec) {
      if (ec || stopping)
        return;
      publish(market.tick(std::chrono::system_clock::now()));
      arm_tick(std::max(at + cfg.tick, steady::now()));
    });
  }

  /// Sends each event to every listening stream, minding drop_events and duplicate_events.
  void publish(const std::vector<trade_update>& events) {
    for (const auto& e : events) {
      if (events_to_drop > 0) {
        --events_to_drop;
        continue;
      }
      auto copies = duplicating ? 2 : 1;
      auto all = streams;
      for (const auto& s : all) {
        if (!s->listening || s->closed)
          continue;
        for (int i = 0; i < copies; ++i) {
          s->send(e.frame);
          ++counters.events_sent;
        }
      }
    }
  }

  // -- REST ----------------------------------------------------------------------------------

  response make_response(const request& req, unsigned status, std::string body) {
    response res{static_cast<http::status>(status), req.version()};
    res.set(http::field::server, "brokerd-alpaca-sim");
    res.set("X-Request-ID", std::to_string(random()));
    if (!body.empty())
      res.set(http::field::content_type, "application/json; charset=UTF-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  static std::string header(const request& req, std::string_view name) {
    auto it = req.find(beast::string_view{name.data(), name.size()});
    return it == req.end() ? std::string{} : std::string{it->value()};
  }

  /// The sliding window of `key`: whether one more request arriving at `now` is admitted, and
  /// the headers. A refusal sets Retry-After and remembers until when it runs.
  bool admit(const std::string& key, steady::time_point now, response& res) {
    auto& window = windows[key];
    while (!window.empty() && window.front() + cfg.rate_window <= now)
      window.pop_front();
    bool admitted = window.size() < cfg.requests_per_minute;
    if (admitted) {
      window.push_back(now);
      counters.max_in_any_minute =
          std::max(counters.max_in_any_minute, static_cast<std::uint32_t>(window.size()));
    }
    auto until_free = window.front() + cfg.rate_window - now;
    auto reset = std::chrono::system_clock::now() + until_free;
    auto reset_secs =
        std::chrono::ceil<std::chrono::seconds>(reset.time_since_epoch()).count();
    res.set("X-RateLimit-Limit", std::to_string(cfg.requests_per_minute));
    res.set("X-RateLimit-Remaining", std::to_string(cfg.requests_per_minute - window.size()));
    res.set("X-RateLimit-Reset", std::to_string(reset_secs));
    if (!admitted) {
      auto wait = std::max<std::int64_t>(
          std::chrono::ceil<std::chrono::seconds>(until_free).count(), 1);
      res.set(http::field::retry_after, std::to_string(wait));
      auto& until = retry_until[key];
      until = std::max(until, now + std::chrono::seconds{wait});
    }
    return admitted;
  }

  response handle(const request& req) {
    ++counters.requests;
    if (failures_pending > 0) {
      --failures_pending;
      return make_response(req, failure_status,
                           failure_body ? *failure_body
                                        : json_message(std::nullopt,
                                                       "service temporarily unavailable"));
    }
    auto key = header(req, "APCA-API-KEY-ID");
    auto secret = header(req, "APCA-API-SECRET-KEY");
    if (key.empty() && secret.empty() &&
        (!header(req, "APCA_API_KEY_ID").empty() || !header(req, "APCA_API_SECRET_KEY").empty()))
      return make_response(req, 403, json_message(std::nullopt, "forbidden."));
    if (key != cfg.key_id || secret != cfg.secret)
      return make_response(req, 401, json_message(40110000, "request is not authorized"));
    auto now = steady::now();
    if (auto it = retry_until.find(key); it != retry_until.end() && now < it->second)
      ++counters.early_retries;
    response limited = make_response(req, 429, json_message(42910000, "rate limit exceeded"));
    if (!admit(key, now, limited)) {
      ++counters.rate_limited;
      return limited;
    }
    auto res = route(req);
    for (const char* h : {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"})
      res.set(h, limited[h]);
    return res;
  }

  response route(const request& req) {
    auto now = std::chrono::system_clock::now();
    std::string_view target{req.target().data(), req.target().size()};
    auto qmark = target.find('?');
    auto path = target.substr(0, qmark);
    auto query = parse_query(qmark == std::string_view::npos ? std::string_view{}
                                                             : target.substr(qmark + 1));
    auto method = req.method();
    auto answer = [&](reply r) { return make_response(req, r.status, std::move(r.body)); };
    auto apply = [&](outcome o) {
      publish(o.events);
      return answer(std::move(o.answer));
    };
    auto not_allowed = [&] {
      return make_response(req, 405, json_message(40510000, "method not allowed"));
    };
    constexpr std::string_view orders_prefix = "/v2/orders/";
    constexpr std::string_view positions_prefix = "/v2/positions/";
    if (path == "/v2/account")
      return method == http::verb::get ? answer(market.account()) : not_allowed();
    if (path == "/v2/positions")
      return method == http::verb::get ? answer(market.positions()) : not_allowed();
    if (path.starts_with(positions_prefix))
      return method == http::verb::get
                 ? answer(market.position(url_decode(path.substr(positions_prefix.size()))))
                 : not_allowed();
    if (path == "/v2/orders:by_client_order_id") {
      if (method != http::verb::get)
        return not_allowed();
      auto it = query.find("client_order_id");
      if (it == query.end() || it->second.empty())
        return answer({422, json_message(40010001, "client_order_id is missing")});
      return answer(market.order_by_client_id(it->second));
    }
    if (path == "/v2/orders") {
      if (method == http::verb::post) {
        auto o = market.create(req.body(), now);
        if (o.answer.status == 200)
          ++counters.orders_created;
        return apply(std::move(o));
      }
      if (method == http::verb::get)
        return answer(market.orders(query));
      if (method == http::verb::delete_)
        return apply(market.cancel_all(now));
      return not_allowed();
    }
    if (path.starts_with(orders_prefix)) {
      auto id = path.substr(orders_prefix.size());
      if (method == http::verb::get)
        return answer(market.order(id));
      if (method == http::verb::delete_)
        return apply(market.cancel(id, now));
      return not_allowed();
    }
    return make_response(req, 404, json_message(40410000, "endpoint not found"));
  }

  // -- shutdown ------------------------------------------------------------------------------

  void shutdown() {
    stopping = true;
    error_code ignored;
    acceptor.close(ignored);
    tick_timer.cancel();
    for (const auto& s : std::set{streams})
      s->close();
    for (const auto& s : std::set{sessions})
      s->close();
  }

  [[nodiscard]] stats snapshot() const {
    stats s = counters;
    s.creates_by_client_order_id = market.creates_by_client_order_id();
    return s;
  }
};

// -- server --------------------------------------------------------------------------------------

std::expected<std::unique_ptr<server>, std::string> server::start(config cfg) {
  if (auto bad = validate(cfg))
    return std::unexpected("alpaca simulator: " + *bad);
  bool temporary = cfg.tls_dir.empty();
  if (temporary) {
    auto dir = make_temporary_tls_dir("alpaca");
    if (!dir)
      return std::unexpected("alpaca simulator: " + dir.error());
    cfg.tls_dir = *dir;
  }
  auto identity = make_tls_identity(cfg.tls_dir);
  if (!identity) {
    if (temporary) {
      std::error_code ignored;
      std::filesystem::remove_all(cfg.tls_dir, ignored);
    }
    return std::unexpected("alpaca simulator: " + identity.error());
  }
  auto p = std::make_unique<impl>(std::move(cfg));
  p->temporary_tls_dir = temporary;
  p->ca = identity->ca_file;
  // From here on the destructor of `server` owns the cleanup of a temporary directory.
  std::unique_ptr<server> s{new server{std::move(p)}};
  auto& q = *s->impl_;
  if (auto loaded = use_tls_identity(q.ssl_ctx, *identity); !loaded)
    return std::unexpected("alpaca simulator: " + loaded.error());
  if (auto listening = io_thread::listen(q.acceptor, q.cfg.bind, q.cfg.port, "alpaca simulator");
      !listening)
    return std::unexpected(listening.error());
  q.bound_port = q.acceptor.local_endpoint().port();
  q.do_accept();
  q.arm_tick(steady::now() + q.cfg.tick);
  q.runner.start();
  return s;
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() {
  stop();
  if (impl_->temporary_tls_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(impl_->cfg.tls_dir, ignored);
  }
}

std::uint16_t server::port() const {
  return impl_->bound_port;
}

std::filesystem::path server::ca_file() const {
  return impl_->ca;
}

void server::stop() {
  auto& p = *impl_;
  p.runner.stop([&p] { p.shutdown(); });
}

stats server::statistics() const {
  return impl_->call([this] { return impl_->snapshot(); });
}

void server::set_price(const std::string& symbol, engine::decimal price) {
  impl_->call([&] { impl_->market.set_price(symbol, price); });
}

void server::clear_price(const std::string& symbol) {
  impl_->call([&] { impl_->market.clear_price(symbol); });
}

void server::hold_fills(bool on) {
  impl_->call([&] { impl_->market.hold_fills(on); });
}

void server::drop_streams() {
  impl_->call([&] {
    for (const auto& s : std::set{impl_->streams})
      s->close();
  });
}

void server::drop_events(std::uint32_t next_n) {
  impl_->call([&] { impl_->events_to_drop = next_n; });
}

void server::duplicate_events(bool on) {
  impl_->call([&] { impl_->duplicating = on; });
}

void server::fail_next(std::uint32_t n, unsigned status) {
  impl_->call([&] {
    impl_->failures_pending = n;
    impl_->failure_status = status;
    impl_->failure_body.reset();
  });
}

void server::answer_next(std::uint32_t n, unsigned status, std::string body) {
  impl_->call([&] {
    impl_->failures_pending = n;
    impl_->failure_status = status;
    impl_->failure_body = std::move(body);
  });
}

void server::delay_responses(std::chrono::milliseconds d) {
  impl_->call([&] { impl_->response_delay = std::max(d, std::chrono::milliseconds::zero()); });
}

} // namespace brokerd::sim::alpaca
