// The HTTPS client (actors/net/https_client.*) against a TLS server on 127.0.0.1 whose
// certificate comes from a CA generated for the test: verification, keep-alive and its
// failures, timeouts, headers and redaction. Every wait is bounded.

#include <future>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#pragma GCC diagnostic pop
#include <catch2/catch.hpp>

#include "actors/net/https_client.hpp"
#include "tests/support/wait.hpp"
#include "tests/unit/net/support/tls_fixture.hpp"

using namespace brokerd;
using namespace brokerd::actors::net;
using namespace std::chrono_literals;
using test::scripted_reply;

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

https_options options_for(std::uint16_t port, std::string host = "localhost",
                          std::string ca_file = pki().ca_file) {
  https_options o;
  o.endpoint.host = std::move(host);
  o.endpoint.address = "127.0.0.1";
  o.endpoint.port = port;
  o.endpoint.ca_file = std::move(ca_file);
  o.endpoint.connect_timeout = 2s;
  return o;
}

std::shared_ptr<https_client> make_client(io_thread& io, https_options o) {
  auto c = https_client::create(io.io, std::move(o));
  REQUIRE(c.has_value());
  return *c;
}

https_result call(https_client& c, https_request r) {
  auto done = std::make_shared<std::promise<https_result>>();
  auto result = done->get_future();
  c.request(std::move(r), [done](https_result x) { done->set_value(std::move(x)); });
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  return result.get();
}

https_request get(std::string target) {
  https_request r;
  r.method = "GET";
  r.target = std::move(target);
  r.idempotent = true;
  r.timeout = 2s;
  return r;
}

https_request post(std::string target, std::string body) {
  https_request r;
  r.method = "POST";
  r.target = std::move(target);
  r.body = std::move(body);
  r.timeout = 2s;
  return r;
}

scripted_reply ok(std::string body) {
  return {scripted_reply::action::respond, 200, {}, std::move(body)};
}

} // namespace

TEST_CASE("a request over verified TLS gets the response with its headers") {
  io_thread io;
  test::https_test_server server{pki(), [](const test::received_request&) {
                                   return scripted_reply{scripted_reply::action::respond,
                                                         429,
                                                         {{"Retry-After", "3"},
                                                          {"X-RateLimit-Limit", "200"},
                                                          {"X-RateLimit-Remaining", "0"},
                                                          {"X-RateLimit-Reset", "1700000000"},
                                                          {"X-Request-ID", "req-42"},
                                                          {"Location", "/v2/orders/1"}},
                                                         R"({"message":"too many requests"})"};
                                 }};
  auto o = options_for(server.port());
  o.default_headers = {{"APCA-API-KEY-ID", "AK1", true}, {"APCA-API-SECRET-KEY", "SK1", true}};
  auto client = make_client(io, o);
  auto r = post("/v2/orders", R"({"symbol":"AAPL"})");
  r.headers.push_back({"X-Trace", "t1", false});
  auto result = call(*client, r);
  REQUIRE(result.has_value());
  CHECK(result->status == 429);
  CHECK(result->header("retry-after") == "3");
  CHECK(result->header("X-RATELIMIT-LIMIT") == "200");
  CHECK(result->header("X-RateLimit-Remaining") == "0");
  CHECK(result->header("X-RateLimit-Reset") == "1700000000");
  CHECK(result->header("X-Request-ID") == "req-42");
  CHECK(result->header("Location") == "/v2/orders/1");
  CHECK_FALSE(result->header("X-Missing").has_value());
  CHECK(result->body == R"({"message":"too many requests"})");
  CHECK(result->attempts == 1);

  auto seen = server.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/v2/orders");
  CHECK(seen[0].body == R"({"symbol":"AAPL"})");
  auto has = [&](std::string_view name, std::string_view value) {
    for (const auto& [k, v] : seen[0].headers)
      if (k == name && v == value)
        return true;
    return false;
  };
  CHECK(has("APCA-API-KEY-ID", "AK1"));
  CHECK(has("APCA-API-SECRET-KEY", "SK1"));
  CHECK(has("X-Trace", "t1"));
  CHECK(has("Content-Type", "application/json"));
  CHECK(has("Host", "localhost:" + std::to_string(server.port())));
}

TEST_CASE("a request description never shows a sensitive header's value nor the body") {
  https_request r = post("/v2/orders", R"({"qty":"1"})");
  r.headers = {{"APCA-API-KEY-ID", "AKVISIBLE", false}, {"APCA-API-SECRET-KEY", "hunter2", true}};
  auto text = describe(r);
  CHECK(text ==
        "POST /v2/orders; APCA-API-KEY-ID: AKVISIBLE; APCA-API-SECRET-KEY: ***; body 11 bytes");
  CHECK(text.find("hunter2") == std::string::npos);
}

TEST_CASE("the server's certificate is accepted for its IP address too") {
  io_thread io;
  test::https_test_server server{pki(), [](const auto&) { return ok("ip"); }};
  auto client = make_client(io, options_for(server.port(), "127.0.0.1"));
  auto result = call(*client, get("/"));
  REQUIRE(result.has_value());
  CHECK(result->body == "ip");
}

TEST_CASE("a certificate from an untrusted CA fails the connection before anything is sent") {
  io_thread io;
  test::https_test_server server{pki(), [](const auto&) { return ok(""); }};
  auto client = make_client(io, options_for(server.port(), "localhost", pki().other_ca_file));
  auto result = call(*client, post("/v2/orders", "{}"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::tls);
  CHECK_FALSE(result.error().request_sent);
  INFO(result.error().message);
  CHECK(result.error().message.find("certificate verification failed") != std::string::npos);
  CHECK(server.requests().empty());
}

TEST_CASE("the system store does not trust the test CA") {
  io_thread io;
  test::https_test_server server{pki(), [](const auto&) { return ok(""); }};
  auto client = make_client(io, options_for(server.port(), "localhost", ""));
  auto result = call(*client, get("/"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::tls);
}

TEST_CASE("a certificate for another host name fails the connection") {
  io_thread io;
  test::https_test_server server{pki(), [](const auto&) { return ok(""); }};
  auto client = make_client(io, options_for(server.port(), "paper-api.alpaca.markets"));
  auto result = call(*client, get("/v2/account"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::tls);
  INFO(result.error().message);
  CHECK(result.error().message.find("hostname mismatch") != std::string::npos);
  CHECK(server.requests().empty());
  auto wrong_ip = make_client(io, options_for(server.port(), "127.0.0.2"));
  CHECK(call(*wrong_ip, get("/")).error().code == https_errc::tls);
}

TEST_CASE("an unreadable CA file is refused when the client is created") {
  io_thread io;
  auto o = options_for(1, "localhost", "/nonexistent/ca.pem");
  auto c = https_client::create(io.io, o);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().find("/nonexistent/ca.pem") != std::string::npos);
}

TEST_CASE("a refused connection is a connect failure") {
  io_thread io;
  test::refusing_port refusing;
  auto client = make_client(io, options_for(refusing.port()));
  auto result = call(*client, post("/v2/orders", "{}"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::connect);
  CHECK_FALSE(result.error().request_sent);
}

TEST_CASE("a server that never completes the TLS handshake times out as a tls failure") {
  io_thread io;
  boost::asio::io_context silent_io;
  boost::asio::ip::tcp::acceptor acceptor{silent_io,
                                          {boost::asio::ip::make_address("127.0.0.1"), 0}};
  boost::asio::ip::tcp::socket peer{silent_io};
  std::thread accept{[&] { acceptor.accept(peer); }};
  auto o = options_for(acceptor.local_endpoint().port());
  o.endpoint.connect_timeout = 300ms;
  auto client = make_client(io, o);
  auto started = std::chrono::steady_clock::now();
  auto result = call(*client, get("/"));
  accept.join();
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::tls);
  CHECK(result.error().message.find("timed out") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("a response that does not come in time is a timeout, and the request counts as sent") {
  io_thread io;
  test::https_test_server server{
      pki(), [](const test::received_request& r) {
        if (r.target == "/slow")
          return scripted_reply{scripted_reply::action::stall, 200, {}, ""};
        return ok("fast");
      }};
  auto client = make_client(io, options_for(server.port()));
  auto slow = get("/slow");
  slow.timeout = 300ms;
  auto result = call(*client, slow);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::timeout);
  CHECK(result.error().request_sent);
  // The timed-out connection is dropped; the next request gets a new one.
  auto next = call(*client, get("/next"));
  REQUIRE(next.has_value());
  CHECK(next->body == "fast");
  CHECK(client->connections_opened() == 2);
}

TEST_CASE("requests reuse one keep-alive connection") {
  io_thread io;
  test::https_test_server server{pki(),
                                 [](const test::received_request& r) { return ok(r.target); }};
  auto client = make_client(io, options_for(server.port()));
  for (int i = 0; i < 3; ++i)
    CHECK(call(*client, get("/" + std::to_string(i)))->body == "/" + std::to_string(i));
  CHECK(client->connections_opened() == 1);
  for (const auto& r : server.requests())
    CHECK(r.connection == 1);
}

TEST_CASE("requests queued together complete in order, one at a time") {
  io_thread io;
  test::https_test_server server{pki(),
                                 [](const test::received_request& r) { return ok(r.target); }};
  auto client = make_client(io, options_for(server.port()));
  std::vector<std::future<https_result>> results;
  for (int i = 0; i < 5; ++i) {
    auto p = std::make_shared<std::promise<https_result>>();
    results.push_back(p->get_future());
    client->request(get("/" + std::to_string(i)),
                    [p](https_result x) { p->set_value(std::move(x)); });
  }
  for (int i = 0; i < 5; ++i) {
    REQUIRE(results[static_cast<std::size_t>(i)].wait_for(5s) == std::future_status::ready);
    CHECK(results[static_cast<std::size_t>(i)].get()->body == "/" + std::to_string(i));
  }
}

TEST_CASE("a GET whose keep-alive connection the server dropped is resent once on a new one") {
  io_thread io;
  std::atomic<int> gets{0};
  test::https_test_server server{
      pki(), [&](const test::received_request& r) {
        if (r.target == "/v2/account" && gets++ == 0)
          return scripted_reply{scripted_reply::action::close, 0, {}, ""};
        return ok("account");
      }};
  auto client = make_client(io, options_for(server.port()));
  REQUIRE(call(*client, get("/warm-up")).has_value());
  auto result = call(*client, get("/v2/account"));
  REQUIRE(result.has_value());
  CHECK(result->body == "account");
  CHECK(result->attempts == 2);
  CHECK(client->connections_opened() == 2);
  CHECK(gets == 2);
}

TEST_CASE("a GET on a fresh connection that breaks is reported closed, not resent") {
  io_thread io;
  test::https_test_server server{pki(), [](const test::received_request&) {
                                   return scripted_reply{scripted_reply::action::close, 0, {}, ""};
                                 }};
  auto client = make_client(io, options_for(server.port()));
  auto result = call(*client, get("/v2/account"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::closed);
  CHECK(server.requests().size() == 1);
}

TEST_CASE(
    "a POST whose keep-alive connection breaks after sending is outcome_unknown, never resent") {
  io_thread io;
  test::https_test_server server{
      pki(), [](const test::received_request& r) {
        if (r.method == "POST")
          return scripted_reply{scripted_reply::action::close, 0, {}, ""};
        return ok("warm");
      }};
  auto client = make_client(io, options_for(server.port()));
  REQUIRE(call(*client, get("/warm-up")).has_value());
  auto result = call(*client, post("/v2/orders", R"({"client_order_id":"c-1"})"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code == https_errc::outcome_unknown);
  CHECK(result.error().request_sent);
  // Give a resend every chance to show up before counting.
  std::this_thread::sleep_for(100ms);
  auto posts = 0;
  for (const auto& r : server.requests())
    posts += r.method == "POST" ? 1 : 0;
  CHECK(posts == 1);
  CHECK(client->connections_opened() == 1);
}

TEST_CASE("a POST after the server closed the idle connection goes out on a new connection") {
  io_thread io;
  test::https_test_server server{
      pki(), [](const test::received_request& r) {
        if (r.method == "GET")
          return scripted_reply{scripted_reply::action::respond_then_close, 200, {}, "bye"};
        return ok("order");
      }};
  auto client = make_client(io, options_for(server.port()));
  REQUIRE(call(*client, get("/v2/account"))->body == "bye");
  REQUIRE(test::wait_until([&] { return server.closed_connections() == 1; }, 2s));
  auto result = call(*client, post("/v2/orders", "{}"));
  REQUIRE(result.has_value());
  CHECK(result->body == "order");
  CHECK(result->attempts == 1);
  CHECK(client->connections_opened() == 2);
}

TEST_CASE("a response with Connection: close is delivered and the next request reconnects") {
  io_thread io;
  test::https_test_server server{pki(), [](const test::received_request&) {
                                   return scripted_reply{scripted_reply::action::respond_then_close,
                                                         204,
                                                         {{"Connection", "close"}},
                                                         ""};
                                 }};
  auto client = make_client(io, options_for(server.port()));
  auto first = call(*client, post("/a", "{}"));
  REQUIRE(first.has_value());
  CHECK(first->status == 204);
  CHECK(call(*client, post("/b", "{}")).has_value());
  CHECK(client->connections_opened() == 2);
}

TEST_CASE("closing the client fails what is in flight and what is queued with cancelled") {
  io_thread io;
  test::https_test_server server{
      pki(), [](const test::received_request&) {
        return scripted_reply{scripted_reply::action::stall, 200, {}, ""};
      }};
  auto client = make_client(io, options_for(server.port()));
  auto p1 = std::make_shared<std::promise<https_result>>();
  auto p2 = std::make_shared<std::promise<https_result>>();
  auto f1 = p1->get_future();
  auto f2 = p2->get_future();
  client->request(post("/v2/orders", "{}"), [p1](https_result x) { p1->set_value(std::move(x)); });
  client->request(get("/later"), [p2](https_result x) { p2->set_value(std::move(x)); });
  REQUIRE(test::wait_until([&] { return server.requests().size() == 1; }, 2s));
  client->close();
  REQUIRE(f1.wait_for(2s) == std::future_status::ready);
  REQUIRE(f2.wait_for(2s) == std::future_status::ready);
  auto r1 = f1.get();
  auto r2 = f2.get();
  CHECK(r1.error().code == https_errc::cancelled);
  CHECK(r1.error().request_sent);
  CHECK(r2.error().code == https_errc::cancelled);
  CHECK_FALSE(r2.error().request_sent);
  CHECK(call(*client, get("/after")).error().code == https_errc::cancelled);
}

TEST_CASE("a full request queue refuses the request at once") {
  io_thread io;
  test::https_test_server server{
      pki(), [](const test::received_request&) {
        return scripted_reply{scripted_reply::action::stall, 200, {}, ""};
      }};
  auto o = options_for(server.port());
  o.max_queued = 1;
  auto client = make_client(io, o);
  auto slow = get("/slow");
  slow.timeout = 1s;
  std::vector<std::future<https_result>> results;
  for (int i = 0; i < 3; ++i) {
    auto p = std::make_shared<std::promise<https_result>>();
    results.push_back(p->get_future());
    client->request(slow, [p](https_result x) { p->set_value(std::move(x)); });
  }
  // In flight, queued, refused.
  REQUIRE(results[2].wait_for(2s) == std::future_status::ready);
  CHECK(results[2].get().error().code == https_errc::queue_full);
  client->close();
}
