#include "persistence/order_projection.hpp"

#include <utility>

#include "persistence/event_log.hpp"

namespace brokerd::persistence {

namespace {

engine::order order_from(const event& e) {
  engine::order o;
  o.id = e.order_id;
  o.client_order_id = e.client_order_id;
  o.broker_order_id = e.broker_order_id;
  o.user = e.user;
  o.connection = e.connection;
  o.broker = e.broker.value_or(engine::broker_id::paper);
  o.symbol = e.symbol;
  o.order_side = e.order_side.value_or(engine::side::buy);
  o.quantity = e.quantity.value_or(engine::decimal{});
  o.type = e.type_of_order.value_or(engine::order_type::market);
  o.limit_price = e.limit_price;
  o.stop_price = e.stop_price;
  o.tif = e.tif.value_or(engine::time_in_force::day);
  o.status = e.to.value_or(engine::order_status::pending_new);
  o.filled_quantity = e.filled_quantity.value_or(engine::decimal{});
  o.avg_fill_price = e.avg_fill_price.value_or(engine::decimal{});
  o.created_ns = e.ts_ns;
  o.updated_ns = e.ts_ns;
  o.reason = e.reason;
  return o;
}

} // namespace

void order_projection::apply(const event& e) {
  last_seq_ = e.seq;
  bool submitted = e.type == event_types::order_submitted;
  bool status = e.type == event_types::order_status;
  bool fill = e.type == event_types::order_fill;
  if (e.order_id.empty() || !(submitted || status || fill))
    return;
  auto it = orders_.find(e.order_id);
  if (it == orders_.end()) {
    auto [created, inserted] = orders_.emplace(e.order_id, projected_order{order_from(e), e.seq});
    if (fill && !e.to)
      created->second.order.status = engine::order_status::partially_filled;
    return;
  }
  if (submitted)
    return;
  engine::order& o = it->second.order;
  if (status && e.to)
    o.status = *e.to;
  if (e.filled_quantity)
    o.filled_quantity = *e.filled_quantity;
  if (e.avg_fill_price)
    o.avg_fill_price = *e.avg_fill_price;
  if (!e.broker_order_id.empty())
    o.broker_order_id = e.broker_order_id;
  if (!e.reason.empty())
    o.reason = e.reason;
  o.updated_ns = e.ts_ns;
  it->second.last_seq = e.seq;
}

const projected_order* order_projection::find(std::string_view order_id) const {
  auto it = orders_.find(order_id);
  return it == orders_.end() ? nullptr : &it->second;
}

std::expected<rebuild_result, error> rebuild_orders(const event_log& log, std::uint64_t up_to_seq) {
  rebuild_result result;
  auto ok = log.scan(0, up_to_seq, [&result](read_record& r) {
    ++result.records;
    if (r.value)
      result.projection.apply(*r.value);
    else
      result.damaged.push_back(damaged_record{r.seq, std::move(r.value.error())});
    return true;
  });
  if (!ok)
    return std::unexpected(ok.error());
  return result;
}

} // namespace brokerd::persistence
