#pragma once

// Process metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges
// and fixed-bucket histograms in a registry that `GET /metrics` renders. Updating a series is
// one relaxed atomic operation, from any thread; looking a series up takes the registry's lock,
// so the code on the order path looks its series up once (per session, per connection) and
// keeps the reference: a series lives as long as its registry.

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/rate_limit_mailbox.hpp"

namespace brokerd::actors::metrics {

/// The label name/value pairs of one series, in any order: the registry sorts them by name.
using labels = std::vector<std::pair<std::string, std::string>>;

/// A count that only goes up. Lock-free; any thread.
class counter {
public:
  /// Adds `n`.
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }

  /// The current count.
  [[nodiscard]] std::uint64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<std::uint64_t> value_{0};
};

/// A value that goes up and down (a queue depth, a state flag). Lock-free; any thread.
class gauge {
public:
  /// Replaces the value.
  void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }

  /// Adds `delta` (which may be negative).
  void add(std::int64_t delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }

  /// The current value.
  [[nodiscard]] std::int64_t value() const noexcept {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<std::int64_t> value_{0};
};

/// Observations counted into fixed buckets, with their sum. Durations are observed in seconds,
/// as Prometheus names them. Lock-free; any thread. A scrape running during an `observe` may
/// see the sum a little ahead of the buckets; the count is always the buckets' total.
class histogram {
public:
  /// A histogram with the upper bounds `bounds` (strictly increasing, finite; +Inf is implied).
  /// Throws std::invalid_argument otherwise: a programming error.
  explicit histogram(std::span<const double> bounds);

  /// Counts `v` into the first bucket whose bound is >= v, and into the sum.
  void observe(double v) noexcept;

  /// Observes a duration in seconds.
  template <class Rep, class Period> void observe(std::chrono::duration<Rep, Period> d) noexcept {
    observe(std::chrono::duration<double>(d).count());
  }

  /// The upper bounds, without +Inf.
  [[nodiscard]] std::span<const double> bounds() const noexcept { return bounds_; }

  /// Cumulative counts per bound (`le`), the last one for +Inf: bounds().size() + 1 values.
  [[nodiscard]] std::vector<std::uint64_t> cumulative_counts() const;

  /// Observations so far.
  [[nodiscard]] std::uint64_t count() const noexcept;

  /// Sum of the observations so far.
  [[nodiscard]] double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

private:
  std::vector<double> bounds_;
  /// Per bucket, not cumulative; the last one is +Inf.
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

/// Bucket bounds in seconds for latencies and waits: 0.5 ms to 60 s.
inline constexpr std::array<double, 16> duration_buckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

/// Families of series by name, each with its help text and type. Thread-safe. Series are
/// created on first use and never removed, so references to them stay valid for the
/// registry's lifetime.
class registry {
public:
  registry() = default;
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// The counter `name{labels}`, created at 0 on first use. Throws std::invalid_argument for a
  /// name or label name Prometheus does not accept, or a label given twice, and
  /// std::logic_error when `name` is already a family of another type: programming errors.
  counter& counter_series(std::string_view name, std::string_view help, labels l = {});

  /// The gauge `name{labels}`, created at 0 on first use; throws as `counter_series`.
  gauge& gauge_series(std::string_view name, std::string_view help, labels l = {});

  /// The histogram `name{labels}` with `bounds`, created empty on first use; throws as
  /// `counter_series`, and std::logic_error when the family has other bounds. `le` is not a
  /// valid label name here.
  histogram& histogram_series(std::string_view name, std::string_view help,
                              std::span<const double> bounds, labels l = {});

  /// Every family in the text exposition format 0.0.4: families sorted by name, each with
  /// `# HELP` and `# TYPE`, then its series sorted by labels; histograms as `_bucket{le=...}`
  /// (cumulative, ending with le="+Inf"), `_sum` and `_count`. A family without series has
  /// its HELP and TYPE lines only. Label values and help texts are escaped.
  [[nodiscard]] std::string render_prometheus() const;

  /// Stops rendering every series, present or future, whose label `name` has `value` (a
  /// removed connection's). The series stay in memory, so references to them stay valid and
  /// whoever still counts on them does no harm.
  void hide(std::string name, std::string value);

private:
  enum class kind : std::uint8_t { counter, gauge, histogram };
  struct family {
    kind type = kind::counter;
    std::string help;
    std::vector<double> bounds;
    std::map<labels, std::unique_ptr<counter>> counters;
    std::map<labels, std::unique_ptr<gauge>> gauges;
    std::map<labels, std::unique_ptr<histogram>> histograms;
  };

  static std::string_view type_name(kind k) noexcept;
  family& family_of(std::string_view name, std::string_view help, kind type,
                    std::span<const double> bounds, labels& l);

  [[nodiscard]] bool hidden(const labels& l) const;

  mutable std::mutex mutex_;
  std::map<std::string, family, std::less<>> families_;
  std::set<std::pair<std::string, std::string>> hidden_;
};

/// The registry of this process: what brokerd's `GET /metrics` shows and where its
/// instrumentation counts.
registry& default_registry();

/// Escapes a label value for the exposition format: backslash, double quote and line feed.
std::string escape_label_value(std::string_view v);

// -- brokerd's series --------------------------------------------------------------------------

/// The series of one broker connection (labels `broker`, `connection`), looked up once by its
/// session, its supervisor and the router and kept. Probe sessions of connection tests (ids
/// starting with "test_") share the connection label "test", so that testing a broker adds no
/// series per attempt.
struct connection_metrics {
  std::string broker;
  std::string connection;
  /// brokerd_broker_requests_total{lane}: requests released by the rate-limit mailbox to the
  /// broker (a request put back after a 429 counts again when it goes again).
  std::array<counter*, lane_count> requests{};
  /// brokerd_rate_limit_queue_depth{lane}: requests waiting in the mailbox.
  std::array<gauge*, lane_count> queue_depth{};
  /// brokerd_rate_limit_wait_seconds{lane}: from push (or requeue) to release.
  std::array<histogram*, lane_count> queue_wait{};
  /// brokerd_broker_rate_limited_total: HTTP 429 answers and IBKR pacing violations (100).
  counter* rate_limited = nullptr;
  /// brokerd_connection_reconnects_total: sessions restarted by the supervisor.
  counter* reconnects = nullptr;
  /// brokerd_order_ack_latency_seconds{result="ack"}: place sent to the session until the
  /// broker acknowledged the order.
  histogram* ack_latency = nullptr;
  /// brokerd_order_ack_latency_seconds{result="reject"}: until the broker refused it.
  histogram* reject_latency = nullptr;

  /// Counts one error answer of the broker under brokerd_broker_errors_total{code}: an HTTP
  /// status ("404"), a transport failure ("timeout") or a TWS error code ("201"). Looks the
  /// series up (an allocation): for errors, not for the normal path.
  void count_error(std::string_view code) const;

  /// The gauge brokerd_connection_state{state} (1 for the current state, 0 for the others).
  [[nodiscard]] gauge& state(std::string_view state_name) const;
};

/// The series of connection `connection` of `broker`, created on first use; the reference
/// stays valid for the process. Thread-safe.
const connection_metrics& for_connection(std::string_view broker, std::string_view connection);

/// Hides the series of connection `connection` from `GET /metrics` once it is removed.
void retire_connection(std::string_view connection);

/// Counts one connection test (POST /api/brokers/:broker/test) under
/// brokerd_connection_tests_total{broker, result="ok"|"failed"}. Thread-safe.
void record_connection_test(std::string_view broker, bool ok);

} // namespace brokerd::actors::metrics
