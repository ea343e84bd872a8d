#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace brokerd::brokerctl {

/// A running brokerd's HTTP address, from `--url http://HOST:PORT` (plain HTTP only: reach a
/// remote brokerd through an SSH tunnel or a TLS proxy's local side).
struct server_url {
  std::string host;
  std::uint16_t port = 80;
};

/// Parses `http://HOST[:PORT][/]`; the message names what is wrong.
std::expected<server_url, std::string> parse_server_url(std::string_view url);

/// One answer of brokerd's API.
struct api_answer {
  unsigned status = 0;
  std::string body;
};

/// Sends one request with `Authorization: Bearer <token>` and a JSON body (when not empty),
/// and reads the answer; blocking (Boost.Beast, synchronous), bounded by `timeout_s` seconds.
/// Fails with a message (never containing the token) when brokerd cannot be reached.
std::expected<api_answer, std::string> call_api(const server_url& server, std::string_view method,
                                                std::string_view target, std::string_view token,
                                                std::string_view body, int timeout_s = 30);

} // namespace brokerd::brokerctl
