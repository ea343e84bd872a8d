#include "api/passwords.hpp"

#include <catch2/catch.hpp>

#include <string>

using brokerd::api::hash_password;
using brokerd::api::scrypt_params;
using brokerd::api::verify_password;

namespace {
/// Cheap parameters so the tests stay fast; the format and checks are the same.
const scrypt_params cheap{1024, 8, 1};
} // namespace

TEST_CASE("a password hash names its parameters and salt and verifies only its password",
          "[passwords]") {
  auto h = hash_password("correct horse battery staple", cheap);
  REQUIRE(h.has_value());
  CHECK(h->starts_with("scrypt$1024$8$1$"));
  CHECK(h->find("correct horse") == std::string::npos);
  CHECK(verify_password("correct horse battery staple", *h));
  CHECK_FALSE(verify_password("correct horse battery stapl", *h));
  CHECK_FALSE(verify_password("", *h));
}

TEST_CASE("the default parameters are N=2^15 r=8 p=1 and hash the same password differently",
          "[passwords]") {
  auto a = hash_password("a long enough password");
  auto b = hash_password("a long enough password");
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->starts_with("scrypt$32768$8$1$"));
  CHECK(*a != *b); // a fresh salt each time
  CHECK(verify_password("a long enough password", *a));
  CHECK(verify_password("a long enough password", *b));
}

TEST_CASE("a malformed, empty or too costly stored hash never verifies", "[passwords]") {
  auto h = *hash_password("pw", cheap);
  auto salt_and_hash = h.substr(std::string{"scrypt$1024$8$1$"}.size());
  for (const std::string& stored : {
           std::string{},
           std::string{"scrypt"},
           "bcrypt$1024$8$1$" + salt_and_hash,
           "scrypt$1000$8$1$" + salt_and_hash,    // N not a power of two
           "scrypt$2097152$8$1$" + salt_and_hash, // N beyond 2^20
           "scrypt$1024$64$1$" + salt_and_hash,   // r beyond 32
           "scrypt$1024$8$0$" + salt_and_hash,
           "scrypt$1024$8$1$!!!!$" + salt_and_hash.substr(salt_and_hash.find('$') + 1),
           h + "$extra",
           h.substr(0, h.size() - 4),
       }) {
    INFO(stored);
    CHECK_FALSE(verify_password("pw", stored));
  }
  CHECK_FALSE(hash_password("pw", scrypt_params{1000, 8, 1}).has_value());
}

TEST_CASE("the decoy hash is valid and matches no chosen password", "[passwords]") {
  const auto& decoy = brokerd::api::decoy_password_hash();
  CHECK(decoy.starts_with("scrypt$"));
  CHECK_FALSE(verify_password("", decoy));
  CHECK_FALSE(verify_password("correct horse battery staple", decoy));
}
