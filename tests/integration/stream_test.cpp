// The live stream, GET /api/stream over WebSocket, against a real brokerd: events in sequence
// order, resuming from a sequence number without a gap, orders and cancels sent on the socket,
// users kept apart, refusals before the upgrade, and a revoked token ending the stream.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#pragma GCC diagnostic pop
#include <catch2/catch.hpp>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"

using namespace brokerd::test;
using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {

/// A blocking WebSocket client with a deadline on every read.
class ws_client {
public:
  /// Opens `target` on 127.0.0.1:`port` with `headers`; on a refused upgrade, `refused`
  /// holds the HTTP status and body.
  ws_client(std::uint16_t port, const std::string& target,
            std::vector<std::pair<std::string, std::string>> headers)
      : ws_(ioc_) {
    asio::ip::tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), port};
    beast::get_lowest_layer(ws_).connect(ep);
    ws_.set_option(websocket::stream_base::decorator(
        [headers](websocket::request_type& req) {
          for (const auto& [k, v] : headers)
            req.set(k, v);
        }));
    websocket::response_type res;
    beast::error_code ec;
    ws_.handshake(res, "127.0.0.1:" + std::to_string(port), target, ec);
    if (ec) {
      refused_status = res.result_int();
      refused_body = res.body();
      if (ec == websocket::error::upgrade_declined)
        refused_status = 0; // read it with upgrade_refusal
      return;
    }
    open = true;
  }

  void send(const std::string& text) { ws_.write(asio::buffer(text)); }

  /// The next message as JSON text, or nullopt when the stream closed; throws when nothing
  /// arrives within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout = 10s) {
    beast::flat_buffer buf;
    std::optional<beast::error_code> result;
    ws_.async_read(buf, [&result](beast::error_code ec, std::size_t) { result = ec; });
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!result) {
      beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run();
      throw std::runtime_error("no message within the timeout");
    }
    // A close frame received counts as a close even when the TCP teardown after it failed.
    if (*result == websocket::error::closed ||
        ws_.reason().code != websocket::close_code::none) {
      close_code = static_cast<int>(ws_.reason().code);
      close_reason = std::string{ws_.reason().reason.c_str()};
      return std::nullopt;
    }
    if (*result)
      throw std::runtime_error("stream read: " + result->message());
    return beast::buffers_to_string(buf.data());
  }

  /// The next message of `type`, skipping others (bounded by `timeout` per message).
  std::string next_of(const std::string& type, std::chrono::milliseconds timeout = 10s) {
    for (int i = 0; i < 1000; ++i) {
      auto m = next(timeout);
      if (!m)
        throw std::runtime_error("stream closed while waiting for " + type);
      if (json_string(parse_json(*m), "type") == type)
        return *m;
      skipped.push_back(*m);
    }
    throw std::runtime_error("no " + type + " message");
  }

  bool open = false;
  /// The HTTP status of a refused handshake (Beast 1.74 does not hand the response over).
  unsigned refused_status = 0;
  std::string refused_body;
  int close_code = 0;
  std::string close_reason;
  std::vector<std::string> skipped;

private:
  asio::io_context ioc_;
  websocket::stream<asio::ip::tcp::socket> ws_;
};

/// The answer to an upgrade request the server refuses, as plain HTTP.
http_client::response upgrade_refusal(std::uint16_t port, const std::string& target,
                                      http_client::header_list headers) {
  headers.emplace_back("Connection", "Upgrade");
  headers.emplace_back("Upgrade", "websocket");
  headers.emplace_back("Sec-WebSocket-Version", "13");
  headers.emplace_back("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  http_client c{port};
  return c.request("GET", target, {}, headers);
}

struct fixture {
  temp_dir dir{"brokerd-stream"};
  brokerd_instance server{dir.path() / "data"};
  http_client client{server.port()};

  std::vector<std::pair<std::string, std::string>> bearer(const std::string& token) const {
    return {{"Authorization", "Bearer " + token}};
  }
  std::string order_message(const std::string& request_id, const std::string& conn,
                            const std::string& fields) const {
    return R"({"type":"place","requestId":")" + request_id + R"(","order":{"connectionId":")" +
           conn + R"(",)" + fields + "}}";
  }
  /// Every (seq, type, orderId) of the admin's order events over HTTP, from `since`.
  std::vector<std::uint64_t> http_seqs(std::uint64_t since, const std::string& order_id) {
    std::vector<std::uint64_t> out;
    auto doc = parse_json(client.request("GET", "/api/events?limit=1000&since=" +
                                                    std::to_string(since),
                                         {}, server.auth())
                              .body);
    for (const auto& ev : json_member(doc, "events").GetArray())
      if (json_has(ev, "orderId") && json_string(ev, "orderId") == order_id)
        out.push_back(json_member(ev, "seq").GetUint64());
    return out;
  }
};

/// The (seq, orderId) of an "event" message.
std::pair<std::uint64_t, std::string> event_of(const std::string& message) {
  auto doc = parse_json(message);
  const auto& ev = json_member(doc, "event");
  return {json_member(doc, "seq").GetUint64(),
          json_has(ev, "orderId") ? json_string(ev, "orderId") : std::string{}};
}

} // namespace

TEST_CASE_METHOD(fixture, "the stream carries an order placed and canceled on the socket, in "
                          "sequence order, and resumes from a sequence number without a gap",
                 "[integration][stream]") {
  ws_client ws{server.port(), "/api/stream", bearer(server.token())};
  REQUIRE(ws.open);
  auto hello = parse_json(ws.next_of("hello"));
  CHECK(json_member(hello, "lastSeq").GetUint64() > 0);

  ws.send(order_message("r-1", server.connection(),
                        R"("symbol":"AAPL","side":"buy","type":"limit","quantity":"2","limitPrice":"1","clientOrderId":"stream-1")"));
  auto placed = parse_json(ws.next_of("result"));
  CHECK(json_string(placed, "requestId") == "r-1");
  CHECK(json_member(placed, "status").GetUint() == 201);
  auto order_id = json_string(json_member(placed, "body"), "id");

  ws.send(R"({"type":"cancel","requestId":"r-2","orderId":")" + order_id + R"("})");
  auto canceled = parse_json(ws.next_of("result"));
  CHECK(json_string(canceled, "requestId") == "r-2");
  CHECK(json_member(canceled, "status").GetUint() == 202);

  // The order's events arrive in sequence order, ending canceled.
  std::vector<std::uint64_t> seen;
  std::uint64_t last_seq = 0;
  std::string last_to;
  auto take = [&](const std::string& m) {
    auto doc = parse_json(m);
    if (json_string(doc, "type") != "event")
      return;
    auto [seq, id] = event_of(m);
    CHECK(seq > last_seq);
    last_seq = seq;
    if (id == order_id) {
      seen.push_back(seq);
      const auto& ev = json_member(doc, "event");
      if (json_has(ev, "to"))
        last_to = json_string(ev, "to");
    }
  };
  // Events that arrived ahead of the results were set aside by next_of.
  for (const auto& m : ws.skipped)
    take(m);
  while (last_to != "canceled") {
    auto m = ws.next(10s);
    REQUIRE(m.has_value());
    take(*m);
  }
  CHECK(seen == http_seqs(1, order_id));
  // A duplicate client order id answers the existing order.
  ws.send(order_message("r-3", server.connection(),
                        R"("symbol":"AAPL","side":"buy","type":"limit","quantity":"2","limitPrice":"1","clientOrderId":"stream-1")"));
  auto again = parse_json(ws.next_of("result"));
  CHECK(json_member(again, "status").GetUint() == 200);
  CHECK(json_string(json_member(again, "body"), "id") == order_id);

  // A client that reconnects from the first sequence number it saw gets the same events.
  ws_client resumed{server.port(), "/api/stream?since=" + std::to_string(seen.front()),
                    bearer(server.token())};
  REQUIRE(resumed.open);
  resumed.next_of("hello");
  std::vector<std::uint64_t> replayed;
  while (replayed.size() < seen.size()) {
    auto [seq, id] = event_of(resumed.next_of("event"));
    if (id == order_id)
      replayed.push_back(seq);
  }
  CHECK(replayed == seen);

  // brokerd stops cleanly with streams open, and tells them.
  REQUIRE(server.stop(20s) == 0);
  std::optional<std::string> m;
  while ((m = resumed.next(10s)))
    ;
  CHECK(resumed.close_code == 1001);
}

TEST_CASE_METHOD(fixture, "the stream refuses without a valid token, keeps users apart and "
                          "answers bad messages",
                 "[integration][stream]") {
  struct refusal {
    std::string target;
    http_client::header_list headers;
    unsigned status;
    std::string error;
  };
  auto admin = http_client::header_list{{"Authorization", "Bearer " + server.token()}};
  for (const auto& r : std::vector<refusal>{
           {"/api/stream", {}, 401, "unauthorized"},
           {"/api/stream", {{"Authorization", "Bearer " + std::string(40, 'x')}}, 401, "unauthorized"},
           {"/api/streams", admin, 404, "not_found"},
           {"/api/stream?since=abc", admin, 400, "invalid_query"},
           {"/api/stream",
            {{"Cookie", "brokerd_session=" + server.token()}, {"Origin", "http://evil.example"}},
            403,
            "cross_origin"},
       }) {
    INFO(r.target);
    ws_client ws{server.port(), r.target, r.headers};
    CHECK_FALSE(ws.open);
    auto answer = upgrade_refusal(server.port(), r.target, r.headers);
    CHECK(answer.status == r.status);
    CHECK(json_string(parse_json(answer.body), "error") == r.error);
  }
  // The same cookie from a page of this server opens the stream.
  ws_client same_site{server.port(), "/api/stream",
                      {{"Cookie", "brokerd_session=" + server.token()},
                       {"Origin", "http://127.0.0.1:" + std::to_string(server.port())}}};
  CHECK(same_site.open);

  // A second user sees none of the admin's events and cannot use the admin's connection.
  auto made = client.request("POST", "/api/admin/users",
                             R"({"email":"bob@example.com","password":"correct horse battery","tier":"free"})",
                             server.auth());
  INFO(made.body);
  REQUIRE(made.status == 201);
  auto bob = json_string(parse_json(made.body), "token");
  ws_client theirs{server.port(), "/api/stream", bearer(bob)};
  REQUIRE(theirs.open);
  theirs.next_of("hello");
  theirs.send(order_message("b-1", server.connection(),
                            R"("symbol":"AAPL","side":"buy","type":"market","quantity":"1")"));
  auto refused = parse_json(theirs.next_of("result"));
  CHECK(json_member(refused, "status").GetUint() == 404);
  CHECK(json_string(json_member(refused, "body"), "error") == "unknown_connection");

  ws_client mine{server.port(), "/api/stream", bearer(server.token())};
  REQUIRE(mine.open);
  mine.next_of("hello");
  mine.send(order_message("a-1", server.connection(),
                          R"("symbol":"AAPL","side":"buy","type":"market","quantity":"1")"));
  CHECK(json_member(parse_json(mine.next_of("result")), "status").GetUint() == 201);
  mine.next_of("event");
  // Bob's stream has nothing of it (a message would arrive well within a second).
  CHECK_THROWS(theirs.next(1s));

  for (const auto& [text, code] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "invalid_json"},
           {R"({"type":"place","order":{}})", "missing_field"},
           {R"({"type":"fly","requestId":"x"})", "unknown_type"},
           {R"({"type":"cancel","requestId":"x","orderId":"../admin"})", "invalid_field"},
           {R"({"type":"place","requestId":"x","order":{},"extra":1})", "unknown_field"},
       }) {
    INFO(text);
    mine.send(text);
    CHECK(json_string(parse_json(mine.next_of("error")), "error") == code);
  }
  // An invalid order is answered by the API's own validation.
  mine.send(order_message("a-2", server.connection(), R"("symbol":"AAPL","side":"buy")"));
  CHECK(json_member(parse_json(mine.next_of("result")), "status").GetUint() == 400);
}

TEST_CASE_METHOD(fixture, "a stream ends when its token is revoked", "[integration][stream]") {
  auto made = client.request("POST", "/api/admin/users",
                             R"({"email":"carol@example.com","password":"correct horse battery","tier":"free"})",
                             server.auth());
  REQUIRE(made.status == 201);
  auto carol = json_string(parse_json(made.body), "token");
  ws_client ws{server.port(), "/api/stream", bearer(carol)};
  REQUIRE(ws.open);
  ws.next_of("hello");
  auto out = client.request("POST", "/api/auth/logout", {}, {{"Authorization", "Bearer " + carol}});
  REQUIRE(out.status == 200);
  std::optional<std::string> m;
  while ((m = ws.next(15s)))
    ;
  CHECK(ws.close_code == 1008);
  CHECK(ws.close_reason.find("revoked") != std::string::npos);
}
