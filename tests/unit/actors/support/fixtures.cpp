#include "tests/unit/actors/support/fixtures.hpp"

#include <cstdlib>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "actors/connections.hpp"
#include "actors/event_log_actor.hpp"
#include "actors/logging.hpp"

namespace brokerd::actors::test_support {

temp_dir::temp_dir() {
  auto pattern = (std::filesystem::temp_directory_path() / "brokerd-actors-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void configure_threaded(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::brokerd>();
  cfg.set("scheduler.max-threads", 2);
}

void configure_deterministic(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::brokerd>();
  cfg.set("scheduler.policy", caf::atom("testing"));
}

std::shared_ptr<persistence::event_log> open_log(const std::filesystem::path& dir,
                                                 persistence::wall_clock clock) {
  auto log =
      persistence::event_log::open(dir, persistence::open_mode::read_write, std::move(clock));
  if (!log)
    throw std::runtime_error("cannot open the event log: " + log.error().message);
  return std::make_shared<persistence::event_log>(std::move(*log));
}

std::shared_ptr<paper::book> open_book(const std::filesystem::path& dir) {
  auto bk = paper::book::open(dir.string());
  if (!bk)
    throw std::runtime_error(bk.error());
  return *bk;
}

namespace {

persistence::event_batch decodable(std::vector<persistence::read_record>& records) {
  persistence::event_batch out;
  for (auto& rec : records)
    if (rec.value)
      out.push_back(std::move(*rec.value));
  return out;
}

} // namespace

persistence::event_batch all_events(const persistence::event_log& log) {
  auto records = log.read_range(1, 1'000'000);
  if (!records)
    throw std::runtime_error("cannot read the event log: " + records.error().message);
  return decodable(*records);
}

persistence::event_batch events_of(const persistence::event_log& log, const std::string& order_id) {
  auto records = log.read_order(order_id);
  if (!records)
    throw std::runtime_error("cannot read the event log: " + records.error().message);
  return decodable(*records);
}

std::vector<std::string> transitions(const persistence::event_batch& events) {
  std::vector<std::string> out;
  for (const auto& ev : events)
    if (ev.type == persistence::event_types::order_status && ev.from && ev.to)
      out.push_back(std::string{engine::to_string(*ev.from)} + ">" +
                    std::string{engine::to_string(*ev.to)});
  return out;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return done();
    std::this_thread::sleep_for(std::chrono::milliseconds{2});
  }
  return true;
}

bool wait_for_logged_status(const persistence::event_log& log, const std::string& order_id,
                            engine::order_status s) {
  return wait_until([&] {
    auto evs = events_of(log, order_id);
    for (auto it = evs.rbegin(); it != evs.rend(); ++it)
      if (it->type == persistence::event_types::order_status)
        return it->to == s;
    return false;
  });
}

engine::decimal dec(std::string_view text) {
  auto d = engine::decimal::parse(text);
  if (!d)
    throw std::invalid_argument("bad decimal in a test: " + std::string{text});
  return *d;
}

std::optional<errc> code_of(const caf::error& err) {
  return describe(err).code;
}

std::string message_of(const caf::error& err) {
  return describe(err).message;
}

engine::order market(const std::string& user, const std::string& connection,
                     const std::string& symbol, std::string_view quantity, engine::side s) {
  engine::order o;
  o.user = user;
  o.connection = connection;
  o.symbol = symbol;
  o.order_side = s;
  o.quantity = dec(quantity);
  o.type = engine::order_type::market;
  return o;
}

engine::order limit(const std::string& user, const std::string& connection,
                    const std::string& symbol, std::string_view quantity,
                    std::string_view limit_price, engine::side s) {
  auto o = market(user, connection, symbol, quantity, s);
  o.type = engine::order_type::limit;
  o.limit_price = dec(limit_price);
  return o;
}

std::vector<std::pair<std::string, std::string>> fast_paper_settings() {
  return {
      {"tick_ms", "5"},
      {"fill_chunk", "10"},
      {"prices", "AAPL=100;MSFT=50;"
                 "LMT=100,100,100,100,100,100,100,100,100,90;"
                 "STP=100,100,100,100,100,100,100,100,100,110"},
  };
}

core::core(std::shared_ptr<persistence::event_log> log, std::shared_ptr<paper::book> book,
           std::vector<engine::order> initial, router_config cfg) {
  log::set_level(log::level::warn);
  configure_threaded(cfg_);
  sys_ = std::make_unique<caf::actor_system>(cfg_);
  self_ = std::make_unique<caf::scoped_actor>(*sys_);
  log_actor_ = spawn_event_log(*sys_, std::move(log));
  router_ = spawn_router(*sys_, log_actor_, std::move(initial), cfg);
  // The book is shared by every connection's session, as in brokerd.
  book_ = std::move(book);
}

core::~core() {
  for (const auto& sup : supervisors_)
    caf::anon_send(sup, stop_atom_v);
  caf::anon_send_exit(router_, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(log_actor_, caf::exit_reason::user_shutdown);
  supervisors_.clear();
  router_ = nullptr;
  log_actor_ = nullptr;
  self_.reset();
  sys_.reset();
}

caf::actor core::connect(const std::string& id, const std::string& user,
                         std::vector<std::pair<std::string, std::string>> settings,
                         supervisor_policy policy) {
  connection_spec spec;
  spec.id = id;
  spec.user = user;
  spec.broker = engine::broker_id::paper;
  spec.settings = std::move(settings);
  broker_resources resources;
  resources.paper_book = book_;
  auto factory = factory_for(engine::broker_id::paper, resources);
  if (!factory)
    throw std::runtime_error(factory.error());
  return connect(spec, std::move(*factory), policy);
}

caf::actor core::connect(const connection_spec& spec, session_factory factory,
                         supervisor_policy policy) {
  auto sup = spawn_supervisor(*sys_, spec, std::move(factory), log_actor_, router_, policy);
  (*self_)->send(router_, attach_atom_v, spec.id, spec.user, spec.broker, sup);
  supervisors_.push_back(sup);
  return sup;
}

std::expected<place_result, caf::error> core::place(engine::order o) {
  return call<place_result>(*self_, router_, place_atom_v, std::move(o));
}

std::expected<engine::order, caf::error> core::cancel(const std::string& user,
                                                      const std::string& id) {
  return call<engine::order>(*self_, router_, cancel_atom_v, user, id);
}

std::expected<engine::order, caf::error> core::get(const std::string& user, const std::string& id) {
  return call<engine::order>(*self_, router_, get_atom_v, user, id);
}

std::expected<order_list, caf::error> core::list(const std::string& user,
                                                 const std::string& connection) {
  return call<order_list>(*self_, router_, list_atom_v, user, connection);
}

} // namespace brokerd::actors::test_support
