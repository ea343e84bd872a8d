// Order path latency: from the router receiving an order to the paper broker's fill event
// being durable in the event log and published to a subscriber. Runs the real actors (event
// log, router, supervisor, paper session) in-process, one order at a time, and prints p50,
// p99 and max for each log setting. Bounded: a fixed number of orders per setting.
//
//   build/bin/bench_order_path [--orders N] [--dir PATH]
//
// Settings: status events unsynced (the intent is always fsynced) and everything fsynced.
// Run it once with --dir on the real disk and once on tmpfs (/dev/shm) to separate the
// device's fsync time from the pipeline's own cost.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/connections.hpp"
#include "actors/event_log_actor.hpp"
#include "actors/order_router.hpp"
#include "persistence/event_log.hpp"

namespace {

using namespace brokerd;
using clock_type = std::chrono::steady_clock;

struct probe_state {
  std::mutex* mutex = nullptr;
  std::vector<std::pair<std::string, clock_type::time_point>>* filled = nullptr;
};

caf::behavior fill_probe(caf::stateful_actor<probe_state>* self, std::mutex* m,
                         std::vector<std::pair<std::string, clock_type::time_point>>* out) {
  self->state.mutex = m;
  self->state.filled = out;
  return {
      [self](actors::event_atom, const persistence::event& ev) {
        if (ev.type == persistence::event_types::order_status && ev.to &&
            *ev.to == engine::order_status::filled) {
          auto now = clock_type::now();
          std::lock_guard lock{*self->state.mutex};
          self->state.filled->emplace_back(ev.order_id, now);
        }
      },
  };
}

struct figures {
  double p50_us = 0;
  double p99_us = 0;
  double max_us = 0;
  std::size_t n = 0;
};

figures run(const std::filesystem::path& dir, const char* policy, bool sync_status, int orders) {
  std::filesystem::remove_all(dir);
  auto opened = persistence::event_log::open(dir / "events", persistence::open_mode::read_write);
  if (!opened)
    throw std::runtime_error(opened.error().message);
  auto log = std::make_shared<persistence::event_log>(std::move(*opened));
  auto book = actors::paper::book::open((dir / "paper-book").string());
  if (!book)
    throw std::runtime_error(book.error());

  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", std::size_t{2});
  cfg.set("scheduler.policy", caf::atom_from_string(policy));
  cfg.add_message_types<caf::id_block::brokerd>();
  figures out;
  {
    caf::actor_system sys{cfg};
    auto log_actor = actors::spawn_event_log(sys, log);
    actors::router_config rcfg;
    rcfg.sync_status_events = sync_status;
    auto router = actors::spawn_router(sys, log_actor, {}, rcfg);
    actors::connection_spec spec{"conn_bench",
                                 "usr_bench",
                                 engine::broker_id::paper,
                                 {{"tick_ms", "60000"},
                                  {"cash", "90000000000"},
                                  {"rate_per_s", "1000000"},
                                  {"burst", "1000"}}};
    actors::broker_resources resources;
    resources.paper_book = *book;
    auto factory = actors::factory_for(engine::broker_id::paper, resources);
    auto sup = actors::spawn_supervisor(sys, spec, *factory, log_actor, router);
    caf::anon_send(router, actors::attach_atom_v, spec.id, spec.user, spec.broker, sup);

    std::mutex m;
    std::vector<std::pair<std::string, clock_type::time_point>> filled;
    auto probe = sys.spawn(fill_probe, &m, &filled);
    caf::scoped_actor self{sys};
    self->request(log_actor, std::chrono::seconds(5), actors::subscribe_atom_v, probe,
                  log->last_seq() + 1)
        .receive([](std::uint64_t) {},
                 [](caf::error& e) { throw std::runtime_error(caf::to_string(e)); });
    // The first orders wait for the session to become ready and warm caches: not measured.
    constexpr int warmup = 20;

    std::vector<double> lat;
    lat.reserve(static_cast<std::size_t>(orders));
    for (int i = 0; i < orders + warmup; ++i) {
      engine::order o;
      o.user = spec.user;
      o.connection = spec.id;
      o.symbol = "AAPL";
      o.quantity = engine::decimal::from_units(engine::decimal::one_units);
      o.client_order_id = "bench-" + std::to_string(i);
      auto t0 = clock_type::now();
      std::string id;
      self->request(router, std::chrono::seconds(10), actors::place_atom_v, o)
          .receive([&](actors::place_result& r) { id = r.order.id; },
                   [](caf::error& e) { throw std::runtime_error(caf::to_string(e)); });
      // Bounded wait for this order's fill event.
      auto deadline = clock_type::now() + std::chrono::seconds(10);
      for (;;) {
        {
          std::lock_guard lock{m};
          auto it = std::find_if(filled.begin(), filled.end(),
                                 [&](const auto& f) { return f.first == id; });
          if (it != filled.end()) {
            if (i >= warmup)
              lat.push_back(std::chrono::duration<double, std::micro>(it->second - t0).count());
            filled.erase(it);
            break;
          }
        }
        if (clock_type::now() > deadline)
          throw std::runtime_error("no fill event for " + id);
        std::this_thread::yield();
      }
    }
    std::sort(lat.begin(), lat.end());
    out.n = lat.size();
    out.p50_us = lat[lat.size() / 2];
    out.p99_us = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    out.max_us = lat.back();
    caf::anon_send(sup, actors::stop_atom_v);
    self->request(log_actor, std::chrono::seconds(10), actors::drain_atom_v)
        .receive([](std::uint64_t) {}, [](caf::error&) {});
    caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(log_actor, caf::exit_reason::user_shutdown);
  }
  std::filesystem::remove_all(dir);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  int orders = 2000;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "brokerd-bench-order-path";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--orders")
      orders = std::max(10, std::min(20000, std::stoi(argv[i + 1])));
    else if (a == "--dir")
      dir = argv[i + 1];
  }
  std::cout << "order path: router receives -> paper fill event durable and published\n"
            << "dir " << dir << ", " << orders << " orders per setting, one at a time\n\n";
  std::printf("%-9s %-42s %8s %10s %10s %10s\n", "scheduler", "setting", "orders", "p50 us",
              "p99 us", "max us");
  struct setting {
    const char* name;
    bool sync_status;
  } settings[] = {{"intent fsynced, status events not fsynced", false},
                  {"intent and status events fsynced", true}};
  for (const char* policy : {"stealing", "sharing"})
    for (const auto& s : settings) {
      auto f = run(dir, policy, s.sync_status, orders);
      std::printf("%-9s %-42s %8zu %10.1f %10.1f %10.1f\n", policy, s.name, f.n, f.p50_us, f.p99_us,
                  f.max_us);
    }
  return 0;
}
