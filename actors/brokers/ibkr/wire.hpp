#pragma once

// The TWS API socket protocol below the messages: errors, the client hello and the server
// answer, framing, and typed field reading and writing. Pure: no I/O, no actor, no socket.
// Section numbers (§) refer to the IBKR TWS protocol reference (ibkr-tws-protocol.md).

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/decimal.hpp"

namespace brokerd::actors::ibkr {

// -- errors ------------------------------------------------------------------------------------

/// Error codes of the TWS codec. Values are stable: they appear in logs.
enum class errc : std::uint8_t {
  /// A frame header announces more than `max_frame_length` bytes (§2.4), or an outgoing
  /// message would be longer. The byte stream cannot be resynchronized: close the socket.
  frame_too_long = 1,
  /// A frame header announces a length of 0. Close the socket.
  empty_frame,
  /// A frame's payload does not end with NUL, so its last field is cut (§2.4). Close the socket.
  unterminated_frame,
  /// The client hello is not `API\0`, a 4-byte length and `v<min>[..<max>][ <options>]`
  /// (§2.1), or its version string is too long. Close the socket.
  bad_hello,
  /// No version both sides accept: the server answered outside the client's range or below the
  /// oldest layout this codec implements, or a client's range ends below it (§1, §2.2).
  unsupported_version,
  /// The server answered the hello with a redirect (`-1`, §2.2); brokerd does not follow it.
  redirect,
  /// A message has fewer fields than its layout needs. The message names the message, the
  /// field index and the field.
  missing_field,
  /// A message has more fields than its layout at the negotiated version (what stoqey reports as
  /// "unprocessed data left on queue").
  extra_fields,
  /// A field is not of its type: a non-numeric or out-of-range int, a bad decimal, a negative
  /// count, a message-level version below what the layout needs, an unknown condition type.
  bad_field,
  /// The message id is not one this codec decodes in that direction. The frame itself is intact,
  /// so a reader may skip it.
  unknown_message,
  /// A value cannot be put on the wire: a NUL inside a text field, a version range out of
  /// bounds, a non-printable connect option, an order the mapping cannot express.
  invalid_argument,
};

/// Returns the stable text form of `x`, e.g. "missing_field".
std::string_view to_string(errc x) noexcept;

/// A codec error: a code plus a message naming the message, field index and field concerned.
struct error {
  errc code;
  std::string message;

  /// Renders "code: message".
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const error&, const error&) = default;
};

// -- versions ----------------------------------------------------------------------------------

/// The highest server version whose layouts this codec implements (§1: the client advertises
/// 178, the simulator implements exactly 178).
inline constexpr std::int32_t max_server_version = 178;
/// The lowest server version whose layouts this codec implements: from 166 the error message
/// has its 6th field (§1, ADVANCED_ORDER_REJECT). Gates between 166 and 178 (169 manual order
/// time, 170 peg offsets, 177 faProfile removed, 178 pendingPriceRevision) are all honoured.
inline constexpr std::int32_t min_server_version = 166;
/// The lowest client version of the length-prefixed ("V100") protocol (§2.1).
inline constexpr std::int32_t v100_version = 100;

// -- framing (§2.4) ----------------------------------------------------------------------------

/// The largest payload length a frame may announce (Java `EDecoder.MAX_MSG_LENGTH`).
inline constexpr std::uint32_t max_frame_length = 0xFFFFFF;

/// Prefixes `payload` with its 4-byte big-endian length. Fails with `frame_too_long` above
/// `max_frame_length` and `empty_frame` for an empty payload.
std::expected<std::string, error> make_frame(std::string_view payload);

/// Cuts a byte stream into frames, however the socket splits it.
///
/// Holds at most one incomplete frame (4 + `max_frame_length` bytes). After the first error the
/// decoder stays failed and returns that error on every call: the stream is desynchronized and
/// the connection must be closed. Not thread-safe; one decoder per connection, used on its
/// strand.
class frame_decoder {
public:
  /// Consumes all of `bytes`; calls `on_payload(std::string_view)` for every frame completed, in
  /// order. The payload includes its final NUL and is valid during the call only. On a bad
  /// header or payload, returns the error; frames completed before it were delivered.
  template <class F> std::expected<void, error> feed(std::string_view bytes, F&& on_payload) {
    while (!bytes.empty()) {
      auto used = consume(bytes);
      if (!used)
        return std::unexpected(std::move(used.error()));
      bytes.remove_prefix(*used);
      if (ready_) {
        on_payload(std::string_view{payload_});
        reset_frame();
      }
    }
    return {};
  }

  /// Consumes bytes from the front of `bytes` up to the end of at most one frame and returns
  /// how many it used. When a frame completes, `frame_ready()` turns true; the caller reads
  /// `frame_payload()` and calls `next_frame()` before consuming more (until then `consume`
  /// uses no bytes).
  std::expected<std::size_t, error> consume(std::string_view bytes);

  /// True when a complete frame waits in `frame_payload()`.
  [[nodiscard]] bool frame_ready() const noexcept { return ready_; }
  /// The completed frame's payload, final NUL included.
  [[nodiscard]] std::string_view frame_payload() const noexcept { return payload_; }
  /// Drops the completed frame and starts the next one.
  void next_frame() noexcept { reset_frame(); }

  /// Bytes held for the frame in progress (header and payload).
  [[nodiscard]] std::size_t buffered() const noexcept { return header_have_ + payload_.size(); }
  /// The error the decoder failed with, if any.
  [[nodiscard]] const std::optional<error>& failure() const noexcept { return failure_; }

private:
  void reset_frame() noexcept;

  unsigned char header_[4] = {};
  std::size_t header_have_ = 0;
  std::size_t length_ = 0;
  std::string payload_;
  bool ready_ = false;
  std::optional<error> failure_;
};

// -- handshake (§2.1 to §2.3) -----------------------------------------------------------------

/// The unframed hello a client sends first: `API\0`, a 4-byte big-endian length, then
/// `v<min>..<max>` (or `v<n>` when equal) and optionally a space and connect options (§2.1).
struct client_hello {
  /// The version range the client offers.
  std::int32_t min_version = v100_version;
  std::int32_t max_version = max_server_version;
  /// Connect options such as `+PACEAPI`; printable ASCII; empty for none.
  std::string connect_options;

  /// The version string, e.g. "v100..178" or "v178 +PACEAPI".
  [[nodiscard]] std::string version_string() const;
  /// The hello bytes. Fails with `invalid_argument` unless 100 <= min <= max and max lies in
  /// [`min_server_version`, `max_server_version`] (a brokerd client never offers versions
  /// whose layouts it lacks), or when the options are not printable ASCII.
  [[nodiscard]] std::expected<std::string, error> encode() const;

  /// A hello parsed from the front of a byte stream, and how many bytes it took.
  struct parsed;
  /// Server side: parses a hello from the start of `bytes` (which may hold more after it).
  /// Returns nothing while more bytes are needed; `bad_hello` for a wrong magic, a length of
  /// 0 or above `max_hello_length`, or a malformed version string. Any version range is
  /// accepted here; `choose_server_version` decides.
  static std::expected<std::optional<parsed>, error> decode(std::string_view bytes);

  friend bool operator==(const client_hello&, const client_hello&) = default;
};

struct client_hello::parsed {
  client_hello hello;
  /// Bytes of the stream the hello used; framed messages start after them.
  std::size_t consumed = 0;
};

/// The longest version string a server accepts in a hello. Real ones are under 30 bytes.
inline constexpr std::uint32_t max_hello_length = 1024;

/// The server's answer to the hello: the first framed message, exactly two fields (§2.2),
/// e.g. `176\0` `20230228 17:24:14 EST\0`.
struct server_hello {
  std::int32_t server_version = max_server_version;
  /// `YYYYMMDD HH:MM:SS <TZ>`.
  std::string connection_time;

  /// The framed answer; `invalid_argument` for a NUL inside the time.
  [[nodiscard]] std::expected<std::string, error> encode() const;
  /// Client side: parses the first frame's payload. `redirect` when the version is -1 (the
  /// message carries the host), `missing_field`/`extra_fields`/`bad_field` otherwise.
  static std::expected<server_hello, error> decode(std::string_view payload);

  friend bool operator==(const server_hello&, const server_hello&) = default;
};

/// Client side (§1, §2.2): accepts the version the server answered if it lies within the
/// client's offered range and not below `min_server_version`; otherwise `unsupported_version`
/// naming the answered version and the bound it violates (Java raises client error 506 here).
std::expected<std::int32_t, error> accept_server_version(const client_hello& offered,
                                                         std::int32_t answered);

/// Server side (§1, §9.1): the version to answer, `min(client max, server_max)`. Fails with
/// `unsupported_version` when that is below the client's min or below `min_server_version`;
/// the server then closes the socket.
std::expected<std::int32_t, error>
choose_server_version(const client_hello& offered, std::int32_t server_max = max_server_version);

// -- field values (§2.4) -----------------------------------------------------------------------

/// The int sentinel that means unset (`Integer.MAX_VALUE`).
inline constexpr std::string_view unset_int_text = "2147483647";
/// The double sentinel that means unset (`Double.MAX_VALUE` as Java prints it).
inline constexpr std::string_view unset_double_text = "1.7976931348623157E308";

/// True for the texts that mean "unset" in an optional numeric field: "", `unset_int_text`,
/// `unset_double_text` and `9223372036854775807` (Java's `readDecimal` accepts all four).
bool is_unset_text(std::string_view text) noexcept;

/// Parses a number as TWS prints it into a decimal: `100`, `-0.5`, `187.25`, `1.0E-4`,
/// `1.2345678E7`. Digits past the 8th fraction digit are rounded half to even (TWS prints
/// doubles such as average prices with up to 17 significant digits). No floating point is
/// involved. Fails on anything else, on sentinels and outside the decimal range; the error
/// text says why.
std::expected<engine::decimal, std::string> parse_wire_decimal(std::string_view text);

/// Formats a double as Java's `Double.toString` does for ordinary values: the shortest text
/// that reads back the same, with ".0" added to whole numbers ("0.0", "1.5", "100.0").
std::string format_wire_double(double value);

/// Decodes Java-style `\uXXXX` escapes (§2.4, from 153 in error texts and the reject JSON)
/// into UTF-8; surrogate pairs are joined, a lone surrogate becomes U+FFFD, and a malformed
/// escape is kept as it is.
std::string decode_unicode_escapes(std::string_view text);

/// The inverse, as TWS sends text: every code point of valid UTF-8 outside printable ASCII
/// (below 0x20, NUL included, or above 0x7E) becomes `\uXXXX` (a surrogate pair above U+FFFF);
/// an invalid byte becomes `\ufffd`.
std::string encode_unicode_escapes(std::string_view text);

/// Writes the fields of one outgoing message: each value as text followed by NUL (§2.4).
///
/// The first invalid value (a NUL inside text) makes the writer fail; later calls are ignored
/// and `finish` returns that error. Not thread-safe.
class field_writer {
public:
  /// `message` names the message in errors, e.g. "placeOrder".
  explicit field_writer(std::string_view message = {}) : message_(message) {}

  /// Text as it is; `field` names it in the error for an embedded NUL.
  void put_text(std::string_view value, std::string_view field = {});
  void put_int(std::int64_t value);
  /// `1` or `0`.
  void put_bool(bool value);
  /// The shortest exact decimal text, e.g. "100.5".
  void put_decimal(engine::decimal value);
  /// See `format_wire_double`.
  void put_double(double value);
  /// An empty field.
  void put_empty();

  /// Number of fields written so far.
  [[nodiscard]] std::size_t fields() const noexcept { return fields_; }
  /// The payload so far.
  [[nodiscard]] std::string_view payload() const noexcept { return payload_; }
  /// The first error, if any.
  [[nodiscard]] const std::optional<error>& failure() const noexcept { return failure_; }
  /// The framed message, or the first error, or `frame_too_long`.
  [[nodiscard]] std::expected<std::string, error> finish() const;

private:
  std::string message_;
  std::string payload_;
  std::size_t fields_ = 0;
  std::optional<error> failure_;
};

/// Reads the fields of one incoming payload in order, with bounds-checked typed reads.
///
/// Every error names the message, the field index (counting from 0, the message id included)
/// and the field's name. Reads never go past the payload; text returned points into it.
class field_reader {
public:
  /// `payload` is a frame's payload, final NUL included; `message` names it in errors.
  explicit field_reader(std::string_view payload, std::string_view message = {});

  /// Index of the next field.
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  /// Complete (NUL-terminated) fields left.
  [[nodiscard]] std::size_t remaining() const noexcept { return total_ - index_; }
  /// Total number of complete fields in the payload.
  [[nodiscard]] std::size_t size() const noexcept { return total_; }
  /// Names the message in errors from now on (after reading its id).
  void set_message(std::string_view message) { message_ = message; }

  /// The next field's text.
  std::expected<std::string_view, error> read_text(std::string_view field);
  /// An int32; "" reads as 0 (Java `readInt`).
  std::expected<std::int32_t, error> read_int(std::string_view field);
  /// An int64; "" reads as 0 (Java `readLong`).
  std::expected<std::int64_t, error> read_long(std::string_view field);
  /// An int32 where "" and 2147483647 mean unset (Java `readIntMax`).
  std::expected<std::optional<std::int32_t>, error> read_int_max(std::string_view field);
  /// "" and 0 are false, any other int true (Java `readBoolFromInt`).
  std::expected<bool, error> read_bool(std::string_view field);
  /// A decimal that must be present (a quantity).
  std::expected<engine::decimal, error> read_decimal(std::string_view field);
  /// A decimal where "" and the sentinels read as 0 (Java `readDouble` on a price).
  std::expected<engine::decimal, error> read_decimal_or_zero(std::string_view field);
  /// A decimal where "" and the sentinels mean unset (Java `readDoubleMax`).
  std::expected<std::optional<engine::decimal>, error> read_decimal_max(std::string_view field);
  /// A double; "" reads as 0 (Java `readDouble`). For non-order numbers only.
  std::expected<double, error> read_double(std::string_view field);
  /// A double where "" and the sentinels mean unset (Java `readDoubleMax`).
  std::expected<std::optional<double>, error> read_double_max(std::string_view field);

  /// Succeeds when every field was read and the payload ends with NUL; `extra_fields` or
  /// `unterminated_frame` otherwise.
  [[nodiscard]] std::expected<void, error> expect_end() const;

  /// Builds an error about the field just read (index() - 1) or, for `missing_field`, the next.
  [[nodiscard]] error field_error(errc code, std::string_view field, std::string_view why) const;
  /// Builds an error about the field at `at`.
  [[nodiscard]] error field_error_at(std::size_t at, errc code, std::string_view field,
                                     std::string_view why) const;

private:
  std::string_view rest_;
  std::string message_;
  std::size_t index_ = 0;
  std::size_t total_ = 0;
  bool unterminated_ = false;
};

} // namespace brokerd::actors::ibkr
