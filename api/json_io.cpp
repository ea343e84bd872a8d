#include "api/json_io.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::api {

namespace {

// -- reading ----------------------------------------------------------------------------------

/// The JSON type of one member of a flat object.
enum class json_kind : std::uint8_t { null, boolean, number, string, object, array };

std::string_view describe(json_kind k) {
  switch (k) {
    case json_kind::null:
      return "null";
    case json_kind::boolean:
      return "a boolean";
    case json_kind::number:
      return "a number";
    case json_kind::string:
      return "a string";
    case json_kind::object:
      return "an object";
    case json_kind::array:
      return "an array";
  }
  return "a value";
}

/// One top-level member: its name, JSON type and, for strings and numbers, its text (numbers
/// exactly as written in the source).
struct member {
  std::string name;
  json_kind kind = json_kind::null;
  std::string text;
};

/// SAX handler that collects the members of a top-level object. Nested values are recorded
/// by kind only. Stops the parse when the root is not an object.
class flat_object_reader
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, flat_object_reader> {
public:
  bool Null() { return value(json_kind::null, {}); }
  bool Bool(bool b) { return value(json_kind::boolean, b ? "true" : "false"); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return value(json_kind::number, {s, n});
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return value(json_kind::string, {s, n});
  }
  bool StartObject() {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    if (depth_ == 1)
      record(json_kind::object, {});
    ++depth_;
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1)
      key_.assign(s, n);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  bool StartArray() {
    if (depth_ == 0) {
      root_not_object_ = true;
      return false;
    }
    if (depth_ == 1)
      record(json_kind::array, {});
    ++depth_;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }
  /// Int, Uint, Double and friends: never called with numbers read as strings.
  bool Default() { return false; }

  [[nodiscard]] bool root_not_object() const noexcept { return root_not_object_; }
  [[nodiscard]] const std::optional<std::string>& duplicate() const noexcept { return dup_; }
  [[nodiscard]] const std::vector<member>& members() const noexcept { return members_; }

private:
  bool value(json_kind kind, std::string_view text) {
    if (depth_ == 0) {
      root_not_object_ = true;
      return false;
    }
    if (depth_ == 1)
      record(kind, text);
    return true;
  }
  void record(json_kind kind, std::string_view text) {
    auto same = [this](const member& m) { return m.name == key_; };
    if (!dup_ && std::any_of(members_.begin(), members_.end(), same))
      dup_ = key_;
    members_.push_back(member{key_, kind, std::string{text}});
  }

  int depth_ = 0;
  std::string key_;
  bool root_not_object_ = false;
  std::optional<std::string> dup_;
  std::vector<member> members_;
};

api_error bad_request(std::string code, std::string message) {
  return api_error{400, std::move(code), std::move(message)};
}

/// What a member of the order request may hold.
enum class field_type : std::uint8_t { text, decimal_value };

struct field_spec {
  std::string_view name;
  field_type type;
  bool required;
};

constexpr std::array<field_spec, 9> order_fields{{
    {"connectionId", field_type::text, true},
    {"symbol", field_type::text, true},
    {"side", field_type::text, true},
    {"quantity", field_type::decimal_value, true},
    {"type", field_type::text, true},
    {"limitPrice", field_type::decimal_value, false},
    {"stopPrice", field_type::decimal_value, false},
    {"timeInForce", field_type::text, false},
    {"clientOrderId", field_type::text, false},
}};

const field_spec* find_field(std::string_view name) {
  for (const auto& f : order_fields)
    if (f.name == name)
      return &f;
  return nullptr;
}

/// Checks a member's JSON type against its spec; null counts as absent for optional fields.
std::optional<api_error> check_type(const field_spec& spec, const member& m) {
  if (m.kind == json_kind::null && !spec.required)
    return std::nullopt;
  bool ok = spec.type == field_type::text
                ? m.kind == json_kind::string
                : m.kind == json_kind::string || m.kind == json_kind::number;
  if (ok)
    return std::nullopt;
  std::string expected = spec.type == field_type::text ? "a string" : "a decimal string or number";
  return bad_request("invalid_field", std::string{spec.name} + " must be " + expected + ", got " +
                                          std::string{describe(m.kind)});
}

std::expected<engine::decimal, api_error> decimal_field(std::string_view name,
                                                        const std::string& text) {
  auto d = engine::decimal::parse(text);
  if (!d)
    return std::unexpected(bad_request("invalid_field", std::string{name} + ": " + d.error().message));
  return *d;
}

// -- writing ----------------------------------------------------------------------------------

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/// Length of the valid UTF-8 sequence at `s[i]`, or 0 when it is not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = at(i);
  std::size_t left = s.size() - i;
  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return left >= 2 && is_continuation(at(i + 1)) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !is_continuation(at(i + 1)) || !is_continuation(at(i + 2)))
      return 0;
    if (c == 0xE0 && at(i + 1) < 0xA0) // overlong
      return 0;
    if (c == 0xED && at(i + 1) >= 0xA0) // surrogates
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !is_continuation(at(i + 1)) || !is_continuation(at(i + 2)) ||
        !is_continuation(at(i + 3)))
      return 0;
    if (c == 0xF0 && at(i + 1) < 0x90) // overlong
      return 0;
    if (c == 0xF4 && at(i + 1) >= 0x90) // above U+10FFFF
      return 0;
    return 4;
  }
  return 0;
}

/// Writes a JSON string; bytes that are not valid UTF-8 (a broker's Latin-1 message) become
/// U+FFFD so the document stays valid.
void put_string(json_writer& w, std::string_view s) {
  std::string clean;
  bool dirty = false;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      if (!dirty) {
        clean.assign(s.substr(0, i));
        dirty = true;
      }
      clean += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    if (dirty)
      clean.append(s.substr(i, n));
    i += n;
  }
  std::string_view out = dirty ? std::string_view{clean} : s;
  w.String(out.data(), static_cast<rapidjson::SizeType>(out.size()));
}

void put(json_writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  put_string(w, value);
}

void put(json_writer& w, std::string_view key, engine::decimal value) {
  put(w, key, value.to_string());
}

void write_order(json_writer& w, const engine::order& o) {
  w.StartObject();
  put(w, "id", o.id);
  put(w, "clientOrderId", o.client_order_id);
  put(w, "brokerOrderId", o.broker_order_id);
  put(w, "connectionId", o.connection);
  put(w, "broker", engine::to_string(o.broker));
  put(w, "symbol", o.symbol);
  put(w, "side", engine::to_string(o.order_side));
  put(w, "quantity", o.quantity);
  put(w, "type", engine::to_string(o.type));
  if (o.limit_price)
    put(w, "limitPrice", *o.limit_price);
  if (o.stop_price)
    put(w, "stopPrice", *o.stop_price);
  put(w, "timeInForce", engine::to_string(o.tif));
  put(w, "status", engine::to_string(o.status));
  put(w, "filledQuantity", o.filled_quantity);
  put(w, "avgFillPrice", o.avg_fill_price);
  put(w, "createdAt", iso8601_ms(o.created_ns));
  put(w, "updatedAt", iso8601_ms(o.updated_ns));
  put(w, "reason", o.reason);
  w.EndObject();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Splits at '/' into views; "/a/b" gives "", "a", "b".
std::vector<std::string_view> split_path(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

} // namespace

std::string json_string(std::string_view text) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return {buf.GetString(), buf.GetSize()};
}

std::string error_body(const api_error& e) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "error", e.error);
  put(w, "message", e.message);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::expected<engine::order, api_error> parse_order_request(std::string_view body) {
  if (auto nul = body.find('\0'); nul != std::string_view::npos)
    return std::unexpected(
        bad_request("malformed_json", "NUL byte at offset " + std::to_string(nul)));
  rapidjson::MemoryStream stream{body.data(), body.size()};
  flat_object_reader handler;
  rapidjson::Reader reader;
  constexpr unsigned flags = rapidjson::kParseNumbersAsStringsFlag |
                             rapidjson::kParseValidateEncodingFlag;
  if (!reader.Parse<flags>(stream, handler)) {
    if (handler.root_not_object())
      return std::unexpected(bad_request("invalid_body", "request body must be a JSON object"));
    return std::unexpected(bad_request(
        "malformed_json", std::string{rapidjson::GetParseError_En(reader.GetParseErrorCode())} +
                              " at offset " + std::to_string(reader.GetErrorOffset())));
  }
  if (handler.duplicate())
    return std::unexpected(
        bad_request("duplicate_field", "field " + *handler.duplicate() + " appears twice"));

  std::map<std::string_view, const member*> present;
  for (const auto& m : handler.members()) {
    const field_spec* spec = find_field(m.name);
    if (!spec)
      return std::unexpected(bad_request("unknown_field", "unknown field " + m.name));
    if (auto err = check_type(*spec, m))
      return std::unexpected(std::move(*err));
    if (m.kind != json_kind::null)
      present.emplace(spec->name, &m);
  }
  for (const auto& spec : order_fields)
    if (spec.required && !present.contains(spec.name))
      return std::unexpected(
          bad_request("missing_field", "missing required field " + std::string{spec.name}));

  auto text = [&](std::string_view name) -> std::optional<std::string> {
    auto i = present.find(name);
    if (i == present.end())
      return std::nullopt;
    return i->second->text;
  };
  // Required fields are present from here on.
  auto required = [&](std::string_view name) { return text(name).value_or(std::string{}); };

  engine::order o;
  o.connection = required("connectionId");
  if (o.connection.empty() || o.connection.size() > 128)
    return std::unexpected(
        bad_request("invalid_field", "connectionId must be 1 to 128 characters"));
  o.symbol = required("symbol");
  if (auto s = engine::parse_side(required("side")))
    o.order_side = *s;
  else
    return std::unexpected(bad_request("invalid_field", s.error().message));
  if (auto q = decimal_field("quantity", required("quantity")))
    o.quantity = *q;
  else
    return std::unexpected(std::move(q.error()));
  if (auto t = engine::parse_order_type(required("type")))
    o.type = *t;
  else
    return std::unexpected(bad_request("invalid_field", t.error().message));
  for (auto [name, slot] : {std::pair{"limitPrice", &o.limit_price},
                            std::pair{"stopPrice", &o.stop_price}}) {
    if (auto t = text(name)) {
      auto d = decimal_field(name, *t);
      if (!d)
        return std::unexpected(std::move(d.error()));
      *slot = *d;
    }
  }
  if (auto t = text("timeInForce")) {
    auto tif = engine::parse_time_in_force(*t);
    if (!tif)
      return std::unexpected(bad_request("invalid_field", tif.error().message));
    o.tif = *tif;
  }
  if (auto t = text("clientOrderId"))
    o.client_order_id = std::move(*t);
  o.status = engine::order_status::pending_new;

  if (auto ok = engine::validate_symbol(o.symbol); !ok)
    return std::unexpected(bad_request("invalid_symbol", ok.error().message));
  if (!o.client_order_id.empty())
    if (auto ok = engine::validate_client_id(o.client_order_id); !ok)
      return std::unexpected(bad_request("invalid_client_order_id", ok.error().message));
  if (auto ok = engine::validate_new_order(o); !ok)
    return std::unexpected(bad_request("invalid_order", ok.error().message));
  return o;
}

std::string order_json(const engine::order& o) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  write_order(w, o);
  return {buf.GetString(), buf.GetSize()};
}

std::string orders_json(const std::vector<engine::order>& orders) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("orders");
  w.StartArray();
  for (const auto& o : orders)
    write_order(w, o);
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string balance_json(const engine::balance& b) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  put(w, "cash", b.cash);
  put(w, "equity", b.equity);
  put(w, "buyingPower", b.buying_power);
  put(w, "currency", b.currency);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string positions_json(const engine::position_list& positions) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("positions");
  w.StartArray();
  for (const auto& p : positions) {
    w.StartObject();
    put(w, "symbol", p.symbol);
    put(w, "quantity", p.quantity);
    put(w, "avgCost", p.avg_cost);
    put(w, "marketValue", p.market_value);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

std::string iso8601_ms(std::int64_t ns_since_epoch) {
  using namespace std::chrono;
  sys_time<milliseconds> t = floor<milliseconds>(sys_time<nanoseconds>{nanoseconds{ns_since_epoch}});
  sys_days day = floor<days>(t);
  year_month_day ymd{day};
  hh_mm_ss<milliseconds> hms{t - day};
  std::array<char, 40> out{};
  int n = std::snprintf(out.data(), out.size(), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                        static_cast<int>(hms.minutes().count()),
                        static_cast<int>(hms.seconds().count()),
                        static_cast<int>(hms.subseconds().count()));
  return {out.data(), static_cast<std::size_t>(std::clamp(n, 0, static_cast<int>(out.size()) - 1))};
}

std::optional<route_params> route_match(std::string_view pattern, std::string_view path) {
  auto want = split_path(pattern);
  auto got = split_path(path);
  if (want.size() != got.size())
    return std::nullopt;
  route_params params;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!want[i].empty() && want[i].front() == ':') {
      if (got[i].empty())
        return std::nullopt;
      auto decoded = percent_decode(got[i], false);
      if (!decoded || decoded->empty())
        return std::nullopt;
      params.insert_or_assign(std::string{want[i].substr(1)}, std::move(*decoded));
    } else if (want[i] != got[i]) {
      return std::nullopt;
    }
  }
  return params;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      int byte = hi * 16 + lo;
      if (byte == 0)
        return std::nullopt;
      out += static_cast<char>(byte);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>>
parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t amp = query.find('&', start);
    if (amp == std::string_view::npos)
      amp = query.size();
    std::string_view piece = query.substr(start, amp - start);
    start = amp + 1;
    if (piece.empty())
      continue;
    std::size_t eq = piece.find('=');
    auto name = percent_decode(piece.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::optional<std::string>{std::string{}}
                                              : percent_decode(piece.substr(eq + 1), true);
    if (!name || !value)
      return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

std::optional<std::string_view>
query_value(const std::vector<std::pair<std::string, std::string>>& query,
            std::string_view name) {
  for (const auto& [k, v] : query)
    if (k == name)
      return std::string_view{v};
  return std::nullopt;
}

std::expected<std::optional<std::uint64_t>, api_error>
query_uint(const std::vector<std::pair<std::string, std::string>>& query, std::string_view name,
           std::uint64_t max) {
  auto matches = std::count_if(query.begin(), query.end(),
                               [&](const auto& kv) { return kv.first == name; });
  if (matches == 0)
    return std::optional<std::uint64_t>{};
  auto fail = [&](std::string why) {
    return std::unexpected(bad_request("invalid_query", std::string{name} + " " + why));
  };
  if (matches > 1)
    return fail("is given more than once");
  std::string_view text = *query_value(query, name);
  bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                             [](char c) { return c >= '0' && c <= '9'; });
  if (!digits)
    return fail("must be an unsigned integer");
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v > max)
    return fail("must be at most " + std::to_string(max));
  return std::optional<std::uint64_t>{v};
}

} // namespace brokerd::api
