#include <cspark/base_url.hpp>

#include "core/text.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cctype>
#include <string>
#include <vector>

namespace cspark {
namespace urls = boost::urls;
namespace {

constexpr std::string_view coherent_suffix = ".coherent.global";

bool valid_tenant(std::string_view t) {
    if (t.empty() || t.size() > 128) return false;
    for (unsigned char c : t)
        if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
    return true;
}

bool valid_env(std::string_view e) {
    if (e.empty() || e.front() == '.' || e.back() == '.') return false;
    for (unsigned char c : e)
        if (!std::isalnum(c) && c != '-' && c != '.') return false;
    return e.find("..") == std::string_view::npos;
}

}  // namespace

std::string origin::to_string() const {
    std::string h = detail::bracketed_host(host);
    std::string s = (tls ? "https://" : "http://") + h;
    if (port != (tls ? 443 : 80)) s += ":" + std::to_string(port);
    return s;
}

std::string base_url::to_string() const { return server.to_string() + "/" + tenant; }

origin base_url::oauth_server() const {
    if (!is_coherent_global()) return server;
    origin o = server;
    o.host = "keycloak." + env + std::string(coherent_suffix);
    return o;
}

std::optional<base_url> parse_base_url(std::string_view url_in, std::string_view tenant_in,
                                       std::string_view env_in, error_code& ec, std::string* why) {
    auto fail = [&](errc e, std::string msg) -> std::optional<base_url> {
        ec = e;
        if (why) *why = std::move(msg);
        return std::nullopt;
    };
    ec = {};
    std::string tenant_opt(detail::trim(tenant_in));
    std::string text(detail::trim(url_in));
    if (text.empty()) {
        std::string env = detail::to_lower(detail::trim(env_in));
        if (env.empty())
            return fail(errc::invalid_base_url, "no base URL: set base_url (CSPARK_BASE_URL) or env and tenant");
        if (!valid_env(env)) return fail(errc::invalid_base_url, "env '" + env + "' is not of the form 'uat.us' or 'eu'");
        if (tenant_opt.empty()) return fail(errc::missing_tenant, "env '" + env + "' given without a tenant");
        text = "https://excel." + env + std::string(coherent_suffix) + "/" + detail::to_lower(tenant_opt);
    }

    auto parsed = urls::parse_absolute_uri(text);
    if (!parsed) {
        if (text.find("://") == std::string::npos)
            return fail(errc::invalid_base_url, "base URL '" + detail::mask_url(text) + "' has no scheme: start it with https://");
        return fail(errc::invalid_base_url, "base URL '" + detail::mask_url(text) + "' is not a valid URL: " + parsed.error().message());
    }
    urls::url_view u = *parsed;
    std::string scheme = detail::to_lower(u.scheme());
    if (scheme != "http" && scheme != "https")
        return fail(errc::unsupported_scheme, "base URL scheme '" + scheme + "' is not http or https");
    if (!u.has_authority() || u.encoded_host_address().empty())
        return fail(errc::invalid_base_url, "base URL '" + text + "' has no host");
    if (u.has_userinfo())
        return fail(errc::invalid_base_url, "base URL must not carry credentials (user:password@); use the credential options");
    if (u.has_query() || u.has_fragment())
        return fail(errc::invalid_base_url, "base URL must not have a query or fragment");

    base_url out;
    out.server.tls = scheme == "https";
    out.server.host = detail::to_lower(u.host_address());
    if (u.host_type() == urls::host_type::name) {
        // A DNS name: what percent-decoding made of it must be one (found by
        // the uri fuzzer: "%ce" gave a byte no URL could carry back).
        for (unsigned char c : out.server.host)
            if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_'))
                return fail(errc::invalid_base_url, "base URL host '" + std::string(u.encoded_host()) +
                                                        "' may only hold letters, digits, '-', '.' and '_'");
    }
    out.server.port = out.server.tls ? 443 : 80;
    if (u.has_port()) {
        auto port = detail::parse_port(u.port());
        if (!port)
            return fail(errc::invalid_base_url, "base URL port '" + std::string(u.port()) + "' is not a number from 1 to 65535");
        out.server.port = *port;
    }

    std::vector<std::string> segments;
    for (auto seg : u.segments())
        if (!seg.empty()) segments.push_back(std::string(seg));
    if (segments.size() > 1)
        return fail(errc::invalid_base_url, "base URL path '" + std::string(u.encoded_path()) +
                                                "' has more than the tenant: expected http(s)://host[:port]/{tenant}");
    if (segments.empty()) {
        if (tenant_opt.empty())
            return fail(errc::missing_tenant, "no tenant: base URL '" + text + "' has no path and no tenant was given");
        out.tenant = tenant_opt;
    } else {
        out.tenant = segments.front();
        if (!tenant_opt.empty() && !detail::iequals(tenant_opt, out.tenant))
            return fail(errc::invalid_base_url,
                        "tenant '" + tenant_opt + "' differs from the tenant '" + out.tenant + "' in the base URL");
    }
    if (!valid_tenant(out.tenant))
        return fail(errc::missing_tenant, "tenant '" + out.tenant + "' may only hold letters, digits, '-', '_' and '.'");

    const std::string& host = out.server.host;
    if (host.size() > coherent_suffix.size() && host.ends_with(coherent_suffix)) {
        std::string_view rest(host);
        rest.remove_suffix(coherent_suffix.size());
        auto dot = rest.find('.');
        if (dot == std::string_view::npos)
            return fail(errc::invalid_base_url, "Spark host '" + host + "' lacks an environment: expected excel.{env}.coherent.global");
        out.env = std::string(rest.substr(dot + 1));
        // Like the SDKs: whatever service host was given, API calls go to excel.
        out.server.host = "excel." + out.env + std::string(coherent_suffix);
    }
    return out;
}

}  // namespace cspark
