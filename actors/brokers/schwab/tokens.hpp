#pragma once

// Schwab's OAuth tokens as brokerd keeps them: what the token endpoint granted, when each token
// runs out, sealed by the credential vault in the registry so that a restart resumes without a
// new login. Pure functions over a clock value the caller passes; no I/O.

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "actors/brokers/schwab/codec.hpp"
#include "actors/logging.hpp"
#include "persistence/errc.hpp"
#include "persistence/vault.hpp"

namespace brokerd::actors::schwab {

/// The refresh token's life: 7 days from the code exchange; refreshing does not extend it.
inline constexpr std::chrono::hours refresh_token_life{24 * 7};
/// The access token is refreshed this long before it runs out.
inline constexpr std::chrono::seconds access_refresh_leeway{300};

/// One connection's tokens.
struct token_set {
  secret access_token;
  /// When the access token runs out (unix ns).
  std::int64_t access_expires_ns = 0;
  secret refresh_token;
  /// When the refresh token runs out (unix ns): the code exchange plus refresh_token_life.
  std::int64_t refresh_expires_ns = 0;
  /// When the current access token was granted (unix ns).
  std::int64_t granted_ns = 0;
  friend bool operator==(const token_set&, const token_set&) = default;
};

/// The tokens of a code exchange answered at `now_ns`. Fails when the answer has no refresh
/// token (a code grant must carry one).
std::expected<token_set, error> tokens_from_code_grant(const token_response& r,
                                                       std::int64_t now_ns);

/// The tokens after a refresh grant answered at `now_ns`: a new access token; the refresh
/// token replaced when the answer carries one (rotation), its deadline unchanged.
token_set tokens_after_refresh(const token_set& old, const token_response& r, std::int64_t now_ns);

/// True when the access token must be refreshed before the next call (within the leeway).
bool access_due(const token_set& t, std::int64_t now_ns) noexcept;

/// True once the refresh token has run out: only a new login helps.
bool refresh_expired(const token_set& t, std::int64_t now_ns) noexcept;

/// The warning stage of the refresh token's deadline.
enum class refresh_warning : std::uint8_t {
  none,
  /// 24 hours or less left.
  day,
  /// 1 hour or less left.
  hour,
  expired,
};
refresh_warning refresh_warning_at(const token_set& t, std::int64_t now_ns) noexcept;

/// "the Schwab login expires in 23 h 59 min (at 2026-11-30T10:00:00Z): sign in again" and the
/// like, for connection states and the API; empty for `none`.
std::string describe_refresh_warning(const token_set& t, std::int64_t now_ns);

/// Registry key of a connection's sealed tokens.
std::string token_key(std::string_view connection_id);

/// The tokens sealed for (user, connection): the sealed text names neither token.
std::expected<std::string, persistence::error> seal_tokens(const token_set& t,
                                                           const persistence::vault& v,
                                                           std::string_view user_id,
                                                           std::string_view connection_id);

/// The tokens back. Fails (corrupt_record) for another user or connection, a changed byte, a
/// wrong key or a record that is not a token set.
std::expected<token_set, persistence::error> open_tokens(std::string_view sealed,
                                                         const persistence::vault& v,
                                                         std::string_view user_id,
                                                         std::string_view connection_id);

} // namespace brokerd::actors::schwab
