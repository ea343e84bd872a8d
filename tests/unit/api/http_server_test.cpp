#include "api/http_server.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/write.hpp>
#pragma GCC diagnostic pop

#include "api/websocket_upgrade.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using brokerd::api::http_limits;
using brokerd::api::http_request;
using brokerd::api::http_response;
using brokerd::api::http_server;
using brokerd::api::request_handler;
using brokerd::api::responder;
using brokerd::test::http_client;
using brokerd::test::raw_connection;
using brokerd::test::wait_until;
namespace asio = boost::asio;

namespace {

/// An http_server on an ephemeral loopback port with its io_context on one thread.
class test_server {
public:
  explicit test_server(request_handler handler, http_limits limits = {},
                       brokerd::api::upgrade_handler upgrade = {}) {
    auto started =
        http_server::start(ioc_, "127.0.0.1", 0, std::move(handler), limits, std::move(upgrade));
    if (!started)
      FAIL("http_server::start: " << started.error());
    server_ = std::move(*started);
    io_thread_ = std::thread([this] { ioc_.run(); });
  }
  ~test_server() {
    server_->stop();
    work_.reset();
    ioc_.stop();
    io_thread_.join();
    // Responders still held by the test are dropped while the io_context exists.
    if (teardown_)
      teardown_();
  }
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;

  [[nodiscard]] std::uint16_t port() const { return server_->port(); }
  void stop() { server_->stop(); }

  /// Runs `f` after the io thread has stopped and before the io_context is destroyed.
  void at_teardown(std::function<void()> f) { teardown_ = std::move(f); }

private:
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(ioc_)};
  std::unique_ptr<http_server> server_;
  std::thread io_thread_;
  std::function<void()> teardown_;
};

/// Responders kept by a handler so the test answers them later, from its own thread.
class held_responders {
public:
  void add(http_request req, responder r) {
    std::lock_guard lock{mutex_};
    requests_.push_back(std::move(req));
    responders_.push_back(std::move(r));
  }
  std::size_t size() {
    std::lock_guard lock{mutex_};
    return responders_.size();
  }
  responder at(std::size_t i) {
    std::lock_guard lock{mutex_};
    return responders_.at(i);
  }
  http_request request(std::size_t i) {
    std::lock_guard lock{mutex_};
    return requests_.at(i);
  }
  void clear() {
    std::lock_guard lock{mutex_};
    responders_.clear();
  }
  /// Makes `s` drop the held responders at teardown, even when a test fails early.
  void clear_at_teardown(test_server& s) {
    s.at_teardown([this] { clear(); });
  }
  request_handler handler() {
    return [this](http_request req, responder r) { add(std::move(req), std::move(r)); };
  }

private:
  std::mutex mutex_;
  std::vector<http_request> requests_;
  std::vector<responder> responders_;
};

http_response text(std::string body, unsigned status = 200) {
  return http_response{status, std::move(body), "text/plain", {}};
}

/// Answers every request at once with its path.
request_handler echo_path(std::atomic<int>& calls) {
  return [&calls](http_request req, responder respond) {
    ++calls;
    respond(text(req.path));
  };
}

std::string get(std::string_view path, std::string_view extra_headers = "") {
  return "GET " + std::string{path} + " HTTP/1.1\r\nHost: t\r\n" + std::string{extra_headers} +
         "\r\n";
}

} // namespace

TEST_CASE("the method, path, query, headers, body and peer address reach the handler") {
  std::mutex m;
  std::optional<http_request> seen;
  test_server s([&](http_request req, responder respond) {
    {
      std::lock_guard lock{m};
      seen = req;
    }
    respond(text("ok"));
  });
  http_client c{s.port()};
  auto res = c.request("POST", "/api/orders?since=10&q=a%20b+c&flag", R"({"x":1})",
                       {{"Authorization", "Bearer t0k"},
                        {"Content-Type", "application/json"},
                        {"Cookie", "session=abc"}});
  CHECK(res.status == 200);
  CHECK(res.body == "ok");

  std::lock_guard lock{m};
  REQUIRE(seen);
  CHECK(seen->method == "POST");
  CHECK(seen->target == "/api/orders?since=10&q=a%20b+c&flag");
  CHECK(seen->path == "/api/orders");
  std::vector<std::pair<std::string, std::string>> query{
      {"since", "10"}, {"q", "a b c"}, {"flag", ""}};
  CHECK(seen->query == query);
  CHECK(seen->authorization == "Bearer t0k");
  CHECK(seen->content_type == "application/json");
  CHECK(seen->body == R"({"x":1})");
  CHECK(seen->remote_address == "127.0.0.1");
  CHECK(seen->header("cookie") == "session=abc");
  CHECK(seen->header("COOKIE") == "session=abc");
  CHECK_FALSE(seen->header("x-missing"));
}

TEST_CASE("every response carries Content-Type, Content-Length, no-store and the server name") {
  test_server s([](http_request, responder respond) {
    respond(http_response{201,
                          R"({"id":"1"})",
                          "application/json",
                          {{"Location", "/api/orders/1"},
                           {"X-Split", "a\r\nInjected: yes"},
                           {"Content-Length", "999"},
                           {"Bad Name", "x"},
                           {"Retry-After", "3"}}});
  });
  http_client c{s.port()};
  auto res = c.request("GET", "/api/orders/1");
  CHECK(res.status == 201);
  CHECK(res.body == R"({"id":"1"})");
  CHECK(res.header("Content-Type") == "application/json");
  CHECK(res.header("Content-Length") == "10");
  CHECK(res.header("Cache-Control") == "no-store");
  CHECK(res.header("Server") == "brokerd");
  CHECK(res.header("Location") == "/api/orders/1");
  CHECK(res.header("Retry-After") == "3");
  CHECK_FALSE(res.header("X-Split"));
  CHECK_FALSE(res.header("Injected"));
  CHECK_FALSE(res.header("Bad Name"));
  CHECK(res.keep_alive);
}

TEST_CASE("a handler status outside 200..599 is sent as 500") {
  test_server s([](http_request, responder respond) { respond(text("odd", 42)); });
  http_client c{s.port()};
  auto res = c.request("GET", "/");
  CHECK(res.status == 500);
  CHECK(brokerd::test::json_string(brokerd::test::parse_json(res.body), "error") == "internal_error");
}

TEST_CASE("several requests on a keep-alive connection share one TCP connection") {
  std::atomic<int> calls{0};
  test_server s(echo_path(calls));
  http_client c{s.port()};
  for (int i = 0; i < 5; ++i) {
    auto res = c.request("GET", "/r" + std::to_string(i));
    CHECK(res.status == 200);
    CHECK(res.body == "/r" + std::to_string(i));
    CHECK(res.keep_alive);
  }
  CHECK(c.connect_count() == 1);
  CHECK(calls == 5);
}

TEST_CASE("pipelined requests are answered in request order even when answered out of order") {
  held_responders held;
  test_server s(held.handler());
  held.clear_at_teardown(s);
  raw_connection conn{s.port()};
  conn.send(get("/a") + get("/b") + get("/c"));
  REQUIRE(wait_until([&] { return held.size() == 3; }, 5s));
  held.at(2)(text("third"));
  held.at(1)(text("second"));
  held.at(0)(text("first"));
  CHECK(conn.read_response().body == "first");
  CHECK(conn.read_response().body == "second");
  CHECK(conn.read_response().body == "third");
  CHECK(held.request(0).path == "/a");
  CHECK(held.request(2).path == "/c");
  held.clear();
}

TEST_CASE("a full pipeline stops reading until a response has been written") {
  held_responders held;
  http_limits limits;
  limits.max_pipelined = 2;
  test_server s(held.handler(), limits);
  held.clear_at_teardown(s);
  raw_connection conn{s.port()};
  conn.send(get("/1") + get("/2") + get("/3") + get("/4") + get("/5"));
  REQUIRE(wait_until([&] { return held.size() == 2; }, 5s));
  // The other three wait in the socket, not in the server.
  CHECK_FALSE(wait_until([&] { return held.size() > 2; }, 300ms));

  held.at(0)(text("r1"));
  CHECK(conn.read_response().body == "r1");
  REQUIRE(wait_until([&] { return held.size() == 3; }, 5s));
  CHECK_FALSE(wait_until([&] { return held.size() > 3; }, 100ms));

  held.at(1)(text("r2"));
  REQUIRE(wait_until([&] { return held.size() == 4; }, 5s));
  held.at(2)(text("r3"));
  REQUIRE(wait_until([&] { return held.size() == 5; }, 5s));
  held.at(4)(text("r5"));
  held.at(3)(text("r4"));
  for (std::string want : {"r2", "r3", "r4", "r5"})
    CHECK(conn.read_response().body == want);
  held.clear();
}

TEST_CASE("an oversized body gets 413 and never reaches the handler") {
  std::atomic<int> calls{0};
  http_limits limits;
  limits.max_body = 1024;
  test_server s(echo_path(calls), limits);
  {
    http_client c{s.port()};
    auto res = c.request("POST", "/api/orders", std::string(4000, 'x'));
    CHECK(res.status == 413);
    CHECK_FALSE(res.keep_alive);
    auto doc = brokerd::test::parse_json(res.body);
    CHECK(brokerd::test::json_string(doc, "error") == "payload_too_large");
    CHECK_THAT(brokerd::test::json_string(doc, "message"), Catch::Contains("1024"));
    CHECK(calls == 0);
  }
  {
    // Chunked: the limit applies to the decoded body as it arrives.
    raw_connection conn{s.port()};
    std::string chunk(800, 'y');
    conn.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              "320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
    CHECK(conn.read_response().status == 413);
    CHECK(calls == 0);
  }
  http_client c{s.port()};
  CHECK(c.request("POST", "/fits", std::string(1024, 'x')).status == 200);
  CHECK(calls == 1);
}

TEST_CASE("an oversized header gets 431 and never reaches the handler") {
  std::atomic<int> calls{0};
  http_limits limits;
  limits.max_header = 1024;
  test_server s(echo_path(calls), limits);
  http_client c{s.port()};
  auto res = c.request("GET", "/", "", {{"X-Big", std::string(2000, 'h')}});
  CHECK(res.status == 431);
  CHECK(brokerd::test::json_string(brokerd::test::parse_json(res.body), "error") ==
        "headers_too_large");
  CHECK(calls == 0);
}

TEST_CASE("garbage bytes get a 400 JSON answer and the connection is closed") {
  std::atomic<int> calls{0};
  test_server s(echo_path(calls));
  for (std::string garbage : {std::string{"\x16\x03\x01\x02\x00 hello\r\n\r\n", 15},
                              std::string{"GET / FTP/1.1\r\n\r\n"},
                              std::string{"GET / HTTP/1.1\r\nBad Header\r\n\r\n"},
                              std::string{"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"}}) {
    raw_connection conn{s.port()};
    conn.send(garbage);
    auto res = conn.read_response();
    CHECK(res.status == 400);
    CHECK(res.header("Content-Type") == "application/json");
    CHECK(brokerd::test::json_string(brokerd::test::parse_json(res.body), "error") ==
          "bad_request");
    CHECK_FALSE(res.keep_alive);
    CHECK(conn.read_until_closed().empty());
  }
  CHECK(calls == 0);
}

TEST_CASE("a malformed query string gets 400 and the connection stays usable") {
  std::atomic<int> calls{0};
  test_server s(echo_path(calls));
  http_client c{s.port()};
  auto res = c.request("GET", "/x?a=%zz");
  CHECK(res.status == 400);
  CHECK(res.keep_alive);
  CHECK(calls == 0);
  CHECK(c.request("GET", "/y?a=%41").body == "/y");
  CHECK(c.connect_count() == 1);
}

TEST_CASE("a responder called later from another thread answers the request") {
  held_responders held;
  test_server s(held.handler());
  held.clear_at_teardown(s);
  std::jthread answer([&] {
    if (wait_until([&] { return held.size() == 1; }, 5s)) {
      std::this_thread::sleep_for(100ms);
      held.at(0)(text("late"));
    }
  });
  http_client c{s.port()};
  auto res = c.request("GET", "/slow");
  answer.join();
  CHECK(res.status == 200);
  CHECK(res.body == "late");
  held.clear();
}

TEST_CASE("a response taking longer than the idle timeout is still delivered") {
  held_responders held;
  http_limits limits;
  limits.idle_timeout = 1s;
  test_server s(held.handler(), limits);
  held.clear_at_teardown(s);
  std::jthread answer([&] {
    if (wait_until([&] { return held.size() == 1; }, 5s)) {
      std::this_thread::sleep_for(1600ms);
      held.at(0)(text("patience"));
    }
  });
  http_client c{s.port()};
  auto res = c.request("GET", "/slow");
  answer.join();
  CHECK(res.body == "patience");
  held.clear();
}

TEST_CASE("a responder called twice answers only once") {
  std::atomic<int> n{0};
  test_server s([&](http_request, responder respond) {
    int i = ++n;
    respond(text(std::to_string(i) + "-first"));
    respond(text(std::to_string(i) + "-second"));
  });
  http_client c{s.port()};
  CHECK(c.request("GET", "/").body == "1-first");
  CHECK(c.request("GET", "/").body == "2-first");
  CHECK(c.request("GET", "/").body == "3-first");
  CHECK(c.connect_count() == 1);
}

TEST_CASE("a responder dropped without an answer sends 500 no_response") {
  test_server s([](http_request, responder) {});
  http_client c{s.port()};
  auto res = c.request("GET", "/");
  CHECK(res.status == 500);
  CHECK(brokerd::test::json_string(brokerd::test::parse_json(res.body), "error") ==
        "no_response");
}

TEST_CASE("a handler that throws answers 500 and the server keeps serving") {
  std::atomic<int> n{0};
  test_server s([&](http_request req, responder respond) {
    ++n;
    if (req.path == "/throw")
      throw std::runtime_error("boom");
    respond(text("fine"));
  });
  http_client c{s.port()};
  auto res = c.request("GET", "/throw");
  CHECK(res.status == 500);
  CHECK_THAT(res.body, !Catch::Contains("boom"));
  CHECK(c.request("GET", "/ok").body == "fine");
  CHECK(n == 2);
}

TEST_CASE("a client that disconnects before its response does not disturb the server") {
  held_responders held;
  test_server s([&](http_request req, responder respond) {
    if (req.path == "/ok")
      respond(text("alive"));
    else
      held.add(std::move(req), std::move(respond));
  });
  held.clear_at_teardown(s);
  for (std::size_t i = 0; i < 10; ++i) {
    {
      raw_connection conn{s.port()};
      conn.send(get("/hold") + get("/hold"));
      REQUIRE(wait_until([&] { return held.size() == 2 * (i + 1); }, 5s));
      if (i % 2 == 0)
        held.at(2 * i)(text("before close"));
    }
    held.at(2 * i + 1)(text("after close"));
    if (i % 2 == 1)
      held.at(2 * i)(text("after close"));
  }
  held.clear();
  http_client c{s.port()};
  CHECK(c.request("GET", "/ok").body == "alive");
}

TEST_CASE("fifty clients making twenty requests each are all answered") {
  // Even requests are answered on the io thread, odd ones by a worker thread.
  std::mutex m;
  std::condition_variable cv;
  std::deque<std::pair<std::string, responder>> queue;
  bool done = false;
  std::thread worker([&] {
    std::unique_lock lock{m};
    for (;;) {
      cv.wait_for(lock, 100ms, [&] { return done || !queue.empty(); });
      while (!queue.empty()) {
        auto [path, respond] = std::move(queue.front());
        queue.pop_front();
        lock.unlock();
        respond(text(path));
        lock.lock();
      }
      if (done)
        return;
    }
  });
  std::atomic<int> calls{0};
  test_server s([&](http_request req, responder respond) {
    int i = ++calls;
    if (i % 2 == 0) {
      respond(text(req.path));
      return;
    }
    std::lock_guard lock{m};
    queue.emplace_back(req.path, std::move(respond));
    cv.notify_one();
  });

  constexpr int clients = 50;
  constexpr int requests = 20;
  std::atomic<int> ok{0};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      try {
        http_client c{s.port()};
        for (int r = 0; r < requests; ++r) {
          std::string path = "/c" + std::to_string(t) + "/r" + std::to_string(r);
          auto res = c.request("GET", path);
          if (res.status == 200 && res.body == path)
            ++ok;
          else
            throw std::runtime_error("wrong answer for " + path + ": " + res.body);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock{errors_mutex};
        errors.emplace_back(e.what());
      }
    });
  }
  for (auto& t : threads)
    t.join();
  {
    std::lock_guard lock{m};
    done = true;
  }
  cv.notify_one();
  worker.join();
  INFO((errors.empty() ? std::string{} : errors.front()));
  CHECK(errors.empty());
  CHECK(ok == clients * requests);
  CHECK(calls == clients * requests);
}

TEST_CASE("HEAD gets the headers of GET without a body") {
  test_server s([](http_request req, responder respond) {
    respond(text(req.method == "HEAD" || req.method == "GET" ? "hello" : "other"));
  });
  raw_connection conn{s.port()};
  conn.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/x"));
  auto head = conn.read_response(true);
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == "5");
  CHECK(head.body.empty());
  auto body = conn.read_response();
  CHECK(body.body == "hello");

  http_client c{s.port()};
  auto res = c.request("HEAD", "/x");
  CHECK(res.body.empty());
  CHECK(res.header("Content-Length") == "5");
  CHECK(c.request("GET", "/x").body == "hello");
  CHECK(c.connect_count() == 1);
}

TEST_CASE("Connection: close is honoured and later pipelined requests are not read") {
  std::atomic<int> calls{0};
  test_server s(echo_path(calls));
  raw_connection conn{s.port()};
  conn.send(get("/a", "Connection: close\r\n") + get("/b"));
  auto res = conn.read_response();
  CHECK(res.body == "/a");
  CHECK_FALSE(res.keep_alive);
  CHECK(res.header("Connection") == "close");
  CHECK(conn.read_until_closed().empty());
  CHECK(calls == 1);
}

TEST_CASE("an HTTP/1.0 request without keep-alive is answered and the connection closed") {
  std::atomic<int> calls{0};
  test_server s(echo_path(calls));
  raw_connection conn{s.port()};
  conn.send("GET /old HTTP/1.0\r\n\r\n");
  auto res = conn.read_response();
  CHECK(res.body == "/old");
  CHECK_FALSE(res.keep_alive);
  CHECK(conn.read_until_closed().empty());
}

TEST_CASE("an idle connection and a half-sent request are closed after the idle timeout") {
  std::atomic<int> calls{0};
  http_limits limits;
  limits.idle_timeout = 1s;
  test_server s(echo_path(calls), limits);
  for (std::string sent : {std::string{}, std::string{"GET /slowloris HTTP/1.1\r\nHost: t\r\n"}}) {
    raw_connection conn{s.port(), 5s};
    if (!sent.empty())
      conn.send(sent);
    auto start = std::chrono::steady_clock::now();
    CHECK(conn.read_until_closed().empty());
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= 800ms);
    CHECK(waited < 4s);
  }
  CHECK(calls == 0);

  // A keep-alive connection is closed once idle after its last response, not before.
  raw_connection conn{s.port(), 5s};
  conn.send(get("/a"));
  CHECK(conn.read_response().body == "/a");
  CHECK(conn.read_until_closed().empty());
}

TEST_CASE("stop closes idle connections, finishes requests in flight and refuses new ones") {
  held_responders held;
  test_server s([&](http_request req, responder respond) {
    if (req.path == "/hold")
      held.add(std::move(req), std::move(respond));
    else
      respond(text("quick"));
  });
  held.clear_at_teardown(s);
  raw_connection idle{s.port()};
  raw_connection busy{s.port()};
  busy.send(get("/hold"));
  REQUIRE(wait_until([&] { return held.size() == 1; }, 5s));

  s.stop();
  CHECK(idle.read_until_closed().empty());
  REQUIRE(wait_until([&] { return !brokerd::test::wait_for_port(s.port(), 0ms); }, 5s));

  held.at(0)(text("finished"));
  auto res = busy.read_response();
  CHECK(res.body == "finished");
  CHECK_FALSE(res.keep_alive);
  CHECK(busy.read_until_closed().empty());
  held.clear();
}

TEST_CASE("a connection beyond the limit is closed at once") {
  std::atomic<int> calls{0};
  http_limits limits;
  limits.max_connections = 2;
  test_server s(echo_path(calls), limits);
  http_client a{s.port()};
  http_client b{s.port()};
  CHECK(a.request("GET", "/a").status == 200);
  CHECK(b.request("GET", "/b").status == 200);
  {
    raw_connection third{s.port()};
    CHECK(third.read_until_closed().empty());
  }
  a.close();
  http_client c{s.port()};
  CHECK(wait_until(
      [&] {
        try {
          return c.request("GET", "/c").status == 200;
        } catch (const std::exception&) {
          c.close();
          return false;
        }
      },
      5s, 20ms));
  CHECK(b.request("GET", "/b2").body == "/b2");
}

TEST_CASE("start reports a taken port and an invalid address") {
  std::atomic<int> calls{0};
  test_server s(echo_path(calls));
  asio::io_context ioc;
  auto taken = http_server::start(ioc, "127.0.0.1", s.port(), echo_path(calls));
  REQUIRE_FALSE(taken);
  CHECK_THAT(taken.error(), Catch::Contains("cannot bind 127.0.0.1:" + std::to_string(s.port())));

  auto bad = http_server::start(ioc, "localhost-ish", 0, echo_path(calls));
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error(), Catch::Contains("invalid bind address 'localhost-ish'"));

  http_limits no_pipeline;
  no_pipeline.max_pipelined = 0;
  CHECK_FALSE(http_server::start(ioc, "127.0.0.1", 0, echo_path(calls), no_pipeline));
  CHECK_FALSE(http_server::start(ioc, "127.0.0.1", 0, request_handler{}));
}

namespace {

constexpr std::string_view upgrade_headers =
    "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// Refuses /refuse with 403, throws on /throw, takes /take: answers the connection itself
/// with a raw "101" line so the test sees the socket changed hands.
brokerd::api::upgrade_handler upgrades(std::atomic<int>& taken) {
  return [&taken](const http_request& req) {
    brokerd::api::upgrade_answer a;
    if (req.path == "/throw")
      throw std::runtime_error("boom");
    if (req.path == "/take") {
      a.accept = [&taken](std::unique_ptr<brokerd::api::upgraded_connection> c) {
        ++taken;
        std::string line = "taken " + std::string{c->request.target()} + "\n";
        boost::system::error_code ec;
        asio::write(c->socket, asio::buffer(line), ec);
        c->socket.close(ec);
      };
      return a;
    }
    if (req.path == "/none")
      return a; // neither set
    a.refuse = text("refused", 403);
    return a;
  };
}

} // namespace

TEST_CASE("an upgrade request goes to the upgrade handler, which takes the socket or refuses") {
  std::atomic<int> calls{0};
  std::atomic<int> taken{0};
  test_server s(echo_path(calls), {}, upgrades(taken));
  {
    raw_connection conn{s.port()};
    conn.send(get("/take", upgrade_headers));
    CHECK(conn.read_until_closed() == "taken /take\n");
    CHECK(taken == 1);
  }
  for (const auto& [path, status] :
       std::vector<std::pair<std::string, unsigned>>{{"/refuse", 403}, {"/throw", 500}, {"/none", 500}}) {
    INFO(path);
    raw_connection conn{s.port()};
    conn.send(get(path, upgrade_headers));
    CHECK(conn.read_response().status == status);
    conn.read_until_closed(); // a refused upgrade closes the connection
  }
  // Requests without Upgrade still reach the request handler.
  raw_connection plain{s.port()};
  plain.send(get("/take"));
  CHECK(plain.read_response().body == "/take");
  CHECK(calls == 1);
  CHECK(taken == 1);
}

TEST_CASE("an upgrade behind pipelined requests is refused after their answers") {
  held_responders held;
  std::atomic<int> taken{0};
  test_server s(held.handler(), {}, upgrades(taken));
  held.clear_at_teardown(s);
  raw_connection conn{s.port()};
  conn.send(get("/a") + get("/take", upgrade_headers));
  REQUIRE(wait_until([&] { return held.size() == 1; }, 5s));
  std::this_thread::sleep_for(100ms);
  held.at(0)(text("first"));
  CHECK(conn.read_response().body == "first");
  CHECK(conn.read_response().status == 400);
  CHECK(taken == 0);
  held.clear();
}
