#include "persistence/verify.hpp"

#include <limits>
#include <utility>

#include "engine/order_state.hpp"

namespace brokerd::persistence {

namespace {

using engine::order_status;

std::string text(order_status s) {
  return std::string{engine::to_string(s)};
}

bool is_order_type(std::string_view type) {
  return type == event_types::order_submitted || type == event_types::order_status ||
         type == event_types::order_fill || type == event_types::order_anomaly;
}

} // namespace

void log_verifier::add(const event& e, std::string what) {
  faults_.push_back(fault{e.seq, e.order_id, std::move(what)});
}

void log_verifier::check(const read_record& r) {
  ++records_;
  if (r.seq != 0) {
    if (r.seq != next_seq_) {
      std::string what;
      if (next_seq_ == 1 && r.seq > 1)
        what = "the log starts at seq " + std::to_string(r.seq) + ", not 1";
      else if (r.seq == next_seq_ + 1)
        what = "gap: seq " + std::to_string(next_seq_) + " missing";
      else if (r.seq > next_seq_)
        what =
            "gap: seq " + std::to_string(next_seq_) + ".." + std::to_string(r.seq - 1) + " missing";
      else
        what =
            "seq " + std::to_string(r.seq) + " out of order after " + std::to_string(next_seq_ - 1);
      faults_.push_back(fault{r.seq, {}, std::move(what)});
    }
    if (r.seq >= next_seq_)
      next_seq_ = r.seq + 1;
  }
  if (r.seq == 0 && r.value) {
    faults_.push_back(fault{0, r.value->order_id, "a record at seq 0 (numbering starts at 1)"});
    return;
  }
  if (!r.value) {
    faults_.push_back(fault{r.seq, {}, "undecodable record: " + r.value.error().to_string()});
    return;
  }
  const event& e = *r.value;
  if (e.type == event_types::connection_state)
    return;
  if (!is_order_type(e.type)) {
    add(e, "unknown event type '" + e.type + "'");
    return;
  }
  if (e.order_id.empty()) {
    add(e, e.type + " without an orderId");
    return;
  }
  check_order_event(e);
}

void log_verifier::check_order_event(const event& e) {
  auto it = orders_.find(e.order_id);
  if (e.type == event_types::order_submitted) {
    if (it != orders_.end()) {
      add(e, "order.submitted for an order that already exists");
      return;
    }
    order_track o;
    o.quantity = e.quantity;
    if (e.to != order_status::pending_new)
      add(e, "order.submitted must go to pending_new, not " +
                 (e.to ? text(*e.to) : std::string{"nothing"}));
    else if (e.from)
      add(e, "order.submitted must not have a from status (it has " + text(*e.from) + ")");
    else if (!e.quantity || !e.quantity->is_positive())
      add(e, "order.submitted without a positive quantity");
    orders_.emplace(e.order_id, std::move(o));
    return;
  }

  if (it == orders_.end()) {
    add(e, "the order's first event is " + e.type + ", not order.submitted");
    order_track o;
    o.status = e.from.value_or(e.type == event_types::order_fill ? order_status::partially_filled
                                                                 : order_status::pending_new);
    it = orders_.emplace(e.order_id, std::move(o)).first;
  }
  order_track& o = it->second;

  if (e.type == event_types::order_anomaly)
    return;
  if (engine::is_terminal(o.status)) {
    add(e, e.type + " after the terminal status " + text(o.status));
    return;
  }

  if (e.type == event_types::order_status) {
    if (!e.to) {
      add(e, "order.status without a to status");
      return;
    }
    order_status from = e.from.value_or(o.status);
    if (!e.from)
      add(e, "order.status without a from status");
    else if (*e.from != o.status)
      add(e, "from " + text(*e.from) + " but the order is " + text(o.status));
    else if (!engine::is_legal_transition(from, *e.to))
      add(e, text(from) + " -> " + text(*e.to) + " is not a legal transition");
    check_fill_state(e, o);
    if (*e.to == order_status::filled && e.filled_quantity && o.quantity &&
        *e.filled_quantity != *o.quantity)
      add(e, "filled with " + e.filled_quantity->to_string() + " of " + o.quantity->to_string());
    o.status = *e.to;
    return;
  }

  // order.fill
  if (o.status != order_status::partially_filled)
    add(e, "order.fill while " + text(o.status) +
               " (a fill without a status change happens only while partially_filled)");
  if (!e.filled_quantity)
    add(e, "order.fill without filledQuantity");
  check_fill_state(e, o);
}

void log_verifier::check_fill_state(const event& e, order_track& o) {
  if (!e.filled_quantity)
    return;
  if (*e.filled_quantity < o.filled)
    add(e, "filled quantity goes back from " + o.filled.to_string() + " to " +
               e.filled_quantity->to_string());
  if (o.quantity && *e.filled_quantity > *o.quantity)
    add(e, "filled quantity " + e.filled_quantity->to_string() + " exceeds the quantity " +
               o.quantity->to_string());
  if (*e.filled_quantity > o.filled)
    o.filled = *e.filled_quantity;
}

verify_report log_verifier::report() const {
  return verify_report{records_, orders_.size(), faults_};
}

std::expected<verify_report, error> verify_log(const event_log& log) {
  log_verifier verifier;
  auto ok = log.scan(0, std::numeric_limits<std::uint64_t>::max(), [&verifier](read_record& r) {
    verifier.check(r);
    return true;
  });
  if (!ok)
    return std::unexpected(ok.error());
  return verifier.report();
}

} // namespace brokerd::persistence
