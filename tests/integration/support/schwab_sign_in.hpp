#pragma once

#include <filesystem>
#include <string>

namespace brokerd::test {

/// Follows a Schwab authorize URL (brokerd's answer to POST /api/brokers/schwab/oauth/start)
/// at the simulator like a browser whose user signs in, trusting `ca_file`: returns the
/// redirect's Location (the app's callback with code and state). Throws when the login page
/// fails or answers without a redirect. Bounded by the request timeouts (10 s).
std::string schwab_sign_in(const std::string& authorize_url, const std::filesystem::path& ca_file);

} // namespace brokerd::test
