#pragma once

// The TLS identity of a simulator that serves HTTPS or WSS: a self-signed CA and a server
// certificate for 127.0.0.1 and localhost signed by it, generated with OpenSSL 3 at start and
// written as PEM so that clients can trust the CA (`ca.pem`). Shared by the Alpaca and Schwab
// simulators.

#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace brokerd::sim {

/// The PEM texts a TLS server context needs, and where the CA was written.
struct tls_identity {
  std::string certificate_chain_pem; // the server certificate, then the CA
  std::string private_key_pem;
  std::filesystem::path ca_file;
};

/// Generates a P-256 CA (valid one hour back to 30 days ahead) and a server certificate with
/// the subject alternative names IP:127.0.0.1, IP:::1 and DNS:localhost, then writes `ca.pem`,
/// `server.pem` and `server-key.pem` into `dir` (created when missing; existing files are
/// overwritten). The error names the OpenSSL call or the file that failed.
std::expected<tls_identity, std::string> make_tls_identity(const std::filesystem::path& dir);

/// Creates a fresh directory `brokerd-<name>-sim-XXXXXX` under the system's temporary
/// directory for a simulator without a configured TLS directory; its owner removes it. The
/// error says which directory could not be made.
std::expected<std::filesystem::path, std::string> make_temporary_tls_dir(std::string_view name);

/// Loads `id` into a TLS server context and refuses SSLv2, SSLv3, TLS 1.0 and TLS 1.1. The
/// error names the part (certificate or key) that OpenSSL refused.
std::expected<void, std::string> use_tls_identity(boost::asio::ssl::context& ctx,
                                                  const tls_identity& id);

} // namespace brokerd::sim
