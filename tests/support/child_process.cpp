#include "tests/support/child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>

#include "tests/support/files.hpp"

extern char** environ;

namespace brokerd::test {

namespace {

/// Closes the posix_spawn attribute objects on every path out of the constructor.
struct spawn_setup {
  posix_spawn_file_actions_t actions{};
  posix_spawnattr_t attr{};
  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  spawn_setup(const spawn_setup&) = delete;
  spawn_setup& operator=(const spawn_setup&) = delete;
};

int decode_status(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

child_process::child_process(std::vector<std::string> argv, std::filesystem::path log_file,
                             env_list env)
    : log_(std::move(log_file)) {
  if (argv.empty())
    throw std::runtime_error("child_process: empty argv");

  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry{*e};
    std::string_view name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& [k, v] : env)
      overridden = overridden || k == name;
    if (!overridden)
      env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : env)
    env_strings.push_back(k + "=" + v);

  std::vector<char*> argv_ptrs;
  for (auto& a : argv)
    argv_ptrs.push_back(a.data());
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (auto& e : env_strings)
    env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);

  spawn_setup s;
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&s.actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&s.actions, 1, 2);
  // Nothing else of the test process leaks into the child: a simulator's listening socket
  // inherited by a brokerd child would keep its port busy after the simulator stops.
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD})
    sigaddset(&defaults, sig);
  sigset_t no_mask;
  sigemptyset(&no_mask);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setsigmask(&s.attr, &no_mask);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);
  int rc = posix_spawnp(&pid_, argv_ptrs[0], &s.actions, &s.attr, argv_ptrs.data(),
                        env_ptrs.data());
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

child_process::~child_process() {
  if (pid_ <= 0 || exit_)
    return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  wait_exit(std::chrono::seconds{10});
}

void child_process::kill(int sig) const {
  if (pid_ > 0 && !exit_)
    ::kill(pid_, sig);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (exit_ || pid_ <= 0)
    return exit_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_ = decode_status(status);
      return exit_;
    }
    if (r < 0 && errno != EINTR) {
      exit_ = -1; // not our child any more (reaped elsewhere)
      return exit_;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
}

bool child_process::running() { return !wait_exit(std::chrono::milliseconds{0}); }

std::string child_process::output() const { return read_file(log_); }

} // namespace brokerd::test
