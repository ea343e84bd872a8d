#pragma once

// The io thread every simulator runs on: one io_context and the thread that runs it, public
// calls marshalled onto it, the listening socket, and an orderly stop. Each simulator's state is
// touched on this thread only.

#include <cstdint>
#include <expected>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#pragma GCC diagnostic pop

namespace brokerd::sim {

class io_thread {
public:
  io_thread() = default;
  io_thread(const io_thread&) = delete;
  io_thread& operator=(const io_thread&) = delete;
  /// Joins the thread if `stop` was never called (the owner should call it first).
  ~io_thread();

  [[nodiscard]] boost::asio::io_context& context() noexcept { return io_; }

  /// Opens, binds (address reuse on) and listens `acceptor` on `bind`:`port`; the error names
  /// `who` and the address.
  static std::expected<void, std::string> listen(boost::asio::ip::tcp::acceptor& acceptor,
                                                 const std::string& bind, std::uint16_t port,
                                                 std::string_view who);

  /// Starts the thread running the context.
  void start();

  /// Runs `f` on the io thread and returns its result; runs it directly once stopped. Never
  /// call it from the io thread.
  template <class F> auto call(F&& f) -> decltype(f()) {
    using result = decltype(f());
    std::unique_lock lock{control_};
    if (!running_)
      return f();
    std::packaged_task<result()> task{std::forward<F>(f)};
    auto done = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return done.get();
  }

  /// Runs `shutdown` on the io thread, stops the context and joins the thread, then lets the
  /// cancelled handlers run once so every connection is released before the context goes.
  /// Idempotent.
  void stop(const std::function<void()>& shutdown);

private:
  boost::asio::io_context io_;
  std::thread thread_;
  /// Serializes the public calls with `stop`; never taken on the io thread.
  std::mutex control_;
  bool running_ = false;
};

} // namespace brokerd::sim
