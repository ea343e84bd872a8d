#include "persistence/vault.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <memory>
#include <set>
#include <sstream>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace brokerd::persistence {

namespace {

constexpr std::string_view version_tag = "v1";
constexpr std::size_t iv_bytes = 12;
constexpr std::size_t tag_bytes = 16;

error fail(errc code, std::string message) { return error{code, std::move(message)}; }

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  auto written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                 static_cast<int>(n));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

/// Strict base64 (padding included); nothing on any other text.
std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0)
    return std::nullopt;
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  auto n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                           reinterpret_cast<const unsigned char*>(text.data()),
                           static_cast<int>(text.size()));
  if (n < 0)
    return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes.
  std::size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

std::string key_id_for(const std::array<unsigned char, 32>& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < 8; ++i) {
    id.push_back(hex[digest[i] >> 4]);
    id.push_back(hex[digest[i] & 0xf]);
  }
  return id;
}

using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

cipher_ctx new_ctx() { return cipher_ctx{EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free}; }

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto pos = text.find(sep, start);
    out.push_back(text.substr(start, pos == std::string_view::npos ? text.npos : pos - start));
    if (pos == std::string_view::npos)
      return out;
    start = pos + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

} // namespace

std::expected<master_key, error> master_key::from_base64(std::string_view text) {
  auto raw = unbase64(trim(text));
  if (!raw)
    return std::unexpected(fail(errc::invalid_argument, "a master key must be base64 text"));
  if (raw->size() != 32)
    return std::unexpected(fail(errc::invalid_argument,
                                "a master key must be 32 bytes (44 base64 characters), not " +
                                    std::to_string(raw->size()) + " bytes"));
  master_key k;
  std::copy(raw->begin(), raw->end(), k.bytes.begin());
  k.id = key_id_for(k.bytes);
  return k;
}

master_key master_key::generate() {
  master_key k;
  if (RAND_bytes(k.bytes.data(), static_cast<int>(k.bytes.size())) != 1)
    throw std::runtime_error("the random generator failed");
  k.id = key_id_for(k.bytes);
  return k;
}

std::string master_key::to_base64() const { return base64(bytes.data(), bytes.size()); }

std::expected<vault, error> vault::with_keys(std::vector<master_key> keys) {
  if (keys.empty())
    return std::unexpected(fail(errc::invalid_argument, "the vault needs at least one master key"));
  std::set<std::string> ids;
  for (const auto& k : keys)
    if (!ids.insert(k.id).second)
      return std::unexpected(fail(errc::invalid_argument, "master key " + k.id + " is listed twice"));
  return vault{std::move(keys)};
}

std::expected<vault, error> vault::from_key_file(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    return std::unexpected(fail(errc::not_found, "master key file " + file.string() + " not found"));
  if ((st.st_mode & 077) != 0)
    return std::unexpected(fail(errc::invalid_argument,
                                "master key file " + file.string() +
                                    " may be read by others: make it mode 0600"));
  std::ifstream in{file};
  if (!in)
    return std::unexpected(fail(errc::io_error, "cannot read master key file " + file.string()));
  std::vector<master_key> keys;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto text = trim(line);
    if (text.empty() || text.front() == '#')
      continue;
    auto k = master_key::from_base64(text);
    if (!k)
      return std::unexpected(fail(errc::invalid_argument, "master key file " + file.string() +
                                                              ", line " + std::to_string(number) +
                                                              ": " + k.error().message));
    keys.push_back(std::move(*k));
  }
  if (keys.empty())
    return std::unexpected(
        fail(errc::invalid_argument, "master key file " + file.string() + " holds no key"));
  auto v = with_keys(std::move(keys));
  if (!v)
    return std::unexpected(
        fail(errc::invalid_argument, "master key file " + file.string() + ": " + v.error().message));
  return v;
}

std::expected<vault, error> vault::from_env_value(std::string_view value) {
  std::vector<master_key> keys;
  for (auto part : split(value, ',')) {
    auto k = master_key::from_base64(part);
    if (!k)
      return std::unexpected(fail(errc::invalid_argument, "BROKERD_MASTER_KEY: " + k.error().message));
    keys.push_back(std::move(*k));
  }
  return with_keys(std::move(keys));
}

std::expected<void, error> vault::write_key_file(const std::filesystem::path& file,
                                                 const std::vector<master_key>& keys) {
  auto tmp = file;
  tmp += ".tmp";
  std::string text = "# brokerd master keys: the first one seals, the others still open\n";
  for (const auto& k : keys)
    text += k.to_base64() + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return std::unexpected(fail(errc::io_error, "cannot create " + tmp.string()));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return std::unexpected(fail(errc::io_error, "cannot write master key file " + file.string()));
  }
  auto dir = file.parent_path().empty() ? std::filesystem::path{"."} : file.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

std::expected<std::string, error> vault::seal(std::string_view plaintext,
                                              std::string_view aad) const {
  const auto& key = keys_.front();
  unsigned char iv[iv_bytes];
  if (RAND_bytes(iv, static_cast<int>(iv_bytes)) != 1)
    return std::unexpected(fail(errc::io_error, "the random generator failed"));
  auto ctx = new_ctx();
  std::string out(plaintext.size() + tag_bytes, '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  int total = 0;
  bool ok =
      ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv_bytes), nullptr) ==
          1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.bytes.data(), iv) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), buf, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), buf + total, &len) == 1;
  total += len;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes),
                                 buf + total) == 1;
  if (!ok)
    return std::unexpected(fail(errc::io_error, "AES-256-GCM encryption failed"));
  return std::string{version_tag} + "." + key.id + "." + base64(iv, iv_bytes) + "." +
         base64(buf, static_cast<std::size_t>(total) + tag_bytes);
}

std::optional<std::string> vault::key_id_of(std::string_view sealed) {
  auto parts = split(sealed, '.');
  if (parts.size() != 4 || parts[0] != version_tag)
    return std::nullopt;
  return std::string{parts[1]};
}

std::expected<std::string, error> vault::open(std::string_view sealed, std::string_view aad) const {
  auto parts = split(sealed, '.');
  if (parts.size() != 4 || parts[0] != version_tag)
    return std::unexpected(fail(errc::corrupt_record, "not a sealed vault record"));
  const master_key* key = nullptr;
  for (const auto& k : keys_)
    if (k.id == parts[1])
      key = &k;
  if (!key)
    return std::unexpected(fail(errc::corrupt_record,
                                "sealed under master key " + std::string{parts[1]} +
                                    ", which this brokerd does not have (a wrong key?)"));
  auto iv = unbase64(parts[2]);
  auto body = unbase64(parts[3]);
  if (!iv || iv->size() != iv_bytes || !body || body->size() < tag_bytes)
    return std::unexpected(fail(errc::corrupt_record, "a sealed vault record is malformed"));
  auto cipher_len = body->size() - tag_bytes;
  std::string out(cipher_len, '\0');
  auto ctx = new_ctx();
  int len = 0;
  auto* data = reinterpret_cast<const unsigned char*>(body->data());
  bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv_bytes), nullptr) ==
          1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key->bytes.data(),
                         reinterpret_cast<const unsigned char*>(iv->data())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, data,
                        static_cast<int>(cipher_len)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_bytes),
                          const_cast<unsigned char*>(data + cipher_len)) == 1;
  int final_len = 0;
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                                 &final_len) != 1)
    return std::unexpected(fail(errc::corrupt_record,
                                "a sealed vault record does not authenticate under key " + key->id +
                                    ": it was changed, or belongs to another user or connection"));
  out.resize(static_cast<std::size_t>(len + final_len));
  return out;
}

std::string connection_aad(std::string_view user_id, std::string_view connection_id) {
  std::string aad{"brokerd-connection\n"};
  aad += user_id;
  aad += '\n';
  aad += connection_id;
  return aad;
}

} // namespace brokerd::persistence
