#include "api/front.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/executor_work_guard.hpp>
#pragma GCC diagnostic pop

#include "actors/connections.hpp"
#include "actors/event_log_actor.hpp"
#include "actors/logging.hpp"
#include "actors/order_router.hpp"
#include "api/auth.hpp"
#include "persistence/records.hpp"
#include "tests/support/files.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"

using namespace std::chrono_literals;
using namespace brokerd;
using brokerd::test::http_client;
using brokerd::test::json_has;
using brokerd::test::json_member;
using brokerd::test::json_string;
using brokerd::test::json_uint;
using brokerd::test::parse_json;
using brokerd::test::temp_dir;
using brokerd::test::wait_until;
namespace asio = boost::asio;

namespace {

constexpr std::chrono::milliseconds bound{5'000};
const std::string bob_id = "usr_bob";
const std::string bob_token = "bob-token-0123456789abcdef";
/// 2024-03-01T14:30:00.123Z
constexpr std::int64_t connected_ns = 1'709'303'400'123'456'789;

/// Replaces the router (and a connection's supervisor): keeps every request unanswered.
struct hole_state {
  std::vector<caf::response_promise> held;
};

caf::behavior black_hole(caf::stateful_actor<hole_state>* self) {
  auto hold = [self] { self->state.held.push_back(self->make_response_promise()); };
  return {
      [hold](actors::place_atom, const engine::order&) { hold(); },
      [hold](actors::list_atom, const std::string&, const std::string&) { hold(); },
      [hold](actors::get_atom, const std::string&, const std::string&) { hold(); },
      [hold](actors::cancel_atom, const std::string&, const std::string&) { hold(); },
      [hold](actors::balance_atom) { hold(); },
      [hold](actors::positions_atom) { hold(); },
  };
}

/// Replaces the router: answers (get_atom, user, id) with the brokerd error named by `id`
/// (e.g. "queue_full"), or with an error of another category for any other id.
caf::behavior scripted_router(caf::event_based_actor*) {
  return {
      [](actors::get_atom, const std::string&,
         const std::string& id) -> caf::result<engine::order> {
        for (std::uint8_t i = 1; i <= 12; ++i) {
          auto code = static_cast<actors::errc>(i);
          if (actors::to_string(code) == id)
            return actors::make_error(code, "scripted " + id);
        }
        return caf::make_error(caf::sec::runtime_error);
      },
  };
}

struct gateway_options {
  /// Replaces the order router and every connection's supervisor; no session is started.
  std::function<caf::actor(caf::actor_system&)> stand_in;
  /// How long the front waits for an answer.
  std::chrono::milliseconds timeout{5'000};
  /// Changes the front's configuration before it is spawned.
  std::function<void(api::front_config&)> configure;
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
    s.pop_back();
  return s;
}

persistence::connection_record paper_connection(std::string id, std::string user) {
  persistence::connection_record rec;
  rec.id = std::move(id);
  rec.user = std::move(user);
  rec.broker = "paper";
  rec.created_ns = connected_ns;
  rec.settings = {{"tick_ms", "5"}, {"cash", "100000"}, {"prices", "AAPL=100;MSFT=50"}};
  return rec;
}

/// brokerd in one process, wired as the daemon wires it: the event log with an admin (from
/// `bootstrap_admin`) and a second user, bob, each with one paper connection (conn-admin and
/// conn-bob), the order router, the supervised paper sessions and the HTTP front on a
/// loopback port.
class gateway {
public:
  explicit gateway(gateway_options opts = {}) : opts_(std::move(opts)) {
    actors::log::set_level(actors::log::level::warn);
    auto opened = persistence::event_log::open(dir_ / "events", persistence::open_mode::read_write);
    REQUIRE(opened.has_value());
    log_ = std::make_shared<persistence::event_log>(std::move(*opened));
    auto admin = api::bootstrap_admin(*log_, dir_.path());
    REQUIRE(admin.has_value());
    admin_id = admin->user_id;
    admin_token = trimmed(test::read_file(admin->token_file));

    persistence::user_record bob;
    bob.id = bob_id;
    bob.email = "bob@example.com";
    connections_ = {paper_connection("conn-admin", admin_id), paper_connection("conn-bob", bob_id)};
    std::vector<persistence::registry_write> writes{
        {std::string{persistence::registry_keys::user} + bob.id, persistence::encode_user(bob)},
        {std::string{persistence::registry_keys::token} + api::sha256_hex(bob_token), bob.id},
    };
    for (const auto& c : connections_)
      writes.push_back({std::string{persistence::registry_keys::connection} + c.id,
                        *persistence::encode_connection(c, *vault_)});
    REQUIRE(log_->append({}, true, writes).has_value());
    auto bk = actors::paper::book::open((dir_ / "paper-book").string());
    REQUIRE(bk.has_value());
    book_ = *bk;

    cfg_.add_message_types<caf::id_block::brokerd>();
    cfg_.set("scheduler.max-threads", std::size_t{2});
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    try {
      wire();
    } catch (...) {
      shutdown();
      throw;
    }
    client_ = std::make_unique<http_client>(server_->port());
  }

  ~gateway() { shutdown(); }

  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

private:
  /// Spawns the actors and starts the HTTP server, as brokerd's main does.
  void wire() {
    log_actor_ = actors::spawn_event_log(*sys_, log_);
    router_ = opts_.stand_in ? opts_.stand_in(*sys_)
                             : actors::spawn_router(*sys_, log_actor_, {}, actors::router_config{});
    actors::broker_resources resources;
    resources.paper_book = book_;
    api::front_config fcfg;
    fcfg.reader = log_;
    fcfg.log = log_actor_;
    fcfg.router = router_;
    fcfg.follow_from = log_->last_seq() + 1;
    fcfg.timeout = opts_.timeout;
    fcfg.resources = resources;
    fcfg.vault = vault_;
    if (opts_.configure)
      opts_.configure(fcfg);
    front = api::spawn_front(*sys_, std::move(fcfg));
    for (const auto& rec : connections_) {
      if (opts_.stand_in) {
        caf::anon_send(front, actors::attach_atom_v, rec, router_);
        continue;
      }
      auto spec = actors::to_spec(rec);
      REQUIRE(spec.has_value());
      auto factory = actors::factory_for(spec->broker, resources);
      REQUIRE(factory.has_value());
      auto sup = actors::spawn_supervisor(*sys_, *spec, std::move(*factory), log_actor_, router_);
      caf::anon_send(router_, actors::attach_atom_v, rec.id, rec.user, spec->broker, sup);
      caf::anon_send(front, actors::attach_atom_v, rec, sup);
      supervisors_.push_back(sup);
    }
    auto server = api::http_server::start(ioc_, "127.0.0.1", 0, api::make_request_handler(front));
    if (!server)
      FAIL("http_server::start: " << server.error());
    server_ = std::move(*server);
    io_thread_ = std::thread{[this] { ioc_.run(); }};
  }

public:
  /// Sends one request, with "Authorization: Bearer <token>" when `token` is not empty.
  http_client::response send(std::string_view method, std::string_view target,
                             const std::string& token = {}, std::string_view body = {}) {
    http_client::header_list headers;
    if (!token.empty())
      headers.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty())
      headers.emplace_back("Content-Type", "application/json");
    return client_->request(method, target, body, headers);
  }

  http_client::response send_raw_auth(std::string_view target, std::string authorization) {
    return client_->request("GET", target, {}, {{"Authorization", std::move(authorization)}});
  }

  /// The state the configured listing shows for `conn` to its owner, or "" when not listed.
  std::string listed_state(const std::string& token, const std::string& conn) {
    auto r = send("GET", "/api/brokers/user/configured", token);
    if (r.status != 200)
      return {};
    auto doc = parse_json(r.body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      if (json_string(c, "id") == conn)
        return json_string(c, "state");
    return {};
  }

  /// Waits until both paper connections are ready as their owners see them.
  void wait_ready() {
    for (const auto& [token, conn] :
         {std::pair{admin_token, "conn-admin"}, std::pair{bob_token, "conn-bob"}}) {
      std::string last;
      bool ready = wait_until(
          [&] {
            last = listed_state(token, conn);
            return last == "ready";
          },
          bound);
      INFO(conn << " is listed as '" << last << "'");
      REQUIRE(ready);
    }
  }

  /// Spawns an actor that the fixture ends at teardown.
  template <class F> caf::actor spawn_extra(F fun) {
    auto a = sys_->spawn(fun);
    extras_.push_back(a);
    return a;
  }

  std::shared_ptr<persistence::event_log>& log() { return log_; }
  const actors::event_log_actor& log_actor() const { return log_actor_; }
  caf::actor_system& system() { return *sys_; }

  std::string admin_id;
  std::string admin_token;
  caf::actor front;

private:
  /// The daemon's order: stop intake, stop sessions, drain the log, close sockets, end actors.
  void shutdown() {
    if (!sys_)
      return;
    if (server_)
      server_->stop();
    for (const auto& sup : supervisors_)
      caf::anon_send(sup, actors::stop_atom_v);
    {
      caf::scoped_actor self{*sys_};
      if (!opts_.stand_in)
        self->request(router_, std::chrono::seconds{5}, actors::list_atom_v, std::string{},
                      std::string{})
            .receive([](actors::order_list&) {}, [](caf::error&) {});
      self->request(log_actor_, std::chrono::seconds{10}, actors::drain_atom_v)
          .receive([](std::uint64_t) {}, [](caf::error&) {});
    }
    client_.reset();
    work_.reset();
    ioc_.stop();
    if (io_thread_.joinable())
      io_thread_.join();
    server_.reset();
    caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(log_actor_, caf::exit_reason::user_shutdown);
    for (const auto& a : extras_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    extras_.clear();
    supervisors_.clear();
    front = nullptr;
    router_ = nullptr;
    log_actor_ = nullptr;
    // Waits for every actor, so that no responder outlives the io_context.
    sys_.reset();
  }

  gateway_options opts_;
  temp_dir dir_{"brokerd-front"};
  std::shared_ptr<persistence::event_log> log_;
  std::shared_ptr<const persistence::vault> vault_ = std::make_shared<const persistence::vault>(
      *persistence::vault::with_keys({persistence::master_key::generate()}));
  std::shared_ptr<actors::paper::book> book_;
  std::vector<persistence::connection_record> connections_;
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      asio::make_work_guard(ioc_)};
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  actors::event_log_actor log_actor_;
  caf::actor router_;
  std::vector<caf::actor> supervisors_;
  std::vector<caf::actor> extras_;
  std::unique_ptr<api::http_server> server_;
  std::thread io_thread_;
  std::unique_ptr<http_client> client_;
};

/// The "error" member of an error response.
std::string error_of(const http_client::response& r) {
  return json_string(parse_json(r.body), "error");
}

std::string message_of(const http_client::response& r) {
  return json_string(parse_json(r.body), "message");
}

std::string order_body(const std::string& conn, const std::string& extra = {}) {
  return R"({"connectionId":")" + conn +
         R"(","symbol":"AAPL","side":"buy","quantity":"3","type":"market")" + extra + "}";
}

/// The ids of the orders a listing returned.
std::vector<std::string> ids_of(const http_client::response& r) {
  std::vector<std::string> out;
  auto doc = parse_json(r.body);
  for (const auto& o : json_member(doc, "orders").GetArray())
    out.push_back(json_string(o, "id"));
  return out;
}

/// The status an order has for `token`'s user, or "" when it cannot be read.
std::string status_of(gateway& g, const std::string& token, const std::string& id) {
  auto r = g.send("GET", "/api/orders/" + id, token);
  return r.status == 200 ? json_string(parse_json(r.body), "status") : std::string{};
}

/// The connections the configured listing returns, by id.
std::vector<std::string> listed_ids(gateway& g, const std::string& token) {
  auto r = g.send("GET", "/api/brokers/user/configured", token);
  REQUIRE(r.status == 200);
  std::vector<std::string> out;
  auto doc = parse_json(r.body);
  for (const auto& c : json_member(doc, "connections").GetArray())
    out.push_back(json_string(c, "id"));
  return out;
}

} // namespace

TEST_CASE_METHOD(gateway, "healthz answers GET and HEAD without a token and refuses other methods",
                 "[front]") {
  auto get = send("GET", "/healthz");
  CHECK(get.status == 200);
  CHECK(json_string(parse_json(get.body), "status") == "ok");
  auto head = send("HEAD", "/healthz");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  auto post = send("POST", "/healthz");
  CHECK(post.status == 405);
  CHECK(error_of(post) == "method_not_allowed");
}

TEST_CASE_METHOD(gateway,
                 "paths outside /api are 404 without a token, unknown /api routes are 404 only "
                 "once authenticated",
                 "[front]") {
  auto outside = send("GET", "/index.html");
  CHECK(outside.status == 404);
  CHECK(error_of(outside) == "not_found");
  CHECK(message_of(outside) == "no route /index.html");

  // Without a token an /api path does not reveal whether the route exists.
  CHECK(send("GET", "/api/nope").status == 401);

  for (const auto* target : {"/api/nope", "/api/orders/a/b", "/api/connections/conn-admin/other",
                             "/api/connections/conn-admin"}) {
    INFO(target);
    auto r = send("GET", target, admin_token);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "not_found");
    CHECK(message_of(r) == std::string{"no route GET "} + target);
  }
}

TEST_CASE_METHOD(gateway, "an /api request without a valid bearer token is 401 and does nothing",
                 "[front]") {
  auto missing = send("GET", "/api/orders");
  CHECK(missing.status == 401);
  CHECK(error_of(missing) == "unauthorized");
  CHECK(message_of(missing) == "send 'Authorization: Bearer <token>'");

  for (const auto& header : {std::string{"Basic "} + bob_token, std::string{"Bearer short"},
                             std::string{"Bearer"}, "Bearer " + bob_token + " extra"}) {
    INFO(header);
    auto r = send_raw_auth("/api/orders", header);
    CHECK(r.status == 401);
    CHECK(message_of(r) == "send 'Authorization: Bearer <token>'");
  }

  auto unknown = send("POST", "/api/orders", "not-a-token-of-anyone-here", order_body("conn-bob"));
  CHECK(unknown.status == 401);
  CHECK(message_of(unknown) == "unknown or revoked token");

  // Revoking bob's token (through the log, as every registry write) locks bob out at once.
  REQUIRE(send("GET", "/api/orders", bob_token).status == 200);
  {
    caf::scoped_actor self{system()};
    actors::registry_writes revoke{
        {std::string{persistence::registry_keys::token} + api::sha256_hex(bob_token),
         std::nullopt}};
    bool done = false;
    self->request(log_actor(), std::chrono::seconds{5}, actors::append_atom_v,
                  persistence::event_batch{}, true, revoke)
        .receive([&](std::uint64_t) { done = true; }, [](caf::error&) {});
    REQUIRE(done);
  }
  auto revoked = send("POST", "/api/orders", bob_token, order_body("conn-bob"));
  CHECK(revoked.status == 401);
  CHECK(message_of(revoked) == "unknown or revoked token");
  // Nothing was placed on bob's connection: no order event names it (the admin reads every
  // user's events).
  auto events = send("GET", "/api/events?since=1&limit=1000", admin_token);
  REQUIRE(events.status == 200);
  auto doc = parse_json(events.body);
  for (const auto& ev : json_member(doc, "events").GetArray()) {
    std::string type = json_string(ev, "type");
    if (type.starts_with("order."))
      CHECK(json_string(ev, "connection") != "conn-bob");
  }
}

TEST_CASE_METHOD(gateway,
                 "the configured listing shows each user only their own connections with status "
                 "and state",
                 "[front]") {
  wait_ready();
  CHECK(listed_ids(*this, admin_token) == std::vector<std::string>{"conn-admin"});
  CHECK(listed_ids(*this, bob_token) == std::vector<std::string>{"conn-bob"});

  auto r = send("GET", "/api/brokers/user/configured", bob_token);
  REQUIRE(r.status == 200);
  auto doc = parse_json(r.body);
  const auto& c = json_member(doc, "connections")[0u];
  CHECK(json_string(c, "broker") == "paper");
  CHECK(json_member(c, "isPaperTrading").GetBool());
  CHECK(json_member(c, "isActive").GetBool());
  CHECK(json_string(c, "status") == "connected");
  CHECK(json_string(c, "state") == "ready");
  CHECK(json_string(c, "connectedAt") == "2024-03-01T14:30:00.123Z");
  CHECK(json_has(c, "lastSyncAt"));

  auto wrong = send("DELETE", "/api/brokers/user/configured", bob_token);
  CHECK(wrong.status == 405);
  CHECK(error_of(wrong) == "method_not_allowed");
}

TEST_CASE_METHOD(gateway,
                 "the configured listing maps each session state to the status clients show",
                 "[front]") {
  auto sup = spawn_extra(black_hole);
  auto rec = paper_connection("conn-fake", admin_id);
  caf::anon_send(front, actors::attach_atom_v, rec, sup);
  auto status_and_state = [&] {
    auto r = send("GET", "/api/brokers/user/configured", admin_token);
    REQUIRE(r.status == 200);
    auto doc = parse_json(r.body);
    for (const auto& c : json_member(doc, "connections").GetArray())
      if (json_string(c, "id") == "conn-fake")
        return std::make_pair(json_string(c, "status"), json_string(c, "state"));
    FAIL("conn-fake is not listed");
    return std::make_pair(std::string{}, std::string{});
  };
  // Nothing reported yet.
  CHECK(status_and_state() == std::make_pair(std::string{"connecting"}, std::string{"connecting"}));

  auto state_event = [](std::string conn, std::string state) {
    persistence::event ev;
    ev.type = std::string{persistence::event_types::connection_state};
    ev.connection = std::move(conn);
    ev.state = std::move(state);
    ev.ts_ns = connected_ns;
    return ev;
  };
  // Events reach the front before the next request does (one mailbox, sent first).
  for (auto [state, status] :
       std::vector<std::pair<std::string, std::string>>{{"ready", "connected"},
                                                        {"resyncing", "connecting"},
                                                        {"auth_required", "auth_required"},
                                                        {"backoff", "error"},
                                                        {"stopped", "disconnected"}}) {
    INFO(state);
    caf::anon_send(front, actors::event_atom_v, state_event("conn-fake", state));
    CHECK(status_and_state() == std::make_pair(status, state));
  }
  // Other event types and unknown connections change nothing.
  auto other = state_event("conn-fake", "ready");
  other.type = std::string{persistence::event_types::order_submitted};
  caf::anon_send(front, actors::event_atom_v, other);
  caf::anon_send(front, actors::event_atom_v, state_event("conn-ghost", "ready"));
  CHECK(status_and_state().second == "stopped");
  CHECK(listed_ids(*this, admin_token) == std::vector<std::string>{"conn-admin", "conn-fake"});
}

TEST_CASE_METHOD(gateway,
                 "a state a session reports before its connection is attached to the front is "
                 "not lost",
                 "[front]") {
  // brokerd starts a connection's supervisor before it tells the front about it: the
  // session's first states can reach the front first.
  persistence::event ev;
  ev.type = std::string{persistence::event_types::connection_state};
  ev.connection = "conn-late";
  ev.user = admin_id;
  ev.state = "ready";
  ev.ts_ns = connected_ns;
  caf::anon_send(front, actors::event_atom_v, ev);
  // Not attached yet: nobody sees it.
  CHECK(listed_ids(*this, admin_token) == std::vector<std::string>{"conn-admin"});
  CHECK(listed_ids(*this, bob_token) == std::vector<std::string>{"conn-bob"});
  CHECK(send("GET", "/api/connections/conn-late/balance", admin_token).status == 404);
  CHECK(send("POST", "/api/orders", admin_token, order_body("conn-late")).status == 404);

  auto sup = spawn_extra(black_hole);
  caf::anon_send(front, actors::attach_atom_v, paper_connection("conn-late", admin_id), sup);
  CHECK(listed_state(admin_token, "conn-late") == "ready");
}

TEST_CASE_METHOD(gateway,
                 "an order posted on the caller's connection is created once, filled and listed "
                 "for its owner only",
                 "[front]") {
  auto body = order_body("conn-admin", R"(,"clientOrderId":"cli-1")");
  auto created = send("POST", "/api/orders", admin_token, body);
  REQUIRE(created.status == 201);
  auto doc = parse_json(created.body);
  auto id = json_string(doc, "id");
  CHECK(json_string(doc, "clientOrderId") == "cli-1");
  CHECK(json_string(doc, "connectionId") == "conn-admin");
  CHECK(json_string(doc, "status") == "pending_new");
  CHECK(json_string(doc, "quantity") == "3");
  CHECK_FALSE(json_has(doc, "user"));

  // The same client order id again returns the existing order with 200, not a second one.
  auto again = send("POST", "/api/orders", admin_token, body);
  CHECK(again.status == 200);
  CHECK(json_string(parse_json(again.body), "id") == id);

  REQUIRE(wait_until([&] { return status_of(*this, admin_token, id) == "filled"; }, bound));
  auto got = send("GET", "/api/orders/" + id, admin_token);
  auto o = parse_json(got.body);
  CHECK(json_string(o, "filledQuantity") == "3");
  CHECK(json_string(o, "avgFillPrice") == "100");

  auto bob_order = send("POST", "/api/orders", bob_token, order_body("conn-bob"));
  REQUIRE(bob_order.status == 201);
  auto bob_id_of_order = json_string(parse_json(bob_order.body), "id");

  CHECK(ids_of(send("GET", "/api/orders", admin_token)) == std::vector<std::string>{id});
  CHECK(ids_of(send("GET", "/api/orders?connectionId=conn-admin", admin_token)) ==
        std::vector<std::string>{id});
  // Someone else's connection does not exist for the caller.
  CHECK(send("GET", "/api/orders?connectionId=conn-bob", admin_token).status == 404);
  CHECK(ids_of(send("GET", "/api/orders", bob_token)) == std::vector<std::string>{bob_id_of_order});

  // Another user's order does not exist for the caller.
  auto foreign = send("GET", "/api/orders/" + bob_id_of_order, admin_token);
  CHECK(foreign.status == 404);
  CHECK(error_of(foreign) == "unknown_order");
  auto unknown = send("GET", "/api/orders/ord_nope", admin_token);
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown) == "unknown_order");
}

TEST_CASE_METHOD(gateway, "a refused order body is 400 with its kind and nothing is placed",
                 "[front]") {
  struct bad_body {
    std::string body;
    std::string error;
  };
  for (const auto& c : std::vector<bad_body>{
           {"not json", "malformed_json"},
           {"[]", "invalid_body"},
           {R"({"connectionId":"conn-admin","connectionId":"conn-admin"})", "duplicate_field"},
           {order_body("conn-admin", R"(,"colour":"red")"), "unknown_field"},
           {R"({"connectionId":"conn-admin","symbol":"AAPL","side":"buy","type":"market"})",
            "missing_field"},
           {R"({"connectionId":"conn-admin","symbol":"AAPL","side":"hold","quantity":"1",)"
            R"("type":"market"})",
            "invalid_field"},
           {R"({"connectionId":"conn-admin","symbol":"aapl","side":"buy","quantity":"1",)"
            R"("type":"market"})",
            "invalid_symbol"},
           {order_body("conn-admin", R"(,"clientOrderId":"no spaces")"), "invalid_client_order_id"},
           {R"({"connectionId":"conn-admin","symbol":"AAPL","side":"buy","quantity":"1",)"
            R"("type":"limit"})",
            "invalid_order"},
       }) {
    INFO(c.body);
    auto r = send("POST", "/api/orders", admin_token, c.body);
    CHECK(r.status == 400);
    CHECK(error_of(r) == c.error);
  }
  CHECK(ids_of(send("GET", "/api/orders", admin_token)).empty());
}

TEST_CASE_METHOD(gateway,
                 "an order on an unknown connection or on another user's connection is 404 and "
                 "never reaches that connection",
                 "[front]") {
  auto unknown = send("POST", "/api/orders", admin_token, order_body("conn-none"));
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown) == "unknown_connection");
  CHECK(message_of(unknown) == "no connection conn-none");

  auto foreign = send("POST", "/api/orders", admin_token, order_body("conn-bob"));
  CHECK(foreign.status == 404);
  CHECK(error_of(foreign) == "unknown_connection");
  CHECK(ids_of(send("GET", "/api/orders", bob_token)).empty());
  CHECK(ids_of(send("GET", "/api/orders", admin_token)).empty());
}

TEST_CASE_METHOD(gateway, "a user removes their own connection; the log keeps its history",
                 "[front]") {
  auto foreign = send("DELETE", "/api/brokers/conn-bob", admin_token);
  CHECK(foreign.status == 404);
  CHECK(error_of(foreign) == "unknown_connection");
  CHECK(send("GET", "/api/brokers/conn-bob", bob_token).status == 405);
  auto removed = send("DELETE", "/api/brokers/conn-bob", bob_token);
  REQUIRE(removed.status == 200);
  CHECK(removed.body.find("conn-bob") != std::string::npos);
  CHECK(send("GET", "/api/connections/conn-bob/balance", bob_token).status == 404);
  CHECK(send("POST", "/api/orders", bob_token, order_body("conn-bob")).status == 404);
  CHECK(send("GET", "/api/brokers/user/configured", bob_token).body.find("conn-bob") ==
        std::string::npos);
  CHECK(send("DELETE", "/api/brokers/conn-bob", bob_token).status == 404);
  auto stored = log()->get(std::string{persistence::registry_keys::connection} + "conn-bob");
  REQUIRE(stored.has_value());
  CHECK_FALSE(stored->has_value());
  // The admin's connection is untouched.
  CHECK(send("GET", "/api/connections/conn-admin/balance", admin_token).status == 200);
}

TEST_CASE_METHOD(gateway, "IBKR and Schwab need the premium tier: a free user gets 403 premium_required",
                 "[front]") {
  const std::string ibkr_body =
      R"({"credentials":{"host":"127.0.0.1","port":1,"clientId":1}})";
  for (const char* route : {"/api/brokers/ibkr/test", "/api/brokers/ibkr/connect"}) {
    INFO(route);
    auto refused = send("POST", route, bob_token, ibkr_body);
    CHECK(refused.status == 403);
    CHECK(error_of(refused) == "premium_required");
    CHECK(message_of(refused).find("premium") != std::string::npos);
  }
  // The admin is premium: the request passes the tier check (this gateway has no IBKR sockets,
  // so it ends as broker_unavailable).
  auto allowed = send("POST", "/api/brokers/ibkr/test", admin_token, ibkr_body);
  CHECK(allowed.status == 501);
  CHECK(error_of(allowed) == "broker_unavailable");
  // A free broker is open to everyone; a bad body is still 400 before any tier check.
  CHECK(send("POST", "/api/brokers/paper/test", bob_token, "{}").status == 200);
  CHECK(send("POST", "/api/brokers/ibkr/test", bob_token, "[]").status == 400);
}

TEST_CASE_METHOD(gateway, "a working order is canceled by its owner only; a finished one is 409",
                 "[front]") {
  wait_ready();
  auto placed = send("POST", "/api/orders", admin_token,
                     R"({"connectionId":"conn-admin","symbol":"AAPL","side":"buy",)"
                     R"("quantity":"1","type":"limit","limitPrice":"50"})");
  REQUIRE(placed.status == 201);
  auto id = json_string(parse_json(placed.body), "id");
  REQUIRE(wait_until([&] { return status_of(*this, admin_token, id) == "new"; }, bound));

  // Bob cannot see or cancel it, and his attempt leaves it working.
  auto foreign = send("DELETE", "/api/orders/" + id, bob_token);
  CHECK(foreign.status == 404);
  CHECK(error_of(foreign) == "unknown_order");
  CHECK(status_of(*this, admin_token, id) == "new");

  auto canceled = send("DELETE", "/api/orders/" + id, admin_token);
  REQUIRE(canceled.status == 202);
  auto st = json_string(parse_json(canceled.body), "status");
  CHECK((st == "pending_cancel" || st == "canceled"));
  REQUIRE(wait_until([&] { return status_of(*this, admin_token, id) == "canceled"; }, bound));

  auto twice = send("DELETE", "/api/orders/" + id, admin_token);
  CHECK(twice.status == 409);
  CHECK(error_of(twice) == "order_not_cancelable");

  auto unknown = send("DELETE", "/api/orders/ord_nope", admin_token);
  CHECK(unknown.status == 404);
  CHECK(error_of(unknown) == "unknown_order");
}

TEST_CASE_METHOD(gateway, "each route refuses the methods it does not serve with 405", "[front]") {
  struct refused {
    std::string method;
    std::string target;
    std::string allow;
  };
  for (const auto& [method, target, allow] : std::vector<refused>{
           {"POST", "/api/brokers/user/configured", "GET"},
           {"PUT", "/api/orders", "GET, POST"},
           {"DELETE", "/api/orders", "GET, POST"},
           {"PATCH", "/api/orders/ord_1", "GET, DELETE"},
           {"POST", "/api/orders/ord_1", "GET, DELETE"},
           {"POST", "/api/events", "GET"},
           {"POST", "/api/connections/conn-admin/balance", "GET"},
           {"DELETE", "/api/connections/conn-admin/positions", "GET"},
       }) {
    INFO(method << " " << target);
    auto r = send(method, target, admin_token);
    CHECK(r.status == 405);
    CHECK(error_of(r) == "method_not_allowed");
    CHECK(r.header("Allow") == allow);
  }
  // None of them did anything.
  CHECK(ids_of(send("GET", "/api/orders", admin_token)).empty());
}

TEST_CASE_METHOD(gateway,
                 "events are paged by since and limit; a user sees only their own events, the "
                 "admin all, and nextSeq always moves on",
                 "[front]") {
  wait_ready();
  auto all = send("GET", "/api/events?since=1&limit=1000", admin_token);
  REQUIRE(all.status == 200);
  auto doc = parse_json(all.body);
  std::vector<std::uint64_t> seqs;
  std::vector<std::uint64_t> bob_seqs;
  std::optional<std::uint64_t> first_not_bob;
  bool saw_admin = false;
  for (const auto& ev : json_member(doc, "events").GetArray()) {
    auto seq = json_uint(ev, "seq");
    seqs.push_back(seq);
    auto user = json_string(ev, "user");
    if (user == bob_id)
      bob_seqs.push_back(seq);
    else if (!first_not_bob)
      first_not_bob = seq;
    saw_admin = saw_admin || user == admin_id;
  }
  REQUIRE(seqs.size() >= 6); // connecting, connected, ready for each connection
  CHECK(saw_admin);
  CHECK(bob_seqs.size() >= 3);
  CHECK(seqs.front() == 1);
  CHECK(json_uint(doc, "nextSeq") == seqs.back() + 1);

  auto mine = send("GET", "/api/events?since=1&limit=1000", bob_token);
  REQUIRE(mine.status == 200);
  auto bob_doc = parse_json(mine.body);
  std::vector<std::uint64_t> seen;
  for (const auto& ev : json_member(bob_doc, "events").GetArray()) {
    CHECK(json_string(ev, "user") == bob_id);
    if (json_uint(ev, "seq") <= seqs.back())
      seen.push_back(json_uint(ev, "seq"));
  }
  CHECK(seen == bob_seqs);

  // A page holding none of bob's events is empty for bob, but nextSeq still moves past it.
  REQUIRE(first_not_bob);
  auto skip =
      send("GET", "/api/events?since=" + std::to_string(*first_not_bob) + "&limit=1", bob_token);
  REQUIRE(skip.status == 200);
  auto skip_doc = parse_json(skip.body);
  CHECK(json_member(skip_doc, "events").GetArray().Size() == 0);
  CHECK(json_uint(skip_doc, "nextSeq") == *first_not_bob + 1);

  auto page = send("GET", "/api/events?since=2&limit=2", admin_token);
  REQUIRE(page.status == 200);
  auto page_doc = parse_json(page.body);
  const auto& events = json_member(page_doc, "events");
  REQUIRE(events.Size() == 2);
  CHECK(json_uint(events[0u], "seq") == 2);
  CHECK(json_uint(events[1u], "seq") == 3);
  CHECK(json_uint(page_doc, "nextSeq") == 4);

  // Without parameters: from the start, at most 100.
  auto dflt = send("GET", "/api/events", admin_token);
  REQUIRE(dflt.status == 200);
  auto dflt_doc = parse_json(dflt.body);
  CHECK(json_uint(json_member(dflt_doc, "events")[0u], "seq") == 1);

  // Past the end: no events, nextSeq stays where the client asked.
  auto beyond = send("GET", "/api/events?since=100000", admin_token);
  REQUIRE(beyond.status == 200);
  auto beyond_doc = parse_json(beyond.body);
  CHECK(json_member(beyond_doc, "events").GetArray().Size() == 0);
  CHECK(json_uint(beyond_doc, "nextSeq") == 100000);

  for (auto [query, message] : std::vector<std::pair<std::string, std::string>>{
           {"limit=0", "limit must be 1..1000"},
           {"limit=1001", "limit must be at most 1000"},
           {"since=-1", "since must be an unsigned integer"},
           {"since=1&since=2", "since is given more than once"},
           {"limit=x", "limit must be an unsigned integer"},
       }) {
    INFO(query);
    auto r = send("GET", "/api/events?" + query, admin_token);
    CHECK(r.status == 400);
    CHECK(error_of(r) == "invalid_query");
    CHECK(message_of(r) == message);
  }
}

TEST_CASE_METHOD(gateway,
                 "balance and positions come from the caller's own connection; unknown and "
                 "foreign connections are 404",
                 "[front]") {
  wait_ready();
  auto bal = send("GET", "/api/connections/conn-bob/balance", bob_token);
  REQUIRE(bal.status == 200);
  auto b = parse_json(bal.body);
  CHECK(json_string(b, "cash") == "100000");
  CHECK(json_string(b, "currency") == "USD");

  auto placed = send("POST", "/api/orders", admin_token, order_body("conn-admin"));
  REQUIRE(placed.status == 201);
  auto id = json_string(parse_json(placed.body), "id");
  REQUIRE(wait_until([&] { return status_of(*this, admin_token, id) == "filled"; }, bound));

  auto pos = send("GET", "/api/connections/conn-admin/positions", admin_token);
  REQUIRE(pos.status == 200);
  auto p = parse_json(pos.body);
  const auto& list = json_member(p, "positions");
  REQUIRE(list.Size() == 1);
  CHECK(json_string(list[0u], "symbol") == "AAPL");
  CHECK(json_string(list[0u], "quantity") == "3");
  CHECK(json_string(list[0u], "avgCost") == "100");
  CHECK(json_string(list[0u], "marketValue") == "300");

  auto admin_bal = send("GET", "/api/connections/conn-admin/balance", admin_token);
  REQUIRE(admin_bal.status == 200);
  auto ab = parse_json(admin_bal.body);
  CHECK(json_string(ab, "cash") == "99700");
  CHECK(json_string(ab, "equity") == "100000");
  CHECK(json_string(ab, "buyingPower") == "99700");

  // Bob's account is untouched by the admin's trade.
  auto bob_pos = send("GET", "/api/connections/conn-bob/positions", bob_token);
  REQUIRE(bob_pos.status == 200);
  CHECK(json_member(parse_json(bob_pos.body), "positions").Size() == 0);

  for (auto [token, target] : std::vector<std::pair<std::string, std::string>>{
           {admin_token, "/api/connections/conn-bob/balance"},
           {admin_token, "/api/connections/conn-bob/positions"},
           {bob_token, "/api/connections/conn-admin/balance"},
           {bob_token, "/api/connections/conn-none/positions"},
       }) {
    INFO(target);
    auto r = send("GET", target, token);
    CHECK(r.status == 404);
    CHECK(error_of(r) == "unknown_connection");
  }
}

TEST_CASE_METHOD(gateway, "after stop the front refuses every request with 503 shutting_down",
                 "[front]") {
  REQUIRE(send("GET", "/healthz").status == 200);
  caf::anon_send(front, actors::stop_atom_v);
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/healthz"}, {"GET", "/api/orders"}, {"POST", "/api/orders"}}) {
    INFO(method << " " << target);
    auto r = send(method, target, admin_token, method == "POST" ? order_body("conn-admin") : "");
    CHECK(r.status == 503);
    CHECK(error_of(r) == "shutting_down");
  }
  // Nothing was placed.
  auto events = log()->read_range(1, 1000);
  REQUIRE(events.has_value());
  for (const auto& rec : *events)
    if (rec.value)
      CHECK(rec.value->type != persistence::event_types::order_submitted);
}

TEST_CASE("a router or session that does not answer in time gives 504 timeout", "[front]") {
  gateway_options opts;
  opts.stand_in = [](caf::actor_system& sys) { return sys.spawn(black_hole); };
  opts.timeout = 100ms;
  gateway g{opts};
  for (auto [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", "/api/orders"},
           {"GET", "/api/orders"},
           {"GET", "/api/orders/ord_1"},
           {"DELETE", "/api/orders/ord_1"},
           {"GET", "/api/connections/conn-admin/balance"},
           {"GET", "/api/connections/conn-admin/positions"},
       }) {
    INFO(method << " " << target);
    auto r =
        g.send(method, target, g.admin_token, method == "POST" ? order_body("conn-admin") : "");
    CHECK(r.status == 504);
    CHECK(error_of(r) == "timeout");
    CHECK(message_of(r) == "the request timed out; its outcome may be unknown");
  }
  // The event log still answers.
  CHECK(g.send("GET", "/api/events", g.admin_token).status == 200);
}

TEST_CASE("each router error becomes the documented HTTP status and error code", "[front]") {
  gateway_options opts;
  opts.stand_in = [](caf::actor_system& sys) { return sys.spawn(scripted_router); };
  gateway g{opts};
  struct mapping {
    std::string code;
    unsigned status;
  };
  for (const auto& m : std::vector<mapping>{
           {"unknown_connection", 404},
           {"unknown_order", 404},
           {"invalid_order", 400},
           {"order_not_cancelable", 409},
           {"not_found_at_broker", 404},
           {"broker_rejected", 502},
           {"session_unavailable", 503},
           {"log_write_failed", 503},
           {"queue_full", 503},
           {"shutting_down", 503},
           {"auth_required", 409},
           {"client_order_id_conflict", 409},
       }) {
    INFO(m.code);
    auto r = g.send("GET", "/api/orders/" + m.code, g.admin_token);
    CHECK(r.status == m.status);
    CHECK(error_of(r) == m.code);
    CHECK(message_of(r) == "scripted " + m.code);
    CHECK(r.header("Retry-After") ==
          (m.code == "queue_full" ? std::optional<std::string>{"1"} : std::nullopt));
  }
  auto other = g.send("GET", "/api/orders/anything-else", g.admin_token);
  CHECK(other.status == 500);
  CHECK(error_of(other) == "internal_error");
  CHECK(message_of(other) == "internal error");
}

namespace {

/// Creates a user through the admin API and answers its API token.
std::string create_user(gateway& g, const std::string& email) {
  auto r = g.send("POST", "/api/admin/users", g.admin_token,
                  R"({"email":")" + email + R"(","password":"twelve chars or more"})");
  INFO(r.body);
  REQUIRE(r.status == 201);
  return json_string(parse_json(r.body), "token");
}

http_client::response login(gateway& g, const std::string& email, const std::string& pw) {
  return g.send("POST", "/api/auth/login", {},
                R"({"email":")" + email + R"(","password":")" + pw + R"("})");
}

} // namespace

TEST_CASE("a session token stops working when its lifetime ends; an API token does not",
          "[front][users]") {
  gateway_options opts;
  opts.configure = [](api::front_config& c) {
    c.session_lifetime = std::chrono::seconds{1};
    c.password_params = api::scrypt_params{1024, 8, 1};
  };
  gateway g{opts};
  auto api_token = create_user(g, "sam@example.com");
  auto r = login(g, "sam@example.com", "twelve chars or more");
  REQUIRE(r.status == 200);
  CHECK(r.header("Set-Cookie").value_or("").find("Max-Age=1") != std::string::npos);
  auto session = json_string(parse_json(r.body), "token");
  CHECK(g.send("GET", "/api/brokers/user/configured", session).status == 200);
  CHECK(wait_until(
      [&] { return g.send("GET", "/api/brokers/user/configured", session).status == 401; }, 3s));
  CHECK(g.send("GET", "/api/brokers/user/configured", api_token).status == 200);
  // The expired record is removed once presented.
  CHECK(wait_until(
      [&] {
        auto stored = g.log()->get(api::token_key(session));
        return stored && !*stored;
      },
      2s));
}

TEST_CASE("a user's burst beyond the bucket gets 429; others and the admin are not slowed",
          "[front][users]") {
  gateway_options opts;
  opts.configure = [](api::front_config& c) {
    c.api_rate_per_second = 1;
    c.api_rate_burst = 3;
    c.password_params = api::scrypt_params{1024, 8, 1};
  };
  gateway g{opts};
  for (int i = 0; i < 3; ++i)
    CHECK(g.send("GET", "/api/brokers/user/configured", bob_token).status == 200);
  auto limited = g.send("GET", "/api/brokers/user/configured", bob_token);
  CHECK(limited.status == 429);
  CHECK(error_of(limited) == "rate_limited");
  CHECK(limited.header("Retry-After") == "1");
  // Nothing behind the limit ran: a refused order is not placed.
  CHECK(g.send("POST", "/api/orders", bob_token, order_body("conn-bob")).status == 429);
  auto other = create_user(g, "uma@example.com");
  CHECK(g.send("GET", "/api/brokers/user/configured", other).status == 200);
  for (int i = 0; i < 10; ++i)
    CHECK(g.send("GET", "/api/brokers/user/configured", g.admin_token).status == 200);
  // Logins are limited per client address the same way.
  int refused = 0;
  for (int i = 0; i < 5; ++i)
    if (login(g, "uma@example.com", "wrong password!").status == 429)
      ++refused;
  CHECK(refused >= 2);
}

TEST_CASE("with rate_limit_admins the admin is limited too", "[front][users]") {
  gateway_options opts;
  opts.configure = [](api::front_config& c) {
    c.api_rate_per_second = 1;
    c.api_rate_burst = 2;
    c.rate_limit_admins = true;
  };
  gateway g{opts};
  CHECK(g.send("GET", "/api/brokers/compare", g.admin_token).status == 200);
  CHECK(g.send("GET", "/api/brokers/compare", g.admin_token).status == 200);
  CHECK(g.send("GET", "/api/brokers/compare", g.admin_token).status == 429);
}
