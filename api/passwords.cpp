#include "api/passwords.hpp"

#include <charconv>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "api/auth.hpp"

namespace brokerd::api {

namespace {

constexpr std::size_t salt_size = 16;
constexpr std::size_t hash_size = 32;
constexpr std::uint64_t max_n = std::uint64_t{1} << 20;
constexpr std::uint32_t max_r = 32;
constexpr std::uint32_t max_p = 16;

bool params_ok(const scrypt_params& p) {
  return p.n >= 2 && p.n <= max_n && (p.n & (p.n - 1)) == 0 && p.r >= 1 && p.r <= max_r &&
         p.p >= 1 && p.p <= max_p;
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  auto len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::optional<std::vector<unsigned char>> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 1024)
    return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3);
  auto len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                             static_cast<int>(text.size()));
  if (len < 0)
    return std::nullopt;
  auto pad = static_cast<int>(text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0);
  out.resize(static_cast<std::size_t>(len - pad));
  return out;
}

/// scrypt of `password` and `salt` into `out`; false when OpenSSL fails.
bool derive(std::string_view password, const unsigned char* salt, std::size_t salt_len,
            const scrypt_params& p, unsigned char* out, std::size_t out_len) {
  // 128 * r * N bytes for V plus 128 * r * p for B: allow twice the need.
  std::uint64_t maxmem = 2 * 128 * std::uint64_t{p.r} * (p.n + p.p) + (1u << 20);
  return EVP_PBE_scrypt(password.data(), password.size(), salt, salt_len, p.n, p.r, p.p, maxmem,
                        out, out_len) == 1;
}

template <class T> std::optional<T> number(std::string_view text) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return v;
}

} // namespace

std::expected<std::string, std::string> hash_password(std::string_view password,
                                                      scrypt_params params) {
  if (!params_ok(params))
    return std::unexpected("scrypt parameters out of bounds");
  unsigned char salt[salt_size];
  if (RAND_bytes(salt, sizeof salt) != 1)
    return std::unexpected("the random generator failed");
  unsigned char hash[hash_size];
  if (!derive(password, salt, sizeof salt, params, hash, sizeof hash))
    return std::unexpected("scrypt failed");
  return "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + base64(salt, sizeof salt) + "$" +
         base64(hash, sizeof hash);
}

bool verify_password(std::string_view password, std::string_view stored) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto end = stored.find('$', start);
    parts.push_back(stored.substr(start, end - start));
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  if (parts.size() != 6 || parts[0] != "scrypt")
    return false;
  auto n = number<std::uint64_t>(parts[1]);
  auto r = number<std::uint32_t>(parts[2]);
  auto p = number<std::uint32_t>(parts[3]);
  auto salt = unbase64(parts[4]);
  auto hash = unbase64(parts[5]);
  if (!n || !r || !p || !salt || salt->empty() || !hash || hash->size() != hash_size)
    return false;
  scrypt_params params{*n, *r, *p};
  if (!params_ok(params))
    return false;
  std::vector<unsigned char> computed(hash->size());
  if (!derive(password, salt->data(), salt->size(), params, computed.data(), computed.size()))
    return false;
  return CRYPTO_memcmp(computed.data(), hash->data(), hash->size()) == 0;
}

const std::string& decoy_password_hash() {
  static const std::string decoy = [] {
    auto h = hash_password(random_hex(32));
    return h ? *h : std::string{};
  }();
  return decoy;
}

} // namespace brokerd::api
