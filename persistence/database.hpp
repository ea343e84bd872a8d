#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "persistence/errc.hpp"

namespace brokerd::persistence {

/// Names of the column families of brokerd's database: a contract with every reader of an
/// existing database; add, never rename.
namespace column_families {
/// RocksDB's own default family; brokerd stores nothing in it.
inline constexpr std::string_view default_family = "default";
/// Key: the sequence number as 8 big-endian bytes. Value: the event's JSON document.
inline constexpr std::string_view events = "events";
/// Key: order id, a NUL byte, the sequence number as 8 big-endian bytes. Value: empty.
inline constexpr std::string_view order_index = "order_index";
/// Generic key → value records: users, connections, tokens (each under its own key prefix).
inline constexpr std::string_view registry = "registry";
} // namespace column_families

/// How a process uses the database.
enum class open_mode : std::uint8_t {
  /// The one writer (brokerd). Creates the directory and missing column families. Takes the
  /// database's lock: a second writer, in this process or another, gets `errc::locked`.
  read_write,
  /// A reader of a stopped database (replay tools). Sees the data as of the open, including
  /// writes still only in the WAL; never writes anything, takes no lock. Reading a database
  /// that a writer holds this way is not reliable: use `secondary` for that.
  read_only,
  /// A reader of a database a running process holds. Keeps its own small state in a private
  /// directory (under the system's temp directory, removed when the handle closes) and sees
  /// the writer's newer data after each `database::try_catch_up`.
  secondary,
};

/// Returns "read_write", "read_only" or "secondary".
std::string_view to_string(open_mode x) noexcept;

/// One RocksDB database in a directory, holding the column families above. RocksDB stays
/// hidden behind this class; `persistence/rocksdb_access.hpp` reaches below it where a test
/// or a benchmark must.
///
/// Thread safety: every member may be called from any thread concurrently, except that the
/// handle must not be moved or destroyed while another thread uses it.
///
/// Crash behaviour: RocksDB's WAL makes each write batch all or nothing. After a crash of the
/// process every batch whose write returned success is present; after a power loss, every
/// batch written with `sync` (or followed by `sync_wal`) is present and later unsynced ones
/// may be missing, but never half of one.
class database {
public:
  struct impl;

  /// Opens the database at `dir` in `mode`. Fails with `not_found` when `dir` holds no
  /// database and `mode` is not `read_write`; `locked` when another writer holds it (only
  /// `read_write` takes the lock); `corrupt_database` when RocksDB finds its files damaged;
  /// `invalid_argument` when the directory lacks one of brokerd's column families outside
  /// `read_write` mode; `io_error` otherwise. Never throws on a bad database.
  static std::expected<database, error> open(const std::filesystem::path& dir, open_mode mode);

  /// True when a process (this one included) holds the writer's lock of the database at
  /// `dir`; false when the database is stopped or does not exist. Reads the lock without
  /// taking it, so it changes nothing. Tools use it to choose `read_only` or `secondary`.
  static std::expected<bool, error> is_held_by_writer(const std::filesystem::path& dir);

  database(database&&) noexcept;
  database& operator=(database&&) noexcept;
  database(const database&) = delete;
  database& operator=(const database&) = delete;
  /// Closes the database. Data not yet flushed to table files stays in the WAL and is read
  /// back by the next open, so closing loses nothing that was written. A secondary's private
  /// directory is removed.
  ~database();

  /// The mode the database was opened in.
  [[nodiscard]] open_mode mode() const noexcept;

  /// The database directory.
  [[nodiscard]] const std::filesystem::path& path() const noexcept;

  /// For a `secondary`: reads the writer's newest MANIFEST and WAL so that later reads see
  /// what the writer has written since. For `read_write` a no-op (always current). For
  /// `read_only` fails with `invalid_argument` (a read-only handle is a snapshot as of open).
  /// Safe to call while the writer is running; an `io_error` leaves the previous view.
  std::expected<void, error> try_catch_up();

  /// Forces the WAL to disk (fsync) in `read_write` mode; every batch written so far then
  /// survives a power loss. Fails with `read_only` in the other modes.
  std::expected<void, error> sync_wal();

  /// Internals for this library's sources and `rocksdb_access.hpp`.
  [[nodiscard]] impl& internals() noexcept { return *impl_; }
  [[nodiscard]] const impl& internals() const noexcept { return *impl_; }

private:
  explicit database(std::unique_ptr<impl> p) noexcept;
  std::unique_ptr<impl> impl_;
};

} // namespace brokerd::persistence
