#pragma once

// The pieces the gateway benches (bench_alpaca, bench_schwab) share: a burst of orders posted
// to brokerd at t = 0 from a few threads, the order statuses brokerd reports afterwards, and
// the rate-limit figures they print. The simulators differ; the figures are the same.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/http_client.hpp"
#include "tests/support/json.hpp"

namespace brokerd::bench {

using clock_type = std::chrono::steady_clock;

/// Seconds from `a` to `b`.
inline double seconds_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

/// `orders` orders posted to brokerd's POST /api/orders as fast as it takes them, from
/// `posters` threads with a client each, starting when constructed. An order counts as
/// accepted when brokerd answers 201; any other answer, or a request that fails (every one is
/// bounded by the clients' 30 s timeout), counts as refused. The destructor waits for the
/// threads.
class order_burst {
public:
  /// The body of order `index` (0 .. orders-1) sent by poster `poster`.
  using body_of = std::function<std::string(int poster, int index)>;

  order_burst(std::uint16_t port, test::http_client::header_list auth, int orders, body_of body,
              int posters = 3)
      : auth_{std::move(auth)}, body_{std::move(body)}, orders_{orders}, left_{posters},
        start_{clock_type::now()} {
    for (int t = 0; t < posters; ++t)
      posters_.emplace_back([this, port, t] { post_all(port, t); });
  }
  ~order_burst() { join(); }
  order_burst(const order_burst&) = delete;
  order_burst& operator=(const order_burst&) = delete;

  /// Waits until every order was posted. Idempotent.
  void join() {
    for (auto& p : posters_)
      if (p.joinable())
        p.join();
  }

  /// When the burst began: t = 0.
  [[nodiscard]] clock_type::time_point start() const noexcept { return start_; }
  [[nodiscard]] long accepted() const noexcept { return accepted_.load(); }
  [[nodiscard]] long refused() const noexcept { return refused_.load(); }
  /// Milliseconds from t = 0 until the last order was answered; -1 while posting.
  [[nodiscard]] long posting_done_ms() const noexcept { return done_ms_.load(); }

private:
  void post_all(std::uint16_t port, int poster) {
    test::http_client client{port, std::chrono::seconds{30}};
    for (int i = next_.fetch_add(1); i < orders_; i = next_.fetch_add(1)) {
      try {
        auto placed = client.request("POST", "/api/orders", body_(poster, i), auth_);
        (placed.status == 201 ? accepted_ : refused_).fetch_add(1);
      } catch (const std::exception&) {
        refused_.fetch_add(1);
      }
    }
    if (left_.fetch_sub(1) == 1)
      done_ms_.store(static_cast<long>(seconds_between(start_, clock_type::now()) * 1000));
  }

  test::http_client::header_list auth_;
  body_of body_;
  int orders_;
  std::atomic<int> next_{0};
  std::atomic<long> accepted_{0};
  std::atomic<long> refused_{0};
  std::atomic<long> done_ms_{-1};
  std::atomic<int> left_;
  clock_type::time_point start_;
  std::vector<std::thread> posters_;
};

/// How many of the connection's orders brokerd lists per status (GET /api/orders); empty when
/// the list is not answered 200.
inline std::map<std::string, int> order_statuses(test::http_client& control,
                                                 const test::http_client::header_list& auth,
                                                 const std::string& connection) {
  std::map<std::string, int> statuses;
  auto list = control.request("GET", "/api/orders?connectionId=" + connection, {}, auth);
  if (list.status == 200) {
    auto doc = test::parse_json(list.body);
    for (const auto& o : test::json_member(doc, "orders").GetArray())
      ++statuses[test::json_string(o, "status")];
  }
  return statuses;
}

/// What a simulator counted over the measured window, for `print_rate_figures`.
struct rate_figures {
  /// The simulator's limit: requests in any sliding 60 s.
  std::uint32_t limit = 0;
  /// The window's length and the requests the simulator admitted (not 429) in it.
  double window_s = 0;
  std::uint64_t admitted = 0;
  /// 429s in the window and since the simulator started.
  std::uint64_t rate_limited_in_window = 0;
  std::uint64_t rate_limited_in_all = 0;
  /// Requests sent before a Retry-After ran out, since the simulator started.
  std::uint64_t early_retries = 0;
  /// The most requests the simulator admitted in any 60 s, since it started.
  std::uint32_t max_in_any_minute = 0;
};

/// Prints admitted requests per minute and its ratio to the limit (goal >= 0.95), the 429s and
/// early retries (goal 0) and the busiest minute as a share of the limit.
inline void print_rate_figures(const rate_figures& f) {
  double per_minute = f.window_s > 0 ? static_cast<double>(f.admitted) * 60.0 / f.window_s : 0;
  std::printf("   admitted requests/min                   %.2f\n", per_minute);
  std::printf("   utilisation = requests/min / %u        %.3f  (goal >= 0.95)\n", f.limit,
              per_minute / f.limit);
  std::printf("   429s in the window                      %lu, %lu in all  (goal 0)\n",
              static_cast<unsigned long>(f.rate_limited_in_window),
              static_cast<unsigned long>(f.rate_limited_in_all));
  std::printf("   early retries                           %lu in all  (goal 0)\n",
              static_cast<unsigned long>(f.early_retries));
  std::printf("   max admitted in any 60 s                %u  (limit %u) = %.3f of the limit\n",
              f.max_in_any_minute, f.limit, static_cast<double>(f.max_in_any_minute) / f.limit);
}

/// Prints the statuses of `order_statuses` and how brokerd ended after SIGTERM.
inline void print_end(const std::map<std::string, int>& statuses, std::optional<int> exit_status,
                      double stop_ms) {
  std::printf("   brokerd order statuses after the window:");
  for (const auto& [status, n] : statuses)
    std::printf(" %s %d;", status.c_str(), n);
  std::printf("\n");
  if (exit_status)
    std::printf("   SIGTERM -> exit %d after %.0f ms\n", *exit_status, stop_ms);
  else
    std::printf("   SIGTERM -> still running after %.0f ms (killed)\n", stop_ms);
}

} // namespace brokerd::bench
