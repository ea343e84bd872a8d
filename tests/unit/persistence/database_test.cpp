#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "persistence/database.hpp"
#include "persistence/event_log.hpp"
#include "persistence/rocksdb_access.hpp"
#include "support/persistence_fixtures.hpp"

using namespace brokerd;
using namespace brokerd::persistence;
using persistence::testing::sample_order;
using persistence::testing::temp_dir;

namespace {

void write_one_event(const std::filesystem::path& dir) {
  auto log = event_log::open(dir, open_mode::read_write);
  REQUIRE(log.has_value());
  event_batch batch{make_submitted_event(sample_order("o-1"))};
  REQUIRE(log->append(batch, false).value() == 1);
}

} // namespace

TEST_CASE("opening a directory that does not exist read-only is a not_found error naming it") {
  temp_dir tmp;
  auto missing = tmp / "nowhere";
  for (auto mode : {open_mode::read_only, open_mode::secondary}) {
    auto db = database::open(missing, mode);
    REQUIRE_FALSE(db.has_value());
    CHECK(db.error().code == errc::not_found);
    CHECK(db.error().message.find(missing.string()) != std::string::npos);
    CHECK(db.error().message.find("does not exist") != std::string::npos);
  }
  CHECK_FALSE(std::filesystem::exists(missing));
}

TEST_CASE("opening an empty directory read-only is a not_found error") {
  temp_dir tmp;
  auto db = database::open(tmp.path(), open_mode::read_only);
  REQUIRE_FALSE(db.has_value());
  CHECK(db.error().code == errc::not_found);
  CHECK(db.error().message.find("no CURRENT file") != std::string::npos);
}

TEST_CASE("opening read-write creates the directory and brokerd's column families") {
  temp_dir tmp;
  auto dir = tmp / "a" / "b";
  {
    auto db = database::open(dir, open_mode::read_write);
    REQUIRE(db.has_value());
    CHECK(db->mode() == open_mode::read_write);
    CHECK(db->path() == dir);
  }
  std::vector<std::string> families;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions{}, dir.string(), &families).ok());
  std::sort(families.begin(), families.end());
  CHECK(families == std::vector<std::string>{"default", "events", "order_index", "registry"});
}

TEST_CASE("a second writer on the same database gets a locked error") {
  temp_dir tmp;
  auto first = database::open(tmp.path(), open_mode::read_write);
  REQUIRE(first.has_value());
  auto second = database::open(tmp.path(), open_mode::read_write);
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == errc::locked);
  CHECK(second.error().message.find("held by another writer") != std::string::npos);
}

TEST_CASE("the writer's lock is released when the database closes") {
  temp_dir tmp;
  { REQUIRE(database::open(tmp.path(), open_mode::read_write).has_value()); }
  CHECK(database::open(tmp.path(), open_mode::read_write).has_value());
}

TEST_CASE("is_held_by_writer tells a running writer from a stopped database") {
  temp_dir tmp;
  CHECK(database::is_held_by_writer(tmp / "none").value() == false);
  {
    auto db = database::open(tmp.path(), open_mode::read_write);
    REQUIRE(db.has_value());
    CHECK(database::is_held_by_writer(tmp.path()).value() == true);
  }
  CHECK(database::is_held_by_writer(tmp.path()).value() == false);
}

TEST_CASE("a database whose CURRENT names a missing MANIFEST is reported damaged") {
  temp_dir tmp;
  write_one_event(tmp.path());
  {
    std::ofstream current{tmp / "CURRENT", std::ios::trunc};
    current << "MANIFEST-999999\n";
  }
  for (auto mode : {open_mode::read_write, open_mode::read_only, open_mode::secondary}) {
    auto db = database::open(tmp.path(), mode);
    REQUIRE_FALSE(db.has_value());
    INFO(db.error().to_string());
    CHECK(db.error().code == errc::corrupt_database);
    CHECK(db.error().message.find(tmp.path().string()) != std::string::npos);
  }
}

TEST_CASE("a database whose MANIFEST is garbage fails to open with an error, not a crash") {
  temp_dir tmp;
  write_one_event(tmp.path());
  for (const auto& entry : std::filesystem::directory_iterator{tmp.path()}) {
    if (entry.path().filename().string().starts_with("MANIFEST-")) {
      std::ofstream manifest{entry.path(), std::ios::trunc | std::ios::binary};
      manifest << std::string(300, '\x5a');
    }
  }
  for (auto mode : {open_mode::read_write, open_mode::read_only, open_mode::secondary}) {
    auto db = database::open(tmp.path(), mode);
    REQUIRE_FALSE(db.has_value());
    INFO(db.error().to_string());
    CHECK(db.error().code == errc::corrupt_database);
  }
}

TEST_CASE("a RocksDB database without brokerd's column families is not opened for reading") {
  temp_dir tmp;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, tmp.path().string(), &raw).ok());
    delete raw;
  }
  auto db = database::open(tmp.path(), open_mode::read_only);
  REQUIRE_FALSE(db.has_value());
  CHECK(db.error().code == errc::invalid_argument);
  CHECK(db.error().message.find("no column family 'events'") != std::string::npos);
}

TEST_CASE("a writer opens a database that holds extra column families") {
  temp_dir tmp;
  {
    auto db = database::open(tmp.path(), open_mode::read_write);
    REQUIRE(db.has_value());
    rocksdb::ColumnFamilyHandle* extra = nullptr;
    auto& d = db->internals();
    REQUIRE(d.db->CreateColumnFamily(rocksdb::ColumnFamilyOptions{}, "later", &extra).ok());
    d.handles.push_back(extra);
  }
  CHECK(database::open(tmp.path(), open_mode::read_write).has_value());
  CHECK(database::open(tmp.path(), open_mode::read_only).has_value());
}

TEST_CASE("a read-only handle does not catch up and cannot sync") {
  temp_dir tmp;
  write_one_event(tmp.path());
  auto db = database::open(tmp.path(), open_mode::read_only);
  REQUIRE(db.has_value());
  CHECK(db->try_catch_up().error().code == errc::invalid_argument);
  CHECK(db->sync_wal().error().code == errc::read_only);
}

TEST_CASE("a read-only open leaves no LOG file behind in the database directory") {
  temp_dir tmp;
  write_one_event(tmp.path());
  auto count_files = [&] {
    return std::distance(std::filesystem::directory_iterator{tmp.path()},
                         std::filesystem::directory_iterator{});
  };
  auto before = count_files();
  { REQUIRE(database::open(tmp.path(), open_mode::read_only).has_value()); }
  CHECK(count_files() == before);
}

TEST_CASE("a secondary's private directory exists while open and is removed on close") {
  temp_dir tmp;
  write_one_event(tmp.path());
  std::filesystem::path secondary_dir;
  {
    auto db = database::open(tmp.path(), open_mode::secondary);
    REQUIRE(db.has_value());
    secondary_dir = db->internals().secondary_dir;
    REQUIRE_FALSE(secondary_dir.empty());
    CHECK(std::filesystem::is_directory(secondary_dir));
    CHECK(db->try_catch_up().has_value());
  }
  CHECK_FALSE(std::filesystem::exists(secondary_dir));
}

TEST_CASE("RocksDB statuses become persistence errors with context") {
  CHECK(to_error(rocksdb::Status::Corruption("bad block"), "reading x").code ==
        errc::corrupt_database);
  CHECK(to_error(rocksdb::Status::IOError("disk full"), "writing x").code == errc::io_error);
  CHECK(to_error(rocksdb::Status::IOError("lock hold by current process"), "opening").code ==
        errc::locked);
  CHECK(to_error(rocksdb::Status::NotFound("k"), "get").code == errc::not_found);
  CHECK(to_error(rocksdb::Status::InvalidArgument("opt"), "open").code == errc::invalid_argument);
  auto e = to_error(rocksdb::Status::IOError("disk full"), "writing x");
  CHECK(e.message.rfind("writing x: ", 0) == 0);
  CHECK(e.message.find("disk full") != std::string::npos);
}

TEST_CASE("sequence keys are big-endian so they sort in sequence order") {
  CHECK(seq_key(1) == std::string("\0\0\0\0\0\0\0\x01", 8));
  CHECK(seq_key(0x0102030405060708ULL) == "\x01\x02\x03\x04\x05\x06\x07\x08");
  CHECK(seq_key(255) < seq_key(256));
  CHECK(read_big_endian(seq_key(0xfedcba9876543210ULL).data()) == 0xfedcba9876543210ULL);
  CHECK(order_index_key("o-1", 2) == std::string("o-1\0\0\0\0\0\0\0\0\x02", 12));
}

TEST_CASE("every error code has a stable text form") {
  CHECK(to_string(errc::io_error) == "io_error");
  CHECK(to_string(errc::corrupt_record) == "corrupt_record");
  CHECK(to_string(errc::corrupt_database) == "corrupt_database");
  CHECK(to_string(errc::not_found) == "not_found");
  CHECK(to_string(errc::invalid_argument) == "invalid_argument");
  CHECK(to_string(errc::read_only) == "read_only");
  CHECK(to_string(errc::locked) == "locked");
  CHECK(to_string(errc::unsupported_version) == "unsupported_version");
  CHECK(error{errc::locked, "held"}.to_string() == "locked: held");
  CHECK(error{errc::io_error, ""}.to_string() == "io_error");
}
