// The doctor's pure judgements: what a check found and what to do about it.
#include "cli/doctor.hpp"

#include "core/text.hpp"

#include <boost/json/parse.hpp>

#include <cmath>
#include <cstdio>

namespace cspark::cli {
namespace json = boost::json;
using std::chrono::system_clock;

namespace {

std::string base64url_decode(std::string_view in) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-' || c == '+') return 62;
        if (c == '_' || c == '/') return 63;
        return -1;
    };
    std::string out;
    unsigned buf = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        int v = value(c);
        if (v < 0) return {};
        buf = (buf << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buf >> bits) & 0xff);
        }
    }
    return out;
}

std::string in_words(std::chrono::seconds s) {
    auto n = std::llabs(static_cast<long long>(s.count()));
    char buf[64];
    if (n < 120) std::snprintf(buf, sizeof buf, "%lld s", n);
    else if (n < 7200) std::snprintf(buf, sizeof buf, "%lld min", n / 60);
    else if (n < 172800) std::snprintf(buf, sizeof buf, "%lld h", n / 3600);
    else std::snprintf(buf, sizeof buf, "%lld days", n / 86400);
    return buf;
}

}  // namespace

jwt_claims read_jwt(std::string_view token) {
    jwt_claims c;
    auto first = token.find('.');
    auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos) return c;
    error_code ec;
    auto payload = json::parse(base64url_decode(token.substr(first + 1, second - first - 1)), ec);
    if (ec || !payload.is_object()) return c;
    const auto& o = payload.get_object();
    c.readable = true;
    auto time_of = [&](std::string_view key) -> std::optional<system_clock::time_point> {
        const auto* p = o.if_contains(key);
        if (!p || !p->is_number()) return std::nullopt;
        error_code nec;
        auto s = p->to_number<std::int64_t>(nec);
        if (nec) return std::nullopt;
        return system_clock::time_point(std::chrono::seconds(s));
    };
    c.expires = time_of("exp");
    c.issued = time_of("iat");
    if (const auto* iss = o.if_contains("iss"); iss && iss->is_string()) {
        std::string_view s = iss->get_string();
        if (auto at = s.find("/realms/"); at != std::string_view::npos) {
            auto rest = s.substr(at + 8);
            c.tenant = std::string(rest.substr(0, rest.find('/')));
        }
    }
    for (auto key : {"tenant", "realm", "tenant_name"})
        if (const auto* p = o.if_contains(key); c.tenant.empty() && p && p->is_string()) c.tenant = std::string(p->get_string());
    return c;
}

doctor_check bearer_check(const jwt_claims& c, const std::string& tenant, system_clock::time_point now) {
    doctor_check k{.name = "bearer token", .exit = denied};
    if (!c.readable) {
        k.found = "not a JWT (its claims cannot be read): it is checked by the calls below";
        return k;
    }
    std::string found = "a JWT";
    if (!c.tenant.empty()) found += " for tenant '" + c.tenant + "'";
    if (c.expires) {
        auto left = std::chrono::duration_cast<std::chrono::seconds>(*c.expires - now);
        found += left.count() > 0 ? ", expires in " + in_words(left) : ", expired " + in_words(left) + " ago";
        if (left.count() <= 0) {
            k.ok = false;
            k.found = found;
            k.fix = "get a new token (Spark's bearer tokens last about an hour; for pipelines use an API key or OAuth client "
                    "credentials, which do not expire this way)";
            return k;
        }
    }
    if (!c.tenant.empty() && !tenant.empty() && detail::to_lower(c.tenant) != detail::to_lower(tenant)) {
        k.ok = false;
        k.found = found;
        k.fix = "this token is for tenant '" + c.tenant + "', the base URL names '" + tenant + "': use a token of '" + tenant +
                "' or fix the URL";
        return k;
    }
    k.found = found;
    return k;
}

doctor_check read_check(const std::string& name, int status, const std::string& api_code, const std::string& auth,
                        const std::string& tenant) {
    doctor_check k{.name = name};
    k.found = status ? "HTTP " + std::to_string(status) + (api_code.empty() ? "" : " " + api_code) : "no answer";
    if (status >= 200 && status < 300) return k;
    k.ok = false;
    if (status == 401) {
        k.exit = denied;
        k.fix = "the " + auth + " was refused: " +
                (auth == "API key" ? "check the key, and that it is a key of tenant '" + tenant + "' (x-tenant-name must name its tenant)"
                 : auth == "OAuth client"
                     ? "the token endpoint issued a token the API refused: check the client belongs to tenant '" + tenant + "'"
                     : "it is expired or for another tenant: get a new one for '" + tenant + "'");
    } else if (status == 403) {
        k.exit = denied;
        k.fix = "the " + auth + " is valid but lacks a permission for the ImpEx API: ask the tenant's admin to grant it "
                "(an API key's group needs the ImpEx feature permission)";
    } else if (status == 404) {
        k.fix = "no ImpEx API at this URL: check the environment and the tenant in the base URL";
    } else if (status == 0) {
        k.fix = "the request got no answer: see the connection checks above";
    } else {
        k.fix = "the server answered an error: run again with --trace doctor.har and attach the file";
    }
    return k;
}

doctor_check clock_check(std::optional<system_clock::time_point> server, system_clock::time_point local) {
    doctor_check k{.name = "clock"};
    if (!server) {
        k.skipped = true;
        k.found = "the server sent no Date header";
        return k;
    }
    auto skew = std::chrono::duration_cast<std::chrono::seconds>(local - *server);
    auto n = std::llabs(static_cast<long long>(skew.count()));
    k.found = n <= 1 ? "in step with the server (within 1 s)"
                     : "this machine is " + in_words(skew) + (skew.count() > 0 ? " ahead of" : " behind") + " the server";
    if (n > 300) {
        k.ok = false;
        k.fix = "set this machine's clock (NTP): tokens and links are judged by time, and a skew this large gets them refused";
    } else if (n > 30) {
        k.fix = "consider syncing this machine's clock (NTP)";
    }
    return k;
}

int doctor_exit(const std::vector<doctor_check>& checks) {
    for (const auto& c : checks)
        if (!c.ok && !c.skipped) return c.exit;
    return ok;
}

}  // namespace cspark::cli
