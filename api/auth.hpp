#pragma once

#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "persistence/event_log.hpp"
#include "persistence/records.hpp"

namespace brokerd::api {

/// Lower-case hex SHA-256 of `data` (OpenSSL EVP).
std::string sha256_hex(std::string_view data);

/// `bytes` random bytes from OpenSSL's CSPRNG, hex encoded. Throws std::runtime_error when
/// the generator fails (it never returns a weak value).
std::string random_hex(std::size_t bytes);

/// Extracts the token of an "Authorization: Bearer <token>" header; nullopt when the header
/// is missing, of another scheme, or the token is not 16..256 visible ASCII characters.
std::optional<std::string> bearer_token(std::string_view authorization);

/// The registry key of a token: `token/<sha-256 hex of the token>`.
std::string token_key(std::string_view token);

/// Name of the cookie a password login sets (`POST /api/auth/login`).
inline constexpr std::string_view session_cookie_name = "brokerd_session";

/// The value of the `brokerd_session` cookie in a Cookie header ("a=1; brokerd_session=..."),
/// nullopt when absent or not 16..256 visible ASCII characters.
std::optional<std::string> session_cookie(std::string_view cookie_header);

/// The credential a request presents: its bearer token, else — only when it sends no
/// Authorization header at all — the session cookie of a password login.
struct presented_token {
  std::string token;
  bool by_cookie = false;
};
std::optional<presented_token> presented(std::string_view authorization,
                                         std::optional<std::string_view> cookie_header);

/// A token resolved to its user.
struct authenticated {
  persistence::user_record user;
  persistence::token_record token;
};

/// Resolves a bearer token or session cookie to its user through the registry (tokens are
/// stored only as their SHA-256). nullopt for an unknown or revoked token, one whose expiry
/// lies at or before `now_ns` (wall time), or a user that no longer exists.
std::optional<authenticated> authenticate_token(const persistence::event_log& log,
                                                std::string_view token, std::int64_t now_ns);

/// Resolved tokens, kept while this process's registry is unchanged: a request with a known
/// token costs one SHA-256 instead of two registry reads and two decodes. Any registry write
/// through the log handle (a token revoked, a user changed, a login) empties it; expiry is
/// checked on every use. One owner, no locking.
class token_cache {
public:
  explicit token_cache(std::size_t capacity = 10'000) : capacity_(capacity) {}

  /// `authenticate_token`, answered from the cache when it can be.
  std::optional<authenticated> resolve(const persistence::event_log& log, std::string_view token,
                                       std::int64_t now_ns);

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
  std::size_t capacity_;
  std::uint64_t generation_ = 0;
  bool primed_ = false;
  std::unordered_map<std::string, authenticated> entries_;
};

/// `authenticate_token` at the current wall time, the user only.
std::optional<persistence::user_record> authenticate(const persistence::event_log& log,
                                                     std::string_view token);

/// Wall time in ns since the Unix epoch.
std::int64_t wall_now_ns();

/// What `bootstrap_admin` did.
struct admin_bootstrap {
  std::string user_id;
  /// True when this call created the admin and wrote a new token file.
  bool created = false;
  std::filesystem::path token_file;
};

/// On first start (no user in the registry) creates the admin user and its API token, stores
/// the token's hash (synced), and writes the token to `data_dir/admin-token` with mode 0600.
/// Later starts return the existing admin. Runs before any actor writes the log.
std::expected<admin_bootstrap, std::string> bootstrap_admin(persistence::event_log& log,
                                                            const std::filesystem::path& data_dir);

} // namespace brokerd::api
