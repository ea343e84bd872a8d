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
  CHECK(o->api_rate_per_second == 20);
  CHECK(o->api_rate_burst == 40);
  CHECK_FALSE(o->rate_limit_admins);
}

TEST_CASE("the API rate limit is given as rate or rate/burst, 0 turning it off", "[config]") {
  auto both = parse({"--api-rate-limit", "5/7", "--rate-limit-admins"});
  REQUIRE(both);
  CHECK(both->api_rate_per_second == 5);
  CHECK(both->api_rate_burst == 7);
  CHECK(both->rate_limit_admins);
  auto rate_only = parse({"--api-rate-limit=50"});
  REQUIRE(rate_only);
  CHECK(rate_only->api_rate_per_second == 50);
  CHECK(rate_only->api_rate_burst == 100);
  auto off = parse({"--api-rate-limit", "0"});
  REQUIRE(off);
  CHECK(off->api_rate_per_second == 0);
  CHECK(off->api_rate_burst == 1);
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
      {{"--api-rate-limit", "fast"}, "--api-rate-limit"},
      {{"--api-rate-limit", "10/0"}, "--api-rate-limit"},
      {{"--api-rate-limit", "10/"}, "--api-rate-limit"},
      {{"--api-rate-limit", "100001"}, "--api-rate-limit"},
      {{"--api-rate-limit"}, "--api-rate-limit"},
      {{"--rate-limit-admins=1"}, "--rate-limit-admins"},
  };
  for (const auto& c : cases) {
    INFO(c.names);
    auto o = parse(c.args);
    REQUIRE_FALSE(o);
    CHECK(o.error().find(c.names) != std::string::npos);
  }
  CHECK(brokerd::config::usage().find("--data-dir") != std::string::npos);
}
