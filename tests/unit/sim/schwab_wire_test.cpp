// The wire forms of the Schwab simulator: timestamps, form decoding, base64 and numbers.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "tools/sim/schwab_wire.hpp"

namespace schwab = brokerd::sim::schwab;
using brokerd::engine::decimal;
using namespace std::chrono;

TEST_CASE("Schwab timestamps have a colon-less +0000 offset", "[sim][schwab]") {
  auto t = sys_days{year{2024} / 5 / 18} + hours{5} + minutes{38} + seconds{44} + milliseconds{999};
  CHECK(schwab::format_time(t) == "2024-05-18T05:38:44+0000");
}

TEST_CASE("the orders window accepts the three ISO-8601 forms of the reference", "[sim][schwab]") {
  auto base = sys_days{year{2024} / 1 / 10} + hours{12} + minutes{17} + seconds{41};
  CHECK(schwab::parse_time("2024-01-10T12:17:41Z") == base);
  CHECK(schwab::parse_time("2024-01-10T12:17:41.000Z") == base);
  CHECK(schwab::parse_time("2024-01-10T12:17:41.250Z") == base + milliseconds{250});
  CHECK(schwab::parse_time("2024-01-10T14:17:41+02:00") == base);
  CHECK(schwab::parse_time("2024-01-10T14:17:41+0200") == base);
  CHECK(schwab::parse_time("2024-01-10T10:17:41-02:00") == base);
  CHECK(schwab::parse_time("2024-01-10T12:17:41") == base);
  CHECK(!schwab::parse_time("2024-01-10"));
  CHECK(!schwab::parse_time("2024-02-30T00:00:00Z"));
  CHECK(!schwab::parse_time("2024-01-10T12:17:41+2"));
  CHECK(!schwab::parse_time("2024-01-10T12:17:41 UTC"));
  CHECK(!schwab::parse_time("yesterday"));
}

TEST_CASE("forms decode percent escapes and plus signs and refuse broken escapes",
          "[sim][schwab]") {
  auto f = schwab::parse_form("grant_type=refresh_token&code=C0.abc%40&x=a+b&flag&&dup=1&dup=2");
  REQUIRE(f);
  CHECK(f->at("code") == "C0.abc@");
  CHECK(f->at("x") == "a b");
  CHECK(f->at("flag").empty());
  CHECK(f->at("dup") == "1");
  CHECK(!schwab::parse_form("a=%4"));
  CHECK(!schwab::parse_form("a=%zz"));
  CHECK(schwab::percent_encode("https://127.0.0.1/cb?x=1@") ==
        "https%3A%2F%2F127.0.0.1%2Fcb%3Fx%3D1%40");
}

TEST_CASE("base64 round-trips and refuses text that is not base64", "[sim][schwab]") {
  for (std::string text : {"", "a", "ab", "abc", "demo-app-key:demo-app-secret"})
    CHECK(schwab::base64_decode(schwab::base64_encode(text)) == text);
  CHECK(schwab::base64_encode("ab") == "YWI=");
  CHECK(!schwab::base64_decode("YWI"));
  CHECK(!schwab::base64_decode("Y=WI"));
  CHECK(!schwab::base64_decode("!!!!"));
  CHECK(schwab::base64url_encode("\xfb\xff") == "-_8");
}

TEST_CASE("numbers are written with a fraction as Schwab's doubles are", "[sim][schwab]") {
  CHECK(schwab::json_number(decimal::parse("1").value()) == "1.0");
  CHECK(schwab::json_number(decimal::parse("187.25").value()) == "187.25");
  CHECK(schwab::json_number(decimal::parse("-3").value()) == "-3.0");
}
