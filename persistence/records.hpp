#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "persistence/errc.hpp"

namespace brokerd::persistence {

/// Registry key prefixes (a contract with existing databases: add, never rename).
namespace registry_keys {
/// "user/<user id>" → user_record JSON.
inline constexpr std::string_view user = "user/";
/// "token/<sha-256 hex of the token>" → user id. The token itself is never stored.
inline constexpr std::string_view token = "token/";
/// "conn/<connection id>" → connection_record JSON.
inline constexpr std::string_view connection = "conn/";
} // namespace registry_keys

/// A brokerd user.
struct user_record {
  std::string id;
  std::string email;
  /// "free" or "premium".
  std::string tier = "free";
  bool admin = false;
  std::int64_t created_ns = 0;
  friend bool operator==(const user_record&, const user_record&) = default;
};

/// A user's connection to one broker account. `settings` hold non-secret settings only
/// (paper prices, a simulator URL); credentials are stored apart, encrypted.
struct connection_record {
  std::string id;
  std::string user;
  /// Broker id text: paper, alpaca, ibkr, schwab.
  std::string broker;
  bool paper_trading = true;
  bool active = true;
  std::int64_t created_ns = 0;
  std::vector<std::pair<std::string, std::string>> settings;
  friend bool operator==(const connection_record&, const connection_record&) = default;
};

std::string encode_user(const user_record& u);
std::expected<user_record, error> decode_user(std::string_view json);
std::string encode_connection(const connection_record& c);
std::expected<connection_record, error> decode_connection(std::string_view json);

} // namespace brokerd::persistence
