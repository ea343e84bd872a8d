#include "tools/brokerctl/output.hpp"

#include "persistence/json_fields.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::brokerctl {

namespace {

/// Appends `text` padded with spaces to `width`, then one separating space.
void cell(std::string& out, std::string_view text, std::size_t width) {
  out.append(text);
  if (text.size() < width)
    out.append(width - text.size(), ' ');
  out.push_back(' ');
}

/// Appends `text` right-aligned in `width`, then one separating space.
void right_cell(std::string& out, std::string_view text, std::size_t width) {
  if (text.size() < width)
    out.append(width - text.size(), ' ');
  out.append(text);
  out.push_back(' ');
}

void finish_line(std::string& out) {
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  out.push_back('\n');
}

std::string decimal_text(const std::optional<engine::decimal>& d) {
  return d ? d->to_string() : std::string{};
}

constexpr std::size_t seq_width = 8;
constexpr std::size_t time_width = 24;
constexpr std::size_t type_width = 16;
constexpr std::size_t order_width = 16;
constexpr std::size_t transition_width = 32;
constexpr std::size_t fill_width = 20;
constexpr std::size_t source_width = 9;

using json_writer = persistence::json::writer;

void json_text(json_writer& w, const char* key, std::string_view value, bool always = false) {
  if (value.empty() && !always)
    return;
  persistence::json::write_string(w, key, value);
}

} // namespace

std::string format_utc_ms(std::int64_t ts_ns) {
  constexpr std::int64_t ns_per_s = 1'000'000'000;
  std::int64_t seconds = ts_ns / ns_per_s;
  std::int64_t rest = ts_ns % ns_per_s;
  if (rest < 0) {
    rest += ns_per_s;
    --seconds;
  }
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm parts{};
  if (::gmtime_r(&t, &parts) == nullptr)
    return "invalid-time";
  std::array<char, 40> buf{};
  int n = std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                        parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                        parts.tm_min, parts.tm_sec, static_cast<int>(rest / 1'000'000));
  if (n < 0)
    return "invalid-time";
  return std::string{buf.data(), std::min(static_cast<std::size_t>(n), buf.size() - 1)};
}

std::string replay_table_header() {
  std::string out;
  right_cell(out, "SEQ", seq_width);
  cell(out, "TIME (UTC)", time_width);
  cell(out, "TYPE", type_width);
  cell(out, "ORDER", order_width);
  cell(out, "FROM -> TO", transition_width);
  cell(out, "FILLED/AVG", fill_width);
  cell(out, "SOURCE", source_width);
  cell(out, "REASON", 0);
  finish_line(out);
  return out;
}

std::string replay_table_row(const persistence::event& e) {
  std::string out;
  out.reserve(160);
  right_cell(out, std::to_string(e.seq), seq_width);
  cell(out, format_utc_ms(e.ts_ns), time_width);
  cell(out, e.type, type_width);
  if (!e.order_id.empty() || e.connection.empty())
    cell(out, e.order_id, order_width);
  else
    cell(out, "conn " + e.connection, order_width);

  std::string transition;
  if (e.from || e.to) {
    transition = e.from ? std::string{engine::to_string(*e.from)} : std::string{"none"};
    transition += " -> ";
    transition += e.to ? engine::to_string(*e.to) : std::string_view{"?"};
  } else if (!e.state.empty()) {
    transition = e.state;
  }
  cell(out, transition, transition_width);

  std::string fill;
  if (e.filled_quantity || e.avg_fill_price)
    fill = decimal_text(e.filled_quantity) + "/" + decimal_text(e.avg_fill_price);
  cell(out, fill, fill_width);
  cell(out, persistence::to_string(e.source), source_width);
  cell(out, e.reason, 0);
  finish_line(out);
  return out;
}

std::string order_json_line(const persistence::projected_order& p) {
  const engine::order& o = p.order;
  rapidjson::StringBuffer buffer;
  json_writer w{buffer};
  w.StartObject();
  json_text(w, "id", o.id, true);
  json_text(w, "clientOrderId", o.client_order_id);
  json_text(w, "brokerOrderId", o.broker_order_id);
  json_text(w, "user", o.user);
  json_text(w, "connection", o.connection);
  json_text(w, "broker", engine::to_string(o.broker));
  json_text(w, "symbol", o.symbol);
  json_text(w, "side", engine::to_string(o.order_side));
  json_text(w, "orderType", engine::to_string(o.type));
  json_text(w, "timeInForce", engine::to_string(o.tif));
  json_text(w, "quantity", o.quantity.to_string());
  if (o.limit_price)
    json_text(w, "limitPrice", o.limit_price->to_string());
  if (o.stop_price)
    json_text(w, "stopPrice", o.stop_price->to_string());
  json_text(w, "status", engine::to_string(o.status));
  json_text(w, "filledQuantity", o.filled_quantity.to_string());
  json_text(w, "avgFillPrice", o.avg_fill_price.to_string());
  w.Key("createdTs");
  w.Int64(o.created_ns);
  w.Key("updatedTs");
  w.Int64(o.updated_ns);
  w.Key("lastSeq");
  w.Uint64(p.last_seq);
  json_text(w, "reason", o.reason);
  w.EndObject();
  std::string out{buffer.GetString(), buffer.GetSize()};
  out.push_back('\n');
  return out;
}

std::string order_table(const persistence::order_projection::order_map& orders) {
  static constexpr std::array<std::string_view, 16> headers{
      "ID",   "CLIENT ID", "BROKER ID", "USER", "CONN",   "BROKER", "SYMBOL", "SIDE",
      "TYPE", "QTY",       "LIMIT",     "STOP", "STATUS", "FILLED", "AVG",    "LAST SEQ"};
  std::vector<std::array<std::string, headers.size()>> rows;
  rows.reserve(orders.size());
  for (const auto& [id, p] : orders) {
    const engine::order& o = p.order;
    rows.push_back({o.id, o.client_order_id, o.broker_order_id, o.user, o.connection,
                    std::string{engine::to_string(o.broker)}, o.symbol,
                    std::string{engine::to_string(o.order_side)},
                    std::string{engine::to_string(o.type)}, o.quantity.to_string(),
                    decimal_text(o.limit_price), decimal_text(o.stop_price),
                    std::string{engine::to_string(o.status)}, o.filled_quantity.to_string(),
                    o.avg_fill_price.to_string(), std::to_string(p.last_seq)});
  }
  std::array<std::size_t, headers.size()> widths{};
  for (std::size_t c = 0; c < headers.size(); ++c) {
    widths[c] = headers[c].size();
    for (const auto& row : rows)
      widths[c] = std::max(widths[c], row[c].size());
  }
  // Numbers are right-aligned: quantities, prices and the sequence number.
  auto numeric = [](std::size_t c) { return c >= 9 && c != 12; };
  std::string out;
  for (std::size_t c = 0; c < headers.size(); ++c)
    numeric(c) ? right_cell(out, headers[c], widths[c]) : cell(out, headers[c], widths[c]);
  finish_line(out);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < headers.size(); ++c)
      numeric(c) ? right_cell(out, row[c], widths[c]) : cell(out, row[c], widths[c]);
    finish_line(out);
  }
  return out;
}

} // namespace brokerd::brokerctl
