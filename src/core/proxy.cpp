// HTTP proxies: parsing, NO_PROXY matching, the environment (curl's rules).
#include "core/proxy.hpp"

#include "core/text.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/evp.h>

#include <cstdlib>
#include <vector>

namespace cspark {
namespace detail {
namespace {

std::string base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string_view unbracket(std::string_view h) {
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') return h.substr(1, h.size() - 2);
    return h;
}

// `host` inside the block "addr/bits"; false when either is not an address.
bool in_block(std::string_view block, std::string_view host) {
    auto slash = block.find('/');
    error_code ec1, ec2;
    auto net = boost::asio::ip::make_address(std::string(unbracket(block.substr(0, slash))), ec1);
    auto addr = boost::asio::ip::make_address(std::string(host), ec2);
    if (ec1 || ec2 || net.is_v4() != addr.is_v4()) return false;
    if (slash == std::string_view::npos) return net == addr;
    auto bits_text = block.substr(slash + 1);
    int bits = 0;
    for (char c : bits_text) {
        if (c < '0' || c > '9' || bits > 128) return false;
        bits = bits * 10 + (c - '0');
    }
    if (bits_text.empty()) return false;
    auto bytes = [](const boost::asio::ip::address& a) {
        std::vector<unsigned char> b;
        if (a.is_v4()) {
            auto v = a.to_v4().to_bytes();
            b.assign(v.begin(), v.end());
        } else {
            auto v = a.to_v6().to_bytes();
            b.assign(v.begin(), v.end());
        }
        return b;
    };
    auto n = bytes(net), h = bytes(addr);
    if (bits > static_cast<int>(n.size() * 8)) return false;
    for (int i = 0; i < bits; ++i) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((n[byte] >> bit) & 1) != ((h[byte] >> bit) & 1)) return false;
    }
    return true;
}

// A proxy URL as messages show it: user info (a password) hidden.
std::string shown(std::string_view url) {
    auto scheme = url.find("://");
    std::size_t from = scheme == std::string_view::npos ? 0 : scheme + 3;
    auto at = url.find('@', from);
    auto end = url.find_first_of("/?#", from);
    if (at == std::string_view::npos || (end != std::string_view::npos && at > end)) return mask_url(url);
    return mask_url(std::string(url.substr(0, from)) + "***" + std::string(url.substr(at)));
}

}  // namespace

std::optional<proxy_endpoint> parse_proxy_url(std::string_view url, std::string& why) {
    url = trim(url);
    std::string text(url);
    if (text.find("://") == std::string::npos) text = "http://" + text;
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) {
        why = "proxy '" + shown(url) + "' is not a valid URL";
        return std::nullopt;
    }
    auto u = *parsed;
    std::string scheme = to_lower(u.scheme());
    if (scheme != "http") {
        why = "proxy '" + shown(url) + "': scheme '" + scheme + "' is not supported (http:// proxies only)";
        return std::nullopt;
    }
    if (u.encoded_host_address().empty()) {
        why = "proxy '" + shown(url) + "' has no host";
        return std::nullopt;
    }
    if ((!u.encoded_path().empty() && u.encoded_path() != "/") || u.has_query() || u.has_fragment()) {
        why = "proxy '" + shown(url) + "' has a path or query (only scheme, user info, host and port belong there)";
        return std::nullopt;
    }
    proxy_endpoint p;
    p.host = to_lower(u.host_address());
    if (u.has_port()) {
        auto port = parse_port(u.port());
        if (!port || *port == 0) {
            why = "proxy '" + shown(url) + "' has an invalid port";
            return std::nullopt;
        }
        p.port = *port;
    }
    if (u.has_userinfo()) p.authorization = "Basic " + base64(std::string(u.user()) + ":" + std::string(u.password()));
    p.display = "http://" + bracketed_host(p.host) + ":" + std::to_string(p.port);
    return p;
}

bool is_loopback(std::string_view host) {
    std::string h = to_lower(unbracket(host));
    while (!h.empty() && h.back() == '.') h.pop_back();
    if (h == "localhost" || h.ends_with(".localhost")) return true;
    error_code ec;
    auto a = boost::asio::ip::make_address(h, ec);
    return !ec && a.is_loopback();
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    host = unbracket(host);
    std::string h = to_lower(host);
    while (!h.empty() && h.back() == '.') h.pop_back();
    std::size_t i = 0;
    while (i < no_proxy.size()) {
        std::size_t end = no_proxy.find_first_of(", \t", i);
        if (end == std::string_view::npos) end = no_proxy.size();
        std::string_view entry = trim(no_proxy.substr(i, end - i));
        i = end + 1;
        if (entry.empty()) continue;
        if (entry == "*") return true;
        // A port: "host:8443", "[::1]:8443"; a bare IPv6 address has colons of its own.
        std::optional<std::uint16_t> want_port;
        if (auto colon = entry.rfind(':'); colon != std::string_view::npos) {
            bool bracketed = entry.front() == '[';
            bool one_colon = entry.find(':') == colon;
            if ((bracketed && colon > 0 && entry[colon - 1] == ']') || (!bracketed && one_colon)) {
                want_port = parse_port(entry.substr(colon + 1));
                if (!want_port) continue;
                entry = entry.substr(0, colon);
            }
        }
        if (want_port && *want_port != port) continue;
        entry = unbracket(entry);
        if (in_block(entry, h)) return true;
        std::string e = to_lower(entry);
        while (!e.empty() && e.front() == '.') e.erase(0, 1);
        while (!e.empty() && e.back() == '.') e.pop_back();
        if (e.empty()) continue;
        if (h == e) return true;
        if (h.size() > e.size() && h.ends_with(e) && h[h.size() - e.size() - 1] == '.') return true;
    }
    return false;
}

proxy_config one_proxy(const std::string& url, bool use_environment) {
    proxy_config p{.https = url, .http = url, .no_proxy = {}};
    if (use_environment && !trim(url).empty()) p.no_proxy = proxy_from_environment().no_proxy;
    return p;
}

proxy_routes make_proxy_routes(const proxy_config& cfg) {
    proxy_routes r;
    auto one = [](const std::string& url, const char* field) -> std::optional<proxy_endpoint> {
        if (trim(url).empty()) return std::nullopt;
        std::string why;
        auto p = parse_proxy_url(url, why);
        if (!p) {
            diagnostics d;
            d.detail = std::string(field) + ": " + why;
            throw spark_error(errc::invalid_argument, std::move(d));
        }
        return p;
    };
    r.https = one(cfg.https, "proxy for https (HTTPS_PROXY)");
    r.http = one(cfg.http, "proxy for http (HTTP_PROXY)");
    r.no_proxy = cfg.no_proxy;
    return r;
}

}  // namespace detail

proxy_config proxy_from_environment(const std::function<std::optional<std::string>(const char*)>& getenv) {
    auto env = [&](const char* name) -> std::string {
        if (getenv) return getenv(name).value_or("");
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    auto first = [&](std::initializer_list<const char*> names) -> std::string {
        for (const char* n : names)
            if (auto v = env(n); !detail::trim(v).empty()) return v;
        return {};
    };
    proxy_config p;
    std::string all = first({"all_proxy", "ALL_PROXY"});
    p.https = first({"https_proxy", "HTTPS_PROXY"});
    p.http = first({"http_proxy", "HTTP_PROXY"});
    if (p.https.empty()) p.https = all;
    if (p.http.empty()) p.http = all;
    p.no_proxy = first({"no_proxy", "NO_PROXY"});
    return p;
}

}  // namespace cspark
