#include "tests/unit/sim/support/tws_test_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace brokerd::test::tws {

client::client(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    auto why = std::string{"connect: "} + std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error(why);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

client::~client() {
  if (fd_ >= 0)
    ::close(fd_);
}

void client::send_bytes(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      closed_ = true;
      return;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void client::send_hello(std::int32_t min_version, std::int32_t max_version) {
  // Built by hand: the codec's encoder refuses ranges a brokerd client never offers.
  std::string version = "v" + std::to_string(min_version) + ".." + std::to_string(max_version);
  std::string bytes{"API\0", 4};
  auto n = static_cast<std::uint32_t>(version.size());
  bytes += static_cast<char>((n >> 24) & 0xFF);
  bytes += static_cast<char>((n >> 16) & 0xFF);
  bytes += static_cast<char>((n >> 8) & 0xFF);
  bytes += static_cast<char>(n & 0xFF);
  bytes += version;
  send_bytes(bytes);
}

std::optional<ibkr::server_hello> client::read_server_hello(milliseconds timeout) {
  auto payload = next_payload(timeout);
  if (!payload)
    return std::nullopt;
  auto hello = ibkr::server_hello::decode(*payload);
  if (!hello) {
    decode_errors_.push_back(hello.error().to_string());
    return std::nullopt;
  }
  version_ = hello->server_version;
  return *hello;
}

std::optional<std::int32_t> client::handshake(std::int32_t client_id, std::int32_t max_version) {
  send_hello(100, max_version);
  auto hello = read_server_hello();
  if (!hello)
    return std::nullopt;
  send(ibkr::start_api{client_id, ""});
  return hello->server_version;
}

std::optional<std::int32_t> client::connect_api(std::int32_t client_id) {
  if (!handshake(client_id))
    return std::nullopt;
  auto id = expect<ibkr::next_valid_id>();
  if (!id || !expect_error(2158))
    return std::nullopt;
  return id->order_id;
}

void client::send(const ibkr::client_message& m) {
  auto frame = ibkr::encode(m, version_);
  if (!frame)
    throw std::runtime_error("test client cannot encode: " + frame.error().to_string());
  send_bytes(*frame);
}

void client::send_fields(const std::vector<std::string>& fields) {
  std::string payload;
  for (const auto& f : fields) {
    payload += f;
    payload += '\0';
  }
  auto frame = ibkr::make_frame(payload);
  if (!frame)
    throw std::runtime_error("test client cannot frame: " + frame.error().to_string());
  send_bytes(*frame);
}

std::optional<std::string> client::next_payload(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    while (!pending_.empty() || frames_.frame_ready()) {
      if (frames_.frame_ready()) {
        std::string payload{frames_.frame_payload()};
        frames_.next_frame();
        return payload;
      }
      auto used = frames_.consume(pending_);
      if (!used) {
        decode_errors_.push_back("framing: " + used.error().to_string());
        closed_ = true;
        return std::nullopt;
      }
      pending_.erase(0, *used);
    }
    if (closed_)
      return std::nullopt;
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0)
      return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready == 0)
      return std::nullopt;
    if (ready < 0) {
      if (errno == EINTR)
        continue;
      closed_ = true;
      return std::nullopt;
    }
    char buf[16 * 1024];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      closed_ = true;
      return std::nullopt;
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

std::optional<ibkr::server_message> client::next(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    auto payload = next_payload(std::max(left, milliseconds{0}));
    if (!payload)
      return std::nullopt;
    auto m = ibkr::decode_server_message(*payload, version_);
    if (m)
      return std::move(*m);
    decode_errors_.push_back(m.error().to_string());
  }
}

std::optional<ibkr::error_message>
client::expect_error(std::int32_t code, std::optional<std::int32_t> id, milliseconds timeout) {
  return expect<ibkr::error_message>(
      [&](const ibkr::error_message& e) { return e.code == code && (!id || e.request_id == *id); },
      timeout);
}

std::optional<ibkr::order_status>
client::expect_status(std::int32_t order_id, std::string_view status, milliseconds timeout) {
  return expect<ibkr::order_status>(
      [&](const ibkr::order_status& s) { return s.order_id == order_id && s.status == status; },
      timeout);
}

std::vector<ibkr::server_message> client::drain(milliseconds quiet, milliseconds limit) {
  std::vector<ibkr::server_message> out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = next(quiet);
    if (!m)
      break;
    out.push_back(std::move(*m));
  }
  return out;
}

bool client::wait_closed(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    next_payload(left);
  }
  return true;
}

ibkr::place_order stock_order(std::int32_t order_id, std::string symbol, std::string action,
                              std::string quantity, std::string type,
                              std::optional<std::string> limit, std::optional<std::string> stop,
                              std::string tif, std::string order_ref) {
  ibkr::place_order o;
  o.order_id = order_id;
  o.instrument.symbol = std::move(symbol);
  o.instrument.sec_type = "STK";
  o.instrument.exchange = "SMART";
  o.instrument.currency = "USD";
  o.action = std::move(action);
  o.total_quantity = dec(quantity);
  o.order_type = std::move(type);
  if (limit)
    o.limit_price = dec(*limit);
  if (stop)
    o.aux_price = dec(*stop);
  o.tif = std::move(tif);
  o.order_ref = std::move(order_ref);
  return o;
}

engine::decimal dec(std::string_view text) {
  auto d = engine::decimal::parse(text);
  if (!d)
    throw std::invalid_argument("bad decimal in a test: " + std::string{text});
  return *d;
}

} // namespace brokerd::test::tws
