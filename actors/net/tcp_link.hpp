#pragma once

// A TCP connection owned by an actor, bridged to Asio the way caf-017.md §9 describes: every
// socket call runs on the link's strand; the owner only posts (connect, write, close) and gets
// what happens as messages. The link holds the owner weakly, so a finished actor is simply not
// told anything and the link closes itself.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/all.hpp>

namespace boost::asio {
class io_context;
}

namespace brokerd::actors::net {

/// Messages a link sends its owner:
///  - (net_up_atom, link id): connected;
///  - (net_data_atom, link id, bytes): bytes read, in order;
///  - (net_down_atom, link id, reason): the connection failed or closed (sent once; nothing
///    follows). A link closed by its owner sends nothing.
/// The link id tells apart an old link's last messages from a new one's.
class tcp_link {
public:
  /// Creates an unconnected link whose events go to `owner`.
  static std::shared_ptr<tcp_link> create(boost::asio::io_context& io, caf::actor owner,
                                          std::uint64_t id);
  virtual ~tcp_link() = default;

  /// Resolves `host` (numeric addresses and names) and connects; `timeout` bounds resolving
  /// and connecting together. Reading starts once connected.
  virtual void connect(std::string host, std::uint16_t port, std::chrono::milliseconds timeout) = 0;
  /// Queues `bytes` for writing, after everything queued before.
  virtual void write(std::string bytes) = 0;
  /// Closes the socket; pending writes are dropped and the owner hears nothing more.
  virtual void close() = 0;
  /// Bytes written to the socket so far (for metrics and tests).
  [[nodiscard]] virtual std::uint64_t bytes_written() const noexcept = 0;
};

} // namespace brokerd::actors::net
