#include "engine/order_state.hpp"

#include <array>
#include <string>

namespace brokerd::engine {

namespace {

using S = order_status;
constexpr std::size_t n = order_status_count;

constexpr std::size_t idx(S s) { return static_cast<std::size_t>(s); }

constexpr std::array<std::array<bool, n>, n> make_table() {
  std::array<std::array<bool, n>, n> t{};
  auto allow = [&t](S from, std::initializer_list<S> tos) {
    for (S to : tos)
      t[idx(from)][idx(to)] = true;
  };
  allow(S::pending_new, {S::new_, S::partially_filled, S::filled, S::rejected, S::canceled,
                         S::expired, S::pending_cancel, S::unknown});
  allow(S::new_, {S::partially_filled, S::filled, S::pending_cancel, S::canceled, S::expired,
                  S::rejected, S::unknown});
  allow(S::partially_filled,
        {S::filled, S::pending_cancel, S::canceled, S::expired, S::unknown});
  allow(S::pending_cancel, {S::new_, S::partially_filled, S::filled, S::canceled, S::rejected,
                            S::expired, S::unknown});
  allow(S::unknown, {S::new_, S::partially_filled, S::filled, S::pending_cancel, S::canceled,
                     S::rejected, S::expired});
  return t;
}

constexpr auto table = make_table();

} // namespace

bool is_terminal(order_status s) noexcept {
  return s == S::filled || s == S::canceled || s == S::rejected || s == S::expired;
}

bool is_legal_transition(order_status from, order_status to) noexcept {
  if (idx(from) >= n || idx(to) >= n)
    return false;
  return table[idx(from)][idx(to)];
}

std::expected<void, error> check_transition(order_status from, order_status to) {
  if (is_legal_transition(from, to))
    return {};
  std::string msg{to_string(from)};
  msg += " -> ";
  msg += to_string(to);
  msg += " is not a legal transition";
  return std::unexpected(error{errc::illegal_transition, std::move(msg)});
}

} // namespace brokerd::engine
