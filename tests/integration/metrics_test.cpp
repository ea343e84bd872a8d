// GET /metrics of a brokerd process: scraped over HTTP without a token while orders go through
// the demo connections; the counters move, the page parses as the Prometheus text format and
// holds no secret.

#include <catch2/catch.hpp>

#include <charconv>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/support/brokerd_instance.hpp"
#include "tests/support/files.hpp"
#include "tests/support/json.hpp"
#include "tests/support/wait.hpp"
#include "tools/sim/alpaca_config.hpp"
#include "tools/sim/schwab_config.hpp"

using namespace brokerd::test;

namespace {

/// One sample line: `name{labels} value`.
struct sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool name_char(char c, bool first, bool colon_ok) {
  bool letter =
      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
  return letter || (!first && c >= '0' && c <= '9');
}

/// Reads a metric or label name at the front of `line`; empty when there is none.
std::string take_name(std::string_view& line, bool colon_ok) {
  std::size_t n = 0;
  while (n < line.size() && name_char(line[n], n == 0, colon_ok))
    ++n;
  std::string out{line.substr(0, n)};
  line.remove_prefix(n);
  return out;
}

std::optional<double> parse_value(std::string_view text) {
  if (text == "+Inf")
    return std::numeric_limits<double>::infinity();
  if (text == "-Inf")
    return -std::numeric_limits<double>::infinity();
  if (text == "NaN")
    return 0.0;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return v;
}

/// Parses one sample line of the text format 0.0.4 (no timestamps: brokerd writes none);
/// nullopt when the line is not one.
std::optional<sample> parse_sample(std::string_view line) {
  sample s;
  s.name = take_name(line, true);
  if (s.name.empty())
    return std::nullopt;
  if (!line.empty() && line.front() == '{') {
    line.remove_prefix(1);
    while (true) {
      if (!line.empty() && line.front() == '}') {
        line.remove_prefix(1);
        break;
      }
      auto key = take_name(line, false);
      if (key.empty() || line.size() < 2 || line.substr(0, 2) != "=\"")
        return std::nullopt;
      line.remove_prefix(2);
      std::string value;
      bool closed = false;
      while (!line.empty()) {
        char c = line.front();
        line.remove_prefix(1);
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\n')
          return std::nullopt;
        if (c == '\\') {
          if (line.empty())
            return std::nullopt;
          char e = line.front();
          line.remove_prefix(1);
          if (e == 'n')
            value += '\n';
          else if (e == '\\' || e == '"')
            value += e;
          else
            return std::nullopt;
        } else {
          value += c;
        }
      }
      if (!closed || !s.labels.emplace(key, value).second)
        return std::nullopt;
      if (!line.empty() && line.front() == ',')
        line.remove_prefix(1);
      else if (line.empty() || line.front() != '}')
        return std::nullopt;
    }
  }
  if (line.empty() || line.front() != ' ')
    return std::nullopt;
  line.remove_prefix(1);
  auto v = parse_value(line);
  if (!v)
    return std::nullopt;
  s.value = *v;
  return s;
}

/// A scrape checked line by line: every line is a HELP, a TYPE or a sample of the family
/// the last TYPE announced (histograms through _bucket, _sum and _count); each histogram's
/// buckets are cumulative and end with le="+Inf" equal to its _count.
struct scrape {
  std::vector<sample> samples;
  std::vector<std::string> problems;

  explicit scrape(const std::string& text) {
    std::string family;
    std::string type;
    std::set<std::string> seen_families;
    std::map<std::string, double> last_bucket; // per histogram series (labels without le)
    std::map<std::string, double> inf_bucket;
    std::size_t start = 0;
    if (text.empty() || text.back() != '\n')
      problems.push_back("the page does not end with a line feed");
    while (start < text.size()) {
      auto end = text.find('\n', start);
      if (end == std::string::npos)
        end = text.size();
      std::string_view line{text.data() + start, end - start};
      start = end + 1;
      if (line.starts_with("# HELP ")) {
        auto rest = line.substr(7);
        family = take_name(rest, true);
        if (family.empty() || !seen_families.insert(family).second)
          problems.push_back("bad or repeated HELP: " + std::string{line});
        continue;
      }
      if (line.starts_with("# TYPE ")) {
        auto rest = line.substr(7);
        auto name = take_name(rest, true);
        type = std::string{rest.substr(rest.empty() ? 0 : 1)};
        if (name != family || (type != "counter" && type != "gauge" && type != "histogram"))
          problems.push_back("bad TYPE: " + std::string{line});
        continue;
      }
      auto s = parse_sample(line);
      if (!s) {
        problems.push_back("unparsable line: " + std::string{line});
        continue;
      }
      bool own = s->name == family;
      if (type == "histogram")
        own = s->name == family + "_bucket" || s->name == family + "_sum" ||
              s->name == family + "_count";
      if (!own)
        problems.push_back("sample outside its family: " + std::string{line});
      if (type == "counter" && s->value < 0)
        problems.push_back("negative counter: " + std::string{line});
      if (type == "histogram") {
        auto labels = s->labels;
        auto le = labels.contains("le") ? labels["le"] : std::string{};
        labels.erase("le");
        std::string key = family;
        for (const auto& [k, v] : labels)
          key += "," + k + "=" + v;
        if (s->name == family + "_bucket") {
          if (le.empty())
            problems.push_back("bucket without le: " + std::string{line});
          if (last_bucket.contains(key) && s->value < last_bucket[key])
            problems.push_back("buckets not cumulative: " + std::string{line});
          last_bucket[key] = s->value;
          if (le == "+Inf")
            inf_bucket[key] = s->value;
        } else if (s->name == family + "_count") {
          if (!inf_bucket.contains(key) || inf_bucket[key] != s->value)
            problems.push_back("count differs from le=\"+Inf\": " + std::string{line});
        }
      }
      samples.push_back(std::move(*s));
    }
  }

  /// The value of the sample `name` whose labels include `want`; nullopt when none.
  [[nodiscard]] std::optional<double> value(const std::string& name,
                                            const std::map<std::string, std::string>& want) const {
    for (const auto& s : samples) {
      if (s.name != name)
        continue;
      bool all = true;
      for (const auto& [k, v] : want)
        all = all && s.labels.contains(k) && s.labels.at(k) == v;
      if (all)
        return s.value;
    }
    return std::nullopt;
  }
};

/// The id of the demo connection of `broker`.
std::string demo_connection(http_client& client, const brokerd_instance& server,
                            const std::string& broker) {
  auto r = client.request("GET", "/api/brokers/user/configured", {}, server.auth());
  REQUIRE(r.status == 200);
  for (const auto& c : json_member(parse_json(r.body), "connections").GetArray())
    if (json_string(c, "broker") == broker)
      return json_string(c, "id");
  FAIL("no demo connection of " << broker);
  return {};
}

std::string market_order(const std::string& conn, const std::string& client_order_id) {
  return R"({"connectionId":")" + conn + R"(","symbol":"AAPL","side":"buy","type":"market",)" +
         R"("quantity":"1","clientOrderId":")" + client_order_id + R"("})";
}

} // namespace

TEST_CASE("the metrics parser refuses what Prometheus would refuse", "[metrics]") {
  CHECK(scrape{"# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"\"} 2\n"}
            .problems.empty());
  CHECK_FALSE(scrape{"# HELP a A.\n# TYPE a gauge\na{x=1} 2\n"}.problems.empty());
  CHECK_FALSE(scrape{"# HELP a A.\n# TYPE a gauge\na 2 3 4\n"}.problems.empty());
  CHECK_FALSE(scrape{"# HELP a A.\n# TYPE a gauge\nb 2\n"}.problems.empty());
  CHECK_FALSE(scrape{"# HELP h A.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                     "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"}
                  .problems.empty());
}

TEST_CASE("brokerd --metrics serves a Prometheus page without a token whose counters move "
          "with orders and that holds no secret",
          "[metrics]") {
  temp_dir dir{"brokerd-metrics"};
  brokerd_instance server{dir.path() / "data", {"--metrics"}};
  http_client client{server.port()};
  auto paper = server.connection();
  auto ibkr = demo_connection(client, server, "ibkr");

  constexpr int orders = 5;
  std::vector<std::string> ids;
  for (int i = 0; i < orders; ++i) {
    auto on = i % 2 == 0 ? paper : ibkr;
    auto r = client.request("POST", "/api/orders", market_order(on, "m-" + std::to_string(i)),
                            server.auth());
    INFO(r.body);
    REQUIRE(r.status == 201);
    ids.push_back(json_string(parse_json(r.body), "id"));
  }
  // Every order acknowledged (or further) before the scrape.
  for (const auto& id : ids) {
    bool acked = wait_until(
        [&] {
          auto r = client.request("GET", "/api/orders/" + id, {}, server.auth());
          auto status = json_string(parse_json(r.body), "status");
          return status != "pending_new";
        },
        std::chrono::seconds{20}, std::chrono::milliseconds{20});
    REQUIRE(acked);
  }

  // One connection test that reaches the paper broker, one that cannot reach an IBKR port.
  auto tested = client.request("POST", "/api/brokers/paper/test", R"({"isPaperTrading":true})",
                               server.auth());
  REQUIRE(tested.status == 200);
  refusing_port refusing;
  auto failed = client.request(
      "POST", "/api/brokers/ibkr/test",
      R"({"credentials":{"host":"127.0.0.1","port":)" + std::to_string(refusing.port()) +
          R"(,"clientId":7}})",
      server.auth());
  REQUIRE(failed.status == 200);

  auto r = client.request("GET", "/metrics"); // no Authorization header
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  scrape page{r.body};
  INFO(r.body);
  for (const auto& p : page.problems)
    FAIL_CHECK(p);

  // Requests released to the broker, ack latency, HTTP latency by route pattern.
  auto paper_orders =
      page.value("brokerd_broker_requests_total",
                 {{"broker", "paper"}, {"connection", paper}, {"lane", "new_order"}});
  REQUIRE(paper_orders);
  CHECK(*paper_orders >= 3);
  auto ibkr_orders = page.value("brokerd_broker_requests_total",
                                {{"broker", "ibkr"}, {"connection", ibkr}, {"lane", "new_order"}});
  REQUIRE(ibkr_orders);
  CHECK(*ibkr_orders >= 2);
  auto ibkr_queries = page.value("brokerd_broker_requests_total",
                                 {{"broker", "ibkr"}, {"connection", ibkr}, {"lane", "query"}});
  REQUIRE(ibkr_queries);
  CHECK(*ibkr_queries > 0); // the session's start-up requests
  for (const std::string broker : {"alpaca", "schwab"}) {
    // Their REST calls (the account at start-up) go through the same mailbox.
    auto conn = demo_connection(client, server, broker);
    auto queries = page.value("brokerd_broker_requests_total",
                              {{"broker", broker}, {"connection", conn}, {"lane", "query"}});
    INFO(broker);
    REQUIRE(queries);
    CHECK(*queries > 0);
    CHECK(page.value("brokerd_broker_rate_limited_total", {{"connection", conn}}) == 0.0);
  }
  CHECK(page.value("brokerd_connection_tests_total", {{"broker", "paper"}, {"result", "ok"}}) ==
        1.0);
  CHECK(page.value("brokerd_connection_tests_total", {{"broker", "ibkr"}, {"result", "failed"}}) ==
        1.0);
  auto paper_acks = page.value("brokerd_order_ack_latency_seconds_count",
                               {{"broker", "paper"}, {"connection", paper}, {"result", "ack"}});
  REQUIRE(paper_acks);
  CHECK(*paper_acks == 3);
  auto ibkr_acks = page.value("brokerd_order_ack_latency_seconds_count",
                              {{"broker", "ibkr"}, {"connection", ibkr}, {"result", "ack"}});
  REQUIRE(ibkr_acks);
  CHECK(*ibkr_acks == 2);
  auto waits = page.value("brokerd_rate_limit_wait_seconds_count",
                          {{"broker", "paper"}, {"connection", paper}, {"lane", "new_order"}});
  REQUIRE(waits);
  CHECK(*waits >= 3);
  auto posts = page.value("brokerd_http_request_duration_seconds_count",
                          {{"route", "/api/orders"}, {"method", "POST"}, {"status_class", "2xx"}});
  REQUIRE(posts);
  CHECK(*posts == orders);
  auto polls = page.value("brokerd_http_request_duration_seconds_count",
                          {{"route", "/api/orders/:id"}, {"method", "GET"}});
  REQUIRE(polls);
  CHECK(*polls >= orders);
  // Session states: every demo connection is ready, and nothing restarted.
  for (const auto& conn : {paper, ibkr}) {
    CHECK(page.value("brokerd_connection_state", {{"connection", conn}, {"state", "ready"}}) ==
          1.0);
    CHECK(page.value("brokerd_connection_state", {{"connection", conn}, {"state", "backoff"}}) ==
          0.0);
    CHECK(page.value("brokerd_connection_reconnects_total", {{"connection", conn}}) == 0.0);
    CHECK(page.value("brokerd_rate_limit_queue_depth",
                     {{"connection", conn}, {"lane", "new_order"}}) == 0.0);
  }

  // No id of an order in a label, no token, no credential of the demo connections.
  for (const auto& id : ids)
    CHECK(r.body.find(id) == std::string::npos);
  CHECK(r.body.find(server.token()) == std::string::npos);
  brokerd::sim::alpaca::config alpaca;
  brokerd::sim::schwab::config schwab;
  for (const auto& secret :
       {alpaca.key_id, alpaca.secret, schwab.app_key, schwab.app_secret, schwab.refresh_token})
    CHECK(r.body.find(secret) == std::string::npos);
  CHECK(r.body.find('@') == std::string::npos); // no e-mail address

  // Only GET and HEAD.
  CHECK(client.request("POST", "/metrics", "{}").status == 405);

  // A removed connection leaves the page: no state, queue or latency of it stays behind.
  REQUIRE(client.request("DELETE", "/api/brokers/" + ibkr, {}, server.auth()).status == 200);
  auto after = client.request("GET", "/metrics");
  REQUIRE(after.status == 200);
  scrape later{after.body};
  for (const auto& p : later.problems)
    FAIL_CHECK(p);
  CHECK(after.body.find("connection=\"" + ibkr + "\"") == std::string::npos);
  CHECK(later.value("brokerd_connection_state", {{"connection", paper}, {"state", "ready"}}) ==
        1.0);
}

TEST_CASE("without --metrics, /metrics is not served", "[metrics]") {
  temp_dir dir{"brokerd-no-metrics"};
  brokerd_instance server{dir.path() / "data"};
  http_client client{server.port()};
  auto r = client.request("GET", "/metrics");
  CHECK(r.status == 404);
  CHECK(r.body.find("brokerd_") == std::string::npos);
}
