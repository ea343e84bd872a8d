#pragma once

// The REST calls of a session that talks HTTPS to its broker (Alpaca, Schwab): every call goes
// through the session's rate-limit mailbox, one is in flight at a time on the session's
// keep-alive connection, a 429 puts its call back at the head of its lane and holds every call
// until the broker's wait is over, and GETs and DELETEs are retried twice after a 5xx or a
// broken connection. POSTs never are: the session resolves them itself.
//
// The session's state holds a `rest_calls api` member and a `bool closing`; the session's
// behavior forwards (http_atom, token, https_result) to rest_on_http, (tick_atom, id) to
// rest_on_tick and (drain_atom, epoch) to on_drain(self, self->state.api.out, epoch).

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "actors/logging.hpp"
#include "actors/mailbox_pump.hpp"
#include "actors/net/https_client.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::actors::net::https_result)

namespace brokerd::actors {

/// What a call's owner gets: the response (any status but 429) or the failure.
using rest_reply = std::function<void(net::https_result)>;

/// One REST call: queued in the mailbox, in flight, or waiting to be retried.
struct rest_call {
  lane in = lane::query;
  net::https_request request;
  rest_reply done;
  int retries_left = 0;
  bool in_flight = false;
  /// Checked when the mailbox releases the call; false drops it unsent.
  std::function<bool()> still_wanted;
};

/// A session's REST plumbing.
struct rest_calls {
  /// GETs and DELETEs are retried this often after a 5xx or a broken connection.
  static constexpr int idempotent_retries = 2;

  std::shared_ptr<net::https_client> client;
  mailbox_pump out;
  std::map<std::uint64_t, rest_call> calls;
  /// Actions waiting for a (tick_atom, id) timer: retries after a wait.
  std::map<std::uint64_t, std::function<void()>> deferred;
  std::uint64_t next_token = 0;
  std::chrono::milliseconds request_timeout{10'000};
  /// For log lines: "connection conn_x".
  std::string who;
  std::string_view component = "rest";
  /// 429s received so far.
  std::uint64_t rate_limited = 0;
  /// Called right before a call is written (e.g. to add the current bearer token).
  std::function<void(net::https_request&)> decorate;
  /// Called for a 401 before the call's owner sees it. Returning true keeps the call: the
  /// session then either sends it again (rest_enqueue with front) or ends it (rest_finish).
  std::function<bool(std::uint64_t token)> on_unauthorized;
  /// Called after the owner saw a connect or TLS failure: the broker is unreachable.
  std::function<void(const std::string&)> on_unreachable;
};

/// Measures the calls as connection `m`'s: the mailbox (requests, waits, depth), 429s and
/// error answers by code. Call once, after the mailbox is built.
inline void measure(rest_calls& api, const metrics::connection_metrics& m) {
  measure(api.out, m);
}

/// Counts an answer that is an error (HTTP status >= 400, or a failure) by its code.
inline void count_rest_error(const rest_calls& api, const net::https_result& r) {
  if (!api.out.metrics)
    return;
  if (!r)
    api.out.metrics->count_error(net::to_string(r.error().code));
  else if (r->status >= 400)
    api.out.metrics->count_error(std::to_string(r->status));
}

/// A GET of `target` (idempotent).
inline net::https_request rest_get(std::string target) {
  net::https_request r;
  r.method = "GET";
  r.target = std::move(target);
  r.idempotent = true;
  return r;
}

/// True when the server cannot have acted on the failed request.
inline bool rest_nothing_sent(const net::https_failure& f) {
  switch (f.code) {
    case net::https_errc::connect:
    case net::https_errc::tls:
    case net::https_errc::queue_full:
      return true;
    case net::https_errc::closed:
    case net::https_errc::cancelled:
      return !f.request_sent;
    case net::https_errc::timeout:
    case net::https_errc::outcome_unknown:
    case net::https_errc::protocol:
      return false;
  }
  return false;
}

/// How long a 429 asks to wait: Retry-After (seconds), else until X-RateLimit-Reset (unix
/// seconds), else one second.
inline std::chrono::milliseconds rest_retry_after(const net::https_response& r) {
  auto number = [](std::string_view text) -> std::optional<std::int64_t> {
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || n < 0)
      return std::nullopt;
    return n;
  };
  if (auto h = r.header("Retry-After"))
    if (auto n = number(*h))
      return std::chrono::seconds{std::min<std::int64_t>(*n, 3600)};
  if (auto h = r.header("X-RateLimit-Reset"))
    if (auto n = number(*h)) {
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      auto wait = std::chrono::milliseconds{*n * 1000} - now;
      return std::clamp(wait, std::chrono::milliseconds{0}, std::chrono::milliseconds{3'600'000});
    }
  return std::chrono::seconds{1};
}

/// A 5xx, or a connection that broke or timed out: worth one more try for an idempotent call.
inline bool rest_retriable(const net::https_result& r) {
  if (r)
    return r->status == 500 || r->status == 502 || r->status == 503 || r->status == 504;
  switch (r.error().code) {
    case net::https_errc::timeout:
    case net::https_errc::closed:
    case net::https_errc::protocol:
      return true;
    default:
      return false;
  }
}

/// Runs `action` after `wait` (unless the session ends first).
template <class Self>
void rest_later(Self self, std::chrono::milliseconds wait, std::function<void()> action) {
  auto& api = self->state.api;
  auto id = ++api.next_token;
  api.deferred.emplace(id, std::move(action));
  self->delayed_send(self, wait, tick_atom_v, id);
}

/// The (tick_atom, id) handler.
template <class Self> void rest_on_tick(Self self, std::uint64_t id) {
  auto& api = self->state.api;
  auto it = api.deferred.find(id);
  if (it == api.deferred.end())
    return;
  auto action = std::move(it->second);
  api.deferred.erase(it);
  if (!self->state.closing)
    action();
}

template <class Self> void rest_send_now(Self self, std::uint64_t token);

/// Queues `token`'s call at the back (or, to send it again, the head) of its lane.
template <class Self> void rest_enqueue(Self self, std::uint64_t token, bool front = false) {
  auto& api = self->state.api;
  auto it = api.calls.find(token);
  if (it == api.calls.end())
    return;
  auto run = [self, token] { rest_send_now(self, token); };
  auto now = self->clock().now();
  if (front) {
    api.out.mailbox->requeue_front(it->second.in, std::move(run), now);
  } else if (auto pushed = api.out.mailbox->push(it->second.in, std::move(run), now); !pushed) {
    auto done = std::move(it->second.done);
    api.calls.erase(it);
    done(std::unexpected(
        net::https_failure{net::https_errc::queue_full, "the request queue is full", false}));
    return;
  }
  pump(self, api.out);
}

/// Queues one REST call in lane `in`; `done` gets its answer. Returns the call's token.
template <class Self>
std::uint64_t rest_call_in(Self self, lane in, net::https_request req, rest_reply done,
                           std::function<bool()> still_wanted = {}) {
  auto& api = self->state.api;
  auto token = ++api.next_token;
  req.timeout = api.request_timeout;
  rest_call c;
  c.in = in;
  c.retries_left = req.idempotent ? rest_calls::idempotent_retries : 0;
  c.request = std::move(req);
  c.done = std::move(done);
  c.still_wanted = std::move(still_wanted);
  api.calls.emplace(token, std::move(c));
  rest_enqueue(self, token);
  return token;
}

template <class Self> void rest_send_now(Self self, std::uint64_t token) {
  auto& api = self->state.api;
  auto it = api.calls.find(token);
  if (it == api.calls.end() || self->state.closing)
    return;
  if (it->second.still_wanted && !it->second.still_wanted()) {
    api.calls.erase(it);
    return;
  }
  it->second.in_flight = true;
  // One request at a time: a 429 then holds back every request behind it.
  api.out.hold = true;
  auto request = it->second.request;
  if (api.decorate)
    api.decorate(request);
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  api.client->request(std::move(request), [weak, token](net::https_result r) {
    if (auto h = caf::actor_cast<caf::actor>(weak.lock()))
      caf::anon_send(h, http_atom_v, token, std::move(r));
  });
}

/// Ends call `token` with `r`: its owner gets it.
template <class Self> void rest_finish(Self self, std::uint64_t token, net::https_result r) {
  auto& api = self->state.api;
  auto it = api.calls.find(token);
  if (it == api.calls.end())
    return;
  auto done = std::move(it->second.done);
  api.calls.erase(it);
  done(std::move(r));
}

/// The (http_atom, token, result) handler.
template <class Self> void rest_on_http(Self self, std::uint64_t token, net::https_result r) {
  auto& api = self->state.api;
  auto it = api.calls.find(token);
  if (it == api.calls.end())
    return;
  auto& c = it->second;
  c.in_flight = false;
  if (self->state.closing)
    return;
  api.out.hold = false;
  // Whatever this answer leads to, the next queued request may go once the limits allow.
  auto resume_pump = [self] {
    if (!self->state.closing)
      pump(self, self->state.api.out);
  };
  if (r && r->status == 429) {
    ++api.rate_limited;
    if (api.out.metrics)
      api.out.metrics->rate_limited->inc();
    auto wait = rest_retry_after(*r);
    log::warn(api.component, api.who + ": 429 to " + net::describe(c.request) + "; waiting " +
                                 std::to_string(wait.count()) + " ms before the next request");
    api.out.mailbox->pushback(self->clock().now() + wait);
    rest_enqueue(self, token, true);
    return resume_pump();
  }
  count_rest_error(api, r);
  if (r && r->status == 401 && api.on_unauthorized && api.on_unauthorized(token))
    return resume_pump();
  if (c.retries_left > 0 && rest_retriable(r)) {
    auto attempt = rest_calls::idempotent_retries - c.retries_left;
    --c.retries_left;
    log::warn(api.component, api.who + ": " + net::describe(c.request) + " failed (" +
                                 (r ? "HTTP " + std::to_string(r->status) : r.error().to_string()) +
                                 "); retrying");
    rest_later(self, std::chrono::milliseconds{500 * (attempt + 1)},
               [self, token] { rest_enqueue(self, token, true); });
    return resume_pump();
  }
  bool unreachable = !r && (r.error().code == net::https_errc::connect ||
                            r.error().code == net::https_errc::tls);
  auto why = unreachable ? r.error().to_string() : std::string{};
  rest_finish(self, token, std::move(r));
  if (unreachable && api.on_unreachable)
    return api.on_unreachable(why);
  resume_pump();
}

/// Answers every call with `cancelled` through its own handler (a call in flight says its
/// request was sent), empties the mailbox and closes the connection; for a session that ends.
/// Call it after setting `closing`: the handlers answer their requesters and start nothing new.
template <class Self> void rest_abandon(Self self, const std::string& reason) {
  auto& api = self->state.api;
  auto calls = std::move(api.calls);
  api.calls.clear();
  for (auto& [token, c] : calls)
    c.done(std::unexpected(
        net::https_failure{net::https_errc::cancelled, "the session ended: " + reason, c.in_flight}));
  (void)api.out.mailbox->take_all();
  if (api.client)
    api.client->close();
}

} // namespace brokerd::actors
