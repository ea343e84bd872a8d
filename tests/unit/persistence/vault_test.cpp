#include "persistence/vault.hpp"

#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "persistence/records.hpp"
#include "tests/support/files.hpp"

using namespace brokerd::persistence;

namespace {

vault one_key() { return *vault::with_keys({master_key::generate()}); }

/// `sealed` with one character of part `part` (1: key id, 2: IV, 3: body) changed.
std::string flip(std::string sealed, int part) {
  std::size_t at = 0;
  for (int i = 0; i < part; ++i)
    at = sealed.find('.', at) + 1;
  sealed[at + 1] = sealed[at + 1] == 'A' ? 'B' : 'A';
  return sealed;
}

void write_file(const std::filesystem::path& p, const std::string& text, mode_t mode) {
  std::ofstream{p} << text;
  ::chmod(p.c_str(), mode);
}

connection_record alpaca_record() {
  connection_record c;
  c.id = "conn_alpaca_1";
  c.user = "usr_a";
  c.broker = "alpaca";
  c.created_ns = 42;
  c.settings = {{"key_id", "PKCANARY"}, {"secret", "canary-s3cret-9f1c"}};
  return c;
}

} // namespace

TEST_CASE("the vault seals with a fresh IV and opens only with the same data bound to it",
          "[unit][vault]") {
  auto v = one_key();
  auto aad = connection_aad("usr_a", "conn_1");
  auto a = v.seal("canary-s3cret-9f1c", aad);
  auto b = v.seal("canary-s3cret-9f1c", aad);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*a != *b); // a fresh IV every time
  CHECK(a->find("canary") == std::string::npos);
  CHECK(a->starts_with("v1." + v.current_key_id() + "."));
  CHECK(vault::key_id_of(*a) == v.current_key_id());
  CHECK(v.open(*a, aad) == "canary-s3cret-9f1c");
  CHECK(v.open(*b, aad) == "canary-s3cret-9f1c");
  auto empty = v.seal("", aad);
  REQUIRE(empty);
  CHECK(v.open(*empty, aad) == "");

  // Another user or connection, a changed byte, a wrong key: a clear error, never the content.
  for (const auto& [what, result] :
       std::vector<std::pair<std::string, std::expected<std::string, error>>>{
           {"other user", v.open(*a, connection_aad("usr_b", "conn_1"))},
           {"other connection", v.open(*a, connection_aad("usr_a", "conn_2"))},
           {"changed IV", v.open(flip(*a, 2), aad)},
           {"changed body", v.open(flip(*a, 3), aad)},
           {"wrong key", one_key().open(*a, aad)},
           {"changed key id", v.open(flip(*a, 1), aad)},
           {"not sealed", v.open("canary-s3cret-9f1c", aad)},
           {"bad base64", v.open("v1." + v.current_key_id() + ".!!!!.AAAA", aad)},
           {"short body", v.open("v1." + v.current_key_id() + ".AAAAAAAAAAAAAAAA.AAAA", aad)},
       }) {
    INFO(what);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == errc::corrupt_record);
    CHECK(result.error().message.find("canary") == std::string::npos);
  }
  CHECK(one_key().open(*a, aad).error().message.find(v.current_key_id()) != std::string::npos);
}

TEST_CASE("a vault with an older key still opens what that key sealed", "[unit][vault]") {
  auto old_key = master_key::generate();
  auto old_vault = *vault::with_keys({old_key});
  auto sealed = old_vault.seal("token", "aad");
  REQUIRE(sealed);
  auto new_key = master_key::generate();
  auto rotated = vault::with_keys({new_key, old_key});
  REQUIRE(rotated);
  CHECK(rotated->current_key_id() == new_key.id);
  CHECK(rotated->open(*sealed, "aad") == "token");
  CHECK(vault::key_id_of(*rotated->seal("token", "aad")) == new_key.id);
  CHECK_FALSE(vault::with_keys({}).has_value());
  CHECK_FALSE(vault::with_keys({new_key, new_key}).has_value());
}

TEST_CASE("master keys come from base64 text of exactly 32 bytes", "[unit][vault]") {
  auto k = master_key::generate();
  auto back = master_key::from_base64(k.to_base64());
  REQUIRE(back);
  CHECK(back->id == k.id);
  CHECK(back->bytes == k.bytes);
  CHECK(k.id.size() == 16);
  for (auto bad : {"", "short", "AAAA", "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!",
                   "QUJD"}) {
    INFO(bad);
    CHECK_FALSE(master_key::from_base64(bad).has_value());
  }
  auto env = vault::from_env_value(k.to_base64() + "," + master_key::generate().to_base64());
  REQUIRE(env);
  CHECK(env->current_key_id() == k.id);
  CHECK(env->keys().size() == 2);
  auto bad_env = vault::from_env_value("nope");
  REQUIRE_FALSE(bad_env);
  CHECK(bad_env.error().message.find("BROKERD_MASTER_KEY") != std::string::npos);
}

TEST_CASE("key files are private, one key a line, written atomically", "[unit][vault]") {
  brokerd::test::temp_dir dir{"brokerd-vault"};
  auto file = dir.path() / "master.key";
  auto k1 = master_key::generate();
  auto k2 = master_key::generate();
  REQUIRE(vault::write_key_file(file, {k1, k2}));
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(std::filesystem::exists(dir.path() / "master.key.tmp"));
  auto v = vault::from_key_file(file);
  REQUIRE(v);
  CHECK(v->current_key_id() == k1.id);
  CHECK(v->keys().size() == 2);

  auto shared = dir.path() / "shared.key";
  write_file(shared, k1.to_base64() + "\n", 0644);
  auto refused = vault::from_key_file(shared);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("0600") != std::string::npos);

  auto broken = dir.path() / "broken.key";
  write_file(broken, "# comment\n\n" + k1.to_base64() + "\nnot-a-key\n", 0600);
  auto bad_line = vault::from_key_file(broken);
  REQUIRE_FALSE(bad_line);
  CHECK(bad_line.error().message.find("line 4") != std::string::npos);

  auto empty = dir.path() / "empty.key";
  write_file(empty, "# nothing\n", 0600);
  CHECK_FALSE(vault::from_key_file(empty).has_value());
  auto missing = vault::from_key_file(dir.path() / "absent.key");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::not_found);
  CHECK_FALSE(vault::write_key_file(dir.path() / "no-such-dir" / "k", {k1}).has_value());
}

TEST_CASE("connection records keep their settings sealed, bound to user and connection",
          "[unit][vault]") {
  auto v = one_key();
  auto c = alpaca_record();
  auto stored = encode_connection(c, v);
  REQUIRE(stored);
  CHECK(stored->find("canary") == std::string::npos);
  CHECK(stored->find("PKCANARY") == std::string::npos);
  CHECK(sealed_key_id(*stored) == v.current_key_id());
  auto back = decode_connection(*stored, v);
  REQUIRE(back);
  CHECK(back->settings == c.settings);
  CHECK_FALSE(back->stored_in_plain);
  CHECK(*back == c);

  // The same sealed settings under another user's record do not open.
  auto moved = *stored;
  moved.replace(moved.find("usr_a"), 5, "usr_b");
  auto refused = decode_connection(moved, v);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == errc::corrupt_record);
  CHECK(refused.error().message.find("conn_alpaca_1") != std::string::npos);
  CHECK_FALSE(decode_connection(*stored, one_key()).has_value());

  // A record written before the vault reads back in plain, flagged to be sealed again.
  std::string legacy =
      R"({"id":"conn_p","user":"usr_a","broker":"paper","paperTrading":true,"active":true,)"
      R"("createdAt":1,"settings":[["cash","100"]]})";
  auto old = decode_connection(legacy, v);
  REQUIRE(old);
  CHECK(old->stored_in_plain);
  CHECK(old->settings.size() == 1);
  CHECK_FALSE(sealed_key_id(legacy).has_value());
  CHECK_FALSE(sealed_key_id("not json").has_value());
  for (auto bad : {R"({"id":"c","user":"u","broker":"b","paperTrading":true,"active":true,"createdAt":1})",
                   R"({"id":"c","user":"u","broker":"b","paperTrading":true,"active":true,"createdAt":1,"sealedSettings":5})",
                   R"({"id":"c","user":"u","broker":"b","paperTrading":true,"active":true,"createdAt":1,"settings":[[1,2]]})"}) {
    INFO(bad);
    CHECK_FALSE(decode_connection(bad, v).has_value());
  }
}
