#include "tests/support/events.hpp"

#include <stdexcept>
#include <string>

#include "tests/support/json.hpp"

namespace brokerd::test {

rapidjson::Document read_events(http_client& client, const http_client::header_list& auth,
                                std::uint64_t since) {
  constexpr rapidjson::SizeType page_size = 1000;
  rapidjson::Document all;
  all.SetArray();
  for (int page = 0; page < 100; ++page) {
    auto r = client.request(
        "GET", "/api/events?since=" + std::to_string(since) + "&limit=" + std::to_string(page_size),
        {}, auth);
    if (r.status != 200)
      throw std::runtime_error("GET /api/events answered " + std::to_string(r.status) + ": " +
                               r.body);
    auto doc = parse_json(r.body);
    auto& events = doc["events"];
    for (auto& ev : events.GetArray())
      all.PushBack(rapidjson::Value{ev, all.GetAllocator()}, all.GetAllocator());
    auto next = json_uint(doc, "nextSeq");
    if (next == since)
      return all;
    since = next;
  }
  throw std::runtime_error("GET /api/events: more than 100 pages");
}

std::vector<const rapidjson::Value*> events_of_order(const rapidjson::Value& events,
                                                     std::string_view order_id) {
  std::vector<const rapidjson::Value*> out;
  for (const auto& ev : events.GetArray())
    if (json_has(ev, "orderId") && json_string(ev, "orderId") == order_id)
      out.push_back(&ev);
  return out;
}

} // namespace brokerd::test
