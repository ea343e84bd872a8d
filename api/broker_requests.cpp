#include "api/broker_requests.hpp"

#include <set>
#include <tuple>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "actors/brokers/alpaca/session.hpp"
#include "actors/brokers/ibkr/session.hpp"
#include "actors/brokers/paper/session.hpp"
#include "actors/brokers/schwab/session.hpp"

namespace brokerd::api {

namespace {

api_error bad(std::string code, std::string message, unsigned status = 400) {
  return api_error{status, std::move(code), std::move(message)};
}

/// Checks that `obj` has no duplicate members and none outside `allowed`.
std::expected<void, api_error> check_members(const rapidjson::Value& obj, std::string_view where,
                                             std::initializer_list<std::string_view> allowed) {
  std::set<std::string_view> seen;
  for (auto m = obj.MemberBegin(); m != obj.MemberEnd(); ++m) {
    std::string_view name{m->name.GetString(), m->name.GetStringLength()};
    if (!seen.insert(name).second)
      return std::unexpected(
          bad("duplicate_field", std::string{where} + std::string{name} + " appears twice"));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      return std::unexpected(
          bad("unknown_field", "unknown field " + std::string{where} + std::string{name}));
  }
  return {};
}

api_error custom_host_forbidden(const std::string& field) {
  return bad("custom_host_forbidden",
             field + " names a custom broker endpoint, which this server does not allow (start "
                     "brokerd with --allow-custom-hosts to permit it)",
             403);
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull())
    return nullptr;
  return &it->value;
}

std::expected<std::string, api_error> string_member(const rapidjson::Value& obj, const char* name,
                                                    bool required, std::size_t max_len) {
  const auto* v = member(obj, name);
  if (!v) {
    if (required)
      return std::unexpected(bad("missing_field", std::string{"missing required field credentials."} + name));
    return std::string{};
  }
  if (!v->IsString())
    return std::unexpected(bad("invalid_field", std::string{"credentials."} + name + " must be a string"));
  std::string s{v->GetString(), v->GetStringLength()};
  if (s.empty() || s.size() > max_len)
    return std::unexpected(bad("invalid_field", std::string{"credentials."} + name + " must be 1 to " +
                                                    std::to_string(max_len) + " characters"));
  return s;
}

std::expected<std::int64_t, api_error> int_member(const rapidjson::Value& obj, const char* name,
                                                  std::int64_t lo, std::int64_t hi) {
  const auto* v = member(obj, name);
  if (!v)
    return std::unexpected(bad("missing_field", std::string{"missing required field credentials."} + name));
  if (!v->IsInt64() || v->GetInt64() < lo || v->GetInt64() > hi)
    return std::unexpected(bad("invalid_field", std::string{"credentials."} + name + " must be an integer " +
                                                    std::to_string(lo) + ".." + std::to_string(hi)));
  return v->GetInt64();
}

} // namespace

std::expected<connect_request, api_error> parse_connect_request(std::string_view broker,
                                                                std::string_view body,
                                                                bool allow_custom_hosts) {
  connect_request out;
  auto id = engine::parse_broker_id(broker);
  if (!id)
    return std::unexpected(bad("unknown_broker", "no broker " + std::string{broker} +
                                                     " (alpaca, ibkr, schwab, paper)", 404));
  out.broker = *id;

  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(body.data(), body.size());
  if (doc.HasParseError())
    return std::unexpected(bad("malformed_json",
                               std::string{rapidjson::GetParseError_En(doc.GetParseError())} +
                                   " at offset " + std::to_string(doc.GetErrorOffset())));
  if (!doc.IsObject())
    return std::unexpected(bad("invalid_body", "request body must be a JSON object"));
  if (auto ok = check_members(doc, "", {"isPaperTrading", "credentials"}); !ok)
    return std::unexpected(ok.error());
  if (const auto* paper = member(doc, "isPaperTrading")) {
    if (!paper->IsBool())
      return std::unexpected(bad("invalid_field", "isPaperTrading must be a boolean"));
    out.paper_trading = paper->GetBool();
  }
  static const rapidjson::Value empty_object{rapidjson::kObjectType};
  const auto* creds = member(doc, "credentials");
  if (creds && !creds->IsObject())
    return std::unexpected(bad("invalid_field", "credentials must be an object"));
  if (!creds) {
    if (out.broker != engine::broker_id::paper)
      return std::unexpected(bad("missing_field", "missing required field credentials"));
    creds = &empty_object;
  }

  switch (out.broker) {
    case engine::broker_id::ibkr: {
      if (auto ok = check_members(*creds, "credentials.", {"host", "port", "clientId", "account"}); !ok)
        return std::unexpected(ok.error());
      auto host = string_member(*creds, "host", true, 253);
      if (!host)
        return std::unexpected(host.error());
      auto port = int_member(*creds, "port", 1, 65535);
      if (!port)
        return std::unexpected(port.error());
      auto client = int_member(*creds, "clientId", 0, 2147483647);
      if (!client)
        return std::unexpected(client.error());
      auto account = string_member(*creds, "account", false, 32);
      if (!account)
        return std::unexpected(account.error());
      if (!allow_custom_hosts && *host != "127.0.0.1" && *host != "localhost" && *host != "::1")
        return std::unexpected(custom_host_forbidden("credentials.host"));
      out.settings = {{"host", *host},
                      {"port", std::to_string(*port)},
                      {"client_id", std::to_string(*client)}};
      if (!account->empty())
        out.settings.emplace_back("account", *account);
      if (auto cfg = actors::ibkr::parse_config(out.settings); !cfg)
        return std::unexpected(bad("invalid_field", "credentials: " + cfg.error()));
      break;
    }
    case engine::broker_id::paper: {
      if (auto ok = check_members(*creds, "credentials.", {"cash"}); !ok)
        return std::unexpected(ok.error());
      auto cash = string_member(*creds, "cash", false, 32);
      if (!cash)
        return std::unexpected(cash.error());
      if (!cash->empty())
        out.settings.emplace_back("cash", *cash);
      if (auto cfg = actors::paper::parse_config(out.settings); !cfg)
        return std::unexpected(bad("invalid_field", "credentials: " + cfg.error()));
      break;
    }
    case engine::broker_id::alpaca: {
      if (auto ok = check_members(*creds, "credentials.",
                                  {"apiKey", "apiSecret", "baseUrl", "streamUrl", "caFile",
                                   "requestsPerMinute", "requestTimeoutMs",
                                   "reconcileIntervalMs"});
          !ok)
        return std::unexpected(ok.error());
      auto key = string_member(*creds, "apiKey", true, 256);
      if (!key)
        return std::unexpected(key.error());
      auto secret = string_member(*creds, "apiSecret", true, 256);
      if (!secret)
        return std::unexpected(secret.error());
      out.settings = {{"key_id", *key},
                      {"secret", *secret},
                      {"paper", out.paper_trading ? "true" : "false"}};
      for (auto [member_name, key_name] : {std::pair{"baseUrl", "base_url"},
                                           std::pair{"streamUrl", "stream_url"},
                                           std::pair{"caFile", "ca_file"}}) {
        auto text = string_member(*creds, member_name, false, 4096);
        if (!text)
          return std::unexpected(text.error());
        if (text->empty())
          continue;
        if (!allow_custom_hosts)
          return std::unexpected(custom_host_forbidden(std::string{"credentials."} + member_name));
        out.settings.emplace_back(key_name, *text);
      }
      for (auto [member_name, key_name, lo, hi] :
           {std::tuple{"requestsPerMinute", "requests_per_minute", 1, 1'000},
            std::tuple{"requestTimeoutMs", "request_timeout_ms", 100, 600'000},
            std::tuple{"reconcileIntervalMs", "reconcile_interval_ms", 0, 86'400'000}}) {
        if (!member(*creds, member_name))
          continue;
        auto n = int_member(*creds, member_name, lo, hi);
        if (!n)
          return std::unexpected(n.error());
        out.settings.emplace_back(key_name, std::to_string(*n));
      }
      // The session's own check names the setting, never its value.
      if (auto cfg = actors::alpaca::parse_config(out.settings); !cfg)
        return std::unexpected(bad("invalid_field", "credentials: " + cfg.error()));
      break;
    }
    case engine::broker_id::schwab: {
      if (auto ok = check_members(*creds, "credentials.",
                                  {"appKey", "appSecret", "redirectUri", "baseUrl", "caFile",
                                   "account", "requestsPerMinute"});
          !ok)
        return std::unexpected(ok.error());
      auto key = string_member(*creds, "appKey", true, 256);
      if (!key)
        return std::unexpected(key.error());
      auto secret = string_member(*creds, "appSecret", true, 256);
      if (!secret)
        return std::unexpected(secret.error());
      out.settings = {{"app_key", *key}, {"app_secret", *secret}};
      for (auto [member_name, key_name, custom] :
           {std::tuple{"redirectUri", "redirect_uri", false},
            std::tuple{"account", "account", false}, std::tuple{"baseUrl", "base_url", true},
            std::tuple{"caFile", "ca_file", true}}) {
        auto text = string_member(*creds, member_name, false, 4096);
        if (!text)
          return std::unexpected(text.error());
        if (text->empty())
          continue;
        if (custom && !allow_custom_hosts)
          return std::unexpected(custom_host_forbidden(std::string{"credentials."} + member_name));
        out.settings.emplace_back(key_name, *text);
      }
      if (member(*creds, "requestsPerMinute")) {
        auto n = int_member(*creds, "requestsPerMinute", 1, 120);
        if (!n)
          return std::unexpected(n.error());
        out.settings.emplace_back("requests_per_minute", std::to_string(*n));
      }
      if (auto cfg = actors::schwab::parse_config(out.settings); !cfg)
        return std::unexpected(bad("invalid_field", "credentials: " + cfg.error()));
      break;
    }
  }
  return out;
}

} // namespace brokerd::api
