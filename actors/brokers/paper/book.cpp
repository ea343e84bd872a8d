#include "actors/brokers/paper/book.hpp"

#include "persistence/json_fields.hpp"
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

namespace brokerd::actors::paper {

namespace {

using persistence::json::write_string;
using persistence::json::writer;

std::string order_key(const std::string& connection, const std::string& client_order_id) {
  return "o/" + connection + "/" + client_order_id;
}

std::string account_key(const std::string& connection) {
  return "a/" + connection;
}

std::string encode(const book_order& o) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "orderId", o.order_id);
  write_string(w, "clientOrderId", o.client_order_id);
  write_string(w, "brokerOrderId", o.broker_order_id);
  write_string(w, "symbol", o.symbol);
  write_string(w, "side", engine::to_string(o.order_side));
  write_string(w, "type", engine::to_string(o.type));
  write_string(w, "tif", engine::to_string(o.tif));
  write_string(w, "quantity", o.quantity.to_string());
  if (o.limit_price)
    write_string(w, "limitPrice", o.limit_price->to_string());
  if (o.stop_price)
    write_string(w, "stopPrice", o.stop_price->to_string());
  write_string(w, "status", engine::to_string(o.status));
  write_string(w, "filled", o.filled_quantity.to_string());
  write_string(w, "avg", o.avg_fill_price.to_string());
  w.Key("triggered");
  w.Bool(o.triggered);
  w.Key("submissions");
  w.Uint(o.submissions);
  w.Key("executions");
  w.Uint(o.executions);
  write_string(w, "reason", o.reason);
  w.EndObject();
  return buf.GetString();
}

std::string encode(const book_account& a) {
  rapidjson::StringBuffer buf;
  writer w{buf};
  w.StartObject();
  write_string(w, "cash", a.cash.to_string());
  w.Key("nextOrderNumber");
  w.Uint64(a.next_order_number);
  w.Key("positions");
  w.StartObject();
  for (const auto& [sym, h] : a.positions) {
    w.Key(sym.c_str());
    w.StartArray();
    auto q = h.quantity.to_string();
    auto c = h.avg_cost.to_string();
    w.String(q.c_str());
    w.String(c.c_str());
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

std::expected<std::string, std::string> get_string(const rapidjson::Value& v, const char* key) {
  auto s = persistence::json::read_string(v, key);
  if (!s)
    return std::unexpected(std::string{"paper book record lacks "} + key);
  return std::move(*s);
}

std::expected<engine::decimal, std::string> get_decimal(const rapidjson::Value& v,
                                                        const char* key) {
  auto s = get_string(v, key);
  if (!s)
    return std::unexpected(s.error());
  auto d = engine::decimal::parse(*s);
  if (!d)
    return std::unexpected(std::string{"paper book record has a bad "} + key);
  return *d;
}

template <class T> std::expected<T, std::string> check(std::expected<T, engine::error> x) {
  if (!x)
    return std::unexpected("paper book record: " + x.error().to_string());
  return *x;
}

std::expected<book_order, std::string> decode_order(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return std::unexpected(std::string{"paper book record is not valid JSON"});
  book_order o;
  auto fail = [](const std::string& e) { return std::unexpected(e); };
#define BOOK_TRY(var, expr)                                                                        \
  auto var = (expr);                                                                               \
  if (!var)                                                                                        \
    return fail(var.error());
  BOOK_TRY(order_id, get_string(doc, "orderId"))
  BOOK_TRY(client_id, get_string(doc, "clientOrderId"))
  BOOK_TRY(broker_id, get_string(doc, "brokerOrderId"))
  BOOK_TRY(symbol, get_string(doc, "symbol"))
  BOOK_TRY(side_s, get_string(doc, "side"))
  BOOK_TRY(type_s, get_string(doc, "type"))
  BOOK_TRY(tif_s, get_string(doc, "tif"))
  BOOK_TRY(status_s, get_string(doc, "status"))
  BOOK_TRY(qty, get_decimal(doc, "quantity"))
  BOOK_TRY(filled, get_decimal(doc, "filled"))
  BOOK_TRY(avg, get_decimal(doc, "avg"))
  BOOK_TRY(side_v, check(engine::parse_side(*side_s)))
  BOOK_TRY(type_v, check(engine::parse_order_type(*type_s)))
  BOOK_TRY(tif_v, check(engine::parse_time_in_force(*tif_s)))
  BOOK_TRY(status_v, check(engine::parse_order_status(*status_s)))
#undef BOOK_TRY
  o.order_id = *order_id;
  o.client_order_id = *client_id;
  o.broker_order_id = *broker_id;
  o.symbol = *symbol;
  o.order_side = *side_v;
  o.type = *type_v;
  o.tif = *tif_v;
  o.status = *status_v;
  o.quantity = *qty;
  o.filled_quantity = *filled;
  o.avg_fill_price = *avg;
  if (doc.HasMember("limitPrice")) {
    auto p = get_decimal(doc, "limitPrice");
    if (!p)
      return std::unexpected(p.error());
    o.limit_price = *p;
  }
  if (doc.HasMember("stopPrice")) {
    auto p = get_decimal(doc, "stopPrice");
    if (!p)
      return std::unexpected(p.error());
    o.stop_price = *p;
  }
  o.triggered = persistence::json::read_bool(doc, "triggered").value_or(false);
  if (auto it = doc.FindMember("submissions"); it != doc.MemberEnd() && it->value.IsUint())
    o.submissions = it->value.GetUint();
  if (auto it = doc.FindMember("executions"); it != doc.MemberEnd() && it->value.IsUint())
    o.executions = it->value.GetUint();
  if (auto r = get_string(doc, "reason"))
    o.reason = *r;
  return o;
}

std::expected<book_account, std::string> decode_account(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return std::unexpected(std::string{"paper account record is not valid JSON"});
  book_account a;
  auto cash = get_decimal(doc, "cash");
  if (!cash)
    return std::unexpected(cash.error());
  a.cash = *cash;
  a.next_order_number = persistence::json::read_uint64(doc, "nextOrderNumber").value_or(1);
  if (auto it = doc.FindMember("positions"); it != doc.MemberEnd() && it->value.IsObject()) {
    for (auto& m : it->value.GetObject()) {
      if (!m.value.IsArray() || m.value.Size() != 2 || !m.value[0].IsString() ||
          !m.value[1].IsString())
        return std::unexpected(std::string{"paper account position is malformed"});
      auto q = engine::decimal::parse(m.value[0].GetString());
      auto c = engine::decimal::parse(m.value[1].GetString());
      if (!q || !c)
        return std::unexpected(std::string{"paper account position has a bad number"});
      a.positions[m.name.GetString()] = book_account::holding{*q, *c};
    }
  }
  return a;
}

} // namespace

struct book::impl {
  std::unique_ptr<rocksdb::DB> db;
};

book::book(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
book::~book() = default;

std::expected<std::shared_ptr<book>, std::string> book::open(const std::string& dir) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.max_background_jobs = 1;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(opts, dir, &raw);
  if (!s.ok())
    return std::unexpected("cannot open the paper book at " + dir + ": " + s.ToString());
  auto p = std::make_unique<impl>();
  p->db.reset(raw);
  return std::shared_ptr<book>(new book(std::move(p)));
}

std::expected<std::optional<book_order>, std::string>
book::find(const std::string& connection, const std::string& client_order_id) const {
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions{}, order_key(connection, client_order_id), &value);
  if (s.IsNotFound())
    return std::optional<book_order>{};
  if (!s.ok())
    return std::unexpected("paper book read failed: " + s.ToString());
  auto o = decode_order(value);
  if (!o)
    return std::unexpected(o.error());
  return std::optional<book_order>{std::move(*o)};
}

std::expected<std::vector<book_order>, std::string>
book::orders(const std::string& connection) const {
  std::vector<book_order> out;
  auto prefix = "o/" + connection + "/";
  std::unique_ptr<rocksdb::Iterator> it{impl_->db->NewIterator(rocksdb::ReadOptions{})};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto o = decode_order(it->value().ToString());
    if (!o)
      return std::unexpected(o.error());
    out.push_back(std::move(*o));
  }
  if (!it->status().ok())
    return std::unexpected("paper book scan failed: " + it->status().ToString());
  return out;
}

std::expected<book_account, std::string> book::account(const std::string& connection,
                                                       engine::decimal initial_cash) const {
  std::string value;
  auto s = impl_->db->Get(rocksdb::ReadOptions{}, account_key(connection), &value);
  if (s.IsNotFound()) {
    book_account fresh;
    fresh.cash = initial_cash;
    return fresh;
  }
  if (!s.ok())
    return std::unexpected("paper book read failed: " + s.ToString());
  return decode_account(value);
}

std::expected<void, std::string> book::store(const std::string& connection, const book_order& o,
                                             const book_account& acct) {
  rocksdb::WriteBatch batch;
  batch.Put(order_key(connection, o.client_order_id), encode(o));
  batch.Put(account_key(connection), encode(acct));
  auto s = impl_->db->Write(rocksdb::WriteOptions{}, &batch);
  if (!s.ok())
    return std::unexpected("paper book write failed: " + s.ToString());
  return {};
}

} // namespace brokerd::actors::paper
