#pragma once

// A small blocking HTTPS client for the simulators' tests: requests on one keep-alive
// connection over TLS verified against a given CA. Every operation has a timeout; nothing
// blocks forever. Beast stays inside the .cpp.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

namespace brokerd::test {

/// Parses JSON (an empty object for text that is not JSON).
rapidjson::Document parse(std::string_view text);

/// The string member `name` of `v`, or "<none>" when it is absent or not a string.
std::string str(const rapidjson::Value& v, const char* name);

/// The whole seconds of a Retry-After header; 0 when it is missing or not a number.
int retry_after_seconds(const std::string& value);

/// A status, the response headers (names lower-cased) and the body.
struct http_reply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  [[nodiscard]] rapidjson::Document json() const { return parse(body); }
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
  }
  [[nodiscard]] bool has_header(const std::string& lower_name) const {
    return headers.contains(lower_name);
  }
};

/// One HTTPS keep-alive connection to 127.0.0.1:port. Not thread-safe.
class https_client {
public:
  /// Connects and completes the TLS handshake, verifying the server against `ca` for the
  /// address 127.0.0.1 (an empty `ca` trusts nothing); throws std::runtime_error with the
  /// reason when that fails.
  https_client(std::uint16_t port, const std::filesystem::path& ca);
  ~https_client();
  https_client(const https_client&) = delete;
  https_client& operator=(const https_client&) = delete;

  /// Sent with every request. A request with a body is sent with Content-Type
  /// application/json unless a Content-Type is given here.
  std::vector<std::pair<std::string, std::string>> headers;

  /// One request; status 0 when it timed out or the connection failed (the client is then
  /// closed).
  http_reply request(std::string_view method, std::string_view target, std::string body = {},
                     std::chrono::milliseconds timeout = std::chrono::milliseconds{3000});
  http_reply get(std::string_view target) { return request("GET", target); }
  http_reply post(std::string_view target, std::string body) {
    return request("POST", target, std::move(body));
  }
  http_reply del(std::string_view target) { return request("DELETE", target); }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::test
