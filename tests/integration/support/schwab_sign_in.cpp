#include "tests/integration/support/schwab_sign_in.hpp"

#include <future>
#include <stdexcept>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "actors/net/https_client.hpp"

namespace brokerd::test {

namespace net = actors::net;

std::string schwab_sign_in(const std::string& authorize_url, const std::filesystem::path& ca_file) {
  // "https://127.0.0.1:PORT/v1/oauth/authorize?..."
  const std::string scheme = "https://";
  if (!authorize_url.starts_with(scheme))
    throw std::runtime_error("unexpected authorizeUrl " + authorize_url);
  auto rest = authorize_url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto colon = authority.find(':');
  if (slash == std::string::npos || colon == std::string::npos)
    throw std::runtime_error("unexpected authorizeUrl " + authorize_url);
  net::https_options opts;
  opts.endpoint.host = authority.substr(0, colon);
  opts.endpoint.port = static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1)));
  opts.endpoint.ca_file = ca_file.string();

  boost::asio::io_context io{1};
  auto guard = boost::asio::make_work_guard(io);
  std::thread runner{[&io] { io.run(); }};
  auto client = net::https_client::create(io, opts);
  net::https_result r = std::unexpected(net::https_failure{net::https_errc::cancelled, {}});
  if (client) {
    std::promise<net::https_result> answered;
    auto answer = answered.get_future();
    net::https_request req;
    req.target = rest.substr(slash);
    req.idempotent = true;
    req.timeout = std::chrono::seconds{10};
    (*client)->request(req, [&answered](net::https_result x) { answered.set_value(std::move(x)); });
    r = answer.get(); // bounded by the request's timeout and the endpoint's connect timeout
    (*client)->close();
  }
  guard.reset();
  runner.join();
  if (!client)
    throw std::runtime_error("cannot create the HTTPS client: " + client.error());
  if (!r)
    throw std::runtime_error("the login page failed: " + r.error().to_string());
  auto location = r->header("Location");
  if (r->status != 302 || !location)
    throw std::runtime_error("the login page answered " + std::to_string(r->status) +
                             " without a redirect");
  return std::string{*location};
}

} // namespace brokerd::test
