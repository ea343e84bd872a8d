#include "actors/brokers/ibkr/wire.hpp"

#include <catch2/catch.hpp>

#include "tests/unit/actors/brokers/ibkr/tws_vectors.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace std::string_literals;
using namespace std::string_view_literals;
using brokerd::actors::ibkr::accept_server_version;
using brokerd::actors::ibkr::choose_server_version;
using brokerd::actors::ibkr::client_hello;
using brokerd::actors::ibkr::decode_unicode_escapes;
using brokerd::actors::ibkr::encode_unicode_escapes;
using brokerd::actors::ibkr::errc;
using brokerd::actors::ibkr::field_reader;
using brokerd::actors::ibkr::field_writer;
using brokerd::actors::ibkr::format_wire_double;
using brokerd::actors::ibkr::frame_decoder;
using brokerd::actors::ibkr::make_frame;
using brokerd::actors::ibkr::parse_wire_decimal;
using brokerd::actors::ibkr::server_hello;
using brokerd::engine::decimal;

using namespace tws_test;

namespace {

/// Feeds `bytes` in chunks of `chunk` bytes and collects the payloads.
std::vector<std::string> feed_in_chunks(frame_decoder& d, std::string_view bytes,
                                        std::size_t chunk) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    auto part = bytes.substr(0, chunk);
    bytes.remove_prefix(part.size());
    auto ok = d.feed(part, [&](std::string_view p) { out.emplace_back(p); });
    REQUIRE(ok);
  }
  return out;
}

/// The value of a read that must succeed.
template <class T> T ok(std::expected<T, brokerd::actors::ibkr::error> r) {
  if (!r)
    FAIL(r.error().to_string());
  return *r;
}

} // namespace

// -- handshake ---------------------------------------------------------------------------------

TEST_CASE("the default client hello is API NUL, a big-endian length and v100..178", "[ibkr]") {
  auto bytes = client_hello{}.encode();
  REQUIRE(bytes);
  CHECK(hex(*bytes) == "41 50 49 00 00 00 00 09 76 31 30 30 2e 2e 31 37 38");
}

TEST_CASE("a hello with equal bounds sends v<n> and connect options follow a space", "[ibkr]") {
  auto single = client_hello{178, 178, ""}.encode();
  REQUIRE(single);
  CHECK(hex(*single) == "41 50 49 00 00 00 00 04 76 31 37 38");
  auto paced = client_hello{100, 178, "+PACEAPI"}.encode();
  REQUIRE(paced);
  CHECK(*paced == "API\0\0\0\0\x12v100..178 +PACEAPI"sv);
}

TEST_CASE("a client hello outside the implemented versions is refused", "[ibkr]") {
  CHECK(client_hello{99, 178, ""}.encode().error().code == errc::invalid_argument);
  CHECK(client_hello{178, 177, ""}.encode().error().code == errc::invalid_argument);
  CHECK(client_hello{100, 165, ""}.encode().error().code == errc::invalid_argument);
  CHECK(client_hello{100, 193, ""}.encode().error().code == errc::invalid_argument);
  CHECK(client_hello{100, 178, "+PACE\x01"}.encode().error().code == errc::invalid_argument);
}

TEST_CASE("the server parses a hello however the bytes arrive and leaves what follows", "[ibkr]") {
  std::string stream = "API\0\0\0\0\x12v100..193 +PACEAPI"s + "\0\0\0\x08"s + "71\0002\0007\0\0"s;
  for (std::size_t cut = 0; cut < 26; ++cut) {
    auto partial = client_hello::decode(std::string_view{stream}.substr(0, cut));
    REQUIRE(partial);
    CHECK_FALSE(partial->has_value());
  }
  auto whole = client_hello::decode(stream);
  REQUIRE(whole);
  REQUIRE(whole->has_value());
  CHECK((*whole)->hello == client_hello{100, 193, "+PACEAPI"});
  CHECK((*whole)->consumed == 26);
  auto single = client_hello::decode("API\0\0\0\0\x04v176"sv);
  REQUIRE(single);
  REQUIRE(single->has_value());
  CHECK((*single)->hello == client_hello{176, 176, ""});
}

TEST_CASE("a malformed hello is an error, detected as early as the bytes allow", "[ibkr]") {
  CHECK(client_hello::decode("GET / HTTP/1.1"sv).error().code == errc::bad_hello);
  CHECK(client_hello::decode("AP!"sv).error().code == errc::bad_hello);
  CHECK(client_hello::decode("API\0\0\0\0\0"sv).error().code == errc::bad_hello);
  CHECK(client_hello::decode("API\0\0\0\0\x04\x01\x02\x03\x04"sv).error().code == errc::bad_hello);
  for (auto text : {"x100..178"sv, "v..178"sv, "v100.."sv, "v178..100"sv, "v1a"sv, "v"sv,
                    "v100..178..180"sv, "v1234567890"sv, "v-1"sv}) {
    std::string bytes = "API\0\0\0\0"s;
    bytes += static_cast<char>(text.size());
    bytes += text;
    INFO(text);
    CHECK(client_hello::decode(bytes).error().code == errc::bad_hello);
  }
}

TEST_CASE("the captured server answer at 176 decodes into version and connection time", "[ibkr]") {
  std::string bytes = "\x00\x00\x00\x1a"
                      "176\0"
                      "20230228 17:24:14 EST\0"s;
  frame_decoder d;
  auto payloads = feed_in_chunks(d, bytes, 5);
  REQUIRE(payloads.size() == 1);
  auto answer = server_hello::decode(payloads[0]);
  REQUIRE(answer);
  CHECK(answer->server_version == 176);
  CHECK(answer->connection_time == "20230228 17:24:14 EST");
  auto encoded = answer->encode();
  REQUIRE(encoded);
  CHECK(hex(*encoded) == hex(bytes));
}

TEST_CASE("a redirect or a malformed server answer is an error value", "[ibkr]") {
  auto redirect = server_hello::decode("-1\0gw.example:4001\0"sv);
  CHECK(redirect.error().code == errc::redirect);
  CHECK(redirect.error().message.find("gw.example:4001") != std::string::npos);
  CHECK(server_hello::decode("abc\0time\0"sv).error().code == errc::bad_field);
  CHECK(server_hello::decode("178\0"sv).error().code == errc::missing_field);
  CHECK(server_hello::decode("178\0time\0extra\0"sv).error().code == errc::extra_fields);
}

TEST_CASE("the client accepts a server version within its range and names one below", "[ibkr]") {
  client_hello ours;
  CHECK(accept_server_version(ours, 178) == 178);
  CHECK(accept_server_version(ours, 176) == 176);
  CHECK(accept_server_version(ours, 166) == 166);
  auto old = accept_server_version(ours, 165);
  REQUIRE_FALSE(old);
  CHECK(old.error().code == errc::unsupported_version);
  CHECK(old.error().message.find("165") != std::string::npos);
  CHECK(old.error().message.find("166") != std::string::npos);
  auto strict = accept_server_version(client_hello{176, 178, ""}, 170);
  REQUIRE_FALSE(strict);
  CHECK(strict.error().message.find("176") != std::string::npos);
  CHECK(accept_server_version(ours, 187).error().code == errc::unsupported_version);
}

TEST_CASE("the server answers min(client max, 178) and refuses a range it cannot meet", "[ibkr]") {
  CHECK(choose_server_version(client_hello{100, 193, ""}) == 178);
  CHECK(choose_server_version(client_hello{157, 176, ""}) == 176);
  CHECK(choose_server_version(client_hello{157, 178, ""}) == 178);
  CHECK(choose_server_version(client_hello{100, 150, ""}).error().code ==
        errc::unsupported_version);
  CHECK(choose_server_version(client_hello{180, 193, ""}).error().code ==
        errc::unsupported_version);
}

// -- framing -----------------------------------------------------------------------------------

TEST_CASE("frames split at every byte boundary come out whole and in order", "[ibkr]") {
  std::string stream = "\0\0\0\x04"
                       "9\0001\0"
                       "\0\0\0\x0d"
                       "15\0001\0DU12345\0"s;
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    frame_decoder d;
    auto payloads = feed_in_chunks(d, stream, chunk);
    INFO("chunk " << chunk);
    REQUIRE(payloads.size() == 2);
    CHECK(payloads[0] == "9\0001\0"sv);
    CHECK(payloads[1] == "15\0001\0DU12345\0"sv);
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("consume stops at the end of a frame until the caller takes it", "[ibkr]") {
  std::string stream = "\0\0\0\x02"
                       "a\0"
                       "\0\0\0\x02"
                       "b\0"s;
  frame_decoder d;
  auto used = d.consume(stream);
  REQUIRE(used);
  CHECK(*used == 6);
  REQUIRE(d.frame_ready());
  CHECK(d.frame_payload() == "a\0"sv);
  CHECK(d.consume(std::string_view{stream}.substr(6)) == 0u);
  d.next_frame();
  CHECK(d.consume(std::string_view{stream}.substr(6)) == 6u);
  CHECK(d.frame_payload() == "b\0"sv);
}

TEST_CASE("a truncated frame yields nothing and holds only its own bytes", "[ibkr]") {
  frame_decoder d;
  std::vector<std::string> got;
  REQUIRE(d.feed("\0\0\0\x0a"
                 "abc"sv,
                 [&](std::string_view p) { got.emplace_back(p); }));
  CHECK(got.empty());
  CHECK(d.buffered() == 7);
}

TEST_CASE("a length above 0xFFFFFF is refused at the header, before any payload", "[ibkr]") {
  frame_decoder d;
  auto r = d.feed("\x01\x00\x00\x00"sv, [](std::string_view) { FAIL("no frame expected"); });
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::frame_too_long);
  // The failure is sticky: the stream cannot be resynchronized.
  CHECK(d.feed("\0\0\0\x02"
               "a\0"sv,
               [](std::string_view) { FAIL("no frame expected"); })
            .error()
            .code == errc::frame_too_long);
  frame_decoder at_limit;
  CHECK(at_limit.feed("\x00\xff\xff\xff"sv, [](std::string_view) {}));
  CHECK(at_limit.buffered() == 4);
}

TEST_CASE("a zero length and a payload without its final NUL are errors", "[ibkr]") {
  frame_decoder empty;
  CHECK(empty.feed("\0\0\0\0"sv, [](std::string_view) {}).error().code == errc::empty_frame);
  frame_decoder cut;
  CHECK(cut.feed("\0\0\0\x03"
                 "9\0001"sv,
                 [](std::string_view) { FAIL("no frame expected"); })
            .error()
            .code == errc::unterminated_frame);
  REQUIRE(cut.failure());
  CHECK(cut.failure()->code == errc::unterminated_frame);
}

TEST_CASE("make_frame prefixes the big-endian length and refuses empty or oversized payloads",
          "[ibkr]") {
  auto f = make_frame("49\0001\0"sv);
  REQUIRE(f);
  CHECK(hex(*f) == "00 00 00 05 34 39 00 31 00");
  CHECK(make_frame("").error().code == errc::empty_frame);
  CHECK(make_frame(std::string(0x1000000, 'x')).error().code == errc::frame_too_long);
}

// -- field writer and reader -------------------------------------------------------------------

TEST_CASE("the field writer terminates every field with NUL", "[ibkr]") {
  field_writer w{"test"};
  w.put_int(-42);
  w.put_text("AAPL");
  w.put_empty();
  w.put_bool(true);
  w.put_bool(false);
  w.put_decimal(dec("100.5"));
  w.put_decimal(dec("-0.00000001"));
  w.put_double(0.0);
  w.put_double(1.5);
  w.put_int(9223372036854775807);
  CHECK(w.fields() == 10);
  CHECK(w.payload() == "-42\0AAPL\0\0001\0000\000100.5\0-0.00000001\0"
                       "0.0\0001.5\0009223372036854775807\0"sv);
  auto framed = w.finish();
  REQUIRE(framed);
  CHECK(framed->size() == w.payload().size() + 4);
}

TEST_CASE("a NUL inside a text field fails the writer, naming message and field", "[ibkr]") {
  field_writer w{"placeOrder"};
  w.put_int(3);
  w.put_text("AA\0PL"sv, "symbol");
  w.put_text("after");
  auto r = w.finish();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::invalid_argument);
  CHECK(r.error().message == "placeOrder field 1 (symbol) contains a NUL byte");
}

TEST_CASE("typed reads follow Java's readers: empty ints are 0, sentinels are unset", "[ibkr]") {
  field_reader r{"\0"
                 "2147483647\0"
                 "\0"
                 "1.7976931348623157E308\0"
                 "\0"
                 "2147483647\0"
                 "\0"
                 "-7\0"
                 "+5\0"
                 "9223372036854775807\0"
                 "\0"
                 "1.7976931348623157E308\0"
                 "0.25\0"sv,
                 "test"};
  CHECK(r.size() == 13);
  CHECK(r.read_int("a") == 0);
  CHECK(ok(r.read_int_max("b")) == std::optional<std::int32_t>{});
  CHECK(ok(r.read_int_max("c")) == std::optional<std::int32_t>{});
  CHECK(ok(r.read_decimal_max("d")) == std::optional<decimal>{});
  CHECK(ok(r.read_decimal_max("e")) == std::optional<decimal>{});
  CHECK(r.read_decimal_or_zero("f") == decimal{});
  CHECK(r.read_bool("g") == false);
  CHECK(r.read_int("h") == -7);
  CHECK(r.read_bool("i") == true);
  CHECK(r.read_long("j") == 9223372036854775807);
  CHECK(r.read_double("k") == 0.0);
  CHECK(ok(r.read_double_max("l")) == std::optional<double>{});
  CHECK(ok(r.read_double_max("m")) == std::optional<double>{0.25});
  CHECK(r.expect_end());
}

TEST_CASE("a non-numeric int is an error naming message, field index and name", "[ibkr]") {
  field_reader r{"3\0abc\0"sv, "orderStatus"};
  CHECK(r.read_int("msgId") == 3);
  auto bad = r.read_int("orderId");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == errc::bad_field);
  CHECK(bad.error().message == "orderStatus field 1 (orderId): 'abc' is not a 32-bit integer");
  field_reader overflow{"2147483648\0 1\0"sv, "x"};
  CHECK(overflow.read_int("a").error().code == errc::bad_field);
  CHECK(overflow.read_int("b").error().code == errc::bad_field);
}

TEST_CASE("reading past the last field is a missing_field error, never an over-read", "[ibkr]") {
  field_reader r{"9\0001\0"sv, "nextValidId"};
  CHECK(r.read_int("msgId") == 9);
  CHECK(r.read_int("version") == 1);
  auto missing = r.read_int("orderId");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == errc::missing_field);
  CHECK(missing.error().message ==
        "nextValidId field 2 (orderId): missing: the message has only 2 fields");
  field_reader cut{"9\0001"sv, "nextValidId"};
  CHECK(cut.read_int("msgId") == 9);
  CHECK(cut.read_text("version").error().code == errc::missing_field);
  CHECK(cut.expect_end().error().code == errc::unterminated_frame);
}

TEST_CASE("fields left after the layout are an extra_fields error", "[ibkr]") {
  field_reader r{"62\0001\0extra\0"sv, "positionEnd"};
  CHECK(r.read_int("msgId") == 62);
  CHECK(r.read_int("version") == 1);
  auto end = r.expect_end();
  REQUIRE_FALSE(end);
  CHECK(end.error().code == errc::extra_fields);
  CHECK(end.error().message == "positionEnd has 3 fields; its layout ends after 2");
}

TEST_CASE("wire decimals accept TWS's number forms exactly, without floating point", "[ibkr]") {
  CHECK(parse_wire_decimal("100") == dec("100"));
  CHECK(parse_wire_decimal("100.5") == dec("100.5"));
  CHECK(parse_wire_decimal("-0.5") == dec("-0.5"));
  CHECK(parse_wire_decimal("+3") == dec("3"));
  CHECK(parse_wire_decimal("0.0") == dec("0"));
  CHECK(parse_wire_decimal(".25") == dec("0.25"));
  CHECK(parse_wire_decimal("5.") == dec("5"));
  CHECK(parse_wire_decimal("1.0E-4") == dec("0.0001"));
  CHECK(parse_wire_decimal("1.2345678E7") == dec("12345678"));
  CHECK(parse_wire_decimal("2.5e+2") == dec("250"));
  CHECK(parse_wire_decimal("1.08735") == dec("1.08735"));
  CHECK(parse_wire_decimal("92233720368.54775807") == dec("92233720368.54775807"));
}

TEST_CASE("wire decimals round past 8 fraction digits half to even", "[ibkr]") {
  CHECK(parse_wire_decimal("187.24999999999997") == dec("187.25"));
  CHECK(parse_wire_decimal("0.000000005") == dec("0"));
  CHECK(parse_wire_decimal("0.000000015") == dec("0.00000002"));
  CHECK(parse_wire_decimal("0.0000000150001") == dec("0.00000002"));
  CHECK(parse_wire_decimal("0.000000025") == dec("0.00000002"));
  CHECK(parse_wire_decimal("-0.000000035") == dec("-0.00000004"));
  CHECK(parse_wire_decimal("1E-300") == dec("0"));
}

TEST_CASE("malformed or out-of-range wire decimals are refused", "[ibkr]") {
  for (auto text : {""sv, "-"sv, "."sv, "abc"sv, "1.2.3"sv, "1e"sv, "1e+"sv, "1x"sv, " 1"sv,
                    "1,000"sv, "Infinity"sv, "NaN"sv, "1E308"sv, "92233720369"sv,
                    "1.7976931348623157E308"sv, "1e99999999"sv}) {
    INFO(text);
    CHECK_FALSE(parse_wire_decimal(text));
  }
}

TEST_CASE("doubles are written as Java prints ordinary values", "[ibkr]") {
  CHECK(format_wire_double(0.0) == "0.0");
  CHECK(format_wire_double(100.0) == "100.0");
  CHECK(format_wire_double(1.08735) == "1.08735");
  CHECK(format_wire_double(-2.5) == "-2.5");
}

TEST_CASE("unicode escapes decode to UTF-8 and encode back", "[ibkr]") {
  CHECK(decode_unicode_escapes("Order Canceled - reason:\\u00e9t\\u00E9") ==
        "Order Canceled - reason:\xc3\xa9t\xc3\xa9");
  CHECK(decode_unicode_escapes("\\ud83d\\ude00") == "\xf0\x9f\x98\x80");
  CHECK(decode_unicode_escapes("\\ud83d alone") == "\xef\xbf\xbd alone");
  CHECK(decode_unicode_escapes("bad \\u12G4 and \\u12") == "bad \\u12G4 and \\u12");
  CHECK(decode_unicode_escapes("{\\u0022key\\u0022:1}") == "{\"key\":1}");
  CHECK(encode_unicode_escapes("\xc3\xa9t\xc3\xa9") == "\\u00e9t\\u00e9");
  CHECK(encode_unicode_escapes("\xf0\x9f\x98\x80") == "\\ud83d\\ude00");
  CHECK(encode_unicode_escapes("a\xff") == "a\\ufffd");
  for (std::string_view text :
       {"plain ASCII"sv, "caf\xc3\xa9"sv, "\xe2\x82\xac 5"sv, "\xf0\x9f\x98\x80!"sv}) {
    INFO(text);
    CHECK(decode_unicode_escapes(encode_unicode_escapes(text)) == text);
  }
}
