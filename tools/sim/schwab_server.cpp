#include "tools/sim/schwab_server.hpp"

#include <utility>

#include "tools/sim/io_thread.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <string_view>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#pragma GCC diagnostic pop

#include "tools/sim/schwab_book.hpp"
#include "tools/sim/schwab_oauth.hpp"
#include "tools/sim/schwab_wire.hpp"
#include "tools/sim/tls_identity.hpp"

namespace brokerd::sim::schwab {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

/// Largest request body accepted (an order is a few hundred bytes).
constexpr std::uint64_t max_body_bytes = 64 * 1024;
/// A connection idle this long between requests (or stuck in a handshake) is closed.
constexpr std::chrono::seconds idle_timeout{60};

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
  if (cfg.app_key.empty() || cfg.app_secret.empty() || cfg.refresh_token.empty())
    return "app_key, app_secret and refresh_token must not be empty";
  if (cfg.app_key.find(':') != std::string::npos)
    return "app_key must not contain ':' (it is the user part of HTTP Basic credentials)";
  if (cfg.redirect_uri.empty())
    return "redirect_uri must not be empty";
  if (cfg.code_lifetime <= std::chrono::milliseconds::zero() ||
      cfg.access_token_lifetime <= std::chrono::milliseconds::zero() ||
      cfg.refresh_token_lifetime <= std::chrono::milliseconds::zero())
    return "code, access and refresh token lifetimes must be positive";
  if (cfg.account_number.empty() || cfg.account_number.size() > 18 ||
      !std::all_of(cfg.account_number.begin(), cfg.account_number.end(),
                   [](char c) { return c >= '0' && c <= '9'; }) ||
      cfg.account_number.front() == '0')
    return "account_number must be 1 to 18 digits without a leading zero";
  for (const auto& [symbol, path] : cfg.paths) {
    if (path.empty())
      return "the price path of " + symbol + " is empty";
    for (auto p : path)
      if (!p.is_positive())
        return "the price path of " + symbol + " has a price that is not positive";
  }
  return std::nullopt;
}

/// True when the comma list `fields` names "positions" (§3.2).
bool wants_positions(const form_fields& query) {
  auto fields = field(query, "fields");
  if (!fields)
    return false;
  std::string_view rest = *fields;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    if (rest.substr(0, comma) == "positions")
      return true;
    if (comma == std::string_view::npos)
      break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

/// The segments of `path` split at '/' ("a/" gives "a" and an empty one).
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

} // namespace

// -- the io-thread state -------------------------------------------------------------------------

struct server::impl {
  /// One HTTPS connection: keep-alive requests in order until it closes.
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
      stream.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
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
      http::async_read(
          stream, buffer, *parser,
          [self = shared_from_this()](error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(error_code ec) {
      if (ec || owner.stopping)
        return close();
      auto req = parser->release();
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
        oauth(cfg, std::chrono::system_clock::now(),
              static_cast<std::uint64_t>(steady::now().time_since_epoch().count())),
        market(cfg, static_cast<std::uint64_t>(steady::now().time_since_epoch().count()) ^
                        0x2545f4914f6cdd1dull),
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
  authorization_server oauth;
  book market;
  std::mt19937_64 random;
  std::set<std::shared_ptr<http_session>> sessions;
  stats counters;
  /// The app's admitted Trader API requests within the rate window.
  std::deque<steady::time_point> window;
  /// Until when the last Retry-After given to the app runs (for stats::early_retries).
  std::optional<steady::time_point> retry_until;
  std::uint32_t failures_pending = 0;
  unsigned failure_status = 503;
  std::uint32_t expiries_pending = 0;
  std::uint32_t locations_to_omit = 0;
  std::chrono::milliseconds response_delay{0};

  template <class F> auto call(F&& f) -> decltype(f()) { return runner.call(std::forward<F>(f)); }

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
      market.tick(std::chrono::system_clock::now());
      arm_tick(std::max(at + cfg.tick, steady::now()));
    });
  }

  // -- requests ------------------------------------------------------------------------------

  response make_response(const request& req, reply r) {
    response res{static_cast<http::status>(r.status), req.version()};
    for (auto& [name, value] : r.headers)
      res.set(name, value);
    if (!r.body.empty())
      res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(r.body);
    res.prepare_payload();
    if (res.result_int() == 401)
      ++counters.unauthorized;
    return res;
  }

  static std::string header(const request& req, http::field name) {
    auto it = req.find(name);
    return it == req.end() ? std::string{} : std::string{it->value()};
  }

  reply error(unsigned status, std::string_view detail, bool status_as_string = false) {
    return {status,
            errors_body(make_uuid(random), status, reason_of(status), detail, status_as_string),
            {}};
  }

  /// The app's sliding window: whether one more Trader API request arriving at `now` is
  /// admitted. A refusal carries Retry-After (unless configured off) and remembers until when
  /// it runs.
  bool admit(steady::time_point now, reply& limited) {
    while (!window.empty() && window.front() + cfg.rate_window <= now)
      window.pop_front();
    if (window.size() < cfg.requests_per_minute) {
      window.push_back(now);
      counters.max_in_any_minute =
          std::max(counters.max_in_any_minute, static_cast<std::uint32_t>(window.size()));
      return true;
    }
    auto until_free = window.front() + cfg.rate_window - now;
    auto wait =
        std::max<std::int64_t>(std::chrono::ceil<std::chrono::seconds>(until_free).count(), 1);
    if (cfg.retry_after)
      limited.headers.emplace_back("Retry-After", std::to_string(wait));
    auto until = now + std::chrono::seconds{wait};
    retry_until = retry_until ? std::max(*retry_until, until) : until;
    return false;
  }

  response handle(const request& req) {
    ++counters.requests;
    if (failures_pending > 0) {
      --failures_pending;
      return make_response(req, error(failure_status, "The service is temporarily unavailable"));
    }
    std::string_view target{req.target().data(), req.target().size()};
    auto qmark = target.find('?');
    auto path = target.substr(0, qmark);
    auto query =
        parse_form(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
    if (!query)
      return make_response(req, error(400, "The query string is not url-encoded"));
    auto method = req.method();
    auto now = std::chrono::system_clock::now();
    auto not_allowed = [&] { return make_response(req, error(405, "Method not allowed")); };

    if (path == "/v1/oauth/authorize")
      return method == http::verb::get ? make_response(req, oauth.authorize(*query, now))
                                       : not_allowed();
    if (path == "/v1/oauth/token") {
      if (method != http::verb::post)
        return not_allowed();
      auto r = oauth.token(header(req, http::field::authorization), req.body(), now);
      r.headers.emplace_back("Cache-Control", "no-store");
      return make_response(req, std::move(r));
    }
    if (!path.starts_with("/trader/v1/"))
      return make_response(req, error(404, "Not found"));

    auto granted = oauth.check(header(req, http::field::authorization), now);
    if (granted == access::granted && expiries_pending > 0) {
      --expiries_pending;
      granted = access::expired;
    }
    if (granted != access::granted)
      return make_response(req, error(401, "Client not authorized"));
    auto arrived = steady::now();
    if (retry_until && arrived < *retry_until)
      ++counters.early_retries;
    auto limited = error(429, "Too many requests: the limit is " +
                                  std::to_string(cfg.requests_per_minute) + " per minute");
    if (!admit(arrived, limited)) {
      ++counters.rate_limited;
      return make_response(req, std::move(limited));
    }
    return make_response(req, route(req, path, *query, now));
  }

  /// The Trader API behind the bearer check and the rate window.
  reply route(const request& req, std::string_view path, const form_fields& query,
              std::chrono::system_clock::time_point now) {
    auto method = req.method();
    auto parts = segments(path.substr(std::string_view{"/trader/v1/"}.size()));
    auto not_allowed = [&] { return error(405, "Method not allowed"); };
    if (parts.size() == 1 && parts[0] == "orders")
      return method == http::verb::get ? market.orders(std::nullopt, query, now) : not_allowed();
    if (parts.empty() || parts[0] != "accounts")
      return error(404, "Not found");
    // /trader/v1/accounts and /trader/v1/accounts/ (schwab-client-js asks for the latter).
    if (parts.size() == 1 || (parts.size() == 2 && parts[1].empty()))
      return method == http::verb::get ? market.accounts(wants_positions(query)) : not_allowed();
    auto hash = parts[1];
    if (parts.size() == 2) {
      if (method != http::verb::get)
        return not_allowed();
      if (hash == "accountNumbers")
        return market.account_numbers();
      return market.account(hash, wants_positions(query));
    }
    if (parts[2] != "orders" || parts.size() > 4)
      return error(404, "Not found");
    if (parts.size() == 3) {
      if (method == http::verb::get)
        return market.orders(hash, query, now);
      if (method != http::verb::post)
        return not_allowed();
      auto r = market.create(hash, req.body(), now);
      if (r.status == 201)
        finish_create(req, r);
      return r;
    }
    auto id = parts[3];
    if (method == http::verb::get)
      return market.order(hash, id);
    if (method == http::verb::delete_)
      return market.cancel(hash, id);
    if (method == http::verb::put)
      return error(405, "Replacing orders is not simulated");
    return not_allowed();
  }

  /// Makes the book's Location path absolute (§3.3), or drops it for omit_location.
  void finish_create(const request& req, reply& r) {
    ++counters.orders_created;
    for (auto it = r.headers.begin(); it != r.headers.end(); ++it) {
      if (it->first != "Location")
        continue;
      if (locations_to_omit > 0) {
        --locations_to_omit;
        r.headers.erase(it);
        return;
      }
      auto origin = cfg.location_origin;
      if (origin.empty()) {
        auto host = header(req, http::field::host);
        origin = "https://" + (host.empty() ? cfg.bind + ":" + std::to_string(bound_port) : host);
      }
      it->second = origin + it->second;
      return;
    }
  }

  // -- shutdown ------------------------------------------------------------------------------

  void shutdown() {
    stopping = true;
    error_code ignored;
    acceptor.close(ignored);
    tick_timer.cancel();
    for (const auto& s : std::set{sessions})
      s->close();
  }

  [[nodiscard]] stats snapshot() const {
    stats s = counters;
    s.creates_by_fingerprint = market.creates_by_fingerprint();
    s.token_grants = oauth.grants();
    s.token_refusals = oauth.refusals();
    s.refresh_tokens_issued = oauth.refresh_tokens_issued();
    s.codes_issued = oauth.codes_issued();
    return s;
  }
};

// -- server --------------------------------------------------------------------------------------

std::expected<std::unique_ptr<server>, std::string> server::start(config cfg) {
  if (auto bad = validate(cfg))
    return std::unexpected("schwab simulator: " + *bad);
  bool temporary = cfg.tls_dir.empty();
  if (temporary) {
    auto dir = make_temporary_tls_dir("schwab");
    if (!dir)
      return std::unexpected("schwab simulator: " + dir.error());
    cfg.tls_dir = *dir;
  }
  auto identity = make_tls_identity(cfg.tls_dir);
  if (!identity) {
    if (temporary) {
      std::error_code ignored;
      std::filesystem::remove_all(cfg.tls_dir, ignored);
    }
    return std::unexpected("schwab simulator: " + identity.error());
  }
  auto p = std::make_unique<impl>(std::move(cfg));
  p->temporary_tls_dir = temporary;
  p->ca = identity->ca_file;
  // From here on the destructor of `server` owns the cleanup of a temporary directory.
  std::unique_ptr<server> s{new server{std::move(p)}};
  auto& q = *s->impl_;
  if (auto loaded = use_tls_identity(q.ssl_ctx, *identity); !loaded)
    return std::unexpected("schwab simulator: " + loaded.error());
  if (auto listening = io_thread::listen(q.acceptor, q.cfg.bind, q.cfg.port, "schwab simulator");
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

std::string server::account_hash() const {
  return impl_->call([this] { return impl_->market.account_hash(); });
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

void server::revoke_refresh_tokens() {
  impl_->call([&] { impl_->oauth.revoke_refresh_tokens(); });
}

void server::expire_access_tokens(std::uint32_t next_n) {
  impl_->call([&] { impl_->expiries_pending = next_n; });
}

void server::expire_all_access_tokens() {
  impl_->call([&] { impl_->oauth.expire_access_tokens(std::chrono::system_clock::now()); });
}

void server::omit_location(std::uint32_t next_n) {
  impl_->call([&] { impl_->locations_to_omit = next_n; });
}

void server::fail_next(std::uint32_t n, unsigned status) {
  impl_->call([&] {
    impl_->failures_pending = n;
    impl_->failure_status = status;
  });
}

void server::delay_responses(std::chrono::milliseconds d) {
  impl_->call([&] { impl_->response_delay = std::max(d, std::chrono::milliseconds::zero()); });
}

} // namespace brokerd::sim::schwab
