// Spark base URLs: https://excel.{env}.coherent.global/{tenant}, env + tenant,
// or any http(s)://host[:port]/{tenant} (a local emulator, a proxy).
#pragma once

#include <cspark/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cspark {

/// Scheme, host and port: what a connection is made to.
struct origin {
    bool tls = true;
    std::string host;  ///< lower-case name or IP literal (no brackets)
    std::uint16_t port = 443;

    /// "https://host" or "http://host:8080" (port shown when not the default).
    std::string to_string() const;
    friend bool operator==(const origin&, const origin&) = default;
};

struct base_url {
    origin server;
    std::string tenant;  ///< first path segment
    std::string env;     ///< "uat.us" for *.coherent.global hosts, else empty

    bool is_coherent_global() const noexcept { return !env.empty(); }
    /// "https://excel.uat.us.coherent.global/acme"
    std::string to_string() const;
    /// Path prefix for API calls: "/acme/api/v4/".
    std::string api_prefix() const { return "/" + tenant + "/api/v4/"; }
    /// Where OAuth2 client credentials are exchanged: the keycloak host for
    /// coherent.global URLs, the same host otherwise.
    origin oauth_server() const;
    std::string oauth_token_path() const {
        return "/auth/realms/" + tenant + "/protocol/openid-connect/token";
    }
};

/// Parses `url` (may be empty when `env` is given). `tenant` fills or must
/// match the URL's path; Spark hosts other than excel/keycloak are rewritten to
/// excel as the official SDKs do. Errors: invalid_base_url, unsupported_scheme,
/// missing_tenant; `why` (optional) receives the reason in words.
std::optional<base_url> parse_base_url(std::string_view url, std::string_view tenant,
                                       std::string_view env, error_code& ec,
                                       std::string* why = nullptr);

}  // namespace cspark
