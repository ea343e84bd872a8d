#include "tools/sim/tws_server.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <variant>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop

#include "actors/brokers/ibkr/messages.hpp"
#include "actors/brokers/ibkr/wire.hpp"
#include "actors/logging.hpp"
#include "tools/sim/io_thread.hpp"
#include "tools/sim/tws_book.hpp"

namespace brokerd::sim::tws {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using steady = std::chrono::steady_clock;

namespace {

constexpr std::string_view log_component = "tws-sim";
/// Bytes queued for one slow client before the simulator gives up on it and closes the socket.
constexpr std::size_t max_queued_bytes = 32 * 1024 * 1024;
/// Timestamps kept for the pacing window of one connection; a flood beyond it is counted as
/// this many messages per second.
constexpr std::size_t max_window_entries = 1 << 20;
/// How long a closing connection keeps reading (and discarding) after its last message, so that
/// unread client bytes do not turn the close into a reset that destroys that message.
constexpr std::chrono::milliseconds linger_time{1000};

/// "YYYYMMDD HH:MM:SS UTC", the connection time of the server answer (§2.2).
std::string connection_time() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::array<char, 40> buf{};
  auto n = std::strftime(buf.data(), buf.size(), "%Y%m%d %H:%M:%S UTC", &tm);
  return std::string{buf.data(), n};
}

ibkr::error_message notice(std::int32_t id, std::int32_t code, std::string text) {
  ibkr::error_message e;
  e.request_id = id;
  e.code = code;
  e.message = std::move(text);
  return e;
}

/// The id a 320 answer carries: the orderId of a garbled placeOrder or cancelOrder when its
/// field 1 reads as one, -1 otherwise.
std::int32_t garbled_request_id(std::string_view payload) {
  ibkr::field_reader r{payload};
  auto id = r.read_int("msgId");
  if (!id || (*id != ibkr::place_order::id && *id != ibkr::cancel_order::id))
    return -1;
  if (*id == ibkr::cancel_order::id && !r.read_int("version"))
    return -1;
  auto order_id = r.read_int("orderId");
  return order_id ? *order_id : -1;
}

std::optional<std::string> validate(const config& cfg) {
  if (cfg.tick <= std::chrono::milliseconds::zero())
    return "tick must be positive";
  if (!cfg.fill_chunk.is_positive())
    return "fill_chunk must be positive";
  if (!cfg.cash.is_positive())
    return "cash must be positive";
  if (!cfg.default_price.is_positive())
    return "default_price must be positive";
  if (cfg.pacing_limit == 0)
    return "pacing_limit must be positive";
  if (cfg.account.empty() ||
      cfg.account.find_first_of(std::string_view{",\0", 2}) != std::string::npos)
    return "account must be one non-empty account code";
  for (const auto& [symbol, path] : cfg.paths) {
    if (path.empty())
      return "the price path of " + symbol + " is empty";
    for (auto p : path)
      if (!p.is_positive())
        return "the price path of " + symbol + " has a price that is not positive";
  }
  return std::nullopt;
}

} // namespace

// -- the io-thread state -------------------------------------------------------------------------

struct server::impl {
  struct connection;
  using connection_ptr = std::shared_ptr<connection>;

  /// One client socket. Everything here is touched on the io thread only (the single thread
  /// running `io` is the strand of every connection).
  struct connection : std::enable_shared_from_this<connection> {
    enum class state : std::uint8_t { open, closing, closed };

    connection(impl& o, tcp::socket s)
        : owner(o), socket(std::move(s)), linger_timer(o.io), delay_timer(o.io) {}

    impl& owner;
    tcp::socket socket;
    asio::steady_timer linger_timer;
    asio::steady_timer delay_timer;
    std::array<char, 16 * 1024> buffer{};
    state st = state::open;

    std::string hello_bytes;
    bool hello_done = false;
    std::int32_t version = 0;
    ibkr::frame_decoder frames;
    std::optional<std::int32_t> client_id;
    bool started = false;

    std::deque<std::string> out;
    std::size_t out_bytes = 0;
    bool writing = false;
    std::deque<std::pair<steady::time_point, std::string>> delayed;

    std::deque<steady::time_point> window;
    std::uint32_t violations = 0;

    struct summary_subscription {
      std::string tags;
      std::map<std::string, std::string> last;
    };
    std::map<std::int32_t, summary_subscription> summaries;
    bool positions = false;
    /// While reqAccountUpdates is subscribed: the updateAccountValue values last sent, by key.
    std::optional<std::map<std::string, std::string>> account_updates;
  };

  explicit impl(config c) : cfg(std::move(c)), market(cfg, std::chrono::system_clock::now()) {}

  // Declared first: destroyed last, after everything that refers to it.
  io_thread runner;
  asio::io_context& io = runner.context();
  config cfg;
  tcp::acceptor acceptor{io};
  asio::steady_timer tick_timer{io};
  std::uint16_t bound_port = 0;

  // io-thread state
  bool stopping = false;
  book market;
  std::set<connection_ptr> connections;
  std::map<std::int32_t, connection_ptr> by_client;
  stats counters;
  std::map<std::int32_t, client_stats> clients;
  bool refusing = false;
  std::uint32_t in_use_pending = 0;
  std::chrono::milliseconds status_delay{0};
  bool duplicate_status = false;

  /// Runs `f` on the io thread and returns its result; runs it directly once stopped.
  template <class F> auto call(F&& f) -> decltype(f()) {
    return runner.call(std::forward<F>(f));
  }

  // -- accept --------------------------------------------------------------------------------

  void do_accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket s) { on_accept(ec, std::move(s)); });
  }

  void on_accept(error_code ec, tcp::socket s) {
    if (stopping)
      return;
    if (!ec) {
      if (refusing) {
        ++counters.connections_refused;
        error_code ignored;
        s.close(ignored);
      } else {
        ++counters.connections_accepted;
        error_code ignored;
        s.set_option(tcp::no_delay(true), ignored);
        auto c = std::make_shared<connection>(*this, std::move(s));
        connections.insert(c);
        do_read(c);
      }
    }
    do_accept();
  }

  // -- ticks ---------------------------------------------------------------------------------

  void arm_tick(steady::time_point at) {
    tick_timer.expires_at(at);
    tick_timer.async_wait([this, at](error_code ec) {
      if (ec || stopping)
        return;
      route(market.tick(std::chrono::system_clock::now()));
      after_executions();
      arm_tick(std::max(at + cfg.tick, steady::now()));
    });
  }

  // -- reading -------------------------------------------------------------------------------

  void do_read(const connection_ptr& c) {
    c->socket.async_read_some(asio::buffer(c->buffer),
                              [this, c](error_code ec, std::size_t n) { on_read(c, ec, n); });
  }

  void on_read(const connection_ptr& c, error_code ec, std::size_t n) {
    if (stopping || c->st == connection::state::closed)
      return;
    if (ec) {
      close(c);
      return;
    }
    if (c->st == connection::state::closing) { // lingering: discard
      do_read(c);
      return;
    }
    std::string_view data{c->buffer.data(), n};
    std::string after_hello;
    if (!c->hello_done) {
      c->hello_bytes.append(data);
      auto parsed = ibkr::client_hello::decode(c->hello_bytes);
      if (!parsed) {
        close(c); // not a TWS client: nothing to answer
        return;
      }
      if (!*parsed) {
        do_read(c);
        return;
      }
      auto version = ibkr::choose_server_version((*parsed)->hello);
      if (!version) {
        close(c); // no common version (§1: the simulator closes)
        return;
      }
      c->version = *version;
      c->hello_done = true;
      ibkr::server_hello answer{*version, connection_time()};
      if (auto frame = answer.encode())
        enqueue(c, std::move(*frame));
      after_hello = c->hello_bytes.substr((*parsed)->consumed);
      c->hello_bytes.clear();
      data = after_hello;
    }
    auto fed = c->frames.feed(data, [&](std::string_view payload) {
      if (c->st == connection::state::open)
        on_payload(c, payload);
    });
    if (!fed) {
      close(c); // framing error: the stream cannot be resynchronized
      return;
    }
    if (c->st != connection::state::closed)
      do_read(c);
  }

  // -- one inbound message -------------------------------------------------------------------

  void on_payload(const connection_ptr& c, std::string_view payload) {
    auto now = steady::now();
    ++counters.messages;
    auto& w = c->window;
    while (!w.empty() && w.front() <= now - std::chrono::seconds{1})
      w.pop_front();
    if (w.size() < max_window_entries)
      w.push_back(now);
    auto in_window = static_cast<std::uint32_t>(w.size());
    counters.max_in_any_second = std::max(counters.max_in_any_second, in_window);

    std::optional<ibkr::start_api> start;
    if (!c->started) {
      auto id = ibkr::message_id(payload);
      if (id && *id == ibkr::start_api::id) {
        auto decoded = ibkr::start_api::decode(payload, c->version);
        if (decoded) {
          start = std::move(*decoded);
          if (!c->client_id)
            c->client_id = start->client_id;
        }
      }
    }
    client_stats* per_client = nullptr;
    if (c->client_id) {
      per_client = &clients[*c->client_id];
      per_client->client_id = *c->client_id;
      ++per_client->messages;
      per_client->max_in_any_second = std::max(per_client->max_in_any_second, in_window);
    }

    if (in_window > cfg.pacing_limit) { // §7, §9.8: answered 100 and dropped
      ++counters.pacing_violations;
      ++c->violations;
      if (per_client)
        ++per_client->violations;
      send(c, notice(-1, 100,
                     "Max rate of messages per second has been exceeded:max=" +
                         std::to_string(cfg.pacing_limit) + " rec=" + std::to_string(in_window)));
      if (cfg.violations_before_disconnect != 0 &&
          c->violations >= cfg.violations_before_disconnect)
        close_gracefully(c);
      return;
    }

    if (!c->started) {
      if (start)
        on_start_api(c, *start);
      else if (auto id = ibkr::message_id(payload); id && *id == ibkr::start_api::id)
        answer_garbled(c, payload, "startApi could not be read");
      // Anything else before startApi is ignored, as TWS waits for startApi.
      return;
    }
    auto m = ibkr::decode_client_message(payload, c->version);
    if (!m) {
      answer_garbled(c, payload, m.error().to_string());
      return;
    }
    std::visit([&](const auto& msg) { on_message(c, msg); }, *m);
  }

  /// Error 320 (§4.4 "Malformed requests", §9.9): the connection stays open.
  void answer_garbled(const connection_ptr& c, std::string_view payload, const std::string& why) {
    ++counters.decode_errors;
    auto id = ibkr::message_id(payload);
    std::string text = "Error reading request. Message id " +
                       (id ? std::to_string(*id) : std::string{"?"}) + ". Unable to parse data. " +
                       why;
    send(c, notice(garbled_request_id(payload), 320, std::move(text)));
  }

  void on_start_api(const connection_ptr& c, const ibkr::start_api& m) {
    bool taken = false;
    if (in_use_pending > 0) {
      --in_use_pending;
      taken = true;
    } else if (auto it = by_client.find(m.client_id);
               it != by_client.end() && it->second->st == connection::state::open) {
      taken = true;
    }
    if (taken) { // §2.5, §9.2
      send(c, notice(-1, 326,
                     "Unable to connect as the client id is already in use. Retry with a unique "
                     "client id."));
      close_gracefully(c);
      return;
    }
    c->started = true;
    by_client[m.client_id] = c;
    // What a real gateway sends after startApi: managedAccounts, nextValidId, then farm notices.
    send(c, ibkr::managed_accounts{cfg.account});
    send(c, ibkr::next_valid_id{market.next_valid_id(m.client_id)});
    send(c, notice(-1, 2104, "Market data farm connection is OK:usfarm"));
    send(c, notice(-1, 2106, "HMDS data farm connection is OK:ushmds"));
    send(c, notice(-1, 2158, "Sec-def data farm connection is OK:secdefnj"));
  }

  void on_message(const connection_ptr&, const ibkr::start_api&) {
    // A second startApi on a started connection changes nothing.
  }

  void on_message(const connection_ptr& c, const ibkr::req_ids&) {
    send(c, ibkr::next_valid_id{market.next_valid_id(*c->client_id)});
  }

  void on_message(const connection_ptr& c, const ibkr::req_current_time&) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    send(c, ibkr::current_time{std::chrono::duration_cast<std::chrono::seconds>(now).count()});
  }

  void on_message(const connection_ptr& c, const ibkr::req_account_summary& m) {
    if (!c->summaries.contains(m.req_id) && c->summaries.size() >= cfg.account_summary_limit) {
      send(c, notice(m.req_id, 322,
                     "Error processing request.-'bN' : cause - Maximum number of account "
                     "summary requests exceeded"));
      return;
    }
    auto& sub = c->summaries[m.req_id];
    sub.tags = m.tags;
    sub.last.clear();
    for (auto& msg : market.account_summary(m.req_id, m.tags)) {
      if (auto* row = std::get_if<ibkr::account_summary>(&msg))
        sub.last[row->tag] = row->value;
      send(c, msg);
    }
  }

  void on_message(const connection_ptr& c, const ibkr::cancel_account_summary& m) {
    c->summaries.erase(m.req_id);
  }

  void on_message(const connection_ptr& c, const ibkr::req_positions&) {
    c->positions = true;
    for (auto& msg : market.positions())
      send(c, msg);
  }

  void on_message(const connection_ptr& c, const ibkr::cancel_positions&) { c->positions = false; }

  /// One account at a time: a new subscription restarts the download. The login's account or
  /// an empty code subscribes; another code is answered 321 "Invalid account code" as TWS does
  /// (its request id -1 is unverified) and leaves the subscription as it was.
  void on_message(const connection_ptr& c, const ibkr::req_account_updates& m) {
    if (!m.subscribe) {
      c->account_updates.reset();
      return;
    }
    if (!m.account.empty() && m.account != cfg.account) {
      send(c, notice(-1, 321,
                     "Error validating request.-'bh' : cause - Invalid account code '" + m.account +
                         "'."));
      return;
    }
    auto& last = c->account_updates.emplace();
    for (auto& msg : market.account_updates(std::chrono::system_clock::now())) {
      if (auto* row = std::get_if<ibkr::update_account_value>(&msg))
        last[row->key] = row->value;
      send(c, msg);
    }
  }

  void on_message(const connection_ptr& c, const ibkr::place_order& m) {
    route(market.place(*c->client_id, m));
  }

  void on_message(const connection_ptr& c, const ibkr::cancel_order& m) {
    route(market.cancel(*c->client_id, m.order_id));
  }

  void on_message(const connection_ptr& c, const ibkr::req_open_orders&) {
    for (auto& msg : market.open_orders(*c->client_id))
      send(c, msg);
    send(c, ibkr::open_order_end{});
  }

  void on_message(const connection_ptr& c, const ibkr::req_all_open_orders&) {
    for (auto& msg : market.open_orders(std::nullopt))
      send(c, msg);
    send(c, ibkr::open_order_end{});
  }

  void on_message(const connection_ptr& c, const ibkr::req_executions& m) {
    for (auto& msg : market.executions(m))
      send(c, msg);
  }

  // -- outbound ------------------------------------------------------------------------------

  /// Sends each delivery to the connection of its client id, if one is started.
  void route(const deliveries& ds) {
    for (const auto& d : ds) {
      auto it = by_client.find(d.client_id);
      if (it != by_client.end() && it->second->st == connection::state::open)
        send(it->second, d.message);
    }
  }

  /// Live position rows, account-updates rows and changed account-summary values after
  /// executions (§4.2, §4.3).
  void after_executions() {
    auto changed = market.take_changed_symbols();
    if (changed.empty())
      return;
    for (const auto& c : connections) {
      if (!c->started || c->st != connection::state::open)
        continue;
      if (c->positions)
        for (const auto& symbol : changed)
          send(c, market.position_of(symbol));
      if (c->account_updates)
        send_account_changes(c, changed);
      for (auto& [req_id, sub] : c->summaries) {
        bool any = false;
        for (auto& msg : market.account_summary(req_id, sub.tags)) {
          auto* row = std::get_if<ibkr::account_summary>(&msg);
          if (row) {
            auto& last = sub.last[row->tag];
            if (last == row->value)
              continue;
            last = row->value;
            any = true;
          } else if (!any) {
            continue; // nothing changed: no accountSummaryEnd either
          }
          send(c, msg);
        }
      }
    }
  }

  /// While reqAccountUpdates is subscribed: updatePortfolio for every position in `changed`
  /// (closed ones at 0), the updateAccountValue rows whose value changed, then
  /// updateAccountTime. No accountDownloadEnd: that ends the first download only.
  void send_account_changes(const connection_ptr& c, const std::set<std::string>& changed) {
    auto& last = *c->account_updates;
    for (const auto& symbol : changed)
      send(c, market.portfolio_of(symbol));
    for (auto& row : market.account_values()) {
      auto& value = last[row.key];
      if (value == row.value)
        continue;
      value = row.value;
      send(c, row);
    }
    send(c, ibkr::update_account_time{format_account_time(std::chrono::system_clock::now())});
  }

  void send(const connection_ptr& c, const ibkr::server_message& m) {
    if (c->st != connection::state::open && c->st != connection::state::closing)
      return;
    auto frame = ibkr::encode(m, c->version);
    if (!frame) {
      actors::log::warn(log_component, "cannot encode a message: " + frame.error().to_string());
      return;
    }
    if (std::holds_alternative<ibkr::order_status>(m)) {
      int copies = duplicate_status ? 2 : 1;
      for (int i = 0; i < copies; ++i) {
        if (status_delay > std::chrono::milliseconds::zero()) {
          bool idle = c->delayed.empty();
          c->delayed.emplace_back(steady::now() + status_delay, *frame);
          if (idle)
            arm_delay(c);
        } else {
          enqueue(c, *frame);
        }
      }
      return;
    }
    enqueue(c, std::move(*frame));
  }

  void arm_delay(const connection_ptr& c) {
    c->delay_timer.expires_at(c->delayed.front().first);
    c->delay_timer.async_wait([this, c](error_code ec) {
      if (ec || stopping || c->st == connection::state::closed)
        return;
      auto now = steady::now();
      while (!c->delayed.empty() && c->delayed.front().first <= now) {
        enqueue(c, std::move(c->delayed.front().second));
        c->delayed.pop_front();
      }
      if (!c->delayed.empty())
        arm_delay(c);
    });
  }

  void enqueue(const connection_ptr& c, std::string frame) {
    if (c->st == connection::state::closed)
      return;
    if (c->out_bytes + frame.size() > max_queued_bytes) {
      actors::log::warn(log_component, "a client does not read its messages: closing it");
      close(c);
      return;
    }
    c->out_bytes += frame.size();
    c->out.push_back(std::move(frame));
    if (!c->writing)
      do_write(c);
  }

  void do_write(const connection_ptr& c) {
    c->writing = true;
    asio::async_write(c->socket, asio::buffer(c->out.front()),
                      [this, c](error_code ec, std::size_t) { on_write(c, ec); });
  }

  void on_write(const connection_ptr& c, error_code ec) {
    c->writing = false;
    if (stopping || c->st == connection::state::closed)
      return;
    if (ec) {
      close(c);
      return;
    }
    c->out_bytes -= c->out.front().size();
    c->out.pop_front();
    if (!c->out.empty())
      do_write(c);
    else if (c->st == connection::state::closing)
      finish_graceful(c);
  }

  // -- closing -------------------------------------------------------------------------------

  void unregister(const connection_ptr& c) {
    if (c->client_id) {
      auto it = by_client.find(*c->client_id);
      if (it != by_client.end() && it->second == c)
        by_client.erase(it);
    }
  }

  /// Stops serving `c`, flushes what is queued, half-closes and lingers (326, pacing).
  void close_gracefully(const connection_ptr& c) {
    if (c->st != connection::state::open)
      return;
    c->st = connection::state::closing;
    unregister(c);
    c->delayed.clear();
    c->delay_timer.cancel();
    if (!c->writing && c->out.empty())
      finish_graceful(c);
  }

  void finish_graceful(const connection_ptr& c) {
    error_code ignored;
    c->socket.shutdown(tcp::socket::shutdown_send, ignored);
    c->linger_timer.expires_after(linger_time);
    c->linger_timer.async_wait([this, c](error_code ec) {
      if (!ec)
        close(c);
    });
  }

  /// Closes `c` at once. With `reset`, the peer gets a TCP reset instead of an orderly close.
  void close(const connection_ptr& c, bool reset = false) {
    if (c->st == connection::state::closed)
      return;
    c->st = connection::state::closed;
    unregister(c);
    error_code ignored;
    if (reset)
      c->socket.set_option(asio::socket_base::linger(true, 0), ignored);
    c->socket.close(ignored);
    c->linger_timer.cancel();
    c->delay_timer.cancel();
    c->delayed.clear();
    c->out.clear();
    c->out_bytes = 0;
    connections.erase(c);
  }

  void close_all(bool reset) {
    auto all = connections; // close() erases from the set
    for (const auto& c : all)
      close(c, reset);
  }

  void shutdown() {
    stopping = true;
    error_code ignored;
    acceptor.close(ignored);
    tick_timer.cancel();
    close_all(true);
    by_client.clear();
  }

  [[nodiscard]] stats snapshot() const {
    stats s = counters;
    s.orders_placed = market.orders_placed();
    s.duplicate_order_ids = market.duplicate_order_ids();
    s.placements_by_order_ref = market.placements_by_order_ref();
    for (const auto& [id, cs] : clients)
      s.clients.push_back(cs);
    return s;
  }
};

// -- server --------------------------------------------------------------------------------------

std::expected<std::unique_ptr<server>, std::string> server::start(config cfg) {
  if (auto bad = validate(cfg))
    return std::unexpected("tws simulator: " + *bad);
  auto p = std::make_unique<impl>(std::move(cfg));
  if (auto listening = io_thread::listen(p->acceptor, p->cfg.bind, p->cfg.port, "tws simulator");
      !listening)
    return std::unexpected(listening.error());
  p->bound_port = p->acceptor.local_endpoint().port();
  p->do_accept();
  p->arm_tick(steady::now() + p->cfg.tick);
  p->runner.start();
  return std::unique_ptr<server>{new server{std::move(p)}};
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() {
  stop();
}

std::uint16_t server::port() const {
  return impl_->bound_port;
}

void server::stop() {
  auto& p = *impl_;
  p.runner.stop([&p] { p.shutdown(); });
}

stats server::statistics() const {
  return impl_->call([this] { return impl_->snapshot(); });
}

std::vector<order_view> server::orders() const {
  return impl_->call([this] { return impl_->market.orders(); });
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

void server::drop_connections() {
  impl_->call([&] {
    if (!impl_->stopping)
      impl_->close_all(true);
  });
}

void server::refuse_connections(bool on) {
  impl_->call([&] { impl_->refusing = on; });
}

void server::send_notice(std::int32_t code, std::string text) {
  impl_->call([&] {
    for (const auto& [id, c] : impl_->by_client)
      if (c->st == impl::connection::state::open)
        impl_->send(c, notice(-1, code, text));
  });
}

void server::client_id_in_use(std::uint32_t next_n) {
  impl_->call([&] { impl_->in_use_pending = next_n; });
}

void server::delay_order_status(std::chrono::milliseconds d) {
  impl_->call([&] { impl_->status_delay = std::max(d, std::chrono::milliseconds::zero()); });
}

void server::duplicate_order_status(bool on) {
  impl_->call([&] { impl_->duplicate_status = on; });
}

void server::fill_now(std::int32_t order_id, engine::decimal quantity, engine::decimal price) {
  impl_->call([&] {
    if (impl_->stopping)
      return;
    impl_->route(
        impl_->market.fill_now(order_id, quantity, price, std::chrono::system_clock::now()));
    impl_->after_executions();
  });
}

void server::rollback_next_valid_id(std::int32_t client_id, std::int32_t next) {
  impl_->call([&] { impl_->market.rollback_next_valid_id(client_id, next); });
}

} // namespace brokerd::sim::tws
