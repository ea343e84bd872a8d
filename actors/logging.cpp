#include "actors/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace brokerd::actors::log {

namespace {

std::shared_ptr<spdlog::logger> make_logger() {
  auto logger = spdlog::stderr_logger_mt("brokerd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return logger;
}

spdlog::logger& logger() {
  static auto instance = make_logger();
  return *instance;
}

spdlog::level::level_enum to_spd(level lvl) {
  switch (lvl) {
    case level::debug:
      return spdlog::level::debug;
    case level::info:
      return spdlog::level::info;
    case level::warn:
      return spdlog::level::warn;
    case level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

} // namespace

void set_level(level lvl) { logger().set_level(to_spd(lvl)); }

void write(level lvl, std::string_view component, std::string_view message) {
  logger().log(to_spd(lvl), "[{}] {}", component, message);
}

} // namespace brokerd::actors::log
