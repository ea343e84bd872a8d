#include "actors/brokers/schwab/tokens.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::actors::schwab {

namespace {

constexpr std::int64_t ns_per_s = 1'000'000'000;

std::int64_t ns(std::chrono::seconds s) { return static_cast<std::int64_t>(s.count()) * ns_per_s; }

std::string token_aad(std::string_view user_id, std::string_view connection_id) {
  std::string aad{"brokerd-schwab-tokens\n"};
  aad += user_id;
  aad += '\n';
  aad += connection_id;
  return aad;
}

persistence::error not_tokens(std::string_view connection_id) {
  return persistence::error{persistence::errc::corrupt_record,
                            "the Schwab tokens of connection " + std::string{connection_id} +
                                " are not a token record"};
}

} // namespace

std::expected<token_set, error> tokens_from_code_grant(const token_response& r,
                                                       std::int64_t now_ns) {
  if (r.refresh_token.empty())
    return std::unexpected(error{errc::missing_field, "the code exchange returned no refresh_token"});
  token_set t;
  t.access_token = r.access_token;
  t.access_expires_ns = now_ns + r.expires_in * ns_per_s;
  t.refresh_token = r.refresh_token;
  t.refresh_expires_ns = now_ns + ns(refresh_token_life);
  t.granted_ns = now_ns;
  return t;
}

token_set tokens_after_refresh(const token_set& old, const token_response& r, std::int64_t now_ns) {
  token_set t = old;
  t.access_token = r.access_token;
  t.access_expires_ns = now_ns + r.expires_in * ns_per_s;
  if (!r.refresh_token.empty())
    t.refresh_token = r.refresh_token;
  t.granted_ns = now_ns;
  return t;
}

bool access_due(const token_set& t, std::int64_t now_ns) noexcept {
  return now_ns >= t.access_expires_ns - ns(access_refresh_leeway);
}

bool refresh_expired(const token_set& t, std::int64_t now_ns) noexcept {
  return now_ns >= t.refresh_expires_ns;
}

refresh_warning refresh_warning_at(const token_set& t, std::int64_t now_ns) noexcept {
  auto left = t.refresh_expires_ns - now_ns;
  if (left <= 0)
    return refresh_warning::expired;
  if (left <= ns(std::chrono::hours{1}))
    return refresh_warning::hour;
  if (left <= ns(std::chrono::hours{24}))
    return refresh_warning::day;
  return refresh_warning::none;
}

std::string describe_refresh_warning(const token_set& t, std::int64_t now_ns) {
  auto stage = refresh_warning_at(t, now_ns);
  auto at = format_time(t.refresh_expires_ns);
  if (stage == refresh_warning::none)
    return {};
  if (stage == refresh_warning::expired)
    return "the Schwab login expired at " + at + ": sign in again to trade";
  auto minutes = (t.refresh_expires_ns - now_ns) / (60 * ns_per_s);
  return "the Schwab login expires in " + std::to_string(minutes / 60) + " h " +
         std::to_string(minutes % 60) + " min (at " + at + "): sign in again before then";
}

std::string token_key(std::string_view connection_id) {
  return "schwab-tokens/" + std::string{connection_id};
}

std::expected<std::string, persistence::error> seal_tokens(const token_set& t,
                                                           const persistence::vault& v,
                                                           std::string_view user_id,
                                                           std::string_view connection_id) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto text = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  text("access", t.access_token.reveal());
  w.Key("accessExpires");
  w.Int64(t.access_expires_ns);
  text("refresh", t.refresh_token.reveal());
  w.Key("refreshExpires");
  w.Int64(t.refresh_expires_ns);
  w.Key("granted");
  w.Int64(t.granted_ns);
  w.EndObject();
  return v.seal({buf.GetString(), buf.GetSize()}, token_aad(user_id, connection_id));
}

std::expected<token_set, persistence::error> open_tokens(std::string_view sealed,
                                                         const persistence::vault& v,
                                                         std::string_view user_id,
                                                         std::string_view connection_id) {
  auto plain = v.open(sealed, token_aad(user_id, connection_id));
  if (!plain)
    return std::unexpected(persistence::error{
        plain.error().code, "the Schwab tokens of connection " + std::string{connection_id} +
                                ": " + plain.error().message});
  rapidjson::Document doc;
  doc.Parse(plain->data(), plain->size());
  if (doc.HasParseError() || !doc.IsObject())
    return std::unexpected(not_tokens(connection_id));
  auto str = [&doc](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsString() ? &it->value : nullptr;
  };
  auto num = [&doc](const char* key) -> const rapidjson::Value* {
    auto it = doc.FindMember(key);
    return it != doc.MemberEnd() && it->value.IsInt64() ? &it->value : nullptr;
  };
  const auto* access = str("access");
  const auto* refresh = str("refresh");
  const auto* access_expires = num("accessExpires");
  const auto* refresh_expires = num("refreshExpires");
  const auto* granted = num("granted");
  if (!access || !refresh || !access_expires || !refresh_expires || !granted)
    return std::unexpected(not_tokens(connection_id));
  token_set t;
  t.access_token = secret{std::string{access->GetString(), access->GetStringLength()}};
  t.refresh_token = secret{std::string{refresh->GetString(), refresh->GetStringLength()}};
  t.access_expires_ns = access_expires->GetInt64();
  t.refresh_expires_ns = refresh_expires->GetInt64();
  t.granted_ns = granted->GetInt64();
  return t;
}

} // namespace brokerd::actors::schwab
