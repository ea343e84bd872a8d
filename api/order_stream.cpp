#include "api/order_stream.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#pragma GCC diagnostic pop
#include <caf/all.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/logging.hpp"
#include "api/auth.hpp"
#include "api/json_io.hpp"
#include "api/websocket_upgrade.hpp"
#include "persistence/event_codec.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::http_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::responder)

namespace brokerd::api {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using error_code = boost::system::error_code;
using namespace brokerd::actors;

constexpr const char* component = "stream";

/// Largest client message; a larger one closes the stream (1009).
constexpr std::size_t max_message = 64 * 1024;

/// Counts open streams, in all and per user; shared by the upgrade handler (io thread) and
/// the stream actors (scheduler threads).
class ws_session;

struct stream_registry {
  std::mutex mutex;
  std::size_t open = 0;
  std::map<std::string, std::size_t> per_user;
  /// The open streams' sockets, for the shutdown.
  std::vector<std::weak_ptr<ws_session>> sessions;

  /// Takes a slot for `user`: empty on success, else the refusal.
  std::optional<http_response> take(const std::string& user, const order_stream_config& cfg) {
    std::lock_guard lock{mutex};
    if (open >= cfg.max_streams)
      return http_response{503, error_body({503, "too_many_streams", "too many open streams; try again later"}),
                           "application/json", {{"Retry-After", "5"}}};
    if (per_user[user] >= cfg.max_streams_per_user)
      return http_response{429,
                           error_body({429, "too_many_streams",
                                       "at most " + std::to_string(cfg.max_streams_per_user) +
                                           " open streams per user"}),
                           "application/json",
                           {{"Retry-After", "5"}}};
    ++open;
    ++per_user[user];
    return std::nullopt;
  }

  void give_back(const std::string& user) {
    std::lock_guard lock{mutex};
    --open;
    if (--per_user[user] == 0)
      per_user.erase(user);
    std::erase_if(sessions, [](const auto& w) { return w.expired(); });
  }

  void add(const std::shared_ptr<ws_session>& s) {
    std::lock_guard lock{mutex};
    sessions.push_back(s);
  }

  std::size_t count() {
    std::lock_guard lock{mutex};
    return open;
  }

  std::vector<std::shared_ptr<ws_session>> live() {
    std::lock_guard lock{mutex};
    std::vector<std::shared_ptr<ws_session>> out;
    for (const auto& w : sessions)
      if (auto s = w.lock())
        out.push_back(std::move(s));
    return out;
  }
};

/// The WebSocket side of one stream. Every member runs on the socket's strand; the actor
/// reaches it only through `post`. It reports to the actor with anonymous messages through a
/// weak handle, so neither keeps the other alive.
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(std::unique_ptr<upgraded_connection> c, std::size_t max_queued)
      : ws_(std::move(c->socket)), request_(std::move(c->request)), max_queued_(max_queued) {}

  /// Answers the handshake, then reads and writes (from any thread).
  static void post_start(const std::shared_ptr<ws_session>& s, caf::actor owner) {
    auto ex = s->ws_.get_executor();
    boost::asio::post(ex, [s, owner = std::move(owner)] { s->start(owner); });
  }

private:
  void start(const caf::actor& owner) {
    owner_ = caf::actor_cast<caf::weak_actor_ptr>(owner);
    ws_.read_message_max(max_message);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(beast::http::field::server, "brokerd"); }));
    ws_.async_accept(request_, [self = shared_from_this()](error_code ec) { self->on_accept(ec); });
  }

public:
  /// Queues a text message (from any thread).
  static void post_send(const std::shared_ptr<ws_session>& s, std::string text) {
    auto ex = s->ws_.get_executor();
    boost::asio::post(ex, [s, text = std::move(text)]() mutable { s->send(std::move(text)); });
  }

  /// Closes with `code` and `reason` after what is queued (from any thread).
  static void post_close(const std::shared_ptr<ws_session>& s, websocket::close_code code,
                         std::string reason) {
    auto ex = s->ws_.get_executor();
    boost::asio::post(ex, [s, code, reason = std::move(reason)]() mutable {
      s->close(code, std::move(reason));
    });
  }

private:
  void tell(caf::message msg) {
    if (auto h = caf::actor_cast<caf::actor>(owner_.lock()))
      caf::anon_send(h, std::move(msg));
  }

  void on_accept(error_code ec) {
    if (ec) {
      ended_ = true;
      return tell(caf::make_message(net_down_atom_v, "handshake failed: " + ec.message()));
    }
    accepted_ = true;
    do_read();
    do_write();
  }

  void do_read() {
    ws_.async_read(in_, [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(error_code ec) {
    if (ec) {
      ended_ = true;
      return tell(caf::make_message(net_down_atom_v, ec.message()));
    }
    if (!ws_.got_text()) {
      in_.consume(in_.size());
      return close(websocket::close_code::bad_payload, "send JSON text messages");
    }
    auto text = beast::buffers_to_string(in_.data());
    in_.consume(in_.size());
    tell(caf::make_message(net_data_atom_v, std::move(text)));
    do_read();
  }

  void send(std::string text) {
    if (ended_ || closing_)
      return;
    queued_bytes_ += text.size();
    if (queued_bytes_ > max_queued_) {
      out_.clear();
      queued_bytes_ = 0;
      return close(websocket::close_code::policy_error,
                   "the client does not keep up; resume from the last seq received");
    }
    out_.push_back(std::move(text));
    do_write();
  }

  void do_write() {
    if (!accepted_ || writing_ || ended_)
      return;
    if (out_.empty()) {
      if (closing_)
        do_close();
      return;
    }
    writing_ = true;
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(out_.front()),
                    [self = shared_from_this()](error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (ec) {
      ended_ = true;
      return tell(caf::make_message(net_down_atom_v, ec.message()));
    }
    queued_bytes_ -= out_.front().size();
    out_.pop_front();
    do_write();
  }

  void close(websocket::close_code code, std::string reason) {
    if (ended_ || closing_)
      return;
    closing_ = true;
    close_reason_ = websocket::close_reason{code, reason};
    if (!accepted_) {
      ended_ = true;
      error_code ignored;
      beast::get_lowest_layer(ws_).close(ignored);
      return;
    }
    if (!writing_)
      do_close();
  }

  void do_close() {
    if (ended_ || close_sent_)
      return;
    close_sent_ = true;
    ws_.async_close(close_reason_, [self = shared_from_this()](error_code) {
      self->ended_ = true;
      error_code ignored;
      beast::get_lowest_layer(self->ws_).close(ignored);
    });
  }

  websocket::stream<boost::asio::ip::tcp::socket> ws_;
  beast::http::request<beast::http::string_body> request_;
  beast::flat_buffer in_;
  std::deque<std::string> out_;
  std::size_t queued_bytes_ = 0;
  std::size_t max_queued_;
  caf::weak_actor_ptr owner_;
  websocket::close_reason close_reason_;
  bool accepted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool ended_ = false;
};

struct stream_state {
  order_stream_config cfg;
  std::shared_ptr<stream_registry> registry;
  std::shared_ptr<ws_session> ws;
  persistence::user_record user;
  /// The credentials the stream was opened with, sent again with every order and cancel.
  std::string token;
  std::vector<std::pair<std::string, std::string>> credential_headers;
  /// The next sequence number to send; older events (history overlap) are skipped.
  std::uint64_t next_seq = 1;
  static inline const char* name = "order_stream";
};

using stream_ptr = caf::stateful_actor<stream_state>*;

bool wanted(const persistence::event& ev, const std::string& user) {
  return ev.user == user && (ev.type.starts_with("order.") ||
                             ev.type == persistence::event_types::connection_state);
}

void deliver(stream_ptr self, const persistence::event& ev) {
  auto& st = self->state;
  if (ev.seq < st.next_seq)
    return;
  st.next_seq = ev.seq + 1;
  if (!wanted(ev, st.user.id))
    return;
  ws_session::post_send(st.ws, R"({"type":"event","seq":)" + std::to_string(ev.seq) +
                                   R"(,"event":)" + persistence::encode_event(ev) + "}");
}

void end_stream(stream_ptr self, websocket::close_code code, const std::string& reason) {
  ws_session::post_close(self->state.ws, code, reason);
  self->quit();
}

void go_live(stream_ptr self) {
  auto& st = self->state;
  self->request(st.cfg.log, caf::infinite, subscribe_atom_v, caf::actor{self}, st.next_seq)
      .then(
          [](std::uint64_t) {},
          [self](caf::error& err) {
            log::error(component, "cannot follow the event log: " + describe(err).message);
            end_stream(self, websocket::close_code::internal_error, "the event log is unavailable");
          });
}

/// Sends the history from `next_seq` a page at a time, then follows the log from there.
void read_history(stream_ptr self) {
  auto& st = self->state;
  self->request(st.cfg.log, caf::infinite, read_atom_v, st.next_seq, st.cfg.history_page)
      .then(
          [self](persistence::event_batch& page) {
            auto& s = self->state;
            for (const auto& ev : page)
              deliver(self, ev);
            if (page.size() < s.cfg.history_page)
              return go_live(self);
            read_history(self);
          },
          [self](caf::error& err) {
            log::error(component, "cannot read the event log: " + describe(err).message);
            end_stream(self, websocket::close_code::internal_error, "the event log is unavailable");
          });
}

void send_error(stream_ptr self, const std::string& request_id, const std::string& code,
                const std::string& message) {
  ws_session::post_send(self->state.ws, R"({"type":"error","requestId":)" +
                                            json_string(request_id) + R"(,"error":)" +
                                            json_string(code) + R"(,"message":)" +
                                            json_string(message) + "}");
}

/// Sends a client's order or cancel to the front as the HTTP request it stands for.
void forward(stream_ptr self, const std::string& request_id, std::string method,
             std::string path, std::string body) {
  auto& st = self->state;
  http_request req;
  req.method = std::move(method);
  req.target = path;
  req.path = std::move(path);
  req.body = std::move(body);
  req.content_type = "application/json";
  req.remote_address = "stream";
  req.headers = st.credential_headers;
  req.headers.emplace_back("X-Requested-With", "brokerd-stream");
  if (auto auth = req.header("Authorization"))
    req.authorization = std::string{*auth};
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  responder answer = [weak, request_id](http_response r) {
    if (auto h = caf::actor_cast<caf::actor>(weak.lock()))
      caf::anon_send(h, http_atom_v, request_id, static_cast<std::uint32_t>(r.status),
                     std::move(r.body));
  };
  self->send(st.cfg.front, http_atom_v, std::move(req), std::move(answer));
}

void on_client_message(stream_ptr self, const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject())
    return send_error(self, "", "invalid_json", "a message is one JSON object");
  std::string request_id;
  if (auto it = doc.FindMember("requestId"); it != doc.MemberEnd()) {
    if (!it->value.IsString() || it->value.GetStringLength() == 0 ||
        it->value.GetStringLength() > 64)
      return send_error(self, "", "invalid_field", "requestId must be a string of 1..64 characters");
    request_id.assign(it->value.GetString(), it->value.GetStringLength());
    for (char c : request_id)
      if (c < 0x21 || c > 0x7e)
        return send_error(self, "", "invalid_field", "requestId must be visible ASCII");
  } else {
    return send_error(self, "", "missing_field", "missing required field requestId");
  }
  auto type = doc.FindMember("type");
  if (type == doc.MemberEnd() || !type->value.IsString())
    return send_error(self, request_id, "missing_field", "missing required field type");
  std::string_view kind{type->value.GetString(), type->value.GetStringLength()};
  auto only = [&doc](std::initializer_list<std::string_view> keys) -> std::optional<std::string> {
    for (const auto& m : doc.GetObject()) {
      std::string_view k{m.name.GetString(), m.name.GetStringLength()};
      if (std::find(keys.begin(), keys.end(), k) == keys.end())
        return std::string{k};
    }
    return std::nullopt;
  };
  if (kind == "place") {
    if (auto extra = only({"type", "requestId", "order"}))
      return send_error(self, request_id, "unknown_field", "unknown field " + *extra);
    auto order = doc.FindMember("order");
    if (order == doc.MemberEnd() || !order->value.IsObject())
      return send_error(self, request_id, "missing_field", "missing required object order");
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w{buf};
    order->value.Accept(w);
    return forward(self, request_id, "POST", "/api/orders", std::string{buf.GetString(), buf.GetSize()});
  }
  if (kind == "cancel") {
    if (auto extra = only({"type", "requestId", "orderId"}))
      return send_error(self, request_id, "unknown_field", "unknown field " + *extra);
    auto id = doc.FindMember("orderId");
    if (id == doc.MemberEnd() || !id->value.IsString() || id->value.GetStringLength() == 0 ||
        id->value.GetStringLength() > 128)
      return send_error(self, request_id, "invalid_field", "orderId must be a string of 1..128 characters");
    std::string order_id{id->value.GetString(), id->value.GetStringLength()};
    for (char c : order_id)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
        return send_error(self, request_id, "invalid_field", "orderId has characters no order id has");
    return forward(self, request_id, "DELETE", "/api/orders/" + order_id, {});
  }
  send_error(self, request_id, "unknown_type", "type must be place or cancel");
}

caf::behavior stream_actor(stream_ptr self, order_stream_config cfg,
                           std::shared_ptr<stream_registry> registry,
                           std::shared_ptr<ws_session> ws, persistence::user_record user,
                           std::string token,
                           std::vector<std::pair<std::string, std::string>> credential_headers,
                           std::optional<std::uint64_t> since) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.registry = std::move(registry);
  st.ws = std::move(ws);
  st.user = std::move(user);
  st.token = std::move(token);
  st.credential_headers = std::move(credential_headers);
  self->attach_functor([registry = st.registry, ws = st.ws, uid = st.user.id] {
    registry->give_back(uid);
    ws_session::post_close(ws, websocket::close_code::going_away, "brokerd is stopping the stream");
  });
  // The stream ends with the front (brokerd shutting down).
  self->monitor(st.cfg.front);
  self->set_down_handler([self](caf::down_msg&) {
    end_stream(self, websocket::close_code::going_away, "brokerd is shutting down");
  });
  ws_session::post_start(st.ws, caf::actor{self});
  self->request(st.cfg.log, caf::infinite, drain_atom_v)
      .then(
          [self, since](std::uint64_t last) {
            auto& s = self->state;
            ws_session::post_send(s.ws, R"({"type":"hello","userId":)" + json_string(s.user.id) +
                                            R"(,"lastSeq":)" + std::to_string(last) + "}");
            if (since) {
              s.next_seq = std::max<std::uint64_t>(*since, 1);
              return read_history(self);
            }
            s.next_seq = last + 1;
            go_live(self);
          },
          [self](caf::error&) {
            end_stream(self, websocket::close_code::internal_error, "the event log is unavailable");
          });
  self->delayed_send(self, st.cfg.recheck_token, timeout_atom_v);
  return {
      [self](event_atom, const persistence::event& ev) { deliver(self, ev); },
      [self](net_data_atom, std::string& text) { on_client_message(self, text); },
      [self](net_down_atom, std::string&) { self->quit(); },
      [self](http_atom, std::string& request_id, std::uint32_t status, std::string& body) {
        if (body.empty())
          body = "null";
        ws_session::post_send(self->state.ws, R"({"type":"result","requestId":)" +
                                                  json_string(request_id) + R"(,"status":)" +
                                                  std::to_string(status) + R"(,"body":)" + body +
                                                  "}");
      },
      [self](timeout_atom) {
        auto& s = self->state;
        if (!authenticate(*s.cfg.reader, s.token))
          return end_stream(self, websocket::close_code::policy_error,
                            "the token was revoked or expired");
        self->delayed_send(self, s.cfg.recheck_token, timeout_atom_v);
      },
  };
}

/// True when an Origin header, if any, names the host the request was sent to: a page of
/// another site cannot open a stream with the browser's cookie.
bool same_origin(const http_request& req) {
  auto origin = req.header("Origin");
  if (!origin)
    return true;
  auto host = req.header("Host");
  if (!host)
    return false;
  auto o = *origin;
  for (std::string_view scheme : {"http://", "https://"})
    if (o.starts_with(scheme))
      return o.substr(scheme.size()) == *host;
  return false;
}

} // namespace

order_stream_service make_order_stream(caf::actor_system& sys, order_stream_config cfg) {
  auto registry = std::make_shared<stream_registry>();
  // The handler lives as long as the HTTP server's pending work, which may outlast the actor
  // system's shutdown: it holds the actors weakly (a strong handle would keep a detached actor
  // alive and the actor system waiting for it). Each stream holds them while it runs.
  auto weak_log = caf::actor_cast<caf::weak_actor_ptr>(cfg.log);
  auto weak_front = caf::actor_cast<caf::weak_actor_ptr>(cfg.front);
  cfg.log = nullptr;
  cfg.front = nullptr;
  order_stream_service service;
  service.close_all = [registry](std::chrono::milliseconds bound) {
    for (const auto& s : registry->live())
      ws_session::post_close(s, websocket::close_code::going_away, "brokerd is shutting down");
    auto until = std::chrono::steady_clock::now() + bound;
    while (registry->count() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
  };
  service.upgrade = [&sys, cfg = std::move(cfg), registry, weak_log,
                     weak_front](const http_request& req) -> upgrade_answer {
    upgrade_answer out;
    auto refuse = [&out](unsigned status, std::string code, std::string message) {
      out.refuse = http_response{status, error_body({status, std::move(code), std::move(message)}),
                                 "application/json", {}};
      return out;
    };
    if (req.path != "/api/stream")
      return refuse(404, "not_found", "no WebSocket at " + req.path + " (use /api/stream)");
    if (req.method != "GET") {
      refuse(405, "method_not_allowed", "use GET");
      out.refuse->headers.emplace_back("Allow", "GET");
      return out;
    }
    auto since = query_uint(req.query, "since");
    if (!since)
      return refuse(since.error().status, since.error().error, since.error().message);
    auto credential = presented(req.authorization, req.header("Cookie"));
    if (!credential)
      return refuse(401, "unauthorized", "send 'Authorization: Bearer <token>'");
    if (credential->by_cookie && !same_origin(req))
      return refuse(403, "cross_origin",
                    "a stream opened with the session cookie must come from a page of this server");
    // Sent again with every order and cancel the stream forwards.
    std::vector<std::pair<std::string, std::string>> credentials{
        credential->by_cookie
            ? std::pair<std::string, std::string>{"Cookie", std::string{*req.header("Cookie")}}
            : std::pair<std::string, std::string>{"Authorization", req.authorization}};
    auto user = authenticate(*cfg.reader, credential->token);
    if (!user)
      return refuse(401, "unauthorized", "unknown or revoked token");
    auto running = cfg;
    running.log = caf::actor_cast<actors::event_log_actor>(weak_log.lock());
    running.front = caf::actor_cast<caf::actor>(weak_front.lock());
    if (!running.log || !running.front)
      return refuse(503, "shutting_down", "brokerd is shutting down");
    if (auto full = registry->take(user->id, cfg)) {
      out.refuse = std::move(*full);
      return out;
    }
    out.accept = [&sys, cfg = std::move(running), registry, user = *user, token = credential->token,
                  credentials = std::move(credentials),
                  from = *since](std::unique_ptr<upgraded_connection> c) mutable {
      auto ws = std::make_shared<ws_session>(std::move(c), cfg.max_queued_bytes);
      registry->add(ws);
      sys.spawn(stream_actor, cfg, registry, std::move(ws), std::move(user), std::move(token),
                std::move(credentials), from);
    };
    return out;
  };
  return service;
}

} // namespace brokerd::api
