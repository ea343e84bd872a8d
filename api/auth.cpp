#include "api/auth.hpp"

#include <chrono>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

namespace brokerd::api {

namespace {

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::expected<void, std::string> write_private_file(const std::filesystem::path& path,
                                                    const std::string& content) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return std::unexpected("cannot create " + tmp.string());
  ::fchmod(fd, 0600);
  auto n = ::write(fd, content.data(), content.size());
  bool ok = n == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    return std::unexpected("cannot write " + path.string());
  return {};
}

} // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return to_hex(digest, len);
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("the random generator failed");
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

std::optional<std::string> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size())
    return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(scheme[i])))
      return std::nullopt;
  auto token = authorization.substr(scheme.size());
  if (token.size() < 16 || token.size() > 256)
    return std::nullopt;
  for (char c : token)
    if (c <= ' ' || c > '~')
      return std::nullopt;
  return std::string{token};
}

std::string token_key(std::string_view token) {
  return std::string{persistence::registry_keys::token} + sha256_hex(token);
}

std::optional<presented_token> presented(std::string_view authorization,
                                         std::optional<std::string_view> cookie_header) {
  if (auto bearer = bearer_token(authorization))
    return presented_token{std::move(*bearer), false};
  if (authorization.empty() && cookie_header)
    if (auto cookie = session_cookie(*cookie_header))
      return presented_token{std::move(*cookie), true};
  return std::nullopt;
}

std::optional<std::string> session_cookie(std::string_view header) {
  while (!header.empty()) {
    auto end = header.find(';');
    auto pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ')
      pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != session_cookie_name)
      continue;
    auto value = pair.substr(eq + 1);
    while (!value.empty() && value.back() == ' ')
      value.remove_suffix(1);
    if (value.size() < 16 || value.size() > 256)
      return std::nullopt;
    for (char c : value)
      if (c <= ' ' || c > '~' || c == ';' || c == ',')
        return std::nullopt;
    return std::string{value};
  }
  return std::nullopt;
}

namespace {

/// `authenticate_token` for the token stored at registry key `key`.
std::optional<authenticated> authenticate_key(const persistence::event_log& log,
                                              const std::string& key, std::int64_t now_ns) {
  auto stored = log.get(key);
  if (!stored || !*stored)
    return std::nullopt;
  auto rec = persistence::decode_token(**stored);
  if (!rec || (rec->expires_ns != 0 && rec->expires_ns <= now_ns))
    return std::nullopt;
  auto record = log.get(std::string{persistence::registry_keys::user} + rec->user);
  if (!record || !*record)
    return std::nullopt;
  auto user = persistence::decode_user(**record);
  if (!user)
    return std::nullopt;
  return authenticated{std::move(*user), std::move(*rec)};
}

} // namespace

std::optional<authenticated> authenticate_token(const persistence::event_log& log,
                                                std::string_view token, std::int64_t now_ns) {
  return authenticate_key(log, token_key(token), now_ns);
}

std::optional<authenticated> token_cache::resolve(const persistence::event_log& log,
                                                  std::string_view token, std::int64_t now_ns) {
  // The generation is read before the registry: a write landing after this read changes it,
  // so nothing read here outlives a change.
  auto generation = log.registry_generation();
  if (!primed_ || generation != generation_) {
    entries_.clear();
    generation_ = generation;
    primed_ = true;
  }
  auto key = token_key(token);
  if (auto it = entries_.find(key); it != entries_.end()) {
    const auto& expires = it->second.token.expires_ns;
    if (expires != 0 && expires <= now_ns) {
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second;
  }
  auto found = authenticate_key(log, key, now_ns);
  if (found) {
    if (entries_.size() >= capacity_)
      entries_.clear();
    entries_.emplace(std::move(key), *found);
  }
  return found;
}

std::optional<persistence::user_record> authenticate(const persistence::event_log& log,
                                                     std::string_view token) {
  auto found = authenticate_token(log, token, wall_now_ns());
  if (!found)
    return std::nullopt;
  return std::move(found->user);
}

std::int64_t wall_now_ns() {
  return now_ns();
}

std::expected<admin_bootstrap, std::string>
bootstrap_admin(persistence::event_log& log, const std::filesystem::path& data_dir) {
  auto users = log.scan_prefix(persistence::registry_keys::user);
  if (!users)
    return std::unexpected("cannot read users: " + users.error().message);
  admin_bootstrap out;
  out.token_file = data_dir / "admin-token";
  for (const auto& entry : *users) {
    auto u = persistence::decode_user(entry.value);
    if (u && u->admin) {
      out.user_id = u->id;
      return out;
    }
  }
  persistence::user_record admin;
  admin.id = "usr_" + random_hex(8);
  admin.email = "admin@localhost";
  admin.tier = "premium";
  admin.admin = true;
  admin.created_ns = now_ns();
  auto token = random_hex(32);
  if (auto ok = write_private_file(out.token_file, token + "\n"); !ok)
    return std::unexpected(ok.error());
  std::vector<persistence::registry_write> writes{
      {std::string{persistence::registry_keys::user} + admin.id, persistence::encode_user(admin)},
      {token_key(token), persistence::encode_token({admin.id, "api", 0, admin.created_ns})},
  };
  if (auto ok = log.append({}, true, writes); !ok)
    return std::unexpected("cannot store the admin user: " + ok.error().message);
  out.user_id = admin.id;
  out.created = true;
  return out;
}

} // namespace brokerd::api
