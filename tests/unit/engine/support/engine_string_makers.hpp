#pragma once

// Readable Catch2 output for engine values: a failed CHECK shows "187.25", not "{?}".

#include <catch2/catch.hpp>

#include <string>

#include "engine/decimal.hpp"
#include "engine/errc.hpp"
#include "engine/order.hpp"

namespace Catch {

template <> struct StringMaker<brokerd::engine::decimal> {
  static std::string convert(const brokerd::engine::decimal& x) { return x.to_string(); }
};

template <> struct StringMaker<brokerd::engine::error> {
  static std::string convert(const brokerd::engine::error& x) { return x.to_string(); }
};

template <> struct StringMaker<brokerd::engine::order_status> {
  static std::string convert(brokerd::engine::order_status x) {
    return std::string{brokerd::engine::to_string(x)};
  }
};

} // namespace Catch
