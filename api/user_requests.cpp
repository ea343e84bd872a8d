#include "api/user_requests.hpp"

#include <algorithm>
#include <set>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

namespace brokerd::api {

namespace {

api_error bad(std::string code, std::string message) {
  return api_error{400, std::move(code), std::move(message)};
}

/// The body as a JSON object whose members are all in `allowed`, none twice.
std::expected<rapidjson::Document, api_error>
parse_object(std::string_view body, std::initializer_list<std::string_view> allowed) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (doc.HasParseError())
    return std::unexpected(
        bad("malformed_json", std::string{rapidjson::GetParseError_En(doc.GetParseError())} +
                                  " at offset " + std::to_string(doc.GetErrorOffset())));
  if (!doc.IsObject())
    return std::unexpected(bad("invalid_body", "request body must be a JSON object"));
  std::set<std::string_view> seen;
  for (auto m = doc.MemberBegin(); m != doc.MemberEnd(); ++m) {
    std::string_view name{m->name.GetString(), m->name.GetStringLength()};
    if (!seen.insert(name).second)
      return std::unexpected(bad("duplicate_field", std::string{name} + " appears twice"));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      return std::unexpected(bad("unknown_field", "unknown field " + std::string{name}));
  }
  return doc;
}

/// The string member `name`: nullopt when absent, an error when not a string or longer
/// than `max_len`.
std::expected<std::optional<std::string>, api_error>
string_member(const rapidjson::Value& obj, const char* name, std::size_t max_len) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd())
    return std::nullopt;
  if (!it->value.IsString())
    return std::unexpected(bad("invalid_field", std::string{name} + " must be a string"));
  if (it->value.GetStringLength() > max_len)
    return std::unexpected(bad("invalid_field", std::string{name} + " must be at most " +
                                                    std::to_string(max_len) + " characters"));
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

std::expected<std::string, api_error>
required(std::expected<std::optional<std::string>, api_error> v, const char* name) {
  if (!v)
    return std::unexpected(v.error());
  if (!*v)
    return std::unexpected(bad("missing_field", std::string{"missing required field "} + name));
  return std::move(**v);
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::expected<void, api_error> check_email(const std::string& email) {
  if (!valid_email(email))
    return std::unexpected(bad("invalid_field", "email must be an address like name@example.com"));
  return {};
}

std::expected<void, api_error> check_password(const std::string& password) {
  if (password.size() < min_password_length || password.size() > max_password_length)
    return std::unexpected(
        bad("invalid_field", "password must be " + std::to_string(min_password_length) + " to " +
                                 std::to_string(max_password_length) + " characters"));
  return {};
}

std::expected<void, api_error> check_tier(const std::string& tier) {
  if (tier != "free" && tier != "premium")
    return std::unexpected(bad("invalid_field", "tier must be free or premium"));
  return {};
}

} // namespace

bool valid_email(std::string_view email) {
  if (email.size() < 3 || email.size() > 254)
    return false;
  auto at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos)
    return false;
  auto local = email.substr(0, at);
  auto domain = email.substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos)
    return false;
  constexpr std::string_view local_specials = "!#$%&'*+/=?^_`{|}~.-";
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  for (char c : local)
    if (!alnum(c) && local_specials.find(c) == std::string_view::npos)
      return false;
  if (domain.find('.') == std::string_view::npos)
    return false;
  for (std::size_t start = 0;;) {
    auto end = domain.find('.', start);
    auto label = domain.substr(start, end == std::string_view::npos ? end : end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!alnum(c) && c != '-')
        return false;
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  return true;
}

std::expected<login_request, api_error> parse_login_request(std::string_view body) {
  auto doc = parse_object(body, {"email", "password"});
  if (!doc)
    return std::unexpected(doc.error());
  auto email = required(string_member(*doc, "email", 254), "email");
  if (!email)
    return std::unexpected(email.error());
  auto password = required(string_member(*doc, "password", max_password_length), "password");
  if (!password)
    return std::unexpected(password.error());
  return login_request{lower(std::move(*email)), actors::secret{std::move(*password)}};
}

std::expected<new_user_request, api_error> parse_new_user_request(std::string_view body) {
  auto doc = parse_object(body, {"email", "password", "tier"});
  if (!doc)
    return std::unexpected(doc.error());
  auto email = required(string_member(*doc, "email", 254), "email");
  if (!email)
    return std::unexpected(email.error());
  if (auto ok = check_email(*email); !ok)
    return std::unexpected(ok.error());
  auto password = required(string_member(*doc, "password", max_password_length), "password");
  if (!password)
    return std::unexpected(password.error());
  if (auto ok = check_password(*password); !ok)
    return std::unexpected(ok.error());
  auto tier = string_member(*doc, "tier", 16);
  if (!tier)
    return std::unexpected(tier.error());
  new_user_request out{lower(std::move(*email)), actors::secret{std::move(*password)}, "free"};
  if (*tier) {
    if (auto ok = check_tier(**tier); !ok)
      return std::unexpected(ok.error());
    out.tier = **tier;
  }
  return out;
}

std::expected<user_patch_request, api_error> parse_user_patch_request(std::string_view body) {
  auto doc = parse_object(body, {"tier", "password"});
  if (!doc)
    return std::unexpected(doc.error());
  user_patch_request out;
  auto tier = string_member(*doc, "tier", 16);
  if (!tier)
    return std::unexpected(tier.error());
  if (*tier) {
    if (auto ok = check_tier(**tier); !ok)
      return std::unexpected(ok.error());
    out.tier = **tier;
  }
  auto password = string_member(*doc, "password", max_password_length);
  if (!password)
    return std::unexpected(password.error());
  if (*password) {
    if (auto ok = check_password(**password); !ok)
      return std::unexpected(ok.error());
    out.password = actors::secret{std::move(**password)};
  }
  if (!out.tier && !out.password)
    return std::unexpected(bad("invalid_body", "nothing to change: send tier and/or password"));
  return out;
}

std::string user_json(const persistence::user_record& u) {
  return R"({"id":)" + json_string(u.id) + R"(,"email":)" + json_string(u.email) + R"(,"tier":)" +
         json_string(u.tier) + R"(,"admin":)" + (u.admin ? "true" : "false") + R"(,"createdAt":")" +
         iso8601_ms(u.created_ns) + R"(","hasPassword":)" +
         (u.password_hash.empty() ? "false" : "true") + R"(,"primaryConnectionId":)" +
         (u.primary_connection.empty() ? std::string{"null"} : json_string(u.primary_connection)) +
         "}";
}

std::string users_json(const std::vector<persistence::user_record>& users) {
  std::string out = R"({"users":[)";
  for (std::size_t i = 0; i < users.size(); ++i)
    out += (i ? "," : "") + user_json(users[i]);
  return out + "]}";
}

} // namespace brokerd::api
