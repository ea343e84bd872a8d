#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace brokerd::test {

/// A program started for a test, in its own process group, with stdin from /dev/null and
/// stdout and stderr both written to a log file. The destructor kills the whole group with
/// SIGKILL and reaps the child if it is still running, so a failing test never leaks one.
class child_process {
public:
  using env_list = std::vector<std::pair<std::string, std::string>>;

  /// Starts `argv[0]` (searched in PATH when it has no '/') with `argv`, the current
  /// environment plus `env` (which overrides variables of the same name), output to
  /// `log_file` (truncated). Throws std::runtime_error when it cannot be started.
  child_process(std::vector<std::string> argv, std::filesystem::path log_file, env_list env = {});
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }

  /// Sends `sig` to the child (not its group). Does nothing once the child has been reaped.
  void kill(int sig) const;

  /// Waits at most `timeout` for the child to exit, polling without blocking. Returns its exit
  /// code, or 128 + the signal number when a signal ended it; nullopt when still running.
  /// Once the child has exited every call returns the same value at once.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

  /// True until the child has exited (reaps it when it has).
  bool running();

  /// Everything the child has written to its log so far.
  [[nodiscard]] std::string output() const;

  [[nodiscard]] const std::filesystem::path& log_file() const noexcept { return log_; }

private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::optional<int> exit_;
};

} // namespace brokerd::test
