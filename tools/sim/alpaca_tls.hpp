#pragma once

// The TLS identity of the Alpaca simulator: a self-signed CA and a server certificate for
// 127.0.0.1 and localhost signed by it, generated with OpenSSL 3 at start and written as PEM so
// that clients can trust the CA (`ca.pem`).

#include <expected>
#include <filesystem>
#include <string>

namespace brokerd::sim::alpaca {

/// The PEM texts a TLS server context needs, and where the CA was written.
struct tls_identity {
  std::string certificate_chain_pem; // the server certificate, then the CA
  std::string private_key_pem;
  std::filesystem::path ca_file;
};

/// Generates a P-256 CA (valid one hour back to 30 days ahead) and a server certificate with
/// the subject alternative names IP:127.0.0.1, IP:::1 and DNS:localhost, then writes `ca.pem`,
/// `server.pem` and `server-key.pem` into `dir` (created when missing). The error names the
/// OpenSSL call or the file that failed.
std::expected<tls_identity, std::string> make_tls_identity(const std::filesystem::path& dir);

} // namespace brokerd::sim::alpaca
