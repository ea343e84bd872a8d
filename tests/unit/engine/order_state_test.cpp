#include "engine/order_state.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <string>

#include "tests/unit/engine/support/engine_string_makers.hpp"

using brokerd::engine::check_transition;
using brokerd::engine::errc;
using brokerd::engine::is_legal_transition;
using brokerd::engine::is_terminal;
using brokerd::engine::order_status;
using brokerd::engine::order_status_count;

namespace {

constexpr std::size_t n = order_status_count;

/// Every status, in declaration order (the row and column order of `expected`).
constexpr std::array<order_status, n> all_statuses{
    order_status::pending_new, order_status::new_,           order_status::partially_filled,
    order_status::filled,      order_status::pending_cancel, order_status::canceled,
    order_status::rejected,    order_status::expired,        order_status::unknown,
};

// clang-format off
/// The legal transitions as DESIGN.md describes the order lifecycle, written out by hand.
/// Row = from, column = to, in the order of `all_statuses`.
//                           pn  new pf  fil pc  can rej exp unk
constexpr std::array<std::array<int, n>, n> expected{{
    /* pending_new      */ {{0,  1,  1,  1,  1,  1,  1,  1,  1}},
    /* new              */ {{0,  0,  1,  1,  1,  1,  1,  1,  1}},
    /* partially_filled */ {{0,  0,  0,  1,  1,  1,  0,  1,  1}},
    /* filled           */ {{0,  0,  0,  0,  0,  0,  0,  0,  0}},
    /* pending_cancel   */ {{0,  1,  1,  1,  0,  1,  1,  1,  1}},
    /* canceled         */ {{0,  0,  0,  0,  0,  0,  0,  0,  0}},
    /* rejected         */ {{0,  0,  0,  0,  0,  0,  0,  0,  0}},
    /* expired          */ {{0,  0,  0,  0,  0,  0,  0,  0,  0}},
    /* unknown          */ {{0,  1,  1,  1,  1,  1,  1,  1,  0}},
}};
// clang-format on

} // namespace

TEST_CASE("the status list covers every order status exactly once", "[order_state]") {
  for (std::size_t i = 0; i < n; ++i)
    CHECK(static_cast<std::size_t>(all_statuses[i]) == i);
}

TEST_CASE("every one of the 81 status pairs is legal exactly when the lifecycle table says so",
          "[order_state]") {
  std::size_t legal = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      auto from = all_statuses[i];
      auto to = all_statuses[j];
      INFO(to_string(from) << " -> " << to_string(to));
      bool want = expected[i][j] == 1;
      CHECK(is_legal_transition(from, to) == want);
      CHECK(check_transition(from, to).has_value() == want);
      if (want)
        ++legal;
    }
  }
  CHECK(legal == 34);
}

TEST_CASE("a status to itself is never a transition", "[order_state]") {
  for (auto s : all_statuses) {
    INFO(to_string(s));
    CHECK_FALSE(is_legal_transition(s, s));
  }
}

TEST_CASE("nothing goes back to pending_new", "[order_state]") {
  for (auto s : all_statuses)
    CHECK_FALSE(is_legal_transition(s, order_status::pending_new));
}

TEST_CASE("filled, canceled, rejected and expired are terminal and have no way out",
          "[order_state]") {
  for (auto s : all_statuses) {
    bool terminal = s == order_status::filled || s == order_status::canceled ||
                    s == order_status::rejected || s == order_status::expired;
    INFO(to_string(s));
    CHECK(is_terminal(s) == terminal);
    if (!terminal)
      continue;
    for (auto to : all_statuses) {
      INFO(" -> " << to_string(to));
      CHECK_FALSE(is_legal_transition(s, to));
    }
  }
}

TEST_CASE("every non-terminal status can reach a terminal one", "[order_state]") {
  for (auto s : all_statuses) {
    if (is_terminal(s))
      continue;
    INFO(to_string(s));
    CHECK((is_legal_transition(s, order_status::filled) ||
           is_legal_transition(s, order_status::canceled)));
  }
}

TEST_CASE("an unknown order can be resolved to anything but pending_new and itself",
          "[order_state]") {
  for (auto to : all_statuses) {
    bool want = to != order_status::pending_new && to != order_status::unknown;
    INFO(to_string(to));
    CHECK(is_legal_transition(order_status::unknown, to) == want);
  }
}

TEST_CASE("an illegal transition error names both statuses", "[order_state]") {
  auto r = check_transition(order_status::filled, order_status::new_);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == errc::illegal_transition);
  CHECK(r.error().message == "filled -> new is not a legal transition");

  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      if (expected[i][j] == 1)
        continue;
      auto from = all_statuses[i];
      auto to = all_statuses[j];
      auto err = check_transition(from, to);
      REQUIRE_FALSE(err.has_value());
      CHECK(err.error().code == errc::illegal_transition);
      std::string names{to_string(from)};
      names += " -> ";
      names += to_string(to);
      CHECK(err.error().message.find(names) != std::string::npos);
    }
  }
}

TEST_CASE("a status value outside the enum is never a legal transition", "[order_state]") {
  auto bogus = static_cast<order_status>(n);
  CHECK_FALSE(is_legal_transition(bogus, order_status::new_));
  CHECK_FALSE(is_legal_transition(order_status::pending_new, bogus));
  CHECK_FALSE(check_transition(order_status::new_, bogus).has_value());
}
