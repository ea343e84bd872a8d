#include "tests/unit/net/support/tls_fixture.hpp"

#include <stdexcept>

#include <sys/socket.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#pragma GCC diagnostic pop

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace brokerd::test {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string{"test PKI: "} + what);
}

struct pkey_deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_deleter {
  void operator()(X509* p) const { X509_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using x509_ptr = std::unique_ptr<X509, x509_deleter>;

pkey_ptr make_key() {
  pkey_ptr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  if (!key)
    fail("key generation");
  return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext)
    fail(value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer` is null).
x509_ptr make_cert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key,
                   long serial) {
  x509_ptr cert{X509_new()};
  X509* x = cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : x;
  add_ext(x, signer, NID_subject_key_identifier, "hash");
  if (issuer) {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, signer, NID_authority_key_identifier, "keyid:always");
    add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
    add_ext(x, signer, NID_ext_key_usage, "serverAuth");
    add_ext(x, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  } else {
    add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (X509_sign(x, issuer_key, EVP_sha256()) == 0)
    fail("signing");
  return cert;
}

template <class Write> std::string to_pem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio || write(bio) != 1)
    fail("PEM encoding");
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string out{data, static_cast<std::size_t>(size)};
  BIO_free(bio);
  return out;
}

std::string cert_pem(X509* x) {
  return to_pem([x](BIO* b) { return PEM_write_bio_X509(b, x); });
}

/// Accepting, per-connection threads and teardown shared by both servers.
class server_core {
public:
  explicit server_core(const test_pki& pki) {
    tls.use_certificate_chain(asio::buffer(pki.server_cert_pem));
    tls.use_private_key(asio::buffer(pki.server_key_pem), ssl::context::pem);
    acceptor.open(tcp::v4());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen();
  }

  std::uint16_t port() const { return acceptor.local_endpoint().port(); }

  void run(std::function<void(tcp::socket&, int)> serve) {
    serve_ = std::move(serve);
    accept_thread = std::thread{[this] {
      for (int index = 1;; ++index) {
        auto sock = std::make_shared<tcp::socket>(io);
        error_code ec;
        acceptor.accept(*sock, ec);
        if (ec || stopping)
          return;
        std::lock_guard lock{mu};
        sockets.push_back(sock);
        threads.emplace_back([this, sock, index] { serve_(*sock, index); });
      }
    }};
  }

  void stop() {
    stopping = true;
    ::shutdown(acceptor.native_handle(), SHUT_RDWR);
    if (accept_thread.joinable())
      accept_thread.join();
    std::vector<std::thread> joining;
    {
      std::lock_guard lock{mu};
      for (auto& s : sockets)
        ::shutdown(s->native_handle(), SHUT_RDWR);
      joining = std::move(threads);
    }
    for (auto& t : joining)
      t.join();
  }

  /// Waits, bounded by the server's life, without answering anything.
  void hold() {
    while (!stopping)
      std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }

  std::function<void(tcp::socket&, int)> serve_;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  ssl::context tls{ssl::context::tls_server};
  std::atomic<bool> stopping{false};
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::shared_ptr<tcp::socket>> sockets;
  std::vector<std::thread> threads;
};

} // namespace

test_pki::test_pki() {
  auto ca_key = make_key();
  auto ca = make_cert(ca_key.get(), "brokerd test CA", nullptr, ca_key.get(), 1);
  auto other_key = make_key();
  auto other = make_cert(other_key.get(), "brokerd unrelated CA", nullptr, other_key.get(), 2);
  auto server_key = make_key();
  auto server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), 3);
  server_cert_pem = cert_pem(server.get());
  server_key_pem = to_pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  ca_file = (dir / "ca.pem").string();
  other_ca_file = (dir / "other-ca.pem").string();
  write_file(ca_file, cert_pem(ca.get()));
  write_file(other_ca_file, cert_pem(other.get()));
}

// -- HTTPS ----------------------------------------------------------------------------------------

struct https_test_server::impl {
  explicit impl(const test_pki& pki) : core(pki) {}
  server_core core;
  mutable std::mutex mu;
  std::vector<received_request> requests;
};

https_test_server::https_test_server(const test_pki& pki, handler h)
    : impl_(std::make_unique<impl>(pki)) {
  port_ = impl_->core.port();
  impl_->core.run([this, h = std::move(h)](tcp::socket& sock, int index) {
    ssl::stream<tcp::socket&> stream{sock, impl_->core.tls};
    error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    beast::flat_buffer buffer;
    bool graceful = false;
    while (!ec) {
      http::request<http::string_body> req;
      http::read(stream, buffer, req, ec);
      if (ec)
        break;
      received_request r{
          std::string{req.method_string()}, std::string{req.target()}, {}, req.body(), index};
      for (const auto& f : req)
        r.headers.emplace_back(std::string{f.name_string()}, std::string{f.value()});
      {
        std::lock_guard lock{impl_->mu};
        impl_->requests.push_back(r);
      }
      auto reply = h(r);
      using action = scripted_reply::action;
      if (reply.what == action::close)
        break;
      if (reply.what == action::stall) {
        impl_->core.hold();
        break;
      }
      http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
      for (const auto& [k, v] : reply.headers)
        res.insert(k, v);
      res.body() = reply.body;
      res.prepare_payload();
      http::write(stream, res, ec);
      if (reply.what == action::respond_then_close) {
        graceful = true;
        break;
      }
    }
    if (graceful)
      SSL_shutdown(stream.native_handle()); // sends close_notify, does not wait for the peer's
    ::shutdown(sock.native_handle(), SHUT_RDWR);
    ++closed_;
  });
}

https_test_server::~https_test_server() {
  impl_->core.stop();
}

std::vector<received_request> https_test_server::requests() const {
  std::lock_guard lock{impl_->mu};
  return impl_->requests;
}

// -- WSS ------------------------------------------------------------------------------------------

struct wss_test_server::impl {
  explicit impl(const test_pki& pki) : core(pki) {}
  server_core core;
  mutable std::mutex mu;
  std::vector<received_frame> frames;
  header_list upgrade;
};

wss_test_server::wss_test_server(const test_pki& pki, std::vector<ws_step> on_open,
                                 handler on_frame)
    : impl_(std::make_unique<impl>(pki)) {
  port_ = impl_->core.port();
  impl_->core.run(
      [this, on_open = std::move(on_open), on_frame = std::move(on_frame)](tcp::socket& sock, int) {
        websocket::stream<ssl::stream<tcp::socket&>> ws{sock, impl_->core.tls};
        error_code ec;
        ws.next_layer().handshake(ssl::stream_base::server, ec);
        beast::flat_buffer buffer;
        http::request<http::string_body> upgrade;
        if (!ec)
          http::read(ws.next_layer(), buffer, upgrade, ec);
        if (!ec) {
          std::lock_guard lock{impl_->mu};
          impl_->upgrade.clear();
          for (const auto& f : upgrade)
            impl_->upgrade.emplace_back(std::string{f.name_string()}, std::string{f.value()});
        }
        if (!ec)
          ws.accept(upgrade, ec);
        // Runs the steps; false once the connection should end.
        auto run = [&](const std::vector<ws_step>& steps) {
          for (const auto& step : steps) {
            switch (step.what) {
            case ws_step::action::send_text:
              ws.text(true);
              ws.write(asio::buffer(step.data), ec);
              break;
            case ws_step::action::send_binary:
              ws.binary(true);
              ws.write(asio::buffer(step.data), ec);
              break;
            case ws_step::action::close:
              ws.close(websocket::close_reason{static_cast<websocket::close_code>(step.close_code),
                                               step.data},
                       ec);
              return false;
            case ws_step::action::go_silent:
              impl_->core.hold();
              return false;
            }
            if (ec)
              return false;
          }
          return true;
        };
        if (!ec && run(on_open)) {
          for (;;) {
            beast::flat_buffer frame;
            ws.read(frame, ec);
            if (ec)
              break;
            received_frame f{beast::buffers_to_string(frame.data()), ws.got_binary()};
            {
              std::lock_guard lock{impl_->mu};
              impl_->frames.push_back(f);
            }
            if (!run(on_frame(f)))
              break;
          }
        }
        ::shutdown(sock.native_handle(), SHUT_RDWR);
      });
}

wss_test_server::~wss_test_server() {
  impl_->core.stop();
}

std::vector<received_frame> wss_test_server::frames() const {
  std::lock_guard lock{impl_->mu};
  return impl_->frames;
}

header_list wss_test_server::upgrade_headers() const {
  std::lock_guard lock{impl_->mu};
  return impl_->upgrade;
}

} // namespace brokerd::test
