#include "actors/brokers/schwab/tokens.hpp"

#include <catch2/catch.hpp>

using namespace brokerd::actors;
using namespace brokerd::actors::schwab;
namespace persistence = brokerd::persistence;

namespace {

constexpr std::int64_t s = 1'000'000'000;
constexpr std::int64_t t0 = 1'795'000'000 * s;

token_response grant(const char* access, const char* refresh, std::int64_t expires_in = 1800) {
  token_response r;
  r.access_token = secret{access};
  r.refresh_token = secret{refresh};
  r.expires_in = expires_in;
  return r;
}

persistence::vault one_key() {
  return *persistence::vault::with_keys({persistence::master_key::generate()});
}

} // namespace

TEST_CASE("a code grant starts the 7-day login, refreshes renew only the access token",
          "[unit][schwab]") {
  auto first = tokens_from_code_grant(grant("A1", "R1"), t0);
  REQUIRE(first);
  CHECK(first->access_token == secret{"A1"});
  CHECK(first->access_expires_ns == t0 + 1800 * s);
  CHECK(first->refresh_expires_ns == t0 + 7 * 24 * 3600 * s);
  CHECK(first->granted_ns == t0);
  CHECK_FALSE(tokens_from_code_grant(grant("A1", ""), t0).has_value());

  // 25 minutes in: still good; 25 min + 1 s: within the 5-minute leeway, refresh first.
  CHECK_FALSE(access_due(*first, t0 + 1500 * s - 1));
  CHECK(access_due(*first, t0 + 1500 * s));

  // A refresh that rotates the refresh token keeps the login's deadline; one that does not
  // keeps the old refresh token.
  auto rotated = tokens_after_refresh(*first, grant("A2", "R2"), t0 + 1600 * s);
  CHECK(rotated.access_token == secret{"A2"});
  CHECK(rotated.refresh_token == secret{"R2"});
  CHECK(rotated.access_expires_ns == t0 + 3400 * s);
  CHECK(rotated.refresh_expires_ns == first->refresh_expires_ns);
  auto kept = tokens_after_refresh(rotated, grant("A3", ""), t0 + 3300 * s);
  CHECK(kept.refresh_token == secret{"R2"});
  CHECK(kept.access_token == secret{"A3"});
}

TEST_CASE("the login's end is announced a day and an hour before, then it is over",
          "[unit][schwab]") {
  auto t = *tokens_from_code_grant(grant("A", "R"), t0);
  auto end = t.refresh_expires_ns;
  CHECK(refresh_warning_at(t, end - 25 * 3600 * s) == refresh_warning::none);
  CHECK(describe_refresh_warning(t, end - 25 * 3600 * s).empty());
  CHECK(refresh_warning_at(t, end - 24 * 3600 * s) == refresh_warning::day);
  CHECK(describe_refresh_warning(t, end - (23 * 3600 + 59 * 60) * s).find("23 h 59 min") !=
        std::string::npos);
  CHECK(refresh_warning_at(t, end - 3600 * s) == refresh_warning::hour);
  CHECK(describe_refresh_warning(t, end - 30 * 60 * s).find("0 h 30 min") != std::string::npos);
  CHECK_FALSE(refresh_expired(t, end - 1));
  CHECK(refresh_expired(t, end));
  CHECK(refresh_warning_at(t, end) == refresh_warning::expired);
  CHECK(describe_refresh_warning(t, end + s).find("expired") != std::string::npos);
}

TEST_CASE("tokens are stored sealed for one user's connection", "[unit][schwab]") {
  auto v = one_key();
  auto t = *tokens_from_code_grant(grant("access-canary-71", "refresh-canary-72"), t0);
  auto sealed = seal_tokens(t, v, "usr_a", "conn_schwab_1");
  REQUIRE(sealed);
  CHECK(sealed->find("canary") == std::string::npos);
  auto back = open_tokens(*sealed, v, "usr_a", "conn_schwab_1");
  REQUIRE(back);
  CHECK(*back == t);
  CHECK(token_key("conn_schwab_1") == "schwab-tokens/conn_schwab_1");

  for (const auto& wrong : {open_tokens(*sealed, v, "usr_b", "conn_schwab_1"),
                            open_tokens(*sealed, v, "usr_a", "conn_schwab_2"),
                            open_tokens(*sealed, one_key(), "usr_a", "conn_schwab_1")}) {
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().code == persistence::errc::corrupt_record);
    CHECK(wrong.error().message.find("conn_schwab") != std::string::npos);
    CHECK(wrong.error().message.find("canary") == std::string::npos);
  }
  // A connection's sealed settings are not a token record, even for the same ids.
  auto settings = v.seal("[]", persistence::connection_aad("usr_a", "conn_schwab_1"));
  REQUIRE(settings);
  CHECK_FALSE(open_tokens(*settings, v, "usr_a", "conn_schwab_1").has_value());
  auto not_tokens = v.seal("{\"access\":1}", "brokerd-schwab-tokens\nusr_a\nconn_schwab_1");
  REQUIRE(not_tokens);
  auto refused = open_tokens(*not_tokens, v, "usr_a", "conn_schwab_1");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("not a token record") != std::string::npos);
}
