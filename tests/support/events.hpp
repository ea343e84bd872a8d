#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "tests/support/http_client.hpp"

namespace brokerd::test {

/// Every event of brokerd's log from sequence `since` on that the caller may see, read through
/// GET /api/events in pages of 1,000 following `nextSeq` until it stops moving (a page filtered
/// down to nothing for a non-admin still moves it), as one JSON array in log order. Throws
/// std::runtime_error when a page is not answered 200, and after 100 pages.
rapidjson::Document read_events(http_client& client, const http_client::header_list& auth,
                                std::uint64_t since = 1);

/// The events of `events` (an array from read_events) whose `orderId` is `order_id`, in order.
std::vector<const rapidjson::Value*> events_of_order(const rapidjson::Value& events,
                                                     std::string_view order_id);

} // namespace brokerd::test
