#include "tools/sim/tls_identity.hpp"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <utility>

// Asio trips -Wnull-dereference once inlined (a false positive in Boost 1.74).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#pragma GCC diagnostic pop

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace brokerd::sim {

namespace {

struct free_key {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct free_cert {
  void operator()(X509* p) const { X509_free(p); }
};
struct free_bio {
  void operator()(BIO* p) const { BIO_free(p); }
};
using key_ptr = std::unique_ptr<EVP_PKEY, free_key>;
using cert_ptr = std::unique_ptr<X509, free_cert>;
using bio_ptr = std::unique_ptr<BIO, free_bio>;

/// The failed call and the first OpenSSL error of the queue (which is then cleared).
std::string failure(std::string_view call) {
  std::string out = "tls: " + std::string{call} + " failed";
  if (auto e = ERR_get_error(); e != 0) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    out += ": ";
    out += text;
  }
  ERR_clear_error();
  return out;
}

key_ptr make_key() {
  return key_ptr{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
}

bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr)
    return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

/// A certificate for `subject_key` named `common_name`, issued by `issuer` (itself when null)
/// and signed with `issuer_key`.
std::expected<cert_ptr, std::string> make_cert(EVP_PKEY* subject_key, const char* common_name,
                                               X509* issuer, EVP_PKEY* issuer_key, bool ca) {
  cert_ptr cert{X509_new()};
  if (!cert)
    return std::unexpected(failure("X509_new"));
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1)
    return std::unexpected(failure("RAND_bytes"));
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  bool serial_ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (!serial_ok)
    return std::unexpected(failure("BN_to_ASN1_INTEGER"));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  if (X509_set_pubkey(cert.get(), subject_key) != 1)
    return std::unexpected(failure("X509_set_pubkey"));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("brokerd simulator"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1)
    return std::unexpected(failure("X509_set_issuer_name"));
  bool ok = add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (ca) {
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE") &&
         add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth") &&
         add_extension(cert.get(), signer, NID_authority_key_identifier, "keyid:always") &&
         add_extension(cert.get(), signer, NID_subject_alt_name,
                       "IP:127.0.0.1,IP:::1,DNS:localhost");
  }
  if (!ok)
    return std::unexpected(failure("X509V3_EXT_conf_nid"));
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0)
    return std::unexpected(failure("X509_sign"));
  return cert;
}

std::string drain(BIO* bio) {
  std::string out(BIO_ctrl_pending(bio), '\0');
  auto n = BIO_read(bio, out.data(), static_cast<int>(out.size()));
  out.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return out;
}

std::expected<std::string, std::string> cert_pem(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1)
    return std::unexpected(failure("PEM_write_bio_X509"));
  return drain(bio.get());
}

std::expected<std::string, std::string> key_pem(EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return std::unexpected(failure("PEM_write_bio_PrivateKey"));
  return drain(bio.get());
}

std::expected<void, std::string> write_file(const std::filesystem::path& path,
                                            const std::string& text) {
  std::ofstream f{path, std::ios::binary | std::ios::trunc};
  f << text;
  f.close();
  if (!f)
    return std::unexpected("tls: cannot write " + path.string());
  return {};
}

} // namespace

std::expected<tls_identity, std::string> make_tls_identity(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return std::unexpected("tls: cannot create " + dir.string() + ": " + ec.message());
  auto ca_key = make_key();
  auto server_key = make_key();
  if (!ca_key || !server_key)
    return std::unexpected(failure("EVP_PKEY_Q_keygen"));
  auto ca = make_cert(ca_key.get(), "brokerd simulator CA", nullptr, ca_key.get(), true);
  if (!ca)
    return std::unexpected(ca.error());
  auto leaf = make_cert(server_key.get(), "localhost", ca->get(), ca_key.get(), false);
  if (!leaf)
    return std::unexpected(leaf.error());
  auto ca_text = cert_pem(ca->get());
  auto leaf_text = cert_pem(leaf->get());
  auto key_text = key_pem(server_key.get());
  if (!ca_text || !leaf_text || !key_text)
    return std::unexpected(!ca_text ? ca_text.error()
                                    : (!leaf_text ? leaf_text.error() : key_text.error()));
  tls_identity id;
  id.certificate_chain_pem = *leaf_text + *ca_text;
  id.private_key_pem = *key_text;
  id.ca_file = dir / "ca.pem";
  for (auto [name, text] : {std::pair{"ca.pem", &*ca_text},
                            std::pair{"server.pem", &id.certificate_chain_pem},
                            std::pair{"server-key.pem", &id.private_key_pem}})
    if (auto ok = write_file(dir / name, *text); !ok)
      return std::unexpected(ok.error());
  std::filesystem::permissions(dir / "server-key.pem", std::filesystem::perms::owner_read |
                                                           std::filesystem::perms::owner_write,
                               ec);
  return id;
}

std::expected<std::filesystem::path, std::string> make_temporary_tls_dir(std::string_view name) {
  std::error_code ec;
  auto base = std::filesystem::temp_directory_path(ec);
  if (ec)
    return std::unexpected("no temporary directory: " + ec.message());
  auto pattern = (base / ("brokerd-" + std::string{name} + "-sim-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr)
    return std::unexpected("cannot create a directory under " + base.string());
  return std::filesystem::path{pattern};
}

std::expected<void, std::string> use_tls_identity(boost::asio::ssl::context& ctx,
                                                  const tls_identity& id) {
  namespace ssl = boost::asio::ssl;
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  if (ctx.use_certificate_chain(boost::asio::buffer(id.certificate_chain_pem), ec); ec)
    return std::unexpected("the server certificate: " + ec.message());
  if (ctx.use_private_key(boost::asio::buffer(id.private_key_pem), ssl::context::pem, ec); ec)
    return std::unexpected("the server key: " + ec.message());
  return {};
}

} // namespace brokerd::sim
