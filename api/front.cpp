#include "api/front.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "actors/brokers/schwab/session.hpp"
#include "actors/brokers/schwab/tokens.hpp"
#include "actors/deadline_queue.hpp"
#include "actors/logging.hpp"
#include "actors/metrics.hpp"
#include "actors/rest_calls.hpp"
#include "api/auth.hpp"
#include "api/broker_compare.hpp"
#include "api/broker_requests.hpp"
#include "api/json_io.hpp"
#include "api/passwords.hpp"
#include "api/user_requests.hpp"
#include "engine/token_bucket.hpp"
#include "persistence/event_codec.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::http_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::responder)

namespace brokerd::api {
/// Asks the password hasher for the scrypt hash of a new password (answer: the stored form,
/// empty when hashing failed).
struct password_hash_request {
  actors::secret password;
};
/// Asks the password hasher whether `password` matches `stored` (answer: bool).
struct password_check {
  actors::secret password;
  std::string stored;
};
} // namespace brokerd::api

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::password_hash_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(brokerd::api::password_check)

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

/// An HTTP answer that a reply or a deadline gives, whichever comes first.
struct answer_slot {
  responder respond;
  bool answered = false;
};

struct front_state {
  front_config cfg;
  /// Answers waiting for the router or the event log, by deadline. They all wait
  /// `cfg.timeout`, so deadlines come in the order the requests were made and one timer for
  /// the earliest serves them all (a CAF request timeout costs two clock operations per
  /// request on the order path).
  actors::deadline_queue<std::shared_ptr<answer_slot>> deadlines;
  /// Tokens already resolved, while the registry is unchanged.
  token_cache tokens;
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
  front_state() = default;
  front_state(const front_state&) = delete;
  front_state& operator=(const front_state&) = delete;
  ~front_state() {
    if (hasher)
      caf::anon_send_exit(hasher, caf::exit_reason::user_shutdown);
  }
  /// Hashes and checks passwords on its own thread (scrypt takes tens of milliseconds). Not
  /// linked: ended when this state ends (the front's exit), so no link keeps it alive.
  caf::actor hasher;
  /// The API rate limit: by user id, and by "login:" + client address for logins.
  std::map<std::string, engine::token_bucket> buckets;
  /// User records written but maybe not yet readable through the reader, by id: read-modify-
  /// write of a user starts from here so two quick changes do not lose one another.
  std::map<std::string, persistence::user_record> users_in_flight;
  /// Emails of users whose creation is under way: a second create of one is 409 at once.
  std::set<std::string> emails_in_flight;
  /// Counters since start for GET /api/admin/stats.
  std::uint64_t tests_run = 0;
  std::uint64_t tests_ok = 0;
  /// Orders created through this front, by broker.
  std::map<std::string, std::uint64_t> orders_by_broker;
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

/// 405 naming the allowed methods ("GET or POST"), with the `Allow` header RFC 9110 asks for.
http_response method_not_allowed(std::string_view allowed) {
  auto r = error_response(405, "method_not_allowed", "use " + std::string{allowed});
  std::string header{allowed};
  for (auto at = header.find(" or "); at != std::string::npos; at = header.find(" or "))
    header.replace(at, 4, ", ");
  r.headers.emplace_back("Allow", std::move(header));
  return r;
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
    case errc::client_order_id_conflict:
      return error_response(409, "client_order_id_conflict", info.message);
  }
  return error_response(500, "internal_error", "internal error");
}

/// Answers 504 `timeout` to every waiting request whose deadline has passed.
void sweep_deadlines(self_ptr self) {
  self->state.deadlines.fire(self, timeout_atom_v, [](const std::shared_ptr<answer_slot>& slot) {
    if (!slot->answered) {
      slot->answered = true;
      slot->respond(from_error(caf::sec::request_timeout));
    }
  });
}

/// `respond`, called with 504 `timeout` instead when no answer came within the front's
/// timeout; whatever comes second is dropped. For requests to actors that always answer (the
/// router, the event log), sent with `caf::infinite`.
responder with_deadline(self_ptr self, responder respond) {
  auto slot = std::make_shared<answer_slot>(answer_slot{std::move(respond)});
  self->state.deadlines.push(self->clock().now() + self->state.cfg.timeout, slot);
  self->state.deadlines.arm(self, timeout_atom_v);
  return [slot](http_response r) {
    if (slot->answered)
      return;
    slot->answered = true;
    slot->respond(std::move(r));
  };
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

std::string configured_json(const front_state& st, const persistence::user_record& owner) {
  const auto& user = owner.id;
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
    out += std::string{R"(,"primary":)"} + (id == owner.primary_connection ? "true" : "false");
    if (c.last_sync_ns != 0)
      out += R"(,"lastSyncAt":")" + iso8601_ms(c.last_sync_ns) + R"(")";
    // Why the connection is in its state (a broker's refusal, a login about to end).
    if (!c.reason.empty())
      out += R"(,"reason":)" + json_string(c.reason);
    out += '}';
  }
  out += R"(],"primaryConnectionId":)" +
         (owner.primary_connection.empty() ? std::string{"null"}
                                           : json_string(owner.primary_connection)) +
         "}";
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
  ++st.tests_run;
  self->request(session, st.cfg.timeout, connect_atom_v)
      .then(
          [self, session, respond, broker = spec.broker](engine::balance& b) {
            ++self->state.tests_ok;
            metrics::record_connection_test(engine::to_string(broker), true);
            self->send_exit(session, caf::exit_reason::user_shutdown);
            respond(json(200, R"({"ok":true,"balance":)" + balance_json(b) + "}"));
          },
          [self, session, respond, broker = spec.broker](caf::error& err) {
            self->send_exit(session, caf::exit_reason::user_shutdown);
            metrics::record_connection_test(engine::to_string(broker), false);
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

/// The user as last written by this front, else as stored; nullopt when unknown.
std::optional<persistence::user_record> current_user(const front_state& st, const std::string& id) {
  if (auto it = st.users_in_flight.find(id); it != st.users_in_flight.end())
    return it->second;
  auto stored = st.cfg.reader->get(std::string{persistence::registry_keys::user} + id);
  if (!stored || !*stored)
    return std::nullopt;
  auto u = persistence::decode_user(**stored);
  if (!u)
    return std::nullopt;
  return *u;
}

/// Every stored user (records that do not decode are skipped), in id order, with this front's
/// own writes in flight applied.
std::vector<persistence::user_record> all_users(const front_state& st) {
  std::map<std::string, persistence::user_record> by_id;
  if (auto entries = st.cfg.reader->scan_prefix(persistence::registry_keys::user))
    for (const auto& e : *entries)
      if (auto u = persistence::decode_user(e.value))
        by_id[u->id] = std::move(*u);
  for (const auto& [id, u] : st.users_in_flight)
    by_id[id] = u;
  std::vector<persistence::user_record> out;
  for (auto& [id, u] : by_id)
    out.push_back(std::move(u));
  return out;
}

/// The registry write of `u`, remembered as in flight until `done_writing` forgets it.
persistence::registry_write user_write(front_state& st, const persistence::user_record& u) {
  st.users_in_flight[u.id] = u;
  return {std::string{persistence::registry_keys::user} + u.id, persistence::encode_user(u)};
}

/// Forgets the in-flight copy of user `id` once the reader sees `u` (the write is done).
void done_writing(front_state& st, const persistence::user_record& u) {
  if (auto it = st.users_in_flight.find(u.id); it != st.users_in_flight.end() && it->second == u)
    st.users_in_flight.erase(it);
}

/// Appends `writes` (synced) and calls `then()` once stored; a failed write answers the error
/// and forgets the in-flight copy of user `written_user` (when given), which was not stored.
template <class F>
void store(self_ptr self, registry_writes writes, const responder& respond, F then,
           std::string written_user = {}) {
  self->request(self->state.cfg.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                std::move(writes))
      .then([then](std::uint64_t) mutable { then(); },
            [self, respond, written_user](caf::error& err) {
              if (!written_user.empty())
                self->state.users_in_flight.erase(written_user);
              respond(from_error(err));
            });
}

/// DELETE /api/brokers/:connectionId: removes the connection from the registry (with its
/// order-id reservation), then stops its session and stops routing to it. The event log keeps
/// its history; orders still waiting for it are canceled by the router.
void remove_connection(self_ptr self, const persistence::user_record& user, const std::string& id,
                       responder& respond) {
  auto& st = self->state;
  auto it = st.conns.find(id);
  if (it == st.conns.end() || it->second.record.user != user.id || it->second.record.id.empty())
    return respond(error_response(404, "unknown_connection", "no connection " + id));
  registry_writes writes{{std::string{persistence::registry_keys::connection} + id, std::nullopt}};
  if (it->second.record.broker == "ibkr")
    if (auto cfg = ibkr::parse_config(it->second.record.settings))
      writes.push_back({ibkr::order_id_key(id, cfg->client_id), std::nullopt});
  if (it->second.record.broker == "schwab")
    writes.push_back({schwab::token_key(id), std::nullopt});
  // The primary connection's removal clears the user's primary.
  std::optional<persistence::user_record> cleared;
  if (auto owner = current_user(st, user.id); owner && owner->primary_connection == id) {
    cleared = *owner;
    cleared->primary_connection.clear();
    writes.push_back(user_write(st, *cleared));
  }
  self->request(st.cfg.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                std::move(writes))
      .then(
          [self, id, respond, cleared](std::uint64_t) {
            auto& s = self->state;
            if (cleared)
              done_writing(s, *cleared);
            auto c = s.conns.find(id);
            if (c == s.conns.end())
              return respond(error_response(404, "unknown_connection", "no connection " + id));
            if (c->second.supervisor)
              self->send(c->second.supervisor, stop_atom_v);
            self->send(s.cfg.router, detach_atom_v, id);
            actors::metrics::retire_connection(id);
            s.conns.erase(c);
            respond(json(200, R"({"connectionId":")" + id + R"(","removed":true})"));
          },
          [self, respond, cleared](caf::error& err) {
            if (cleared)
              self->state.users_in_flight.erase(cleared->id);
            respond(from_error(err));
          });
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

/// A fresh API token for `user_id`: the token (shown once) and the write storing its hash.
std::pair<std::string, persistence::registry_write>
new_token(const std::string& user_id, std::string kind, std::int64_t expires_ns) {
  auto token = random_hex(32);
  persistence::token_record rec{user_id, std::move(kind), expires_ns, now_ns()};
  return {token, {token_key(token), persistence::encode_token(rec)}};
}

std::string session_cookie_header(const std::string& token, std::int64_t max_age_s) {
  return std::string{session_cookie_name} + "=" + token +
         "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" + std::to_string(max_age_s);
}

/// POST /api/auth/login {email, password}: checks the password on the hasher's thread
/// (an unknown email is checked against a decoy hash at the same cost) and answers a session
/// token, also as the brokerd_session cookie. One answer for every failure: no one learns
/// which emails exist.
void login(self_ptr self, http_request& req, responder& respond) {
  auto& st = self->state;
  auto parsed = parse_login_request(req.body);
  if (!parsed)
    return respond(error_response(parsed.error()));
  std::optional<persistence::user_record> found;
  for (auto& u : all_users(st))
    if (u.email == parsed->email)
      found = std::move(u);
  // An empty hash is checked against a decoy on the hasher's thread.
  auto stored = found ? found->password_hash : std::string{};
  bool known = found && !found->password_hash.empty();
  self->request(st.hasher, caf::infinite, password_check{parsed->password, stored})
      .then(
          [self, respond, found, known](bool match) {
            if (!match || !known)
              return respond(
                  error_response(401, "invalid_credentials", "the email or password is wrong"));
            auto& s = self->state;
            auto expires = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          s.cfg.session_lifetime)
                                          .count();
            auto [token, write] = new_token(found->id, "session", expires);
            store(self, {std::move(write)}, respond,
                  [self, respond, user = *found, token, expires] {
                    auto r = json(200, R"({"token":)" + json_string(token) + R"(,"userId":)" +
                                           json_string(user.id) + R"(,"tier":)" +
                                           json_string(user.tier) + R"(,"expiresAt":")" +
                                           iso8601_ms(expires) + R"("})");
                    r.headers.emplace_back(
                        "Set-Cookie",
                        session_cookie_header(token, self->state.cfg.session_lifetime.count()));
                    respond(std::move(r));
                  });
          },
          [respond](caf::error&) {
            respond(error_response(500, "internal_error", "the password could not be checked"));
          });
}

/// POST /api/auth/logout and DELETE /api/auth/tokens/current: revokes the token the request
/// authenticated with (bearer or cookie) and clears the cookie.
void logout(self_ptr self, const std::string& token, responder& respond) {
  store(self, {{token_key(token), std::nullopt}}, respond, [respond] {
    auto r = json(200, R"({"revoked":true})");
    r.headers.emplace_back("Set-Cookie", session_cookie_header("", 0));
    respond(std::move(r));
  });
}

/// Stops the premium connections of a user moved to free (stored inactive, their sessions
/// stopped, listed as disconnected) or starts them again for a user moved to premium. Runs
/// once the user and connection records are stored.
void apply_tier(self_ptr self, const std::string& user_id, const std::string& tier) {
  auto& st = self->state;
  for (auto& [id, view] : st.conns) {
    auto broker = engine::parse_broker_id(view.record.broker);
    if (view.record.user != user_id || !broker || !requires_premium(*broker) ||
        view.record.id.empty())
      continue;
    if (tier == "free" && view.record.active) {
      view.record.active = false;
      if (view.supervisor)
        self->send(view.supervisor, stop_atom_v);
    } else if (tier == "premium" && !view.record.active) {
      view.record.active = true;
      auto sup = start_connection(self->system(), view.record, st.cfg.resources, st.cfg.log,
                                  st.cfg.router, st.cfg.policy);
      if (!sup) {
        log::error("http_front", "connection " + id + " not restarted: " + sup.error());
        continue;
      }
      view.supervisor = *sup;
      self->send(st.cfg.router, attach_atom_v, view.record.id, view.record.user, *broker, *sup);
    }
  }
}

/// POST /api/admin/users {email, password, tier?}: 201 {userId, token, user} with the user's
/// first API token; 409 email_taken for an email in use.
void create_user(self_ptr self, http_request& req, responder& respond) {
  auto& st = self->state;
  auto parsed = parse_new_user_request(req.body);
  if (!parsed)
    return respond(error_response(parsed.error()));
  auto taken = [&] {
    if (st.emails_in_flight.contains(parsed->email))
      return true;
    for (const auto& u : all_users(st))
      if (u.email == parsed->email)
        return true;
    return false;
  };
  if (taken())
    return respond(error_response(409, "email_taken", "a user with this email exists"));
  st.emails_in_flight.insert(parsed->email);
  auto email = parsed->email;
  auto tier = parsed->tier;
  self->request(st.hasher, caf::infinite, password_hash_request{parsed->password})
      .then(
          [self, respond, email, tier](std::string& hash) {
            auto& s = self->state;
            if (hash.empty()) {
              s.emails_in_flight.erase(email);
              return respond(
                  error_response(500, "internal_error", "the password could not be hashed"));
            }
            persistence::user_record u;
            u.id = "usr_" + random_hex(8);
            u.email = email;
            u.tier = tier;
            u.created_ns = now_ns();
            u.password_hash = std::move(hash);
            auto [token, token_write] = new_token(u.id, "api", 0);
            registry_writes writes{user_write(s, u), std::move(token_write)};
            self->request(s.cfg.log, caf::infinite, append_atom_v, persistence::event_batch{}, true,
                          std::move(writes))
                .then(
                    [self, respond, u, token](std::uint64_t) {
                      self->state.emails_in_flight.erase(u.email);
                      done_writing(self->state, u);
                      respond(json(201, R"({"userId":)" + json_string(u.id) + R"(,"token":)" +
                                            json_string(token) + R"(,"user":)" + user_json(u) +
                                            "}"));
                    },
                    [self, respond, u](caf::error& err) {
                      self->state.emails_in_flight.erase(u.email);
                      self->state.users_in_flight.erase(u.id);
                      respond(from_error(err));
                    });
          },
          [self, respond, email](caf::error&) {
            self->state.emails_in_flight.erase(email);
            respond(error_response(500, "internal_error", "the password could not be hashed"));
          });
}

/// PATCH /api/admin/users/:id {tier?, password?}: 200 with the user. A tier change stops or
/// restarts the user's premium connections (see apply_tier).
void update_user(self_ptr self, const std::string& id, http_request& req, responder& respond) {
  auto& st = self->state;
  auto user = current_user(st, id);
  if (!user)
    return respond(error_response(404, "unknown_user", "no user " + id));
  auto parsed = parse_user_patch_request(req.body);
  if (!parsed)
    return respond(error_response(parsed.error()));
  auto finish = [self, respond](persistence::user_record u) {
    auto& s = self->state;
    registry_writes writes{user_write(s, u)};
    bool tier_changed = false;
    for (auto& [cid, view] : s.conns) {
      auto broker = engine::parse_broker_id(view.record.broker);
      if (view.record.user != u.id || !broker || !requires_premium(*broker) ||
          view.record.id.empty() || view.record.active == (u.tier == "premium"))
        continue;
      auto rec = view.record;
      rec.active = u.tier == "premium";
      auto sealed = persistence::encode_connection(rec, *s.cfg.vault);
      if (!sealed) {
        s.users_in_flight.erase(u.id);
        return respond(error_response(500, "internal_error", "a connection could not be sealed"));
      }
      writes.push_back(
          {std::string{persistence::registry_keys::connection} + cid, std::move(*sealed)});
      tier_changed = true;
    }
    store(
        self, std::move(writes), respond,
        [self, respond, u, tier_changed] {
          done_writing(self->state, u);
          if (tier_changed)
            apply_tier(self, u.id, u.tier);
          respond(json(200, user_json(u)));
        },
        u.id);
  };
  auto updated = *user;
  if (parsed->tier)
    updated.tier = *parsed->tier;
  if (!parsed->password)
    return finish(std::move(updated));
  self->request(st.hasher, caf::infinite, password_hash_request{*parsed->password})
      .then(
          [self, respond, finish, updated, id](std::string& hash) mutable {
            if (hash.empty())
              return respond(
                  error_response(500, "internal_error", "the password could not be hashed"));
            // Start from the latest record: another change may have landed while hashing.
            if (auto latest = current_user(self->state, id)) {
              auto tier = updated.tier;
              updated = *latest;
              updated.tier = tier;
            }
            updated.password_hash = std::move(hash);
            finish(std::move(updated));
          },
          [respond](caf::error&) {
            respond(error_response(500, "internal_error", "the password could not be hashed"));
          });
}

/// DELETE /api/admin/users/:id/tokens: revokes every token (API and session) of the user.
void revoke_user_tokens(self_ptr self, const std::string& id, responder& respond) {
  auto& st = self->state;
  auto entries = st.cfg.reader->scan_prefix(persistence::registry_keys::token);
  if (!entries)
    return respond(error_response(503, "registry_unavailable", "the tokens could not be read"));
  registry_writes writes;
  for (const auto& e : *entries)
    if (auto t = persistence::decode_token(e.value); t && t->user == id)
      writes.push_back({e.key, std::nullopt});
  auto n = writes.size();
  if (writes.empty())
    return respond(json(200, R"({"revoked":0})"));
  store(self, std::move(writes), respond,
        [respond, n] { respond(json(200, R"({"revoked":)" + std::to_string(n) + "}")); });
}

/// GET /api/admin/stats: connections by broker (those this front serves), users and premium
/// users, broker tests run and how many succeeded, and orders created through this front by
/// broker — all counted since this process started except users and connections.
std::string stats_json(const front_state& st) {
  std::map<std::string, std::uint64_t> conns{
      {"alpaca", 0}, {"ibkr", 0}, {"schwab", 0}, {"paper", 0}};
  std::uint64_t active = 0;
  for (const auto& [id, view] : st.conns) {
    if (view.record.id.empty())
      continue;
    ++conns[view.record.broker];
    if (view.record.active)
      ++active;
  }
  std::uint64_t users = 0;
  std::uint64_t premium = 0;
  for (const auto& u : all_users(st)) {
    ++users;
    if (u.tier == "premium")
      ++premium;
  }
  auto object = [](const std::map<std::string, std::uint64_t>& m) {
    std::string out = "{";
    for (const auto& [k, v] : m)
      out += (out.size() > 1 ? "," : "") + json_string(k) + ":" + std::to_string(v);
    return out + "}";
  };
  auto orders = st.orders_by_broker;
  for (const char* b : {"alpaca", "ibkr", "schwab", "paper"})
    orders.try_emplace(b, 0);
  char rate[32] = "null";
  if (st.tests_run > 0)
    std::snprintf(rate, sizeof rate, "%.4f",
                  static_cast<double>(st.tests_ok) / static_cast<double>(st.tests_run));
  return R"({"connectionsByBroker":)" + object(conns) + R"(,"activeConnections":)" +
         std::to_string(active) + R"(,"users":)" + std::to_string(users) + R"(,"premiumUsers":)" +
         std::to_string(premium) + R"(,"connectionTests":{"run":)" + std::to_string(st.tests_run) +
         R"(,"succeeded":)" + std::to_string(st.tests_ok) + R"(,"successRate":)" + rate +
         R"(},"ordersByBroker":)" + object(orders) + "}";
}

/// The /api/admin/ routes; the caller checked that the user is an admin.
void handle_admin(self_ptr self, http_request& req, responder& respond) {
  auto& st = self->state;
  const auto& path = req.path;
  const auto& method = req.method;
  if (path == "/api/admin/users") {
    if (method == "GET")
      return respond(json(200, users_json(all_users(st))));
    if (method == "POST")
      return create_user(self, req, respond);
    return respond(method_not_allowed("GET or POST"));
  }
  if (path == "/api/admin/stats") {
    if (method != "GET")
      return respond(method_not_allowed("GET"));
    return respond(json(200, stats_json(st)));
  }
  if (auto params = route_match("/api/admin/users/:id", path)) {
    if (method != "PATCH")
      return respond(method_not_allowed("PATCH"));
    return update_user(self, (*params)["id"], req, respond);
  }
  if (auto params = route_match("/api/admin/users/:id/tokens", path)) {
    auto id = (*params)["id"];
    if (!current_user(st, id))
      return respond(error_response(404, "unknown_user", "no user " + id));
    if (method == "DELETE")
      return revoke_user_tokens(self, id, respond);
    if (method != "POST")
      return respond(method_not_allowed("POST or DELETE"));
    if (!req.body.empty())
      return respond(error_response(400, "invalid_body", "this request takes no body"));
    auto [token, write] = new_token(id, "api", 0);
    return store(self, {std::move(write)}, respond, [respond, id, token] {
      respond(
          json(201, R"({"userId":)" + json_string(id) + R"(,"token":)" + json_string(token) + "}"));
    });
  }
  respond(error_response(404, "not_found", "no route " + method + " " + path));
}

/// POST /api/brokers/:id/primary: makes one of the user's connections their primary broker.
void set_primary(self_ptr self, const persistence::user_record& user, const std::string& id,
                 responder& respond) {
  auto& st = self->state;
  auto it = st.conns.find(id);
  if (it == st.conns.end() || it->second.record.user != user.id || it->second.record.id.empty())
    return respond(error_response(404, "unknown_connection", "no connection " + id));
  auto u = current_user(st, user.id).value_or(user);
  u.primary_connection = id;
  store(
      self, {user_write(st, u)}, respond,
      [self, respond, u, id] {
        done_writing(self->state, u);
        respond(json(200, R"({"primaryConnectionId":)" + json_string(id) + "}"));
      },
      u.id);
}

/// Removes the record of `token` when it has expired (no write when it is unknown or valid).
void forget_if_expired(self_ptr self, const std::string& token, std::int64_t now) {
  auto key = token_key(token);
  auto stored = self->state.cfg.reader->get(key);
  if (!stored || !*stored)
    return;
  auto rec = persistence::decode_token(**stored);
  if (rec && rec->expires_ns != 0 && rec->expires_ns <= now)
    self->send(self->state.cfg.log, append_atom_v, persistence::event_batch{}, false,
               registry_writes{{key, std::nullopt}});
}

/// Removes every expired token record (sessions whose lifetime ended while brokerd was down).
void sweep_expired_tokens(self_ptr self) {
  auto stored = self->state.cfg.reader->scan_prefix(persistence::registry_keys::token);
  if (!stored)
    return;
  auto now = now_ns();
  registry_writes expired;
  for (const auto& e : *stored)
    if (auto rec = persistence::decode_token(e.value);
        rec && rec->expires_ns != 0 && rec->expires_ns <= now)
      expired.push_back({e.key, std::nullopt});
  if (!expired.empty())
    self->send(self->state.cfg.log, append_atom_v, persistence::event_batch{}, false,
               std::move(expired));
}

/// 429 rate_limited when `key`'s bucket is empty (Retry-After in whole seconds, at least 1).
std::optional<http_response> rate_check(self_ptr self, const std::string& key) {
  auto& st = self->state;
  if (st.cfg.api_rate_per_second == 0)
    return std::nullopt;
  auto now = self->clock().now();
  auto it = st.buckets.find(key);
  if (it == st.buckets.end())
    it = st.buckets
             .emplace(key, engine::token_bucket::per_period(
                               st.cfg.api_rate_per_second, std::chrono::seconds{1},
                               std::max<std::uint32_t>(1, st.cfg.api_rate_burst), now))
             .first;
  if (it->second.try_take(now))
    return std::nullopt;
  auto wait = std::chrono::duration<double>(it->second.wait_time(now)).count();
  auto r = error_response(429, "rate_limited", "too many requests: slow down and retry later");
  r.headers.emplace_back("Retry-After",
                         std::to_string(std::max<long>(1, static_cast<long>(std::ceil(wait)))));
  return r;
}

void handle_api(self_ptr self, const persistence::user_record& user, http_request& req,
                responder& respond) {
  auto& st = self->state;
  const auto& path = req.path;
  const auto& method = req.method;
  auto timeout = st.cfg.timeout;

  if (path == "/api/brokers/user/configured") {
    if (method != "GET")
      return respond(method_not_allowed("GET"));
    return respond(json(200, configured_json(st, user)));
  }
  if (path == "/api/brokers/compare") {
    if (method != "GET")
      return respond(method_not_allowed("GET"));
    return respond(json(200, broker_catalogue_json()));
  }
  if (path.starts_with("/api/admin/")) {
    if (!user.admin)
      return respond(error_response(403, "forbidden", "this needs an administrator"));
    return handle_admin(self, req, respond);
  }
  if (auto params = route_match("/api/brokers/:id/primary", path)) {
    if (method != "POST")
      return respond(method_not_allowed("POST"));
    return set_primary(self, user, (*params)["id"], respond);
  }
  if (path == "/api/brokers/schwab/oauth/start") {
    if (method != "POST")
      return respond(method_not_allowed("POST"));
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
      return respond(method_not_allowed("POST"));
    auto parsed = parse_connect_request((*params)["broker"], req.body, st.cfg.allow_custom_hosts);
    if (!parsed)
      return respond(error_response(parsed.error()));
    if (auto refused = premium_check(user, parsed->broker))
      return respond(std::move(*refused));
    // A Schwab connection needs the user's sign-in at Schwab, which no body can carry.
    if (parsed->broker == engine::broker_id::schwab)
      return respond(error_response(
          400, "sign_in_required",
          "Schwab connections are added by signing in at Schwab: POST "
          "/api/brokers/schwab/oauth/start with this body, then open the authorizeUrl"));
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
      auto broker_name = st.conns[o.connection].record.broker;
      auto answer = with_deadline(self, respond);
      self->request(st.cfg.router, caf::infinite, place_atom_v, std::move(o))
          .then(
              [self, answer, broker_name](place_result& r) {
                if (r.created)
                  ++self->state.orders_by_broker[broker_name];
                answer(json(r.created ? 201 : 200, order_json(r.order)));
              },
              [answer](caf::error& err) { answer(from_error(err)); });
      return;
    }
    if (method == "GET") {
      std::string conn_id{query_value(req.query, "connectionId").value_or("")};
      // Someone else's connection is unknown here, like on every other route; a removed
      // connection of the user's own still lists its orders.
      auto known = st.conns.find(conn_id);
      bool owned = known != st.conns.end() && known->second.record.user == user.id;
      if (!conn_id.empty() && known != st.conns.end() && !owned)
        return respond(error_response(404, "unknown_connection", "no connection " + conn_id));
      auto answer = with_deadline(self, respond);
      self->request(st.cfg.router, caf::infinite, list_atom_v, user.id, conn_id)
          .then(
              [answer, conn_id, owned](order_list& orders) {
                if (!conn_id.empty() && !owned && orders.empty())
                  return answer(
                      error_response(404, "unknown_connection", "no connection " + conn_id));
                answer(json(200, orders_json(orders)));
              },
              [answer](caf::error& err) { answer(from_error(err)); });
      return;
    }
    return respond(method_not_allowed("GET or POST"));
  }
  if (auto params = route_match("/api/brokers/:id", path)) {
    if (method != "DELETE")
      return respond(method_not_allowed("DELETE"));
    return remove_connection(self, user, (*params)["id"], respond);
  }
  if (auto params = route_match("/api/orders/:id", path)) {
    auto id = (*params)["id"];
    if (method == "GET") {
      auto answer = with_deadline(self, respond);
      self->request(st.cfg.router, caf::infinite, get_atom_v, user.id, id)
          .then([answer](engine::order& o) { answer(json(200, order_json(o))); },
                [answer](caf::error& err) { answer(from_error(err)); });
      return;
    }
    if (method == "DELETE") {
      auto answer = with_deadline(self, respond);
      self->request(st.cfg.router, caf::infinite, cancel_atom_v, user.id, id)
          .then([answer](engine::order& o) { answer(json(202, order_json(o))); },
                [answer](caf::error& err) { answer(from_error(err)); });
      return;
    }
    return respond(method_not_allowed("GET or DELETE"));
  }
  if (path == "/api/events") {
    if (method != "GET")
      return respond(method_not_allowed("GET"));
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
      return respond(method_not_allowed("GET"));
    auto it = st.conns.find((*params)["id"]);
    if (it == st.conns.end() || it->second.record.user != user.id)
      return respond(error_response(404, "unknown_connection", "no connection " + (*params)["id"]));
    if (auto broker = engine::parse_broker_id(it->second.record.broker))
      if (auto refused = premium_check(user, *broker))
        return respond(std::move(*refused));
    if (!it->second.supervisor)
      return respond(
          error_response(503, "session_unavailable", "connection " + it->first + " is stopped"));
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
    // Connections stored inactive (their owner moved to free) are not started by the daemon;
    // the front lists them as stopped and starts them when the owner is premium again.
    if (auto stored =
            self->state.cfg.vault
                ? self->state.cfg.reader->scan_prefix(persistence::registry_keys::connection)
                : std::expected<std::vector<persistence::registry_entry>, persistence::error>{};
        stored)
      for (const auto& e : *stored)
        if (auto rec = persistence::decode_connection(e.value, *self->state.cfg.vault);
            rec && !rec->active) {
          auto& view = self->state.conns[rec->id];
          view.record = std::move(*rec);
          view.state = "stopped";
        }
    sweep_expired_tokens(self);
    self->state.hasher = self->spawn<caf::detached>(
        [](caf::event_based_actor*, scrypt_params params) -> caf::behavior {
          return {
              [params](password_hash_request& r) {
                auto h = hash_password(r.password.reveal(), params);
                return h ? *h : std::string{};
              },
              [](password_check& check) {
                if (check.stored.empty()) {
                  verify_password(check.password.reveal(), decoy_password_hash());
                  return false;
                }
                return verify_password(check.password.reveal(), check.stored);
              },
          };
        },
        self->state.cfg.password_params);
    self->state.void_sink = self->spawn<caf::linked>([](caf::event_based_actor*) -> caf::behavior {
      return {
          [](state_atom, connection_state, std::string&) {},
          [](update_atom, std::string&, order_update&) {},
      };
    });
    // Live connection states come from the log, like every other subscriber's view; the
    // order traffic is not sent here.
    self->request(self->state.cfg.log, caf::infinite, subscribe_atom_v, caf::actor{self},
                  self->state.cfg.follow_from,
                  std::string{persistence::event_types::connection_prefix})
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
              return respond(method_not_allowed("GET"));
            return respond(json(200, R"({"status":"ok"})"));
          }
          if (!req.path.starts_with("/api/"))
            return respond(error_response(404, "not_found", "no route " + req.path));
          // The browser comes back from Schwab's login page without brokerd's token: the
          // sign-in's state is the credential.
          if (req.path == "/api/brokers/schwab/oauth/callback") {
            if (req.method != "GET")
              return respond(method_not_allowed("GET"));
            return schwab_oauth_callback(self, req, respond);
          }
          if (req.path == "/api/auth/login") {
            if (req.method != "POST")
              return respond(method_not_allowed("POST"));
            if (auto limited = rate_check(self, "login:" + req.remote_address))
              return respond(std::move(*limited));
            return login(self, req, respond);
          }
          auto credential = presented(req.authorization, req.header("Cookie"));
          if (!credential)
            return respond(error_response(401, "unauthorized",
                                          "send 'Authorization: Bearer <token>'"));
          const bool by_cookie = credential->by_cookie;
          const auto& token = credential->token;
          auto now = now_ns();
          auto found = st.tokens.resolve(*st.cfg.reader, token, now);
          if (!found) {
            forget_if_expired(self, token, now);
            return respond(error_response(401, "unauthorized", "unknown or revoked token"));
          }
          // Cross-site request forgery: a page elsewhere can make the browser send the cookie
          // with a form POST, but cannot add a custom header without a CORS preflight, which
          // brokerd never grants.
          if (by_cookie && req.method != "GET" && req.method != "HEAD" &&
              req.header("X-Requested-With").value_or("").empty())
            return respond(error_response(403, "csrf_check_failed",
                                          "a cookie-authenticated " + req.method +
                                              " needs the header X-Requested-With"));
          const auto& user = found->user;
          if (!user.admin || st.cfg.rate_limit_admins)
            if (auto limited = rate_check(self, user.id))
              return respond(std::move(*limited));
          if (req.path == "/api/auth/logout" || req.path == "/api/auth/tokens/current") {
            auto allowed = req.path == "/api/auth/logout" ? "POST" : "DELETE";
            if (req.method != allowed)
              return respond(
                  method_not_allowed(allowed));
            return logout(self, token, respond);
          }
          handle_api(self, user, req, respond);
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
        [self](timeout_atom) { sweep_deadlines(self); },
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
