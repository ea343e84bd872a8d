#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "persistence/errc.hpp"
#include "persistence/event.hpp"

namespace brokerd::persistence {

/// Encodes `e` as its versioned JSON document, one line without a trailing newline:
///   {"v":1,"seq":7,"ts":1714566896123456789,"type":"order.status","orderId":"o-1",
///    "from":"new","to":"partially_filled","filledQuantity":"40","avgFillPrice":"187.25",
///    "source":"broker"}
/// Keys are camelCase and appear in a fixed order (v, seq, ts, type, user, connection, broker,
/// orderId, clientOrderId, brokerOrderId, from, to, symbol, side, orderType, timeInForce,
/// quantity, limitPrice, stopPrice, filledQuantity, avgFillPrice, lastQuantity, lastPrice,
/// execId, source, state, reason). Decimals are JSON strings in their exact shortest form,
/// enums their text form; empty strings and absent optionals are omitted. Never fails.
std::string encode_event(const event& e);

/// Same as `encode_event`, replacing the contents of `out` (its capacity is reused, so a loop
/// encoding many events allocates only when an event is longer than any before it).
void encode_event_into(const event& e, std::string& out);

/// Decodes one JSON document written by `encode_event` at any version up to `event_version`.
/// Unknown keys are ignored (fields added later within the same version). Fails with
/// `unsupported_version` when "v" is above `event_version` (checked before anything else in
/// the document), and with `corrupt_record`, naming the field, when the text is not JSON, not
/// an object, lacks one of v, seq, ts, type or source, repeats a key, holds a value of the
/// wrong JSON type (decimals must be strings, seq and ts integers), or a decimal or enum text
/// that does not parse. Thread-safe; allocates nothing beyond the event's own strings for
/// documents up to a few hundred bytes.
std::expected<event, error> decode_event(std::string_view json);

/// Decodes like `decode_event` into `slot`, reusing the storage of the event `slot` may hold:
/// a loop decoding many records into one slot (replay, rebuild) then allocates only for a
/// field longer than before. The one in-out parameter of this module, for that reuse.
void decode_event_reusing(std::string_view json, std::expected<event, error>& slot);

} // namespace brokerd::persistence
