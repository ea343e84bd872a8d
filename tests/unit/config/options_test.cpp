#include <catch2/catch.hpp>

#include "config/options.hpp"

using brokerd::config::parse;

TEST_CASE("no arguments give safe defaults: loopback, port 8080, fsynced status events",
          "[config]") {
  auto o = parse({});
  REQUIRE(o);
  CHECK(o->bind_address == "127.0.0.1");
  CHECK(o->http_port == 8080);
  CHECK(o->sync_status_events);
  CHECK_FALSE(o->demo);
  CHECK_FALSE(o->metrics);
  CHECK(o->scheduler_threads == 2);
  CHECK(o->scheduler_policy == "sharing");
}

TEST_CASE("options are read in both --name value and --name=value forms", "[config]") {
  auto o = parse({"--data-dir", "/tmp/x", "--http-port=0", "--demo", "--bind", "::1",
                  "--sync-status-events=false", "--scheduler-threads", "3",
                  "--scheduler-policy=stealing", "--paper-tick-ms", "20"});
  REQUIRE(o);
  CHECK(o->data_dir == "/tmp/x");
  CHECK(o->http_port == 0);
  CHECK(o->demo);
  CHECK(o->bind_address == "::1");
  CHECK_FALSE(o->sync_status_events);
  CHECK(o->scheduler_threads == 3);
  CHECK(o->scheduler_policy == "stealing");
  CHECK(o->paper_tick_ms == 20);
  auto yes = parse({"--sync-status-events", "yes"});
  REQUIRE(yes);
  CHECK(yes->sync_status_events);
  auto metrics = parse({"--metrics"});
  REQUIRE(metrics);
  CHECK(metrics->metrics);
  auto help = parse({"--help"});
  REQUIRE(help);
  CHECK(help->help);
}

TEST_CASE("a bad command line is an error naming the option", "[config]") {
  struct bad_case {
    std::vector<std::string> args;
    std::string names;
  };
  std::vector<bad_case> cases{
      {{"--nope"}, "--nope"},
      {{"positional"}, "positional"},
      {{"--http-port"}, "--http-port"},
      {{"--http-port", "70000"}, "--http-port"},
      {{"--http-port", "8o80"}, "--http-port"},
      {{"--http-port", ""}, "--http-port"},
      {{"--data-dir="}, "--data-dir"},
      {{"--demo=1"}, "--demo"},
      {{"--metrics=yes"}, "--metrics"},
      {{"--help=x"}, "--help"},
      {{"--sync-status-events", "maybe"}, "--sync-status-events"},
      {{"--scheduler-threads", "0"}, "--scheduler-threads"},
      {{"--scheduler-threads", "65"}, "--scheduler-threads"},
      {{"--scheduler-policy", "fifo"}, "--scheduler-policy"},
      {{"--paper-tick-ms", "0"}, "--paper-tick-ms"},
      {{"--paper-tick-ms", "60001"}, "--paper-tick-ms"},
  };
  for (const auto& c : cases) {
    INFO(c.names);
    auto o = parse(c.args);
    REQUIRE_FALSE(o);
    CHECK(o.error().find(c.names) != std::string::npos);
  }
  CHECK(brokerd::config::usage().find("--data-dir") != std::string::npos);
}
