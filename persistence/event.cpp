#include "persistence/event.hpp"

namespace brokerd::persistence {

std::string_view to_string(event_source x) noexcept {
  switch (x) {
  case event_source::broker:
    return "broker";
  case event_source::reconcile:
    return "reconcile";
  case event_source::local:
    return "local";
  }
  return "invalid";
}

std::expected<event_source, engine::error> parse_event_source(std::string_view text) {
  if (text == "broker")
    return event_source::broker;
  if (text == "reconcile")
    return event_source::reconcile;
  if (text == "local")
    return event_source::local;
  return std::unexpected(engine::error{engine::errc::unknown_enum_value,
                                       "source must be one of broker, reconcile, local"});
}

event make_submitted_event(const engine::order& o) {
  event e;
  e.type = event_types::order_submitted;
  e.user = o.user;
  e.connection = o.connection;
  e.broker = o.broker;
  e.order_id = o.id;
  e.client_order_id = o.client_order_id;
  e.broker_order_id = o.broker_order_id;
  e.to = engine::order_status::pending_new;
  e.symbol = o.symbol;
  e.order_side = o.order_side;
  e.type_of_order = o.type;
  e.tif = o.tif;
  e.quantity = o.quantity;
  e.limit_price = o.limit_price;
  e.stop_price = o.stop_price;
  e.source = event_source::local;
  return e;
}

} // namespace brokerd::persistence
