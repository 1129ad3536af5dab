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

namespace {

// Why a base URL was refused: the error and the words.
struct refusal {
    errc code;
    std::string why;
};

// The URL to parse: the one given, else https://excel.{env}.coherent.global/{tenant}.
std::optional<refusal> url_text(std::string_view url_in, std::string_view env_in, const std::string& tenant, std::string& text) {
    text = std::string(detail::trim(url_in));
    if (!text.empty()) return std::nullopt;
    std::string env = detail::to_lower(detail::trim(env_in));
    if (env.empty()) return refusal{errc::invalid_base_url, "no base URL: set base_url (CSPARK_BASE_URL) or env and tenant"};
    if (!valid_env(env)) return refusal{errc::invalid_base_url, "env '" + env + "' is not of the form 'uat.us' or 'eu'"};
    if (tenant.empty()) return refusal{errc::missing_tenant, "env '" + env + "' given without a tenant"};
    text = "https://excel." + env + std::string(coherent_suffix) + "/" + detail::to_lower(tenant);
    return std::nullopt;
}

// Scheme, host and port: an http(s) origin with nothing else in it.
std::optional<refusal> read_origin(urls::url_view u, const std::string& text, origin& out) {
    std::string scheme = detail::to_lower(u.scheme());
    if (scheme != "http" && scheme != "https")
        return refusal{errc::unsupported_scheme, "base URL scheme '" + scheme + "' is not http or https"};
    if (!u.has_authority() || u.encoded_host_address().empty())
        return refusal{errc::invalid_base_url, "base URL '" + text + "' has no host"};
    if (u.has_userinfo())
        return refusal{errc::invalid_base_url, "base URL must not carry credentials (user:password@); use the credential options"};
    if (u.has_query() || u.has_fragment()) return refusal{errc::invalid_base_url, "base URL must not have a query or fragment"};
    out.tls = scheme == "https";
    out.host = detail::to_lower(u.host_address());
    if (u.host_type() == urls::host_type::name) {
        // A DNS name: what percent-decoding made of it must be one (found by
        // the uri fuzzer: "%ce" gave a byte no URL could carry back).
        for (unsigned char c : out.host)
            if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_'))
                return refusal{errc::invalid_base_url, "base URL host '" + std::string(u.encoded_host()) +
                                                           "' may only hold letters, digits, '-', '.' and '_'"};
    }
    out.port = out.tls ? 443 : 80;
    if (u.has_port()) {
        auto port = detail::parse_port(u.port());
        if (!port)
            return refusal{errc::invalid_base_url, "base URL port '" + std::string(u.port()) + "' is not a number from 1 to 65535"};
        out.port = *port;
    }
    return std::nullopt;
}

// The tenant: the path's one segment, or the one given (they must agree).
std::optional<refusal> read_tenant(urls::url_view u, const std::string& text, const std::string& given, std::string& tenant) {
    std::vector<std::string> segments;
    for (auto seg : u.segments())
        if (!seg.empty()) segments.push_back(std::string(seg));
    if (segments.size() > 1)
        return refusal{errc::invalid_base_url, "base URL path '" + std::string(u.encoded_path()) +
                                                   "' has more than the tenant: expected http(s)://host[:port]/{tenant}"};
    if (segments.empty()) {
        if (given.empty()) return refusal{errc::missing_tenant, "no tenant: base URL '" + text + "' has no path and no tenant was given"};
        tenant = given;
    } else {
        tenant = segments.front();
        if (!given.empty() && !detail::iequals(given, tenant))
            return refusal{errc::invalid_base_url, "tenant '" + given + "' differs from the tenant '" + tenant + "' in the base URL"};
    }
    if (!valid_tenant(tenant))
        return refusal{errc::missing_tenant, "tenant '" + tenant + "' may only hold letters, digits, '-', '_' and '.'"};
    return std::nullopt;
}

// A coherent.global host names its environment; API calls go to excel.{env}.
std::optional<refusal> read_env(base_url& out) {
    const std::string& host = out.server.host;
    if (host.size() <= coherent_suffix.size() || !host.ends_with(coherent_suffix)) return std::nullopt;
    std::string_view rest(host);
    rest.remove_suffix(coherent_suffix.size());
    auto dot = rest.find('.');
    if (dot == std::string_view::npos)
        return refusal{errc::invalid_base_url, "Spark host '" + host + "' lacks an environment: expected excel.{env}.coherent.global"};
    out.env = std::string(rest.substr(dot + 1));
    // Like the SDKs: whatever service host was given, API calls go to excel.
    out.server.host = "excel." + out.env + std::string(coherent_suffix);
    return std::nullopt;
}

}  // namespace

std::optional<base_url> parse_base_url(std::string_view url_in, std::string_view tenant_in,
                                       std::string_view env_in, error_code& ec, std::string* why) {
    auto fail = [&](refusal r) -> std::optional<base_url> {
        ec = r.code;
        if (why) *why = std::move(r.why);
        return std::nullopt;
    };
    ec = {};
    std::string tenant_opt(detail::trim(tenant_in));
    std::string text;
    if (auto no = url_text(url_in, env_in, tenant_opt, text)) return fail(std::move(*no));
    auto parsed = urls::parse_absolute_uri(text);
    if (!parsed) {
        if (text.find("://") == std::string::npos)
            return fail({errc::invalid_base_url, "base URL '" + detail::mask_url(text) + "' has no scheme: start it with https://"});
        return fail({errc::invalid_base_url, "base URL '" + detail::mask_url(text) + "' is not a valid URL: " + parsed.error().message()});
    }
    base_url out;
    if (auto no = read_origin(*parsed, text, out.server)) return fail(std::move(*no));
    if (auto no = read_tenant(*parsed, text, tenant_opt, out.tenant)) return fail(std::move(*no));
    if (auto no = read_env(out)) return fail(std::move(*no));
    return out;
}

}  // namespace cspark
