#pragma once

#include <chrono>
#include <string_view>

#include "api/http_server.hpp"

namespace brokerd::api {

/// The route pattern of a request path for metrics labels: one of brokerd's routes with its id
/// segments replaced ("/api/orders/ord_1f" -> "/api/orders/:id", "/api/brokers/ibkr/test" ->
/// "/api/brokers/:broker/test"), or "other" for any other path, so that a label never holds
/// an id and the number of series stays bounded whatever clients send.
std::string_view route_pattern(std::string_view path);

/// The method label: GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS as sent, anything else
/// "other".
std::string_view method_label(std::string_view method);

/// Counts one answered request in brokerd_http_request_duration_seconds{route, method,
/// status_class} ("1xx".."5xx"), `duration` from reading the request to its response being
/// ready to write. `path` is the request path or its `route_pattern` (a pattern maps to
/// itself). Thread-safe; after the first request of a (route, method, class) it neither
/// locks nor allocates.
void observe_http_request(std::string_view path, std::string_view method, unsigned status,
                          std::chrono::nanoseconds duration);

/// The exposition format's content type.
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Wraps `inner`: `GET /metrics` (and HEAD) is answered at once on the io thread with the
/// default registry in the Prometheus text format, without authentication; another method on
/// /metrics gets 405. Every other request goes to `inner` unchanged.
request_handler with_metrics_endpoint(request_handler inner);

} // namespace brokerd::api
