#include "actors/brokers/schwab/codec.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::actors::schwab {

namespace {

using engine::decimal;
using json_value = rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;
__extension__ using int128 = __int128;

// Numbers are kept as their text: amounts never pass through a double.
constexpr unsigned parse_flags = rapidjson::kParseNumbersAsStringsFlag;

constexpr std::int64_t ns_per_second = 1'000'000'000;

std::unexpected<error> fail(errc code, std::string message) {
  return std::unexpected(error{code, std::move(message)});
}

template <class T> std::unexpected<error> fail(const std::expected<T, error>& x) {
  return std::unexpected(x.error());
}

#define BROKERD_SCHWAB_TAKE(target, expr)                                                          \
  do {                                                                                             \
    auto taken = (expr);                                                                           \
    if (!taken)                                                                                    \
      return fail(taken);                                                                          \
    target = std::move(*taken);                                                                    \
  } while (false)

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool digits_only(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

/// A value quoted in an error message, bounded: a hostile peer may send megabytes.
std::string quoted(std::string_view text) {
  std::string out{"\""};
  out += text.substr(0, 64);
  if (text.size() > 64)
    out += "...";
  out += '"';
  return out;
}

std::string_view trim(std::string_view text) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

/// The first 200 characters of a body that is not the JSON expected, trimmed.
std::string excerpt(std::string_view body) {
  return std::string{trim(body).substr(0, 200)};
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// -- numbers -----------------------------------------------------------------------------------

/// Quantities must be exact; money values are rounded half-even to 8 fraction digits (a JSON
/// number printed from a binary double may read 187.24999999999997).
enum class amount { quantity, money };

/// The plain form of a number text with an exponent ("1.5E7" → "15000000"; JSON allows them
/// and printers of doubles use them for large and small values), shifted in text; other texts
/// are returned as they are. Nothing when the exponent form is malformed or its exponent has
/// more than 3 digits.
std::optional<std::string> expand_exponent(std::string_view text) {
  auto e = text.find_first_of("eE");
  if (e == std::string_view::npos)
    return std::string{text};
  auto mantissa = text.substr(0, e);
  auto exponent = text.substr(e + 1);
  std::string sign;
  if (!mantissa.empty() && (mantissa[0] == '-' || mantissa[0] == '+')) {
    if (mantissa[0] == '-')
      sign = "-";
    mantissa.remove_prefix(1);
  }
  auto dot = mantissa.find('.');
  auto int_part = mantissa.substr(0, dot);
  auto fraction = dot == std::string_view::npos ? std::string_view{} : mantissa.substr(dot + 1);
  if (!digits_only(int_part) || (dot != std::string_view::npos && !digits_only(fraction)))
    return std::nullopt;
  bool negative_exponent = false;
  if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) {
    negative_exponent = exponent[0] == '-';
    exponent.remove_prefix(1);
  }
  if (exponent.size() > 3 || !digits_only(exponent))
    return std::nullopt;
  int shift = 0;
  std::from_chars(exponent.data(), exponent.data() + exponent.size(), shift);
  if (negative_exponent)
    shift = -shift;
  std::string digits = std::string{int_part} + std::string{fraction};
  auto point = static_cast<long>(int_part.size()) + shift;
  std::string plain;
  if (point <= 0)
    plain = "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  else if (static_cast<std::size_t>(point) >= digits.size())
    plain = digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0');
  else
    plain = digits.substr(0, static_cast<std::size_t>(point)) + "." +
            digits.substr(static_cast<std::size_t>(point));
  // Leading zeros of the integer part go, one stays before the dot.
  auto first = plain.find_first_not_of('0');
  if (first == std::string::npos)
    plain = "0";
  else if (plain[first] == '.')
    plain.erase(0, first - 1);
  else
    plain.erase(0, first);
  return sign + plain;
}

/// Rounds a plain decimal text to 8 fraction digits, half-even, in text. A text that is not
/// plain digits is returned as it is, for decimal::parse to reject.
std::string round_half_even(std::string plain) {
  auto dot = plain.find('.');
  if (dot == std::string::npos || plain.size() - dot - 1 <= decimal::scale)
    return plain;
  std::size_t start = plain[0] == '-' || plain[0] == '+' ? 1 : 0;
  std::string_view text{plain};
  auto int_part = text.substr(start, dot - start);
  auto fraction = text.substr(dot + 1);
  if (!digits_only(int_part) || !digits_only(fraction))
    return plain;
  std::string digits = std::string{int_part} + std::string{fraction.substr(0, decimal::scale)};
  auto rest = fraction.substr(decimal::scale);
  bool above_half =
      rest[0] > '5' || (rest[0] == '5' && rest.find_first_not_of('0', 1) != std::string_view::npos);
  bool exactly_half = rest[0] == '5' && !above_half;
  bool last_odd = (digits.back() - '0') % 2 != 0;
  if (above_half || (exactly_half && last_odd)) {
    auto i = digits.size();
    while (i > 0 && digits[i - 1] == '9') {
      digits[i - 1] = '0';
      --i;
    }
    if (i == 0)
      digits.insert(0, "1");
    else
      ++digits[i - 1];
  }
  auto int_digits = digits.size() - decimal::scale;
  return plain.substr(0, start) + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

/// A decimal from the text of a JSON number or string; nothing when it is not one.
std::optional<decimal> read_amount(std::string_view text, amount kind) {
  auto plain = expand_exponent(text);
  if (!plain)
    return std::nullopt;
  auto parsed = decimal::parse(kind == amount::money ? round_half_even(std::move(*plain)) : *plain);
  if (!parsed)
    return std::nullopt;
  return *parsed;
}

/// Divides rounding half to even; `den` > 0.
int128 div_half_even(int128 num, int128 den) {
  int128 q = num / den;
  int128 r = num % den;
  if (r < 0)
    r = -r;
  int128 twice = r * 2;
  if (twice > den || (twice == den && q % 2 != 0))
    q += num < 0 ? -1 : 1;
  return q;
}

// -- JSON --------------------------------------------------------------------------------------

std::string_view type_name(const json_value& v) {
  switch (v.GetType()) {
  case rapidjson::kNullType:
    return "null";
  case rapidjson::kFalseType:
  case rapidjson::kTrueType:
    return "a boolean";
  case rapidjson::kObjectType:
    return "an object";
  case rapidjson::kArrayType:
    return "an array";
  case rapidjson::kStringType:
  case rapidjson::kNumberType:
    break;
  }
  // Numbers are parsed as their text: they look like strings.
  return "a string or number";
}

std::string_view view(const json_value& v) {
  return {v.GetString(), v.GetStringLength()};
}

/// Parses `text`; the error names `what` and the offset, never quotes the text (a token
/// response holds secrets).
std::expected<rapidjson::Document, error> parse_json(std::string_view text, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse<parse_flags>(text.data(), text.size());
  if (doc.HasParseError())
    return fail(errc::malformed_json, std::string{what} + ": not JSON (error at offset " +
                                          std::to_string(doc.GetErrorOffset()) + ")");
  return doc;
}

std::expected<void, error> expect_object(const json_value& v, std::string_view what) {
  if (!v.IsObject())
    return fail(errc::malformed_json,
                std::string{what} + " is " + std::string{type_name(v)} + ", expected an object");
  return {};
}

std::expected<void, error> expect_array(const json_value& v, std::string_view what) {
  if (!v.IsArray())
    return fail(errc::malformed_json,
                std::string{what} + " is " + std::string{type_name(v)} + ", expected an array");
  return {};
}

/// A string member of an object, or empty when absent or not a string.
std::string string_member(const json_value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString())
    return {};
  return std::string{view(it->value)};
}

/// Field lookup on an object; `path` prefixes field names in messages
/// ("securitiesAccount.currentBalances.cashBalance").
class fields {
public:
  fields(const json_value& object, std::string path) : object_(object), path_(std::move(path)) {}

  [[nodiscard]] std::string name(std::string_view key) const {
    return path_.empty() ? std::string{key} : path_ + "." + std::string{key};
  }

  /// The member, or nullptr when absent or null.
  [[nodiscard]] const json_value* find(std::string_view key) const {
    auto it =
        object_.FindMember(json_value{key.data(), static_cast<rapidjson::SizeType>(key.size())});
    if (it == object_.MemberEnd() || it->value.IsNull())
      return nullptr;
    return &it->value;
  }

  [[nodiscard]] error bad_type(std::string_view key, const json_value& v,
                               std::string_view expected) const {
    return error{errc::bad_field, name(key) + " is " + std::string{type_name(v)} + ", expected " +
                                      std::string{expected}};
  }

  /// A string (or a number, as its text); the messages never quote the value.
  [[nodiscard]] std::expected<std::string, error> required_text(std::string_view key) const {
    const auto* v = find(key);
    if (!v)
      return fail(errc::missing_field, name(key) + " is missing");
    if (!v->IsString())
      return std::unexpected(bad_type(key, *v, "a string"));
    if (v->GetStringLength() == 0)
      return fail(errc::missing_field, name(key) + " is empty");
    return std::string{view(*v)};
  }

  /// Like required_text, but empty when absent or null.
  [[nodiscard]] std::expected<std::string, error> optional_text(std::string_view key) const {
    const auto* v = find(key);
    if (!v)
      return std::string{};
    if (!v->IsString())
      return std::unexpected(bad_type(key, *v, "a string"));
    return std::string{view(*v)};
  }

  [[nodiscard]] std::expected<std::optional<decimal>, error> optional_amount(std::string_view key,
                                                                             amount kind) const {
    const auto* v = find(key);
    if (!v)
      return std::optional<decimal>{};
    // With kParseNumbersAsStringsFlag, JSON numbers arrive as strings too.
    if (!v->IsString())
      return std::unexpected(bad_type(key, *v, "a decimal string or number"));
    auto parsed = read_amount(view(*v), kind);
    if (!parsed)
      return fail(errc::bad_field, name(key) + " is not a decimal: " + quoted(view(*v)));
    return parsed;
  }

  [[nodiscard]] std::expected<decimal, error> required_amount(std::string_view key,
                                                              amount kind) const {
    auto d = optional_amount(key, kind);
    if (!d)
      return fail(d);
    if (!*d)
      return fail(errc::missing_field, name(key) + " is missing");
    return **d;
  }

  [[nodiscard]] std::expected<std::optional<bool>, error>
  optional_bool(std::string_view key) const {
    const auto* v = find(key);
    if (!v)
      return std::optional<bool>{};
    if (!v->IsBool())
      return std::unexpected(bad_type(key, *v, "a boolean"));
    return std::optional<bool>{v->GetBool()};
  }

  /// The member if it is an object; nullptr when absent or null.
  [[nodiscard]] std::expected<const json_value*, error> object(std::string_view key) const {
    const auto* v = find(key);
    if (v && !v->IsObject())
      return std::unexpected(bad_type(key, *v, "an object"));
    return v;
  }

  /// The member if it is an array; nullptr when absent or null.
  [[nodiscard]] std::expected<const json_value*, error> array(std::string_view key) const {
    const auto* v = find(key);
    if (v && !v->IsArray())
      return std::unexpected(bad_type(key, *v, "an array"));
    return v;
  }

private:
  const json_value& object_;
  std::string path_;
};

std::string item_path(std::string_view array_path, rapidjson::SizeType i) {
  return std::string{array_path} + "[" + std::to_string(i) + "]";
}

std::expected<void, error> expect_item_object(const json_value& v, const std::string& path) {
  if (!v.IsObject())
    return fail(errc::bad_field,
                path + " is " + std::string{type_name(v)} + ", expected an object");
  return {};
}

// -- accounts ----------------------------------------------------------------------------------

/// One place a balance may be read from: an object (nullptr when absent) and a key.
struct balance_source {
  const json_value* object;
  std::string_view path;
  std::string_view key;
};

/// The first of `sources` that is present; a present but unparsable one is an error, not a
/// reason to look further. The error for none names every field tried.
std::expected<decimal, error> first_of(std::string_view what,
                                       std::initializer_list<balance_source> sources) {
  std::string tried;
  for (const auto& s : sources) {
    std::string path{s.path};
    if (!tried.empty())
      tried += ", ";
    tried += path + "." + std::string{s.key};
    if (!s.object)
      continue;
    auto d = fields{*s.object, path}.optional_amount(s.key, amount::money);
    if (!d)
      return fail(d);
    if (*d)
      return **d;
  }
  return fail(errc::missing_field, std::string{what} + " is missing: none of " + tried);
}

/// The parts of an account body both parse_account and parse_positions read.
struct account_parts {
  rapidjson::Document doc;
  const json_value* securities = nullptr;
  const json_value* aggregated = nullptr;
};

std::expected<account_parts, error> read_account(std::string_view json) {
  account_parts parts;
  BROKERD_SCHWAB_TAKE(parts.doc, parse_json(json, "account"));
  if (auto ok = expect_object(parts.doc, "account"); !ok)
    return fail(ok);
  fields top{parts.doc, ""};
  BROKERD_SCHWAB_TAKE(parts.securities, top.object("securitiesAccount"));
  if (!parts.securities)
    return fail(errc::missing_field, "securitiesAccount is missing");
  BROKERD_SCHWAB_TAKE(parts.aggregated, top.object("aggregatedBalance"));
  return parts;
}

// -- orders ------------------------------------------------------------------------------------

/// A price as schwab-py writes it (§4): 2 decimals at or above $1, 4 below. `digits` decimals
/// are exact (checked before).
std::string format_price(decimal price, int digits) {
  auto units = price.units();
  auto whole = units / decimal::one_units;
  auto fraction = units % decimal::one_units;
  std::int64_t divisor = 1;
  for (int i = digits; i < decimal::scale; ++i)
    divisor *= 10;
  auto kept = std::to_string(fraction / divisor);
  return std::to_string(whole) + "." +
         std::string(static_cast<std::size_t>(digits) - kept.size(), '0') + kept;
}

int allowed_price_digits(decimal price) {
  return price >= decimal::from_units(decimal::one_units) ? 2 : 4;
}

void put(writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

constexpr std::string_view pending_new_statuses[] = {"AWAITING_PARENT_ORDER",
                                                     "AWAITING_CONDITION",
                                                     "AWAITING_STOP_CONDITION",
                                                     "AWAITING_MANUAL_REVIEW",
                                                     "AWAITING_RELEASE_TIME",
                                                     "ACCEPTED",
                                                     "NEW",
                                                     "QUEUED",
                                                     "PENDING_ACTIVATION",
                                                     "PENDING_ACKNOWLEDGEMENT"};
constexpr std::string_view working_statuses[] = {"WORKING", "PENDING_REPLACE", "PENDING_RECALL"};
constexpr std::string_view cancelling_statuses[] = {"PENDING_CANCEL", "AWAITING_UR_OUT"};

template <std::size_t N> bool one_of(std::string_view text, const std::string_view (&values)[N]) {
  return std::find(std::begin(values), std::end(values), text) != std::end(values);
}

/// Σ(quantity × price) / Σ quantity, rounded half-even once: a running average would round at
/// every leg.
std::expected<std::optional<decimal>, error> average_price(const std::vector<execution>& legs,
                                                           const std::string& path) {
  int128 notional = 0;
  int128 total = 0;
  for (const auto& leg : legs) {
    // |units| < 2^63, so one product fits; only the sum can overflow.
    int128 product = static_cast<int128>(leg.price.units()) * leg.quantity.units();
    if (__builtin_add_overflow(notional, product, &notional))
      return fail(errc::bad_field,
                  path + "orderActivityCollection: the average fill price overflows");
    total += leg.quantity.units();
  }
  if (total == 0)
    return std::optional<decimal>{};
  // The average lies between the smallest and the largest price: it fits.
  return std::optional<decimal>{
      decimal::from_units(static_cast<std::int64_t>(div_half_even(notional, total)))};
}

std::expected<std::vector<execution>, error> read_executions(const fields& f,
                                                             const std::string& prefix) {
  std::vector<execution> out;
  const json_value* activities = nullptr;
  BROKERD_SCHWAB_TAKE(activities, f.array("orderActivityCollection"));
  if (!activities)
    return out;
  for (rapidjson::SizeType i = 0; i < activities->Size(); ++i) {
    auto path = item_path(prefix + "orderActivityCollection", i);
    const auto& activity = (*activities)[i];
    if (auto ok = expect_item_object(activity, path); !ok)
      return fail(ok);
    fields a{activity, path};
    std::string activity_type;
    std::string execution_type;
    std::string activity_id;
    BROKERD_SCHWAB_TAKE(activity_type, a.optional_text("activityType"));
    BROKERD_SCHWAB_TAKE(execution_type, a.optional_text("executionType"));
    BROKERD_SCHWAB_TAKE(activity_id, a.optional_text("activityId"));
    if ((!activity_type.empty() && activity_type != "EXECUTION") ||
        (!execution_type.empty() && execution_type != "FILL"))
      continue;
    const json_value* legs = nullptr;
    BROKERD_SCHWAB_TAKE(legs, a.array("executionLegs"));
    if (!legs)
      continue;
    for (rapidjson::SizeType j = 0; j < legs->Size(); ++j) {
      auto leg_path = item_path(path + ".executionLegs", j);
      const auto& leg = (*legs)[j];
      if (auto ok = expect_item_object(leg, leg_path); !ok)
        return fail(ok);
      fields l{leg, leg_path};
      execution x;
      x.activity_id = activity_id;
      BROKERD_SCHWAB_TAKE(x.leg_id, l.optional_text("legId"));
      BROKERD_SCHWAB_TAKE(x.quantity, l.required_amount("quantity", amount::quantity));
      BROKERD_SCHWAB_TAKE(x.price, l.required_amount("price", amount::money));
      BROKERD_SCHWAB_TAKE(x.time, l.optional_text("time"));
      if (x.quantity.is_negative())
        return fail(errc::bad_field,
                    l.name("quantity") + " is negative: " + quoted(x.quantity.to_string()));
      if (x.quantity.is_zero())
        continue;
      out.push_back(std::move(x));
    }
  }
  return out;
}

std::expected<order_info, error> read_order(const json_value& v, const std::string& path) {
  if (!v.IsObject())
    return fail(path.empty() ? errc::malformed_json : errc::bad_field,
                (path.empty() ? std::string{"order"} : path) + " is " + std::string{type_name(v)} +
                    ", expected an object");
  fields f{v, path};
  auto prefix = path.empty() ? std::string{} : path + ".";
  order_info o;
  BROKERD_SCHWAB_TAKE(o.order_id, f.required_text("orderId"));
  BROKERD_SCHWAB_TAKE(o.account_number, f.optional_text("accountNumber"));
  BROKERD_SCHWAB_TAKE(o.schwab_status, f.required_text("status"));
  BROKERD_SCHWAB_TAKE(o.status_description, f.optional_text("statusDescription"));
  BROKERD_SCHWAB_TAKE(o.order_type, f.optional_text("orderType"));
  BROKERD_SCHWAB_TAKE(o.session, f.optional_text("session"));
  BROKERD_SCHWAB_TAKE(o.duration, f.optional_text("duration"));
  BROKERD_SCHWAB_TAKE(o.order_strategy_type, f.optional_text("orderStrategyType"));
  std::optional<decimal> quantity;
  std::optional<decimal> filled;
  BROKERD_SCHWAB_TAKE(quantity, f.optional_amount("quantity", amount::quantity));
  BROKERD_SCHWAB_TAKE(filled, f.optional_amount("filledQuantity", amount::quantity));
  o.quantity = quantity.value_or(decimal{});
  o.filled_quantity = filled.value_or(decimal{});
  BROKERD_SCHWAB_TAKE(o.remaining_quantity,
                      f.optional_amount("remainingQuantity", amount::quantity));
  BROKERD_SCHWAB_TAKE(o.price, f.optional_amount("price", amount::money));
  BROKERD_SCHWAB_TAKE(o.stop_price, f.optional_amount("stopPrice", amount::money));
  BROKERD_SCHWAB_TAKE(o.entered_time, f.optional_text("enteredTime"));
  if (!o.entered_time.empty()) {
    auto ns = parse_time(o.entered_time);
    if (!ns)
      return fail(errc::bad_field, f.name("enteredTime") + " is not a time: " + ns.error().message);
    o.entered_ns = *ns;
  }
  BROKERD_SCHWAB_TAKE(o.close_time, f.optional_text("closeTime"));
  BROKERD_SCHWAB_TAKE(o.cancelable, f.optional_bool("cancelable"));
  BROKERD_SCHWAB_TAKE(o.editable, f.optional_bool("editable"));

  const json_value* legs = nullptr;
  BROKERD_SCHWAB_TAKE(legs, f.array("orderLegCollection"));
  if (legs) {
    o.leg_count = legs->Size();
    for (rapidjson::SizeType i = 0; i < legs->Size(); ++i) {
      auto leg_path = item_path(prefix + "orderLegCollection", i);
      if (auto ok = expect_item_object((*legs)[i], leg_path); !ok)
        return fail(ok);
    }
    if (o.leg_count > 0) {
      fields leg{(*legs)[0], item_path(prefix + "orderLegCollection", 0)};
      BROKERD_SCHWAB_TAKE(o.instruction, leg.optional_text("instruction"));
      const json_value* instrument = nullptr;
      BROKERD_SCHWAB_TAKE(instrument, leg.object("instrument"));
      if (instrument) {
        fields in{*instrument, leg.name("instrument")};
        BROKERD_SCHWAB_TAKE(o.symbol, in.optional_text("symbol"));
        BROKERD_SCHWAB_TAKE(o.asset_type, in.optional_text("assetType"));
      }
    }
  }

  BROKERD_SCHWAB_TAKE(o.executions, read_executions(f, prefix));
  BROKERD_SCHWAB_TAKE(o.average_fill_price, average_price(o.executions, prefix));
  o.status = map_order_status(o.schwab_status, o.filled_quantity, quantity)
                 .value_or(engine::order_status::unknown);
  return o;
}

order_fingerprint make_fingerprint(std::string symbol, std::string instruction, decimal quantity,
                                   std::string order_type, std::optional<decimal> price,
                                   std::optional<decimal> stop_price, std::string duration) {
  bool takes_price = order_type == "LIMIT" || order_type == "STOP_LIMIT";
  bool takes_stop = order_type == "STOP" || order_type == "STOP_LIMIT";
  return order_fingerprint{std::move(symbol),
                           std::move(instruction),
                           quantity,
                           std::move(order_type),
                           takes_price ? price : std::nullopt,
                           takes_stop ? stop_price : std::nullopt,
                           std::move(duration)};
}

// -- time --------------------------------------------------------------------------------------

/// The number in text[pos, pos+len), all digits; nothing otherwise.
std::optional<int> number_at(std::string_view text, std::size_t pos, std::size_t len) {
  if (pos + len > text.size())
    return std::nullopt;
  auto part = text.substr(pos, len);
  if (!digits_only(part))
    return std::nullopt;
  int value = 0;
  std::from_chars(part.data(), part.data() + part.size(), value);
  return value;
}

std::string padded(long value, std::size_t width) {
  auto text = std::to_string(value);
  if (text.size() < width)
    text.insert(0, width - text.size(), '0');
  return text;
}

} // namespace

// -- errors ------------------------------------------------------------------------------------

std::string_view to_string(errc x) noexcept {
  switch (x) {
  case errc::malformed_json:
    return "malformed_json";
  case errc::missing_field:
    return "missing_field";
  case errc::bad_field:
    return "bad_field";
  case errc::invalid_order:
    return "invalid_order";
  case errc::bad_location:
    return "bad_location";
  case errc::bad_callback:
    return "bad_callback";
  case errc::bad_argument:
    return "bad_argument";
  }
  return "unknown";
}

std::string error::to_string() const {
  return std::string{schwab::to_string(code)} + ": " + message;
}

// -- OAuth2 ------------------------------------------------------------------------------------

std::string percent_encode(std::string_view text) {
  constexpr std::string_view hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
      continue;
    }
    auto byte = static_cast<unsigned char>(c);
    out += '%';
    out += hex[byte >> 4];
    out += hex[byte & 0x0F];
  }
  return out;
}

std::expected<std::string, error> percent_decode(std::string_view text) {
  auto hex_value = [](char c) -> int {
    if (is_digit(c))
      return c - '0';
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0)
      return fail(errc::bad_callback, "bad percent-escape at offset " + std::to_string(i));
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

std::string authorize_url(std::string_view base, std::string_view client_id,
                          std::string_view redirect_uri, std::string_view state) {
  std::string url{base};
  if (!url.empty() && url.back() == '/')
    url.pop_back();
  url += "/v1/oauth/authorize?response_type=code&client_id=";
  url += percent_encode(client_id);
  url += "&redirect_uri=";
  url += percent_encode(redirect_uri);
  if (!state.empty()) {
    url += "&state=";
    url += percent_encode(state);
  }
  return url;
}

std::expected<authorization_callback, error> parse_callback(std::string_view url_or_query) {
  auto text = trim(url_or_query);
  if (auto hash = text.find('#'); hash != std::string_view::npos)
    text = text.substr(0, hash);
  if (auto question = text.find('?'); question != std::string_view::npos)
    text = text.substr(question + 1);
  else if (auto scheme = text.find("://");
           scheme != std::string_view::npos && scheme < text.find('='))
    return fail(errc::bad_callback, "the callback URL has no query: code is missing");

  authorization_callback out;
  std::optional<std::string> code;
  std::optional<std::string> state;
  std::string oauth_error;
  std::string oauth_error_description;
  while (!text.empty()) {
    auto amp = text.find('&');
    auto pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto raw_key = pair.substr(0, eq);
    auto raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    auto key = percent_decode(raw_key);
    if (!key)
      return fail(errc::bad_callback, "a callback parameter name has a " + key.error().message);
    auto value = [&](std::string_view name) -> std::expected<std::string, error> {
      auto decoded = percent_decode(raw_value);
      if (!decoded)
        return fail(errc::bad_callback, std::string{name} + " has a " + decoded.error().message);
      return decoded;
    };
    if (*key == "code" || *key == "state") {
      auto& slot = *key == "code" ? code : state;
      if (slot)
        return fail(errc::bad_callback, *key + " appears more than once in the callback");
      BROKERD_SCHWAB_TAKE(slot, value(*key));
    } else if (*key == "session") {
      BROKERD_SCHWAB_TAKE(out.session, value("session"));
    } else if (*key == "error") {
      BROKERD_SCHWAB_TAKE(oauth_error, value("error"));
    } else if (*key == "error_description") {
      // A description is form-encoded text: '+' is a space there.
      std::string spaced{raw_value};
      std::replace(spaced.begin(), spaced.end(), '+', ' ');
      raw_value = spaced;
      BROKERD_SCHWAB_TAKE(oauth_error_description, value("error_description"));
    }
  }
  if (!oauth_error.empty())
    return fail(errc::bad_callback,
                "the login was refused: " + oauth_error +
                    (oauth_error_description.empty() ? "" : ": " + oauth_error_description));
  if (!code)
    return fail(errc::bad_callback, "code is missing from the callback");
  if (code->empty())
    return fail(errc::bad_callback, "code is empty in the callback");
  out.code = secret{std::move(*code)};
  out.state = state.value_or("");
  return out;
}

secret encode_code_grant(const secret& code, std::string_view redirect_uri) {
  return secret{"grant_type=authorization_code&code=" + percent_encode(code.reveal()) +
                "&redirect_uri=" + percent_encode(redirect_uri)};
}

secret encode_refresh_grant(const secret& refresh_token) {
  return secret{"grant_type=refresh_token&refresh_token=" + percent_encode(refresh_token.reveal())};
}

std::expected<secret, error> basic_authorization(std::string_view app_key,
                                                 const secret& app_secret) {
  if (app_key.empty())
    return fail(errc::bad_argument, "the app key is empty");
  if (app_key.find(':') != std::string_view::npos)
    return fail(errc::bad_argument, "the app key contains ':'");
  if (app_secret.empty())
    return fail(errc::bad_argument, "the app secret is empty");
  constexpr std::size_t max_input = 64 * 1024;
  if (app_key.size() + app_secret.reveal().size() >= max_input)
    return fail(errc::bad_argument, "the app key and secret are longer than 64 KiB");
  std::string plain = std::string{app_key} + ":" + app_secret.reveal();
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  auto length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  OPENSSL_cleanse(plain.data(), plain.size());
  encoded.resize(static_cast<std::size_t>(length));
  return secret{"Basic " + encoded};
}

std::expected<token_response, error> parse_token_response(std::string_view json) {
  auto doc = parse_json(json, "token response");
  if (!doc)
    return fail(doc);
  if (auto ok = expect_object(*doc, "token response"); !ok)
    return fail(ok);
  fields f{*doc, ""};
  token_response out;
  auto access = f.required_text("access_token");
  if (!access) {
    auto e = access.error();
    // An error body sent with 200: say what it was (the OAuth error is not a secret).
    if (auto oauth = string_member(*doc, "error"); !oauth.empty())
      e.message += " (the body carries error " + quoted(oauth) + ")";
    return std::unexpected(std::move(e));
  }
  out.access_token = secret{std::move(*access)};
  std::string text;
  BROKERD_SCHWAB_TAKE(text, f.optional_text("refresh_token"));
  out.refresh_token = secret{std::move(text)};
  BROKERD_SCHWAB_TAKE(text, f.optional_text("id_token"));
  out.id_token = secret{std::move(text)};
  BROKERD_SCHWAB_TAKE(out.scope, f.optional_text("scope"));
  BROKERD_SCHWAB_TAKE(text, f.optional_text("token_type"));
  if (!text.empty()) {
    if (!iequals(text, "Bearer"))
      return fail(errc::bad_field, "token_type is " + quoted(text) + ", expected Bearer");
    out.token_type = std::move(text);
  }
  std::optional<decimal> expires_in;
  BROKERD_SCHWAB_TAKE(expires_in, f.optional_amount("expires_in", amount::quantity));
  if (expires_in) {
    if (!expires_in->is_positive() || expires_in->fraction_digits() > 0)
      return fail(errc::bad_field, "expires_in is not a positive whole number of seconds: " +
                                       quoted(expires_in->to_string()));
    out.expires_in = expires_in->units() / decimal::one_units;
  }
  return out;
}

std::string oauth_error::to_string() const {
  std::string out = "HTTP " + std::to_string(http_status);
  if (!error.empty())
    out += ", " + error;
  if (!inner_error.empty())
    out += " (" + inner_error + ")";
  if (!error_description.empty())
    out += ": " + error_description;
  return out;
}

oauth_error parse_oauth_error(unsigned http_status, std::string_view body) {
  oauth_error out;
  out.http_status = http_status;
  rapidjson::Document doc;
  doc.Parse<parse_flags>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    out.error_description = excerpt(body);
    return out;
  }
  out.error = string_member(doc, "error");
  out.error_description = string_member(doc, "error_description");
  if (out.error.empty() && out.error_description.empty()) {
    out.error_description = excerpt(body);
    return out;
  }
  // §2.6: the description may hold a second JSON error, escaped once more.
  auto open = out.error_description.find('{');
  auto close = out.error_description.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return out;
  auto inner_error_of = [](const std::string& text) {
    rapidjson::Document inner;
    inner.Parse<parse_flags>(text.data(), text.size());
    return !inner.HasParseError() && inner.IsObject() ? string_member(inner, "error")
                                                      : std::string{};
  };
  auto inner_text = out.error_description.substr(open, close - open + 1);
  out.inner_error = inner_error_of(inner_text);
  if (out.inner_error.empty()) {
    // Escaped once more: the inner quotes still read \".
    std::string unescaped;
    for (std::size_t i = 0; i < inner_text.size(); ++i)
      if (!(inner_text[i] == '\\' && i + 1 < inner_text.size() && inner_text[i + 1] == '"'))
        unescaped += inner_text[i];
    out.inner_error = inner_error_of(unescaped);
  }
  return out;
}

// -- accounts ----------------------------------------------------------------------------------

std::expected<std::vector<linked_account>, error> parse_account_numbers(std::string_view json) {
  auto doc = parse_json(json, "accountNumbers");
  if (!doc)
    return fail(doc);
  if (auto ok = expect_array(*doc, "accountNumbers"); !ok)
    return fail(ok);
  std::vector<linked_account> out;
  out.reserve(doc->Size());
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    auto path = item_path("accountNumbers", i);
    if (auto ok = expect_item_object((*doc)[i], path); !ok)
      return fail(ok);
    fields f{(*doc)[i], path};
    linked_account a;
    BROKERD_SCHWAB_TAKE(a.account_number, f.required_text("accountNumber"));
    BROKERD_SCHWAB_TAKE(a.hash_value, f.required_text("hashValue"));
    out.push_back(std::move(a));
  }
  return out;
}

std::expected<engine::balance, error> parse_account(std::string_view json) {
  auto parts = read_account(json);
  if (!parts)
    return fail(parts);
  fields s{*parts->securities, "securitiesAccount"};
  std::string type;
  const json_value* current = nullptr;
  const json_value* initial = nullptr;
  BROKERD_SCHWAB_TAKE(type, s.optional_text("type"));
  BROKERD_SCHWAB_TAKE(current, s.object("currentBalances"));
  BROKERD_SCHWAB_TAKE(initial, s.object("initialBalances"));
  constexpr std::string_view cur = "securitiesAccount.currentBalances";
  constexpr std::string_view ini = "securitiesAccount.initialBalances";
  constexpr std::string_view agg = "aggregatedBalance";
  const auto* aggregated = parts->aggregated;

  engine::balance b;
  BROKERD_SCHWAB_TAKE(b.cash, first_of("cash", {{current, cur, "cashBalance"},
                                                {current, cur, "totalCash"},
                                                {initial, ini, "cashBalance"}}));
  if (type == "MARGIN")
    BROKERD_SCHWAB_TAKE(b.buying_power, first_of("buying power", {{current, cur, "buyingPower"}}));
  else if (type == "CASH")
    BROKERD_SCHWAB_TAKE(b.buying_power,
                        first_of("buying power", {{current, cur, "cashAvailableForTrading"}}));
  else
    BROKERD_SCHWAB_TAKE(b.buying_power,
                        first_of("buying power", {{current, cur, "buyingPower"},
                                                  {current, cur, "cashAvailableForTrading"}}));
  // MARGIN accounts carry currentBalances.equity; the others take the net liquidation value.
  BROKERD_SCHWAB_TAKE(b.equity, first_of("equity", {{current, cur, "equity"},
                                                    {aggregated, agg, "liquidationValue"},
                                                    {aggregated, agg, "currentLiquidationValue"},
                                                    {current, cur, "liquidationValue"},
                                                    {initial, ini, "liquidationValue"}}));
  return b;
}

std::expected<engine::position_list, error> parse_positions(std::string_view json) {
  auto parts = read_account(json);
  if (!parts)
    return fail(parts);
  fields s{*parts->securities, "securitiesAccount"};
  const json_value* positions = nullptr;
  BROKERD_SCHWAB_TAKE(positions, s.array("positions"));
  engine::position_list out;
  if (!positions)
    return out;
  out.reserve(positions->Size());
  for (rapidjson::SizeType i = 0; i < positions->Size(); ++i) {
    auto path = item_path("securitiesAccount.positions", i);
    const auto& item = (*positions)[i];
    if (auto ok = expect_item_object(item, path); !ok)
      return fail(ok);
    fields f{item, path};
    const json_value* instrument = nullptr;
    BROKERD_SCHWAB_TAKE(instrument, f.object("instrument"));
    if (!instrument)
      return fail(errc::missing_field, f.name("instrument") + " is missing");
    engine::position p;
    BROKERD_SCHWAB_TAKE(p.symbol,
                        (fields{*instrument, f.name("instrument")}.required_text("symbol")));
    std::optional<decimal> long_quantity;
    std::optional<decimal> short_quantity;
    BROKERD_SCHWAB_TAKE(long_quantity, f.optional_amount("longQuantity", amount::quantity));
    BROKERD_SCHWAB_TAKE(short_quantity, f.optional_amount("shortQuantity", amount::quantity));
    if (!long_quantity && !short_quantity)
      return fail(errc::missing_field,
                  f.name("longQuantity") + " and " + f.name("shortQuantity") + " are missing");
    auto net = long_quantity.value_or(decimal{}).checked_sub(short_quantity.value_or(decimal{}));
    if (!net)
      return fail(errc::bad_field, f.name("longQuantity") + " - shortQuantity overflows");
    p.quantity = *net;
    BROKERD_SCHWAB_TAKE(
        p.avg_cost,
        first_of(
            "average price",
            {{&item, path, "averagePrice"},
             {&item, path, p.quantity.is_negative() ? "averageShortPrice" : "averageLongPrice"}}));
    BROKERD_SCHWAB_TAKE(p.market_value, f.required_amount("marketValue", amount::money));
    out.push_back(std::move(p));
  }
  return out;
}

// -- orders ------------------------------------------------------------------------------------

std::string_view to_schwab(engine::order_type x) noexcept {
  switch (x) {
  case engine::order_type::market:
    return "MARKET";
  case engine::order_type::limit:
    return "LIMIT";
  case engine::order_type::stop:
    return "STOP";
  case engine::order_type::stop_limit:
    return "STOP_LIMIT";
  }
  return "";
}

std::string_view to_schwab(engine::time_in_force x) noexcept {
  switch (x) {
  case engine::time_in_force::day:
    return "DAY";
  case engine::time_in_force::gtc:
    return "GOOD_TILL_CANCEL";
  case engine::time_in_force::ioc:
    return "IMMEDIATE_OR_CANCEL";
  case engine::time_in_force::fok:
    return "FILL_OR_KILL";
  }
  return "";
}

std::string_view to_schwab(engine::side x) noexcept {
  return x == engine::side::buy ? "BUY" : "SELL";
}

std::expected<std::string, error> encode_order(const engine::order& o) {
  using engine::order_type;
  auto invalid = [](std::string message) { return fail(errc::invalid_order, std::move(message)); };
  if (o.symbol.empty())
    return invalid("orderLegCollection[0].instrument.symbol (symbol) is empty");
  if (!o.quantity.is_positive())
    return invalid("orderLegCollection[0].quantity (quantity) must be positive, got " +
                   o.quantity.to_string());
  if (o.quantity.fraction_digits() > 0)
    return invalid("orderLegCollection[0].quantity (quantity) " + o.quantity.to_string() +
                   " is fractional: Schwab takes whole shares only");
  bool wants_price = o.type == order_type::limit || o.type == order_type::stop_limit;
  bool wants_stop = o.type == order_type::stop || o.type == order_type::stop_limit;
  auto check_price = [&](const std::optional<decimal>& price, bool wanted,
                         std::string_view field) -> std::optional<std::string> {
    auto type = std::string{to_schwab(o.type)};
    if (wanted && !price)
      return std::string{field} + " is required for a " + type + " order";
    if (!wanted && price)
      return std::string{field} + " is not allowed on a " + type + " order";
    if (!price)
      return std::nullopt;
    if (!price->is_positive())
      return std::string{field} + " must be positive, got " + price->to_string();
    if (price->fraction_digits() > allowed_price_digits(*price))
      return std::string{field} + " " + price->to_string() + " has " +
             std::to_string(price->fraction_digits()) +
             " decimals: Schwab takes at most 2 at or above $1 and 4 below";
    return std::nullopt;
  };
  if (auto problem = check_price(o.limit_price, wants_price, "price (limit_price)"))
    return invalid(*problem);
  if (auto problem = check_price(o.stop_price, wants_stop, "stopPrice (stop_price)"))
    return invalid(*problem);

  rapidjson::StringBuffer buffer;
  writer w{buffer};
  w.StartObject();
  put(w, "orderType", to_schwab(o.type));
  put(w, "session", "NORMAL");
  put(w, "duration", to_schwab(o.tif));
  if (o.limit_price)
    put(w, "price", format_price(*o.limit_price, allowed_price_digits(*o.limit_price)));
  if (o.stop_price)
    put(w, "stopPrice", format_price(*o.stop_price, allowed_price_digits(*o.stop_price)));
  put(w, "orderStrategyType", "SINGLE");
  w.Key("orderLegCollection");
  w.StartArray();
  w.StartObject();
  put(w, "instruction", to_schwab(o.order_side));
  auto quantity = o.quantity.to_string();
  w.Key("quantity");
  w.RawValue(quantity.data(), quantity.size(), rapidjson::kNumberType);
  w.Key("instrument");
  w.StartObject();
  put(w, "symbol", o.symbol);
  put(w, "assetType", "EQUITY");
  w.EndObject();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string{buffer.GetString(), buffer.GetSize()};
}

std::expected<std::string, error> order_id_from_location(std::string_view header,
                                                         std::string_view account_hash) {
  auto text = trim(header);
  auto bad = [&](std::string_view why) {
    return fail(errc::bad_location, "Location " + quoted(text) + " " + std::string{why});
  };
  if (text.empty())
    return fail(errc::bad_location, "Location is empty");
  auto path = text.substr(0, text.find_first_of("?#"));
  if (auto scheme = path.find("://"); scheme != std::string_view::npos) {
    auto slash = path.find('/', scheme + 3);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
  }
  if (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    auto slash = path.rfind('/');
    segments.push_back(slash == std::string_view::npos ? path : path.substr(slash + 1));
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
    if (segments.size() == 4)
      break;
  }
  // segments, from the end: id, "orders", hash, "accounts".
  if (segments.size() < 4 || segments[1] != "orders" || segments[2].empty() ||
      segments[3] != "accounts")
    return bad("does not end in /accounts/{hash}/orders/{id}");
  auto id = segments[0];
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (!digits_only(id) || ec != std::errc{} || end != id.data() + id.size())
    return bad("has no numeric order id at its end");
  if (!account_hash.empty() && segments[2] != account_hash)
    return bad("names another account hash");
  return std::string{id};
}

std::optional<engine::order_status> map_order_status(std::string_view status, decimal filled,
                                                     std::optional<decimal> quantity) noexcept {
  using engine::order_status;
  if (status == "FILLED")
    return order_status::filled;
  if (status == "CANCELED" || status == "REPLACED")
    return order_status::canceled;
  if (status == "EXPIRED")
    return order_status::expired;
  if (status == "REJECTED")
    return order_status::rejected;
  if (status == "UNKNOWN")
    return order_status::unknown;
  order_status base;
  if (one_of(status, pending_new_statuses))
    base = order_status::pending_new;
  else if (one_of(status, working_statuses))
    base = order_status::new_;
  else if (one_of(status, cancelling_statuses))
    base = order_status::pending_cancel;
  else
    return std::nullopt;
  if (quantity && quantity->is_positive() && filled >= *quantity)
    return order_status::filled;
  if (filled.is_positive() && base != order_status::pending_cancel)
    return order_status::partially_filled;
  return base;
}

std::expected<order_info, error> parse_order(std::string_view json) {
  auto doc = parse_json(json, "order");
  if (!doc)
    return fail(doc);
  return read_order(*doc, "");
}

std::expected<std::vector<order_info>, error> parse_orders(std::string_view json) {
  auto doc = parse_json(json, "orders");
  if (!doc)
    return fail(doc);
  if (auto ok = expect_array(*doc, "orders"); !ok)
    return fail(ok);
  std::vector<order_info> out;
  out.reserve(doc->Size());
  for (rapidjson::SizeType i = 0; i < doc->Size(); ++i) {
    auto o = read_order((*doc)[i], item_path("orders", i));
    if (!o)
      return fail(o);
    out.push_back(std::move(*o));
  }
  return out;
}

std::expected<std::int64_t, error> parse_time(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] {
    return fail(errc::bad_field,
                quoted(text) + " is not yyyy-MM-ddTHH:mm:ss[.fraction] with Z, +hhmm or +hh:mm");
  };
  auto y = number_at(text, 0, 4);
  auto mo = number_at(text, 5, 2);
  auto d = number_at(text, 8, 2);
  auto h = number_at(text, 11, 2);
  auto mi = number_at(text, 14, 2);
  auto s = number_at(text, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':')
    return bad();
  year_month_day date{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  // int64 nanoseconds reach from 1677 to 2262.
  if (!date.ok() || *y < 1678 || *y > 2261 || *h > 23 || *mi > 59 || *s > 59)
    return bad();
  std::size_t pos = 19;
  std::int64_t fraction_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t scale = ns_per_second;
    auto start = pos;
    while (pos < text.size() && is_digit(text[pos]) && pos - start < 9) {
      scale /= 10;
      fraction_ns += (text[pos] - '0') * scale;
      ++pos;
    }
    if (pos == start)
      return bad();
  }
  std::int64_t offset_s = 0;
  if (pos < text.size() && text[pos] == 'Z') {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    auto oh = number_at(text, pos + 1, 2);
    pos += 3;
    if (pos < text.size() && text[pos] == ':')
      ++pos;
    auto om = number_at(text, pos, 2);
    pos += 2;
    if (!oh || !om || *oh > 23 || *om > 59)
      return bad();
    offset_s = sign * (*oh * 3600 + *om * 60);
  } else {
    return bad();
  }
  if (pos != text.size())
    return bad();
  std::int64_t days_since_epoch = sys_days{date}.time_since_epoch().count();
  std::int64_t seconds = days_since_epoch * 86'400 + *h * 3600 + *mi * 60 + *s - offset_s;
  return seconds * ns_per_second + fraction_ns;
}

std::string format_time(std::int64_t ns) {
  using namespace std::chrono;
  sys_time<nanoseconds> tp{nanoseconds{ns}};
  auto midnight = floor<days>(tp);
  year_month_day date{midnight};
  hh_mm_ss time{floor<milliseconds>(tp - midnight)};
  return padded(static_cast<int>(date.year()), 4) + "-" +
         padded(static_cast<unsigned>(date.month()), 2) + "-" +
         padded(static_cast<unsigned>(date.day()), 2) + "T" + padded(time.hours().count(), 2) +
         ":" + padded(time.minutes().count(), 2) + ":" + padded(time.seconds().count(), 2) + "." +
         padded(time.subseconds().count(), 3) + "Z";
}

std::string orders_query(std::int64_t from_ns, std::int64_t to_ns, std::string_view status) {
  auto query = "fromEnteredTime=" + percent_encode(format_time(from_ns)) +
               "&toEnteredTime=" + percent_encode(format_time(to_ns));
  if (!status.empty())
    query += "&status=" + percent_encode(status);
  return query;
}

// -- matching ----------------------------------------------------------------------------------

order_fingerprint fingerprint_of(const engine::order& o) {
  return make_fingerprint(o.symbol, std::string{to_schwab(o.order_side)}, o.quantity,
                          std::string{to_schwab(o.type)}, o.limit_price, o.stop_price,
                          std::string{to_schwab(o.tif)});
}

order_fingerprint fingerprint_of(const order_info& o) {
  return make_fingerprint(o.symbol, o.instruction, o.quantity, o.order_type, o.price, o.stop_price,
                          o.duration);
}

std::vector<order_info> match_created(const engine::order& o, const std::vector<order_info>& orders,
                                      std::int64_t entered_after_ns) {
  auto wanted = fingerprint_of(o);
  // Whole seconds, rounded down (also before the epoch).
  auto after = entered_after_ns / ns_per_second * ns_per_second;
  if (after > entered_after_ns)
    after -= ns_per_second;
  std::vector<order_info> out;
  for (const auto& candidate : orders) {
    if (candidate.leg_count != 1)
      continue;
    if (!candidate.order_strategy_type.empty() && candidate.order_strategy_type != "SINGLE")
      continue;
    if (candidate.entered_ns && *candidate.entered_ns < after)
      continue;
    if (fingerprint_of(candidate) != wanted)
      continue;
    out.push_back(candidate);
  }
  return out;
}

// -- Trader API errors -------------------------------------------------------------------------

std::string api_error::text() const {
  if (!errors.empty() && !errors.front().detail.empty())
    return errors.front().detail;
  if (!message.empty())
    return message;
  if (!errors.empty() && !errors.front().title.empty())
    return errors.front().title;
  return body;
}

std::string api_error::to_string() const {
  auto out = "HTTP " + std::to_string(http_status);
  if (auto t = text(); !t.empty())
    out += ": " + t;
  return out;
}

api_error parse_api_error(unsigned http_status, std::string_view body) {
  api_error out;
  out.http_status = http_status;
  rapidjson::Document doc;
  doc.Parse<parse_flags>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    out.body = excerpt(body);
    return out;
  }
  out.message = string_member(doc, "message");
  if (auto it = doc.FindMember("errors"); it != doc.MemberEnd() && it->value.IsArray()) {
    for (const auto& e : it->value.GetArray()) {
      if (!e.IsObject())
        continue;
      api_error_item item{string_member(e, "id"), string_member(e, "status"),
                          string_member(e, "title"), string_member(e, "detail"), ""};
      if (auto src = e.FindMember("source"); src != e.MemberEnd() && src->value.IsObject()) {
        for (const char* kind : {"header", "parameter", "pointer"}) {
          if (auto where = string_member(src->value, kind); !where.empty()) {
            item.source = std::string{kind} + " " + where;
            break;
          }
        }
      }
      out.errors.push_back(std::move(item));
    }
  }
  if (out.message.empty() && out.errors.empty())
    out.body = excerpt(body);
  return out;
}

#undef BROKERD_SCHWAB_TAKE

} // namespace brokerd::actors::schwab
