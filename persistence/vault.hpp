#pragma once

// The credential vault: AES-256-GCM (OpenSSL EVP) for what brokerd must store but nobody may
// read — broker credentials, OAuth tokens. Every seal draws a fresh random 96-bit IV, binds
// the caller's additional authenticated data (user id + connection id: a record moved to
// another user or connection does not open), and names the key it was sealed under, so keys
// can be rotated while older records still open.
//
// The master keys never enter the database: they come from BROKERD_MASTER_KEY (base64) or a
// key file (mode 0600, one base64 key per line, the first one current).

#include <array>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/errc.hpp"

namespace brokerd::persistence {

/// One 256-bit master key and its id (the first 8 bytes of its SHA-256, as hex).
struct master_key {
  std::array<unsigned char, 32> bytes{};
  std::string id;

  /// A key from its base64 text (44 characters); the error says what is wrong, never the text.
  static std::expected<master_key, error> from_base64(std::string_view text);
  /// A fresh random key.
  static master_key generate();
  /// The base64 text of the key (for writing a key file).
  [[nodiscard]] std::string to_base64() const;
};

class vault {
public:
  /// A vault that seals under keys[0] and opens records sealed under any of `keys`. At least
  /// one key, ids distinct.
  static std::expected<vault, error> with_keys(std::vector<master_key> keys);

  /// The keys of a key file: one base64 key per line (blank lines and lines starting with '#'
  /// ignored), the first one current. Refuses a file that others may read (mode beyond 0600),
  /// an empty file and a malformed line (by number).
  static std::expected<vault, error> from_key_file(const std::filesystem::path& file);

  /// The keys of BROKERD_MASTER_KEY's value: base64 keys separated by commas, first current.
  static std::expected<vault, error> from_env_value(std::string_view value);

  /// Writes `keys` to `file` (mode 0600) atomically: a temporary file, fsync, rename, fsync of
  /// the directory. The error names the file.
  static std::expected<void, error> write_key_file(const std::filesystem::path& file,
                                                   const std::vector<master_key>& keys);

  /// Seals `plaintext` bound to `aad`: "v1.<key id>.<base64 IV>.<base64 ciphertext+tag>".
  [[nodiscard]] std::expected<std::string, error> seal(std::string_view plaintext,
                                                       std::string_view aad) const;

  /// Opens a sealed text with the same `aad`. A malformed text, an unknown key id, a wrong key,
  /// a different `aad` or any changed byte fails with corrupt_record and a message that says
  /// which (never the content).
  [[nodiscard]] std::expected<std::string, error> open(std::string_view sealed,
                                                       std::string_view aad) const;

  /// The id of the key a sealed text names, or nothing when it is not a sealed text.
  static std::optional<std::string> key_id_of(std::string_view sealed);

  /// The id of the current (sealing) key.
  [[nodiscard]] const std::string& current_key_id() const noexcept { return keys_.front().id; }
  [[nodiscard]] const std::vector<master_key>& keys() const noexcept { return keys_; }

private:
  explicit vault(std::vector<master_key> keys) : keys_(std::move(keys)) {}
  std::vector<master_key> keys_;
};

/// The additional authenticated data of a connection's sealed settings.
std::string connection_aad(std::string_view user_id, std::string_view connection_id);

} // namespace brokerd::persistence
