#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "persistence/errc.hpp"
#include "persistence/vault.hpp"

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
  /// The session settings, credentials included: sealed by the vault when stored.
  std::vector<std::pair<std::string, std::string>> settings;
  /// Set by decode_connection for a record stored before the vault, with its settings in
  /// plain: the caller stores it again, sealed.
  bool stored_in_plain = false;
  friend bool operator==(const connection_record&, const connection_record&) = default;
};

std::string encode_user(const user_record& u);
std::expected<user_record, error> decode_user(std::string_view json);
/// A connection record with its settings sealed by `v` (bound to the user and connection ids).
std::expected<std::string, error> encode_connection(const connection_record& c, const vault& v);
/// The key id a stored connection record's settings are sealed under; nothing for a record
/// stored in plain or one that is not a connection record.
std::optional<std::string> sealed_key_id(std::string_view json);
/// The record back, its settings opened with `v`: corrupt_record when they do not open (a wrong
/// key, a changed byte, a record moved to another user or connection), naming the connection.
std::expected<connection_record, error> decode_connection(std::string_view json, const vault& v);

} // namespace brokerd::persistence
