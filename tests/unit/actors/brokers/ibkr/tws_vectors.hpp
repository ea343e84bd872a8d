#pragma once

// Helpers shared by the TWS codec tests: byte vectors written out field by field, and the check
// that a message encodes to exactly those bytes and decodes back.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/brokers/ibkr/wire.hpp"
#include "engine/decimal.hpp"

namespace tws_test {

/// Bytes as spaced lower-case hex, so that a mismatch shows where.
inline std::string hex(std::string_view bytes) {
  constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    if (!out.empty())
      out += ' ';
    out += digits[u >> 4];
    out += digits[u & 0xF];
  }
  return out;
}

/// A payload of NUL-terminated fields, written out field by field.
inline std::string payload(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) {
    out += f;
    out += '\0';
  }
  return out;
}

/// `p` behind its 4-byte big-endian length.
inline std::string framed(std::string_view p) {
  auto n = static_cast<std::uint32_t>(p.size());
  std::string out;
  out += static_cast<char>(n >> 24);
  out += static_cast<char>((n >> 16) & 0xFF);
  out += static_cast<char>((n >> 8) & 0xFF);
  out += static_cast<char>(n & 0xFF);
  out += p;
  return out;
}

/// The frame of `fields`.
inline std::string framed_fields(const std::vector<std::string>& fields) {
  return framed(payload(fields));
}

inline brokerd::engine::decimal dec(std::string_view text) {
  auto d = brokerd::engine::decimal::parse(text);
  REQUIRE(d);
  return *d;
}

/// Checks that `m` encodes to exactly `fields` at `version` and that those fields decode to `m`.
template <class M>
void check_vector(const M& m, const std::vector<std::string>& fields,
                  std::int32_t version = brokerd::actors::ibkr::max_server_version) {
  INFO(M::name << " at " << version);
  auto expected = payload(fields);
  auto bytes = m.encode(version);
  if (!bytes)
    FAIL(bytes.error().to_string());
  CHECK(hex(*bytes) == hex(framed(expected)));
  auto back = M::decode(expected, version);
  if (!back)
    FAIL(back.error().to_string());
  CHECK(*back == m);
}

} // namespace tws_test
