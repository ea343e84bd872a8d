#include "persistence/event_codec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>

#include <rapidjson/allocators.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stream.h>
#include <rapidjson/writer.h>

namespace brokerd::persistence {

namespace {

// ---------------------------------------------------------------------------------------------
// Keys

/// The document's keys, in the order they are written.
enum class field : std::uint8_t {
  v,
  seq,
  ts,
  type,
  user,
  connection,
  broker,
  order_id,
  client_order_id,
  broker_order_id,
  from,
  to,
  symbol,
  side,
  order_type,
  time_in_force,
  quantity,
  limit_price,
  stop_price,
  filled_quantity,
  avg_fill_price,
  last_quantity,
  last_price,
  exec_id,
  source,
  state,
  reason,
  unknown,
};

constexpr std::size_t field_count = static_cast<std::size_t>(field::unknown);

constexpr std::array<std::string_view, field_count> key_names{
    "v",
    "seq",
    "ts",
    "type",
    "user",
    "connection",
    "broker",
    "orderId",
    "clientOrderId",
    "brokerOrderId",
    "from",
    "to",
    "symbol",
    "side",
    "orderType",
    "timeInForce",
    "quantity",
    "limitPrice",
    "stopPrice",
    "filledQuantity",
    "avgFillPrice",
    "lastQuantity",
    "lastPrice",
    "execId",
    "source",
    "state",
    "reason",
};

constexpr std::string_view key_of(field f) {
  return key_names[static_cast<std::size_t>(f)];
}

/// Finds the field of a key: by length first, then among the few keys of that length.
field field_of(std::string_view key) noexcept {
  auto pick = [key](std::initializer_list<field> candidates) {
    for (field f : candidates)
      if (key_of(f) == key)
        return f;
    return field::unknown;
  };
  switch (key.size()) {
  case 1:
    return pick({field::v});
  case 2:
    return pick({field::ts, field::to});
  case 3:
    return pick({field::seq});
  case 4:
    return pick({field::type, field::user, field::from, field::side});
  case 5:
    return pick({field::state});
  case 6:
    return pick({field::broker, field::symbol, field::source, field::reason, field::exec_id});
  case 7:
    return pick({field::order_id});
  case 8:
    return pick({field::quantity});
  case 9:
    return pick({field::order_type, field::last_price, field::stop_price});
  case 10:
    return pick({field::connection, field::limit_price});
  case 11:
    return pick({field::time_in_force});
  case 12:
    return pick({field::avg_fill_price, field::last_quantity});
  case 13:
    return pick({field::client_order_id, field::broker_order_id});
  case 14:
    return pick({field::filled_quantity});
  default:
    return field::unknown;
  }
}

constexpr std::uint32_t bit(field f) {
  return std::uint32_t{1} << static_cast<unsigned>(f);
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// A RapidJSON output stream appending to a std::string.
class string_sink {
public:
  using Ch = char;
  explicit string_sink(std::string& out) : out_(out) {}
  void Put(char c) { out_.push_back(c); }
  void Flush() {}

private:
  std::string& out_;
};

using json_writer = rapidjson::Writer<string_sink>;

rapidjson::SizeType json_size(std::size_t n) {
  return static_cast<rapidjson::SizeType>(n);
}

void write_key(json_writer& w, field f) {
  auto k = key_of(f);
  w.Key(k.data(), json_size(k.size()));
}

void write_text(json_writer& w, field f, std::string_view text) {
  if (text.empty())
    return;
  write_key(w, f);
  w.String(text.data(), json_size(text.size()));
}

template <class Enum> void write_enum(json_writer& w, field f, const std::optional<Enum>& x) {
  if (x)
    write_text(w, f, engine::to_string(*x));
}

void write_decimal(json_writer& w, field f, const std::optional<engine::decimal>& x) {
  if (!x)
    return;
  auto text = x->to_string();
  write_key(w, f);
  w.String(text.data(), json_size(text.size()));
}

// ---------------------------------------------------------------------------------------------
// Decoding

std::string quoted(std::string_view text) {
  constexpr std::size_t max_shown = 40;
  std::string out{"'"};
  out += text.substr(0, max_shown);
  if (text.size() > max_shown)
    out += "...";
  out += "'";
  return out;
}

/// SAX handler filling an `event` from a flat JSON object. It records the first problem and
/// keeps going, so that a newer "v" found later in the document still takes precedence.
class event_handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, event_handler> {
public:
  explicit event_handler(event& out) : out_(out) {}

  bool StartObject() {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (depth_ == 1)
      wrong_type("an object");
    ++depth_;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    if (depth_ == 0)
      return not_an_object();
    if (depth_ == 1)
      wrong_type("an array");
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

  bool Key(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ != 1)
      return true;
    current_ = field_of(std::string_view{str, len});
    if (current_ == field::unknown)
      return true;
    if ((seen_ & bit(current_)) != 0)
      fail("repeats key '" + std::string{key_of(current_)} + "'");
    seen_ |= bit(current_);
    return true;
  }

  bool Null() { return scalar("null"); }
  bool Bool(bool) { return scalar("a boolean"); }
  bool Double(double) { return scalar("a floating-point number"); }
  bool Int(int i) { return signed_number(i); }
  bool Int64(std::int64_t i) { return signed_number(i); }
  bool Uint(unsigned u) { return unsigned_number(u); }
  bool Uint64(std::uint64_t u) { return unsigned_number(u); }

  bool String(const char* str, rapidjson::SizeType len, bool) {
    if (depth_ == 0)
      return not_an_object();
    if (depth_ > 1 || current_ == field::unknown)
      return true;
    std::string_view text{str, len};
    switch (current_) {
    case field::v:
    case field::seq:
    case field::ts:
      wrong_type("a string");
      break;
    case field::type:
      if (text.empty())
        fail_field("must not be empty");
      out_.type.assign(text);
      break;
    case field::user:
      out_.user.assign(text);
      break;
    case field::connection:
      out_.connection.assign(text);
      break;
    case field::order_id:
      out_.order_id.assign(text);
      break;
    case field::client_order_id:
      out_.client_order_id.assign(text);
      break;
    case field::broker_order_id:
      out_.broker_order_id.assign(text);
      break;
    case field::symbol:
      out_.symbol.assign(text);
      break;
    case field::exec_id:
      out_.exec_id.assign(text);
      break;
    case field::state:
      out_.state.assign(text);
      break;
    case field::reason:
      out_.reason.assign(text);
      break;
    case field::broker:
      set_enum(out_.broker, engine::parse_broker_id(text), text);
      break;
    case field::from:
      set_enum(out_.from, engine::parse_order_status(text), text);
      break;
    case field::to:
      set_enum(out_.to, engine::parse_order_status(text), text);
      break;
    case field::side:
      set_enum(out_.order_side, engine::parse_side(text), text);
      break;
    case field::order_type:
      set_enum(out_.type_of_order, engine::parse_order_type(text), text);
      break;
    case field::time_in_force:
      set_enum(out_.tif, engine::parse_time_in_force(text), text);
      break;
    case field::source: {
      auto s = parse_event_source(text);
      if (s)
        out_.source = *s;
      else
        fail_field(quoted(text) + " is not a known value (" + s.error().message + ")");
      break;
    }
    case field::quantity:
      set_decimal(out_.quantity, text);
      break;
    case field::limit_price:
      set_decimal(out_.limit_price, text);
      break;
    case field::stop_price:
      set_decimal(out_.stop_price, text);
      break;
    case field::filled_quantity:
      set_decimal(out_.filled_quantity, text);
      break;
    case field::avg_fill_price:
      set_decimal(out_.avg_fill_price, text);
      break;
    case field::last_quantity:
      set_decimal(out_.last_quantity, text);
      break;
    case field::last_price:
      set_decimal(out_.last_price, text);
      break;
    case field::unknown:
      break;
    }
    return true;
  }

  /// The document's "v" when it held an unsigned integer.
  [[nodiscard]] std::optional<std::uint64_t> version() const { return version_; }
  /// Bit set of the known keys seen.
  [[nodiscard]] std::uint32_t seen() const { return seen_; }
  /// The first problem found, if any.
  [[nodiscard]] const std::optional<std::string>& problem() const { return problem_; }

private:
  bool not_an_object() {
    fail("an event must be a JSON object");
    return false;
  }

  void fail(std::string message) {
    if (!problem_)
      problem_ = std::move(message);
  }

  void fail_field(const std::string& what) {
    fail("field " + std::string{key_of(current_)} + ": " + what);
  }

  void wrong_type(std::string_view found) {
    if (current_ == field::unknown)
      return;
    std::string_view expected = "a string";
    if (current_ == field::v || current_ == field::seq)
      expected = "an unsigned integer";
    else if (current_ == field::ts)
      expected = "an integer";
    else if (current_ >= field::quantity && current_ <= field::last_price)
      expected = "a decimal string";
    fail_field("expected " + std::string{expected} + ", found " + std::string{found});
  }

  bool scalar(std::string_view found) {
    if (depth_ == 0)
      return not_an_object();
    if (depth_ == 1)
      wrong_type(found);
    return true;
  }

  bool signed_number(std::int64_t i) {
    if (depth_ == 0)
      return not_an_object();
    if (depth_ > 1 || current_ == field::unknown)
      return true;
    if (current_ == field::ts) {
      out_.ts_ns = i;
      return true;
    }
    if (i >= 0)
      return unsigned_number(static_cast<std::uint64_t>(i));
    if (current_ == field::v || current_ == field::seq)
      fail_field("expected an unsigned integer, found " + std::to_string(i));
    else
      wrong_type("a number");
    return true;
  }

  bool unsigned_number(std::uint64_t u) {
    if (depth_ == 0)
      return not_an_object();
    if (depth_ > 1 || current_ == field::unknown)
      return true;
    switch (current_) {
    case field::v:
      version_ = u;
      if (u == 0)
        fail_field("0 is not a version");
      else if (u <= static_cast<std::uint64_t>(event_version))
        out_.version = static_cast<int>(u);
      break;
    case field::seq:
      out_.seq = u;
      break;
    case field::ts:
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail_field(std::to_string(u) + " is out of range");
      else
        out_.ts_ns = static_cast<std::int64_t>(u);
      break;
    default:
      wrong_type("a number");
      break;
    }
    return true;
  }

  template <class Enum>
  void set_enum(std::optional<Enum>& slot, std::expected<Enum, engine::error> parsed,
                std::string_view text) {
    if (parsed)
      slot = *parsed;
    else
      fail_field(quoted(text) + " is not a known value (" + parsed.error().message + ")");
  }

  void set_decimal(std::optional<engine::decimal>& slot, std::string_view text) {
    auto parsed = engine::decimal::parse(text);
    if (parsed)
      slot = *parsed;
    else
      fail_field(parsed.error().message);
  }

  event& out_;
  field current_ = field::unknown;
  int depth_ = 0;
  std::uint32_t seen_ = 0;
  std::optional<std::uint64_t> version_;
  std::optional<std::string> problem_;
};

constexpr std::array<field, 5> required_fields{field::v, field::seq, field::ts, field::type,
                                               field::source};

error corrupt(std::string message) {
  return error{errc::corrupt_record, std::move(message)};
}

/// The reason a parsed document is not an event, in order of precedence: a newer version,
/// a bad field, bad JSON, missing fields.
std::optional<error> find_problem(const event_handler& handler,
                                  const rapidjson::ParseResult& parsed, std::size_t parsed_up_to,
                                  std::size_t size) {
  if (auto v = handler.version(); v && *v > static_cast<std::uint64_t>(event_version))
    return error{errc::unsupported_version, "field v: version " + std::to_string(*v) +
                                                " is newer than this build reads (up to " +
                                                std::to_string(event_version) + ")"};
  if (handler.problem())
    return corrupt(*handler.problem());
  if (parsed.IsError())
    return corrupt("not valid JSON at offset " + std::to_string(parsed.Offset()) + ": " +
                   rapidjson::GetParseError_En(parsed.Code()));
  if (parsed_up_to != size)
    return corrupt("not valid JSON at offset " + std::to_string(parsed_up_to) +
                   ": a NUL byte after the document");
  for (field f : required_fields)
    if ((handler.seen() & bit(f)) == 0)
      return corrupt("missing field " + std::string{key_of(f)});
  return std::nullopt;
}

} // namespace

void encode_event_into(const event& e, std::string& out) {
  out.clear();
  string_sink sink{out};
  json_writer w{sink};
  w.StartObject();
  write_key(w, field::v);
  w.Int(e.version);
  write_key(w, field::seq);
  w.Uint64(e.seq);
  write_key(w, field::ts);
  w.Int64(e.ts_ns);
  write_key(w, field::type);
  w.String(e.type.data(), json_size(e.type.size()));
  write_text(w, field::user, e.user);
  write_text(w, field::connection, e.connection);
  write_enum(w, field::broker, e.broker);
  write_text(w, field::order_id, e.order_id);
  write_text(w, field::client_order_id, e.client_order_id);
  write_text(w, field::broker_order_id, e.broker_order_id);
  write_enum(w, field::from, e.from);
  write_enum(w, field::to, e.to);
  write_text(w, field::symbol, e.symbol);
  write_enum(w, field::side, e.order_side);
  write_enum(w, field::order_type, e.type_of_order);
  write_enum(w, field::time_in_force, e.tif);
  write_decimal(w, field::quantity, e.quantity);
  write_decimal(w, field::limit_price, e.limit_price);
  write_decimal(w, field::stop_price, e.stop_price);
  write_decimal(w, field::filled_quantity, e.filled_quantity);
  write_decimal(w, field::avg_fill_price, e.avg_fill_price);
  write_decimal(w, field::last_quantity, e.last_quantity);
  write_decimal(w, field::last_price, e.last_price);
  write_text(w, field::exec_id, e.exec_id);
  write_text(w, field::source, to_string(e.source));
  write_text(w, field::state, e.state);
  write_text(w, field::reason, e.reason);
  w.EndObject();
}

std::string encode_event(const event& e) {
  std::string out;
  out.reserve(256);
  encode_event_into(e, out);
  return out;
}

void decode_event_reusing(std::string_view json, std::expected<event, error>& slot) {
  // Parsed in place in a NUL-terminated copy: strings reach the handler without being copied
  // by the parser, and ordinary records need no heap allocation (the copy and the parser's
  // stack live in this frame).
  constexpr std::size_t inline_capacity = 2048;
  char inline_text[inline_capacity];
  std::string long_text;
  char* text = inline_text;
  if (json.size() < inline_capacity) {
    std::memcpy(inline_text, json.data(), json.size());
    inline_text[json.size()] = '\0';
  } else {
    long_text.assign(json);
    text = long_text.data();
  }
  alignas(std::max_align_t) char stack_buffer[512];
  rapidjson::MemoryPoolAllocator<> stack_allocator{stack_buffer, sizeof stack_buffer};
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>>
      reader{&stack_allocator, 256};
  rapidjson::InsituStringStream stream{text};

  // Resetting by assignment from a fresh event keeps the strings' storage (an empty source
  // string is copied into the existing buffer), so the fields below reuse it.
  if (slot)
    *slot = event{};
  else
    slot.emplace();
  slot->version = 0;
  event_handler handler{*slot};
  rapidjson::ParseResult parsed = reader.Parse<rapidjson::kParseInsituFlag>(stream, handler);
  if (auto problem = find_problem(handler, parsed, stream.Tell(), json.size()))
    slot = std::unexpected(std::move(*problem));
}

std::expected<event, error> decode_event(std::string_view json) {
  std::expected<event, error> result{std::in_place};
  decode_event_reusing(json, result);
  return result;
}

} // namespace brokerd::persistence
