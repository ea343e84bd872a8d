#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "persistence/event.hpp"
#include "persistence/order_projection.hpp"

namespace brokerd::brokerctl {

/// Renders ns since the Unix epoch as ISO-8601 UTC with milliseconds,
/// e.g. "2024-05-01T12:34:56.123Z".
std::string format_utc_ms(std::int64_t ts_ns);

/// The header line of the replay table (with its newline).
std::string replay_table_header();

/// One event as a line of the replay table (with its newline): seq, time, type, order id (or
/// the connection for connection events), from -> to (or the connection state), filled/avg,
/// source, reason.
std::string replay_table_row(const persistence::event& e);

/// One rebuilt order as a JSON object on one line (with its newline). Decimals are strings,
/// absent prices omitted, as in the event log.
std::string order_json_line(const persistence::projected_order& o);

/// Every order as an aligned table (header included), in order id order.
std::string order_table(const persistence::order_projection::order_map& orders);

} // namespace brokerd::brokerctl
