#pragma once

// Below the interface: the RocksDB handles behind `database`. Included by this library's
// sources and by tests and benchmarks that must write raw records or compare against raw
// RocksDB; everything else uses `database` and `event_log` only.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include "persistence/database.hpp"
#include "persistence/errc.hpp"

namespace brokerd::persistence {

struct database::impl {
  std::filesystem::path dir;
  open_mode mode = open_mode::read_only;
  /// A secondary's private directory, removed on close; empty otherwise.
  std::filesystem::path secondary_dir;
  std::unique_ptr<rocksdb::DB> db;
  /// Every handle opened, destroyed before the database closes.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* events = nullptr;
  rocksdb::ColumnFamilyHandle* order_index = nullptr;
  rocksdb::ColumnFamilyHandle* registry = nullptr;

  impl() = default;
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;
  ~impl();
};

/// The RocksDB options every handle of `mode` is opened with (the database's, and the column
/// families' other than events).
rocksdb::Options make_rocksdb_options(open_mode mode);

/// The events family's options: `base` with 32 KiB blocks and LZ4 compression (when this
/// RocksDB build has it), because the family is read in long sequential scans (replay,
/// start-up rebuild) and written append-only. Table settings are per file: a database written
/// with other settings reads unchanged.
rocksdb::ColumnFamilyOptions make_events_family_options(const rocksdb::Options& base);

/// Converts a RocksDB status into the module's error, prefixing `context` (what was being
/// done, and to which directory or key). Lock failures become `locked`, corruption
/// `corrupt_database`, a missing file `not_found`, other I/O failures `io_error`.
error to_error(const rocksdb::Status& s, std::string_view context);

/// The 8-byte big-endian key of sequence number `seq` in the events family; keys sort in
/// sequence order.
std::string seq_key(std::uint64_t seq);

/// Decodes 8 big-endian bytes at `p`.
std::uint64_t read_big_endian(const char* p) noexcept;

/// The order_index key of (`order_id`, `seq`): order id, NUL, 8-byte big-endian seq.
std::string order_index_key(std::string_view order_id, std::uint64_t seq);

} // namespace brokerd::persistence
