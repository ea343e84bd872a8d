#include "persistence/errc.hpp"

namespace brokerd::persistence {

std::string_view to_string(errc x) noexcept {
  switch (x) {
  case errc::io_error:
    return "io_error";
  case errc::corrupt_record:
    return "corrupt_record";
  case errc::corrupt_database:
    return "corrupt_database";
  case errc::not_found:
    return "not_found";
  case errc::invalid_argument:
    return "invalid_argument";
  case errc::read_only:
    return "read_only";
  case errc::locked:
    return "locked";
  case errc::unsupported_version:
    return "unsupported_version";
  }
  return "unknown_error";
}

std::string error::to_string() const {
  std::string out{persistence::to_string(code)};
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

} // namespace brokerd::persistence
