#include "api/user_requests.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace brokerd;
using namespace brokerd::api;

TEST_CASE("email syntax: local@domain with a dotted domain", "[user_requests]") {
  for (const char* ok : {"a@b.co", "first.last+tag@example.com", "x_y@sub.example-host.org"})
    CHECK(valid_email(ok));
  for (const char* bad : {"", "a", "a@b", "@b.co", "a@.co", "a@b.", "a..b@c.de", ".a@b.co",
                          "a@b@c.de", "a b@c.de", "a@-b.co", "a@b_c.de", "a@b..co"})
    CHECK_FALSE(valid_email(bad));
  CHECK_FALSE(valid_email(std::string(65, 'a') + "@example.com"));
}

TEST_CASE("a new user needs a valid email, a 12..256 character password and a known tier",
          "[user_requests]") {
  auto ok = parse_new_user_request(
      R"({"email":"Ann@Example.com","password":"twelve chars","tier":"premium"})");
  REQUIRE(ok.has_value());
  CHECK(ok->email == "ann@example.com");
  CHECK(ok->password.reveal() == "twelve chars");
  CHECK(ok->tier == "premium");
  auto plain = parse_new_user_request(R"({"email":"b@example.com","password":"twelve chars"})");
  REQUIRE(plain.has_value());
  CHECK(plain->tier == "free");

  const std::string secret = "eleven char";
  for (const auto& [body, code] : std::vector<std::pair<std::string, std::string>>{
           {"nope", "malformed_json"},
           {"1", "invalid_body"},
           {R"({"email":"b@example.com","password":"twelve chars","x":1})", "unknown_field"},
           {R"({"email":"b@example.com","password":"twelve chars","tier":"free","tier":"free"})",
            "duplicate_field"},
           {R"({"password":"twelve chars"})", "missing_field"},
           {R"({"email":"b@example.com"})", "missing_field"},
           {R"({"email":"b@example","password":"twelve chars"})", "invalid_field"},
           {R"({"email":"b@example.com","password":")" + secret + R"("})", "invalid_field"},
           {R"({"email":"b@example.com","password":")" + std::string(257, 'x') + R"("})",
            "invalid_field"},
           {R"({"email":"b@example.com","password":"twelve chars","tier":"Premium"})",
            "invalid_field"},
           {R"({"email":null,"password":"twelve chars"})", "invalid_field"},
       }) {
    INFO(body);
    auto r = parse_new_user_request(body);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().status == 400);
    CHECK(r.error().error == code);
    CHECK(r.error().message.find(secret) == std::string::npos);
  }
}

TEST_CASE("a user change names a tier, a password or both", "[user_requests]") {
  auto tier = parse_user_patch_request(R"({"tier":"free"})");
  REQUIRE(tier.has_value());
  CHECK(tier->tier == "free");
  CHECK_FALSE(tier->password.has_value());
  auto pw = parse_user_patch_request(R"({"password":"a new password"})");
  REQUIRE(pw.has_value());
  CHECK(pw->password->reveal() == "a new password");
  CHECK(parse_user_patch_request("{}").error().error == "invalid_body");
  CHECK(parse_user_patch_request(R"({"admin":true})").error().error == "unknown_field");
  CHECK(parse_user_patch_request(R"({"password":"short"})").error().error == "invalid_field");
}

TEST_CASE("a login body has exactly email and password", "[user_requests]") {
  auto ok = parse_login_request(R"({"email":"ANN@example.com","password":"x"})");
  REQUIRE(ok.has_value());
  CHECK(ok->email == "ann@example.com");
  CHECK(parse_login_request(R"({"email":"a@b.co"})").error().error == "missing_field");
  CHECK(parse_login_request(R"({"email":"a@b.co","password":"x","remember":true})").error().error ==
        "unknown_field");
}

TEST_CASE("a user's JSON never carries the password hash", "[user_requests]") {
  persistence::user_record u;
  u.id = "usr_1";
  u.email = "a@b.co";
  u.tier = "premium";
  u.password_hash = "scrypt$32768$8$1$c2FsdA==$aGFzaA==";
  auto json = user_json(u);
  CHECK(json.find("scrypt") == std::string::npos);
  CHECK(json.find(R"("hasPassword":true)") != std::string::npos);
  CHECK(json.find(R"("primaryConnectionId":null)") != std::string::npos);
}

TEST_CASE("user and token records keep older forms readable", "[user_requests]") {
  auto old = persistence::decode_user(
      R"({"id":"usr_1","email":"a@b.co","tier":"free","admin":false,"createdAt":5})");
  REQUIRE(old.has_value());
  CHECK(old->password_hash.empty());
  CHECK(old->primary_connection.empty());
  persistence::user_record u = *old;
  u.password_hash = "scrypt$x";
  u.primary_connection = "conn_1";
  CHECK(persistence::decode_user(persistence::encode_user(u)) == u);
  CHECK(persistence::encode_user(*old).find("passwordHash") == std::string::npos);

  auto legacy = persistence::decode_token("usr_1");
  REQUIRE(legacy.has_value());
  CHECK(legacy->user == "usr_1");
  CHECK(legacy->kind == "api");
  CHECK(legacy->expires_ns == 0);
  persistence::token_record t{"usr_2", "session", 99, 7};
  CHECK(persistence::decode_token(persistence::encode_token(t)) == t);
  CHECK_FALSE(persistence::decode_token("").has_value());
  CHECK_FALSE(persistence::decode_token(R"({"user":"u"})").has_value());
}
