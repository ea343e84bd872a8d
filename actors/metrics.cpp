#include "actors/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace brokerd::actors::metrics {

namespace {

bool valid_name(std::string_view name, bool colon_ok) {
  auto first = [colon_ok](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
  };
  if (name.empty() || !first(name.front()))
    return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return first(c) || (c >= '0' && c <= '9'); });
}

/// Help text escaping: backslash and line feed.
std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

/// A sample value: integers as such, other values in the shortest form that reads back
/// exactly; +Inf, -Inf and NaN as Prometheus spells them.
std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  std::array<char, 64> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  if (ec != std::errc{})
    return "NaN";
  return std::string{buf.data(), end};
}

/// `{a="x",b="y"}` from sorted labels plus an optional trailing `le`; empty without labels.
std::string render_labels(const labels& l, std::string_view le = {}) {
  if (l.empty() && le.empty())
    return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : l) {
    if (!first)
      out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += escape_label_value(v);
    out += '"';
  }
  if (!le.empty()) {
    if (!first)
      out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
  return out;
}

} // namespace

// -- histogram ---------------------------------------------------------------------------------

histogram::histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
  }
}

void histogram::observe(double v) noexcept {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  auto i = static_cast<std::size_t>(it - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> histogram::cumulative_counts() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

std::uint64_t histogram::count() const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    total += counts_[i].load(std::memory_order_relaxed);
  return total;
}

// -- registry ----------------------------------------------------------------------------------

std::string_view registry::type_name(kind k) noexcept {
  switch (k) {
  case kind::counter:
    return "counter";
  case kind::gauge:
    return "gauge";
  case kind::histogram:
    return "histogram";
  }
  return "untyped";
}

registry::family& registry::family_of(std::string_view name, std::string_view help, kind type,
                                      std::span<const double> bounds, labels& l) {
  if (!valid_name(name, true))
    throw std::invalid_argument("invalid metric name '" + std::string{name} + "'");
  std::sort(l.begin(), l.end());
  for (std::size_t i = 0; i < l.size(); ++i) {
    const auto& key = l[i].first;
    if (!valid_name(key, false) || key.starts_with("__") ||
        (type == kind::histogram && key == "le"))
      throw std::invalid_argument("invalid label name '" + key + "' for " + std::string{name});
    if (i > 0 && key == l[i - 1].first)
      throw std::invalid_argument("label '" + key + "' given twice for " + std::string{name});
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    if (type == kind::histogram)
      (void)histogram{bounds}; // throws for bounds it cannot take
    family f;
    f.type = type;
    f.help = std::string{help};
    f.bounds.assign(bounds.begin(), bounds.end());
    it = families_.emplace(std::string{name}, std::move(f)).first;
  }
  auto& f = it->second;
  if (f.type != type)
    throw std::logic_error("metric " + std::string{name} + " is already a " +
                           std::string{type_name(f.type)});
  if (type == kind::histogram &&
      !std::equal(f.bounds.begin(), f.bounds.end(), bounds.begin(), bounds.end()))
    throw std::logic_error("histogram " + std::string{name} + " already has other buckets");
  return f;
}

counter& registry::counter_series(std::string_view name, std::string_view help, labels l) {
  std::lock_guard lock{mutex_};
  auto& f = family_of(name, help, kind::counter, {}, l);
  auto& slot = f.counters[std::move(l)];
  if (!slot)
    slot = std::make_unique<counter>();
  return *slot;
}

gauge& registry::gauge_series(std::string_view name, std::string_view help, labels l) {
  std::lock_guard lock{mutex_};
  auto& f = family_of(name, help, kind::gauge, {}, l);
  auto& slot = f.gauges[std::move(l)];
  if (!slot)
    slot = std::make_unique<gauge>();
  return *slot;
}

histogram& registry::histogram_series(std::string_view name, std::string_view help,
                                      std::span<const double> bounds, labels l) {
  std::lock_guard lock{mutex_};
  auto& f = family_of(name, help, kind::histogram, bounds, l);
  auto& slot = f.histograms[std::move(l)];
  if (!slot)
    slot = std::make_unique<histogram>(bounds);
  return *slot;
}

void registry::hide(std::string name, std::string value) {
  std::lock_guard lock{mutex_};
  hidden_.emplace(std::move(name), std::move(value));
}

bool registry::hidden(const labels& l) const {
  if (hidden_.empty())
    return false;
  for (const auto& label : l)
    if (hidden_.contains(label))
      return true;
  return false;
}

std::string registry::render_prometheus() const {
  std::lock_guard lock{mutex_};
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + ' ' + escape_help(f.help) + '\n';
    out += "# TYPE " + name + ' ' + std::string{type_name(f.type)} + '\n';
    for (const auto& [l, c] : f.counters)
      if (!hidden(l))
        out += name + render_labels(l) + ' ' + std::to_string(c->value()) + '\n';
    for (const auto& [l, g] : f.gauges)
      if (!hidden(l))
        out += name + render_labels(l) + ' ' + std::to_string(g->value()) + '\n';
    for (const auto& [l, h] : f.histograms) {
      if (hidden(l))
        continue;
      auto counts = h->cumulative_counts();
      auto bounds = h->bounds();
      for (std::size_t i = 0; i < counts.size(); ++i) {
        auto le = i < bounds.size() ? format_value(bounds[i]) : std::string{"+Inf"};
        out += name + "_bucket" + render_labels(l, le) + ' ' + std::to_string(counts[i]) + '\n';
      }
      out += name + "_sum" + render_labels(l) + ' ' + format_value(h->sum()) + '\n';
      out += name + "_count" + render_labels(l) + ' ' + std::to_string(counts.back()) + '\n';
    }
  }
  return out;
}

registry& default_registry() {
  // Never destroyed: sessions and the io thread may still count while the process exits.
  static auto* r = new registry;
  return *r;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

// -- brokerd's series --------------------------------------------------------------------------

namespace {

constexpr std::string_view requests_help =
    "Requests the rate-limit mailbox released to the broker, by lane.";
constexpr std::string_view depth_help = "Requests waiting in the rate-limit mailbox, by lane.";
constexpr std::string_view wait_help =
    "Time a request waited in the rate-limit mailbox, from its queueing to its release.";
constexpr std::string_view rate_limited_help =
    "Broker pushbacks: HTTP 429 answers (Alpaca, Schwab) and TWS pacing violations (error 100).";
constexpr std::string_view reconnects_help =
    "Sessions restarted by the connection's supervisor after the session ended.";
constexpr std::string_view ack_help =
    "Time from handing a new order to the session until the broker acknowledged (result=ack) "
    "or refused it (result=reject).";
constexpr std::string_view errors_help =
    "Error answers from the broker by code: HTTP status, transport failure or TWS error code.";
constexpr std::string_view state_help =
    "1 for the connection's current session state, 0 for the other states.";
constexpr std::string_view tests_help =
    "Connection tests (POST /api/brokers/:broker/test) by result.";

} // namespace

void connection_metrics::count_error(std::string_view code) const {
  default_registry()
      .counter_series("brokerd_broker_errors_total", errors_help,
                      {{"broker", broker}, {"connection", connection}, {"code", std::string{code}}})
      .inc();
}

gauge& connection_metrics::state(std::string_view state_name) const {
  return default_registry().gauge_series(
      "brokerd_connection_state", state_help,
      {{"broker", broker}, {"connection", connection}, {"state", std::string{state_name}}});
}

const connection_metrics& for_connection(std::string_view broker, std::string_view connection) {
  static std::mutex mutex;
  static auto* known =
      new std::map<std::pair<std::string, std::string>, std::unique_ptr<connection_metrics>>;
  std::string conn{connection.starts_with("test_") ? std::string_view{"test"} : connection};
  std::lock_guard lock{mutex};
  auto& slot = (*known)[{std::string{broker}, conn}];
  if (slot)
    return *slot;
  auto m = std::make_unique<connection_metrics>();
  m->broker = std::string{broker};
  m->connection = conn;
  auto& reg = default_registry();
  labels base{{"broker", m->broker}, {"connection", m->connection}};
  auto with = [&base](std::string key, std::string value) {
    auto l = base;
    l.emplace_back(std::move(key), std::move(value));
    return l;
  };
  for (std::size_t i = 0; i < lane_count; ++i) {
    std::string in{to_string(static_cast<lane>(i))};
    m->requests[i] =
        &reg.counter_series("brokerd_broker_requests_total", requests_help, with("lane", in));
    m->queue_depth[i] =
        &reg.gauge_series("brokerd_rate_limit_queue_depth", depth_help, with("lane", in));
    m->queue_wait[i] = &reg.histogram_series("brokerd_rate_limit_wait_seconds", wait_help,
                                             duration_buckets, with("lane", in));
  }
  m->rate_limited =
      &reg.counter_series("brokerd_broker_rate_limited_total", rate_limited_help, base);
  m->reconnects = &reg.counter_series("brokerd_connection_reconnects_total", reconnects_help, base);
  m->ack_latency = &reg.histogram_series("brokerd_order_ack_latency_seconds", ack_help,
                                         duration_buckets, with("result", "ack"));
  m->reject_latency = &reg.histogram_series("brokerd_order_ack_latency_seconds", ack_help,
                                            duration_buckets, with("result", "reject"));
  slot = std::move(m);
  return *slot;
}

void retire_connection(std::string_view connection) {
  default_registry().hide("connection", std::string{connection});
}

void record_connection_test(std::string_view broker, bool ok) {
  default_registry()
      .counter_series("brokerd_connection_tests_total", tests_help,
                      {{"broker", std::string{broker}}, {"result", ok ? "ok" : "failed"}})
      .inc();
}

} // namespace brokerd::actors::metrics
