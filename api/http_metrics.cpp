#include "api/http_metrics.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <optional>

#include "actors/metrics.hpp"
#include "api/json_io.hpp"

namespace brokerd::api {

namespace {

/// brokerd's routes (api/front.cpp, api/order_stream.cpp and /metrics), literal ones first,
/// then "other".
constexpr std::array<std::string_view, 24> routes{
    "/healthz",
    "/metrics",
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/tokens/current",
    "/api/admin/users",
    "/api/admin/stats",
    "/api/brokers/compare",
    "/api/brokers/user/configured",
    "/api/brokers/schwab/oauth/start",
    "/api/brokers/schwab/oauth/callback",
    "/api/orders",
    "/api/events",
    "/api/stream",
    "/api/admin/users/:id",
    "/api/admin/users/:id/tokens",
    "/api/brokers/:id/primary",
    "/api/brokers/:broker/test",
    "/api/brokers/:broker/connect",
    "/api/brokers/:id",
    "/api/orders/:id",
    "/api/connections/:id/balance",
    "/api/connections/:id/positions",
    "other",
};
constexpr std::size_t other_route = routes.size() - 1;

constexpr std::array<std::string_view, 8> methods{"GET",   "HEAD",   "POST",    "PUT",
                                                  "PATCH", "DELETE", "OPTIONS", "other"};
constexpr std::array<std::string_view, 5> status_classes{"1xx", "2xx", "3xx", "4xx", "5xx"};

/// True when `path` has the segments of `pattern`: literal ones equal, `:name` ones non-empty.
bool matches(std::string_view pattern, std::string_view path) {
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern.front() != '/' || path.front() != '/')
      return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto want = pattern.substr(0, pattern.find('/'));
    auto got = path.substr(0, path.find('/'));
    if (want.starts_with(':') ? got.empty() : want != got)
      return false;
    pattern.remove_prefix(want.size());
    path.remove_prefix(got.size());
  }
  return true;
}

std::size_t route_index(std::string_view path) {
  for (std::size_t i = 0; i < other_route; ++i)
    if (matches(routes[i], path))
      return i;
  return other_route;
}

template <std::size_t N>
std::size_t index_of(const std::array<std::string_view, N>& table, std::string_view v) {
  for (std::size_t i = 0; i + 1 < N; ++i)
    if (table[i] == v)
      return i;
  return N - 1;
}

} // namespace

std::string_view route_pattern(std::string_view path) {
  return routes[route_index(path)];
}

std::string_view method_label(std::string_view method) {
  return methods[index_of(methods, method)];
}

void observe_http_request(std::string_view path, std::string_view method, unsigned status,
                          std::chrono::nanoseconds duration) {
  static std::array<std::atomic<actors::metrics::histogram*>,
                    routes.size() * methods.size() * status_classes.size()>
      series{};
  auto r = route_index(path);
  auto m = index_of(methods, method);
  std::size_t c = status >= 100 && status <= 599 ? status / 100 - 1 : 4;
  auto& slot = series[(r * methods.size() + m) * status_classes.size() + c];
  auto* h = slot.load(std::memory_order_acquire);
  if (!h) {
    h = &actors::metrics::default_registry().histogram_series(
        "brokerd_http_request_duration_seconds",
        "Time from reading an HTTP request to its response being ready, by route pattern, "
        "method and status class.",
        actors::metrics::duration_buckets,
        {{"route", std::string{routes[r]}},
         {"method", std::string{methods[m]}},
         {"status_class", std::string{status_classes[c]}}});
    slot.store(h, std::memory_order_release);
  }
  h->observe(duration);
}

request_handler with_metrics_endpoint(request_handler inner) {
  return [inner = std::move(inner)](http_request req, responder respond) {
    if (req.path != "/metrics")
      return inner(std::move(req), std::move(respond));
    if (req.method != "GET" && req.method != "HEAD")
      return respond(http_response{405,
                                   error_body({405, "method_not_allowed", "use GET"}),
                                   "application/json",
                                   {{"Allow", "GET, HEAD"}}});
    respond(http_response{200,
                          actors::metrics::default_registry().render_prometheus(),
                          std::string{metrics_content_type},
                          {}});
  };
}

} // namespace brokerd::api
