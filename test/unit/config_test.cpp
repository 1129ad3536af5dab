#include <cspark/config.hpp>
#include <cspark/requests.hpp>

#include "core/proxy.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace cspark;

namespace {
struct fake_env {
    std::map<std::string, std::string> vars;
    std::optional<std::string> operator()(const char* name) const {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    }
};

std::optional<resolved_config> resolve(const client_config& cfg, const fake_env& env, error_code& ec,
                                       diagnostics& d) {
    return resolve_config(cfg, ec, d, std::ref(env));
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
    auto p = std::filesystem::temp_directory_path() / ("cspark-test-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p) << content;
    return p;
}
}  // namespace

TEST_CASE("CSPARK_* variables fill what the config leaves empty") {
    fake_env env{{{"CSPARK_BASE_URL", "https://excel.uat.us.coherent.global/acme"}, {"CSPARK_API_KEY", "key-123456"}}};
    error_code ec;
    diagnostics d;
    auto rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->url.tenant == "acme");
    CHECK(rc->auth == auth_kind::api_key);
    CHECK(rc->api_key.reveal() == "key-123456");
}

TEST_CASE("credential precedence: OAuth > API key > bearer, as the SDKs") {
    fake_env env{{{"CSPARK_BASE_URL", "http://localhost:1/t"},
                  {"CSPARK_API_KEY", "k"},
                  {"CSPARK_BEARER_TOKEN", "Bearer tok"},
                  {"CSPARK_CLIENT_ID", "id"},
                  {"CSPARK_CLIENT_SECRET", "sec"}}};
    error_code ec;
    diagnostics d;
    auto rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::oauth);
    env.vars.erase("CSPARK_CLIENT_ID");
    env.vars.erase("CSPARK_CLIENT_SECRET");
    rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::api_key);
    env.vars.erase("CSPARK_API_KEY");
    rc = resolve({}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::bearer);
    CHECK(rc->bearer_token.reveal() == "tok");  // leading "Bearer " dropped
}

TEST_CASE("explicit credentials in the config win over the environment as a whole") {
    fake_env env{{{"CSPARK_CLIENT_ID", "id"}, {"CSPARK_CLIENT_SECRET", "sec"}}};
    client_config cfg{.base_url = "http://localhost:1/t", .api_key = "explicit"};
    error_code ec;
    diagnostics d;
    auto rc = resolve(cfg, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::api_key);
}

TEST_CASE("use_environment = false ignores CSPARK_*") {
    fake_env env{{{"CSPARK_BASE_URL", "http://localhost:1/t"}, {"CSPARK_API_KEY", "k"}}};
    client_config cfg{.use_environment = false};
    error_code ec;
    diagnostics d;
    CHECK_FALSE(resolve(cfg, env, ec, d));
    CHECK(ec == errc::invalid_base_url);
}

TEST_CASE("'open' means no credentials for public APIs") {
    error_code ec;
    diagnostics d;
    auto rc = resolve({.base_url = "http://localhost:1/t", .api_key = "open"}, {}, ec, d);
    REQUIRE(rc);
    CHECK(rc->auth == auth_kind::none);
}

TEST_CASE("missing and half-given credentials are named") {
    error_code ec;
    diagnostics d;
    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t"}, {}, ec, d));
    CHECK(ec == errc::missing_credentials);
    CHECK(d.detail.find("tenant 't'") != std::string::npos);

    fake_env env{{{"CSPARK_CLIENT_ID", "id"}}};
    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t"}, env, ec, d));
    CHECK(ec == errc::missing_credentials);
    CHECK(d.detail.find("CSPARK_CLIENT_SECRET") != std::string::npos);
}

TEST_CASE("the OAuth file accepts the Python and the TypeScript SDK field names") {
    auto py = temp_file("py.json", R"({"client_id":"a","client_secret":"b"})");
    auto ts = temp_file("ts.json", R"({"clientId":"c","clientSecret":"d"})");
    auto bad = temp_file("bad.json", "not json");
    error_code ec;
    diagnostics d;
    auto rc = resolve({.base_url = "http://localhost:1/t", .oauth_path = py.string()}, {}, ec, d);
    REQUIRE(rc);
    CHECK(rc->oauth.client_id == "a");
    fake_env env{{{"CSPARK_OAUTH_PATH", ts.string()}}};
    rc = resolve({.base_url = "http://localhost:1/t"}, env, ec, d);
    REQUIRE(rc);
    CHECK(rc->oauth.client_secret.reveal() == "d");

    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t", .oauth_path = bad.string()}, {}, ec, d));
    CHECK(ec == errc::oauth_file_unreadable);
    CHECK(d.detail.find("bad.json") != std::string::npos);
    CHECK_FALSE(resolve({.base_url = "http://localhost:1/t", .oauth_path = "/nonexistent/x.json"}, {}, ec, d));
    CHECK(ec == errc::oauth_file_unreadable);
    for (auto& p : {py, ts, bad}) std::filesystem::remove(p);
}

TEST_CASE("secrets print masked") {
    secret s("super-secret-value-42");
    CHECK(s.masked() == "***42");
    CHECK(secret("short").masked() == "***");
    std::ostringstream os;
    os << s;
    CHECK(os.str().find("super") == std::string::npos);
}

TEST_CASE("proxy variables as curl reads them: lower case first, all_proxy for an unset scheme") {
    fake_env env;
    CHECK(proxy_from_environment(std::ref(env)).https.empty());
    env.vars = {{"HTTPS_PROXY", "http://upper:3128"}, {"https_proxy", "http://lower:3128"}, {"ALL_PROXY", "http://all:1080"},
                {"NO_PROXY", ".corp,10.0.0.0/8"}};
    auto p = proxy_from_environment(std::ref(env));
    CHECK(p.https == "http://lower:3128");
    CHECK(p.http == "http://all:1080");  // no http_proxy: all_proxy
    CHECK(p.no_proxy == ".corp,10.0.0.0/8");
    env.vars = {{"HTTP_PROXY", "http://upper-http:8080"}, {"no_proxy", "*"}};
    p = proxy_from_environment(std::ref(env));
    CHECK(p.http == "http://upper-http:8080");
    CHECK(p.https.empty());
    CHECK(p.no_proxy == "*");
}

TEST_CASE("proxy URLs: host, port (curl's 1080 by default), Basic credentials; other schemes refused") {
    std::string why;
    auto p = detail::parse_proxy_url("http://alice:s3cret@Proxy.Corp:3128/", why);
    REQUIRE(p);
    CHECK(p->host == "proxy.corp");
    CHECK(p->port == 3128);
    CHECK(p->authorization == "Basic YWxpY2U6czNjcmV0");
    CHECK(p->display == "http://proxy.corp:3128");  // never the credentials
    p = detail::parse_proxy_url("proxy.corp", why);  // no scheme: http
    REQUIRE(p);
    CHECK(p->port == 1080);
    CHECK(p->authorization.empty());
    p = detail::parse_proxy_url("http://a%40b:p%3Aw@[::1]:8080", why);  // percent-decoded user info, IPv6
    REQUIRE(p);
    CHECK(p->host == "::1");
    CHECK(p->authorization == "Basic YUBiOnA6dw==");  // a@b:p:w
    CHECK(p->display == "http://[::1]:8080");
    for (std::string bad : {"socks5://h:1080", "https://h:443", "http://h:0", "http://h:70000", "http://h:1/x", "http://h:1?q=1",
                            "http://", "::::"}) {
        CAPTURE(bad);
        why.clear();
        CHECK_FALSE(detail::parse_proxy_url(bad, why));
        CHECK_FALSE(why.empty());
    }
    CHECK_FALSE(detail::parse_proxy_url("http://bob:hunter2@h:1/x", why));
    CHECK(why.find("hunter2") == std::string::npos);
}

TEST_CASE("NO_PROXY: hosts, domain suffixes, IPs and CIDR blocks, ports, '*'") {
    using detail::no_proxy_matches;
    CHECK(no_proxy_matches("*", "anything.example", 443));
    CHECK(no_proxy_matches("example.com", "example.com", 443));
    CHECK(no_proxy_matches("example.com", "api.example.com", 443));
    CHECK(no_proxy_matches(".example.com", "api.example.com", 443));
    CHECK(no_proxy_matches(".example.com", "example.com", 443));
    CHECK(no_proxy_matches("EXAMPLE.com", "Example.COM.", 443));
    CHECK_FALSE(no_proxy_matches("example.com", "badexample.com", 443));
    CHECK_FALSE(no_proxy_matches("example.com", "example.com.evil", 443));
    CHECK(no_proxy_matches("a.org, b.org ,c.org", "b.org", 80));
    CHECK(no_proxy_matches("a.org b.org", "b.org", 80));
    CHECK(no_proxy_matches("10.0.0.0/8", "10.1.2.3", 443));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "11.1.2.3", 443));
    CHECK(no_proxy_matches("192.168.1.7", "192.168.1.7", 443));
    CHECK(no_proxy_matches("fd00::/8", "fd12::1", 443));
    CHECK(no_proxy_matches("[::1]", "::1", 443));
    CHECK(no_proxy_matches("::1", "::1", 443));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "fd12::1", 443));
    CHECK(no_proxy_matches("example.com:8443", "example.com", 8443));
    CHECK_FALSE(no_proxy_matches("example.com:8443", "example.com", 443));
    CHECK(no_proxy_matches("[::1]:8443", "::1", 8443));
    CHECK_FALSE(no_proxy_matches("", "example.com", 443));
    CHECK_FALSE(no_proxy_matches(",,", "example.com", 443));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/99", "10.0.0.1", 443));
    CHECK_FALSE(no_proxy_matches("*.example.com", "api.example.com", 443));  // curl has no wildcards but '*' alone
}

TEST_CASE("proxy routes: the scheme's proxy unless NO_PROXY names the host; a bad URL names its variable") {
    auto r = detail::make_proxy_routes({.https = "http://p:3128", .http = "", .no_proxy = "internal.corp"});
    origin spark{.tls = true, .host = "excel.uat.us.coherent.global", .port = 443};
    origin internal{.tls = true, .host = "spark.internal.corp", .port = 443};
    origin plain{.tls = false, .host = "excel.uat.us.coherent.global", .port = 80};
    REQUIRE(r.for_origin(spark));
    CHECK(r.for_origin(spark)->host == "p");
    CHECK_FALSE(r.for_origin(internal));
    CHECK_FALSE(r.for_origin(plain));
    // The emulator on loopback: not through a remote proxy (whose loopback is its
    // own), through one on this machine.
    origin emulator{.tls = false, .host = "127.0.0.1", .port = 8080};
    CHECK_FALSE(detail::make_proxy_routes({.http = "http://proxy.corp:3128"}).for_origin(emulator));
    CHECK(detail::make_proxy_routes({.http = "http://127.0.0.1:3128"}).for_origin(emulator));
    CHECK(detail::make_proxy_routes({.http = "http://localhost:3128"}).for_origin(origin{.tls = false, .host = "::1", .port = 1}));
    CHECK_FALSE(detail::make_proxy_routes({.https = "http://proxy.corp:3128"}).for_origin(origin{.host = "localhost"}));
    CHECK(detail::make_proxy_routes({.https = "http://proxy.corp:3128"}).for_origin(origin{.host = "127.example.com"}));
    CHECK(detail::is_loopback("127.5.6.7"));
    CHECK(detail::is_loopback("[::1]"));
    CHECK(detail::is_loopback("app.localhost."));
    CHECK_FALSE(detail::is_loopback("10.0.0.1"));
    CHECK_FALSE(detail::is_loopback("localhost.example.com"));
    try {
        detail::make_proxy_routes({.https = "socks5://u:pw123456@p:1080"});
        FAIL("accepted");
    } catch (const spark_error& e) {
        CHECK(e.code() == errc::invalid_argument);
        CHECK(e.diag().detail.find("HTTPS_PROXY") != std::string::npos);
        CHECK(e.diag().detail.find("pw123456") == std::string::npos);
    }
}

TEST_CASE("every request enum reads back what to_string writes, and nothing else") {
    using namespace cspark;
    for (auto v : {file_filter::migrate, file_filter::onpremises}) {
        file_filter back = v == file_filter::migrate ? file_filter::onpremises : file_filter::migrate;
        CHECK(from_string(to_string(v), back));
        CHECK(back == v);
    }
    for (auto v : {version_filter::latest, version_filter::all}) {
        version_filter back = v == version_filter::latest ? version_filter::all : version_filter::latest;
        CHECK(from_string(to_string(v), back));
        CHECK(back == v);
    }
    for (auto v : {if_present::abort, if_present::replace, if_present::add_version}) {
        if_present back = v == if_present::abort ? if_present::replace : if_present::abort;
        CHECK(from_string(to_string(v), back));
        CHECK(back == v);
    }
    for (auto v : {upgrade::major, upgrade::minor, upgrade::patch}) {
        upgrade back = v == upgrade::major ? upgrade::patch : upgrade::major;
        CHECK(from_string(to_string(v), back));
        CHECK(back == v);
    }
    auto keep = if_present::replace;
    CHECK_FALSE(from_string("Replace", keep));  // wire names are exact
    CHECK_FALSE(from_string("", keep));
    CHECK(keep == if_present::replace);  // untouched on failure
}
