#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

namespace brokerd::test {

/// Polls `predicate` every `poll_interval` until it returns true (→ true) or `timeout` has
/// passed (→ false, after one last check). The bounded replacement for a bare sleep.
template <class Predicate>
bool wait_until(Predicate&& predicate, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll_interval = std::chrono::milliseconds{10}) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (predicate())
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(poll_interval);
  }
}

/// True once a TCP connection to 127.0.0.1:`port` succeeds within `timeout`.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout);

/// A port that was free on 127.0.0.1 a moment ago (bound to port 0, read, closed). Another
/// process may take it before the caller binds it. Throws std::runtime_error on failure.
std::uint16_t free_port();

/// A loopback port held bound but never listening: a connection to it is refused for as long
/// as this object lives, and no other process can take the port meanwhile (unlike a port that
/// was merely free a moment ago).
class refusing_port {
public:
  refusing_port();
  ~refusing_port();
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;

  std::uint16_t port() const noexcept { return port_; }

private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

} // namespace brokerd::test
