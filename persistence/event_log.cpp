#include "persistence/event_log.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <utility>

#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include "persistence/event_codec.hpp"
#include "persistence/rocksdb_access.hpp"

namespace brokerd::persistence {

namespace {

error invalid(std::string message) {
  return error{errc::invalid_argument, std::move(message)};
}

error corrupt(std::string message) {
  return error{errc::corrupt_record, std::move(message)};
}

void put_big_endian(std::string& out, std::uint64_t v) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(v & 0xffU);
    v >>= 8;
  }
  out.append(bytes, sizeof bytes);
}

std::string_view view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

std::string hex(std::string_view bytes) {
  constexpr std::size_t max_shown = 32;
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max_shown; ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out += digits[b >> 4];
    out += digits[b & 0xfU];
  }
  if (bytes.size() > max_shown)
    out += "...";
  return out;
}

std::expected<void, error> check_event(const event& e) {
  if (e.type.empty())
    return std::unexpected(invalid("an event needs a type"));
  if (e.version < 1 || e.version > event_version)
    return std::unexpected(invalid("event version " + std::to_string(e.version) +
                                   " is outside 1.." + std::to_string(event_version)));
  if (e.order_id.find('\0') != std::string::npos)
    return std::unexpected(invalid("an order id must not hold a NUL byte"));
  return {};
}

/// Decodes the stored event `value` into `record` (whose seq is its key's), reusing the
/// storage of the event it holds, and checks the event's seq against the key's.
void decode_stored_reusing(std::string_view value, read_record& record) {
  decode_event_reusing(value, record.value);
  if (record.value && record.value->seq != record.seq)
    record.value = std::unexpected(
        corrupt("the record under this key holds seq " + std::to_string(record.value->seq)));
}

/// Decodes one stored event and checks it against the sequence number of its key.
std::expected<event, error> decode_stored(std::uint64_t seq, std::string_view value) {
  auto decoded = decode_event(value);
  if (decoded && decoded->seq != seq)
    decoded = std::unexpected(
        corrupt("the record under this key holds seq " + std::to_string(decoded->seq)));
  return decoded;
}

std::string describe(const database& db) {
  return "'" + db.path().string() + "'";
}

} // namespace

std::int64_t system_wall_clock() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

event_log::event_log(database db, wall_clock clock, std::uint64_t last_seq)
    : db_(std::move(db)), clock_(std::move(clock)), last_seq_(last_seq) {
  if (!clock_)
    clock_ = system_wall_clock;
}

event_log::event_log(event_log&& other) noexcept
    : db_(std::move(other.db_)), clock_(std::move(other.clock_)), last_seq_(other.last_seq_.load()),
      registry_generation_(other.registry_generation_.load()), value_buffer_(std::move(other.value_buffer_)), key_buffer_(std::move(other.key_buffer_)) {}

event_log& event_log::operator=(event_log&& other) noexcept {
  db_ = std::move(other.db_);
  clock_ = std::move(other.clock_);
  last_seq_ = other.last_seq_.load();
  registry_generation_ = other.registry_generation_.load();
  value_buffer_ = std::move(other.value_buffer_);
  key_buffer_ = std::move(other.key_buffer_);
  return *this;
}

event_log::~event_log() = default;

std::expected<event_log, error> event_log::open(const std::filesystem::path& dir, open_mode mode,
                                                wall_clock clock) {
  auto db = database::open(dir, mode);
  if (!db)
    return std::unexpected(db.error());
  return open(std::move(*db), std::move(clock));
}

std::expected<event_log, error> event_log::open(database db, wall_clock clock) {
  event_log log{std::move(db), std::move(clock), 0};
  if (auto ok = log.refresh_last_seq(); !ok)
    return std::unexpected(ok.error());
  return log;
}

std::expected<void, error> event_log::refresh_last_seq() {
  auto& d = db_.internals();
  std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(rocksdb::ReadOptions{}, d.events)};
  it->SeekToLast();
  // A key of the wrong shape (written by hand) is skipped; read_range reports it.
  while (it->Valid() && it->key().size() != 8)
    it->Prev();
  if (!it->status().ok())
    return std::unexpected(
        to_error(it->status(), "cannot find the last sequence number in " + describe(db_)));
  last_seq_ = it->Valid() ? read_big_endian(it->key().data()) : 0;
  return {};
}

std::uint64_t event_log::last_seq() const noexcept {
  return last_seq_;
}

std::expected<std::uint64_t, error> event_log::append(std::span<event> events, bool sync) {
  append_group group{events, {}};
  return commit(std::span{&group, 1}, sync);
}

std::expected<std::uint64_t, error> event_log::append(std::span<event> events, bool sync,
                                                      std::span<const registry_write> registry) {
  append_group group{events, registry};
  return commit(std::span{&group, 1}, sync);
}

std::expected<std::uint64_t, error> event_log::append_batches(std::span<event_batch* const> batches,
                                                              bool sync) {
  std::vector<append_group> groups;
  groups.reserve(batches.size());
  for (event_batch* b : batches)
    if (b != nullptr)
      groups.push_back(append_group{std::span<event>{*b}, {}});
  return commit(groups, sync);
}

std::expected<std::uint64_t, error> event_log::commit(std::span<const append_group> groups,
                                                      bool sync) {
  if (db_.mode() != open_mode::read_write)
    return std::unexpected(error{errc::read_only, "cannot append: " + describe(db_) + " is open " +
                                                      std::string{to_string(db_.mode())}});
  for (const auto& g : groups) {
    for (const auto& e : g.events)
      if (auto ok = check_event(e); !ok)
        return std::unexpected(ok.error());
    for (const auto& w : g.registry)
      if (w.key.empty())
        return std::unexpected(invalid("a registry key must not be empty"));
  }

  auto& d = db_.internals();
  rocksdb::WriteBatch batch;
  const std::uint64_t first = last_seq_ + 1;
  std::uint64_t seq = last_seq_;
  const std::int64_t now = clock_();
  std::string seq_bytes;
  for (const auto& g : groups) {
    for (auto& e : g.events) {
      e.seq = ++seq;
      e.ts_ns = now;
      encode_event_into(e, value_buffer_);
      seq_bytes.clear();
      put_big_endian(seq_bytes, seq);
      batch.Put(d.events, slice(seq_bytes), slice(value_buffer_));
      if (!e.order_id.empty()) {
        key_buffer_.assign(e.order_id);
        key_buffer_.push_back('\0');
        key_buffer_.append(seq_bytes);
        batch.Put(d.order_index, slice(key_buffer_), rocksdb::Slice{});
      }
    }
    for (const auto& w : g.registry) {
      if (w.value)
        batch.Put(d.registry, slice(w.key), slice(*w.value));
      else
        batch.Delete(d.registry, slice(w.key));
    }
  }
  if (batch.Count() == 0)
    return last_seq_.load();

  rocksdb::WriteOptions options;
  options.sync = sync;
  auto s = d.db->Write(options, &batch);
  if (!s.ok()) {
    for (const auto& g : groups)
      for (auto& e : g.events) {
        e.seq = 0;
        e.ts_ns = 0;
      }
    return std::unexpected(to_error(s, "cannot append seq " + std::to_string(first) + ".." +
                                           std::to_string(seq) + " to " + describe(db_)));
  }
  last_seq_ = seq;
  // After the write is visible: a reader that saw the old generation before reading may have
  // read the old value, and sees the generation change.
  for (const auto& g : groups)
    if (!g.registry.empty()) {
      registry_generation_.fetch_add(1, std::memory_order_release);
      break;
    }
  return seq;
}

std::expected<void, error> event_log::scan(std::uint64_t from_seq, std::uint64_t to_seq,
                                           const std::function<bool(read_record&)>& visit) const {
  const auto& d = db_.internals();
  std::string start = seq_key(from_seq);
  std::string end;
  rocksdb::Slice end_slice;
  rocksdb::ReadOptions options;
  // A scan reads each block once: caching it would only evict the blocks point reads need.
  options.fill_cache = false;
  if (to_seq != std::numeric_limits<std::uint64_t>::max()) {
    end = seq_key(to_seq + 1);
    end_slice = slice(end);
    options.iterate_upper_bound = &end_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(options, d.events)};
  // One record for the whole scan: its event's storage is reused from record to record.
  read_record record;
  for (it->Seek(slice(start)); it->Valid(); it->Next()) {
    auto key = it->key();
    if (key.size() != 8) {
      read_record damaged{0, std::unexpected(corrupt("events key of " + std::to_string(key.size()) +
                                                     " bytes: " + hex(view(key))))};
      if (!visit(damaged))
        break;
      continue;
    }
    record.seq = read_big_endian(key.data());
    decode_stored_reusing(view(it->value()), record);
    if (!visit(record))
      break;
  }
  if (!it->status().ok())
    return std::unexpected(to_error(it->status(), "cannot read events from seq " +
                                                      std::to_string(from_seq) + " in " +
                                                      describe(db_)));
  return {};
}

std::expected<std::vector<read_record>, error> event_log::read_range(std::uint64_t from_seq,
                                                                     std::size_t limit) const {
  std::vector<read_record> out;
  if (limit == 0)
    return out;
  out.reserve(std::min<std::size_t>(limit, 4096));
  auto ok = scan(from_seq, std::numeric_limits<std::uint64_t>::max(), [&](read_record& r) {
    out.push_back(std::move(r));
    return out.size() < limit;
  });
  if (!ok)
    return std::unexpected(ok.error());
  return out;
}

std::expected<std::vector<read_record>, error>
event_log::read_order(std::string_view order_id) const {
  const auto& d = db_.internals();
  std::string prefix{order_id};
  prefix.push_back('\0');
  std::vector<std::uint64_t> seqs;
  {
    std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(rocksdb::ReadOptions{}, d.order_index)};
    for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)); it->Next()) {
      if (it->key().size() == prefix.size() + 8)
        seqs.push_back(read_big_endian(it->key().data() + prefix.size()));
    }
    if (!it->status().ok())
      return std::unexpected(
          to_error(it->status(), "cannot read the order index of '" + std::string{order_id} + "'"));
  }
  std::vector<read_record> out;
  out.reserve(seqs.size());
  rocksdb::PinnableSlice value;
  for (std::uint64_t seq : seqs) {
    value.Reset();
    std::string key = seq_key(seq);
    auto s = d.db->Get(rocksdb::ReadOptions{}, d.events, slice(key), &value);
    if (s.IsNotFound()) {
      out.push_back(read_record{
          seq, std::unexpected(corrupt("the order index names an event that is missing"))});
      continue;
    }
    if (!s.ok())
      return std::unexpected(to_error(s, "cannot read seq " + std::to_string(seq)));
    auto decoded = decode_stored(seq, view(value));
    if (decoded && decoded->order_id != order_id)
      decoded = std::unexpected(corrupt("indexed under order '" + std::string{order_id} +
                                        "' but holds order '" + decoded->order_id + "'"));
    out.push_back(read_record{seq, std::move(decoded)});
  }
  return out;
}

std::expected<void, error> event_log::catch_up() {
  if (db_.mode() == open_mode::secondary)
    if (auto ok = db_.try_catch_up(); !ok)
      return ok;
  return refresh_last_seq();
}

std::expected<std::vector<read_record>, error> event_log::poll_after(std::uint64_t seq,
                                                                     std::size_t limit) {
  if (db_.mode() != open_mode::read_only)
    if (auto ok = catch_up(); !ok)
      return std::unexpected(ok.error());
  return read_range(seq + 1, limit);
}

std::expected<void, error> event_log::sync_wal() {
  return db_.sync_wal();
}

std::expected<void, error> event_log::put(std::string_view key, std::string_view value, bool sync) {
  registry_write w{std::string{key}, std::string{value}};
  if (auto ok = append({}, sync, std::span{&w, 1}); !ok)
    return std::unexpected(ok.error());
  return {};
}

std::expected<void, error> event_log::erase(std::string_view key, bool sync) {
  registry_write w{std::string{key}, std::nullopt};
  if (auto ok = append({}, sync, std::span{&w, 1}); !ok)
    return std::unexpected(ok.error());
  return {};
}

std::expected<std::optional<std::string>, error> event_log::get(std::string_view key) const {
  const auto& d = db_.internals();
  std::string value;
  auto s = d.db->Get(rocksdb::ReadOptions{}, d.registry, slice(key), &value);
  if (s.IsNotFound())
    return std::optional<std::string>{};
  if (!s.ok())
    return std::unexpected(to_error(s, "cannot read registry key '" + std::string{key} + "'"));
  return std::optional<std::string>{std::move(value)};
}

std::expected<std::vector<registry_entry>, error>
event_log::scan_prefix(std::string_view prefix) const {
  const auto& d = db_.internals();
  std::vector<registry_entry> out;
  std::unique_ptr<rocksdb::Iterator> it{d.db->NewIterator(rocksdb::ReadOptions{}, d.registry)};
  for (it->Seek(slice(prefix)); it->Valid() && it->key().starts_with(slice(prefix)); it->Next())
    out.push_back(registry_entry{std::string{view(it->key())}, std::string{view(it->value())}});
  if (!it->status().ok())
    return std::unexpected(
        to_error(it->status(), "cannot scan registry prefix '" + std::string{prefix} + "'"));
  return out;
}

} // namespace brokerd::persistence
