#pragma once

// Shared pieces of the actors layer's tests: temporary databases, bounded waits, blocking
// calls with finite timeouts, order builders and a running core (event log, router, paper
// connections) on real scheduler threads.

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/brokers/paper/book.hpp"
#include "actors/messages.hpp"
#include "actors/order_router.hpp"
#include "actors/supervisor.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::actors::test_support {

/// How long a blocking call waits for its reply.
inline constexpr std::chrono::seconds reply_timeout{5};

/// How long `wait_until` polls before giving up.
inline constexpr std::chrono::milliseconds wait_bound{5'000};

/// A fresh directory under the system's temporary directory, removed with its contents on
/// destruction.
class temp_dir {
public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  /// The directory itself.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// A path inside the directory (not created).
  [[nodiscard]] std::filesystem::path sub(std::string_view name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

/// Registers brokerd's messages and keeps the scheduler small (real threads).
void configure_threaded(caf::actor_system_config& cfg);

/// Registers brokerd's messages and selects the deterministic scheduler with a virtual clock.
void configure_deterministic(caf::actor_system_config& cfg);

/// Opens an event log for writing at `dir`; throws when it cannot.
std::shared_ptr<persistence::event_log> open_log(const std::filesystem::path& dir,
                                                 persistence::wall_clock clock = {});

/// Opens a paper book at `dir`; throws when it cannot.
std::shared_ptr<paper::book> open_book(const std::filesystem::path& dir);

/// Every decodable event of the log, in sequence order (reads are safe next to the writer).
persistence::event_batch all_events(const persistence::event_log& log);

/// The decodable events of one order, in sequence order.
persistence::event_batch events_of(const persistence::event_log& log, const std::string& order_id);

/// The order.status events of a batch as "from>to" texts, in order.
std::vector<std::string> transitions(const persistence::event_batch& events);

/// Waits until the newest order.status event of order `order_id` in `log` moved it to `s`.
bool wait_for_logged_status(const persistence::event_log& log, const std::string& order_id,
                            engine::order_status s);

/// Polls `done` every few milliseconds until it holds or `bound` passed; returns its last
/// value.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds bound = wait_bound);

/// Parses a decimal literal of a test; throws on a typo.
engine::decimal dec(std::string_view text);

/// The brokerd error code of `err`, nullopt for other errors.
std::optional<errc> code_of(const caf::error& err);

/// The context text of a brokerd error (or the rendered error otherwise).
std::string message_of(const caf::error& err);

/// Sends a request and blocks for its reply, at most `reply_timeout`.
template <class T, class Handle, class... Ts>
std::expected<T, caf::error> call(caf::scoped_actor& self, const Handle& dest, Ts&&... xs) {
  std::expected<T, caf::error> out{std::unexpect, caf::make_error(caf::sec::request_timeout)};
  self->request(dest, reply_timeout, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out = std::move(x); },
               [&](caf::error& err) { out = std::unexpected(std::move(err)); });
  return out;
}

/// A market order of `user` on `connection` (the router fills in id and status).
engine::order market(const std::string& user, const std::string& connection,
                     const std::string& symbol, std::string_view quantity,
                     engine::side s = engine::side::buy);

/// A limit order.
engine::order limit(const std::string& user, const std::string& connection,
                    const std::string& symbol, std::string_view quantity,
                    std::string_view limit_price, engine::side s = engine::side::buy);

/// The settings of the paper connections in these tests: fast ticks, small fill chunks and
/// fixed price paths (AAPL 100; MSFT 50; LMT 100 then 90 every tenth tick; STP 100 then 110
/// every tenth tick).
std::vector<std::pair<std::string, std::string>> fast_paper_settings();

/// A running core of brokerd on real threads: the event log actor over `log`, the order
/// router, and paper connections attached to it. The destructor stops the connections
/// (which stops their sessions), the router and the log, then the actor system.
class core {
public:
  core(std::shared_ptr<persistence::event_log> log, std::shared_ptr<paper::book> book,
       std::vector<engine::order> initial = {}, router_config cfg = {});
  ~core();
  core(const core&) = delete;
  core& operator=(const core&) = delete;

  [[nodiscard]] caf::actor_system& system() noexcept { return *sys_; }
  [[nodiscard]] caf::scoped_actor& self() noexcept { return *self_; }
  [[nodiscard]] const caf::actor& router() const noexcept { return router_; }
  [[nodiscard]] const event_log_actor& log_actor() const noexcept { return log_actor_; }

  /// Starts the supervisor of a paper connection and attaches it to the router.
  caf::actor connect(const std::string& id, const std::string& user,
                     std::vector<std::pair<std::string, std::string>> settings,
                     supervisor_policy policy = {});

  /// Starts the supervisor of a connection whose sessions `factory` makes, and attaches it.
  caf::actor connect(const connection_spec& spec, session_factory factory,
                     supervisor_policy policy = {});

  std::expected<place_result, caf::error> place(engine::order o);
  std::expected<engine::order, caf::error> cancel(const std::string& user, const std::string& id);
  std::expected<engine::order, caf::error> get(const std::string& user, const std::string& id);
  std::expected<order_list, caf::error> list(const std::string& user,
                                             const std::string& connection);

private:
  std::shared_ptr<paper::book> book_;
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<caf::scoped_actor> self_;
  event_log_actor log_actor_;
  caf::actor router_;
  std::vector<caf::actor> supervisors_;
};

} // namespace brokerd::actors::test_support
