#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/logging.hpp"
#include "api/json_io.hpp"
#include "persistence/records.hpp"

namespace brokerd::api {

/// The body of `POST /api/auth/login`: `{"email": string, "password": string}`.
struct login_request {
  std::string email;
  actors::secret password;
};

/// The body of `POST /api/admin/users`: `{"email", "password", "tier"?}`.
struct new_user_request {
  /// Lower-cased.
  std::string email;
  actors::secret password;
  /// "free" (the default) or "premium".
  std::string tier = "free";
};

/// The body of `PATCH /api/admin/users/:id`: `{"tier"?, "password"?}`, at least one.
struct user_patch_request {
  std::optional<std::string> tier;
  std::optional<actors::secret> password;
};

/// Shortest and longest password accepted for a new or changed password.
inline constexpr std::size_t min_password_length = 12;
inline constexpr std::size_t max_password_length = 256;

/// True for an address of the form local@domain: 3..254 characters, one '@', a local part of
/// 1..64 characters from letters, digits and !#$%&'*+/=?^_`{|}~.- (no leading, trailing or
/// double dot), a domain of dot-separated labels of letters, digits and '-' (not at a label's
/// ends) with at least one dot.
bool valid_email(std::string_view email);

/// Parses a login body. Errors (400): malformed_json, invalid_body, duplicate_field,
/// unknown_field, invalid_field (not a string, or longer than an email or password can be),
/// missing_field. The password never appears in a message.
std::expected<login_request, api_error> parse_login_request(std::string_view body);

/// Parses and checks a new user. Errors (400) as for login, and invalid_field for an email
/// that is not valid_email, a password outside 12..256 characters, or a tier other than free
/// or premium.
std::expected<new_user_request, api_error> parse_new_user_request(std::string_view body);

/// Parses a user change; rules as for a new user; invalid_body when it changes nothing.
std::expected<user_patch_request, api_error> parse_user_patch_request(std::string_view body);

/// The REST form of a user: `{"id","email","tier","admin","createdAt","hasPassword",
/// "primaryConnectionId"}` (the last one null when unset). Never the password hash.
std::string user_json(const persistence::user_record& u);

/// `{"users":[...]}`, each as `user_json` renders it.
std::string users_json(const std::vector<persistence::user_record>& users);

} // namespace brokerd::api
