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
/// "token/<sha-256 hex of the token>" → token_record JSON (or, as stored before sessions
/// existed, the plain user id of an API token). The token itself is never stored.
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
  /// The scrypt hash of the user's password in its self-describing form
  /// (`scrypt$N$r$p$salt$hash`, see api/passwords.hpp); empty when the user has no password
  /// (records stored before passwords existed, the bootstrapped admin): such a user cannot
  /// log in with a password, only use API tokens.
  std::string password_hash;
  /// The connection the user chose as primary (POST /api/brokers/:id/primary); empty for none.
  std::string primary_connection;
  friend bool operator==(const user_record&, const user_record&) = default;
};

/// What a bearer token (or session cookie) stands for; stored under
/// `token/<sha-256 of the token>`.
struct token_record {
  std::string user;
  /// "api" (an API token, no expiry unless set) or "session" (a password login).
  std::string kind = "api";
  /// Wall time in ns after which the token no longer authenticates; 0 = never.
  std::int64_t expires_ns = 0;
  std::int64_t created_ns = 0;
  friend bool operator==(const token_record&, const token_record&) = default;
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

/// The user as stored: `passwordHash` and `primaryConnection` only when set, so records of
/// users without them are unchanged.
std::string encode_user(const user_record& u);
/// Reads a user record; the optional members may be absent (older records).
std::expected<user_record, error> decode_user(std::string_view json);
std::string encode_token(const token_record& t);
/// Reads a token record; a value that is not a JSON object is the plain user id an API token
/// was stored with before token records existed (kind api, no expiry).
std::expected<token_record, error> decode_token(std::string_view value);
/// A connection record with its settings sealed by `v` (bound to the user and connection ids).
std::expected<std::string, error> encode_connection(const connection_record& c, const vault& v);
/// The key id a stored connection record's settings are sealed under; nothing for a record
/// stored in plain or one that is not a connection record.
std::optional<std::string> sealed_key_id(std::string_view json);
/// The record back, its settings opened with `v`: corrupt_record when they do not open (a wrong
/// key, a changed byte, a record moved to another user or connection), naming the connection.
std::expected<connection_record, error> decode_connection(std::string_view json, const vault& v);

} // namespace brokerd::persistence
