#include "actors/messages.hpp"

namespace brokerd::actors {

std::string_view to_string(connection_state x) noexcept {
  switch (x) {
    case connection_state::connecting:
      return "connecting";
    case connection_state::connected:
      return "connected";
    case connection_state::resyncing:
      return "resyncing";
    case connection_state::ready:
      return "ready";
    case connection_state::backoff:
      return "backoff";
    case connection_state::auth_required:
      return "auth_required";
    case connection_state::stopped:
      return "stopped";
  }
  return "invalid";
}

std::string_view to_string(errc x) noexcept {
  switch (x) {
    case errc::unknown_connection:
      return "unknown_connection";
    case errc::unknown_order:
      return "unknown_order";
    case errc::invalid_order:
      return "invalid_order";
    case errc::order_not_cancelable:
      return "order_not_cancelable";
    case errc::not_found_at_broker:
      return "not_found_at_broker";
    case errc::broker_rejected:
      return "broker_rejected";
    case errc::session_unavailable:
      return "session_unavailable";
    case errc::log_write_failed:
      return "log_write_failed";
    case errc::queue_full:
      return "queue_full";
    case errc::shutting_down:
      return "shutting_down";
    case errc::auth_required:
      return "auth_required";
    case errc::client_order_id_conflict:
      return "client_order_id_conflict";
  }
  return "invalid";
}

caf::error make_error(errc code, std::string context) {
  return caf::error{static_cast<std::uint8_t>(code), caf::atom("brokerd"),
                    caf::make_message(std::move(context))};
}

error_info describe(const caf::error& err) {
  error_info info;
  if (err.category() == caf::atom("brokerd")) {
    info.code = static_cast<errc>(err.code());
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string>())
      info.message = ctx.get_as<std::string>(0);
    if (info.message.empty())
      info.message = std::string{to_string(*info.code)};
    return info;
  }
  info.message = caf::to_string(err);
  return info;
}

} // namespace brokerd::actors
