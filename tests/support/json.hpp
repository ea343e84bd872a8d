#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace brokerd::test {

/// Parses `text` into a document; throws std::runtime_error with the parse error, its offset
/// and the start of the text when it is not valid JSON.
rapidjson::Document parse_json(std::string_view text);

/// True when `object` is an object with a member `field`.
bool json_has(const rapidjson::Value& object, std::string_view field);

/// The string member `field` of `object`; throws std::runtime_error naming the field when it
/// is absent or not a string.
std::string json_string(const rapidjson::Value& object, std::string_view field);

/// The unsigned integer member `field`; throws when absent or not an unsigned integer.
std::uint64_t json_uint(const rapidjson::Value& object, std::string_view field);

/// The member `field` (any type); throws when absent.
const rapidjson::Value& json_member(const rapidjson::Value& object, std::string_view field);

} // namespace brokerd::test
