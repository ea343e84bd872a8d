#include "actors/metrics.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "actors/mailbox_pump.hpp"
#include "tests/unit/actors/support/fixtures.hpp"

using namespace brokerd;
using namespace brokerd::actors;
using namespace brokerd::actors::test_support;
using namespace std::chrono_literals;

namespace {

constexpr std::array<double, 2> two_buckets{0.5, 1};

} // namespace

TEST_CASE("a small registry renders as exact Prometheus text, families and labels sorted",
          "[metrics]") {
  metrics::registry r;
  r.counter_series("x_total", "Things done.", {{"b", "2"}, {"a", "1"}}).inc(3);
  r.counter_series("x_total", "Things done.", {{"a", "0"}, {"b", "9"}});
  r.gauge_series("depth", "Queue depth.").set(-2);
  auto& h = r.histogram_series("lat_seconds", "Latency.", two_buckets, {{"route", "/x"}});
  h.observe(0.25);
  h.observe(0.5); // on a bound: counted in that bucket (le is "less or equal")
  h.observe(2.0);
  CHECK(r.render_prometheus() == "# HELP depth Queue depth.\n"
                                 "# TYPE depth gauge\n"
                                 "depth -2\n"
                                 "# HELP lat_seconds Latency.\n"
                                 "# TYPE lat_seconds histogram\n"
                                 "lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
                                 "lat_seconds_bucket{route=\"/x\",le=\"1\"} 2\n"
                                 "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n"
                                 "lat_seconds_sum{route=\"/x\"} 2.75\n"
                                 "lat_seconds_count{route=\"/x\"} 3\n"
                                 "# HELP x_total Things done.\n"
                                 "# TYPE x_total counter\n"
                                 "x_total{a=\"0\",b=\"9\"} 0\n"
                                 "x_total{a=\"1\",b=\"2\"} 3\n");
}

TEST_CASE("hidden series are left out of the page but still count", "[metrics]") {
  metrics::registry r;
  auto& gone = r.counter_series("x_total", "Things done.", {{"connection", "c1"}, {"lane", "q"}});
  r.counter_series("x_total", "Things done.", {{"connection", "c2"}, {"lane", "q"}}).inc();
  auto& h = r.histogram_series("lat_seconds", "Latency.", two_buckets, {{"connection", "c1"}});
  r.hide("connection", "c1");
  gone.inc(5); // a session still holding the series does no harm
  h.observe(0.25);
  // A series of the hidden connection made afterwards stays hidden too.
  r.gauge_series("depth", "Queue depth.", {{"connection", "c1"}}).set(3);
  CHECK(gone.value() == 5);
  CHECK(r.render_prometheus() == "# HELP depth Queue depth.\n"
                                 "# TYPE depth gauge\n"
                                 "# HELP lat_seconds Latency.\n"
                                 "# TYPE lat_seconds histogram\n"
                                 "# HELP x_total Things done.\n"
                                 "# TYPE x_total counter\n"
                                 "x_total{connection=\"c2\",lane=\"q\"} 1\n");
}

TEST_CASE("label values and help texts are escaped", "[metrics]") {
  metrics::registry r;
  r.counter_series("c_total", "Back\\slash and\nnew line.", {{"v", "a\"b\\c\nd"}}).inc();
  CHECK(r.render_prometheus() == "# HELP c_total Back\\\\slash and\\nnew line.\n"
                                 "# TYPE c_total counter\n"
                                 "c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
  CHECK(metrics::escape_label_value("plain /api/orders/:id") == "plain /api/orders/:id");
}

TEST_CASE("the same labels in any order name the same series", "[metrics]") {
  metrics::registry r;
  auto& a = r.counter_series("n_total", "N.", {{"x", "1"}, {"y", "2"}});
  auto& b = r.counter_series("n_total", "N.", {{"y", "2"}, {"x", "1"}});
  CHECK(&a == &b);
  a.inc();
  b.inc(2);
  CHECK(a.value() == 3);
}

TEST_CASE("histogram buckets are cumulative and count every observation once", "[metrics]") {
  metrics::histogram h{metrics::duration_buckets};
  h.observe(0ns);
  h.observe(3ms);  // in le=0.005
  h.observe(1s);   // in le=1
  h.observe(5min); // beyond 60: only +Inf
  auto counts = h.cumulative_counts();
  REQUIRE(counts.size() == metrics::duration_buckets.size() + 1);
  CHECK(counts[0] == 1);  // le=0.0005
  CHECK(counts[2] == 1);  // le=0.0025
  CHECK(counts[3] == 2);  // le=0.005
  CHECK(counts[10] == 3); // le=1
  CHECK(counts[15] == 3); // le=60
  CHECK(counts[16] == 4); // +Inf
  CHECK(h.count() == 4);
  CHECK(h.sum() == Approx(301.003));
}

TEST_CASE("names Prometheus cannot read and conflicting families are refused", "[metrics]") {
  metrics::registry r;
  CHECK_THROWS_AS(r.counter_series("9lives", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter_series("has-dash", "x"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter_series("ok_total", "x", {{"bad-label", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter_series("ok_total", "x", {{"__reserved", "v"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter_series("ok_total", "x", {{"a", "1"}, {"a", "2"}}),
                  std::invalid_argument);
  CHECK_THROWS_AS(r.histogram_series("h_seconds", "x", two_buckets, {{"le", "1"}}),
                  std::invalid_argument);
  constexpr std::array<double, 2> unsorted{1, 0.5};
  CHECK_THROWS_AS(r.histogram_series("u_seconds", "x", unsorted), std::invalid_argument);
  r.counter_series("ok_total", "x");
  CHECK_THROWS_AS(r.gauge_series("ok_total", "x"), std::logic_error);
  r.histogram_series("h_seconds", "x", two_buckets);
  CHECK_THROWS_AS(r.histogram_series("h_seconds", "x", metrics::duration_buckets),
                  std::logic_error);
  // Nothing refused left a family behind.
  CHECK(r.render_prometheus().find("u_seconds") == std::string::npos);
}

TEST_CASE("counters and histograms count every update made from several threads", "[metrics]") {
  metrics::registry r;
  auto& c = r.counter_series("t_total", "T.");
  auto& h = r.histogram_series("t_seconds", "T.", two_buckets);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) {
        c.inc();
        h.observe(0.75);
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(c.value() == 40'000);
  CHECK(h.count() == 40'000);
  CHECK(h.cumulative_counts()[1] == 40'000);
  CHECK(h.sum() == Approx(30'000.0));
}

TEST_CASE("probe sessions of connection tests share one connection label", "[metrics]") {
  const auto& a = metrics::for_connection("alpaca", "test_1a2b3c");
  const auto& b = metrics::for_connection("alpaca", "test_4d5e6f");
  CHECK(&a == &b);
  CHECK(a.connection == "test");
  const auto& c = metrics::for_connection("alpaca", "conn_alpaca_1a2b3c");
  CHECK(&c != &a);
  CHECK(c.connection == "conn_alpaca_1a2b3c");
  CHECK(&metrics::for_connection("alpaca", "conn_alpaca_1a2b3c") == &c);
}

TEST_CASE("a connection test is counted by broker and result", "[metrics]") {
  auto& reg = metrics::default_registry();
  auto ok = [&] {
    return reg
        .counter_series("brokerd_connection_tests_total", "",
                        {{"broker", "ibkr"}, {"result", "ok"}})
        .value();
  };
  auto before = ok();
  metrics::record_connection_test("ibkr", true);
  metrics::record_connection_test("ibkr", false);
  CHECK(ok() == before + 1);
  CHECK(reg.render_prometheus().find(
            "brokerd_connection_tests_total{broker=\"ibkr\",result=\"failed\"}") !=
        std::string::npos);
}

TEST_CASE("the mailbox reports each released request with its lane and its wait", "[metrics]") {
  const auto t0 = engine::steady_time{} + 1h;
  rate_limit_mailbox<int> box{engine::token_bucket::per_period(1'000, 1s, 1'000, t0)};
  std::vector<std::pair<lane, engine::nanos>> seen;
  box.on_release([&](lane in, engine::nanos waited) { seen.emplace_back(in, waited); });
  REQUIRE(box.push(lane::query, 1, t0));
  REQUIRE(box.push(lane::cancel, 2, t0 + 10ms));
  box.resume();
  auto out = box.release(t0 + 30ms);
  REQUIRE(out == std::vector<int>{2, 1});
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].first == lane::cancel);
  CHECK(seen[0].second == 20ms);
  CHECK(seen[1].first == lane::query);
  CHECK(seen[1].second == 30ms);
}

TEST_CASE("orders on a paper connection move its request counter, queue and ack latency series",
          "[metrics]") {
  temp_dir dir;
  core c{open_log(dir.sub("events")), open_book(dir.sub("book"))};
  const auto& m = metrics::for_connection("paper", "paper-metrics");
  auto requests = m.requests[static_cast<std::size_t>(lane::new_order)];
  auto sent_before = requests->value();
  auto acks_before = m.ack_latency->count();
  c.connect("paper-metrics", "alice", fast_paper_settings());
  REQUIRE(wait_until([&] { return m.state("ready").value() == 1; }));
  for (int i = 0; i < 3; ++i) {
    auto placed = c.place(market("alice", "paper-metrics", "AAPL", "1"));
    REQUIRE(placed.has_value());
  }
  REQUIRE(wait_until([&] { return m.ack_latency->count() == acks_before + 3; }));
  // A refusal by the broker is timed apart from the acknowledgements.
  auto rejects_before = m.reject_latency->count();
  REQUIRE(c.place(market("alice", "paper-metrics", "AAPL", "2000")).has_value());
  REQUIRE(wait_until([&] { return m.reject_latency->count() == rejects_before + 1; }));
  CHECK(m.ack_latency->count() == acks_before + 3);
  CHECK(requests->value() >= sent_before + 3);
  CHECK(m.queue_wait[static_cast<std::size_t>(lane::new_order)]->count() >= 3);
  CHECK(m.queue_depth[static_cast<std::size_t>(lane::new_order)]->value() == 0);
  CHECK(m.state("connecting").value() == 0);
  auto text = metrics::default_registry().render_prometheus();
  CHECK(text.find("brokerd_order_ack_latency_seconds_count{broker=\"paper\",connection=\"paper-"
                  "metrics\",result=\"ack\"} 3") != std::string::npos);
}
