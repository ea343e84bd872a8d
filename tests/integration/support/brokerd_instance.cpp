#include "tests/integration/support/brokerd_instance.hpp"

#include <csignal>
#include <stdexcept>

#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"

namespace brokerd::test {

std::filesystem::path program(const std::string& name) {
  return std::filesystem::path{BROKERD_BIN_DIR} / name;
}

brokerd_instance::brokerd_instance(const std::filesystem::path& data_dir,
                                   std::vector<std::string> extra_args) {
  port_ = free_port();
  std::vector<std::string> argv{program("brokerd").string(), "--demo",
                                "--data-dir",                data_dir.string(),
                                "--http-port",               std::to_string(port_),
                                "--paper-tick-ms",           "20"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  static int generation = 0;
  auto log = data_dir.parent_path() / ("brokerd-" + std::to_string(++generation) + ".log");
  proc_ = std::make_unique<child_process>(argv, log);
  if (!wait_for_port(port_, std::chrono::seconds{60}))
    throw std::runtime_error("brokerd did not open its port; output:\n" + proc_->output());
  token_ = read_file(data_dir / "admin-token");
  while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r'))
    token_.pop_back();
  http_client client{port_};
  bool found = wait_until(
      [&] {
        auto r = client.request("GET", "/api/brokers/user/configured", {}, auth());
        if (r.status != 200)
          return false;
        // Every demo connection (paper and the embedded TWS simulator) is ready: nothing of
        // the start-up is still being logged when a test begins.
        auto doc = parse_json(r.body);
        std::string paper;
        bool all_ready = true;
        for (const auto& c : json_member(doc, "connections").GetArray()) {
          if (json_string(c, "status") != "connected")
            all_ready = false;
          else if (json_string(c, "broker") == "paper")
            paper = json_string(c, "id");
        }
        if (!all_ready || paper.empty())
          return false;
        connection_ = paper;
        return true;
      },
      std::chrono::seconds{30}, std::chrono::milliseconds{20});
  if (!found)
    throw std::runtime_error("the demo paper connection did not become ready; output:\n" +
                             proc_->output());
}

http_client::header_list brokerd_instance::auth() const {
  return {{"Authorization", "Bearer " + token_}};
}

brokerd_instance::~brokerd_instance() {
  if (proc_ && proc_->running())
    stop(std::chrono::seconds{15}); // child_process's destructor kills what is left
}

std::optional<int> brokerd_instance::stop(std::chrono::milliseconds timeout) {
  proc_->kill(SIGTERM);
  return proc_->wait_exit(timeout);
}

run_result run_program(std::vector<std::string> argv, const std::filesystem::path& log_file,
                       std::chrono::milliseconds timeout) {
  child_process proc{std::move(argv), log_file};
  auto status = proc.wait_exit(timeout);
  return run_result{status.value_or(-1), proc.output()};
}

} // namespace brokerd::test
