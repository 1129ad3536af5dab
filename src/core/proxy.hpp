// Internal: HTTP proxies as curl understands them. Pure: parsing a proxy
// URL, matching NO_PROXY, choosing the proxy for an origin.
#pragma once

#include <cspark/base_url.hpp>
#include <cspark/config.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cspark::detail {

struct proxy_endpoint {
    std::string host;           ///< name or IP literal (no brackets)
    std::uint16_t port = 1080;  ///< curl's default
    std::string authorization;  ///< "Basic ..." from the URL's user info; "" = none
    std::string display;        ///< "http://host:port": what messages show (never the credentials)
};

/// "http://[user[:password]@]host[:port][/]" or "host[:port]" (http assumed).
/// Other schemes (https, socks*) are refused, as are paths and queries.
std::optional<proxy_endpoint> parse_proxy_url(std::string_view url, std::string& why);

/// NO_PROXY: entries separated by commas or spaces; "*" alone = every host;
/// "example.com" or ".example.com" = that host and its subdomains;
/// an IP address, or a CIDR block ("10.0.0.0/8", "fd00::/8"); "host:port"
/// matches that port only. Case-insensitive; IPv6 entries may be bracketed.
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

/// localhost (and names under .localhost), 127.0.0.0/8, ::1.
bool is_loopback(std::string_view host);

/// The proxies of a transport, checked once.
struct proxy_routes {
    std::optional<proxy_endpoint> https, http;
    std::string no_proxy;

    /// Null = connect directly. A loopback origin (localhost, 127.0.0.0/8,
    /// ::1: the emulator) goes through a proxy only when the proxy is on this
    /// machine too: a remote proxy's loopback is not ours.
    const proxy_endpoint* for_origin(const origin& o) const {
        const auto& p = o.tls ? https : http;
        if (!p || no_proxy_matches(no_proxy, o.host, o.port)) return nullptr;
        if (is_loopback(o.host) && !is_loopback(p->host)) return nullptr;
        return &*p;
    }
};

/// One proxy URL for both schemes ("" = none), with the environment's
/// no_proxy when `use_environment`: what client_config::proxy and --proxy mean.
proxy_config one_proxy(const std::string& url, bool use_environment);

/// Throws spark_error(invalid_argument) naming the field that is wrong.
proxy_routes make_proxy_routes(const proxy_config& cfg);

}  // namespace cspark::detail
