#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace brokerd::api {

/// scrypt's cost parameters (RFC 7914). The defaults (N = 2^15, r = 8, p = 1) take about
/// 32 MiB and some tens of milliseconds per hash.
struct scrypt_params {
  std::uint64_t n = std::uint64_t{1} << 15;
  std::uint32_t r = 8;
  std::uint32_t p = 1;
};

/// Hashes `password` with scrypt (OpenSSL 3, EVP_PBE_scrypt) under a fresh 16-byte random
/// salt into the self-describing form `scrypt$N$r$p$<salt base64>$<hash base64>` (a 32-byte
/// hash), which is all `verify_password` needs. Fails (without the password in the message)
/// when the parameters are out of the bounds `verify_password` accepts or OpenSSL fails.
/// CPU- and memory-heavy: run it off the actors that answer requests.
std::expected<std::string, std::string> hash_password(std::string_view password,
                                                      scrypt_params params = {});

/// True when `password` hashes to `stored` under the parameters and salt `stored` names,
/// compared in constant time (CRYPTO_memcmp). False for a malformed `stored`, an empty one
/// (a user without a password) and parameters beyond N = 2^20, r = 32, p = 16 (a stored
/// value cannot make a check take unbounded memory).
bool verify_password(std::string_view password, std::string_view stored);

/// A valid hash of a password nobody knows, for checking a login of an unknown user at the
/// same cost as a known one (no timing difference reveals which emails exist).
const std::string& decoy_password_hash();

} // namespace brokerd::api
