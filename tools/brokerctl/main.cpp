// brokerctl: reads brokerd's event log with no server running (or next to a running one).
//
//   brokerctl replay --data-dir D [--order ID] [--since SEQ] [--limit N] [--follow]
//                    [--format jsonl|table]
//   brokerctl verify --data-dir D
//   brokerctl state  --data-dir D [--at SEQ] [--format jsonl|table]
//   brokerctl user add|list|set-tier --url http://HOST:PORT --token-file F|--token T ...

#include <filesystem>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <expected>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "persistence/database.hpp"
#include "persistence/event_codec.hpp"
#include "persistence/event_log.hpp"
#include "persistence/json_fields.hpp"
#include "persistence/order_projection.hpp"
#include "persistence/records.hpp"
#include "persistence/vault.hpp"
#include "persistence/verify.hpp"
#include "tools/brokerctl/admin_client.hpp"
#include "tools/brokerctl/output.hpp"

namespace brokerd::brokerctl {

namespace {

using persistence::event_log;
using persistence::open_mode;
using persistence::read_record;

/// Exit codes (sysexits.h where one fits).
enum exit_code : int {
  exit_ok = 0,
  exit_faults = 1,
  exit_damaged = 2,
  exit_usage = 64,
  exit_no_input = 66,
  exit_unavailable = 69,
  exit_io = 74,
  exit_no_permission = 77,
};

constexpr std::string_view usage_text =
    R"(usage: brokerctl <command> --data-dir DIR [options]

commands:
  replay   print the events of the log
             --order ID      only the events of order ID
             --since SEQ     start at sequence number SEQ (default 1)
             --limit N       print at most N events
             --follow        keep printing new events of a running brokerd until
                             SIGINT or SIGTERM (polls every 200 ms)
             --format F      jsonl (default) or table
  verify   check sequence numbers, decoding and every order's transitions;
           prints each fault and a summary line
  state    rebuild every order from the log
             --at SEQ        as of sequence number SEQ (default: the end of the log)
             --format F      jsonl (default) or table
  keys rotate
           seal every stored credential under a fresh master key (brokerd stopped):
             --key-file F    the vault's key file (default DATA_DIR/master.key);
                             the new key is written first, the old ones kept until
                             every record is sealed again in one atomic write
  user add --email E --password-file F [--tier free|premium]
           create a user through a running brokerd's admin API; prints the user's
           id and first API token (shown once). F holds the password on its first
           line ("-" reads it from stdin); it is 12 to 256 characters
  user list
           list the users (id, email, tier, admin)
  user set-tier (--id ID | --email E) --tier free|premium
           change a user's tier; a user moved to free has their IBKR and Schwab
           connections stopped until moved back to premium
             every user command needs --url http://HOST:PORT (brokerd's HTTP port)
             and an admin token: --token-file F (e.g. DATA_DIR/admin-token) or
             --token T
  help     print this text

The database is opened read-only when no process holds it, and as a secondary
(following the running writer) otherwise.

exit status: 0 success, 1 verify found faults or brokerd refused a user command,
             2 damaged records were read, 64 usage error, 66 no database at DIR,
             69 brokerd could not be reached, 74 the database could not be read,
             77 the token was refused (401) or is not an admin's (403)
)";

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void on_stop_signal(int) {
  stop_requested = 1;
}

struct options {
  std::string command;
  std::string data_dir;
  std::optional<std::string> order;
  std::uint64_t since = 1;
  std::optional<std::uint64_t> limit;
  bool follow = false;
  bool table = false;
  std::optional<std::uint64_t> at;
  std::string key_file;
  // user commands
  std::string url;
  std::string token;
  std::string token_file;
  std::string email;
  std::string password_file;
  std::string tier;
  std::string id;
};

struct usage_error {
  std::string message;
};

void write_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void write_err(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty())
    return std::nullopt;
  return v;
}

std::expected<options, usage_error> parse_args(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty())
    return std::unexpected(usage_error{"missing command"});
  options o;
  o.command = args[0];
  if (o.command == "keys") {
    if (args.size() < 2 || args[1] != "rotate")
      return std::unexpected(usage_error{"keys needs the subcommand rotate"});
    o.command = "keys-rotate";
    args.erase(args.begin());
  } else if (o.command == "user") {
    if (args.size() < 2 || (args[1] != "add" && args[1] != "list" && args[1] != "set-tier"))
      return std::unexpected(usage_error{"user needs a subcommand: add, list or set-tier"});
    o.command = "user-" + std::string{args[1]};
    args.erase(args.begin());
  }
  static const std::map<std::string_view, std::set<std::string_view>> allowed{
      {"replay", {"--data-dir", "--order", "--since", "--limit", "--follow", "--format"}},
      {"verify", {"--data-dir"}},
      {"state", {"--data-dir", "--at", "--format"}},
      {"keys-rotate", {"--data-dir", "--key-file"}},
      {"user-add", {"--url", "--token", "--token-file", "--email", "--password-file", "--tier"}},
      {"user-list", {"--url", "--token", "--token-file"}},
      {"user-set-tier", {"--url", "--token", "--token-file", "--email", "--id", "--tier"}},
  };
  auto command = allowed.find(o.command);
  if (command == allowed.end())
    return std::unexpected(usage_error{"unknown command '" + o.command + "'"});

  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view flag = arg;
    std::optional<std::string_view> value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (!command->second.contains(flag))
      return std::unexpected(usage_error{
          arg.starts_with("--") ? "unknown option '" + std::string{flag} + "' for " + o.command
                                : "unexpected argument '" + std::string{arg} + "'"});
    if (flag == "--follow") {
      if (value)
        return std::unexpected(usage_error{"--follow takes no value"});
      o.follow = true;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size())
        return std::unexpected(usage_error{std::string{flag} + " needs a value"});
      value = args[++i];
    }
    auto number = [&]() -> std::expected<std::uint64_t, usage_error> {
      auto n = parse_u64(*value);
      if (!n)
        return std::unexpected(usage_error{std::string{flag} +
                                           " needs a non-negative integer, not '" +
                                           std::string{*value} + "'"});
      return *n;
    };
    if (flag == "--data-dir") {
      if (value->empty())
        return std::unexpected(usage_error{"--data-dir must not be empty"});
      o.data_dir = *value;
    } else if (flag == "--order") {
      o.order = std::string{*value};
    } else if (flag == "--key-file") {
      if (value->empty())
        return std::unexpected(usage_error{"--key-file must not be empty"});
      o.key_file = *value;
    } else if (flag == "--url" || flag == "--token" || flag == "--token-file" ||
               flag == "--email" || flag == "--password-file" || flag == "--tier" ||
               flag == "--id") {
      if (value->empty())
        return std::unexpected(usage_error{std::string{flag} + " must not be empty"});
      auto& field = flag == "--url"             ? o.url
                    : flag == "--token"         ? o.token
                    : flag == "--token-file"    ? o.token_file
                    : flag == "--email"         ? o.email
                    : flag == "--password-file" ? o.password_file
                    : flag == "--tier"          ? o.tier
                                                : o.id;
      field = std::string{*value};
    } else if (flag == "--format") {
      if (*value != "jsonl" && *value != "table")
        return std::unexpected(
            usage_error{"--format must be jsonl or table, not '" + std::string{*value} + "'"});
      o.table = *value == "table";
    } else {
      auto n = number();
      if (!n)
        return std::unexpected(n.error());
      if (flag == "--since")
        o.since = *n;
      else if (flag == "--limit")
        o.limit = *n;
      else
        o.at = *n;
    }
  }
  if (o.command.starts_with("user-")) {
    if (o.url.empty())
      return std::unexpected(usage_error{"missing --url"});
    if (o.token.empty() == o.token_file.empty())
      return std::unexpected(usage_error{"give one of --token and --token-file"});
    if (o.command == "user-add" && (o.email.empty() || o.password_file.empty()))
      return std::unexpected(usage_error{"user add needs --email and --password-file"});
    if (o.command == "user-set-tier" && (o.tier.empty() || o.id.empty() == o.email.empty()))
      return std::unexpected(usage_error{"user set-tier needs --tier and one of --id and --email"});
    if (!o.tier.empty() && o.tier != "free" && o.tier != "premium")
      return std::unexpected(usage_error{"--tier must be free or premium"});
    return o;
  }
  if (o.data_dir.empty())
    return std::unexpected(usage_error{"missing --data-dir"});
  return o;
}

int exit_for(const persistence::error& e) {
  return e.code == persistence::errc::not_found ? exit_no_input : exit_io;
}

/// brokerd keeps its event log in DATA_DIR/events: accept brokerd's --data-dir as well as the
/// log's own directory.
std::filesystem::path log_dir(const std::filesystem::path& data_dir) {
  auto nested = data_dir / "events";
  std::error_code ec;
  if (std::filesystem::exists(nested / "CURRENT", ec))
    return nested;
  return data_dir;
}

std::expected<event_log, int> open_log(const options& o) {
  auto dir = log_dir(o.data_dir);
  auto held = persistence::database::is_held_by_writer(dir);
  if (!held) {
    write_err("brokerctl: " + held.error().to_string() + "\n");
    return std::unexpected(exit_io);
  }
  open_mode mode = (o.follow || *held) ? open_mode::secondary : open_mode::read_only;
  auto log = event_log::open(dir, mode);
  if (!log) {
    write_err("brokerctl: " + log.error().to_string() + "\n");
    return std::unexpected(exit_for(log.error()));
  }
  return std::move(*log);
}

void report_damaged(std::uint64_t seq, const persistence::error& e) {
  write_err("brokerctl: seq " + std::to_string(seq) + ": damaged record: " + e.to_string() + "\n");
}

/// Prints records for `replay`, counting what it printed against the limit.
class replay_printer {
public:
  explicit replay_printer(const options& o) : options_(o) {
    if (options_.table)
      write_out(replay_table_header());
  }

  /// Prints one record if it passes the filters. False once the limit is reached.
  bool print(const read_record& r) {
    if (done())
      return false;
    if (r.seq < options_.since)
      return true;
    if (!r.value) {
      damaged_ = true;
      report_damaged(r.seq, r.value.error());
      return !done();
    }
    if (options_.order && r.value->order_id != *options_.order)
      return true;
    if (options_.table) {
      write_out(replay_table_row(*r.value));
    } else {
      persistence::encode_event_into(*r.value, line_);
      line_.push_back('\n');
      write_out(line_);
    }
    ++printed_;
    return !done();
  }

  [[nodiscard]] bool done() const { return options_.limit && printed_ >= *options_.limit; }
  [[nodiscard]] bool damaged() const { return damaged_; }

private:
  const options& options_;
  std::uint64_t printed_ = 0;
  bool damaged_ = false;
  std::string line_;
};

int run_replay(const options& o) {
  auto log = open_log(o);
  if (!log)
    return log.error();
  replay_printer printer{o};
  std::uint64_t next = o.since;

  if (o.order) {
    auto records = log->read_order(*o.order);
    if (!records) {
      write_err("brokerctl: " + records.error().to_string() + "\n");
      return exit_io;
    }
    for (const auto& r : *records)
      if (!printer.print(r))
        break;
    next = std::max(next, log->last_seq() + 1);
  } else if (!o.follow) {
    auto ok = log->scan(o.since, std::numeric_limits<std::uint64_t>::max(),
                        [&](read_record& r) { return printer.print(r); });
    if (!ok) {
      write_err("brokerctl: " + ok.error().to_string() + "\n");
      return exit_io;
    }
  }
  std::fflush(stdout);

  if (o.follow) {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    constexpr std::size_t chunk = 4096;
    while (stop_requested == 0 && !printer.done()) {
      auto records = log->poll_after(next - 1, chunk);
      if (!records) {
        write_err("brokerctl: " + records.error().to_string() + "\n");
        return exit_io;
      }
      for (const auto& r : *records) {
        next = std::max(next, r.seq + 1);
        if (!printer.print(r))
          break;
      }
      std::fflush(stdout);
      if (records->size() < chunk)
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
    }
  }
  return printer.damaged() ? exit_damaged : exit_ok;
}

int run_verify(const options& o) {
  auto log = open_log(o);
  if (!log)
    return log.error();
  auto report = persistence::verify_log(*log);
  if (!report) {
    write_err("brokerctl: " + report.error().to_string() + "\n");
    return exit_io;
  }
  std::string out;
  for (const auto& f : report->faults) {
    out += "seq " + std::to_string(f.seq);
    if (!f.order_id.empty())
      out += " order " + f.order_id;
    out += ": " + f.what + "\n";
  }
  out += "verified " + std::to_string(report->records) + " events, " +
         std::to_string(report->orders) + " orders, " + std::to_string(report->faults.size()) +
         " faults\n";
  write_out(out);
  return report->ok() ? exit_ok : exit_faults;
}

int run_state(const options& o) {
  auto log = open_log(o);
  if (!log)
    return log.error();
  auto result =
      persistence::rebuild_orders(*log, o.at.value_or(std::numeric_limits<std::uint64_t>::max()));
  if (!result) {
    write_err("brokerctl: " + result.error().to_string() + "\n");
    return exit_io;
  }
  for (const auto& d : result->damaged)
    report_damaged(d.seq, d.problem);
  const auto& orders = result->projection.orders();
  if (o.table) {
    write_out(order_table(orders));
  } else {
    for (const auto& [id, p] : orders)
      write_out(order_json_line(p));
  }
  return result->damaged.empty() ? exit_ok : exit_damaged;
}

/// keys rotate: every connection record is opened with the current keys and sealed again
/// under a new one. Crash-safe: the key file gains the new key (first) before the records
/// change, the records change in one atomic write, and only then are the old keys dropped.
int run_keys_rotate(const options& o) {
  std::filesystem::path data{o.data_dir};
  auto key_file = o.key_file.empty() ? data / "master.key" : std::filesystem::path{o.key_file};
  auto current = persistence::vault::from_key_file(key_file);
  if (!current) {
    write_err("brokerctl: " + current.error().message + "\n");
    return exit_for(current.error());
  }
  auto dir = log_dir(data);
  auto held = persistence::database::is_held_by_writer(dir);
  if (!held || *held) {
    write_err(held ? "brokerctl: brokerd is running on " + dir.string() +
                         ": stop it first (the database has one writer)\n"
                   : "brokerctl: " + held.error().to_string() + "\n");
    return exit_io;
  }
  auto log = event_log::open(dir, open_mode::read_write);
  if (!log) {
    write_err("brokerctl: " + log.error().to_string() + "\n");
    return exit_for(log.error());
  }
  auto entries = log->scan_prefix(persistence::registry_keys::connection);
  if (!entries) {
    write_err("brokerctl: " + entries.error().to_string() + "\n");
    return exit_io;
  }
  std::vector<std::pair<std::string, persistence::connection_record>> records;
  for (const auto& e : *entries) {
    auto rec = persistence::decode_connection(e.value, *current);
    if (!rec) {
      write_err("brokerctl: nothing changed: " + rec.error().message + "\n");
      return exit_faults;
    }
    records.emplace_back(e.key, std::move(*rec));
  }
  auto fresh = persistence::master_key::generate();
  std::vector<persistence::master_key> keys{fresh};
  keys.insert(keys.end(), current->keys().begin(), current->keys().end());
  if (auto ok = persistence::vault::write_key_file(key_file, keys); !ok) {
    write_err("brokerctl: nothing changed: " + ok.error().message + "\n");
    return exit_io;
  }
  auto next = *persistence::vault::with_keys({fresh});
  std::vector<persistence::registry_write> writes;
  for (const auto& [key, rec] : records) {
    auto sealed = persistence::encode_connection(rec, next);
    if (!sealed) {
      write_err("brokerctl: records unchanged: " + sealed.error().message + "\n");
      return exit_io;
    }
    writes.push_back({key, std::move(*sealed)});
  }
  if (auto ok = log->append({}, true, writes); !ok) {
    write_err("brokerctl: records unchanged (the key file holds both keys): " +
              ok.error().to_string() + "\n");
    return exit_io;
  }
  if (auto ok = persistence::vault::write_key_file(key_file, {fresh}); !ok) {
    write_err("brokerctl: records sealed under " + fresh.id +
              "; the old keys are still in the key file: " + ok.error().message + "\n");
    return exit_io;
  }
  write_out("sealed " + std::to_string(records.size()) + " connection record(s) under master key " +
            fresh.id + " (was " + current->current_key_id() + ")\n");
  return exit_ok;
}

/// The first line of `path` ("-": of stdin), without its line end; nullopt when unreadable.
std::optional<std::string> read_first_line(const std::string& path) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "r");
  if (!f)
    return std::nullopt;
  std::string line;
  for (int c = std::fgetc(f); c != EOF && c != '\n'; c = std::fgetc(f))
    line.push_back(static_cast<char>(c));
  if (f != stdin)
    std::fclose(f);
  while (!line.empty() && line.back() == '\r')
    line.pop_back();
  return line;
}

/// `text` as a JSON string literal.
std::string json_quoted(std::string_view text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return buf.GetString();
}

/// The exit code and message for an answer that is not `expected_status`.
int refused(const api_answer& a) {
  rapidjson::Document doc;
  doc.Parse(a.body.data(), a.body.size());
  std::string what = a.body;
  if (!doc.HasParseError() && doc.IsObject()) {
    auto error = persistence::json::read_string(doc, "error").value_or("");
    auto message = persistence::json::read_string(doc, "message").value_or("");
    what = error + (message.empty() ? "" : ": " + message);
  }
  write_err("brokerctl: brokerd answered " + std::to_string(a.status) + " " + what + "\n");
  return a.status == 401 || a.status == 403 ? exit_no_permission : exit_faults;
}

/// The users as brokerd lists them, or an exit code.
std::expected<std::vector<persistence::user_record>, int> fetch_users(const server_url& server,
                                                                      const std::string& token) {
  auto a = call_api(server, "GET", "/api/admin/users", token, {});
  if (!a) {
    write_err("brokerctl: " + a.error() + "\n");
    return std::unexpected(exit_unavailable);
  }
  if (a->status != 200)
    return std::unexpected(refused(*a));
  rapidjson::Document doc;
  doc.Parse(a->body.data(), a->body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("users") ||
      !doc["users"].IsArray()) {
    write_err("brokerctl: unexpected answer from brokerd\n");
    return std::unexpected(exit_faults);
  }
  std::vector<persistence::user_record> out;
  for (const auto& u : doc["users"].GetArray()) {
    persistence::user_record r;
    r.id = persistence::json::read_string(u, "id").value_or("");
    r.email = persistence::json::read_string(u, "email").value_or("");
    r.tier = persistence::json::read_string(u, "tier").value_or("");
    r.admin = persistence::json::read_bool(u, "admin").value_or(false);
    out.push_back(std::move(r));
  }
  return out;
}

/// user add | list | set-tier: through a running brokerd's admin API (the database has one
/// writer, brokerd). The password and tokens never appear in an error message.
int run_user(const options& o) {
  auto server = parse_server_url(o.url);
  if (!server) {
    write_err("brokerctl: " + server.error() + "\n");
    return exit_usage;
  }
  auto token = o.token;
  if (!o.token_file.empty()) {
    auto read = read_first_line(o.token_file);
    if (!read || read->empty()) {
      write_err("brokerctl: cannot read a token from " + o.token_file + "\n");
      return exit_no_input;
    }
    token = *read;
  }
  if (o.command == "user-list") {
    auto users = fetch_users(*server, token);
    if (!users)
      return users.error();
    std::string out =
        "id                    email                                    tier     admin\n";
    for (const auto& u : *users) {
      auto pad = [](std::string s, std::size_t n) {
        if (s.size() < n)
          s.append(n - s.size(), ' ');
        return s + " ";
      };
      out += pad(u.id, 21) + pad(u.email, 40) + pad(u.tier, 8) + (u.admin ? "yes" : "no") + "\n";
    }
    write_out(out);
    return exit_ok;
  }
  if (o.command == "user-add") {
    auto password = read_first_line(o.password_file);
    if (!password) {
      write_err("brokerctl: cannot read the password from " + o.password_file + "\n");
      return exit_no_input;
    }
    std::string body = R"({"email":)" + json_quoted(o.email) + R"(,"password":)" +
                       json_quoted(*password) +
                       (o.tier.empty() ? std::string{} : R"(,"tier":)" + json_quoted(o.tier)) + "}";
    auto a = call_api(*server, "POST", "/api/admin/users", token, body);
    if (!a) {
      write_err("brokerctl: " + a.error() + "\n");
      return exit_unavailable;
    }
    if (a->status != 201)
      return refused(*a);
    rapidjson::Document doc;
    doc.Parse(a->body.data(), a->body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      write_err("brokerctl: unexpected answer from brokerd\n");
      return exit_faults;
    }
    write_out("user " + persistence::json::read_string(doc, "userId").value_or("?") + " " +
              o.email + " created\napi token: " +
              persistence::json::read_string(doc, "token").value_or("?") + "\n");
    return exit_ok;
  }
  // set-tier
  auto id = o.id;
  if (id.empty()) {
    auto users = fetch_users(*server, token);
    if (!users)
      return users.error();
    std::string wanted = o.email;
    for (auto& c : wanted)
      if (c >= 'A' && c <= 'Z')
        c = static_cast<char>(c - 'A' + 'a');
    for (const auto& u : *users)
      if (u.email == wanted)
        id = u.id;
    if (id.empty()) {
      write_err("brokerctl: no user with email " + o.email + "\n");
      return exit_faults;
    }
  }
  auto a = call_api(*server, "PATCH", "/api/admin/users/" + id, token,
                    R"({"tier":)" + json_quoted(o.tier) + "}");
  if (!a) {
    write_err("brokerctl: " + a.error() + "\n");
    return exit_unavailable;
  }
  if (a->status != 200)
    return refused(*a);
  write_out("user " + id + " tier " + o.tier + "\n");
  return exit_ok;
}

int run(int argc, char** argv) {
  if (argc == 2) {
    std::string_view only = argv[1];
    if (only == "help" || only == "--help" || only == "-h") {
      write_out(usage_text);
      return exit_ok;
    }
  }
  auto o = parse_args(argc, argv);
  if (!o) {
    write_err("brokerctl: " + o.error().message + "\n\n");
    write_err(usage_text);
    return exit_usage;
  }
  if (o->command == "replay")
    return run_replay(*o);
  if (o->command == "verify")
    return run_verify(*o);
  if (o->command == "keys-rotate")
    return run_keys_rotate(*o);
  if (o->command.starts_with("user-"))
    return run_user(*o);
  return run_state(*o);
}

} // namespace

} // namespace brokerd::brokerctl

int main(int argc, char** argv) {
  int code = brokerd::brokerctl::run(argc, argv);
  if (std::fflush(stdout) != 0 && code == 0)
    code = brokerd::brokerctl::exit_io;
  return code;
}
