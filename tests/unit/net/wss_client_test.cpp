// The WSS client (actors/net/wss_client.*) against a TLS WebSocket server on 127.0.0.1 whose
// certificate comes from a CA generated for the test: verification, text and binary frames,
// keep-alive pings, and every way a stream ends. Every wait is bounded.

#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "actors/net/wss_client.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/net/support/tls_fixture.hpp"

using namespace brokerd;
using namespace brokerd::actors::net;
using namespace std::chrono_literals;
using test::ws_step;
using action = test::ws_step::action;

namespace {

struct io_thread {
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
      boost::asio::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~io_thread() {
    guard.reset();
    io.stop();
    thread.join();
  }
};

const test::test_pki& pki() {
  static test::test_pki instance;
  return instance;
}

/// What the client reported, readable from the test thread.
struct recorder {
  std::mutex mu;
  bool opened = false;
  std::vector<wss_message> messages;
  std::optional<wss_failure> failure;
  int closes = 0;

  wss_handlers handlers(const std::shared_ptr<recorder>& self) {
    return {[self] {
              std::lock_guard lock{self->mu};
              self->opened = true;
            },
            [self](wss_message m) {
              std::lock_guard lock{self->mu};
              self->messages.push_back(std::move(m));
            },
            [self](wss_failure f) {
              std::lock_guard lock{self->mu};
              self->failure = std::move(f);
              ++self->closes;
            }};
  }
  bool is_open() {
    std::lock_guard lock{mu};
    return opened;
  }
  std::size_t count() {
    std::lock_guard lock{mu};
    return messages.size();
  }
  std::optional<wss_failure> ended() {
    std::lock_guard lock{mu};
    return failure;
  }
};

wss_options options_for(std::uint16_t port, std::string host = "localhost",
                        std::string ca_file = pki().ca_file) {
  wss_options o;
  o.endpoint.host = std::move(host);
  o.endpoint.address = "127.0.0.1";
  o.endpoint.port = port;
  o.endpoint.ca_file = std::move(ca_file);
  o.endpoint.connect_timeout = 2s;
  o.handshake_timeout = 2s;
  return o;
}

std::shared_ptr<wss_client> start(io_thread& io, wss_options o,
                                  const std::shared_ptr<recorder>& rec) {
  auto c = wss_client::create(io.io, std::move(o), rec->handlers(rec));
  REQUIRE(c.has_value());
  (*c)->connect();
  return *c;
}

std::vector<ws_step> nothing(const test::received_frame&) {
  return {};
}

} // namespace

TEST_CASE("a stream receives binary and text frames and sends text frames") {
  io_thread io;
  test::wss_test_server server{
      pki(), {}, [](const test::received_frame& f) -> std::vector<ws_step> {
        if (f.data.find("authenticate") != std::string::npos)
          return {
              {action::send_binary,
               R"({"stream":"authorization","data":{"action":"authenticate","status":"authorized"}})"}};
        return {
            {action::send_text, R"({"stream":"listening","data":{"streams":["trade_updates"]}})"},
            {action::send_binary, std::string{"\x01", 1}}};
      }};
  auto rec = std::make_shared<recorder>();
  auto o = options_for(server.port());
  o.headers = {{"Content-Type", "application/json", false}};
  auto client = start(io, o, rec);
  client->send_text(R"({"action":"authenticate","data":{"key_id":"k","secret_key":"s"}})");
  client->send_text(R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  REQUIRE(test::wait_until([&] { return rec->count() == 3; }, 3s));
  {
    std::lock_guard lock{rec->mu};
    CHECK(rec->opened);
    CHECK(rec->messages[0].binary);
    CHECK(rec->messages[0].data ==
          R"({"stream":"authorization","data":{"action":"authenticate","status":"authorized"}})");
    CHECK_FALSE(rec->messages[1].binary);
    CHECK(rec->messages[1].data ==
          R"({"stream":"listening","data":{"streams":["trade_updates"]}})");
    CHECK(rec->messages[2].binary);
    CHECK(rec->messages[2].data == std::string{"\x01", 1});
    CHECK_FALSE(rec->failure.has_value());
  }
  auto frames = server.frames();
  REQUIRE(frames.size() == 2);
  CHECK_FALSE(frames[0].binary);
  CHECK(frames[1].data == R"({"action":"listen","data":{"streams":["trade_updates"]}})");
  bool saw_header = false;
  for (const auto& [k, v] : server.upgrade_headers())
    saw_header |= k == "Content-Type" && v == "application/json";
  CHECK(saw_header);
  client->close();
}

TEST_CASE("a stream whose certificate comes from an untrusted CA ends with a tls failure") {
  io_thread io;
  test::wss_test_server server{pki(), {}, nothing};
  auto rec = std::make_shared<recorder>();
  auto client = start(io, options_for(server.port(), "localhost", pki().other_ca_file), rec);
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  CHECK(rec->ended()->code == wss_errc::tls);
  CHECK_FALSE(rec->is_open());
}

TEST_CASE("a stream to the wrong host name ends with a tls failure") {
  io_thread io;
  test::wss_test_server server{pki(), {}, nothing};
  auto rec = std::make_shared<recorder>();
  auto client = start(io, options_for(server.port(), "paper-api.alpaca.markets"), rec);
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  CHECK(rec->ended()->code == wss_errc::tls);
  CHECK(rec->ended()->message.find("hostname mismatch") != std::string::npos);
}

TEST_CASE("a refused upgrade ends the stream with the HTTP status") {
  io_thread io;
  test::https_test_server server{
      pki(), [](const test::received_request&) {
        return test::scripted_reply{test::scripted_reply::action::respond, 401, {}, "no"};
      }};
  auto rec = std::make_shared<recorder>();
  auto client = start(io, options_for(server.port()), rec);
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  CHECK(rec->ended()->code == wss_errc::handshake);
  CHECK(rec->ended()->message.find("HTTP 401") != std::string::npos);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].target == "/stream");
}

TEST_CASE("a close frame from the server ends the stream with its code, reported once") {
  io_thread io;
  test::wss_test_server server{
      pki(), {{action::send_text, "bye soon"}, {action::close, "going away", 1001}}, nothing};
  auto rec = std::make_shared<recorder>();
  auto client = start(io, options_for(server.port()), rec);
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  auto f = *rec->ended();
  CHECK(f.code == wss_errc::closed);
  CHECK(f.close_code == 1001);
  CHECK(f.message.find("going away") != std::string::npos);
  CHECK(rec->count() == 1);
  client->send_text("after the end");
  client->close();
  std::this_thread::sleep_for(50ms);
  std::lock_guard lock{rec->mu};
  CHECK(rec->closes == 1);
}

TEST_CASE("a server that stops answering pings is detected within the idle timeout") {
  io_thread io;
  test::wss_test_server server{pki(), {{action::go_silent, ""}}, nothing};
  auto rec = std::make_shared<recorder>();
  auto o = options_for(server.port());
  o.idle_timeout = 400ms;
  auto started = std::chrono::steady_clock::now();
  auto client = start(io, o, rec);
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  CHECK(rec->ended()->code == wss_errc::timeout);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("a quiet server that answers pings keeps the stream open") {
  io_thread io;
  test::wss_test_server server{
      pki(), {}, [](const test::received_frame& f) -> std::vector<ws_step> {
        return {{action::send_text, "echo " + f.data}};
      }};
  auto rec = std::make_shared<recorder>();
  auto o = options_for(server.port());
  o.idle_timeout = 200ms;
  auto client = start(io, o, rec);
  REQUIRE(test::wait_until([&] { return rec->is_open(); }, 3s));
  // Five idle timeouts without data: only pings and pongs cross.
  CHECK_FALSE(test::wait_until([&] { return rec->ended().has_value(); }, 1000ms));
  client->send_text("still there?");
  REQUIRE(test::wait_until([&] { return rec->count() == 1; }, 3s));
  std::lock_guard lock{rec->mu};
  CHECK(rec->messages[0].data == "echo still there?");
  client->close();
}

TEST_CASE("a dropped connection without a close frame ends the stream as closed") {
  io_thread io;
  std::optional<test::wss_test_server> server;
  server.emplace(pki(), std::vector<ws_step>{}, nothing);
  auto rec = std::make_shared<recorder>();
  auto client = start(io, options_for(server->port()), rec);
  REQUIRE(test::wait_until([&] { return rec->is_open(); }, 3s));
  server.reset(); // shuts the TCP connection down
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  CHECK(rec->ended()->code == wss_errc::closed);
  CHECK(rec->ended()->close_code == 0);
}

TEST_CASE("a stream closed by its owner reports nothing") {
  io_thread io;
  test::wss_test_server server{pki(), {}, nothing};
  auto rec = std::make_shared<recorder>();
  auto client = start(io, options_for(server.port()), rec);
  REQUIRE(test::wait_until([&] { return rec->is_open(); }, 3s));
  client->close();
  CHECK_FALSE(test::wait_until([&] { return rec->ended().has_value(); }, 300ms));
}

TEST_CASE("a refused connection ends the stream with a connect failure") {
  io_thread io;
  auto rec = std::make_shared<recorder>();
  test::refusing_port refusing;
  auto client = start(io, options_for(refusing.port()), rec);
  REQUIRE(test::wait_until([&] { return rec->ended().has_value(); }, 3s));
  CHECK(rec->ended()->code == wss_errc::connect);
}
