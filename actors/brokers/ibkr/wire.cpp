#include "actors/brokers/ibkr/wire.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace brokerd::actors::ibkr {

namespace {

__extension__ using int128 = __int128;

constexpr std::string_view hello_magic{"API\0", 4};

/// Quotes at most 40 bytes of `text` for an error message: a hostile peer may send megabytes.
std::string quoted(std::string_view text) {
  std::string out{"'"};
  for (char c : text.substr(0, 40)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xF];
    } else {
      out += c;
    }
  }
  if (text.size() > 40)
    out += "...";
  out += '\'';
  return out;
}

error make_error(errc code, std::string message) {
  return error{code, std::move(message)};
}

std::uint32_t read_be32(const unsigned char* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void append_be32(std::string& out, std::uint32_t v) {
  out += static_cast<char>((v >> 24) & 0xFF);
  out += static_cast<char>((v >> 16) & 0xFF);
  out += static_cast<char>((v >> 8) & 0xFF);
  out += static_cast<char>(v & 0xFF);
}

/// Parses a whole integer field the way Java's `parseInt`/`parseLong` do: an optional sign,
/// then digits, nothing else.
template <class Int> std::optional<Int> parse_integer(std::string_view text) {
  if (!text.empty() && text.front() == '+')
    text.remove_prefix(1);
  if (text.empty() || text.front() == '+')
    return std::nullopt;
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  if (!text.empty() && text.front() == '+')
    text.remove_prefix(1);
  if (text.empty() || text.front() == '+')
    return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

bool is_printable_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Reads the 4 hex digits after `\u` at `text[pos]`; nothing unless all four are hex.
std::optional<std::uint32_t> hex4(std::string_view text, std::size_t pos) {
  if (pos + 6 > text.size() || text[pos] != '\\' || text[pos + 1] != 'u')
    return std::nullopt;
  std::uint32_t v = 0;
  for (std::size_t i = pos + 2; i < pos + 6; ++i) {
    char c = text[i];
    std::uint32_t d = 0;
    if (c >= '0' && c <= '9')
      d = static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = static_cast<std::uint32_t>(c - 'A' + 10);
    else
      return std::nullopt;
    v = v * 16 + d;
  }
  return v;
}

void append_escape(std::string& out, std::uint32_t unit) {
  constexpr char hex[] = "0123456789abcdef";
  out += "\\u";
  out += hex[(unit >> 12) & 0xF];
  out += hex[(unit >> 8) & 0xF];
  out += hex[(unit >> 4) & 0xF];
  out += hex[unit & 0xF];
}

/// Decodes one UTF-8 sequence at `text[i]`; returns the code point and its length, or nothing
/// for an invalid sequence (overlong, surrogate, out of range, cut).
std::optional<std::pair<std::uint32_t, std::size_t>> utf8_at(std::string_view text, std::size_t i) {
  auto b0 = static_cast<unsigned char>(text[i]);
  std::size_t len = 0;
  std::uint32_t cp = 0;
  std::uint32_t min = 0;
  if (b0 < 0x80)
    return std::pair{std::uint32_t{b0}, std::size_t{1}};
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1Fu;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0Fu;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07u;
    min = 0x10000;
  } else {
    return std::nullopt;
  }
  if (i + len > text.size())
    return std::nullopt;
  for (std::size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80)
      return std::nullopt;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return std::nullopt;
  return std::pair{cp, len};
}

/// Parses `v<min>[..<max>]` with 1 to 9 digits per number.
std::optional<std::pair<std::int32_t, std::int32_t>> parse_version_range(std::string_view text) {
  if (text.size() < 2 || text.front() != 'v')
    return std::nullopt;
  text.remove_prefix(1);
  auto number = [](std::string_view digits) -> std::optional<std::int32_t> {
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    return parse_integer<std::int32_t>(digits);
  };
  auto dots = text.find("..");
  if (dots == std::string_view::npos) {
    auto n = number(text);
    if (!n)
      return std::nullopt;
    return std::pair{*n, *n};
  }
  auto lo = number(text.substr(0, dots));
  auto hi = number(text.substr(dots + 2));
  if (!lo || !hi)
    return std::nullopt;
  return std::pair{*lo, *hi};
}

} // namespace

// -- errors ------------------------------------------------------------------------------------

std::string_view to_string(errc x) noexcept {
  switch (x) {
  case errc::frame_too_long:
    return "frame_too_long";
  case errc::empty_frame:
    return "empty_frame";
  case errc::unterminated_frame:
    return "unterminated_frame";
  case errc::bad_hello:
    return "bad_hello";
  case errc::unsupported_version:
    return "unsupported_version";
  case errc::redirect:
    return "redirect";
  case errc::missing_field:
    return "missing_field";
  case errc::extra_fields:
    return "extra_fields";
  case errc::bad_field:
    return "bad_field";
  case errc::unknown_message:
    return "unknown_message";
  case errc::invalid_argument:
    return "invalid_argument";
  }
  return "unknown_error";
}

std::string error::to_string() const {
  std::string out{ibkr::to_string(code)};
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

// -- framing -----------------------------------------------------------------------------------

std::expected<std::string, error> make_frame(std::string_view payload) {
  if (payload.empty())
    return std::unexpected(make_error(errc::empty_frame, "an outgoing frame has no payload"));
  if (payload.size() > max_frame_length)
    return std::unexpected(make_error(errc::frame_too_long, "an outgoing payload of " +
                                                                std::to_string(payload.size()) +
                                                                " bytes exceeds 16777215"));
  std::string out;
  out.reserve(payload.size() + 4);
  append_be32(out, static_cast<std::uint32_t>(payload.size()));
  out += payload;
  return out;
}

void frame_decoder::reset_frame() noexcept {
  header_have_ = 0;
  length_ = 0;
  payload_.clear();
  ready_ = false;
}

std::expected<std::size_t, error> frame_decoder::consume(std::string_view bytes) {
  if (failure_)
    return std::unexpected(*failure_);
  if (ready_)
    return 0;
  std::size_t used = 0;
  if (header_have_ < 4) {
    std::size_t take = std::min(bytes.size(), 4 - header_have_);
    for (std::size_t i = 0; i < take; ++i)
      header_[header_have_ + i] = static_cast<unsigned char>(bytes[i]);
    header_have_ += take;
    used = take;
    if (header_have_ < 4)
      return used;
    std::uint32_t length = read_be32(header_);
    if (length == 0) {
      failure_ = make_error(errc::empty_frame, "a frame header announces 0 bytes");
      return std::unexpected(*failure_);
    }
    if (length > max_frame_length) {
      failure_ =
          make_error(errc::frame_too_long, "a frame header announces " + std::to_string(length) +
                                               " bytes, above 16777215");
      return std::unexpected(*failure_);
    }
    length_ = length;
    bytes.remove_prefix(take);
  }
  std::size_t take = std::min(bytes.size(), length_ - payload_.size());
  payload_.append(bytes.data(), take);
  used += take;
  if (payload_.size() == length_) {
    if (payload_.back() != '\0') {
      failure_ = make_error(errc::unterminated_frame,
                            "a frame of " + std::to_string(length_) +
                                " bytes does not end with NUL: its last field is cut");
      return std::unexpected(*failure_);
    }
    ready_ = true;
  }
  return used;
}

// -- handshake ---------------------------------------------------------------------------------

std::string client_hello::version_string() const {
  std::string out{"v"};
  out += std::to_string(min_version);
  if (min_version < max_version) {
    out += "..";
    out += std::to_string(max_version);
  }
  if (!connect_options.empty()) {
    out += ' ';
    out += connect_options;
  }
  return out;
}

std::expected<std::string, error> client_hello::encode() const {
  if (min_version < v100_version || min_version > max_version || max_version < min_server_version ||
      max_version > max_server_version)
    return std::unexpected(make_error(
        errc::invalid_argument, "version range " + std::to_string(min_version) + ".." +
                                    std::to_string(max_version) +
                                    " must satisfy 100 <= min <= " + "max and 166 <= max <= 178"));
  if (!is_printable_ascii(connect_options))
    return std::unexpected(
        make_error(errc::invalid_argument, "connect options must be printable ASCII"));
  std::string text = version_string();
  std::string out{hello_magic};
  append_be32(out, static_cast<std::uint32_t>(text.size()));
  out += text;
  return out;
}

std::expected<std::optional<client_hello::parsed>, error>
client_hello::decode(std::string_view bytes) {
  std::size_t magic_have = std::min(bytes.size(), hello_magic.size());
  if (bytes.substr(0, magic_have) != hello_magic.substr(0, magic_have))
    return std::unexpected(
        make_error(errc::bad_hello, "the stream does not start with API\\0 but " +
                                        quoted(bytes.substr(0, magic_have))));
  if (bytes.size() < 8)
    return std::optional<parsed>{};
  std::uint32_t length = read_be32(reinterpret_cast<const unsigned char*>(bytes.data() + 4));
  if (length == 0 || length > max_hello_length)
    return std::unexpected(make_error(errc::bad_hello, "the hello announces a version string of " +
                                                           std::to_string(length) +
                                                           " bytes (1 to 1024 allowed)"));
  if (bytes.size() < 8 + std::size_t{length})
    return std::optional<parsed>{};
  std::string_view text = bytes.substr(8, length);
  std::string_view versions = text;
  std::string_view options;
  if (auto space = text.find(' '); space != std::string_view::npos) {
    versions = text.substr(0, space);
    options = text.substr(space + 1);
  }
  auto range = parse_version_range(versions);
  if (!range || range->first > range->second || !is_printable_ascii(options))
    return std::unexpected(
        make_error(errc::bad_hello, "malformed version string " + quoted(text) +
                                        " (expected v<min>..<max> or v<n>, then options)"));
  parsed out;
  out.hello.min_version = range->first;
  out.hello.max_version = range->second;
  out.hello.connect_options = std::string{options};
  out.consumed = 8 + std::size_t{length};
  return std::optional<parsed>{std::move(out)};
}

std::expected<std::string, error> server_hello::encode() const {
  field_writer w{"server answer"};
  w.put_int(server_version);
  w.put_text(connection_time, "connectionTime");
  return w.finish();
}

std::expected<server_hello, error> server_hello::decode(std::string_view payload) {
  field_reader r{payload, "server answer"};
  auto version = r.read_int("serverVersion");
  if (!version)
    return std::unexpected(std::move(version.error()));
  if (*version == -1) {
    auto host = r.read_text("host");
    return std::unexpected(make_error(
        errc::redirect, "the server redirects to " + quoted(host ? *host : std::string_view{})));
  }
  if (*version <= 0)
    return std::unexpected(r.field_error(errc::bad_field, "serverVersion",
                                         std::to_string(*version) + " is not a version"));
  auto time = r.read_text("connectionTime");
  if (!time)
    return std::unexpected(std::move(time.error()));
  if (auto end = r.expect_end(); !end)
    return std::unexpected(std::move(end.error()));
  return server_hello{*version, std::string{*time}};
}

std::expected<std::int32_t, error> accept_server_version(const client_hello& offered,
                                                         std::int32_t answered) {
  std::int32_t floor = std::max(offered.min_version, min_server_version);
  if (answered < floor)
    return std::unexpected(
        make_error(errc::unsupported_version, "server version " + std::to_string(answered) +
                                                  " is below this client's minimum " +
                                                  std::to_string(floor) + " (gateway too old)"));
  if (answered > offered.max_version)
    return std::unexpected(
        make_error(errc::unsupported_version, "server version " + std::to_string(answered) +
                                                  " is above the offered maximum " +
                                                  std::to_string(offered.max_version)));
  return answered;
}

std::expected<std::int32_t, error> choose_server_version(const client_hello& offered,
                                                         std::int32_t server_max) {
  std::int32_t chosen = std::min(offered.max_version, server_max);
  if (chosen < offered.min_version || chosen < min_server_version)
    return std::unexpected(
        make_error(errc::unsupported_version,
                   "client range " + std::to_string(offered.min_version) + ".." +
                       std::to_string(offered.max_version) + " has no version in " +
                       std::to_string(min_server_version) + ".." + std::to_string(server_max)));
  return chosen;
}

// -- field values ------------------------------------------------------------------------------

bool is_unset_text(std::string_view text) noexcept {
  return text.empty() || text == unset_int_text || text == unset_double_text ||
         text == "9223372036854775807";
}

std::expected<engine::decimal, std::string> parse_wire_decimal(std::string_view text) {
  constexpr int scale = engine::decimal::scale;
  std::string_view all = text;
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  // Mantissa digits without leading zeros, and the power of ten of the last digit.
  std::string digits;
  std::int64_t exponent = 0;
  bool seen_dot = false;
  bool any_digit = false;
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (seen_dot)
        return std::unexpected(quoted(all) + " has more than one '.'");
      seen_dot = true;
      continue;
    }
    if (c < '0' || c > '9')
      break;
    any_digit = true;
    if (seen_dot)
      --exponent;
    if (digits.empty() && c == '0')
      continue;
    digits += c;
  }
  if (!any_digit)
    return std::unexpected(quoted(all) + " is not a number");
  if (i < text.size()) {
    if (text[i] != 'e' && text[i] != 'E')
      return std::unexpected(quoted(all) + " is not a plain number");
    auto exp_text = text.substr(i + 1);
    auto e = exp_text.size() <= 7 ? parse_integer<std::int32_t>(exp_text) : std::nullopt;
    if (!e)
      return std::unexpected(quoted(all) + " has a malformed exponent");
    exponent += *e;
  }
  if (digits.empty())
    return engine::decimal{};
  // value = digits * 10^exponent; units = digits * 10^(exponent + scale).
  std::int64_t shift = exponent + scale;
  int128 units = 0;
  constexpr int128 max_units = std::numeric_limits<std::int64_t>::max();
  if (shift >= 0) {
    if (static_cast<std::int64_t>(digits.size()) + shift > 19)
      return std::unexpected(quoted(all) + " is out of range");
    for (char c : digits)
      units = units * 10 + (c - '0');
    for (std::int64_t k = 0; k < shift; ++k)
      units *= 10;
  } else {
    auto drop = static_cast<std::size_t>(-shift);
    if (drop > digits.size()) {
      units = 0; // below half a unit: the first dropped digit is an implied 0
    } else {
      std::size_t keep = digits.size() - drop;
      if (keep > 19)
        return std::unexpected(quoted(all) + " is out of range");
      for (std::size_t k = 0; k < keep; ++k)
        units = units * 10 + (digits[k] - '0');
      char first = digits[keep];
      bool rest_nonzero = std::any_of(digits.begin() + static_cast<std::ptrdiff_t>(keep) + 1,
                                      digits.end(), [](char c) { return c != '0'; });
      if (first > '5' || (first == '5' && (rest_nonzero || units % 2 != 0)))
        ++units;
    }
  }
  if (units > max_units)
    return std::unexpected(quoted(all) + " is out of range");
  auto v = static_cast<std::int64_t>(units);
  return engine::decimal::from_units(negative ? -v : v);
}

std::string format_wire_double(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc{})
    return "0.0";
  std::string out{buf, end};
  if (std::isfinite(value) && out.find_first_of(".e") == std::string::npos)
    out += ".0";
  return out;
}

std::string decode_unicode_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto unit = hex4(text, i);
    if (!unit) {
      out += text[i++];
      continue;
    }
    i += 6;
    std::uint32_t cp = *unit;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      auto low = hex4(text, i);
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
        i += 6;
      } else {
        cp = 0xFFFD;
      }
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    append_utf8(out, cp);
  }
  return out;
}

std::string encode_unicode_escapes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    auto seq = utf8_at(text, i);
    if (!seq) {
      append_escape(out, 0xFFFD);
      ++i;
      continue;
    }
    auto [cp, len] = *seq;
    i += len;
    if (cp >= 0x20 && cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      append_escape(out, cp);
    } else {
      std::uint32_t v = cp - 0x10000;
      append_escape(out, 0xD800 + (v >> 10));
      append_escape(out, 0xDC00 + (v & 0x3FF));
    }
  }
  return out;
}

// -- field_writer ------------------------------------------------------------------------------

void field_writer::put_text(std::string_view value, std::string_view field) {
  if (failure_)
    return;
  if (value.find('\0') != std::string_view::npos) {
    failure_ =
        make_error(errc::invalid_argument, message_ + " field " + std::to_string(fields_) + " (" +
                                               std::string{field} + ") contains a NUL byte");
    return;
  }
  payload_ += value;
  payload_ += '\0';
  ++fields_;
}

void field_writer::put_int(std::int64_t value) {
  put_text(std::to_string(value));
}

void field_writer::put_bool(bool value) {
  put_text(value ? "1" : "0");
}

void field_writer::put_decimal(engine::decimal value) {
  put_text(value.to_string());
}

void field_writer::put_double(double value) {
  put_text(format_wire_double(value));
}

void field_writer::put_empty() {
  put_text({});
}

std::expected<std::string, error> field_writer::finish() const {
  if (failure_)
    return std::unexpected(*failure_);
  return make_frame(payload_);
}

// -- field_reader ------------------------------------------------------------------------------

field_reader::field_reader(std::string_view payload, std::string_view message)
    : rest_(payload), message_(message) {
  total_ = static_cast<std::size_t>(std::count(payload.begin(), payload.end(), '\0'));
  unterminated_ = !payload.empty() && payload.back() != '\0';
}

error field_reader::field_error(errc code, std::string_view field, std::string_view why) const {
  std::size_t at = code == errc::missing_field ? index_ : (index_ == 0 ? 0 : index_ - 1);
  return field_error_at(at, code, field, why);
}

error field_reader::field_error_at(std::size_t at, errc code, std::string_view field,
                                   std::string_view why) const {
  std::string msg = message_.empty() ? std::string{"message"} : message_;
  msg += " field ";
  msg += std::to_string(at);
  msg += " (";
  msg += field;
  msg += ")";
  if (!why.empty()) {
    msg += ": ";
    msg += why;
  }
  return error{code, std::move(msg)};
}

std::expected<std::string_view, error> field_reader::read_text(std::string_view field) {
  if (index_ >= total_)
    return std::unexpected(
        field_error(errc::missing_field, field,
                    "missing: the message has only " + std::to_string(total_) + " fields"));
  auto nul = rest_.find('\0');
  std::string_view value = rest_.substr(0, nul);
  rest_.remove_prefix(nul + 1);
  ++index_;
  return value;
}

std::expected<std::int32_t, error> field_reader::read_int(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (text->empty())
    return 0;
  auto v = parse_integer<std::int32_t>(*text);
  if (!v)
    return std::unexpected(
        field_error(errc::bad_field, field, quoted(*text) + " is not a 32-bit integer"));
  return *v;
}

std::expected<std::int64_t, error> field_reader::read_long(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (text->empty())
    return 0;
  auto v = parse_integer<std::int64_t>(*text);
  if (!v)
    return std::unexpected(
        field_error(errc::bad_field, field, quoted(*text) + " is not a 64-bit integer"));
  return *v;
}

std::expected<std::optional<std::int32_t>, error>
field_reader::read_int_max(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (text->empty() || *text == unset_int_text)
    return std::optional<std::int32_t>{};
  auto v = parse_integer<std::int32_t>(*text);
  if (!v)
    return std::unexpected(
        field_error(errc::bad_field, field, quoted(*text) + " is not a 32-bit integer"));
  return std::optional<std::int32_t>{*v};
}

std::expected<bool, error> field_reader::read_bool(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (text->empty())
    return false;
  auto v = parse_integer<std::int32_t>(*text);
  if (!v)
    return std::unexpected(
        field_error(errc::bad_field, field, quoted(*text) + " is not a 0/1 flag"));
  return *v != 0;
}

std::expected<engine::decimal, error> field_reader::read_decimal(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (is_unset_text(*text))
    return std::unexpected(
        field_error(errc::bad_field, field, quoted(*text) + " leaves a required decimal unset"));
  auto v = parse_wire_decimal(*text);
  if (!v)
    return std::unexpected(field_error(errc::bad_field, field, v.error()));
  return *v;
}

std::expected<engine::decimal, error> field_reader::read_decimal_or_zero(std::string_view field) {
  auto v = read_decimal_max(field);
  if (!v)
    return std::unexpected(std::move(v.error()));
  return v->value_or(engine::decimal{});
}

std::expected<std::optional<engine::decimal>, error>
field_reader::read_decimal_max(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (is_unset_text(*text))
    return std::optional<engine::decimal>{};
  auto v = parse_wire_decimal(*text);
  if (!v)
    return std::unexpected(field_error(errc::bad_field, field, v.error()));
  return std::optional<engine::decimal>{*v};
}

std::expected<double, error> field_reader::read_double(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (text->empty())
    return 0.0;
  auto v = parse_double(*text);
  if (!v)
    return std::unexpected(field_error(errc::bad_field, field, quoted(*text) + " is not a number"));
  return *v;
}

std::expected<std::optional<double>, error> field_reader::read_double_max(std::string_view field) {
  auto text = read_text(field);
  if (!text)
    return std::unexpected(std::move(text.error()));
  if (is_unset_text(*text))
    return std::optional<double>{};
  auto v = parse_double(*text);
  if (!v)
    return std::unexpected(field_error(errc::bad_field, field, quoted(*text) + " is not a number"));
  return std::optional<double>{*v};
}

std::expected<void, error> field_reader::expect_end() const {
  std::string name = message_.empty() ? std::string{"message"} : message_;
  if (index_ < total_)
    return std::unexpected(make_error(errc::extra_fields, name + " has " + std::to_string(total_) +
                                                              " fields; its layout ends after " +
                                                              std::to_string(index_)));
  if (unterminated_)
    return std::unexpected(make_error(errc::unterminated_frame,
                                      name + " does not end with NUL: its last field is cut"));
  return {};
}

} // namespace brokerd::actors::ibkr
