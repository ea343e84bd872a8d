#include "tools/sim/schwab_oauth.hpp"

#include <array>
#include <cctype>
#include <cstdio>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::sim::schwab {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, std::string_view k, std::string_view v) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void put(json_writer& w, std::string_view k, std::int64_t v) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  w.Int64(v);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

/// The credentials of an Authorization header of `scheme` ("Basic", "Bearer"), or nothing.
std::optional<std::string_view> credentials(std::string_view header, std::string_view scheme) {
  auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), scheme))
    return std::nullopt;
  auto rest = header.substr(space + 1);
  while (!rest.empty() && rest.front() == ' ')
    rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ')
    rest.remove_suffix(1);
  if (rest.empty())
    return std::nullopt;
  return rest;
}

std::int64_t epoch_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
}

} // namespace

std::string make_uuid(std::mt19937_64& random) {
  auto hi = (random() & ~0xf000ull) | 0x4000ull;
  auto lo = (random() & 0x3fffffffffffffffull) | 0x8000000000000000ull;
  std::array<char, 40> buf{};
  auto n = std::snprintf(buf.data(), buf.size(), "%08llx-%04llx-%04llx-%04llx-%012llx",
                         static_cast<unsigned long long>(hi >> 32),
                         static_cast<unsigned long long>((hi >> 16) & 0xffff),
                         static_cast<unsigned long long>(hi & 0xffff),
                         static_cast<unsigned long long>(lo >> 48),
                         static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return std::string{buf.data(), static_cast<std::size_t>(n > 0 ? n : 0)};
}

authorization_server::authorization_server(const config& cfg, time_point start, std::uint64_t seed)
    : cfg_(cfg), random_(seed) {
  refresh_tokens_[cfg_.refresh_token] = {start + cfg_.refresh_token_lifetime, false};
}

std::string authorization_server::random_text(std::size_t bytes) {
  std::string raw;
  raw.reserve(bytes);
  while (raw.size() < bytes) {
    auto v = random_();
    for (int i = 0; i < 8 && raw.size() < bytes; ++i, v >>= 8)
      raw += static_cast<char>(v & 0xff);
  }
  return base64url_encode(raw);
}

std::string authorization_server::new_token() {
  // The shape of Schwab's tokens: a version prefix, opaque text and a trailing '@' (§2.3).
  return "I0." + random_text(48) + "@";
}

std::string authorization_server::id_token(time_point now) {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "sub", cfg_.account_number);
  put(w, "aud", cfg_.app_key);
  put(w, "iss", "brokerd-schwab-sim");
  put(w, "iat", epoch_seconds(now));
  put(w, "exp", epoch_seconds(now + cfg_.access_token_lifetime));
  w.EndObject();
  // Shaped as a JWT; the signature is random bytes (nothing verifies it, §2.4).
  return base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." +
         base64url_encode(std::string_view{b.GetString(), b.GetSize()}) + "." + random_text(64);
}

reply authorization_server::refuse(unsigned status, std::string_view error,
                                   std::string_view description) {
  ++refusals_;
  return {status, oauth_error_body(error, description), {}};
}

reply authorization_server::dead_refresh_token(std::string_view why) {
  // §2.6: the inner error is JSON text (description first) inside the outer description.
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "error_description",
      "Exception while authenticating refresh token [" + std::string{why} + "]");
  put(w, "error", "refresh_token_authentication_error");
  w.EndObject();
  std::string inner{b.GetString(), b.GetSize()};
  return refuse(400, "unsupported_token_type", "400 Bad Request: \"" + inner + "\"");
}

reply authorization_server::grant(std::string_view type, const std::string& refresh,
                                  time_point now) {
  auto access_token = new_token();
  access_tokens_[access_token] = now + cfg_.access_token_lifetime;
  ++grants_[std::string{type}];
  auto expires_in = std::chrono::ceil<std::chrono::seconds>(cfg_.access_token_lifetime).count();
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "expires_in", static_cast<std::int64_t>(expires_in));
  put(w, "token_type", "Bearer");
  put(w, "scope", "api");
  put(w, "refresh_token", refresh);
  put(w, "access_token", access_token);
  put(w, "id_token", id_token(now));
  w.EndObject();
  return {200, std::string{b.GetString(), b.GetSize()}, {}};
}

reply authorization_server::authorize(const form_fields& query, time_point now) {
  auto client_id = field(query, "client_id");
  if (!client_id || *client_id != cfg_.app_key)
    return {400, oauth_error_body("invalid_client", "Access Denied: unknown client_id"), {}};
  auto redirect = field(query, "redirect_uri");
  if (!redirect || *redirect != cfg_.redirect_uri)
    return {400,
            oauth_error_body("invalid_request",
                             "Access Denied: redirect_uri does not match the registered callback"),
            {}};
  auto state = field(query, "state");
  auto target = cfg_.redirect_uri + (cfg_.redirect_uri.find('?') == std::string::npos ? "?" : "&");
  if (auto type = field(query, "response_type"); type && *type != "code") {
    target += "error=unsupported_response_type";
  } else {
    auto code = "C0." + random_text(24) + "@";
    codes_[code] = {now + cfg_.code_lifetime};
    ++codes_issued_;
    target += "code=" + percent_encode(code) + "&session=" + make_uuid(random_);
  }
  if (state)
    target += "&state=" + percent_encode(*state);
  return {302, {}, {{"Location", target}}};
}

reply authorization_server::token(std::string_view authorization, std::string_view body,
                                  time_point now) {
  auto basic = credentials(authorization, "Basic");
  auto decoded = basic ? base64_decode(*basic) : std::nullopt;
  auto colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos || decoded->substr(0, colon) != cfg_.app_key ||
      decoded->substr(colon + 1) != cfg_.app_secret)
    return refuse(401, "invalid_client", "Client authentication failed");
  auto form = parse_form(body);
  if (!form)
    return refuse(400, "invalid_request", "the form body is not url-encoded");
  // schwab-py also puts client_id in the form (§2.2): tolerated when it names the app.
  if (auto id = field(*form, "client_id"); id && *id != cfg_.app_key)
    return refuse(401, "invalid_client", "client_id does not match the credentials");
  auto type = field(*form, "grant_type");
  if (!type)
    return refuse(400, "invalid_request", "grant_type is missing");

  if (*type == "authorization_code") {
    auto code = field(*form, "code");
    auto redirect = field(*form, "redirect_uri");
    if (!code || code->empty() || !redirect)
      return refuse(400, "invalid_request", "code and redirect_uri are required");
    auto it = codes_.find(*code);
    if (it == codes_.end())
      return refuse(400, "invalid_grant", "the authorization code is unknown or was used");
    auto expires = it->second.expires;
    codes_.erase(it); // single use, whatever happens next
    if (now >= expires)
      return refuse(400, "invalid_grant", "the authorization code has expired");
    if (*redirect != cfg_.redirect_uri)
      return refuse(400, "invalid_grant", "redirect_uri does not match the authorization request");
    auto refresh = new_token();
    refresh_tokens_[refresh] = {now + cfg_.refresh_token_lifetime, false};
    ++refresh_issued_;
    return grant("authorization_code", refresh, now);
  }

  if (*type == "refresh_token") {
    auto given = field(*form, "refresh_token");
    if (!given || given->empty())
      return refuse(400, "invalid_request", "refresh_token is required");
    auto it = refresh_tokens_.find(*given);
    if (it == refresh_tokens_.end())
      return dead_refresh_token("unknown refresh token");
    if (it->second.revoked)
      return dead_refresh_token("refresh token revoked");
    if (now >= it->second.expires)
      return dead_refresh_token("refresh token expired");
    std::string refresh{*given};
    if (cfg_.rotation != refresh_rotation::none) {
      auto expires = it->second.expires; // the chain's lifetime is not extended (§2.5)
      if (cfg_.rotation == refresh_rotation::rotate_and_revoke)
        it->second.revoked = true;
      refresh = new_token();
      refresh_tokens_[refresh] = {expires, false};
      ++refresh_issued_;
    }
    return grant("refresh_token", refresh, now);
  }

  return refuse(400, "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token");
}

access authorization_server::check(std::string_view authorization, time_point now) const {
  auto token = credentials(authorization, "Bearer");
  if (!token)
    return access::missing;
  auto it = access_tokens_.find(*token);
  if (it == access_tokens_.end())
    return access::unknown;
  return now < it->second ? access::granted : access::expired;
}

void authorization_server::revoke_refresh_tokens() {
  for (auto& [token, rec] : refresh_tokens_)
    rec.revoked = true;
}

void authorization_server::expire_access_tokens(time_point now) {
  for (auto& [token, expires] : access_tokens_)
    expires = std::min(expires, now);
}

} // namespace brokerd::sim::schwab
