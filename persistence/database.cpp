#include "persistence/database.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdlib>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <rocksdb/convenience.h>
#include <rocksdb/env.h>
#include <rocksdb/table.h>

#include "persistence/rocksdb_access.hpp"

namespace brokerd::persistence {

namespace {

namespace fs = std::filesystem;

/// Discards RocksDB's informational log: a read-only handle must not create or rotate the LOG
/// file in a directory it only reads.
class silent_logger final : public rocksdb::Logger {
public:
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

error io(std::string message) {
  return error{errc::io_error, std::move(message)};
}

std::string describe(const fs::path& dir) {
  return "'" + dir.string() + "'";
}

/// Creates a fresh private directory for a secondary handle's own state.
std::expected<fs::path, error> make_secondary_dir() {
  std::error_code ec;
  fs::path base = fs::temp_directory_path(ec);
  if (ec)
    return std::unexpected(io("no temp directory for the secondary handle: " + ec.message()));
  std::string pattern = (base / "brokerd-secondary-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    return std::unexpected(io("cannot create " + pattern + ": " +
                              std::error_code{errno, std::generic_category()}.message()));
  return fs::path{pattern};
}

/// A file missing from a database whose CURRENT file exists (a MANIFEST or a table file it
/// names) means the database is damaged, not absent.
error damaged(error e) {
  if (e.code == errc::not_found)
    e.code = errc::corrupt_database;
  return e;
}

bool is_ours(const std::string& name) {
  return name == column_families::events || name == column_families::order_index ||
         name == column_families::registry;
}

/// Why a database lacks brokerd's family `name`: a damaged MANIFEST lists no families at all
/// (RocksDB then reports only "default"), so a plain read-only open tells damage from a
/// database that is simply not brokerd's.
error missing_family(const fs::path& dir, const std::string& name) {
  rocksdb::Options options;
  options.info_log = std::make_shared<silent_logger>();
  options.max_open_files = -1;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(options, dir.string(), &raw);
  std::unique_ptr<rocksdb::DB> probe{raw};
  if (!s.ok())
    return damaged(to_error(s, "cannot open " + describe(dir)));
  probe->Close().PermitUncheckedError();
  return error{errc::invalid_argument,
               "not a brokerd database: " + describe(dir) + " has no column family '" + name + "'"};
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Helpers shared with the rest of the library (rocksdb_access.hpp)

database::impl::~impl() {
  if (db) {
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h);
    handles.clear();
    // The status is not actionable here: every write already reported its own outcome.
    db->Close().PermitUncheckedError();
    db.reset();
  }
  if (!secondary_dir.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir, ec);
  }
}

rocksdb::Options make_rocksdb_options(open_mode mode) {
  rocksdb::Options o;
  o.create_if_missing = mode == open_mode::read_write;
  o.create_missing_column_families = mode == open_mode::read_write;
  // Required by secondaries, and keeps table files readable by every handle.
  o.max_open_files = -1;
  o.keep_log_file_num = 10;
  if (mode == open_mode::read_only)
    o.info_log = std::make_shared<silent_logger>();
  return o;
}

rocksdb::ColumnFamilyOptions make_events_family_options(const rocksdb::Options& base) {
  rocksdb::ColumnFamilyOptions o{base};
  rocksdb::BlockBasedTableOptions table;
  table.block_size = 32 * 1024;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  auto supported = rocksdb::GetSupportedCompressions();
  if (std::find(supported.begin(), supported.end(), rocksdb::kLZ4Compression) != supported.end())
    o.compression = rocksdb::kLZ4Compression;
  return o;
}

error to_error(const rocksdb::Status& s, std::string_view context) {
  std::string message{context};
  message += ": ";
  message += s.ToString();
  errc code = errc::io_error;
  if (s.IsCorruption())
    code = errc::corrupt_database;
  else if (s.IsNotFound() || s.IsPathNotFound())
    code = errc::not_found;
  else if (s.IsInvalidArgument() || s.IsNotSupported())
    code = errc::invalid_argument;
  else if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    code = errc::locked;
  return error{code, std::move(message)};
}

std::string seq_key(std::uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(seq & 0xffU);
    seq >>= 8;
  }
  return key;
}

std::uint64_t read_big_endian(const char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string order_index_key(std::string_view order_id, std::uint64_t seq) {
  std::string key;
  key.reserve(order_id.size() + 9);
  key.append(order_id);
  key.push_back('\0');
  key.append(seq_key(seq));
  return key;
}

// ---------------------------------------------------------------------------------------------
// database

std::string_view to_string(open_mode x) noexcept {
  switch (x) {
  case open_mode::read_write:
    return "read_write";
  case open_mode::read_only:
    return "read_only";
  case open_mode::secondary:
    return "secondary";
  }
  return "invalid";
}

database::database(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
database::database(database&&) noexcept = default;
database& database::operator=(database&&) noexcept = default;
database::~database() = default;

open_mode database::mode() const noexcept {
  return impl_->mode;
}

const std::filesystem::path& database::path() const noexcept {
  return impl_->dir;
}

std::expected<database, error> database::open(const std::filesystem::path& dir, open_mode mode) {
  std::error_code ec;
  bool exists = fs::exists(dir / "CURRENT", ec);
  if (mode != open_mode::read_write && !exists) {
    bool dir_exists = fs::is_directory(dir, ec);
    return std::unexpected(
        error{errc::not_found, "no database at " + describe(dir) +
                                   (dir_exists ? " (the directory holds no CURRENT file)"
                                               : " (the directory does not exist)")});
  }
  if (mode == open_mode::read_write) {
    fs::create_directories(dir, ec);
    if (ec)
      return std::unexpected(io("cannot create " + describe(dir) + ": " + ec.message()));
  }

  rocksdb::Options options = make_rocksdb_options(mode);
  std::vector<std::string> existing{std::string{rocksdb::kDefaultColumnFamilyName}};
  if (exists) {
    existing.clear();
    auto s = rocksdb::DB::ListColumnFamilies(options, dir.string(), &existing);
    if (!s.ok())
      return std::unexpected(
          damaged(to_error(s, "cannot read the column families of " + describe(dir))));
  }

  // A writer must open every family the database has; readers open brokerd's only.
  std::vector<std::string> names{
      std::string{rocksdb::kDefaultColumnFamilyName}, std::string{column_families::events},
      std::string{column_families::order_index}, std::string{column_families::registry}};
  if (mode == open_mode::read_write) {
    for (const auto& name : existing)
      if (std::find(names.begin(), names.end(), name) == names.end())
        names.push_back(name);
  } else {
    for (const auto& name : names)
      if (is_ours(name) && std::find(existing.begin(), existing.end(), name) == existing.end())
        return std::unexpected(missing_family(dir, name));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.reserve(names.size());
  for (const auto& name : names)
    descriptors.emplace_back(name, name == column_families::events
                                       ? make_events_family_options(options)
                                       : rocksdb::ColumnFamilyOptions{options});

  auto p = std::make_unique<impl>();
  p->dir = dir;
  p->mode = mode;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  switch (mode) {
  case open_mode::read_write:
    s = rocksdb::DB::Open(options, dir.string(), descriptors, &p->handles, &raw);
    break;
  case open_mode::read_only:
    s = rocksdb::DB::OpenForReadOnly(options, dir.string(), descriptors, &p->handles, &raw);
    break;
  case open_mode::secondary: {
    auto secondary = make_secondary_dir();
    if (!secondary)
      return std::unexpected(secondary.error());
    p->secondary_dir = *secondary;
    s = rocksdb::DB::OpenAsSecondary(options, dir.string(), p->secondary_dir.string(), descriptors,
                                     &p->handles, &raw);
    break;
  }
  }
  p->db.reset(raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
      return std::unexpected(error{errc::locked, describe(dir) +
                                                     " is held by another writer (a running "
                                                     "brokerd or another handle): " +
                                                     s.ToString()});
    auto e = to_error(s, "cannot open " + describe(dir) + " " + std::string{to_string(mode)});
    return std::unexpected(exists ? damaged(std::move(e)) : std::move(e));
  }
  for (auto* h : p->handles) {
    if (h->GetName() == column_families::events)
      p->events = h;
    else if (h->GetName() == column_families::order_index)
      p->order_index = h;
    else if (h->GetName() == column_families::registry)
      p->registry = h;
  }
  return database{std::move(p)};
}

std::expected<bool, error> database::is_held_by_writer(const std::filesystem::path& dir) {
  std::string lock_path = (dir / "LOCK").string();
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return false;
    return std::unexpected(io("cannot open " + lock_path + ": " +
                              std::error_code{errno, std::generic_category()}.message()));
  }
  // An open-file-description lock query conflicts with the writer's lock even when the
  // writer is this very process.
  struct flock query {};
  query.l_type = F_WRLCK;
  query.l_whence = SEEK_SET;
  query.l_start = 0;
  query.l_len = 0;
  query.l_pid = 0;
  int rc = ::fcntl(fd, F_OFD_GETLK, &query);
  int saved = errno;
  ::close(fd);
  if (rc != 0)
    return std::unexpected(io("cannot query the lock of " + lock_path + ": " +
                              std::error_code{saved, std::generic_category()}.message()));
  return query.l_type != F_UNLCK;
}

std::expected<void, error> database::try_catch_up() {
  switch (impl_->mode) {
  case open_mode::read_write:
    return {};
  case open_mode::read_only:
    return std::unexpected(
        error{errc::invalid_argument, "a read-only handle is a snapshot as of its open; open " +
                                          describe(impl_->dir) + " as secondary to follow it"});
  case open_mode::secondary:
    break;
  }
  auto s = impl_->db->TryCatchUpWithPrimary();
  if (!s.ok())
    return std::unexpected(
        to_error(s, "cannot catch up with the writer of " + describe(impl_->dir)));
  return {};
}

std::expected<void, error> database::sync_wal() {
  if (impl_->mode != open_mode::read_write)
    return std::unexpected(error{errc::read_only, describe(impl_->dir) + " is open " +
                                                      std::string{to_string(impl_->mode)}});
  auto s = impl_->db->SyncWAL();
  if (!s.ok())
    return std::unexpected(to_error(s, "cannot sync the WAL of " + describe(impl_->dir)));
  return {};
}

} // namespace brokerd::persistence
