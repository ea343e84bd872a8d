// brokerd: the gateway process. Wires the event log, the order router, one supervised session
// per stored connection and the HTTP front, then runs until SIGINT or SIGTERM and shuts down
// in order: stop intake, stop sessions, drain the log, close sockets.

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <sys/stat.h>

#include "actors/brokers/schwab/tokens.hpp"
#include "actors/connections.hpp"
#include "actors/event_log_actor.hpp"
#include "actors/logging.hpp"
#include "actors/order_router.hpp"
#include "api/auth.hpp"
#include "api/front.hpp"
#include "api/order_stream.hpp"
#include "api/http_metrics.hpp"
#include "config/options.hpp"
#include "persistence/order_projection.hpp"
#include "tools/sim/alpaca_server.hpp"
#include "tools/sim/price_paths.hpp"
#include "tools/sim/schwab_server.hpp"
#include "tools/sim/tws_server.hpp"

namespace {

namespace asio = boost::asio;
using namespace brokerd;

constexpr const char* demo_prices = "AAPL=187.25,187.5,188,188.4,187.75,187,186.5,186.8;"
                                    "MSFT=410,411,412.5,411.25,409.8,410.5;"
                                    "SPY=560,561,559.5,562,563.25,561.75";

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Gives the admin a demo connection to `broker` (--demo): creates it when the admin has
/// none; an existing one gets `settings` again when `refresh` (a simulator's port changes at
/// every start).
std::expected<std::string, std::string>
ensure_demo_connection(persistence::event_log& log, const persistence::vault& vault,
                       const std::string& admin, const std::string& broker,
                       std::vector<std::pair<std::string, std::string>> settings, bool refresh) {
  auto conns = log.scan_prefix(persistence::registry_keys::connection);
  if (!conns)
    return std::unexpected(conns.error().message);
  std::optional<persistence::connection_record> rec;
  for (const auto& entry : *conns) {
    auto found = persistence::decode_connection(entry.value, vault);
    if (found && found->user == admin && found->broker == broker &&
        found->id.starts_with("conn_" + broker + "_demo")) {
      if (!refresh)
        return found->id;
      rec = std::move(*found);
      break;
    }
  }
  bool created = !rec;
  if (!rec) {
    rec.emplace();
    rec->id = "conn_" + broker + "_demo_" + api::random_hex(4);
    rec->user = admin;
    rec->broker = broker;
    rec->paper_trading = true;
    rec->created_ns = now_ns();
  }
  rec->settings = std::move(settings);
  auto sealed = persistence::encode_connection(*rec, vault);
  if (!sealed)
    return std::unexpected(sealed.error().message);
  std::vector<persistence::registry_write> writes{
      {std::string{persistence::registry_keys::connection} + rec->id, std::move(*sealed)}};
  if (auto ok = log.append({}, true, writes); !ok)
    return std::unexpected(ok.error().message);
  if (created)
    std::cout << "demo: created " << broker << " connection " << rec->id << std::endl;
  return rec->id;
}

/// The credential vault: BROKERD_MASTER_KEY, else the key file (created with a fresh key, mode
/// 0600, when missing and nothing sealed is stored yet). Every stored connection must name a
/// key the vault has: a missing or wrong key stops the start with the key id it lacks.
std::expected<std::shared_ptr<const persistence::vault>, std::string>
open_vault(const config::options& opts, persistence::event_log& log) {
  auto conns = log.scan_prefix(persistence::registry_keys::connection);
  if (!conns)
    return std::unexpected(conns.error().message);
  std::optional<persistence::vault> v;
  auto file = opts.master_key_file.empty() ? opts.data_dir / "master.key" : opts.master_key_file;
  if (const char* env = std::getenv("BROKERD_MASTER_KEY"); env && *env) {
    auto from_env = persistence::vault::from_env_value(env);
    if (!from_env)
      return std::unexpected(from_env.error().message);
    v = std::move(*from_env);
  } else if (std::filesystem::exists(file)) {
    auto from_file = persistence::vault::from_key_file(file);
    if (!from_file)
      return std::unexpected(from_file.error().message);
    v = std::move(*from_file);
  } else {
    for (const auto& entry : *conns)
      if (persistence::sealed_key_id(entry.value))
        return std::unexpected("stored credentials are sealed but the master key file " +
                               file.string() +
                               " is missing: restore it or set BROKERD_MASTER_KEY");
    auto fresh = persistence::vault::with_keys({persistence::master_key::generate()});
    if (auto ok = persistence::vault::write_key_file(file, fresh->keys()); !ok)
      return std::unexpected(ok.error().message);
    std::cout << "created the credential vault's master key in " << file.string()
              << " (mode 0600): keep a copy, stored credentials cannot be read without it"
              << std::endl;
    v = std::move(*fresh);
  }
  for (const auto& entry : *conns) {
    auto id = persistence::sealed_key_id(entry.value);
    if (!id) {
      // Stored before the vault, settings in plain: sealed now, in place.
      auto rec = persistence::decode_connection(entry.value, *v);
      if (!rec)
        continue; // reported when the connections start
      auto sealed = persistence::encode_connection(*rec, *v);
      if (!sealed)
        return std::unexpected(sealed.error().message);
      std::vector<persistence::registry_write> writes{{entry.key, std::move(*sealed)}};
      if (auto ok = log.append({}, true, writes); !ok)
        return std::unexpected(ok.error().message);
      std::cout << "connection " << rec->id << ": settings sealed by the vault" << std::endl;
      continue;
    }
    bool known = false;
    for (const auto& k : v->keys())
      known = known || k.id == *id;
    if (!known)
      return std::unexpected("connection " + entry.key.substr(entry.key.find('/') + 1) +
                             " is sealed under master key " + *id +
                             ", which the given master key does not match (a wrong key?)");
  }
  return std::make_shared<const persistence::vault>(std::move(*v));
}

/// Stops every connection's session and waits (bounded) until its supervisor is gone: its
/// final `stopped` event is then queued at the log ahead of any later drain.
void stop_connections(caf::actor_system& sys, const caf::actor& front) {
  caf::scoped_actor scope{sys};
  std::vector<caf::actor> supervisors;
  scope->request(front, std::chrono::seconds(10), actors::list_atom_v)
      .receive([&](std::vector<caf::actor>& list) { supervisors = std::move(list); },
               [](caf::error& err) {
                 std::cerr << "brokerd: cannot list connections: " << caf::to_string(err) << "\n";
               });
  for (auto& s : supervisors) {
    scope->monitor(s);
    scope->send(s, actors::stop_atom_v);
  }
  std::size_t remaining = supervisors.size();
  bool timed_out = false;
  while (remaining > 0 && !timed_out)
    scope->receive([&](caf::down_msg&) { --remaining; },
                   caf::after(std::chrono::seconds(10)) >> [&] { timed_out = true; });
  if (timed_out)
    std::cerr << "brokerd: " << remaining << " connection(s) did not stop in time\n";
}

int run(const config::options& opts) {
  std::error_code ec;
  std::filesystem::create_directories(opts.data_dir, ec);
  if (ec) {
    std::cerr << "brokerd: cannot create " << opts.data_dir << ": " << ec.message() << "\n";
    return 1;
  }
  ::chmod(opts.data_dir.c_str(), 0700);

  auto opened =
      persistence::event_log::open(opts.data_dir / "events", persistence::open_mode::read_write);
  if (!opened) {
    std::cerr << "brokerd: " << opened.error().message << "\n";
    return 1;
  }
  auto log = std::make_shared<persistence::event_log>(std::move(*opened));
  auto admin = api::bootstrap_admin(*log, opts.data_dir);
  if (!admin) {
    std::cerr << "brokerd: " << admin.error() << "\n";
    return 1;
  }
  auto vault = open_vault(opts, *log);
  if (!vault) {
    std::cerr << "brokerd: credential vault: " << vault.error() << "\n";
    return 1;
  }
  if (admin->created)
    std::cout << "created admin user " << admin->user_id << "; its API token is in "
              << admin->token_file.string() << " (mode 0600)" << std::endl;
  // --demo: a paper connection, plus an IBKR connection to a TWS simulator and an Alpaca
  // connection to an Alpaca simulator, both embedded in this process on loopback ports.
  std::unique_ptr<sim::tws::server> demo_tws;
  std::unique_ptr<sim::alpaca::server> demo_alpaca;
  std::unique_ptr<sim::schwab::server> demo_schwab;
  if (opts.demo) {
    auto paths = sim::parse_price_paths(demo_prices);
    sim::tws::config tcfg;
    tcfg.paths = paths.value_or(sim::price_paths{});
    tcfg.tick = std::chrono::milliseconds{opts.paper_tick_ms};
    auto tws = sim::tws::server::start(tcfg);
    if (!tws) {
      std::cerr << "brokerd: cannot start the demo TWS simulator: " << tws.error() << "\n";
      return 1;
    }
    demo_tws = std::move(*tws);
    std::cout << "demo: TWS simulator listening on 127.0.0.1:" << demo_tws->port() << std::endl;
    auto paper = ensure_demo_connection(
        *log, **vault, admin->user_id, "paper",
        {{"prices", demo_prices}, {"tick_ms", std::to_string(opts.paper_tick_ms)}}, false);
    auto ibkr = paper ? ensure_demo_connection(*log, **vault, admin->user_id, "ibkr",
                                               {{"host", "127.0.0.1"},
                                                {"port", std::to_string(demo_tws->port())},
                                                {"client_id", "0"}},
                                               true)
                      : paper;
    sim::alpaca::config acfg;
    acfg.paths = tcfg.paths;
    acfg.tick = tcfg.tick;
    acfg.tls_dir = opts.data_dir / "demo-alpaca-tls";
    auto alpaca = sim::alpaca::server::start(acfg);
    if (!alpaca) {
      std::cerr << "brokerd: cannot start the demo Alpaca simulator: " << alpaca.error() << "\n";
      return 1;
    }
    demo_alpaca = std::move(*alpaca);
    std::cout << "demo: Alpaca simulator listening on https://127.0.0.1:" << demo_alpaca->port()
              << std::endl;
    auto alpaca_conn =
        ibkr ? ensure_demo_connection(
                   *log, **vault, admin->user_id, "alpaca",
                   {{"key_id", acfg.key_id},
                    {"secret", acfg.secret},
                    {"paper", "true"},
                    {"base_url", "https://127.0.0.1:" + std::to_string(demo_alpaca->port())},
                    {"ca_file", demo_alpaca->ca_file().string()}},
                   true)
             : ibkr;
    if (!alpaca_conn) {
      std::cerr << "brokerd: cannot create the demo connections: " << alpaca_conn.error() << "\n";
      return 1;
    }
    sim::schwab::config scfg;
    scfg.paths = tcfg.paths;
    scfg.tick = tcfg.tick;
    scfg.tls_dir = opts.data_dir / "demo-schwab-tls";
    auto schwab = sim::schwab::server::start(scfg);
    if (!schwab) {
      std::cerr << "brokerd: cannot start the demo Schwab simulator: " << schwab.error() << "\n";
      return 1;
    }
    demo_schwab = std::move(*schwab);
    std::cout << "demo: Schwab simulator listening on https://127.0.0.1:" << demo_schwab->port()
              << std::endl;
    auto schwab_conn = ensure_demo_connection(
        *log, **vault, admin->user_id, "schwab",
        {{"app_key", scfg.app_key},
         {"app_secret", scfg.app_secret},
         {"redirect_uri", scfg.redirect_uri},
         {"base_url", "https://127.0.0.1:" + std::to_string(demo_schwab->port())},
         {"ca_file", demo_schwab->ca_file().string()}},
        true);
    if (!schwab_conn) {
      std::cerr << "brokerd: cannot create the demo connections: " << schwab_conn.error() << "\n";
      return 1;
    }
    // The simulator starts with a login of its own (its demo refresh token): the connection
    // gets it at every start, as if the admin had just signed in.
    actors::schwab::token_set login;
    login.refresh_token = actors::secret{scfg.refresh_token};
    login.refresh_expires_ns =
        now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(
                       scfg.refresh_token_lifetime).count();
    auto sealed = actors::schwab::seal_tokens(login, **vault, admin->user_id, *schwab_conn);
    std::vector<persistence::registry_write> writes;
    if (sealed)
      writes.push_back({actors::schwab::token_key(*schwab_conn), std::move(*sealed)});
    if (!sealed || !log->append({}, true, writes)) {
      std::cerr << "brokerd: cannot store the demo Schwab login\n";
      return 1;
    }
  }

  auto rebuilt = persistence::rebuild_orders(*log);
  if (!rebuilt) {
    std::cerr << "brokerd: cannot read the event log: " << rebuilt.error().message << "\n";
    return 1;
  }
  for (const auto& d : rebuilt->damaged)
    actors::log::warn("startup", "damaged event record at seq " + std::to_string(d.seq) + ": " +
                                     d.problem.message);
  std::vector<engine::order> orders;
  for (const auto& [id, p] : rebuilt->projection.orders())
    orders.push_back(p.order);

  auto book = actors::paper::book::open((opts.data_dir / "paper-book").string());
  if (!book) {
    std::cerr << "brokerd: " << book.error() << "\n";
    return 1;
  }
  actors::broker_resources resources;
  resources.paper_book = *book;
  // One I/O thread runs the HTTP server and every broker socket.
  asio::io_context ioc{1};
  auto guard = asio::make_work_guard(ioc);

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(opts.scheduler_threads));
  cfg.set("scheduler.policy", caf::atom_from_string(opts.scheduler_policy));
  cfg.add_message_types<caf::id_block::brokerd>();
  caf::actor_system sys{cfg};

  auto log_actor = actors::spawn_event_log(sys, log);
  resources.ibkr = actors::ibkr::environment{&ioc, log_actor, log};
  actors::router_config rcfg;
  rcfg.sync_status_events = opts.sync_status_events;
  auto router = actors::spawn_router(sys, log_actor, std::move(orders), rcfg);
  api::front_config fcfg;
  fcfg.reader = log;
  fcfg.log = log_actor;
  fcfg.router = router;
  fcfg.follow_from = log->last_seq() + 1;
  resources.vault = *vault;
  fcfg.resources = resources;
  fcfg.vault = *vault;
  fcfg.allow_custom_hosts = opts.allow_custom_hosts;
  fcfg.api_rate_per_second = opts.api_rate_per_second;
  fcfg.api_rate_burst = opts.api_rate_burst;
  fcfg.rate_limit_admins = opts.rate_limit_admins;
  auto front = api::spawn_front(sys, std::move(fcfg));
  std::thread io_thread{[&ioc] { ioc.run(); }};

  auto conns = log->scan_prefix(persistence::registry_keys::connection);
  if (!conns) {
    std::cerr << "brokerd: cannot read connections: " << conns.error().message << "\n";
    return 1;
  }
  for (const auto& entry : *conns) {
    auto rec = persistence::decode_connection(entry.value, **vault);
    if (!rec) {
      // Left as stored: a changed record is reported, never rewritten or dropped.
      actors::log::error("startup",
                         "unreadable connection record " + entry.key + ": " + rec.error().message);
      continue;
    }

    if (!rec->active)
      continue;
    auto sup = actors::start_connection(sys, *rec, resources, log_actor, router);
    if (!sup) {
      actors::log::error("startup", "connection " + rec->id + " not started: " + sup.error());
      continue;
    }
    auto broker = engine::parse_broker_id(rec->broker);
    caf::anon_send(router, actors::attach_atom_v, rec->id, rec->user,
                   broker.value_or(engine::broker_id::paper), *sup);
    caf::anon_send(front, actors::attach_atom_v, *rec, *sup);
  }

  // --metrics: /metrics is answered on the io thread from the registry, before the front.
  auto handler = api::make_request_handler(front);
  if (opts.metrics)
    handler = api::with_metrics_endpoint(std::move(handler));
  // GET /api/stream: the user's live order and connection events over WebSocket.
  api::order_stream_config scfg_stream;
  scfg_stream.reader = log;
  scfg_stream.log = log_actor;
  scfg_stream.front = front;
  auto streams = api::make_order_stream(sys, std::move(scfg_stream));
  auto server = api::http_server::start(ioc, opts.bind_address, opts.http_port,
                                        std::move(handler), api::http_limits{}, streams.upgrade);
  if (!server) {
    std::cerr << "brokerd: " << server.error() << "\n";
    stop_connections(sys, front);
    guard.reset();
    ioc.stop();
    io_thread.join();
    caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(log_actor, caf::exit_reason::user_shutdown);
    resources.ibkr.log = nullptr; // the actor system waits for every handle to go
    return 1;
  }
  std::cout << "brokerd listening on http://" << opts.bind_address << ":" << (*server)->port()
            << "/ (data in " << opts.data_dir.string() << ", admin token in "
            << admin->token_file.string() << ")" << std::endl;

  // Wait for SIGINT/SIGTERM (blocked in every thread, taken here synchronously).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int sig = 0;
  sigwait(&signals, &sig);
  std::cout << "brokerd: signal " << sig << ", shutting down" << std::endl;

  // 1. stop intake, 2. stop sessions (each records `stopped`), 3. drain and sync the log,
  // 4. close sockets, 5. let the actor system wait for every actor.
  caf::anon_send(front, actors::stop_atom_v);
  (*server)->stop();
  streams.close_all(std::chrono::seconds{2});
  {
    caf::scoped_actor scope{sys};
    stop_connections(sys, front);
    scope->request(log_actor, std::chrono::seconds(30), actors::drain_atom_v)
        .receive(
            [](std::uint64_t last) {
              std::cout << "event log drained at seq " << last << std::endl;
            },
            [](caf::error& err) {
              std::cerr << "brokerd: draining the event log failed: " << caf::to_string(err)
                        << "\n";
            });
  }
  if (auto ok = log->sync_wal(); !ok)
    std::cerr << "brokerd: final log sync failed: " << ok.error().message << "\n";
  guard.reset();
  ioc.stop();
  io_thread.join();
  server->reset();
  caf::anon_send_exit(front, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(log_actor, caf::exit_reason::user_shutdown);
  resources.ibkr.log = nullptr; // the actor system waits for every handle to go
  std::cout << "brokerd stopped" << std::endl;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opts = brokerd::config::parse(args);
  if (!opts) {
    std::cerr << "brokerd: " << opts.error() << "\n" << brokerd::config::usage();
    return 64;
  }
  if (opts->help) {
    std::cout << brokerd::config::usage();
    return 0;
  }
  // Block the shutdown signals before any thread starts, so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return run(*opts);
}
