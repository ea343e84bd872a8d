#pragma once

// The OAuth side of the Schwab simulator (§2): the authorize step that hands out single-use
// codes, the token endpoint with its two grants and HTTP Basic client authentication, and the
// bearer check of the Trader API. Pure: no I/O, no threads, no clock of its own (callers pass
// the time). Section numbers (§) refer to the Charles Schwab Trader API reference
// (schwab-api.md).

#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "tools/sim/schwab_config.hpp"
#include "tools/sim/schwab_wire.hpp"

namespace brokerd::sim::schwab {

/// What a bearer check found.
enum class access : std::uint8_t {
  granted,
  /// No Authorization header, or not of the Bearer scheme.
  missing,
  /// A token this server never issued.
  unknown,
  /// A token past its lifetime, or expired by `expire_access_tokens`.
  expired,
};

/// The simulated authorization server of the one app in `config`. Not thread-safe: the server
/// uses it from its io thread only.
class authorization_server {
public:
  using time_point = std::chrono::system_clock::time_point;

  /// `start` is when config::refresh_token was issued; `seed` drives every generated code and
  /// token.
  authorization_server(const config& cfg, time_point start, std::uint64_t seed);

  /// GET /v1/oauth/authorize with its query (§2.1), approved at once (there is no login page):
  /// 302 to the registered callback with `code` (percent-encoded, it ends in '@'), `session`
  /// and the request's `state`. A client_id other than the app key or a redirect_uri other
  /// than the registered one is answered 400 without a redirect (§2.7); a response_type other
  /// than "code" is redirected with error=unsupported_response_type.
  reply authorize(const form_fields& query, time_point now);

  /// POST /v1/oauth/token (§2.2 to §2.6): `authorization` is the request's Authorization
  /// header and `body` its form. 200 with the token JSON of §2.4; 401 invalid_client for
  /// missing or wrong Basic credentials (or a form client_id that is not the app key); 400
  /// invalid_request for a missing field, unsupported_grant_type, invalid_grant for a code that
  /// is unknown, used, expired or given with another redirect_uri, and unsupported_token_type
  /// with the doubly encoded refresh_token_authentication_error description for a refresh
  /// token that is unknown, expired or revoked.
  reply token(std::string_view authorization, std::string_view body, time_point now);

  /// Checks the Authorization header of a Trader API request.
  [[nodiscard]] access check(std::string_view authorization, time_point now) const;

  /// Every refresh token issued so far (the configured one included) stops working; access
  /// tokens keep working until they expire, and a new code exchange gives a working one.
  void revoke_refresh_tokens();
  /// Every access token issued so far expires now (Schwab invalidating tokens server-side,
  /// §2.8); tokens from later grants work.
  void expire_access_tokens(time_point now);

  // -- counters ------------------------------------------------------------------------------

  [[nodiscard]] const std::map<std::string, std::uint64_t>& grants() const { return grants_; }
  [[nodiscard]] std::uint64_t refusals() const noexcept { return refusals_; }
  [[nodiscard]] std::uint64_t refresh_tokens_issued() const noexcept { return refresh_issued_; }
  [[nodiscard]] std::uint64_t codes_issued() const noexcept { return codes_issued_; }

private:
  struct code_rec {
    time_point expires;
  };
  struct refresh_rec {
    /// The end of the chain's lifetime: the code exchange (or the start) plus the lifetime.
    time_point expires;
    bool revoked = false;
  };

  [[nodiscard]] std::string random_text(std::size_t bytes);
  [[nodiscard]] std::string new_token();
  [[nodiscard]] std::string id_token(time_point now);
  /// The token response of §2.4 for a new access token and `refresh`.
  reply grant(std::string_view type, const std::string& refresh, time_point now);
  reply refuse(unsigned status, std::string_view error, std::string_view description);
  reply dead_refresh_token(std::string_view why);

  config cfg_;
  std::mt19937_64 random_;
  std::map<std::string, code_rec, std::less<>> codes_;
  std::map<std::string, refresh_rec, std::less<>> refresh_tokens_;
  std::map<std::string, time_point, std::less<>> access_tokens_;
  std::map<std::string, std::uint64_t> grants_;
  std::uint64_t refusals_ = 0;
  std::uint64_t refresh_issued_ = 0;
  std::uint64_t codes_issued_ = 0;
};

/// A random version-4 uuid from `random` ("8-4-4-4-12" lowercase hex).
std::string make_uuid(std::mt19937_64& random);

} // namespace brokerd::sim::schwab
