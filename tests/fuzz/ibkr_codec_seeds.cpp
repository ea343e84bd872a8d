// Writes a seed corpus for ibkr_codec_fuzz into the directory named on the command line: byte
// streams in the fuzz target's input format (an optional client hello, one byte choosing the
// chunk size, then frames), every frame encoded by the codec itself so that each seed is valid
// at the newest server version. One file per message, plus a whole client session and a whole
// server session. Built and run by scripts/fuzz.sh; exits 1 when a message does not encode or
// a file cannot be written.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "actors/brokers/ibkr/codec.hpp"

namespace {

namespace ibkr = brokerd::actors::ibkr;
namespace engine = brokerd::engine;

engine::decimal dec(const char* text) {
  return *engine::decimal::parse(text);
}

ibkr::contract stock(const char* symbol) {
  ibkr::contract c;
  c.con_id = 265598;
  c.symbol = symbol;
  c.sec_type = "STK";
  c.exchange = "SMART";
  c.currency = "USD";
  c.local_symbol = symbol;
  c.trading_class = "NMS";
  return c;
}

/// The framed messages a client sends in one session, in order.
std::vector<ibkr::client_message> client_session() {
  engine::order o;
  o.client_order_id = "c-1";
  o.symbol = "AAPL";
  o.order_side = engine::side::buy;
  o.quantity = dec("10");
  o.type = engine::order_type::stop_limit;
  o.limit_price = dec("101.5");
  o.stop_price = dec("100.25");
  o.tif = engine::time_in_force::gtc;
  std::vector<ibkr::client_message> out;
  out.emplace_back(ibkr::start_api{7, ""});
  out.emplace_back(ibkr::req_ids{1});
  out.emplace_back(ibkr::req_current_time{});
  out.emplace_back(ibkr::req_account_summary{9001, "All", "TotalCashValue,BuyingPower"});
  out.emplace_back(ibkr::req_positions{});
  out.emplace_back(ibkr::req_open_orders{});
  out.emplace_back(ibkr::req_all_open_orders{});
  ibkr::req_executions execs;
  execs.req_id = 9002;
  execs.client_id = 7;
  out.emplace_back(execs);
  if (auto placed = ibkr::make_place_order(12, o, "DU1234567"))
    out.emplace_back(*placed);
  out.emplace_back(ibkr::cancel_order{12, ""});
  out.emplace_back(ibkr::cancel_positions{});
  out.emplace_back(ibkr::cancel_account_summary{9001});
  return out;
}

/// The framed messages a server sends in one session, in order.
std::vector<ibkr::server_message> server_session() {
  std::vector<ibkr::server_message> out;
  out.emplace_back(ibkr::next_valid_id{12});
  out.emplace_back(ibkr::managed_accounts{"DU1234567,DU7654321"});
  out.emplace_back(
      ibkr::error_message{-1, 2104, "Market data farm connection is OK:usfarm \xc3\xa9", ""});
  out.emplace_back(ibkr::current_time{1700000000});
  ibkr::account_summary summary;
  summary.req_id = 9001;
  summary.account = "DU1234567";
  summary.tag = "TotalCashValue";
  summary.value = "100000.00";
  summary.currency = "USD";
  out.emplace_back(summary);
  out.emplace_back(ibkr::account_summary_end{9001});
  ibkr::position pos;
  pos.account = "DU1234567";
  pos.instrument = stock("AAPL");
  pos.quantity = dec("10");
  pos.avg_cost = dec("100.1");
  out.emplace_back(pos);
  out.emplace_back(ibkr::position_end{});
  ibkr::open_order open;
  open.order_id = 12;
  open.instrument = stock("AAPL");
  open.action = "BUY";
  open.total_quantity = dec("10");
  open.order_type = "STP LMT";
  open.limit_price = dec("101.5");
  open.aux_price = dec("100.25");
  open.tif = "GTC";
  open.account = "DU1234567";
  open.order_ref = "c-1";
  open.client_id = 7;
  open.perm_id = 1000012;
  open.status = "Submitted";
  out.emplace_back(open);
  out.emplace_back(ibkr::open_order_end{});
  ibkr::order_status status;
  status.order_id = 12;
  status.status = "Filled";
  status.filled = dec("10");
  status.avg_fill_price = dec("101.25");
  status.perm_id = 1000012;
  status.last_fill_price = dec("101.25");
  status.client_id = 7;
  out.emplace_back(status);
  ibkr::exec_details exec;
  exec.order_id = 12;
  exec.instrument = stock("AAPL");
  exec.exec_id = "0000e0d5.6551a9c3.01.01";
  exec.time = "20240102 09:30:01 US/Eastern";
  exec.account = "DU1234567";
  exec.exchange = "ISLAND";
  exec.side = "BOT";
  exec.shares = dec("10");
  exec.price = dec("101.25");
  exec.perm_id = 1000012;
  exec.client_id = 7;
  exec.cum_qty = dec("10");
  exec.avg_price = dec("101.25");
  exec.order_ref = "c-1";
  out.emplace_back(exec);
  ibkr::commission_report commission;
  commission.exec_id = exec.exec_id;
  commission.commission = dec("1");
  commission.currency = "USD";
  out.emplace_back(commission);
  out.emplace_back(ibkr::exec_details_end{9002});
  return out;
}

bool write(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out{file, std::ios::binary | std::ios::trunc};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

/// Frames every message of `messages`; false when one does not encode.
template <class Message>
bool frames_of(const std::vector<Message>& messages, std::vector<std::string>& frames) {
  for (const auto& m : messages) {
    auto frame = ibkr::encode(m, ibkr::max_server_version);
    if (!frame) {
      std::fprintf(stderr, "ibkr_codec_seeds: a message does not encode: %s\n",
                   frame.error().to_string().c_str());
      return false;
    }
    frames.push_back(std::move(*frame));
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: ibkr_codec_seeds DIRECTORY\n");
    return 2;
  }
  std::filesystem::path dir{argv[1]};
  std::filesystem::create_directories(dir);
  std::vector<std::string> client_frames;
  std::vector<std::string> server_frames;
  if (!frames_of(client_session(), client_frames) || !frames_of(server_session(), server_frames))
    return 1;
  auto hello = ibkr::client_hello{}.encode();
  if (!hello)
    return 1;
  // The chunk byte: 63 gives chunks of 64 bytes, 0 single bytes (see the fuzz target).
  const std::string whole{'\x3f'};
  bool ok = true;
  std::string client_stream = *hello + '\x00';
  for (std::size_t i = 0; i < client_frames.size(); ++i) {
    ok = ok && write(dir / ("client-" + std::to_string(i)), whole + client_frames[i]);
    client_stream += client_frames[i];
  }
  std::string server_stream{'\x07'};
  for (std::size_t i = 0; i < server_frames.size(); ++i) {
    ok = ok && write(dir / ("server-" + std::to_string(i)), whole + server_frames[i]);
    server_stream += server_frames[i];
  }
  ibkr::server_hello answer{ibkr::max_server_version, "20240102 09:30:00 EST"};
  if (auto frame = answer.encode())
    ok = ok && write(dir / "server-hello", whole + *frame);
  ok = ok && write(dir / "client-session", client_stream) &&
       write(dir / "server-session", server_stream);
  if (!ok) {
    std::fprintf(stderr, "ibkr_codec_seeds: cannot write the seeds to %s\n", dir.c_str());
    return 1;
  }
  std::printf("%zu seeds in %s\n", client_frames.size() + server_frames.size() + 3, dir.c_str());
  return 0;
}
