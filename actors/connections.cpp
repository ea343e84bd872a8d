#include "actors/connections.hpp"

#include "actors/brokers/alpaca/session.hpp"
#include "actors/brokers/ibkr/session.hpp"
#include "actors/brokers/paper/session.hpp"
#include "actors/brokers/schwab/session.hpp"

namespace brokerd::actors {

bool requires_premium(engine::broker_id broker) noexcept {
  return broker == engine::broker_id::ibkr || broker == engine::broker_id::schwab;
}

std::expected<session_factory, std::string> factory_for(engine::broker_id broker,
                                                        const broker_resources& resources) {
  switch (broker) {
    case engine::broker_id::paper: {
      if (!resources.paper_book)
        return std::unexpected(std::string{"the paper book is not open"});
      auto store = resources.paper_book;
      return session_factory{[store](caf::local_actor* parent, const connection_spec& spec,
                                     caf::actor supervisor, caf::actor sink) {
        return paper::spawn_session(parent, spec, std::move(supervisor), std::move(sink), store);
      }};
    }
    case engine::broker_id::ibkr: {
      if (!resources.ibkr.io)
        return std::unexpected(std::string{"IBKR sessions need the socket thread and the log"});
      auto env = resources.ibkr;
      return session_factory{[env](caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink) {
        return ibkr::spawn_session(parent, spec, std::move(supervisor), std::move(sink), env);
      }};
    }
    case engine::broker_id::alpaca: {
      if (!resources.ibkr.io)
        return std::unexpected(std::string{"Alpaca sessions need the socket thread"});
      alpaca::environment env{resources.ibkr.io};
      return session_factory{[env](caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink) {
        return alpaca::spawn_session(parent, spec, std::move(supervisor), std::move(sink), env);
      }};
    }
    case engine::broker_id::schwab: {
      if (!resources.ibkr.io || !resources.ibkr.reader || !resources.vault)
        return std::unexpected(
            std::string{"Schwab sessions need the socket thread, the registry and the vault"});
      schwab::environment env{resources.ibkr.io, resources.ibkr.log, resources.ibkr.reader,
                              resources.vault};
      return session_factory{[env](caf::local_actor* parent, const connection_spec& spec,
                                   caf::actor supervisor, caf::actor sink) {
        return schwab::spawn_session(parent, spec, std::move(supervisor), std::move(sink), env);
      }};
    }
  }
  return std::unexpected("broker " + std::string{engine::to_string(broker)} +
                         " is not available in this build");
}

std::expected<caf::actor, std::string> start_connection(caf::actor_system& sys,
                                                        const persistence::connection_record& rec,
                                                        const broker_resources& resources,
                                                        event_log_actor log, caf::actor router,
                                                        supervisor_policy policy) {
  auto spec = to_spec(rec);
  if (!spec)
    return std::unexpected(spec.error());
  auto factory = factory_for(spec->broker, resources);
  if (!factory)
    return std::unexpected(factory.error());
  return spawn_supervisor(sys, std::move(*spec), std::move(*factory), std::move(log),
                          std::move(router), policy);
}

std::expected<connection_spec, std::string> to_spec(const persistence::connection_record& rec) {
  auto broker = engine::parse_broker_id(rec.broker);
  if (!broker)
    return std::unexpected("connection " + rec.id + ": " + broker.error().message);
  connection_spec spec;
  spec.id = rec.id;
  spec.user = rec.user;
  spec.broker = *broker;
  spec.settings = rec.settings;
  return spec;
}

} // namespace brokerd::actors
