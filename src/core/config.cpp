#include <cspark/config.hpp>

#include "core/text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace cspark {
namespace json = boost::json;

std::string_view to_string(auth_kind k) noexcept {
    switch (k) {
    case auth_kind::none: return "none";
    case auth_kind::api_key: return "api_key";
    case auth_kind::bearer: return "bearer";
    case auth_kind::oauth: return "oauth";
    }
    return "?";
}

namespace {

// Reads {"client_id","client_secret"} (Python SDK) or {"clientId","clientSecret"} (TS SDK).
bool read_oauth_file(const std::string& path, oauth_credentials& out, std::string& why) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        why = "cannot open OAuth file '" + path + "'";
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    error_code json_ec;
    json::value v = json::parse(ss.str(), json_ec);
    if (json_ec || !v.is_object()) {
        why = "OAuth file '" + path + "' is not a JSON object";
        return false;
    }
    auto field = [&](std::string_view a, std::string_view b) -> std::string {
        const auto& o = v.get_object();
        for (auto key : {a, b})
            if (auto* p = o.if_contains(key); p && p->is_string()) return std::string(p->get_string());
        return {};
    };
    out.client_id = field("client_id", "clientId");
    out.client_secret = field("client_secret", "clientSecret");
    if (out.client_id.empty() || out.client_secret.empty()) {
        why = "OAuth file '" + path + "' lacks client_id or client_secret";
        return false;
    }
    return true;
}

}  // namespace

namespace {

// The credentials to use: the config's when it gives any (they win over the
// environment as a whole, so a stray CSPARK_CLIENT_ID never overrides an
// explicit API key), else the CSPARK_* variables.
struct credentials {
    secret api_key, bearer;
    oauth_credentials oauth;
    std::string oauth_path;
};

credentials credentials_of(const client_config& cfg, const std::function<std::string(const char*)>& env) {
    bool explicit_creds = !cfg.api_key.empty() || !cfg.bearer_token.empty() || !cfg.oauth.client_id.empty() ||
                          !cfg.oauth.client_secret.empty() || !cfg.oauth_path.empty();
    auto pick = [&](const secret& given, const char* var) -> secret {
        if (explicit_creds) return given;
        return secret(env(var));
    };
    credentials c;
    c.api_key = pick(cfg.api_key, "CSPARK_API_KEY");
    c.bearer = pick(cfg.bearer_token, "CSPARK_BEARER_TOKEN");
    c.oauth = oauth_credentials{explicit_creds ? cfg.oauth.client_id : env("CSPARK_CLIENT_ID"),
                                pick(cfg.oauth.client_secret, "CSPARK_CLIENT_SECRET")};
    c.oauth_path = explicit_creds ? cfg.oauth_path : env("CSPARK_OAUTH_PATH");
    return c;
}

// Which kind of authentication the credentials make (OAuth, else an API
// key, else a bearer token; "open" for none); false when there are none.
bool choose_auth(credentials& c, resolved_config& out) {
    std::string token(detail::trim(c.bearer.reveal()));
    if (detail::starts_with_icase(token, "bearer ")) token = std::string(detail::trim(std::string_view(token).substr(7)));
    if (!c.oauth.client_id.empty()) {
        out.auth = auth_kind::oauth;
        out.oauth = std::move(c.oauth);
    } else if (!c.api_key.empty()) {
        out.auth = c.api_key.reveal() == "open" ? auth_kind::none : auth_kind::api_key;
        out.api_key = std::move(c.api_key);
    } else if (!token.empty()) {
        out.auth = token == "open" ? auth_kind::none : auth_kind::bearer;
        out.bearer_token = secret(token);
    } else {
        return false;
    }
    return true;
}

}  // namespace

std::optional<resolved_config> resolve_config(const client_config& cfg, error_code& ec, diagnostics& diag,
                                              const std::function<std::optional<std::string>(const char*)>& getenv) {
    ec = {};
    std::function<std::string(const char*)> env = [&](const char* name) -> std::string {
        if (!cfg.use_environment) return {};
        if (getenv) return getenv(name).value_or("");
        const char* v = std::getenv(name);
        return v ? v : "";
    };
    auto fail = [&](errc e, std::string why) -> std::optional<resolved_config> {
        ec = e;
        diag.detail = std::move(why);
        return std::nullopt;
    };

    resolved_config out;
    std::string url = cfg.base_url.empty() ? env("CSPARK_BASE_URL") : cfg.base_url;
    std::string why;
    auto parsed = parse_base_url(url, cfg.tenant, cfg.env, ec, &why);
    if (!parsed) return fail(static_cast<errc>(ec.value()), why);
    out.url = std::move(*parsed);

    auto creds = credentials_of(cfg, env);
    auto& oauth = creds.oauth;
    if (oauth.client_id.empty() != oauth.client_secret.empty())
        return fail(errc::missing_credentials,
                    oauth.client_id.empty()
                        ? "an OAuth client secret (CSPARK_CLIENT_SECRET) is set without a client id (CSPARK_CLIENT_ID)"
                        : "an OAuth client id (CSPARK_CLIENT_ID) is set without a client secret (CSPARK_CLIENT_SECRET)");
    if (oauth.client_id.empty() && !creds.oauth_path.empty()) {
        if (!read_oauth_file(creds.oauth_path, oauth, why)) return fail(errc::oauth_file_unreadable, why);
    }
    if (!choose_auth(creds, out))
        return fail(errc::missing_credentials,
                    "no credentials for tenant '" + out.url.tenant +
                        "': set api_key, bearer_token or oauth (or CSPARK_API_KEY, CSPARK_BEARER_TOKEN, "
                        "CSPARK_CLIENT_ID + CSPARK_CLIENT_SECRET, CSPARK_OAUTH_PATH); use \"open\" for public APIs");
    // Values that travel in headers: a CR or LF would add headers of its own.
    // The value itself is never echoed (it may be a secret).
    for (auto [value, what] : {std::pair<std::string_view, const char*>{out.api_key.reveal(), "the API key"},
                               {out.bearer_token.reveal(), "the bearer token"},
                               {out.url.tenant, "the tenant name"},
                               {cfg.user_agent_suffix, "the user agent suffix"}})
        if (!detail::header_value_ok(value))
            return fail(errc::invalid_argument, std::string(what) + " contains a control character (CR, LF, ...): refused, "
                                                "it would inject HTTP headers");
    return out;
}

}  // namespace cspark
