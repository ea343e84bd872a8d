#pragma once

// A broker session under test on its own: an actor system, a scoped actor that is both the
// session's supervisor and its sink, and an Asio thread for its sockets. Header-only (it needs
// CAF and the actors library, which brokerd_test_support does not link).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <caf/all.hpp>

#include "actors/messages.hpp"

namespace brokerd::test {

class session_harness {
public:
  session_harness() {
    cfg_.add_message_types<caf::id_block::brokerd>();
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    self_ = std::make_unique<caf::scoped_actor>(*sys_);
    io_thread_ = std::thread{[this] { io_.run(); }};
  }

  /// Stops every session first, then the actor system, then the Asio thread.
  virtual ~session_harness() {
    stop_sessions();
    self_.reset();
    sys_.reset();
    guard_.reset();
    io_.stop();
    io_thread_.join();
  }

  session_harness(const session_harness&) = delete;
  session_harness& operator=(const session_harness&) = delete;

  [[nodiscard]] caf::actor_system& system() { return *sys_; }
  [[nodiscard]] caf::scoped_actor& self() { return *self_; }
  [[nodiscard]] boost::asio::io_context& io() { return io_; }
  /// The scoped actor as a plain handle: the session's supervisor and sink.
  [[nodiscard]] caf::actor me() { return caf::actor_cast<caf::actor>(*self_); }

  /// Tells every adopted session to stop (a subclass calls it before stopping what the sessions
  /// use, e.g. an event log).
  void stop_sessions() {
    for (auto& s : sessions_)
      (*self_)->send_exit(s, caf::exit_reason::user_shutdown);
    sessions_.clear();
  }

  /// Keeps `s` to stop it when the harness ends; returns it.
  actors::broker_session_actor adopt(actors::broker_session_actor s) {
    sessions_.push_back(s);
    return s;
  }

  /// Waits for the session to report `want`; returns its reason. Order updates that arrive
  /// meanwhile are kept for `wait_update`.
  std::optional<std::string> wait_state(actors::connection_state want,
                                        std::chrono::milliseconds limit = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + limit;
    std::optional<std::string> out;
    while (!out && std::chrono::steady_clock::now() < until)
      (*self_)->receive(
          [&](actors::state_atom, actors::connection_state s, std::string& reason) {
            states.emplace_back(s, reason);
            if (s == want)
              out = reason;
          },
          [&](actors::update_atom, std::string&, actors::order_update& u) {
            updates.push_back(std::move(u));
          },
          caf::after(std::chrono::milliseconds{50}) >> [] {});
    return out;
  }

  /// Waits for an update of `client_order_id` with status `want` (kept ones first).
  std::optional<actors::order_update>
  wait_update(const std::string& client_order_id, engine::order_status want,
              std::chrono::milliseconds limit = std::chrono::seconds{10}) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (const auto& u : updates)
      if (u.client_order_id == client_order_id && u.status == want)
        return u;
    std::optional<actors::order_update> out;
    while (!out && std::chrono::steady_clock::now() < until)
      (*self_)->receive(
          [&](actors::update_atom, std::string&, actors::order_update& u) {
            updates.push_back(u);
            if (u.client_order_id == client_order_id && u.status == want)
              out = u;
          },
          [&](actors::state_atom, actors::connection_state s, std::string& reason) {
            states.emplace_back(s, reason);
          },
          caf::after(std::chrono::milliseconds{50}) >> [] {});
    return out;
  }

  /// Collects every update and state report for `d`.
  void drain_for(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until)
      (*self_)->receive(
          [&](actors::update_atom, std::string&, actors::order_update& u) {
            updates.push_back(std::move(u));
          },
          [&](actors::state_atom, actors::connection_state s, std::string& reason) {
            states.emplace_back(s, reason);
          },
          caf::after(std::chrono::milliseconds{20}) >> [] {});
  }

  /// Asks the session and waits (bounded) for the answer.
  template <class T, class... Ts>
  caf::expected<T> ask(const actors::broker_session_actor& s, Ts&&... xs) {
    caf::expected<T> out{caf::error{}};
    (*self_)->request(s, std::chrono::seconds{20}, std::forward<Ts>(xs)...)
        .receive([&](T& value) { out = std::move(value); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  /// Waits (bounded) for the session to end and returns its exit reason.
  std::string wait_down(const actors::broker_session_actor& s,
                        std::chrono::milliseconds limit = std::chrono::seconds{15}) {
    (*self_)->monitor(s);
    std::string reason = "still running";
    auto until = std::chrono::steady_clock::now() + limit;
    bool down = false;
    while (!down && std::chrono::steady_clock::now() < until)
      (*self_)->receive(
          [&](caf::down_msg& dm) {
            reason = actors::describe(dm.reason).message;
            down = true;
          },
          [&](actors::state_atom, actors::connection_state st, std::string& why) {
            states.emplace_back(st, why);
          },
          [&](actors::update_atom, std::string&, actors::order_update& u) {
            updates.push_back(std::move(u));
          },
          caf::after(std::chrono::milliseconds{50}) >> [] {});
    return reason;
  }

  /// A new order with a fresh id and client order id.
  engine::order order(engine::broker_id broker, const std::string& connection,
                      engine::order_type type, engine::decimal quantity,
                      std::optional<engine::decimal> limit = {},
                      std::optional<engine::decimal> stop = {}) {
    engine::order o;
    o.id = "ord_" + std::to_string(next_order_);
    o.client_order_id = "cid-" + std::to_string(next_order_++);
    o.user = "usr_unit";
    o.connection = connection;
    o.broker = broker;
    o.symbol = "AAPL";
    o.quantity = quantity;
    o.type = type;
    o.limit_price = limit;
    o.stop_price = stop;
    return o;
  }

  /// Every update and state report received so far, in order.
  std::vector<actors::order_update> updates;
  std::vector<std::pair<actors::connection_state, std::string>> states;

private:
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<caf::scoped_actor> self_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_ =
      boost::asio::make_work_guard(io_);
  std::thread io_thread_;
  std::vector<actors::broker_session_actor> sessions_;
  int next_order_ = 1;
};

} // namespace brokerd::test
