#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/database.hpp"
#include "persistence/errc.hpp"
#include "persistence/event.hpp"

namespace brokerd::persistence {

/// A wall clock: nanoseconds since the Unix epoch. Injected so that tests control timestamps.
using wall_clock = std::function<std::int64_t()>;

/// The system's wall clock (std::chrono::system_clock) in ns since the Unix epoch.
std::int64_t system_wall_clock() noexcept;

/// One registry change: put `value` at `key`, or erase `key` when `value` is nullopt.
struct registry_write {
  std::string key;
  std::optional<std::string> value;
};

/// One registry record.
struct registry_entry {
  std::string key;
  std::string value;

  friend bool operator==(const registry_entry&, const registry_entry&) = default;
};

/// One record read from the log: its sequence number (from the key, so known even when the
/// value is damaged) and the decoded event or why it could not be decoded.
struct read_record {
  std::uint64_t seq = 0;
  std::expected<event, error> value;
};

/// One caller's part of a group commit: its events and the registry writes that must land
/// together with them.
struct append_group {
  std::span<event> events;
  std::span<const registry_write> registry;
};

/// The event log and the registry, on one `database`.
///
/// Threads: appends and registry writes come from one thread at a time (the event-log actor
/// in brokerd); reads may run on any thread concurrently with them.
///
/// Crash behaviour: every write is one RocksDB WriteBatch, so a crash mid-append leaves all of
/// it or none of it: never some events of a batch, never an event without its order-index
/// entry, never events without the registry writes committed with them. After a process crash
/// every append that returned success is present; after a power loss every append made with
/// `sync` is present, later unsynced appends may be missing (from the newest backwards, with
/// no gap in the sequence numbers that remain). Reads change nothing, so a crash during one
/// loses nothing.
class event_log {
public:
  /// Opens the database at `dir` in `mode` (see `database::open` for its errors) and finds
  /// the last sequence number. `clock` stamps appended events; empty means
  /// `system_wall_clock`.
  static std::expected<event_log, error> open(const std::filesystem::path& dir, open_mode mode,
                                              wall_clock clock = {});

  /// Takes over an open database and finds the last sequence number.
  static std::expected<event_log, error> open(database db, wall_clock clock = {});

  /// Moves the handle (not while another thread uses it); the moved-from log must not be
  /// used again.
  event_log(event_log&&) noexcept;
  event_log& operator=(event_log&&) noexcept;
  event_log(const event_log&) = delete;
  event_log& operator=(const event_log&) = delete;
  /// Closes the database; nothing that an append returned success for is lost.
  ~event_log();

  /// Appends `events` in one atomic write: assigns each the next sequence numbers (gap-free,
  /// continuing after the last one stored, also across restarts) and the clock's time, and
  /// writes each event with its order-index entry. With `sync` the WAL is fsynced before
  /// returning: the events then survive a power loss; without it they survive a process
  /// crash only. Returns the last sequence number assigned (`last_seq()` when `events` is
  /// empty). On failure nothing is written, no sequence number is consumed (the next append
  /// reuses them) and the events' seq and ts_ns are reset to 0. Fails with `read_only`
  /// outside `read_write` mode, `invalid_argument` for an event without a type, with a
  /// version outside 1..event_version or an order id holding a NUL byte, and `io_error`
  /// when the write fails. A crash during the call leaves all of the events or none.
  std::expected<std::uint64_t, error> append(std::span<event> events, bool sync);

  /// As `append(events, sync)`, committing `registry` writes in the same atomic write: a
  /// crash leaves the events and the registry changes together or neither.
  std::expected<std::uint64_t, error> append(std::span<event> events, bool sync,
                                             std::span<const registry_write> registry);

  /// Group commit: appends every batch in one atomic write (one WAL write, one fsync with
  /// `sync`), numbering the batches' events in order. Null pointers are skipped. Returns the
  /// last sequence number assigned. Success, failure and crash behave as `append` for the
  /// whole group: all batches or none.
  std::expected<std::uint64_t, error> append_batches(std::span<event_batch* const> batches,
                                                     bool sync);

  /// Group commit with registry writes: every group's events and registry writes in one
  /// atomic write. The general form of the appends above.
  std::expected<std::uint64_t, error> commit(std::span<const append_group> groups, bool sync);

  /// The last sequence number stored (0 for an empty log). For a secondary, as of the last
  /// `poll_after` or `catch_up`.
  [[nodiscard]] std::uint64_t last_seq() const noexcept;

  /// Changes each time registry writes of this handle are stored (after they are readable).
  /// A cache of registry reads keeps the generation read *before* reading and is stale once
  /// it differs. Writes of other processes or handles are not counted.
  [[nodiscard]] std::uint64_t registry_generation() const noexcept {
    return registry_generation_.load(std::memory_order_acquire);
  }

  /// Reads up to `limit` records with seq >= `from_seq`, in sequence order. A record that
  /// cannot be decoded, or whose "seq" differs from its key, is returned with its sequence
  /// number and a `corrupt_record` (or `unsupported_version`) error, and reading goes on past
  /// it. Fails as a whole only when RocksDB cannot read (`io_error`, `corrupt_database`).
  [[nodiscard]] std::expected<std::vector<read_record>, error> read_range(std::uint64_t from_seq,
                                                                          std::size_t limit) const;

  /// Visits every record with `from_seq` <= seq <= `to_seq` in sequence order, through one
  /// consistent view of the log, until `visit` returns false. Damaged records are visited
  /// like in `read_range` (a key of the wrong shape with seq 0). One record object is reused
  /// for every call, its event's storage with it, so that a scan allocates almost nothing:
  /// the visitor must not keep a reference to it, but may move the event out. Fails only
  /// when RocksDB cannot read.
  std::expected<void, error> scan(std::uint64_t from_seq, std::uint64_t to_seq,
                                  const std::function<bool(read_record&)>& visit) const;

  /// Reads every event of order `order_id` through the order index, in sequence order. An
  /// index entry whose event is missing or damaged is returned as an error record with its
  /// sequence number.
  [[nodiscard]] std::expected<std::vector<read_record>, error>
  read_order(std::string_view order_id) const;

  /// For followers: catches up with the writer (secondary handles; see
  /// `database::try_catch_up`), then reads up to `limit` records after `seq`. On a read-only
  /// handle it reads the snapshot taken at open; on the writer's handle the newest data.
  [[nodiscard]] std::expected<std::vector<read_record>, error> poll_after(std::uint64_t seq,
                                                                          std::size_t limit);

  /// Catches up with the writer (secondary handles) and refreshes `last_seq()`. Changes
  /// nothing in the database.
  std::expected<void, error> catch_up();

  /// Forces the WAL to disk: every append made so far then survives a power loss (used at
  /// shutdown after unsynced appends). Fails with `read_only` outside `read_write` mode.
  std::expected<void, error> sync_wal();

  /// Writes `value` at registry `key`, fsynced with `sync`. Writer thread only; fails with
  /// `read_only` outside `read_write` mode, `invalid_argument` for an empty key. A crash
  /// leaves the old value or the new one, never a mix.
  std::expected<void, error> put(std::string_view key, std::string_view value, bool sync = true);

  /// Reads registry `key`: nullopt when it does not exist, an error only when reading fails.
  /// Sees every write that returned before the call (for a secondary: as of its last catch-up).
  [[nodiscard]] std::expected<std::optional<std::string>, error> get(std::string_view key) const;

  /// Erases registry `key` (erasing a missing key succeeds), fsynced with `sync`. Writer
  /// thread only; a crash leaves the key or its absence.
  std::expected<void, error> erase(std::string_view key, bool sync = true);

  /// Every registry record whose key starts with `prefix`, in key order.
  [[nodiscard]] std::expected<std::vector<registry_entry>, error>
  scan_prefix(std::string_view prefix) const;

  /// The underlying database.
  [[nodiscard]] database& db() noexcept { return db_; }
  [[nodiscard]] const database& db() const noexcept { return db_; }

private:
  event_log(database db, wall_clock clock, std::uint64_t last_seq);

  std::expected<void, error> refresh_last_seq();

  database db_;
  wall_clock clock_;
  std::atomic<std::uint64_t> last_seq_ = 0;
  std::atomic<std::uint64_t> registry_generation_ = 0;
  /// Encoding buffers reused across appends (writer thread only).
  std::string value_buffer_;
  std::string key_buffer_;
};

} // namespace brokerd::persistence
