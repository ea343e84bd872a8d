// libFuzzer entry point for the TWS codec (actors/brokers/ibkr): the input is a byte stream
// as a socket would deliver it. It goes through the server-side hello parser, the frame
// decoder in input-chosen chunks, and every decoder in both directions at the oldest and
// newest implemented versions. Whatever decodes must encode again and decode to the same
// value; anything else must come back as an error value, never a crash or an exception.
//
// Not part of the CMake build: scripts/fuzz.sh builds it with clang++-16 and libstdc++ 12 and
// runs it on a seed corpus (ibkr_codec_seeds.cpp). libstdc++ 12 declares std::expected only
// when __cpp_concepts >= 202002L, which clang 16 does not report, so the build defines it:
//   clang++-16 -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -I. -include utility
//     -U__cpp_concepts -D__cpp_concepts=202002L
//     tests/fuzz/ibkr_codec_fuzz.cpp actors/brokers/ibkr/{wire,messages,codec}.cpp
//     engine/{decimal,errc,order}.cpp -o ibkr_codec_fuzz

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/brokers/ibkr/codec.hpp"

namespace {

namespace ibkr = brokerd::actors::ibkr;

/// Whatever decodes must encode, and what it encodes to must decode again. Text fields are
/// normalised on the way out (invalid UTF-8 becomes U+FFFD, wire.hpp), so a value need not come
/// back identical to the first decode; it must come back identical from then on: the encoding
/// is a fixed point after one round.
template <class Decode> void round_trip(std::string_view payload, std::int32_t version, Decode decode) {
  auto m = decode(payload, version);
  if (!m)
    return;
  auto once = ibkr::encode(*m, version);
  if (!once)
    std::abort();
  auto back = decode(std::string_view{*once}.substr(4), version);
  if (!back)
    std::abort();
  if (*back == *m)
    return;
  auto twice = ibkr::encode(*back, version);
  if (!twice || *twice != *once)
    std::abort();
}

void decode_payload(std::string_view payload) {
  for (std::int32_t version : {ibkr::min_server_version, 176, ibkr::max_server_version}) {
    round_trip(payload, version, [](std::string_view p, std::int32_t v) {
      return ibkr::decode_server_message(p, v);
    });
    round_trip(payload, version, [](std::string_view p, std::int32_t v) {
      return ibkr::decode_client_message(p, v);
    });
  }
  (void)ibkr::server_hello::decode(payload);
  (void)ibkr::message_id(payload);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes{reinterpret_cast<const char*>(data), size};

  // A server reads the hello first, then frames.
  if (auto hello = ibkr::client_hello::decode(bytes); hello && hello->has_value()) {
    (void)ibkr::choose_server_version((*hello)->hello);
    bytes.remove_prefix((*hello)->consumed);
  }

  // The first byte chooses the chunk size, so splits at every position get explored.
  std::size_t chunk = 1;
  if (!bytes.empty()) {
    chunk = 1 + static_cast<unsigned char>(bytes.front()) % 64;
    bytes.remove_prefix(1);
  }
  ibkr::frame_decoder frames;
  while (!bytes.empty()) {
    auto part = bytes.substr(0, chunk);
    bytes.remove_prefix(part.size());
    if (!frames.feed(part, decode_payload))
      break;
  }
  return 0;
}
