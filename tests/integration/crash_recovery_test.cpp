// brokerd killed with SIGKILL in the middle of a burst of orders loses none it answered,
// sends none twice, and settles the ones in flight after restarting.

#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "actors/brokers/paper/book.hpp"
#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"

using namespace brokerd::test;

namespace {

constexpr int total_orders = 1000;
constexpr int client_threads = 4;
constexpr int kill_after_answers = 300;

std::string order_body(const std::string& conn, int i) {
  // A mix: market orders fill at once, limit orders far below the market keep working, large
  // market orders fill in parts over several ticks.
  std::string common = R"({"connectionId":")" + conn + R"(","symbol":"AAPL","side":"buy",)" +
                       R"("clientOrderId":"burst-)" + std::to_string(i) + R"(",)";
  switch (i % 3) {
    case 0:
      return common + R"("type":"market","quantity":"1"})";
    case 1:
      return common + R"("type":"limit","quantity":"2","limitPrice":"150.5","timeInForce":"gtc"})";
    default:
      return common + R"("type":"market","quantity":"700"})";
  }
}

bool settled(const std::string& status) { return status != "pending_new" && status != "unknown"; }

} // namespace

TEST_CASE("a SIGKILL during a burst of 1000 orders loses no answered order and sends none twice",
          "[integration][crash]") {
  temp_dir dir{"brokerd-crash"};
  auto data = dir.path() / "data";
  std::map<std::string, std::string> answered; // client order id -> order id
  std::mutex answered_mutex;
  std::string connection;
  {
    brokerd_instance first{data, {"--sync-status-events", "false"}};
    connection = first.connection();
    std::atomic<int> next{0};
    std::atomic<int> answers{0};
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < client_threads; ++t)
      clients.emplace_back([&] {
        http_client client{first.port(), std::chrono::seconds{5}};
        for (int i = next++; i < total_orders; i = next++) {
          try {
            auto r = client.request("POST", "/api/orders", order_body(connection, i), first.auth());
            if (r.status == 201 || r.status == 200) {
              auto doc = parse_json(r.body);
              std::lock_guard lock{answered_mutex};
              answered["burst-" + std::to_string(i)] = json_string(doc, "id");
            }
            if (++answers == kill_after_answers && !killed.exchange(true))
              first.process().kill(SIGKILL);
          } catch (const std::exception&) {
            // The server died under this request: its outcome is what the test checks.
          }
          if (killed)
            break;
        }
      });
    for (auto& c : clients)
      c.join();
    REQUIRE(killed);
    REQUIRE(first.process().wait_exit(std::chrono::seconds{10}) == 128 + SIGKILL);
  }
  INFO("orders answered before the kill: " << answered.size());
  REQUIRE(answered.size() >= static_cast<std::size_t>(kill_after_answers) - client_threads);
  REQUIRE(answered.size() < static_cast<std::size_t>(total_orders));

  std::map<std::string, std::string> final_status; // order id -> status
  {
    brokerd_instance second{data};
    REQUIRE(second.connection() == connection);
    http_client client{second.port()};
    // Every order the log knows settles once reconciliation has run.
    bool all_settled = wait_until(
        [&] {
          auto r = client.request("GET", "/api/orders?connectionId=" + connection, {},
                                  second.auth());
          if (r.status != 200)
            return false;
          auto doc = parse_json(r.body);
          final_status.clear();
          bool ok = true;
          for (const auto& o : json_member(doc, "orders").GetArray()) {
            auto status = json_string(o, "status");
            final_status[json_string(o, "id")] = status;
            ok = ok && settled(status);
          }
          return ok;
        },
        std::chrono::seconds{60}, std::chrono::milliseconds{100});
    REQUIRE(all_settled);

    // No answered order is missing.
    for (const auto& [client_id, order_id] : answered) {
      INFO(client_id << " / " << order_id);
      REQUIRE(final_status.contains(order_id));
      auto r = client.request("GET", "/api/orders/" + order_id, {}, second.auth());
      REQUIRE(r.status == 200);
    }
    REQUIRE(second.stop() == 0);
  }

  // The log is gap-free and every transition legal.
  auto verify = run_program({program("brokerctl").string(), "verify", "--data-dir",
                             data.string()},
                            dir.path() / "verify.log");
  INFO(verify.output);
  REQUIRE(verify.status == 0);

  // The paper broker saw each client order id at most once.
  auto book = brokerd::actors::paper::book::open((data / "paper-book").string());
  REQUIRE(book);
  auto booked = (*book)->orders(connection);
  REQUIRE(booked);
  std::set<std::string> seen;
  for (const auto& o : *booked) {
    INFO(o.client_order_id);
    CHECK(o.submissions == 1);
    CHECK(seen.insert(o.client_order_id).second);
  }
  // Every answered order reached the broker or was settled without it.
  for (const auto& [client_id, order_id] : answered)
    CHECK(settled(final_status[order_id]));
}
