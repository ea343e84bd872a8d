#include "engine/errc.hpp"

namespace brokerd::engine {

std::string_view to_string(errc x) noexcept {
  switch (x) {
    case errc::bad_decimal:
      return "bad_decimal";
    case errc::invalid_order:
      return "invalid_order";
    case errc::illegal_transition:
      return "illegal_transition";
    case errc::unknown_enum_value:
      return "unknown_enum_value";
    case errc::overflow:
      return "overflow";
  }
  return "unknown_error";
}

std::string error::to_string() const {
  std::string out{engine::to_string(code)};
  if (!message.empty()) {
    out += ": ";
    out += message;
  }
  return out;
}

} // namespace brokerd::engine
