#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"

namespace brokerd::test {

/// Path of a program built by this tree (build/bin/NAME).
std::filesystem::path program(const std::string& name);

/// A `brokerd --demo` process on a free loopback port with its own data directory, for
/// integration tests. The destructor stops it like an operator would (SIGTERM, bounded), so a
/// coverage build records what it ran, and kills it (SIGKILL) if it does not stop in time.
class brokerd_instance {
public:
  /// Starts brokerd and waits (bounded) until its HTTP port answers /healthz.
  brokerd_instance(const std::filesystem::path& data_dir, std::vector<std::string> extra_args = {});
  ~brokerd_instance();
  brokerd_instance(const brokerd_instance&) = delete;
  brokerd_instance& operator=(const brokerd_instance&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  /// The admin token brokerd wrote to DATA_DIR/admin-token.
  [[nodiscard]] const std::string& token() const noexcept { return token_; }
  /// The id of the demo paper connection.
  [[nodiscard]] const std::string& connection() const noexcept { return connection_; }
  [[nodiscard]] child_process& process() noexcept { return *proc_; }
  /// Authorization header for the admin.
  [[nodiscard]] http_client::header_list auth() const;
  /// SIGTERM and wait (bounded) for the exit status.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds{30});

private:
  std::uint16_t port_ = 0;
  std::string token_;
  std::string connection_;
  std::unique_ptr<child_process> proc_;
};

/// Runs a program to completion (bounded) and returns its exit status and output.
struct run_result {
  int status = -1;
  std::string output;
};
run_result run_program(std::vector<std::string> argv, const std::filesystem::path& log_file,
                       std::chrono::milliseconds timeout = std::chrono::seconds{60});

} // namespace brokerd::test
