#include "tools/sim/schwab_wire.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace brokerd::sim::schwab {

namespace {

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

unsigned byte_at(std::string_view bytes, std::size_t i) {
  return static_cast<unsigned char>(bytes[i]);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size())
        return std::nullopt;
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0)
        return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

/// Digits `n` long at `text[at]`, as a number; -1 when they are not all digits.
int digits(std::string_view text, std::size_t at, std::size_t n) {
  if (at + n > text.size())
    return -1;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])))
      return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void put(json_writer& w, std::string_view k, std::string_view v) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

} // namespace

std::optional<form_fields> parse_form(std::string_view text) {
  form_fields out;
  while (!text.empty()) {
    auto amp = text.find('&');
    auto item = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    if (item.empty())
      continue;
    auto eq = item.find('=');
    auto name = decode_component(item.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>{std::string{}}
                                              : decode_component(item.substr(eq + 1));
    if (!name || !value)
      return std::nullopt;
    out.emplace(std::move(*name), std::move(*value));
  }
  return out;
}

std::optional<std::string_view> field(const form_fields& fields, std::string_view name) {
  auto it = fields.find(name);
  if (it == fields.end())
    return std::nullopt;
  return std::string_view{it->second};
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    auto v = (byte_at(bytes, i) << 16) | (byte_at(bytes, i + 1) << 8) | byte_at(bytes, i + 2);
    for (int shift : {18, 12, 6, 0})
      out += base64_alphabet[(v >> shift) & 0x3f];
  }
  if (auto rest = bytes.size() - i; rest > 0) {
    unsigned v = byte_at(bytes, i) << 16;
    if (rest == 2)
      v |= byte_at(bytes, i + 1) << 8;
    out += base64_alphabet[(v >> 18) & 0x3f];
    out += base64_alphabet[(v >> 12) & 0x3f];
    out += rest == 2 ? base64_alphabet[(v >> 6) & 0x3f] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    unsigned v = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      char c = text[i + j];
      if (c == '=' && i + 4 == text.size() && j >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      auto at = base64_alphabet.find(c);
      if (at == std::string_view::npos || pad > 0)
        return std::nullopt;
      v = (v << 6) | static_cast<unsigned>(at);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2)
      out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1)
      out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  auto out = base64_encode(bytes);
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (auto& c : out)
    c = c == '+' ? '-' : (c == '/' ? '_' : c);
  return out;
}

std::string format_time(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  auto tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::array<char, 40> buf{};
  auto n = std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%S+0000", &tm);
  return std::string{buf.data(), n};
}

std::optional<std::chrono::system_clock::time_point> parse_time(std::string_view text) {
  // yyyy-MM-ddTHH:mm:ss
  int year = digits(text, 0, 4), month = digits(text, 5, 2), day = digits(text, 8, 2);
  int hour = digits(text, 11, 2), minute = digits(text, 14, 2), second = digits(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  std::size_t at = 19;
  std::chrono::milliseconds fraction{0};
  if (at < text.size() && text[at] == '.') {
    ++at;
    int scale = 100;
    std::size_t start = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) {
      fraction += std::chrono::milliseconds{(text[at] - '0') * scale};
      scale /= 10;
      ++at;
    }
    if (at == start)
      return std::nullopt;
  }
  std::chrono::minutes offset{0};
  if (at < text.size()) {
    auto zone = text.substr(at);
    if (zone == "Z" || zone == "z") {
      // UTC
    } else if (zone[0] == '+' || zone[0] == '-') {
      int oh = digits(zone, 1, 2);
      int om = zone.size() == 6 && zone[3] == ':' ? digits(zone, 4, 2)
                                                  : (zone.size() == 5 ? digits(zone, 3, 2) : -1);
      if (oh < 0 || om < 0 || oh > 23 || om > 59)
        return std::nullopt;
      offset = std::chrono::minutes{(zone[0] == '-' ? -1 : 1) * (oh * 60 + om)};
    } else {
      return std::nullopt;
    }
  }
  auto date = std::chrono::year{year} / std::chrono::month{static_cast<unsigned>(month)} /
              std::chrono::day{static_cast<unsigned>(day)};
  if (!date.ok())
    return std::nullopt;
  auto t = std::chrono::sys_days{date} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
           std::chrono::seconds{second} + fraction - offset;
  return std::chrono::time_point_cast<std::chrono::system_clock::duration>(t);
}

std::string json_number(engine::decimal value) {
  auto text = value.to_string();
  if (text.find('.') == std::string::npos)
    text += ".0";
  return text;
}

std::string errors_body(std::string_view id, unsigned status, std::string_view title,
                        std::string_view detail, bool status_as_string) {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  w.Key("errors");
  w.StartArray();
  w.StartObject();
  put(w, "id", id);
  if (status_as_string) {
    put(w, "status", std::to_string(status));
  } else {
    w.Key("status");
    w.Uint(status);
  }
  put(w, "title", title);
  put(w, "detail", detail);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return std::string{b.GetString(), b.GetSize()};
}

std::string message_body(std::string_view message, std::optional<std::string_view> error) {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "message", message);
  if (error) {
    w.Key("errors");
    w.StartArray();
    w.String(error->data(), static_cast<rapidjson::SizeType>(error->size()));
    w.EndArray();
  }
  w.EndObject();
  return std::string{b.GetString(), b.GetSize()};
}

std::string oauth_error_body(std::string_view error, std::string_view description) {
  rapidjson::StringBuffer b;
  json_writer w{b};
  w.StartObject();
  put(w, "error", error);
  put(w, "error_description", description);
  w.EndObject();
  return std::string{b.GetString(), b.GetSize()};
}

std::string_view reason_of(unsigned status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 302:
    return "Found";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 429:
    return "Too Many Requests";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Error";
  }
}

} // namespace brokerd::sim::schwab
