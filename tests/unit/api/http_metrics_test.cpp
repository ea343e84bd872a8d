#include "api/http_metrics.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#pragma GCC diagnostic pop

#include "actors/metrics.hpp"
#include "tests/support/http_client.hpp"

using namespace std::chrono_literals;
using namespace brokerd::api;
namespace metrics = brokerd::actors::metrics;
using brokerd::test::http_client;

namespace {

/// The HTTP latency series of one label set (created empty when absent).
metrics::histogram& http_series(std::string route, std::string method, std::string status_class) {
  return metrics::default_registry().histogram_series("brokerd_http_request_duration_seconds", "",
                                                      metrics::duration_buckets,
                                                      {{"route", std::move(route)},
                                                       {"method", std::move(method)},
                                                       {"status_class", std::move(status_class)}});
}

/// Calls `handler` with one request and returns what it answered at once, if anything.
std::optional<http_response> answer(const request_handler& handler, std::string method,
                                    std::string path) {
  http_request req;
  req.method = std::move(method);
  req.path = path;
  req.target = std::move(path);
  std::optional<http_response> out;
  handler(std::move(req), [&out](http_response r) { out = std::move(r); });
  return out;
}

} // namespace

TEST_CASE("request paths map to route patterns without ids, and unknown paths to other",
          "[http_metrics]") {
  CHECK(route_pattern("/api/orders") == "/api/orders");
  CHECK(route_pattern("/api/orders/ord_1f2e3d") == "/api/orders/:id");
  CHECK(route_pattern("/api/brokers/conn_paper_abc") == "/api/brokers/:id");
  CHECK(route_pattern("/api/brokers/ibkr/test") == "/api/brokers/:broker/test");
  CHECK(route_pattern("/api/brokers/alpaca/connect") == "/api/brokers/:broker/connect");
  CHECK(route_pattern("/api/brokers/user/configured") == "/api/brokers/user/configured");
  CHECK(route_pattern("/api/brokers/schwab/oauth/callback") ==
        "/api/brokers/schwab/oauth/callback");
  CHECK(route_pattern("/api/connections/conn_1/balance") == "/api/connections/:id/balance");
  CHECK(route_pattern("/api/connections/conn_1/positions") == "/api/connections/:id/positions");
  CHECK(route_pattern("/api/events") == "/api/events");
  CHECK(route_pattern("/api/brokers/compare") == "/api/brokers/compare");
  CHECK(route_pattern("/api/brokers/conn_1/primary") == "/api/brokers/:id/primary");
  CHECK(route_pattern("/api/auth/login") == "/api/auth/login");
  CHECK(route_pattern("/api/auth/tokens/current") == "/api/auth/tokens/current");
  CHECK(route_pattern("/api/admin/users") == "/api/admin/users");
  CHECK(route_pattern("/api/admin/users/usr_1") == "/api/admin/users/:id");
  CHECK(route_pattern("/api/admin/users/usr_1/tokens") == "/api/admin/users/:id/tokens");
  CHECK(route_pattern("/healthz") == "/healthz");
  CHECK(route_pattern("/metrics") == "/metrics");
  // Anything else, whatever it holds, is one label.
  CHECK(route_pattern("/api/orders/") == "other");
  CHECK(route_pattern("/api/orders/ord_1/extra") == "other");
  CHECK(route_pattern("/api/connections/conn_1/secret-stuff") == "other");
  CHECK(route_pattern("/wp-admin/login.php") == "other");
  CHECK(route_pattern("") == "other");
  CHECK(route_pattern("/") == "other");
  // A pattern maps to itself.
  CHECK(route_pattern("/api/orders/:id") == "/api/orders/:id");
}

TEST_CASE("methods outside HTTP's usual set share the label other", "[http_metrics]") {
  CHECK(method_label("GET") == "GET");
  CHECK(method_label("DELETE") == "DELETE");
  CHECK(method_label("BREW") == "other");
  CHECK(method_label("get") == "other");
}

TEST_CASE("/metrics is answered from the registry without reaching the wrapped handler",
          "[http_metrics]") {
  int inner_calls = 0;
  auto handler = with_metrics_endpoint([&](http_request, responder r) {
    ++inner_calls;
    r(http_response{204, {}, "application/json", {}});
  });
  metrics::default_registry().counter_series("brokerd_test_marker_total", "A marker.").inc();
  auto got = answer(handler, "GET", "/metrics");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(got->content_type == metrics_content_type);
  CHECK(got->body.find("# TYPE brokerd_test_marker_total counter\n") != std::string::npos);
  CHECK(got->body.find("brokerd_test_marker_total 1\n") != std::string::npos);
  CHECK(inner_calls == 0);

  auto post = answer(handler, "POST", "/metrics");
  REQUIRE(post);
  CHECK(post->status == 405);

  auto other = answer(handler, "GET", "/api/orders");
  REQUIRE(other);
  CHECK(other->status == 204);
  CHECK(inner_calls == 1);
}

TEST_CASE("the server times every request under its route pattern, method and status class",
          "[http_metrics]") {
  asio::io_context ioc;
  auto work = asio::make_work_guard(ioc);
  auto started = http_server::start(ioc, "127.0.0.1", 0, [](http_request req, responder r) {
    unsigned status = req.method == "POST" ? 201 : req.path == "/nowhere" ? 404 : 200;
    r(http_response{status, "{}", "application/json", {}});
  });
  REQUIRE(started);
  std::thread io{[&] { ioc.run(); }};

  auto& posts = http_series("/api/orders", "POST", "2xx");
  auto& gets = http_series("/api/orders/:id", "GET", "2xx");
  auto& misses = http_series("other", "GET", "4xx");
  auto posts_before = posts.count();
  auto gets_before = gets.count();
  auto misses_before = misses.count();
  {
    http_client client{(*started)->port()};
    CHECK(client.request("POST", "/api/orders", "{}").status == 201);
    CHECK(client.request("POST", "/api/orders", "{}").status == 201);
    CHECK(client.request("GET", "/api/orders/ord_0123456789abcdef?x=1").status == 200);
    CHECK(client.request("GET", "/nowhere").status == 404);
  }
  (*started)->stop();
  work.reset();
  ioc.stop();
  io.join();

  CHECK(posts.count() == posts_before + 2);
  CHECK(gets.count() == gets_before + 1);
  CHECK(misses.count() == misses_before + 1);
  auto text = metrics::default_registry().render_prometheus();
  CHECK(text.find("ord_0123456789abcdef") == std::string::npos);
  CHECK(text.find("/nowhere") == std::string::npos);
}
