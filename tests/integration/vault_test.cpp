// The credential vault seen from outside: what brokerd writes to disk, a key rotation by
// brokerctl, and a start with the wrong key.

#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"

using namespace brokerd::test;
namespace fs = std::filesystem;

namespace {

/// Every file below `dir` (RocksDB tables, WAL, MANIFEST, the paper book...) whose bytes
/// contain `needle`.
std::vector<std::string> files_containing(const fs::path& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    if (read_file(e.path()).find(needle) != std::string::npos)
      out.push_back(e.path().string());
  }
  return out;
}

std::string first_key_line(const fs::path& file) {
  std::ifstream in{file};
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#')
      return line;
  return {};
}

} // namespace

TEST_CASE("stored credentials are sealed on disk, survive a key rotation, and a wrong key "
          "stops the start",
          "[integration][vault]") {
  temp_dir dir{"brokerd-vault"};
  auto data = dir.path() / "data";
  auto key_file = data / "master.key";
  {
    brokerd_instance server{data};
    struct stat st {};
    REQUIRE(::stat(key_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(server.stop() == 0);
  }
  // The demo's Alpaca secret and Schwab app secret and refresh token are nowhere on disk, in
  // any RocksDB file.
  CHECK(files_containing(data, "demo-secret").empty());
  CHECK(files_containing(data, "demo-app-secret").empty());
  CHECK(files_containing(data, "demo-refresh-token").empty());
  CHECK(files_containing(data, "sealedSettings").size() >= 1);
  auto before = first_key_line(key_file);

  // brokerctl refuses to rotate under a running brokerd, then rotates once it stopped.
  {
    brokerd_instance server{data};
    auto busy = run_program({program("brokerctl").string(), "keys", "rotate", "--data-dir",
                             data.string()},
                            dir.path() / "rotate-busy.log");
    CHECK(busy.status == 74);
    CHECK(busy.output.find("stop it first") != std::string::npos);
    CHECK(first_key_line(key_file) == before);
    REQUIRE(server.stop() == 0);
  }
  auto rotated = run_program({program("brokerctl").string(), "keys", "rotate", "--data-dir",
                              data.string()},
                             dir.path() / "rotate.log");
  INFO(rotated.output);
  REQUIRE(rotated.status == 0);
  // The demo's four connections: paper, IBKR, Alpaca and Schwab.
  CHECK(rotated.output.find("sealed 4 connection record(s)") != std::string::npos);
  auto after = first_key_line(key_file);
  CHECK(after != before);
  CHECK(files_containing(data, "demo-secret").empty());
  {
    // Every demo connection opens with the new key and becomes ready (the instance waits).
    brokerd_instance server{data};
    REQUIRE(server.stop() == 0);
  }

  // The old key alone no longer opens anything: brokerd names the key it lacks and stops.
  auto old_key = dir.path() / "old.key";
  write_file(old_key, before + "\n");
  ::chmod(old_key.c_str(), 0600);
  auto refused = run_program({program("brokerd").string(), "--data-dir", data.string(),
                              "--http-port", "0", "--master-key-file", old_key.string()},
                             dir.path() / "wrong-key.log");
  CHECK(refused.status == 1);
  CHECK(refused.output.find("which the given master key does not match") != std::string::npos);
  // A key file others may read is refused too.
  ::chmod(old_key.c_str(), 0644);
  auto open_file = run_program({program("brokerd").string(), "--data-dir", data.string(),
                                "--http-port", "0", "--master-key-file", old_key.string()},
                               dir.path() / "open-key.log");
  CHECK(open_file.status == 1);
  CHECK(open_file.output.find("0600") != std::string::npos);
  // The rotated key still starts it: nothing was changed by the refused starts.
  brokerd_instance server{data};
  CHECK(files_containing(data, "demo-secret").empty());
}
