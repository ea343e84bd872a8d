#include "persistence/records.hpp"

#include "persistence/json_fields.hpp"

namespace brokerd::persistence {

namespace {

using json::write_string;
using json::writer;

error corrupt(std::string_view what, std::string_view field) {
  return error{errc::corrupt_record, std::string{what} + " record: field '" + std::string{field} +
                                         "' is missing or has the wrong type"};
}

std::expected<rapidjson::Document, error> parse(std::string_view json, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return std::unexpected(
        error{errc::corrupt_record, std::string{what} + " record is not a JSON object"});
  return doc;
}

/// Turns a missing or mistyped member into a corrupt_record error naming it.
template <class T>
std::expected<T, error> required(std::optional<T> value, std::string_view what,
                                 std::string_view field) {
  if (!value)
    return std::unexpected(corrupt(what, field));
  return std::move(*value);
}

std::expected<std::string, error> str(const rapidjson::Value& v, const char* key,
                                      std::string_view what) {
  return required(json::read_string(v, key), what, key);
}

std::expected<bool, error> boolean(const rapidjson::Value& v, const char* key,
                                   std::string_view what) {
  return required(json::read_bool(v, key), what, key);
}

std::expected<std::int64_t, error> int64(const rapidjson::Value& v, const char* key,
                                         std::string_view what) {
  return required(json::read_int64(v, key), what, key);
}

} // namespace

std::string encode_user(const user_record& u) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "id", u.id);
  write_string(w, "email", u.email);
  write_string(w, "tier", u.tier);
  w.Key("admin");
  w.Bool(u.admin);
  w.Key("createdAt");
  w.Int64(u.created_ns);
  if (!u.password_hash.empty())
    write_string(w, "passwordHash", u.password_hash);
  if (!u.primary_connection.empty())
    write_string(w, "primaryConnection", u.primary_connection);
  w.EndObject();
  return buf.GetString();
}

std::expected<user_record, error> decode_user(std::string_view json) {
  auto doc = parse(json, "user");
  if (!doc)
    return std::unexpected(doc.error());
  user_record u;
  auto id = str(*doc, "id", "user");
  auto email = str(*doc, "email", "user");
  auto tier = str(*doc, "tier", "user");
  auto admin = boolean(*doc, "admin", "user");
  auto created = int64(*doc, "createdAt", "user");
  for (auto* e : {&id, &email, &tier})
    if (!*e)
      return std::unexpected(e->error());
  if (!admin)
    return std::unexpected(admin.error());
  if (!created)
    return std::unexpected(created.error());
  u.id = *id;
  u.email = *email;
  u.tier = *tier;
  u.admin = *admin;
  u.created_ns = *created;
  for (auto [key, field] : {std::pair{"passwordHash", &u.password_hash},
                            std::pair{"primaryConnection", &u.primary_connection}}) {
    auto it = doc->FindMember(key);
    if (it == doc->MemberEnd())
      continue;
    if (!it->value.IsString())
      return std::unexpected(corrupt("user", key));
    *field = std::string{it->value.GetString(), it->value.GetStringLength()};
  }
  return u;
}

std::string encode_token(const token_record& t) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "user", t.user);
  write_string(w, "kind", t.kind);
  w.Key("expiresAt");
  w.Int64(t.expires_ns);
  w.Key("createdAt");
  w.Int64(t.created_ns);
  w.EndObject();
  return buf.GetString();
}

std::expected<token_record, error> decode_token(std::string_view value) {
  if (value.empty() || value.front() != '{') {
    if (value.empty())
      return std::unexpected(corrupt("token", "user"));
    return token_record{std::string{value}, "api", 0, 0};
  }
  auto doc = parse(value, "token");
  if (!doc)
    return std::unexpected(doc.error());
  auto user = str(*doc, "user", "token");
  auto kind = str(*doc, "kind", "token");
  auto expires = int64(*doc, "expiresAt", "token");
  auto created = int64(*doc, "createdAt", "token");
  for (auto* e : {&user, &kind})
    if (!*e)
      return std::unexpected(e->error());
  for (auto* e : {&expires, &created})
    if (!*e)
      return std::unexpected(e->error());
  return token_record{*user, *kind, *expires, *created};
}

namespace {

std::string settings_json(const std::vector<std::pair<std::string, std::string>>& settings) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartArray();
  for (const auto& [k, v] : settings) {
    w.StartArray();
    w.String(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    w.EndArray();
  }
  w.EndArray();
  return buf.GetString();
}

std::expected<std::vector<std::pair<std::string, std::string>>, error>
read_settings(const rapidjson::Value& array) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!array.IsArray())
    return std::unexpected(corrupt("connection", "settings"));
  for (const auto& pair : array.GetArray()) {
    if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsString() || !pair[1].IsString())
      return std::unexpected(corrupt("connection", "settings"));
    out.emplace_back(std::string{pair[0].GetString(), pair[0].GetStringLength()},
                     std::string{pair[1].GetString(), pair[1].GetStringLength()});
  }
  return out;
}

} // namespace

std::expected<std::string, error> encode_connection(const connection_record& c, const vault& v) {
  auto sealed = v.seal(settings_json(c.settings), connection_aad(c.user, c.id));
  if (!sealed)
    return std::unexpected(sealed.error());
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "id", c.id);
  write_string(w, "user", c.user);
  write_string(w, "broker", c.broker);
  w.Key("paperTrading");
  w.Bool(c.paper_trading);
  w.Key("active");
  w.Bool(c.active);
  w.Key("createdAt");
  w.Int64(c.created_ns);
  write_string(w, "sealedSettings", *sealed);
  w.EndObject();
  return std::string{buf.GetString()};
}

std::optional<std::string> sealed_key_id(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return std::nullopt;
  auto it = doc.FindMember("sealedSettings");
  if (it == doc.MemberEnd() || !it->value.IsString())
    return std::nullopt;
  return vault::key_id_of({it->value.GetString(), it->value.GetStringLength()});
}

std::expected<connection_record, error> decode_connection(std::string_view json, const vault& v) {
  auto doc = parse(json, "connection");
  if (!doc)
    return std::unexpected(doc.error());
  connection_record c;
  auto id = str(*doc, "id", "connection");
  auto user = str(*doc, "user", "connection");
  auto broker = str(*doc, "broker", "connection");
  auto paper = boolean(*doc, "paperTrading", "connection");
  auto active = boolean(*doc, "active", "connection");
  auto created = int64(*doc, "createdAt", "connection");
  for (auto* e : {&id, &user, &broker})
    if (!*e)
      return std::unexpected(e->error());
  for (auto* e : {&paper, &active})
    if (!*e)
      return std::unexpected(e->error());
  if (!created)
    return std::unexpected(created.error());
  c.id = *id;
  c.user = *user;
  c.broker = *broker;
  c.paper_trading = *paper;
  c.active = *active;
  c.created_ns = *created;
  if (auto sealed = doc->FindMember("sealedSettings"); sealed != doc->MemberEnd()) {
    if (!sealed->value.IsString())
      return std::unexpected(corrupt("connection", "sealedSettings"));
    auto opened = v.open({sealed->value.GetString(), sealed->value.GetStringLength()},
                         connection_aad(c.user, c.id));
    if (!opened)
      return std::unexpected(error{opened.error().code,
                                   "connection " + c.id + ": " + opened.error().message});
    rapidjson::Document settings;
    settings.Parse(opened->data(), opened->size());
    if (settings.HasParseError())
      return std::unexpected(corrupt("connection", "sealedSettings"));
    auto list = read_settings(settings);
    if (!list)
      return std::unexpected(list.error());
    c.settings = std::move(*list);
    return c;
  }
  // Stored before the vault existed: settings in plain, to be sealed again by the caller.
  auto it = doc->FindMember("settings");
  if (it == doc->MemberEnd())
    return std::unexpected(corrupt("connection", "settings"));
  auto list = read_settings(it->value);
  if (!list)
    return std::unexpected(list.error());
  c.settings = std::move(*list);
  c.stored_in_plain = true;
  return c;
}

} // namespace brokerd::persistence
