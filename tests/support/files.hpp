#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace brokerd::test {

/// A fresh directory under /tmp (mkdtemp), removed with everything in it on destruction.
class temp_dir {
public:
  /// Creates /tmp/<prefix>-XXXXXX; throws std::runtime_error when it cannot.
  explicit temp_dir(std::string_view prefix = "brokerd-test");
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// path() / name.
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const {
    return path_ / name;
  }

private:
  std::filesystem::path path_;
};

/// The whole content of a file; an absent file reads as empty. Throws std::runtime_error when
/// the file exists but cannot be read.
std::string read_file(const std::filesystem::path& path);

/// Replaces a file's content; throws std::runtime_error when it cannot.
void write_file(const std::filesystem::path& path, std::string_view content);

/// The permission bits of a file (st_mode & 07777, e.g. 0600); throws when it cannot stat.
unsigned file_mode(const std::filesystem::path& path);

} // namespace brokerd::test
