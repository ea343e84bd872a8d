#include "tests/support/alpaca_connect.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::test {

std::string alpaca_connect::body() const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  auto text = [&w](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto number = [&w](const char* key, const std::optional<std::int64_t>& value) {
    if (!value)
      return;
    w.Key(key);
    w.Int64(*value);
  };
  w.StartObject();
  w.Key("isPaperTrading");
  w.Bool(paper);
  w.Key("credentials");
  w.StartObject();
  text("apiKey", api_key);
  text("apiSecret", api_secret);
  text("baseUrl", "https://127.0.0.1:" + std::to_string(port));
  if (!ca_file.empty())
    text("caFile", ca_file.string());
  number("requestsPerMinute", requests_per_minute);
  number("requestTimeoutMs", request_timeout_ms);
  number("reconcileIntervalMs", reconcile_interval_ms);
  w.EndObject();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

} // namespace brokerd::test
