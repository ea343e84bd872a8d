#include "tests/support/wait.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace brokerd::test {

namespace {

/// A socket descriptor closed on scope exit.
struct socket_fd {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socket_fd() = default;
  ~socket_fd() {
    if (fd >= 0)
      ::close(fd);
  }
  socket_fd(const socket_fd&) = delete;
  socket_fd& operator=(const socket_fd&) = delete;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool try_connect(std::uint16_t port) {
  socket_fd s;
  if (s.fd < 0)
    return false;
  sockaddr_in addr = loopback(port);
  return ::connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

} // namespace

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout) {
  return wait_until([port] { return try_connect(port); }, timeout,
                    std::chrono::milliseconds{20});
}

std::uint16_t free_port() {
  socket_fd s;
  if (s.fd < 0)
    throw std::runtime_error(std::string{"free_port: socket: "} + std::strerror(errno));
  sockaddr_in addr = loopback(0);
  if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error(std::string{"free_port: bind: "} + std::strerror(errno));
  socklen_t len = sizeof addr;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string{"free_port: getsockname: "} + std::strerror(errno));
  return ntohs(addr.sin_port);
}

refusing_port::refusing_port() {
  socket_fd s;
  if (s.fd < 0)
    throw std::runtime_error(std::string{"refusing_port: socket: "} + std::strerror(errno));
  sockaddr_in addr = loopback(0);
  if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error(std::string{"refusing_port: bind: "} + std::strerror(errno));
  socklen_t len = sizeof addr;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    throw std::runtime_error(std::string{"refusing_port: getsockname: "} + std::strerror(errno));
  port_ = ntohs(addr.sin_port);
  std::swap(fd_, s.fd);
}

refusing_port::~refusing_port() {
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace brokerd::test
