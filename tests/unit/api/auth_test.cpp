#include "api/auth.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/files.hpp"

using brokerd::api::authenticate;
using brokerd::api::bearer_token;
using brokerd::api::bootstrap_admin;
using brokerd::api::random_hex;
using brokerd::api::sha256_hex;
using brokerd::test::file_mode;
using brokerd::test::read_file;
using brokerd::test::temp_dir;
namespace persistence = brokerd::persistence;

namespace {

std::unique_ptr<persistence::event_log>
open_log(const std::filesystem::path& dir,
         persistence::open_mode mode = persistence::open_mode::read_write) {
  auto log = persistence::event_log::open(dir, mode);
  REQUIRE(log.has_value());
  return std::make_unique<persistence::event_log>(std::move(*log));
}

/// Stores a user and one token of it, as the registry holds them.
void add_user(persistence::event_log& log, const std::string& id, const std::string& token) {
  persistence::user_record u;
  u.id = id;
  u.email = id + "@example.com";
  std::vector<persistence::registry_write> writes{
      {std::string{persistence::registry_keys::user} + id, persistence::encode_user(u)},
      {std::string{persistence::registry_keys::token} + sha256_hex(token), id},
  };
  REQUIRE(log.append({}, true, writes).has_value());
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
    s.pop_back();
  return s;
}

} // namespace

TEST_CASE(
    "sha256_hex is the lower-case hex digest and random_hex gives fresh hex of the asked size",
    "[auth]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  auto a = random_hex(16);
  auto b = random_hex(16);
  CHECK(a.size() == 32);
  CHECK(std::all_of(a.begin(), a.end(),
                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  CHECK(a != b);
}

TEST_CASE("bearer_token takes the token of a Bearer header and refuses anything else", "[auth]") {
  std::string token16 = "abcdefghijklmnop";
  CHECK(bearer_token("Bearer " + token16) == token16);
  CHECK(bearer_token("bearer " + token16) == token16);
  CHECK(bearer_token("BEARER " + token16) == token16);
  CHECK(bearer_token("Bearer " + std::string(256, 'x')) == std::string(256, 'x'));

  CHECK_FALSE(bearer_token(""));
  CHECK_FALSE(bearer_token("Bearer"));
  CHECK_FALSE(bearer_token("Bearer "));
  CHECK_FALSE(bearer_token("Basic " + token16));
  CHECK_FALSE(bearer_token("Bearer:" + token16));
  CHECK_FALSE(bearer_token("Bearer abcdefghijklmno")); // 15 characters
  CHECK_FALSE(bearer_token("Bearer " + std::string(257, 'x')));
  CHECK_FALSE(bearer_token("Bearer abcdefgh ijklmnop"));
  CHECK_FALSE(bearer_token("Bearer  " + token16)); // the token would start with a space
  CHECK_FALSE(bearer_token("Bearer abcdefghijklmnop\x7f"));
  CHECK_FALSE(bearer_token("Bearer abcdefghijklmnop\xc3\xa9"));
}

TEST_CASE("authenticate resolves a known token to its user and refuses unknown, revoked and "
          "orphaned tokens",
          "[auth]") {
  temp_dir dir{"brokerd-auth"};
  auto log = open_log(dir / "events");
  add_user(*log, "usr_bob", "bob-token-0123456789");

  auto bob = authenticate(*log, "bob-token-0123456789");
  REQUIRE(bob);
  CHECK(bob->id == "usr_bob");
  CHECK(bob->email == "usr_bob@example.com");
  CHECK_FALSE(bob->admin);

  CHECK_FALSE(authenticate(*log, "bob-token-0123456780"));
  CHECK_FALSE(authenticate(*log, ""));

  SECTION("a revoked token") {
    REQUIRE(log->erase(std::string{persistence::registry_keys::token} +
                       sha256_hex("bob-token-0123456789"))
                .has_value());
    CHECK_FALSE(authenticate(*log, "bob-token-0123456789"));
  }
  SECTION("a token whose user was removed") {
    REQUIRE(log->erase(std::string{persistence::registry_keys::user} + "usr_bob").has_value());
    CHECK_FALSE(authenticate(*log, "bob-token-0123456789"));
  }
  SECTION("a token whose user record is damaged") {
    REQUIRE(
        log->put(std::string{persistence::registry_keys::user} + "usr_bob", "{nope").has_value());
    CHECK_FALSE(authenticate(*log, "bob-token-0123456789"));
  }
}

TEST_CASE("bootstrap_admin creates the admin and a 0600 token file once, then reuses the admin",
          "[auth]") {
  temp_dir dir{"brokerd-auth"};
  auto log = open_log(dir / "events");
  // Another user does not count as an admin.
  add_user(*log, "usr_bob", "bob-token-0123456789");

  auto first = bootstrap_admin(*log, dir.path());
  REQUIRE(first.has_value());
  CHECK(first->created);
  CHECK(first->token_file == dir / "admin-token");
  CHECK(file_mode(first->token_file) == 0600u);
  auto token = trimmed(read_file(first->token_file));
  CHECK(token.size() == 64);
  CHECK_FALSE(std::filesystem::exists(dir / "admin-token.tmp"));

  auto admin = authenticate(*log, token);
  REQUIRE(admin);
  CHECK(admin->id == first->user_id);
  CHECK(admin->admin);
  CHECK(admin->tier == "premium");

  auto second = bootstrap_admin(*log, dir.path());
  REQUIRE(second.has_value());
  CHECK_FALSE(second->created);
  CHECK(second->user_id == first->user_id);
  // The token file is left as it was: the first token still works.
  CHECK(trimmed(read_file(first->token_file)) == token);
  auto users = log->scan_prefix(persistence::registry_keys::user);
  REQUIRE(users.has_value());
  CHECK(users->size() == 2);
}

TEST_CASE("bootstrap_admin that cannot write the token file creates no admin", "[auth]") {
  temp_dir dir{"brokerd-auth"};
  auto log = open_log(dir / "events");
  auto failed = bootstrap_admin(*log, dir / "missing");
  REQUIRE_FALSE(failed.has_value());
  CHECK_THAT(failed.error(), Catch::Contains("cannot create"));
  auto users = log->scan_prefix(persistence::registry_keys::user);
  REQUIRE(users.has_value());
  CHECK(users->empty());

  // A later start with a usable directory creates the admin.
  auto ok = bootstrap_admin(*log, dir.path());
  REQUIRE(ok.has_value());
  CHECK(ok->created);
}

TEST_CASE("bootstrap_admin on a log it cannot write reports the failure", "[auth]") {
  temp_dir dir{"brokerd-auth"};
  { auto rw = open_log(dir / "events"); }
  auto ro = open_log(dir / "events", persistence::open_mode::read_only);
  auto failed = bootstrap_admin(*ro, dir.path());
  REQUIRE_FALSE(failed.has_value());
  CHECK_THAT(failed.error(), Catch::StartsWith("cannot store the admin user: "));
  CHECK(ro->scan_prefix(persistence::registry_keys::user)->empty());
}

TEST_CASE("a session token authenticates until its expiry; an old plain API token still does",
          "[auth]") {
  temp_dir dir{"brokerd-auth-expiry"};
  auto log = open_log(dir.path());
  add_user(*log, "usr_old", "old-token-0123456789");
  persistence::token_record session{"usr_old", "session", 1'000, 10};
  std::vector<persistence::registry_write> writes{
      {brokerd::api::token_key("session-token-0123456789"), persistence::encode_token(session)}};
  REQUIRE(log->append({}, true, writes).has_value());
  using brokerd::api::authenticate_token;
  auto found = authenticate_token(*log, "session-token-0123456789", 999);
  REQUIRE(found.has_value());
  CHECK(found->user.id == "usr_old");
  CHECK(found->token.kind == "session");
  CHECK_FALSE(authenticate_token(*log, "session-token-0123456789", 1'000).has_value());
  auto old = authenticate_token(*log, "old-token-0123456789", 1'000'000);
  REQUIRE(old.has_value());
  CHECK(old->token.kind == "api");
  CHECK(old->token.expires_ns == 0);
}

TEST_CASE("session_cookie finds brokerd_session among the cookies and refuses bad values",
          "[auth]") {
  using brokerd::api::session_cookie;
  CHECK(session_cookie("brokerd_session=abcdef0123456789") == "abcdef0123456789");
  CHECK(session_cookie("theme=dark; brokerd_session=abcdef0123456789; x=1") == "abcdef0123456789");
  CHECK_FALSE(session_cookie("theme=dark").has_value());
  CHECK_FALSE(session_cookie("brokerd_session=short").has_value());
  CHECK_FALSE(session_cookie("xbrokerd_session=abcdef0123456789").has_value());
  CHECK_FALSE(
      session_cookie(std::string{"brokerd_session=abcdef"} + '\x01' + "0123456789").has_value());
  CHECK_FALSE(session_cookie("").has_value());
}

TEST_CASE("the token cache answers like the registry: revocations, user changes and expiry are "
          "seen at once",
          "[auth]") {
  temp_dir dir{"brokerd-auth-cache"};
  auto log = open_log(dir.path());
  add_user(*log, "usr_a", "token-a-0123456789");
  persistence::token_record session{"usr_a", "session", 1'000, 10};
  std::vector<persistence::registry_write> writes{
      {brokerd::api::token_key("session-a-0123456789"), persistence::encode_token(session)}};
  REQUIRE(log->append({}, true, writes).has_value());

  brokerd::api::token_cache cache;
  auto first = cache.resolve(*log, "token-a-0123456789", 500);
  REQUIRE(first.has_value());
  CHECK(first->user.id == "usr_a");
  CHECK(cache.size() == 1);
  CHECK_FALSE(cache.resolve(*log, "unknown-token-0123456789", 500).has_value());
  CHECK(cache.size() == 1); // refusals are not kept

  // Events alone change no registry record: the cache stays.
  persistence::event ev;
  ev.type = "order.status";
  ev.order_id = "ord_1";
  persistence::event_batch batch{ev};
  REQUIRE(log->append(batch, false).has_value());
  REQUIRE(cache.resolve(*log, "session-a-0123456789", 999).has_value());
  CHECK(cache.size() == 2);
  // Expiry is checked on each use, cached or not.
  CHECK_FALSE(cache.resolve(*log, "session-a-0123456789", 1'000).has_value());

  // A user change is read again.
  persistence::user_record changed = first->user;
  changed.tier = "premium";
  std::vector<persistence::registry_write> patch{
      {std::string{persistence::registry_keys::user} + "usr_a", persistence::encode_user(changed)}};
  REQUIRE(log->append({}, true, patch).has_value());
  auto again = cache.resolve(*log, "token-a-0123456789", 500);
  REQUIRE(again.has_value());
  CHECK(again->user.tier == "premium");

  // A revoked token is refused at once.
  std::vector<persistence::registry_write> revoke{
      {brokerd::api::token_key("token-a-0123456789"), std::nullopt}};
  REQUIRE(log->append({}, true, revoke).has_value());
  CHECK_FALSE(cache.resolve(*log, "token-a-0123456789", 500).has_value());
}

TEST_CASE("the token cache holds at most its capacity", "[auth]") {
  temp_dir dir{"brokerd-auth-cache-cap"};
  auto log = open_log(dir.path());
  for (int i = 0; i < 5; ++i)
    add_user(*log, "usr_" + std::to_string(i), "token-" + std::to_string(i) + "-0123456789");
  brokerd::api::token_cache cache{3};
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 5; ++i) {
      auto found = cache.resolve(*log, "token-" + std::to_string(i) + "-0123456789", 1);
      REQUIRE(found.has_value());
      CHECK(found->user.id == "usr_" + std::to_string(i));
      CHECK(cache.size() <= 3);
    }
}
