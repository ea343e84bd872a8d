#include "api/front.hpp"

#include <map>

#include "actors/brokers/schwab/session.hpp"
#include "actors/brokers/schwab/tokens.hpp"
#include "actors/rest_calls.hpp"
#include "actors/logging.hpp"
#include "api/auth.hpp"
#include "api/broker_requests.hpp"
#include "api/json_io.hpp"
#include "persistence/event_codec.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::http_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::responder)

namespace brokerd::api {

namespace {

using namespace brokerd::actors;

struct connection_view {
  persistence::connection_record record;
  caf::actor supervisor;
  std::string state = "connecting";
  std::string reason;
  std::int64_t state_since_ns = 0;
  std::int64_t last_sync_ns = 0;
};

/// A Schwab sign-in under way: started by a user, finished by the browser's callback.
struct pending_login {
  persistence::user_record user;
  connect_request request;
  std::int64_t expires_ns = 0;
};

/// A code exchange in flight, with the callback's responder.
struct code_exchange {
  persistence::user_record user;
  connect_request request;
  responder respond;
  std::shared_ptr<net::https_client> client;
};

struct front_state {
  front_config cfg;
  /// By OAuth state (single use).
  std::map<std::string, pending_login> logins;
  std::map<std::uint64_t, code_exchange> exchanges;
  std::uint64_t next_exchange = 0;
  /// Takes the reports of temporary test sessions and ignores them. It handles them
  /// explicitly: with a `drop` default handler, CAF 0.17 answers the sender with an
  /// unexpected_message error, which ends a typed session.
  caf::actor void_sink;
  std::map<std::string, connection_view> conns;
  bool stopping = false;
  static inline const char* name = "http_front";
};

using self_ptr = caf::stateful_actor<front_state>*;

http_response json(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response error_response(unsigned status, std::string code, std::string message) {
  return json(status, error_body(api_error{status, std::move(code), std::move(message)}));
}

http_response error_response(const api_error& e) {
  return json(e.status, error_body(e));
}

/// Maps an actor error to the HTTP answer a client can act on.
http_response from_error(const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return error_response(504, "timeout", "the request timed out; its outcome may be unknown");
  auto info = describe(err);
  if (!info.code)
    return error_response(500, "internal_error", "internal error");
  switch (*info.code) {
    case errc::unknown_connection:
      return error_response(404, "unknown_connection", info.message);
    case errc::unknown_order:
      return error_response(404, "unknown_order", info.message);
    case errc::invalid_order:
      return error_response(400, "invalid_order", info.message);
    case errc::order_not_cancelable:
      return error_response(409, "order_not_cancelable", info.message);
    case errc::not_found_at_broker:
      return error_response(404, "not_found_at_broker", info.message);
    case errc::broker_rejected:
      return error_response(502, "broker_rejected", info.message);
    case errc::session_unavailable:
      return error_response(503, "session_unavailable", info.message);
    case errc::log_write_failed:
      return error_response(503, "log_write_failed", info.message);
    case errc::queue_full: {
      auto r = error_response(503, "queue_full", info.message);
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    case errc::shutting_down:
      return error_response(503, "shutting_down", info.message);
    case errc::auth_required:
      return error_response(409, "auth_required", info.message);
  }
  return error_response(500, "internal_error", "internal error");
}

std::string status_of(const std::string& state) {
  if (state == "ready")
    return "connected";
  if (state == "auth_required")
    return "auth_required";
  if (state == "backoff")
    return "error";
  if (state == "stopped")
    return "disconnected";
  return "connecting";
}

std::string configured_json(const front_state& st, const std::string& user) {
  std::string out = R"({"connections":[)";
  bool first = true;
  for (const auto& [id, c] : st.conns) {
    if (c.record.user != user)
      continue;
    if (!first)
      out += ',';
    first = false;
    out += R"({"id":")" + id + R"(","broker":")" + c.record.broker + R"(","isPaperTrading":)" +
           (c.record.paper_trading ? "true" : "false") + R"(,"isActive":)" +
           (c.record.active ? "true" : "false") + R"(,"status":")" + status_of(c.state) +
           R"(","state":")" + c.state + R"(","connectedAt":")" +
           iso8601_ms(c.record.created_ns) + R"(")";
    if (c.last_sync_ns != 0)
      out += R"(,"lastSyncAt":")" + iso8601_ms(c.last_sync_ns) + R"(")";
    // Why the connection is in its state (a broker's refusal, a login about to end).
    if (!c.reason.empty())
      out += R"(,"reason":)" + json_string(c.reason);
    out += '}';
  }
  out += "]}";
  return out;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// POST /api/brokers/:broker/test: a temporary session connects and fetches the balance;
/// nothing is stored.
void test_broker(self_ptr self, const persistence::user_record& user, connect_request req,
                 responder& respond) {
  auto& st = self->state;
  auto probe = st.cfg.resources;
  probe.ibkr.log = nullptr; // a test stores nothing, not even an order-id reservation
  auto factory = factory_for(req.broker, probe);
  if (!factory)
    return respond(error_response(501, "broker_unavailable", factory.error()));
  connection_spec spec;
  spec.id = "test_" + random_hex(6);
  spec.user = user.id;
  spec.broker = req.broker;
  spec.settings = std::move(req.settings);
  auto session = (*factory)(self, spec, st.void_sink, st.void_sink);
  self->request(session, st.cfg.timeout, connect_atom_v)
      .then(
          [self, session, respond](engine::balance& b) {
            self->send_exit(session, caf::exit_reason::user_shutdown);
            respond(json(200, R"({"ok":true,"balance":)" + balance_json(b) + "}"));
          },
          [self, session, respond](caf::error& err) {
            self->send_exit(session, caf::exit_reason::user_shutdown);
            auto why = err == caf::sec::request_timeout ? std::string{"timed out"}
                                                        : describe(err).message;
            respond(json(200, R"({"ok":false,"error":)" + json_string(why) + "}"));
          });
}

/// POST /api/brokers/:broker/connect: starts the connection's supervised session, waits
/// until it is ready and has a balance, then stores the connection and routes orders to it.
/// A connection that fails its first connect is stopped and never stored.
void connect_broker(self_ptr self, const persistence::user_record& user, connect_request req,
                    responder& respond, std::string id = {}, registry_writes undo = {}) {
  auto& st = self->state;
  persistence::connection_record rec;
  rec.id = id.empty() ? "conn_" + std::string{engine::to_string(req.broker)} + "_" + random_hex(6)
                      : std::move(id);
  // What the connection stored before it was tested (a Schwab login) goes if it fails.
  auto forget = [self, undo] {
    if (!undo.empty())
      self->send(self->state.cfg.log, append_atom_v, persistence::event_batch{}, true, undo);
  };
  rec.user = user.id;
  rec.broker = std::string{engine::to_string(req.broker)};
  rec.paper_trading = req.paper_trading;
  rec.active = true;
  rec.created_ns = now_ns();
  rec.settings = std::move(req.settings);
  auto sup = start_connection(self->system(), rec, st.cfg.resources, st.cfg.log, st.cfg.router,
                              st.cfg.policy);
  if (!sup) {
    forget();
    return respond(error_response(501, "broker_unavailable", sup.error()));
  }
  auto supervisor = *sup;
  self->request(supervisor, st.cfg.timeout, connect_atom_v)
      .then(
          [self, rec, supervisor, respond](engine::balance& b) {
            auto& s = self->state;
            auto sealed = persistence::encode_connection(rec, *s.cfg.vault);
            if (!sealed) {
              self->send(supervisor, stop_atom_v);
              return respond(error_response(500, "internal_error",
                                            "the credentials could not be sealed: " +
                                                sealed.error().message));
            }
            registry_writes writes{{std::string{persistence::registry_keys::connection} + rec.id,
                                    std::move(*sealed)}};
            self->request(s.cfg.log, caf::infinite, append_atom_v, persistence::event_batch{},
                          true, std::move(writes))
                .then(
                    [self, rec, supervisor, respond, b](std::uint64_t) {
                      auto& s2 = self->state;
                      auto broker = engine::parse_broker_id(rec.broker);
                      self->send(s2.cfg.router, attach_atom_v, rec.id, rec.user,
                                 broker.value_or(engine::broker_id::paper), supervisor);
                      auto& view = s2.conns[rec.id];
                      view.record = rec;
                      view.supervisor = supervisor;
                      view.last_sync_ns = now_ns();
                      respond(json(201, R"({"connectionId":")" + rec.id + R"(","broker":")" +
                                            rec.broker + R"(","balance":)" + balance_json(b) +
                                            "}"));
                    },
                    [self, supervisor, respond](caf::error& err) {
                      self->send(supervisor, stop_atom_v);
                      respond(from_error(err));
                    });
          },
          [self, supervisor, respond, forget](caf::error& err) {
            self->send(supervisor, stop_atom_v);
            forget();
            auto why = err == caf::sec::request_timeout ? std::string{"timed out"}
                                                        : describe(err).message;
            respond(error_response(502, "connection_failed",
                                   "the broker connection could not be established: " + why));
          });
}

/// How long a started Schwab sign-in waits for its callback.
constexpr std::int64_t login_window_ns = 10LL * 60 * 1'000'000'000;

/// POST /api/brokers/schwab/oauth/start: checks the connect body, remembers it under a fresh
/// state bound to the user, and answers the URL of Schwab's login page.
void schwab_oauth_start(self_ptr self, const persistence::user_record& user, connect_request req,
                        responder& respond) {
  auto& st = self->state;
  auto cfg = schwab::parse_config(req.settings);
  if (!cfg)
    return respond(error_response(400, "invalid_field", "credentials: " + cfg.error()));
  if (cfg->redirect_uri.empty())
    return respond(error_response(400, "missing_field",
                                  "missing required field credentials.redirectUri (the app's "
                                  "registered callback)"));
  auto now = now_ns();
  std::erase_if(st.logins, [now](const auto& kv) { return kv.second.expires_ns < now; });
  auto state = random_hex(16);
  auto origin = "https://" + cfg->api.host +
                (cfg->api.port == 443 ? std::string{} : ":" + std::to_string(cfg->api.port));
  auto url = schwab::authorize_url(origin, cfg->app_key.reveal(), cfg->redirect_uri, state);
  st.logins[state] = pending_login{user, std::move(req), now + login_window_ns};
  respond(json(200, R"({"authorizeUrl":)" + json_string(url) + R"(,"state":)" +
                        json_string(state) + "}"));
}

/// GET /api/brokers/schwab/oauth/callback?code=…&state=…: where Schwab's login page sends the
/// browser. The state (single use, ten minutes) names the user who started the sign-in; the
/// code is exchanged at once (it lives about 30 s).
void schwab_oauth_callback(self_ptr self, http_request& req, responder& respond) {
  auto& st = self->state;
  std::string query;
  for (const auto& [k, v] : req.query)
    query += (query.empty() ? "" : "&") + schwab::percent_encode(k) + "=" + schwab::percent_encode(v);
  auto cb = schwab::parse_callback(query);
  if (!cb)
    return respond(error_response(400, "invalid_callback", cb.error().message));
  auto it = st.logins.find(cb->state);
  if (cb->state.empty() || it == st.logins.end() || it->second.expires_ns < now_ns())
    return respond(error_response(400, "invalid_state",
                                  "this sign-in is unknown or expired: start it again"));
  auto login = std::move(it->second);
  st.logins.erase(it);
  auto cfg = schwab::parse_config(login.request.settings);
  auto basic = cfg ? schwab::basic_authorization(cfg->app_key.reveal(), cfg->app_secret)
                   : std::expected<secret, schwab::error>{};
  if (!cfg || !basic || !st.cfg.resources.ibkr.io)
    return respond(error_response(500, "internal_error", "the sign-in cannot be completed"));
  net::https_options opts;
  opts.endpoint.host = cfg->api.host;
  opts.endpoint.port = cfg->api.port;
  opts.endpoint.ca_file = cfg->ca_file;
  auto client = net::https_client::create(*st.cfg.resources.ibkr.io, std::move(opts));
  if (!client)
    return respond(error_response(502, "connection_failed", client.error()));
  net::https_request token_req;
  token_req.method = "POST";
  token_req.target = "/v1/oauth/token";
  token_req.headers = {{"Authorization", basic->reveal(), true}};
  token_req.content_type = "application/x-www-form-urlencoded";
  token_req.body = schwab::encode_code_grant(cb->code, cfg->redirect_uri).reveal();
  auto id = ++st.next_exchange;
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(self);
  (*client)->request(std::move(token_req), [weak, id](net::https_result r) {
    if (auto h = caf::actor_cast<caf::actor>(weak.lock()))
      caf::anon_send(h, connect_atom_v, id, std::move(r));
  });
  st.exchanges[id] = code_exchange{std::move(login.user), std::move(login.request), respond,
                                   std::move(*client)};
}

/// The token endpoint's answer to a code exchange: the login is stored sealed, then the
/// connection is tested and stored like any other (and the login removed if it fails).
void on_code_exchange(self_ptr self, std::uint64_t id, net::https_result& r) {
  auto& st = self->state;
  auto it = st.exchanges.find(id);
  if (it == st.exchanges.end())
    return;
  auto ex = std::move(it->second);
  st.exchanges.erase(it);
  ex.client->close();
  if (!r)
    return ex.respond(error_response(502, "connection_failed",
                                     "Schwab's token endpoint failed: " + r.error().to_string()));
  if (r->status != 200) {
    auto e = schwab::parse_oauth_error(r->status, r->body);
    return ex.respond(error_response(
        400, "sign_in_refused",
        "Schwab refused the authorization code (" + e.error +
            (e.error_description.empty() ? "" : ": " + e.error_description) + ")"));
  }
  auto granted = schwab::parse_token_response(r->body);
  auto tokens = granted ? schwab::tokens_from_code_grant(*granted, now_ns())
                        : std::expected<schwab::token_set, schwab::error>{
                              std::unexpected(granted.error())};
  if (!tokens)
    return ex.respond(error_response(502, "connection_failed",
                                     "unreadable token answer from Schwab: " +
                                         tokens.error().message));
  auto conn_id = "conn_schwab_" + random_hex(6);
  auto sealed = schwab::seal_tokens(*tokens, *st.cfg.vault, ex.user.id, conn_id);
  if (!sealed)
    return ex.respond(error_response(500, "internal_error", "the login could not be sealed"));
  registry_writes writes{{schwab::token_key(conn_id), std::move(*sealed)}};
  self->request(st.cfg.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                std::move(writes))
      .then(
          [self, ex, conn_id](std::uint64_t) mutable {
            registry_writes undo{{schwab::token_key(conn_id), std::nullopt}};
            connect_broker(self, ex.user, std::move(ex.request), ex.respond, conn_id,
                           std::move(undo));
          },
          [ex](caf::error& err) mutable { ex.respond(from_error(err)); });
}

/// DELETE /api/brokers/:connectionId: removes the connection from the registry (with its
/// order-id reservation), then stops its session and stops routing to it. The event log keeps
/// its history; orders still waiting for it are canceled by the router.
void remove_connection(self_ptr self, const persistence::user_record& user, const std::string& id,
                       responder& respond) {
  auto& st = self->state;
  auto it = st.conns.find(id);
  if (it == st.conns.end() || it->second.record.user != user.id || !it->second.supervisor)
    return respond(error_response(404, "unknown_connection", "no connection " + id));
  registry_writes writes{{std::string{persistence::registry_keys::connection} + id, std::nullopt}};
  if (it->second.record.broker == "ibkr")
    if (auto cfg = ibkr::parse_config(it->second.record.settings))
      writes.push_back({ibkr::order_id_key(id, cfg->client_id), std::nullopt});
  if (it->second.record.broker == "schwab")
    writes.push_back({schwab::token_key(id), std::nullopt});
  self->request(st.cfg.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                std::move(writes))
      .then(
          [self, id, respond](std::uint64_t) {
            auto& s = self->state;
            auto c = s.conns.find(id);
            if (c == s.conns.end())
              return respond(error_response(404, "unknown_connection", "no connection " + id));
            self->send(c->second.supervisor, stop_atom_v);
            self->send(s.cfg.router, detach_atom_v, id);
            s.conns.erase(c);
            respond(json(200, R"({"connectionId":")" + id + R"(","removed":true})"));
          },
          [respond](caf::error& err) { respond(from_error(err)); });
}

/// 403 premium_required for a free user and a premium broker; nothing otherwise.
std::optional<http_response> premium_check(const persistence::user_record& user,
                                           engine::broker_id broker) {
  if (!requires_premium(broker) || user.tier == "premium")
    return std::nullopt;
  return error_response(403, "premium_required",
                        std::string{engine::to_string(broker)} +
                            " is available on the premium plan; ask an administrator to "
                            "upgrade your account to tier premium");
}

void handle_api(self_ptr self, const persistence::user_record& user, http_request& req,
                responder& respond) {
  auto& st = self->state;
  const auto& path = req.path;
  const auto& method = req.method;
  auto timeout = st.cfg.timeout;

  if (path == "/api/brokers/user/configured") {
    if (method != "GET")
      return respond(error_response(405, "method_not_allowed", "use GET"));
    return respond(json(200, configured_json(st, user.id)));
  }
  if (path == "/api/brokers/schwab/oauth/start") {
    if (method != "POST")
      return respond(error_response(405, "method_not_allowed", "use POST"));
    auto parsed = parse_connect_request("schwab", req.body, st.cfg.allow_custom_hosts);
    if (!parsed)
      return respond(error_response(parsed.error()));
    if (auto refused = premium_check(user, parsed->broker))
      return respond(std::move(*refused));
    return schwab_oauth_start(self, user, std::move(*parsed), respond);
  }
  for (const char* action : {"test", "connect"}) {
    auto params = route_match(std::string{"/api/brokers/:broker/"} + action, path);
    if (!params)
      continue;
    if (method != "POST")
      return respond(error_response(405, "method_not_allowed", "use POST"));
    auto parsed = parse_connect_request((*params)["broker"], req.body, st.cfg.allow_custom_hosts);
    if (!parsed)
      return respond(error_response(parsed.error()));
    if (auto refused = premium_check(user, parsed->broker))
      return respond(std::move(*refused));
    if (std::string_view{action} == "test")
      return test_broker(self, user, std::move(*parsed), respond);
    return connect_broker(self, user, std::move(*parsed), respond);
  }
  if (path == "/api/orders") {
    if (method == "POST") {
      auto parsed = parse_order_request(req.body);
      if (!parsed)
        return respond(error_response(parsed.error()));
      auto o = std::move(*parsed);
      o.user = user.id;
      if (!st.conns.contains(o.connection) || st.conns[o.connection].record.user != user.id)
        return respond(error_response(404, "unknown_connection",
                                      "no connection " + o.connection));
      if (auto broker = engine::parse_broker_id(st.conns[o.connection].record.broker))
        if (auto refused = premium_check(user, *broker))
          return respond(std::move(*refused));
      self->request(st.cfg.router, timeout, place_atom_v, std::move(o))
          .then(
              [respond](place_result& r) {
                respond(json(r.created ? 201 : 200, order_json(r.order)));
              },
              [respond](caf::error& err) { respond(from_error(err)); });
      return;
    }
    if (method == "GET") {
      std::string conn_id{query_value(req.query, "connectionId").value_or("")};
      self->request(st.cfg.router, timeout, list_atom_v, user.id, conn_id)
          .then([respond](order_list& orders) { respond(json(200, orders_json(orders))); },
                [respond](caf::error& err) { respond(from_error(err)); });
      return;
    }
    return respond(error_response(405, "method_not_allowed", "use GET or POST"));
  }
  if (auto params = route_match("/api/brokers/:id", path)) {
    if (method != "DELETE")
      return respond(error_response(405, "method_not_allowed", "use DELETE"));
    return remove_connection(self, user, (*params)["id"], respond);
  }
  if (auto params = route_match("/api/orders/:id", path)) {
    auto id = (*params)["id"];
    if (method == "GET") {
      self->request(st.cfg.router, timeout, get_atom_v, user.id, id)
          .then([respond](engine::order& o) { respond(json(200, order_json(o))); },
                [respond](caf::error& err) { respond(from_error(err)); });
      return;
    }
    if (method == "DELETE") {
      self->request(st.cfg.router, timeout, cancel_atom_v, user.id, id)
          .then([respond](engine::order& o) { respond(json(202, order_json(o))); },
                [respond](caf::error& err) { respond(from_error(err)); });
      return;
    }
    return respond(error_response(405, "method_not_allowed", "use GET or DELETE"));
  }
  if (path == "/api/events") {
    if (method != "GET")
      return respond(error_response(405, "method_not_allowed", "use GET"));
    auto since = query_uint(req.query, "since");
    if (!since)
      return respond(error_response(since.error()));
    auto limit = query_uint(req.query, "limit", 1000);
    if (!limit)
      return respond(error_response(limit.error()));
    auto from = since->value_or(1);
    auto count = static_cast<std::uint32_t>(limit->value_or(100));
    if (count == 0)
      return respond(error_response(400, "invalid_query", "limit must be 1..1000"));
    bool admin = user.admin;
    auto uid = user.id;
    self->request(st.cfg.log, timeout, read_atom_v, from, count)
        .then(
            [respond, admin, uid, from](persistence::event_batch& events) {
              std::string body = R"({"events":[)";
              bool first = true;
              auto next = from;
              for (const auto& ev : events) {
                next = ev.seq + 1;
                if (!admin && ev.user != uid)
                  continue;
                if (!first)
                  body += ',';
                first = false;
                body += persistence::encode_event(ev);
              }
              body += R"(],"nextSeq":)" + std::to_string(next) + "}";
              respond(json(200, std::move(body)));
            },
            [respond](caf::error& err) { respond(from_error(err)); });
    return;
  }
  for (const char* what : {"balance", "positions"}) {
    auto params = route_match(std::string{"/api/connections/:id/"} + what, path);
    if (!params)
      continue;
    if (method != "GET")
      return respond(error_response(405, "method_not_allowed", "use GET"));
    auto it = st.conns.find((*params)["id"]);
    if (it == st.conns.end() || it->second.record.user != user.id)
      return respond(error_response(404, "unknown_connection", "no connection " + (*params)["id"]));
    if (auto broker = engine::parse_broker_id(it->second.record.broker))
      if (auto refused = premium_check(user, *broker))
        return respond(std::move(*refused));
    auto conn_id = it->first;
    if (std::string_view{what} == "balance") {
      self->request(it->second.supervisor, timeout, balance_atom_v)
          .then(
              [self, respond, conn_id](engine::balance& b) {
                if (auto c = self->state.conns.find(conn_id); c != self->state.conns.end())
                  c->second.last_sync_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count();
                respond(json(200, balance_json(b)));
              },
              [respond](caf::error& err) { respond(from_error(err)); });
    } else {
      self->request(it->second.supervisor, timeout, positions_atom_v)
          .then([respond](engine::position_list& p) { respond(json(200, positions_json(p))); },
                [respond](caf::error& err) { respond(from_error(err)); });
    }
    return;
  }
  respond(error_response(404, "not_found", "no route " + method + " " + path));
}

} // namespace

caf::actor spawn_front(caf::actor_system& sys, front_config cfg) {
  auto impl = [](self_ptr self, front_config c) -> caf::behavior {
    self->state.cfg = std::move(c);
    self->state.void_sink = self->spawn<caf::linked>([](caf::event_based_actor*) -> caf::behavior {
      return {
          [](state_atom, connection_state, std::string&) {},
          [](update_atom, std::string&, order_update&) {},
      };
    });
    // Live connection states come from the log, like every other subscriber's view.
    self->request(self->state.cfg.log, caf::infinite, subscribe_atom_v, caf::actor{self},
                  self->state.cfg.follow_from)
        .then([](std::uint64_t) {},
              [](caf::error& err) {
                log::error("http_front", "cannot subscribe to the event log: " +
                                             describe(err).message);
              });
    return {
        [self](http_atom, http_request& req, responder& respond) {
          auto& st = self->state;
          if (st.stopping)
            return respond(error_response(503, "shutting_down", "brokerd is shutting down"));
          if (req.path == "/healthz") {
            if (req.method != "GET" && req.method != "HEAD")
              return respond(error_response(405, "method_not_allowed", "use GET"));
            return respond(json(200, R"({"status":"ok"})"));
          }
          if (!req.path.starts_with("/api/"))
            return respond(error_response(404, "not_found", "no route " + req.path));
          // The browser comes back from Schwab's login page without brokerd's token: the
          // sign-in's state is the credential.
          if (req.path == "/api/brokers/schwab/oauth/callback") {
            if (req.method != "GET")
              return respond(error_response(405, "method_not_allowed", "use GET"));
            return schwab_oauth_callback(self, req, respond);
          }
          auto token = bearer_token(req.authorization);
          if (!token)
            return respond(error_response(401, "unauthorized",
                                          "send 'Authorization: Bearer <token>'"));
          auto user = authenticate(*st.cfg.reader, *token);
          if (!user)
            return respond(error_response(401, "unauthorized", "unknown or revoked token"));
          handle_api(self, *user, req, respond);
        },
        [self](attach_atom, persistence::connection_record& rec, caf::actor& sup) {
          auto id = rec.id;
          auto& view = self->state.conns[id];
          view.record = std::move(rec);
          view.supervisor = std::move(sup);
        },
        [self](event_atom, const persistence::event& ev) {
          if (ev.type != persistence::event_types::connection_state)
            return;
          // A session may report before its connection's attach message arrives here: keep
          // the state for it. The view has no owner until attached, so nobody sees it.
          auto& view = self->state.conns[ev.connection];
          view.state = ev.state;
          view.reason = ev.reason;
          view.state_since_ns = ev.ts_ns;
          if (ev.state == "ready")
            view.last_sync_ns = ev.ts_ns;
        },
        [self](connect_atom, std::uint64_t id, net::https_result& r) {
          on_code_exchange(self, id, r);
        },
        [self](stop_atom) { self->state.stopping = true; },
        [self](list_atom) {
          std::vector<caf::actor> out;
          for (const auto& [id, view] : self->state.conns)
            if (view.supervisor)
              out.push_back(view.supervisor);
          return out;
        },
    };
  };
  return sys.spawn(impl, std::move(cfg));
}

request_handler make_request_handler(caf::actor front) {
  return [front](http_request req, responder respond) {
    caf::anon_send(front, http_atom_v, std::move(req), std::move(respond));
  };
}

} // namespace brokerd::api
