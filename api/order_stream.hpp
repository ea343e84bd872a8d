#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <caf/fwd.hpp>
#include <caf/actor.hpp>

#include "actors/messages.hpp"
#include "api/http_server.hpp"
#include "persistence/event_log.hpp"

namespace brokerd::api {

/// What the live stream (`GET /api/stream`, WebSocket) talks to.
struct order_stream_config {
  /// Token checks on the io thread and again while a stream runs (a revoked token ends it).
  std::shared_ptr<persistence::event_log> reader;
  /// History pages (read_atom) and the live feed (subscribe_atom).
  actors::event_log_actor log;
  /// Orders and cancels sent on a stream go through the front as `POST /api/orders` and
  /// `DELETE /api/orders/:id`, with the stream's credentials: the same checks, limits and
  /// answers as over HTTP. A stream ends when the front does.
  caf::actor front;
  /// Open streams in all; one more is refused with 503.
  std::size_t max_streams = 256;
  /// Open streams of one user; one more is refused with 429.
  std::size_t max_streams_per_user = 8;
  /// Bytes queued for a client that does not read; beyond it the stream is closed (1008) and
  /// the client resumes from the last sequence number it received.
  std::size_t max_queued_bytes = 8 * 1024 * 1024;
  /// How often a running stream checks that its token is still valid.
  std::chrono::milliseconds recheck_token{5'000};
  /// Events per history read when a client resumes.
  std::uint32_t history_page = 500;
};

/// The upgrade handler for `http_server::start`: takes `GET /api/stream[?since=SEQ]` with a
/// bearer token (or the session cookie, then only from a page of the same origin) and runs
/// one actor per stream. The stream sends, as JSON text messages:
///   {"type":"hello","userId":…,"lastSeq":N}            once, first;
///   {"type":"event","seq":N,"event":{…}}               the user's order.* and connection.state
///                                                      events, in sequence order, from SEQ on
///                                                      when given (history first), else new ones;
///   {"type":"result","requestId":…,"status":S,"body":{…}}  the answer to a client message;
///   {"type":"error","requestId":…,"error":…,"message":…}    a client message that is not valid.
/// Client messages: {"type":"place","requestId":…,"order":{…as POST /api/orders…}} and
/// {"type":"cancel","requestId":…,"orderId":…}. Other paths are refused with 404, and
/// `sys` must outlive the server.
struct order_stream_service {
  /// For `http_server::start`.
  upgrade_handler upgrade;
  /// Shutdown: closes every open stream with 1001 "going away" and waits, at most `bound`,
  /// until the clients answered the close (call before the io_context stops).
  std::function<void(std::chrono::milliseconds bound)> close_all;
};

order_stream_service make_order_stream(caf::actor_system& sys, order_stream_config cfg);

} // namespace brokerd::api
