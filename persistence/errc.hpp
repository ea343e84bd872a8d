#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace brokerd::persistence {

/// Error codes of the persistence layer. Values are stable: they appear in logs, tool output
/// and API errors. RocksDB's `Status` is turned into one of these at the module's edge, with
/// the directory or key it concerns in the message.
enum class errc : std::uint8_t {
  /// The storage failed: a read or write to disk, an fsync, a full disk, a permission denied.
  /// Whatever operation reported it did not take effect (an append is all or nothing).
  io_error = 1,
  /// A stored record cannot be decoded: not JSON, a field of the wrong type, a bad decimal or
  /// enum text, or a key of the wrong shape. The message names the field.
  corrupt_record,
  /// RocksDB found its own files damaged (a checksum mismatch, a garbled MANIFEST or CURRENT)
  /// while opening or reading.
  corrupt_database,
  /// The database directory, or a column family it must hold, does not exist.
  not_found,
  /// The caller passed something the log cannot store: an event without a type, an order id
  /// with a NUL byte, an unsupported version, a bad option.
  invalid_argument,
  /// A write was attempted through a handle opened read-only or as a secondary.
  read_only,
  /// Another writer holds the database's lock (a running brokerd, or a second handle in the
  /// same process).
  locked,
  /// A record was written by a newer version of brokerd (its "v" is above `event_version`).
  unsupported_version,
};

/// Returns the stable text form of `x`, e.g. "io_error".
std::string_view to_string(errc x) noexcept;

/// A persistence error: a code plus a message naming the directory, sequence number or field.
struct error {
  errc code;
  std::string message;

  /// Renders "code: message".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const error&, const error&) = default;
};

} // namespace brokerd::persistence
