// Event-log append throughput against a raw RocksDB WriteBatch loop.
//
// For each setting (WAL sync on/off, batches of 1 and of 32 events) the same stream of
// realistic order.status events is written twice into fresh databases opened with the same
// options: once through event_log::append (encoding, sequence numbers, order index included)
// and once as raw WriteBatches of the pre-encoded bytes (the same keys and values, the index
// entries too). The ratio log/raw is the share of RocksDB's own write rate the log keeps;
// the goal is >= 0.7. Each setting runs a few alternating rounds and reports medians.
//
// usage: bench_event_log [--dir DIR]   (default: a fresh directory under the temp directory)

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/write_batch.h>

#include "persistence/database.hpp"
#include "persistence/event_codec.hpp"
#include "persistence/event_log.hpp"
#include "persistence/rocksdb_access.hpp"

namespace {

namespace fs = std::filesystem;
using namespace brokerd;
using namespace brokerd::persistence;
using bench_clock = std::chrono::steady_clock;

constexpr std::int64_t fixed_ts = 1'714'566'896'123'456'789;
constexpr std::size_t pool_size = 4096;
constexpr int rounds = 3;

struct setting {
  bool sync;
  std::size_t batch;
  /// Events to write per run (bounded also by `max_seconds`).
  std::size_t events;
  double max_seconds;
};

struct run_result {
  std::size_t events = 0;
  std::size_t commits = 0;
  double seconds = 0;
  [[nodiscard]] double events_per_s() const { return static_cast<double>(events) / seconds; }
  [[nodiscard]] double commits_per_s() const { return static_cast<double>(commits) / seconds; }
};

engine::decimal dec(std::string_view text) {
  auto d = engine::decimal::parse(text);
  if (!d)
    throw std::runtime_error{"bad decimal " + std::string{text}};
  return *d;
}

/// A pool of distinct order.status partial-fill events as a live IBKR/Alpaca session logs them.
std::vector<event> make_pool() {
  std::vector<event> pool;
  pool.reserve(pool_size);
  for (std::size_t i = 0; i < pool_size; ++i) {
    event e;
    e.type = event_types::order_status;
    e.user = "user-" + std::to_string(1000 + i % 97);
    e.connection = "conn-" + std::to_string(1000 + i % 97) + "-alpaca";
    e.broker = engine::broker_id::alpaca;
    e.order_id = "ord-" + std::to_string(100'000'000 + i);
    e.client_order_id = "strat7-" + std::to_string(5'000'000 + i);
    e.broker_order_id = "61e69015-8549-4bfd-b9c3-" + std::to_string(100'000'000'000 + i);
    e.from = engine::order_status::new_;
    e.to = engine::order_status::partially_filled;
    e.symbol = i % 3 == 0 ? "AAPL" : (i % 3 == 1 ? "MSFT" : "BRK.B");
    e.filled_quantity = dec("40");
    e.avg_fill_price = dec("187.2512");
    e.last_quantity = dec("40");
    e.last_price = dec("187.2512");
    e.exec_id = "0001f4e8.65a1b2c3." + std::to_string(i) + ".01";
    e.source = event_source::broker;
    pool.push_back(std::move(e));
  }
  return pool;
}

struct raw_record {
  std::string key;
  std::string value;
  std::string index_key;
};

/// The exact bytes the log writes for `count` events taken from `pool` in order.
std::vector<raw_record> pre_encode(std::vector<event> pool, std::size_t count) {
  std::vector<raw_record> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    event& e = pool[i % pool.size()];
    e.seq = i + 1;
    e.ts_ns = fixed_ts;
    out.push_back(raw_record{seq_key(e.seq), encode_event(e), order_index_key(e.order_id, e.seq)});
  }
  return out;
}

double seconds_since(bench_clock::time_point start) {
  return std::chrono::duration<double>(bench_clock::now() - start).count();
}

run_result run_raw(const fs::path& dir, const setting& s, const std::vector<raw_record>& records,
                   std::size_t limit) {
  auto db = database::open(dir, open_mode::read_write);
  if (!db)
    throw std::runtime_error{db.error().to_string()};
  auto& d = db->internals();
  rocksdb::WriteOptions options;
  options.sync = s.sync;
  run_result r;
  auto start = bench_clock::now();
  for (std::size_t i = 0; i + s.batch <= std::min(limit, records.size()); i += s.batch) {
    rocksdb::WriteBatch batch;
    for (std::size_t k = i; k < i + s.batch; ++k) {
      batch.Put(d.events, records[k].key, records[k].value);
      batch.Put(d.order_index, records[k].index_key, rocksdb::Slice{});
    }
    auto st = d.db->Write(options, &batch);
    if (!st.ok())
      throw std::runtime_error{st.ToString()};
    r.events += s.batch;
    ++r.commits;
    if ((r.commits & 7U) == 0 && seconds_since(start) > s.max_seconds)
      break;
  }
  r.seconds = seconds_since(start);
  return r;
}

run_result run_log(const fs::path& dir, const setting& s, std::vector<event>& pool,
                   std::size_t limit) {
  auto log = event_log::open(dir, open_mode::read_write, [] { return fixed_ts; });
  if (!log)
    throw std::runtime_error{log.error().to_string()};
  run_result r;
  std::size_t offset = 0;
  auto start = bench_clock::now();
  while (r.events + s.batch <= limit) {
    if (offset + s.batch > pool.size())
      offset = 0;
    auto appended = log->append(std::span<event>{pool.data() + offset, s.batch}, s.sync);
    if (!appended)
      throw std::runtime_error{appended.error().to_string()};
    offset += s.batch;
    r.events += s.batch;
    ++r.commits;
    if ((r.commits & 7U) == 0 && seconds_since(start) > s.max_seconds)
      break;
  }
  r.seconds = seconds_since(start);
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) try {
  fs::path base;
  if (argc == 3 && std::string_view{argv[1]} == "--dir") {
    base = fs::path{argv[2]} / "bench_event_log";
  } else if (argc == 1) {
    std::string pattern = (fs::temp_directory_path() / "brokerd-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error{"cannot create a temp directory"};
    base = pattern;
  } else {
    std::fprintf(stderr, "usage: bench_event_log [--dir DIR]\n");
    return 64;
  }
  fs::create_directories(base);

  const std::vector<setting> settings{
      {false, 1, 60'000, 1.5},
      {false, 32, 128'000, 1.5},
      {true, 1, 1'000, 1.0},
      {true, 32, 32 * 1'000, 1.0},
  };

  std::vector<event> pool = make_pool();
  std::size_t sample_bytes = encode_event(pool[0]).size();
  std::printf("event-log append vs raw RocksDB WriteBatch (same keys, values, options)\n");
  std::printf("directory: %s\n", base.c_str());
  std::printf("event: order.status partial fill, ~%zu bytes of JSON + an order-index entry\n",
              sample_bytes);
  std::printf("%d alternating rounds per setting, medians; each run in a fresh database and\n"
              "bounded by its event count and by time (1.5 s with sync off, 1 s with sync on)\n\n",
              rounds);
  std::printf("%-5s %5s %9s %15s %15s %13s %8s\n", "sync", "batch", "events", "raw events/s",
              "log events/s", "log commits/s", "log/raw");

  int run_id = 0;
  for (const auto& s : settings) {
    // Bytes for the raw run: the same sequence of events the log writes.
    auto records = pre_encode(pool, s.events);
    std::vector<double> raw_rates;
    std::vector<double> log_rates;
    std::vector<double> log_commits;
    std::size_t events_written = 0;
    for (int round = 0; round < rounds; ++round) {
      auto raw_dir = base / ("raw-" + std::to_string(run_id));
      auto log_dir = base / ("log-" + std::to_string(run_id));
      ++run_id;
      run_result raw;
      run_result logged;
      if (round % 2 == 0) {
        raw = run_raw(raw_dir, s, records, records.size());
        logged = run_log(log_dir, s, pool, raw.events);
      } else {
        logged = run_log(log_dir, s, pool, s.events);
        raw = run_raw(raw_dir, s, records, logged.events);
      }
      raw_rates.push_back(raw.events_per_s());
      log_rates.push_back(logged.events_per_s());
      log_commits.push_back(logged.commits_per_s());
      events_written = std::max(events_written, logged.events);
      fs::remove_all(raw_dir);
      fs::remove_all(log_dir);
    }
    double raw_rate = median(raw_rates);
    double log_rate = median(log_rates);
    std::printf("%-5s %5zu %9zu %15.0f %15.0f %13.0f %8.2f\n", s.sync ? "on" : "off", s.batch,
                events_written, raw_rate, log_rate, median(log_commits), log_rate / raw_rate);
    std::fflush(stdout);
  }
  if (argc == 1)
    fs::remove_all(base);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_event_log: %s\n", e.what());
  return 1;
}
