#pragma once

// Small typed accessors for the JSON records brokerd stores outside the event log (registry
// records, the paper book, brokerctl's output): one place that knows RapidJSON's sizes and
// type checks.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::persistence::json {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Writes `"key":"value"` (the value escaped by RapidJSON).
inline void write_string(writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

/// The string member `key` of `object`, or nullopt when it is absent or not a string.
inline std::optional<std::string> read_string(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString())
    return std::nullopt;
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

/// The boolean member `key`, or nullopt when absent or of another type.
inline std::optional<bool> read_bool(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsBool())
    return std::nullopt;
  return it->value.GetBool();
}

/// The signed 64-bit member `key`, or nullopt when absent or of another type.
inline std::optional<std::int64_t> read_int64(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsInt64())
    return std::nullopt;
  return it->value.GetInt64();
}

/// The unsigned 64-bit member `key`, or nullopt when absent or of another type.
inline std::optional<std::uint64_t> read_uint64(const rapidjson::Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsUint64())
    return std::nullopt;
  return it->value.GetUint64();
}

} // namespace brokerd::persistence::json
