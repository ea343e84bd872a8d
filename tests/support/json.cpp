#include "tests/support/json.hpp"

#include <stdexcept>

#include <rapidjson/error/en.h>

namespace brokerd::test {

rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError())
    throw std::runtime_error(std::string{"invalid JSON ("} +
                             rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                             std::to_string(doc.GetErrorOffset()) + "): " +
                             std::string{text.substr(0, 200)});
  return doc;
}

bool json_has(const rapidjson::Value& object, std::string_view field) {
  return object.IsObject() &&
         object.FindMember(rapidjson::Value{rapidjson::StringRef(
             field.data(), static_cast<rapidjson::SizeType>(field.size()))}) !=
             object.MemberEnd();
}

const rapidjson::Value& json_member(const rapidjson::Value& object, std::string_view field) {
  if (!object.IsObject())
    throw std::runtime_error("not a JSON object when looking for " + std::string{field});
  auto it = object.FindMember(
      rapidjson::Value{rapidjson::StringRef(field.data(), static_cast<rapidjson::SizeType>(field.size()))});
  if (it == object.MemberEnd())
    throw std::runtime_error("JSON member " + std::string{field} + " is absent");
  return it->value;
}

std::string json_string(const rapidjson::Value& object, std::string_view field) {
  const auto& v = json_member(object, field);
  if (!v.IsString())
    throw std::runtime_error("JSON member " + std::string{field} + " is not a string");
  return {v.GetString(), v.GetStringLength()};
}

std::uint64_t json_uint(const rapidjson::Value& object, std::string_view field) {
  const auto& v = json_member(object, field);
  if (!v.IsUint64())
    throw std::runtime_error("JSON member " + std::string{field} + " is not an unsigned integer");
  return v.GetUint64();
}

} // namespace brokerd::test
